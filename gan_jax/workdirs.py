"""The layout of a run's directory, and the files that describe the run.

workdir/config.json          the resolved config (seed included)
workdir/data.json            the data's name, image shape, size and class count
workdir/metrics.jsonl        one record per logged step (`summaries`)
workdir/tensorboard/         event files (`summaries`)
workdir/samples/step_N.png   sample grids from fixed noise
workdir/checkpoints/         Orbax checkpoints (`checkpoint`)
"""

import dataclasses
import json
import os

import ml_collections

from gan_jax import config_sections
from gan_jax import errors
from gan_jax.input_pipeline import DataInfo


def prepare(
  workdir: str, config: ml_collections.ConfigDict, data_info: DataInfo, *, write: bool
) -> None:
  """Creates `workdir` and writes config.json and data.json into it (if `write`).

  Raises:
    ConfigError: if `workdir` cannot be created or written.
  """
  try:
    os.makedirs(workdir, exist_ok=True)
    if write:
      write_json(os.path.join(workdir, 'config.json'), json.loads(config.to_json_best_effort()))
      write_json(os.path.join(workdir, 'data.json'), dataclasses.asdict(data_info))
  except OSError as e:
    raise errors.ConfigError(
      f'Cannot write to the workdir {workdir!r} ({e.strerror}); pass a writable --workdir.'
    ) from e


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
