"""Training a GAN: the training loop, and restoring a run.

`train_and_evaluate(config, workdir)` assembles the run (`assembly.build`),
restores its newest checkpoint if there is one, and runs `step.train_step`
data parallel over every device of every process of the job (`distributed`,
compiled by `compiled_step`),
with the periodic work (metrics, sample grids, checkpoints, evaluations) each
on its own interval. Every process runs this same loop; process 0 alone
writes the run's files, and all write the checkpoints together.
"""

import collections
import dataclasses
import errno
import functools
import itertools
import signal
from typing import Callable, Iterator, Optional

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from absl import logging

from gan_jax import assembly
from gan_jax import checkpoint
from gan_jax import compiled_step
from gan_jax import config_checks
from gan_jax import distributed
from gan_jax import errors
from gan_jax import evaluation
from gan_jax import images
from gan_jax import input_pipeline
from gan_jax import monitoring
from gan_jax import sampling
from gan_jax import summaries
from gan_jax import workdirs
from gan_jax.state import GANState
from gan_jax.state import PlayerState


@dataclasses.dataclass
class _Run:
  """What the loop of one run works with, besides the state."""

  config: ml_collections.ConfigDict
  workdir: str
  is_chief: bool
  step_fn: Callable
  batches: Iterator
  manager: ocp.CheckpointManager
  writer: summaries.SummaryWriter
  write_samples: Callable[[int, PlayerState], None]
  evaluator: Optional[evaluation.Evaluator]


def _sample_writer(config, gan, info, workdir, writer, is_chief):
  """(write_samples, sample_fn): G's evaluation-mode sampler, jitted, and a function

  `write_samples(step, generator_state)` that writes the grid of the fixed
  noise as samples/step_N.png and a summary (on process 0).
  """
  sample_fn = jax.jit(functools.partial(sampling.generate, gan.generator))
  num_classes = info.num_classes if assembly.is_conditional(config) else 0
  z, labels, columns = sampling.sample_grid_inputs(
    config.seed, config.train.num_sample_images, config.model.latent_dim, num_classes
  )

  def write_samples(step: int, generator_state: PlayerState) -> None:
    if is_chief:
      samples = sample_fn(generator_state, z, labels)
      grid = images.image_grid(np.asarray(samples), num_columns=columns or None)
      images.save_png(workdirs.sample_path(workdir, step), grid)
      writer.write_image(step, 'samples', grid)

  return write_samples, sample_fn


def _prefetched(iterator: Iterator, size: int = 2) -> Iterator:
  """`iterator`, kept `size` items ahead: their transfers to the devices overlap the steps."""
  queue = collections.deque(itertools.islice(iterator, size))
  for item in iterator:
    queue.append(item)
    yield queue.popleft()
  yield from queue


def _device_batches(config, source, start_step: int, mesh) -> Iterator:
  """The step's global (images,) or (images, labels) from `start_step` on, prefetched.

  This process reads its share of each batch (`input_pipeline.batches`) and
  its devices hold it.
  """
  conditional = assembly.is_conditional(config)
  real_batches = input_pipeline.batches(
    source,
    seed=config.seed,
    global_batch_size=config.train.batch_size,
    discriminator_steps=config.train.discriminator_steps,
    start_step=start_step,
  )
  return _prefetched(
    distributed.global_batch(batch if conditional else batch[:1], mesh) for batch in real_batches
  )


def _host_rows(pending: list) -> list[dict]:
  """The per-step metrics gathered since the last log, on the host.

  Every device holds the same (averaged) metrics; this process's copy is read.
  Rows already on the host (restored with a checkpoint) hold NumPy scalars.
  """
  return [
    {name: np.ravel(value)[0] for name, value in row.items()}
    for row in jax.device_get(distributed.local_copy(pending))
  ]


def _last_good(last_checkpoint: Optional[int]) -> str:
  where = f'step {last_checkpoint}' if last_checkpoint is not None else 'none yet'
  return f'Last good checkpoint: {where}; no checkpoint was written for the diverged state. '


def _average(rows: list[dict], step: int, last_checkpoint: Optional[int]) -> dict[str, float]:
  """The mean of each metric over `rows`; raises TrainingDivergedError on NaN/Inf."""
  averaged = {name: float(np.mean([row[name] for row in rows])) for name in rows[0]}
  monitoring.check_finite(averaged, step, _last_good(last_checkpoint))
  return averaged


def _save_checkpoint(run: _Run, state: GANState, pending: list, last_checkpoint) -> None:
  """Saves `state` once it and the metrics of its unlogged steps are known to be finite.

  Those metrics are kept beside the checkpoint, so that a run resumed from it
  logs the same records as a run that was never interrupted. Every process
  calls this at the same step: they write the checkpoint together.
  """
  step = int(state.step)
  if pending:
    pending[:] = _host_rows(pending)
    _average(pending, step, last_checkpoint)
  bad = monitoring.nonfinite_paths(distributed.local_copy(state))
  if bad:
    shown = ', '.join(bad[:3]) + (f' and {len(bad) - 3} more' if len(bad) > 3 else '')
    raise errors.TrainingDivergedError(
      f'Training diverged at step {step}: NaN or Inf in {shown}. '
      f'{_last_good(last_checkpoint)}Lower the learning rates or change the loss.'
    )
  checkpoint.seal(run.manager)  # The previous save, complete by now, gets its record.
  if run.is_chief:
    summaries.save_metrics_window(run.workdir, step, pending)
  checkpoint.save(run.manager, state)
  if run.is_chief:
    summaries.prune_metrics_windows(run.workdir, {step, *run.manager.all_steps()})


def _agreed_stop(stop: monitoring.StopRequest, step: int, log_every: int) -> int:
  """The number of the signal that stops the run after `step`, or 0.

  One process checks its own signal at every step. Several agree every
  `log_every` steps (the max over processes, a collective), so that a signal
  to any one stops them all after the same step.
  """
  if jax.process_count() == 1:
    return stop.signal_number or 0
  if step % log_every:
    return 0
  return distributed.max_over_processes(stop.signal_number or 0)


def _loop(run: _Run, replicated, start_step: int, stop: monitoring.StopRequest):
  """Steps from `start_step` to train.num_steps or a stop signal.

  Returns:
    (replicated state, its step, the number of the signal that stopped the run or 0).
  """
  t = run.config.train
  progress = monitoring.Progress(start_step, t.num_steps)
  # The metrics of the steps since the last log: those the checkpoint kept, on a resume.
  pending: list = summaries.load_metrics_window(run.workdir, start_step) if start_step else []
  last_checkpoint = start_step or None
  step, stop_signal = start_step, 0
  while step < t.num_steps and not stop_signal:
    replicated, metrics = run.step_fn(replicated, *next(run.batches))
    pending.append(metrics)
    step += 1
    finished = step == t.num_steps
    stop_signal = _agreed_stop(stop, step, t.log_every)
    if step % t.log_every == 0 or finished:
      logged = _average(_host_rows(pending), step, last_checkpoint)
      pending.clear()
      steps_per_sec, eta = progress.update(step)
      run.writer.write_scalars(step, {**logged, 'steps_per_sec': steps_per_sec})
      logging.info(monitoring.progress_line(step, t.num_steps, logged, steps_per_sec, eta))
    if step % t.sample_every == 0 or finished:
      run.write_samples(step, distributed.local_copy(replicated).sampling_generator())
    if step % t.checkpoint_every == 0 or finished or stop_signal:
      _save_checkpoint(run, replicated, pending, last_checkpoint)
      last_checkpoint = step
    if run.evaluator and not stop_signal and (step % run.config.eval.every == 0 or finished):
      results = run.evaluator.evaluate(distributed.local_copy(replicated).sampling_generator())
      run.writer.write_scalars(step, {f'eval/{name}': value for name, value in results.items()})
      logging.info('step %d eval: %s', step, ', '.join(f'{k} {v:.4g}' for k, v in results.items()))
  return replicated, step, stop_signal


def _restore_or_start(config, gan, info, workdir: str, manager, mesh) -> GANState:
  """The newest intact checkpoint's state, or the state at step 0, replicated over `mesh`;
  then the run's files.

  config.json and data.json are written only now, once the config is known
  to fit the checkpoint (or there is none), so a command that fails never
  replaces the record of the run in `workdir`.
  """
  state = distributed.replicate(assembly.initial_state(config, gan, info.image_shape), mesh)
  state = checkpoint.restore_latest(manager, state) or state
  if int(state.step):
    logging.info('Resuming from the checkpoint at step %d.', int(state.step))
  distributed.on_process_0(lambda: workdirs.write_run_files(workdir, config, info))
  return state


_STORAGE_ERRNOS = (errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EPERM)
_STORAGE_FAILURES = ('No space left on device', 'Read-only file system', 'Disk quota exceeded')


def _storage_failure(error: BaseException) -> Optional[str]:
  """Why `error` (or an error it came from) is a failure to write to disk, or None.

  The file system's OSError, or Orbax's and TensorStore's errors that wrap one
  in their message (a save fails in a background thread).
  """
  while error is not None:
    if isinstance(error, OSError) and error.errno in _STORAGE_ERRNOS:
      return f'{error.strerror}: {error.filename}' if error.filename else error.strerror
    for failure in _STORAGE_FAILURES:
      if failure in str(error):
        return failure
    error = error.__cause__ or error.__context__
  return None


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> GANState:
  """Trains the GAN of `config`, writing everything to `workdir`; resumes if it can.

  Writes config.json, metrics.jsonl, TensorBoard events, samples/step_*.png
  and checkpoints/; with `eval.every` > 0 also the metrics of
  `gan_jax.evaluation` every that many steps (as eval/<name> in metrics.jsonl
  and TensorBoard). Returns this process's copy of the final state. One run
  at a time uses a workdir (`workdirs.lock`).

  Raises:
    GanJaxError: for a bad config or data, a diverged run, a workdir that is
      in use or cannot be written, or an interruption by SIGINT/SIGTERM (after
      saving a checkpoint at the current step).
  """
  config_checks.check(config)  # At once, before the data is read.
  is_chief = jax.process_index() == 0
  source, info = input_pipeline.get_source(config.data)
  gan = assembly.build(config, info.image_shape, info.num_classes)
  input_pipeline.check_batch_size(config.train.batch_size)  # Fails early if uneven.
  lock = distributed.on_process_0(lambda: workdirs.lock(workdir))
  try:
    return _train(config, gan, source, info, workdir, is_chief)
  except Exception as e:
    reason = _storage_failure(e)
    if reason is None:
      raise
    raise errors.StorageError(
      f'Cannot write to {workdir} ({reason}). Every checkpoint completed before is intact in '
      f'{workdir}/checkpoints; free space or fix the permissions, then run the same command to '
      'resume.'
    ) from e
  finally:
    if lock:
      workdirs.unlock(lock)


def _train(config, gan, source, info, workdir: str, is_chief: bool) -> GANState:
  """`train_and_evaluate` once the config is checked and the workdir locked."""
  logging.info('Data %s: %d images of shape %s.', info.name, info.num_examples, info.image_shape)
  mesh = distributed.data_mesh()
  manager = checkpoint.create_manager(workdir, config.train.checkpoints_to_keep)
  replicated = _restore_or_start(config, gan, info, workdir, manager, mesh)
  start_step = int(replicated.step)
  writer = summaries.SummaryWriter(workdir, start_step=start_step, enabled=is_chief)
  write_samples, sample_fn = _sample_writer(config, gan, info, workdir, writer, is_chief)
  batches = _device_batches(config, source, start_step, mesh)
  if start_step == 0:
    write_samples(0, distributed.local_copy(replicated).sampling_generator())
  evaluator = None
  if config.eval.every > 0:
    evaluator = evaluation.Evaluator(
      config,
      generate=sample_fn,
      latent_dim=config.model.latent_dim,
      image_shape=info.image_shape,
      num_classes=info.num_classes if assembly.is_conditional(config) else 0,
    )

  first_batch = next(batches)
  step_fn = compiled_step.step_function(gan, replicated, first_batch)
  batches = itertools.chain([first_batch], batches)
  run = _Run(config, workdir, is_chief, step_fn, batches, manager, writer, write_samples, evaluator)
  try:
    with monitoring.StopRequest() as stop:
      replicated, step, stop_signal = _loop(run, replicated, start_step, stop)
  finally:
    # Whatever ends the loop, checkpoints in flight are finished and summaries flushed.
    checkpoint.seal(manager)
    writer.close()
  if stop_signal:
    raise errors.Interrupted(
      f'{signal.Signals(stop_signal).name} at step {step}: checkpoint saved in {workdir}; run '
      'the same command to resume.',
      exit_code=128 + stop_signal,
    )
  return distributed.local_copy(replicated)


def restore_for_sampling(
  config: ml_collections.ConfigDict, workdir: str, style_truncation: Optional[float] = None
) -> tuple[Callable, GANState]:
  """(generate function bound to G, newest state) of a trained run in `workdir`.

  Every process of a job calls this (the restore is collective) and gets its
  own copy of the state, on its first device.

  Args:
    config: the run's config (`workdirs.read_config`).
    workdir: the run's directory.
    style_truncation: psi of the truncation trick in W (Karras et al. 2019),
      for a G with a mapping network (`config_sections.STYLE_FAMILIES`); None for none.

  Raises:
    CheckpointError: if `workdir` has no checkpoint.
  """
  info = workdirs.read_data_info(workdir)
  gan = assembly.build(config, info.image_shape, info.num_classes)
  manager = checkpoint.create_manager(workdir, config.train.checkpoints_to_keep)
  initial = assembly.initial_state(config, gan, info.image_shape)
  state = checkpoint.restore_latest(
    manager, distributed.replicate(initial, distributed.data_mesh())
  )
  if state is None:
    raise errors.CheckpointError(f'No checkpoint in {workdir}/checkpoints: train there first.')
  generator = gan.generator
  if style_truncation is not None:
    generator = generator.clone(truncation_psi=style_truncation)
  return jax.jit(functools.partial(sampling.generate, generator)), distributed.local_copy(state)
