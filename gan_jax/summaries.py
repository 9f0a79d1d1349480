"""Training summaries: `metrics.jsonl` and TensorBoard event files.

Only process 0 writes; the other processes get a writer that does nothing, so
callers need no `if jax.process_index() == 0` of their own. TensorBoard events
are written with tensorboardX (no TensorFlow needed).
"""

import json
import os

import numpy as np
import tensorboardX


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
  """Drops the records of steps > `step` from a metrics.jsonl file, if any."""
  if not os.path.exists(path):
    return
  with open(path, encoding='utf-8') as f:
    lines = f.readlines()
  kept = []
  for line in lines:
    try:
      if json.loads(line)['step'] <= step:
        kept.append(line)
    except (ValueError, KeyError):
      break  # A line cut short by a crash: it and anything after it are lost work.
  if len(kept) != len(lines):
    with open(path, 'w', encoding='utf-8') as f:
      f.writelines(kept)


def read_metrics(workdir: str) -> list[dict]:
  """The records of a run's `metrics.jsonl`, in order."""
  with open(os.path.join(workdir, 'metrics.jsonl'), encoding='utf-8') as f:
    return [json.loads(line) for line in f]
