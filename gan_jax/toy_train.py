"""Toy GAN studies (Strakhov 2018): the library's train step on data with known densities.

A toy run trains exactly what `gan_jax.train` trains (`train.build` makes the
models, loss, penalty and optimizers; `train.train_step` is the step), on 1-D
or 2-D data from `gan_jax.toy_data`. Two things differ from image training:

  - the real batches are drawn on the device from the toy distribution, from
    `fold_in(data key, step)`: every draw is a function of the seed and the
    step, so a run is deterministic, and there is no input pipeline;
  - `train.log_every` steps run as one `lax.scan` inside the pmap: a toy step
    takes about a millisecond, less than dispatching it from Python would.

The run uses one device, pmapped over (the train step averages over the
named axis): toy steps are far too small to gain from data parallelism (on 8
CPU devices the step is 3.5x slower than on one).

After every chunk of steps the host evaluates G and D on fixed inputs (G's
samples from fixed noise, D on a grid and on fixed real samples) for the
curves; every `train.plot_every` steps it keeps a snapshot, drawn as a frame
of the plots and of the animated GIF (`gan_jax.toy_plots`).
"""

import dataclasses
import functools
import json
import os
import shutil
import time
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import logging
from jax import lax

from gan_jax import errors
from gan_jax import summaries
from gan_jax import toy_data
from gan_jax import toy_plots
from gan_jax import train
from gan_jax.state import GANState

# Streams of randomness derived from the seed besides the state's own
# (`train.initial_state` uses PRNGKey(seed) itself; 1 is the image runs'
# sample-grid noise).
_DATA_STREAM, _EVALUATION_STREAM = 2, 3
# Points of the grid on which D is evaluated: per axis in 2-D.
_GRID_POINTS_1D, _GRID_POINTS_2D = 400, 100


def train_config(**overrides) -> ml_collections.ConfigDict:
  """A toy config's `train` section with every field:

  num_steps:            train steps (each: k D updates, one G update).
  batch_size:           samples per D update (real and generated alike).
  discriminator_steps:  k of Algorithm 1.
  reuse_noise_for_generator, generator_ema_decay: as in `train.train_config`.
  log_every:            steps per scanned chunk; G and D are evaluated and
                        metrics written after each.
  plot_every:           steps between snapshots (plots and GIF frames); a
                        multiple of log_every. The last step is always one.
  num_eval_samples:     G's samples (from fixed noise) and real samples used
                        for the statistics, metrics and plots.
  """
  config = ml_collections.ConfigDict(
    dict(
      num_steps=2_000,
      batch_size=256,
      discriminator_steps=1,
      reuse_noise_for_generator=False,
      generator_ema_decay=0.0,
      log_every=100,
      plot_every=100,
      num_eval_samples=10_000,
    )
  )
  config.update(overrides)
  return config


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


def run_devices() -> list:
  """The one device of a toy run, as a list for pmap."""
  return jax.local_devices()[:1]


def make_train_chunk(
  parts: dict[str, Any],
  distribution: toy_data.GaussianMixture,
  *,
  num_steps: int,
  batch_size: int,
  discriminator_steps: int,
) -> Callable[[GANState, jax.Array], tuple[GANState, dict[str, jax.Array]]]:
  """`chunk(replicated_state, data_rng) -> (state, metrics [1, num_steps])`, pmapped.

  Runs `num_steps` train steps as one `lax.scan` on one device; step s draws
  its real data, [k, batch_size, d], from `fold_in(data_rng, s)`.
  """
  step_fn = functools.partial(train.train_step, **parts)

  def chunk(state: GANState, data_rng: jax.Array):
    def body(state, _):
      real = distribution.sample(
        jax.random.fold_in(data_rng, state.step), discriminator_steps * batch_size
      )
      return step_fn(state, real_images=real.reshape(discriminator_steps, batch_size, -1))

    return lax.scan(body, state, length=num_steps)

  return jax.pmap(
    chunk, axis_name=train.BATCH_AXIS, devices=run_devices(), in_axes=(0, None), donate_argnums=(0,)
  )


def replicate(tree) -> Any:
  """`tree` with a leading axis of 1 on the toy run's device, laid out as pmap's outputs are.

  With the outputs' layout, the first call of the pmapped chunk and the later
  ones (on its own outputs) hit the same compiled program.
  """
  mesh = jax.sharding.Mesh(np.array(run_devices()), (train.BATCH_AXIS,))
  stacked = jax.tree.map(lambda x: np.asarray(x)[None], jax.device_get(tree))
  return jax.device_put(stacked, jax.NamedSharding(mesh, jax.P(train.BATCH_AXIS)))


def unreplicate(tree) -> Any:
  """The first device's copy of a replicated `tree`, on the host."""
  return jax.tree.map(lambda x: x[0], jax.device_get(tree))


def evaluation_grid(distribution: toy_data.GaussianMixture) -> np.ndarray:
  """The points where D is drawn and compared, [n, d] float32.

  1-D: 400 points over the modes +- 4 sigma and [-3, 3] (where G starts),
  widened by a fifth of that span on each side, where a G that averages the
  modes puts its tails. 2-D: a 100 x 100 grid over the modes +- 4 sigma, with
  a margin of 1.
  """
  means, stds = np.asarray(distribution.means), np.asarray(distribution.stds)[:, None]
  low, high = np.min(means - 4 * stds, axis=0), np.max(means + 4 * stds, axis=0)
  if distribution.dim == 1:
    low, high = min(low[0], -3.0), max(high[0], 3.0)
    margin = 0.2 * (high - low)
    return np.linspace(low - margin, high + margin, _GRID_POINTS_1D, dtype=np.float32)[:, None]
  axes = [np.linspace(lo - 1.0, hi + 1.0, _GRID_POINTS_2D) for lo, hi in zip(low, high)]
  x, y = np.meshgrid(*axes, indexing='xy')
  return np.stack([x.ravel(), y.ravel()], axis=-1).astype(np.float32)


@dataclasses.dataclass
class Evaluation:
  """G and D at one step, on the fixed evaluation inputs (host arrays).

  Attributes:
    step: the train step.
    samples: G's samples from the fixed noise, [num_eval_samples, d].
    grid_logits: D's logits on `evaluation_grid`, [grid points].
    real_probability: mean D(x) over the fixed real samples.
    fake_probability: mean D(G(z)) over `samples`.
  """

  step: int
  samples: np.ndarray
  grid_logits: np.ndarray
  real_probability: float
  fake_probability: float


def make_evaluate(parts: dict[str, Any], noise, real, grid) -> Callable[[GANState], Evaluation]:
  """`evaluate(state) -> Evaluation`: G (its EMA if any) and D in evaluation mode.

  Args:
    parts: `train.build`'s output.
    noise: [num_eval_samples, latent_dim], G's fixed input.
    real: [num_eval_samples, d], fixed real samples.
    grid: [points, d], where D is drawn (`evaluation_grid`).
  """
  generator, discriminator = parts['generator'], parts['discriminator']

  @jax.jit
  def outputs(state: GANState, noise, real, grid):
    samples = train.generate(generator, state.sampling_generator(), noise)
    logits = lambda x: discriminator.apply(state.discriminator.variables(), x, train=False)
    fake_probability = jnp.mean(jax.nn.sigmoid(logits(samples)))
    return samples, logits(grid), jnp.mean(jax.nn.sigmoid(logits(real))), fake_probability

  def evaluate(state: GANState) -> Evaluation:
    samples, grid_logits, real_probability, fake_probability = jax.device_get(
      outputs(state, noise, real, grid)
    )
    return Evaluation(
      int(state.step),
      samples.reshape(len(samples), -1),
      grid_logits,
      float(real_probability),
      float(fake_probability),
    )

  return evaluate


def sample_statistics(
  distribution: toy_data.GaussianMixture, samples: np.ndarray
) -> dict[str, Any]:
  """What a toy run reports about samples [n, d] (G's, or the data's for reference).

  1-D: their mean and std; always: the mass near each mode, the
  high-quality fraction and the modes covered (`gan_jax.toy_data`).
  """
  mass = toy_data.mass_near_modes(distribution, samples)
  statistics = {
    'mass_near_modes': [float(m) for m in mass],
    'high_quality_fraction': float(np.sum(mass)),
    'modes_covered': toy_data.modes_covered(distribution, samples),
  }
  if distribution.dim == 1:
    statistics.update(mean=float(np.mean(samples)), std=float(np.std(samples)))
  return statistics


def data_statistics(distribution: toy_data.GaussianMixture, real: np.ndarray) -> dict[str, Any]:
  """The modes, and `sample_statistics` of real samples [n, d], with the exact mean and std."""
  statistics = {
    'means': [list(m) for m in distribution.means],
    'stds': list(distribution.stds),
    **sample_statistics(distribution, real),
  }
  if distribution.dim == 1:
    statistics.update(mean=float(distribution.mean()[0]), std=float(distribution.std()[0]))
  return statistics


def initial_values(config: ml_collections.ConfigDict, parts, distribution):
  """(state at step 0, data key, evaluation noise, evaluation real samples), on the host.

  Computed in one jitted function: run eagerly, each of the dozens of small
  initialization ops would be compiled on its own, which takes seconds.
  """

  def initialize():
    state = train.initial_state(config, parts, (distribution.dim,))
    key = jax.random.PRNGKey(config.seed)
    noise_rng, real_rng = jax.random.split(jax.random.fold_in(key, _EVALUATION_STREAM))
    num_samples = config.train.num_eval_samples
    noise = jax.random.normal(noise_rng, (num_samples, config.model.latent_dim))
    real = distribution.sample(real_rng, num_samples)
    return state, jax.random.fold_in(key, _DATA_STREAM), noise, real

  return jax.device_get(jax.jit(initialize)())


def _generator_scalars(distribution: toy_data.GaussianMixture, samples: np.ndarray):
  """The scalar `sample_statistics` of G's samples, named generator_<name>, for the history."""
  statistics = sample_statistics(distribution, samples)
  return {f'generator_{k}': float(v) for k, v in statistics.items() if not isinstance(v, list)}


def _check_finite(metrics: dict[str, float], step: int) -> None:
  bad = sorted(name for name, value in metrics.items() if not np.isfinite(value))
  if bad:
    raise errors.TrainingDivergedError(
      f'Toy training diverged at step {step}: {", ".join(f"{n}={metrics[n]}" for n in bad)}. '
      'Lower the learning rates or change the loss.'
    )


@dataclasses.dataclass
class ToyRun:
  """What `train_toy` returns.

  Attributes:
    state: the final state, on the host.
    real: the fixed real samples of the evaluations, [num_eval_samples, d].
    grid: the points of `evaluation_grid`, [points, d].
    history: one record per `log_every` steps, step 0 first: the train
      step's metrics (averaged over the chunk) and the scalar
      `sample_statistics` of G's samples, named generator_<name>.
    snapshots: the `Evaluation`s at step 0, every `plot_every` steps and at
      the last step.
    compile_seconds: compiling the scanned chunk of steps.
    train_seconds: running the steps, with the evaluations between chunks.
  """

  state: GANState
  real: np.ndarray
  grid: np.ndarray
  history: list[dict[str, float]]
  snapshots: list[Evaluation]
  compile_seconds: float
  train_seconds: float


def train_toy(
  config: ml_collections.ConfigDict,
  parts: dict[str, Any],
  distribution: toy_data.GaussianMixture,
  *,
  generator_params=None,
  on_log: Callable[[dict[str, float]], None] = lambda record: None,
) -> ToyRun:
  """Trains `parts` (from `train.build`) on `distribution` for `config.train.num_steps`.

  Args:
    config: a toy config.
    parts: the models, loss, penalty and optimizers, as `train.build` makes them.
    distribution: p_data.
    generator_params: if given, G's params at step 0 instead of its initialization.
    on_log: called with every record of the history after step 0.

  Raises:
    TrainingDivergedError: if a metric becomes NaN or Inf.
  """
  t = config.train
  state, data_rng, noise, real = initial_values(config, parts, distribution)
  if generator_params is not None:
    state = state.replace(generator=state.generator.replace(params=generator_params))
  grid = evaluation_grid(distribution)
  evaluate = make_evaluate(parts, noise, real, grid)
  evaluation = evaluate(state)
  history = [{'step': 0, **_generator_scalars(distribution, evaluation.samples)}]
  snapshots = [evaluation]

  replicated = replicate(state)
  start = time.perf_counter()
  train_chunk = make_train_chunk(
    parts,
    distribution,
    num_steps=t.log_every,
    batch_size=t.batch_size,
    discriminator_steps=t.discriminator_steps,
  )
  train_chunk = train_chunk.lower(replicated, data_rng).compile()
  compile_seconds = time.perf_counter() - start

  start = time.perf_counter()
  for step in range(t.log_every, t.num_steps + 1, t.log_every):
    replicated, metrics = train_chunk(replicated, data_rng)
    logged = {name: float(np.mean(value)) for name, value in jax.device_get(metrics).items()}
    _check_finite(logged, step)
    evaluation = evaluate(unreplicate(replicated))
    statistics = _generator_scalars(distribution, evaluation.samples)
    history.append({'step': step, **logged, **statistics})
    on_log(history[-1])
    if step % t.plot_every == 0 or step == t.num_steps:
      snapshots.append(evaluation)
      logging.info(
        'step %d/%d | D(x) %.3f D(G(z)) %.3f | %s',
        step,
        t.num_steps,
        logged['d_real'],
        logged['d_fake'],
        ' '.join(f'{name} {value:.3f}' for name, value in statistics.items()),
      )
  train_seconds = time.perf_counter() - start
  return ToyRun(
    unreplicate(replicated), real, grid, history, snapshots, compile_seconds, train_seconds
  )


def results(distribution: toy_data.GaussianMixture, run: ToyRun) -> dict[str, Any]:
  """What results.json holds.

  'data': `data_statistics`, the truth; 'generator': `sample_statistics` of
  G's final samples; d_real and d_fake: the final mean D(x) over the fixed
  real samples and over G's samples, in evaluation mode; and the run's steps
  and times.
  """
  final = run.snapshots[-1]
  num_steps = run.history[-1]['step']
  return {
    'data': data_statistics(distribution, run.real),
    'generator': sample_statistics(distribution, final.samples),
    'd_real': final.real_probability,
    'd_fake': final.fake_probability,
    'num_modes': distribution.num_modes,
    'num_steps': num_steps,
    'compile_seconds': run.compile_seconds,
    'train_seconds': run.train_seconds,
    'steps_per_sec': num_steps / run.train_seconds,
  }


def _write_json(path: str, value) -> None:
  with open(path, 'w', encoding='utf-8') as f:
    json.dump(value, f, indent=2)


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
    _write_json(os.path.join(workdir, 'config.json'), json.loads(config.to_json_best_effort()))
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
  parts = train.build(config, (distribution.dim,))
  if workdir is None:
    return results(distribution, train_toy(config, parts, distribution))
  writer = _start_workdir(workdir, config)
  try:
    log = lambda record: writer.write_scalars(
      record['step'], {k: v for k, v in record.items() if k != 'step'}
    )
    run = train_toy(config, parts, distribution, on_log=log)
  finally:
    writer.close()
  run_results = results(distribution, run)
  _write_json(os.path.join(workdir, 'results.json'), run_results)
  toy_plots.write_run_figures(
    workdir, distribution, run.grid, run.snapshots, run.history, run_results['data']
  )
  return run_results
