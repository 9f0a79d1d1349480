"""The layout of a run's directory, and the files that describe the run.

workdir/config.json          the resolved config (seed included)
workdir/data.json            the data's name, image shape, size and class count
workdir/metrics.jsonl        one record per logged step (`summaries`)
workdir/tensorboard/         event files (`summaries`)
workdir/samples/step_N.png   sample grids from fixed noise
workdir/checkpoints/         Orbax checkpoints (`checkpoint`)
workdir/metrics_windows/     metrics of steps not yet logged when a checkpoint was saved
workdir/train.lock           held by the training run that uses the workdir
"""

import dataclasses
import errno
import fcntl
import json
import os
from typing import IO

import ml_collections

from gan_jax import config_sections
from gan_jax import errors
from gan_jax.input_pipeline import DataInfo


def _unwritable(workdir: str, error: OSError) -> errors.StorageError:
  return errors.StorageError(
    f'Cannot write to the workdir {workdir!r} ({error.strerror}); its files are as they were: '
    'free space or make it writable, or pass another --workdir.'
  )


def lock(workdir: str) -> IO:
  """Creates `workdir` and takes its lock: one training run per workdir at a time.

  The lock is an advisory lock (flock) on workdir/train.lock, which holds the
  PID of its owner. The kernel releases it when its process ends, however it
  ends, so the lock of a run that was killed is taken over without a word.

  Returns:
    The open lock file; the lock lasts until it is closed (`unlock`).

  Raises:
    ConfigError: if another live process holds the lock (naming its PID).
    StorageError: if `workdir` cannot be created or written.
  """
  path = os.path.join(workdir, 'train.lock')
  try:
    os.makedirs(workdir, exist_ok=True)
    lock_file = open(path, 'a+', encoding='utf-8')
  except OSError as e:
    raise _unwritable(workdir, e) from e
  try:
    fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except OSError as e:
    lock_file.seek(0)
    owner = lock_file.read().strip() or 'unknown'
    lock_file.close()
    if e.errno not in (errno.EAGAIN, errno.EACCES):
      raise _unwritable(workdir, e) from e
    raise errors.ConfigError(
      f'Another training run (PID {owner}) is using the workdir {workdir!r}; wait for it to '
      'end, or pass another --workdir.'
    ) from e
  lock_file.truncate(0)
  lock_file.write(str(os.getpid()))
  lock_file.flush()
  return lock_file


def unlock(lock_file: IO) -> None:
  """Releases the lock `lock` took."""
  fcntl.flock(lock_file, fcntl.LOCK_UN)
  lock_file.close()


def write_run_files(workdir: str, config: ml_collections.ConfigDict, data_info: DataInfo) -> None:
  """Writes config.json and data.json, each whole or not at all.

  Training calls this only once the config is known to fit the workdir (a
  fresh start, or a checkpoint restored with it), so a command that fails
  never replaces the record of the run that is there.

  Raises:
    StorageError: if `workdir` cannot be written.
  """
  try:
    write_json(os.path.join(workdir, 'config.json'), json.loads(config.to_json_best_effort()))
    write_json(os.path.join(workdir, 'data.json'), dataclasses.asdict(data_info))
  except OSError as e:
    raise _unwritable(workdir, e) from e


def read_data_info(workdir: str) -> DataInfo:
  """The `DataInfo` a run in `workdir` trained on; `CheckpointError` if there is no run."""
  fields = _read_run_json(workdir, 'data.json')
  return DataInfo(
    fields['name'],
    tuple(fields['image_shape']),
    fields['num_examples'],
    fields.get('num_classes', 0),  # Absent in runs from before labels were read.
  )


def read_config(workdir: str) -> ml_collections.ConfigDict:
  """The resolved config a run in `workdir` was trained with; `CheckpointError` if none.

  A field the run's config.json lacks (it was written before the field
  existed) gets its default, so older runs restore and sample as they trained.
  """
  return config_sections.with_defaults(_read_run_json(workdir, 'config.json'))


def _read_run_json(workdir: str, name: str):
  path = os.path.join(workdir, name)
  if not os.path.exists(path):
    raise errors.CheckpointError(
      f'{workdir!r} holds no training run (no {name}): train there first.'
    )
  with open(path, encoding='utf-8') as f:
    return json.load(f)


def sample_path(workdir: str, step: int) -> str:
  """Where the sample grid of `step` goes."""
  return os.path.join(workdir, 'samples', f'step_{step:07d}.png')


def write_json(path: str, value) -> None:
  """`value` as indented JSON at `path`, written whole or not at all (through a rename)."""
  with open(path + '.partial', 'w', encoding='utf-8') as f:
    json.dump(value, f, indent=2)
  os.replace(path + '.partial', path)
