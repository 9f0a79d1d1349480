"""Training a GAN: compiling the step, the training loop, and restoring a run.

`train_and_evaluate(config, workdir)` assembles the run (`assembly.build`),
restores its newest checkpoint if there is one, and runs `step.train_step`
pmapped over the local devices with `step.BATCH_AXIS`, with the periodic work
(metrics, sample grids, checkpoints, evaluations) each on its own interval.
"""

import dataclasses
import functools
import itertools
import signal
from typing import Callable, Iterator, Optional

import flax.jax_utils
import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from absl import logging

from gan_jax import assembly
from gan_jax import checkpoint
from gan_jax import errors
from gan_jax import evaluation
from gan_jax import images
from gan_jax import input_pipeline
from gan_jax import monitoring
from gan_jax import sampling
from gan_jax import step as step_lib
from gan_jax import summaries
from gan_jax import workdirs
from gan_jax import xla_options
from gan_jax.state import GANState
from gan_jax.state import PlayerState


def replicate(tree, devices: Optional[list] = None):
  """A copy of `tree` on each of `devices` (all local ones by default), with a leading axis.

  Laid out exactly as the pmapped step's outputs are (`flax.jax_utils.replicate`
  names its mesh axis differently), so that the first and later steps hit the
  same compiled program instead of compiling it twice.
  """
  devices = devices or jax.local_devices()
  mesh = jax.sharding.Mesh(np.array(devices), (step_lib.BATCH_AXIS,))
  stacked = jax.tree.map(lambda x: np.stack([np.asarray(x)] * len(devices)), tree)
  return jax.device_put(stacked, jax.NamedSharding(mesh, jax.P(step_lib.BATCH_AXIS)))


def unreplicate(tree):
  """The first device's copy of a replicated `tree`."""
  return jax.tree.map(lambda x: x[0], tree)


def compile_train_step(gan: step_lib.GAN, state: GANState, batch: tuple[jax.Array, ...]):
  """`step.train_step` pmapped over the local devices and compiled for these arguments.

  Args:
    gan: from `assembly.build`.
    state: the replicated state (`replicate`); each call donates it.
    batch: one step's sharded (images,) or (images, labels), on the devices.

  Returns:
    The compiled step, (state, *batch) -> (state, metrics), built with
    `xla_options.compiler_options()`.
  """
  train_step = functools.partial(step_lib.train_step, gan=gan)
  pmapped = jax.pmap(train_step, axis_name=step_lib.BATCH_AXIS, donate_argnums=(0,))
  return pmapped.lower(state, *batch).compile(xla_options.compiler_options())


@dataclasses.dataclass
class _Run:
  """What the loop of one run works with, besides the state."""

  config: ml_collections.ConfigDict
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


def _device_batches(config, source, start_step: int) -> Iterator:
  """The step's (images,) or (images, labels) from `start_step` on, sharded and prefetched."""
  conditional = assembly.is_conditional(config)
  real_batches = input_pipeline.batches(
    source,
    seed=config.seed,
    global_batch_size=config.train.batch_size,
    discriminator_steps=config.train.discriminator_steps,
    start_step=start_step,
  )
  return flax.jax_utils.prefetch_to_device(
    (input_pipeline.shard(batch if conditional else batch[:1]) for batch in real_batches),
    size=2,
    axis_name=step_lib.BATCH_AXIS,
  )


def _check_pending(pending: list, step: int, last_checkpoint: Optional[int]) -> dict[str, float]:
  """Averages the metrics gathered since the last check (and clears them); raises on NaN/Inf."""
  host = jax.device_get(pending)
  pending.clear()
  averaged = {name: float(np.mean([m[name][0] for m in host])) for name in host[0]}
  where = f'step {last_checkpoint}' if last_checkpoint is not None else 'none yet'
  kept = f'Last good checkpoint: {where}; no checkpoint was written for the diverged state. '
  monitoring.check_finite(averaged, step, kept)
  return averaged


def _loop(run: _Run, replicated, start_step: int, stop: monitoring.StopRequest):
  """Steps from `start_step` to train.num_steps or a stop signal: (replicated state, step)."""
  t = run.config.train
  progress = monitoring.Progress(start_step, t.num_steps)
  pending: list = []
  last_checkpoint = start_step or None
  step = start_step
  while step < t.num_steps:
    replicated, metrics = run.step_fn(replicated, *next(run.batches))
    pending.append(metrics)
    step += 1
    finished = step == t.num_steps
    if step % t.log_every == 0 or finished:
      logged = _check_pending(pending, step, last_checkpoint)
      steps_per_sec, eta = progress.update(step)
      run.writer.write_scalars(step, {**logged, 'steps_per_sec': steps_per_sec})
      logging.info(monitoring.progress_line(step, t.num_steps, logged, steps_per_sec, eta))
    if step % t.sample_every == 0 or finished:
      run.write_samples(step, unreplicate(replicated).sampling_generator())
    if step % t.checkpoint_every == 0 or finished or stop.signal_number:
      if pending:  # Never checkpoint a state whose metrics were not checked.
        _check_pending(pending, step, last_checkpoint)
      checkpoint.save(run.manager, unreplicate(replicated))
      last_checkpoint = step
    if stop.signal_number:
      break
    if run.evaluator and (step % run.config.eval.every == 0 or finished):
      results = run.evaluator.evaluate(unreplicate(replicated).sampling_generator())
      run.writer.write_scalars(step, {f'eval/{name}': value for name, value in results.items()})
      logging.info('step %d eval: %s', step, ', '.join(f'{k} {v:.4g}' for k, v in results.items()))
  return replicated, step


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> GANState:
  """Trains the GAN of `config`, writing everything to `workdir`; resumes if it can.

  Writes config.json, metrics.jsonl, TensorBoard events, samples/step_*.png
  and checkpoints/; with `eval.every` > 0 also the metrics of
  `gan_jax.evaluation` every that many steps (as eval/<name> in metrics.jsonl
  and TensorBoard). Returns the final (unreplicated) state.

  Raises:
    GanJaxError: for a bad config or data, a diverged run, or an interruption
      by SIGINT/SIGTERM (after saving a checkpoint at the current step).
  """
  is_chief = jax.process_index() == 0
  source, info = input_pipeline.get_source(config.data)
  gan = assembly.build(config, info.image_shape, info.num_classes)
  input_pipeline.per_process_batch_size(config.train.batch_size)  # Fails early if uneven.
  workdirs.prepare(workdir, config, info, write=is_chief)
  logging.info('Data %s: %d images of shape %s.', info.name, info.num_examples, info.image_shape)

  manager = checkpoint.create_manager(workdir, config.train.checkpoints_to_keep)
  state = assembly.initial_state(config, gan, info.image_shape)
  state = checkpoint.restore_latest(manager, state) or state
  start_step = int(state.step)
  if start_step:
    logging.info('Resuming from the checkpoint at step %d.', start_step)
  writer = summaries.SummaryWriter(workdir, start_step=start_step, enabled=is_chief)
  write_samples, sample_fn = _sample_writer(config, gan, info, workdir, writer, is_chief)
  batches = _device_batches(config, source, start_step)
  if start_step == 0:
    write_samples(0, state.sampling_generator())
  evaluator = None
  if config.eval.every > 0:
    evaluator = evaluation.Evaluator(
      config,
      generate=sample_fn,
      latent_dim=config.model.latent_dim,
      image_shape=info.image_shape,
      num_classes=info.num_classes if assembly.is_conditional(config) else 0,
    )

  replicated = replicate(state)
  first_batch = next(batches)
  step_fn = compile_train_step(gan, replicated, first_batch)
  batches = itertools.chain([first_batch], batches)
  run = _Run(config, step_fn, batches, manager, writer, write_samples, evaluator)
  try:
    with monitoring.StopRequest() as stop:
      replicated, step = _loop(run, replicated, start_step, stop)
  finally:
    # Whatever ends the loop, checkpoints in flight are finished and summaries flushed.
    manager.wait_until_finished()
    writer.close()
  if stop.signal_number:
    name = signal.Signals(stop.signal_number).name
    raise errors.Interrupted(
      f'{name} at step {step}: checkpoint saved in {workdir}; run the same command to resume.',
      exit_code=128 + stop.signal_number,
    )
  return unreplicate(replicated)


def restore_for_sampling(
  config: ml_collections.ConfigDict, workdir: str
) -> tuple[Callable, GANState]:
  """(generate function bound to G, newest state) of a trained run in `workdir`.

  Args:
    config: the run's config (`workdirs.read_config`).
    workdir: the run's directory.

  Raises:
    CheckpointError: if `workdir` has no checkpoint.
  """
  info = workdirs.read_data_info(workdir)
  gan = assembly.build(config, info.image_shape, info.num_classes)
  manager = checkpoint.create_manager(workdir, config.train.checkpoints_to_keep)
  state = checkpoint.restore_latest(manager, assembly.initial_state(config, gan, info.image_shape))
  if state is None:
    raise errors.CheckpointError(f'No checkpoint in {workdir}/checkpoints: train there first.')
  return jax.jit(functools.partial(sampling.generate, gan.generator)), state
