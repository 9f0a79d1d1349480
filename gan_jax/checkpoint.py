"""Saving and restoring the training state with Orbax.

Orbax writes each checkpoint into a temporary directory and renames it when
complete, so a run killed during a save leaves the previous checkpoints intact
and the half-written one is never restored; it also keeps the last N. A
complete checkpoint damaged later (a truncated or overwritten file) is moved
aside to workdir/checkpoints_damaged/ with a warning, and the newest intact
one before it is restored instead. Damage is found by the SHA-256 of each
file, recorded once the save is complete (`seal`, in
workdir/checkpoint_manifests/), before Orbax reads a byte; checkpoints
without a record are judged by whether Orbax can read them.
"""

import hashlib
import json
import os
import sys
from typing import Optional

import flax
import jax
import numpy as np
import orbax.checkpoint as ocp
from absl import logging

from gan_jax import distributed
from gan_jax import errors
from gan_jax import workdirs
from gan_jax.state import GANState


class DamagedCheckpointError(errors.CheckpointError):
  """A checkpoint's files cannot be read: truncated, overwritten, or missing."""


def create_manager(workdir: str, max_to_keep: int) -> ocp.CheckpointManager:
  """A manager of `workdir/checkpoints`, keeping the newest `max_to_keep`."""
  _quiet_orbax_leftovers()
  options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True)
  return ocp.CheckpointManager(
    os.path.join(os.path.abspath(workdir), 'checkpoints'),
    options=options,
    # Named up front so that a new process can read a checkpoint's metadata
    # (the shapes checked by `restore_latest`) before restoring it.
    item_handlers=ocp.StandardCheckpointHandler(),
  )


def save(manager: ocp.CheckpointManager, state: GANState) -> None:
  """Starts saving `state` at its step; returns before it is on disk.

  With several processes, each calls this with the same replicated global
  arrays; Orbax writes each array once and completes the checkpoint (renames
  its directory) only when every process has finished writing.
  """
  manager.save(int(state.step), args=ocp.args.StandardSave(state))


def _manifest_path(manager: ocp.CheckpointManager, step: int) -> str:
  return os.path.join(
    os.path.dirname(str(manager.directory)), 'checkpoint_manifests', f'{step}.json'
  )


def _file_digests(directory: str) -> dict[str, str]:
  """{path relative to `directory`: SHA-256} of every file below it."""
  digests = {}
  for root, _, names in os.walk(directory):
    for name in names:
      path = os.path.join(root, name)
      digest = hashlib.sha256()
      with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
          digest.update(block)
      digests[os.path.relpath(path, directory)] = digest.hexdigest()
  return digests


def seal(manager: ocp.CheckpointManager) -> None:
  """Waits for the saves in flight, then records the files of each new checkpoint.

  The record (a SHA-256 per file) is what `restore` checks a checkpoint
  against; records of checkpoints Orbax has deleted are deleted too.
  """
  manager.wait_until_finished()
  if jax.process_index() != 0:
    return
  steps = set(manager.all_steps())
  folder = os.path.dirname(_manifest_path(manager, 0))
  os.makedirs(folder, exist_ok=True)
  for step in steps:
    path = _manifest_path(manager, step)
    if not os.path.exists(path):
      digests = _file_digests(os.path.join(str(manager.directory), str(step)))
      workdirs.write_json(path, digests)
  for name in os.listdir(folder):
    if name.endswith('.json') and int(name[: -len('.json')]) not in steps:
      os.remove(os.path.join(folder, name))


def _verify_files(manager: ocp.CheckpointManager, step: int) -> None:
  """Raises DamagedCheckpointError if the checkpoint's files are not those `seal` recorded."""
  path = _manifest_path(manager, step)
  if not os.path.exists(path):
    return
  with open(path, encoding='utf-8') as f:
    recorded = json.load(f)
  actual = _file_digests(os.path.join(str(manager.directory), str(step)))
  changed = sorted(
    name for name in set(recorded) | set(actual) if recorded.get(name) != actual.get(name)
  )
  if changed:
    shown = ', '.join(changed[:3]) + (f' and {len(changed) - 3} more' if len(changed) > 3 else '')
    raise DamagedCheckpointError(
      f'The checkpoint at step {step} in {manager.directory} is damaged: {shown} changed or '
      'went missing since it was written.'
    )


def restore_latest(manager: ocp.CheckpointManager, target: GANState) -> Optional[GANState]:
  """The newest intact checkpoint restored into `target`'s structure, or None.

  A damaged checkpoint is moved aside (`set_aside`) with a warning, and the
  one before it is tried.

  Raises:
    CheckpointError: if the checkpoint's arrays do not have `target`'s shapes,
      i.e. it was written by a run with another model or optimizer config.
  """
  for step in sorted(manager.all_steps(), reverse=True):
    try:
      return restore(manager, target, step)
    except DamagedCheckpointError as e:
      logging.warning('%s Moved it to %s; trying the one before.', e, set_aside(manager, step))
  return None


def set_aside(manager: ocp.CheckpointManager, step: int) -> str:
  """Moves the checkpoint of `step` to workdir/checkpoints_damaged/ (process 0); its new path."""
  damaged = os.path.join(os.path.dirname(str(manager.directory)), 'checkpoints_damaged')
  destination = os.path.join(damaged, str(step))
  suffix = 1
  while os.path.exists(destination):
    destination, suffix = os.path.join(damaged, f'{step}.{suffix}'), suffix + 1
  if jax.process_index() == 0:
    os.makedirs(damaged, exist_ok=True)
    os.rename(os.path.join(str(manager.directory), str(step)), destination)
  distributed.barrier(f'gan_jax_set_aside_{step}')  # The others see it gone before reloading.
  manager.reload()
  return destination


def restore(manager: ocp.CheckpointManager, target: GANState, step: int) -> GANState:
  """The checkpoint of `step` restored into `target`'s structure and shardings.

  The arrays take `target`'s shardings, whatever the processes and devices of
  the run that wrote them: a checkpoint of 2 processes resumes in 1 and the
  other way round.

  Raises:
    CheckpointError: as `restore_latest`.
    DamagedCheckpointError: if the checkpoint's files cannot be read.
  """
  _verify_files(manager, step)
  _check_shapes(manager, step, target)
  try:
    return manager.restore(step, args=ocp.args.StandardRestore(target))
  except Exception as e:  # Orbax and TensorStore raise many types for unreadable files.
    raise _damaged(manager, step, e) from e


def _is_orbax_leftover(exc_type, exc, code) -> bool:
  """Whether an exception printed outside any caller is the echo of a failed Orbax read or save.

  When one array of a checkpoint cannot be read or written (damaged files, a
  full disk), Orbax abandons the reads or writes of the others: their
  coroutines end with 'Exception ignored in', and TensorStore's callbacks find
  Orbax's event loop closed. The failure itself reaches the caller once.
  """
  if exc_type is RuntimeError and str(exc) == 'Event loop is closed':
    return True
  return f'{os.sep}orbax{os.sep}' in getattr(code, 'co_filename', '')


def _quiet_orbax_leftovers() -> None:
  """Installs (once) hooks that drop what `_is_orbax_leftover` describes, and nothing else."""
  if getattr(sys.excepthook, 'drops_orbax_leftovers', False):
    return
  previous_excepthook, previous_unraisablehook = sys.excepthook, sys.unraisablehook

  def excepthook(exc_type, exc, traceback):
    if not _is_orbax_leftover(exc_type, exc, None):
      previous_excepthook(exc_type, exc, traceback)

  def unraisablehook(unraisable):
    code = getattr(unraisable.object, 'cr_code', None)
    if not _is_orbax_leftover(unraisable.exc_type, unraisable.exc_value, code):
      previous_unraisablehook(unraisable)

  excepthook.drops_orbax_leftovers = True
  sys.excepthook, sys.unraisablehook = excepthook, unraisablehook


def _damaged(manager: ocp.CheckpointManager, step: int, error: Exception):
  summary = ' '.join(str(error).split(' See full TensorStore details')[0].split())[:200]
  return DamagedCheckpointError(
    f'The checkpoint at step {step} in {manager.directory} is damaged '
    f'({type(error).__name__}: {summary}).'
  )


def _shapes_by_path(tree, prefix: str = '') -> dict[str, tuple]:
  """{'generator/params/Dense_0/kernel': shape, ...} of nested dicts/lists whose leaves have a shape."""
  if isinstance(tree, dict):
    items = tree.items()
  elif isinstance(tree, (list, tuple)) and not hasattr(tree, 'shape'):
    items = enumerate(tree)
  else:
    return {} if tree is None else {prefix: tuple(np.shape(tree))}
  shapes = {}
  for key, subtree in items:
    shapes.update(_shapes_by_path(subtree, f'{prefix}/{key}' if prefix else str(key)))
  return shapes


def _check_shapes(manager: ocp.CheckpointManager, step: int, target: GANState) -> None:
  """Raises CheckpointError if the checkpoint's arrays are not `target`'s (another config).

  Shapes and paths are compared, so that the message names the layers that
  differ; metadata that cannot be read means the checkpoint is damaged.
  """
  try:
    stored = _shapes_by_path(manager.item_metadata(step).tree)
  except Exception as e:  # Orbax raises many types for unreadable metadata.
    raise _damaged(manager, step, e) from e
  expected = _shapes_by_path(flax.serialization.to_state_dict(target))
  differences = [
    f'{path}: checkpoint {stored.get(path, "missing")} vs config {expected.get(path, "missing")}'
    # Parameters first: they say which layer changed; optimizer slots repeat it.
    for path in sorted(set(stored) | set(expected), key=lambda p: ('/params/' not in p, p))
    if stored.get(path) != expected.get(path)
  ]
  if differences:
    shown = '; '.join(differences[:5]) + (
      f'; and {len(differences) - 5} more' if len(differences) > 5 else ''
    )
    raise errors.CheckpointError(
      f'The checkpoint at step {step} in {manager.directory} was written with another config '
      f'({shown}). Use a new --workdir, or the config that wrote it.'
    )
