"""Training summaries: `metrics.jsonl` and TensorBoard event files.

Only process 0 writes; the other processes get a writer that does nothing, so
callers need no `if jax.process_index() == 0` of their own. TensorBoard events
are written with tensorboardX (no TensorFlow needed).
"""

import json
import os
import sys
import threading
import traceback
from typing import Optional

import numpy as np
import tensorboardX
from absl import logging

from gan_jax import workdirs


def _from_tensorboard(exc_type, exc_traceback) -> bool:
  """Whether an exception is an OSError raised inside tensorboardX."""
  frames = traceback.extract_tb(exc_traceback)
  inside = any(f'{os.sep}tensorboardX{os.sep}' in frame.filename for frame in frames)
  return inside and issubclass(exc_type, OSError)


def _quiet_failed_event_flushes() -> None:
  """Installs (once) hooks that drop the OSErrors of tensorboardX's own flushes.

  A full disk fails the run's next write in the main thread, which reports it
  in one line; without these, the event writer's flushing thread and its
  exit-time cleanup print tracebacks of the same failure.
  """
  if getattr(threading.excepthook, 'drops_event_flush_errors', False):
    return
  previous_threadhook, previous_unraisablehook = threading.excepthook, sys.unraisablehook

  def threadhook(args):
    if not _from_tensorboard(args.exc_type, args.exc_traceback):
      previous_threadhook(args)

  def unraisablehook(unraisable):
    if not _from_tensorboard(unraisable.exc_type, unraisable.exc_traceback):
      previous_unraisablehook(unraisable)

  threadhook.drops_event_flush_errors = True
  threading.excepthook, sys.unraisablehook = threadhook, unraisablehook


class SummaryWriter:
  """Writes scalars to `metrics.jsonl` and TensorBoard, images to TensorBoard.

  `metrics.jsonl` holds one JSON object per logged step. On a resumed run, the
  lines of steps after the restored checkpoint (logged by the interrupted run
  but then lost with its state) are dropped, so the file reads as if the run
  had never been interrupted.
  """

  def __init__(self, workdir: str, *, start_step: int, enabled: bool = True):
    self._enabled = enabled
    if not enabled:
      return
    _quiet_failed_event_flushes()
    self._jsonl_path = os.path.join(workdir, 'metrics.jsonl')
    _truncate_after(self._jsonl_path, start_step)
    self._jsonl = open(self._jsonl_path, 'a', encoding='utf-8')
    self._tensorboard = tensorboardX.SummaryWriter(os.path.join(workdir, 'tensorboard'))

  def write_scalars(self, step: int, scalars: dict[str, float]) -> None:
    if not self._enabled:
      return
    record = {'step': int(step), **{k: float(v) for k, v in scalars.items()}}
    self._jsonl.write(json.dumps(record) + '\n')
    self._jsonl.flush()
    for name, value in scalars.items():
      self._tensorboard.add_scalar(name, float(value), global_step=int(step))

  def write_image(self, step: int, name: str, picture: np.ndarray) -> None:
    """Adds a uint8 [H, W, C] picture to TensorBoard."""
    if not self._enabled:
      return
    self._tensorboard.add_image(name, picture, global_step=int(step), dataformats='HWC')

  def flush(self) -> None:
    if self._enabled:
      self._jsonl.flush()
      self._tensorboard.flush()

  def close(self) -> None:
    if self._enabled:
      self._jsonl.close()
      self._tensorboard.close()


def _truncate_after(path: str, step: int) -> None:
  """Keeps the records of steps <= `step` in a metrics.jsonl file, each on a line of its own.

  Records of later steps (logged after the checkpoint a run resumes from) are
  dropped, and so are damaged lines (reported): a line cut short by a crash,
  or garbage, loses nothing before or after it.
  """
  if not os.path.exists(path):
    return
  with open(path, encoding='utf-8', errors='replace') as f:
    lines = f.readlines()
  records = [_parse_record(line) for line in lines]
  kept = [json.dumps(r) + '\n' for r in records if r is not None and r['step'] <= step]
  if kept != lines:
    with open(path + '.partial', 'w', encoding='utf-8') as f:
      f.writelines(kept)
    os.replace(path + '.partial', path)


def read_metrics(workdir: str) -> list[dict]:
  """The records of a run's `metrics.jsonl`, in order; a damaged line is reported and skipped."""
  with open(os.path.join(workdir, 'metrics.jsonl'), encoding='utf-8', errors='replace') as f:
    return [record for record in map(_parse_record, f) if record is not None]


def _parse_record(line: str) -> Optional[dict]:
  """The record of one line of metrics.jsonl, or None (with a warning) if it is not one."""
  try:
    record = json.loads(line)
    if isinstance(record, dict) and isinstance(record.get('step'), int):
      return record
  except ValueError:
    pass
  if line.strip():
    logging.warning('Skipping a damaged line of metrics.jsonl: %r', line[:80])
  return None


def _window_path(workdir: str, step: int) -> str:
  return os.path.join(workdir, 'metrics_windows', f'{step}.json')


def save_metrics_window(workdir: str, step: int, rows: list[dict]) -> None:
  """Keeps the per-step metrics since the last logged step, for a checkpoint at `step`.

  A run resumed from that checkpoint logs its next record over the whole
  window, as the uninterrupted run does, instead of over the steps since the
  resume only.
  """
  path = _window_path(workdir, step)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  workdirs.write_json(path, [{name: float(value) for name, value in row.items()} for row in rows])


def load_metrics_window(workdir: str, step: int) -> list[dict]:
  """The rows `save_metrics_window` kept for `step` (float32, as the step computed them), or []."""
  try:
    with open(_window_path(workdir, step), encoding='utf-8') as f:
      rows = json.load(f)
  except (OSError, ValueError):
    return []
  return [{name: np.float32(value) for name, value in row.items()} for row in rows]


def prune_metrics_windows(workdir: str, keep_steps) -> None:
  """Deletes the windows of checkpoints that are gone (not in `keep_steps`)."""
  folder = os.path.join(workdir, 'metrics_windows')
  for name in os.listdir(folder) if os.path.isdir(folder) else []:
    if name.endswith('.json') and int(name[: -len('.json')]) not in keep_steps:
      os.remove(os.path.join(folder, name))
