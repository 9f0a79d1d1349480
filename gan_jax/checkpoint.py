"""Saving and restoring the training state with Orbax.

Orbax writes each checkpoint into a temporary directory and renames it when
complete, so a run killed during a save leaves the previous checkpoints intact
and the half-written one is never restored; it also keeps the last N.
"""

import os
from typing import Optional

import flax
import numpy as np
import orbax.checkpoint as ocp

from gan_jax import errors
from gan_jax.state import GANState


def create_manager(workdir: str, max_to_keep: int) -> ocp.CheckpointManager:
  """A manager of `workdir/checkpoints`, keeping the newest `max_to_keep`."""
  options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True)
  return ocp.CheckpointManager(
    os.path.join(os.path.abspath(workdir), 'checkpoints'),
    options=options,
    # Named up front so that a new process can read a checkpoint's metadata
    # (the shapes checked by `restore_latest`) before restoring it.
    item_handlers=ocp.StandardCheckpointHandler(),
  )


def save(manager: ocp.CheckpointManager, state: GANState) -> None:
  """Starts saving an (unreplicated) state at its step; returns before it is on disk."""
  manager.save(int(state.step), args=ocp.args.StandardSave(state))


def restore_latest(manager: ocp.CheckpointManager, target: GANState) -> Optional[GANState]:
  """The newest complete checkpoint restored into `target`'s structure, or None.

  Raises:
    CheckpointError: if the checkpoint's arrays do not have `target`'s shapes,
      i.e. it was written by a run with another model or optimizer config.
  """
  step = manager.latest_step()
  if step is None:
    return None
  return restore(manager, target, step)


def restore(manager: ocp.CheckpointManager, target: GANState, step: int) -> GANState:
  """The checkpoint of `step` restored into `target`'s structure.

  Raises:
    CheckpointError: as `restore_latest`.
  """
  _check_shapes(manager, step, target)
  try:
    return manager.restore(step, args=ocp.args.StandardRestore(target))
  except ValueError as e:  # Same shapes, but another structure (e.g. a field added since).
    summary = ' '.join(str(e).split())
    raise errors.CheckpointError(
      f'The checkpoint at step {step} in {manager.directory} does not fit the state of this '
      f'config: {summary} Use a new --workdir, or the version and config that wrote it.'
    ) from e


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
  stored = _shapes_by_path(manager.item_metadata(step).tree)
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
