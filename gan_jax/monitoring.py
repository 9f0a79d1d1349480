"""Watching a training loop: the NaN guard, the progress line, and stop signals."""

import signal
import threading
import time
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import errors


def check_finite(metrics: dict[str, float], step: int, what_was_kept: str) -> None:
  """Raises TrainingDivergedError naming the step and every metric that is NaN or Inf.

  Args:
    metrics: host scalars, e.g. losses and gradient norms averaged over steps.
    step: the step they were logged at.
    what_was_kept: a sentence for the user on what survives, e.g. the last
      good checkpoint.
  """
  bad = sorted(name for name, value in metrics.items() if not np.isfinite(value))
  if bad:
    values = ', '.join(f'{name}={metrics[name]}' for name in bad)
    raise errors.TrainingDivergedError(
      f'Training diverged at step {step}: {values}. {what_was_kept}'
      'Lower the learning rates or change the loss.'
    )


@jax.jit
def _finite_leaves(tree):
  return jax.tree.map(lambda x: jnp.all(jnp.isfinite(x)), tree)


def nonfinite_paths(tree) -> list[str]:
  """The paths ('generator/params/Dense_0/kernel', ...) of the float arrays of `tree`
  that hold a NaN or an Inf, computed where the arrays are; [] if none."""
  leaves = jax.tree_util.tree_leaves_with_path(tree)
  floats = [(path, x) for path, x in leaves if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)]
  flags = jax.device_get(_finite_leaves([x for _, x in floats]))
  return [_path_name(path) for (path, _), ok in zip(floats, flags) if not ok]


def _path_name(path) -> str:
  """'generator/params/Dense_0/kernel' for the key path of a leaf."""
  return '/'.join(str(getattr(k, 'key', getattr(k, 'name', getattr(k, 'idx', k)))) for k in path)


class Progress:
  """Steps/s and ETA between log steps, for the progress line and summaries."""

  def __init__(self, start_step: int, num_steps: int):
    self._num_steps = num_steps
    self._last_step, self._last_time = start_step, time.perf_counter()

  def update(self, step: int) -> tuple[float, float]:
    """(steps/s since the last update, seconds left at that rate)."""
    now = time.perf_counter()
    steps_per_sec = (step - self._last_step) / max(now - self._last_time, 1e-9)
    self._last_step, self._last_time = step, now
    return steps_per_sec, (self._num_steps - step) / max(steps_per_sec, 1e-9)


def progress_line(
  step: int, num_steps: int, metrics: dict[str, float], steps_per_sec: float, eta_seconds: float
) -> str:
  """`step s/n | d_loss .. g_loss .. D(x) .. D(G(z)) .. | .. steps/s | ETA hh:mm:ss`."""
  eta = time.strftime('%H:%M:%S', time.gmtime(eta_seconds))
  return (
    f'step {step}/{num_steps} | d_loss {metrics["d_loss"]:.4f} g_loss {metrics["g_loss"]:.4f} '
    f'D(x) {metrics["d_real"]:.3f} D(G(z)) {metrics["d_fake"]:.3f} | '
    f'{steps_per_sec:.2f} steps/s | ETA {eta}'
  )


class StopRequest:
  """Turns SIGINT/SIGTERM into a flag the loop checks between steps.

  The loop then saves a checkpoint at the current step and stops, instead of
  dying mid-step with the work since the last checkpoint lost.
  """

  def __init__(self):
    self.signal_number: Optional[int] = None
    self._previous = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGINT, signal.SIGTERM):
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def _handle(self, signal_number, frame):
    del frame
    self.signal_number = signal_number

  def __exit__(self, *exc_info):
    for sig, handler in self._previous.items():
      # None: a handler installed outside Python (JAX's distributed runtime has one for SIGTERM).
      signal.signal(sig, signal.SIG_DFL if handler is None else handler)
