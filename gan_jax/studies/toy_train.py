"""Toy GAN studies (Strakhov 2018): the library's train step on data with known densities.

A toy run trains exactly what `gan_jax.train` trains (`assembly.build` makes
the models, loss, penalty and optimizers; `step.train_step` is the step), on
1-D or 2-D data from `gan_jax.studies.toy_data`. Two things differ from image training:

  - the real batches are drawn on the device from the toy distribution, from
    `fold_in(data key, step)`: every draw is a function of the seed and the
    step, so a run is deterministic, and there is no input pipeline;
  - `train.log_every` steps run as one `lax.scan` in one program: a toy step
    takes about a millisecond, less than dispatching it from Python would.

The run uses a mesh of one device (`run_mesh`; the train step averages over
its named axis): toy steps are far too small to gain from data parallelism
(on 8 CPU devices the step is 3.5x slower than on one).

After every chunk of steps the host evaluates G and D on fixed inputs
(`toy_evaluation`) for the curves; every `train.plot_every` steps it keeps a
snapshot, drawn as a frame of the plots and of the animated GIF (`toy_plots`).
"""

import dataclasses
import functools
import json
import os
import shutil
import time
from typing import Any, Callable, Optional

import jax
import ml_collections
import numpy as np
from absl import logging
from jax import lax

from gan_jax import assembly
from gan_jax import distributed
from gan_jax import errors
from gan_jax import monitoring
from gan_jax import step
from gan_jax import summaries
from gan_jax import workdirs
from gan_jax.state import GANState
from gan_jax.studies import toy_data
from gan_jax.studies import toy_evaluation
from gan_jax.studies import toy_plots

# Streams of randomness derived from the seed besides the state's own
# (`assembly.initial_state` uses PRNGKey(seed) itself; 1 is the image runs'
# sample-grid noise).
_DATA_STREAM, _EVALUATION_STREAM = 2, 3


def check_schedule(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError unless num_steps and plot_every are positive multiples of log_every."""
  t = config.train
  multiples = (t.num_steps, t.plot_every)
  if t.log_every < 1 or any(n < t.log_every or n % t.log_every for n in multiples):
    raise errors.ConfigError(
      f'train.num_steps ({t.num_steps}) and train.plot_every ({t.plot_every}) must be positive '
      f'multiples of train.log_every ({t.log_every}), the steps scanned on the device at a time.'
    )
  if t.batch_size < 1 or t.num_eval_samples < 1:
    raise errors.ConfigError(
      f'train.batch_size ({t.batch_size}) and train.num_eval_samples ({t.num_eval_samples}) '
      'must be positive.'
    )


def run_mesh() -> jax.sharding.Mesh:
  """The mesh of a toy run: its one device, with the train step's axis."""
  return distributed.data_mesh(jax.local_devices()[:1])


def make_train_chunk(
  gan: step.GAN,
  distribution: toy_data.GaussianMixture,
  *,
  num_steps: int,
  batch_size: int,
  discriminator_steps: int,
) -> Callable[[GANState, jax.Array], tuple[GANState, dict[str, jax.Array]]]:
  """`chunk(replicated_state, data_rng) -> (state, metrics [num_steps])`, jitted on `run_mesh`.

  Runs `num_steps` train steps as one `lax.scan` on one device; step s draws
  its real data, [k, batch_size, d], from `fold_in(data_rng, s)`.
  """
  step_fn = functools.partial(step.train_step, gan=gan)

  def chunk(state: GANState, data_rng: jax.Array):
    def body(state, _):
      real = distribution.sample(
        jax.random.fold_in(data_rng, state.step), discriminator_steps * batch_size
      )
      return step_fn(state, real_images=real.reshape(discriminator_steps, batch_size, -1))

    return lax.scan(body, state, length=num_steps)

  per_device = distributed.per_device(chunk, run_mesh(), (jax.P(), jax.P()), (jax.P(), jax.P()))
  return jax.jit(per_device, donate_argnums=(0,))


def _host_state(replicated) -> GANState:
  """The state of the run's one device, on the host."""
  return jax.device_get(distributed.local_copy(replicated))


def initial_values(config: ml_collections.ConfigDict, gan: step.GAN, distribution):
  """(state at step 0, data key, evaluation noise, evaluation real samples), on the host.

  Computed in one jitted function: run eagerly, each of the dozens of small
  initialization ops would be compiled on its own, which takes seconds.
  """

  def initialize():
    state = assembly.initial_state(config, gan, (distribution.dim,))
    key = jax.random.PRNGKey(config.seed)
    noise_rng, real_rng = jax.random.split(jax.random.fold_in(key, _EVALUATION_STREAM))
    num_samples = config.train.num_eval_samples
    noise = jax.random.normal(noise_rng, (num_samples, config.model.latent_dim))
    real = distribution.sample(real_rng, num_samples)
    return state, jax.random.fold_in(key, _DATA_STREAM), noise, real

  return jax.device_get(jax.jit(initialize)())


@dataclasses.dataclass
class ToyRun:
  """What `train_toy` returns.

  Attributes:
    state: the final state, on the host.
    real: the fixed real samples of the evaluations, [num_eval_samples, d].
    grid: the points of `toy_evaluation.evaluation_grid`, [points, d].
    history: one record per `log_every` steps, step 0 first: the train
      step's metrics (averaged over the chunk) and the scalar
      `toy_evaluation.sample_statistics` of G's samples, named generator_<name>.
    snapshots: the `Evaluation`s at step 0, every `plot_every` steps and at
      the last step.
    compile_seconds: compiling the scanned chunk of steps.
    train_seconds: running the steps, with the evaluations between chunks.
  """

  state: GANState
  real: np.ndarray
  grid: np.ndarray
  history: list[dict[str, float]]
  snapshots: list[toy_evaluation.Evaluation]
  compile_seconds: float
  train_seconds: float


def train_toy(
  config: ml_collections.ConfigDict,
  gan: step.GAN,
  distribution: toy_data.GaussianMixture,
  *,
  generator_params=None,
  on_log: Callable[[dict[str, float]], None] = lambda record: None,
) -> ToyRun:
  """Trains `gan` (from `assembly.build`) on `distribution` for `config.train.num_steps`.

  Args:
    config: a toy config.
    gan: the models, loss, penalty and optimizers, as `assembly.build` makes them.
    distribution: p_data.
    generator_params: if given, G's params at step 0 instead of its initialization.
    on_log: called with every record of the history after step 0.

  Raises:
    TrainingDivergedError: if a metric becomes NaN or Inf.
  """
  t = config.train
  state, data_rng, noise, real = initial_values(config, gan, distribution)
  if generator_params is not None:
    state = state.replace(generator=state.generator.replace(params=generator_params))
  grid = toy_evaluation.evaluation_grid(distribution)
  evaluate = toy_evaluation.make_evaluate(gan, noise, real, grid)
  evaluation = evaluate(state)
  history = [{'step': 0, **toy_evaluation.generator_scalars(distribution, evaluation.samples)}]
  snapshots = [evaluation]

  replicated = distributed.replicate(state, run_mesh())
  start = time.perf_counter()
  train_chunk = make_train_chunk(
    gan,
    distribution,
    num_steps=t.log_every,
    batch_size=t.batch_size,
    discriminator_steps=t.discriminator_steps,
  )
  train_chunk = train_chunk.lower(replicated, data_rng).compile()
  compile_seconds = time.perf_counter() - start

  start = time.perf_counter()
  for done in range(t.log_every, t.num_steps + 1, t.log_every):
    replicated, metrics = train_chunk(replicated, data_rng)
    logged = {name: float(np.mean(value)) for name, value in jax.device_get(metrics).items()}
    monitoring.check_finite(logged, done, what_was_kept='')
    evaluation = evaluate(_host_state(replicated))
    statistics = toy_evaluation.generator_scalars(distribution, evaluation.samples)
    history.append({'step': done, **logged, **statistics})
    on_log(history[-1])
    if done % t.plot_every == 0 or done == t.num_steps:
      snapshots.append(evaluation)
      logging.info(
        'step %d/%d | D(x) %.3f D(G(z)) %.3f | %s',
        done,
        t.num_steps,
        logged['d_real'],
        logged['d_fake'],
        ' '.join(f'{name} {value:.3f}' for name, value in statistics.items()),
      )
  train_seconds = time.perf_counter() - start
  return ToyRun(
    _host_state(replicated), real, grid, history, snapshots, compile_seconds, train_seconds
  )


def results(distribution: toy_data.GaussianMixture, run: ToyRun) -> dict[str, Any]:
  """What results.json holds.

  'data': `toy_evaluation.data_statistics`, the truth; 'generator': its `sample_statistics` of
  G's final samples; d_real and d_fake: the final mean D(x) over the fixed
  real samples and over G's samples, in evaluation mode; and the run's steps
  and times.
  """
  final = run.snapshots[-1]
  num_steps = run.history[-1]['step']
  return {
    'data': toy_evaluation.data_statistics(distribution, run.real),
    'generator': toy_evaluation.sample_statistics(distribution, final.samples),
    'd_real': final.real_probability,
    'd_fake': final.fake_probability,
    'num_modes': distribution.num_modes,
    'num_steps': num_steps,
    'compile_seconds': run.compile_seconds,
    'train_seconds': run.train_seconds,
    'steps_per_sec': num_steps / run.train_seconds,
  }


def _start_workdir(workdir: str, config: ml_collections.ConfigDict) -> summaries.SummaryWriter:
  """Creates `workdir`, clears a previous toy run's outputs, writes config.json.

  A toy run starts over instead of resuming: it takes seconds to minutes.
  """
  try:
    os.makedirs(workdir, exist_ok=True)
    for name in ('metrics.jsonl', 'results.json'):
      if os.path.exists(os.path.join(workdir, name)):
        os.remove(os.path.join(workdir, name))
    for name in ('plots', 'tensorboard'):
      shutil.rmtree(os.path.join(workdir, name), ignore_errors=True)
    workdirs.write_json(
      os.path.join(workdir, 'config.json'), json.loads(config.to_json_best_effort())
    )
  except OSError as e:
    raise errors.ConfigError(
      f'Cannot write to the workdir {workdir!r} ({e.strerror}); pass a writable --workdir.'
    ) from e
  return summaries.SummaryWriter(workdir, start_step=0)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: Optional[str]) -> dict[str, Any]:
  """Trains the toy GAN of `config`; writes its outputs to `workdir` unless None.

  Writes config.json, metrics.jsonl (and tensorboard/), results.json,
  plots/step_N.png every `train.plot_every` steps, training.gif (those frames
  animated), curves.png and summary.png (the last frame beside the curves).

  Returns:
    `results(...)`, what results.json holds.

  Raises:
    ConfigError: for a bad config; TrainingDivergedError for a NaN or Inf.
  """
  check_schedule(config)
  distribution = toy_data.get_distribution(config.data)
  gan = assembly.build(config, (distribution.dim,))
  if workdir is None:
    return results(distribution, train_toy(config, gan, distribution))
  writer = _start_workdir(workdir, config)
  try:
    log = lambda record: writer.write_scalars(
      record['step'], {k: v for k, v in record.items() if k != 'step'}
    )
    run = train_toy(config, gan, distribution, on_log=log)
  finally:
    writer.close()
  run_results = results(distribution, run)
  workdirs.write_json(os.path.join(workdir, 'results.json'), run_results)
  toy_plots.write_run_figures(
    workdir, distribution, run.grid, run.snapshots, run.history, run_results['data']
  )
  return run_results
