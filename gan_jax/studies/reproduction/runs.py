"""The training runs behind a table: trained through its evaluation steps, restored at each.

A table evaluates each run's G at a few steps (every 3,000 steps; the steps
that end the epochs of Aakash's GAN-variants slides). `train_through` trains a run with
`train.train_and_evaluate` so that a checkpoint lands on each of those steps:
periodic checkpoints where the steps are evenly spaced, else stages that end
there. Since a resumed run continues exactly as an uninterrupted one (every
draw is a function of the seed and the step), a staged run is the run trained
in one go. All checkpoints are kept, so that any table can later restore G at
any evaluation step (`generator_samples`). A workdir that already holds the
run is reused, not retrained.
"""

import dataclasses
import functools
import json
import os
import time
from typing import Iterable, Mapping, Sequence

import jax
import ml_collections
import numpy as np

from gan_jax import assembly
from gan_jax import checkpoint
from gan_jax import errors
from gan_jax import sampling
from gan_jax import train
from gan_jax import workdirs
from gan_jax.studies.reproduction import report

# Generated images per forward pass when drawing many samples.
_GENERATION_BATCH_SIZE = 1_000
# fold_in constant of the evaluation noise: distinct from the sample grids' (1).
_EVALUATION_NOISE_STREAM = 2
_TRAINING_TIME_FILE = 'training_time.json'
# Fields that do not change what a run computes (stages differ in num_steps).
_BOOKKEEPING_FIELDS = frozenset(
  f'train.{field}'
  for field in (
    'num_steps',
    'checkpoint_every',
    'checkpoints_to_keep',
    'log_every',
    'sample_every',
    'num_sample_images',
  )
)


@dataclasses.dataclass(frozen=True)
class Options:
  """What the user chooses for a table (the flags of `experiments.reproduce`).

  Attributes:
    data: the data set's name (`data.name`), e.g. 'bundled_mnist' or 'mnist'.
    seeds: the training seeds; one run per config and seed.
    workdir_root: runs go to workdir_root/data/config_name/seed_N.
    results_dir: where the Markdown table, its JSON and figures go.
    num_steps: training steps per config name, overriding the config's.
    tiny: tiny configs and sample counts, for tests.
  """

  data: str
  seeds: tuple[int, ...] = (0, 1, 2)
  workdir_root: str = os.path.join('runs', 'reproduce')
  results_dir: str = 'results'
  num_steps: Mapping[str, int] = dataclasses.field(default_factory=dict)
  tiny: bool = False

  def command(self, table: str, default_data: str) -> str:
    """The command that regenerates `table` with these options (paths left at their defaults)."""
    parts = [f'python -m experiments.reproduce --table={table} --seeds={len(self.seeds)}']
    if self.data != default_data:
      parts.append(f'--data={self.data}')
    if self.num_steps:
      parts.append('--num_steps=' + ','.join(f'{k}={v}' for k, v in sorted(self.num_steps.items())))
    if self.tiny:
      parts.append('--tiny')
    return ' '.join(parts)


def parse_num_steps(items: Sequence[str], valid_names: Iterable[str]) -> dict[str, int]:
  """['wgan_mnist=10000'] -> {'wgan_mnist': 10000}: `Options.num_steps` from flag items.

  Raises:
    ConfigError: for an item that is not NAME=STEPS with NAME in valid_names, STEPS >= 1.
  """
  valid_names, num_steps = sorted(valid_names), {}
  for item in items:
    name, _, value = item.partition('=')
    if name not in valid_names or not value.isdigit() or int(value) < 1:
      raise errors.ConfigError(
        f'--num_steps item {item!r} must be CONFIG=STEPS with STEPS >= 1 and CONFIG one of '
        f'{", ".join(valid_names)}.'
      )
    num_steps[name] = int(value)
  return num_steps


@dataclasses.dataclass(frozen=True)
class Run:
  """One training run of a table.

  Attributes:
    name: the config's name, e.g. 'gan_mnist'.
    config: the config as trained: seed, data and train.num_steps set.
    workdir: where it trains.
    evaluation_steps: the increasing steps at which tables evaluate G; the
      last is train.num_steps.
  """

  name: str
  config: ml_collections.ConfigDict
  workdir: str
  evaluation_steps: tuple[int, ...]

  @property
  def seed(self) -> int:
    return self.config.seed

  @property
  def final_step(self) -> int:
    return self.evaluation_steps[-1]


def evenly_spaced_steps(num_steps: int, count: int) -> tuple[int, ...]:
  """`count` steps spread evenly over (0, num_steps], the last num_steps (fewer if they collide)."""
  return tuple(sorted({max(1, round(num_steps * i / count)) for i in range(1, count + 1)}))


def make_run(
  name: str,
  config: ml_collections.ConfigDict,
  *,
  seed: int,
  data: Mapping[str, object],
  evaluation_steps: Sequence[int],
  workdir_root: str,
  checkpoint_every: int = 0,
) -> Run:
  """The run of `config` with `seed`, data fields `data`, trained to evaluation_steps[-1].

  Args:
    name: the config's name.
    config: the config as `get_config()` returns it (not modified).
    seed: the run's seed.
    data: fields of the config's data section to set, e.g. {'name': 'mnist',
      'split': 'train[:50000]'}.
    evaluation_steps: increasing steps > 0 at which G is evaluated.
    workdir_root: runs go to workdir_root/<data name>/<name>/seed_<seed>.
    checkpoint_every: train.checkpoint_every of the run, if > 0; evaluation
      steps that are multiples of it need no stage of their own.
  """
  steps = tuple(evaluation_steps)
  if not steps or steps[0] < 1 or any(a >= b for a, b in zip(steps, steps[1:])):
    raise errors.ConfigError(f'evaluation steps must increase from 1 or more; got {steps}.')
  config = config.copy_and_resolve_references()
  config.seed = seed
  config.data.update(data)
  config.train.num_steps = steps[-1]
  if checkpoint_every > 0:
    config.train.checkpoint_every = checkpoint_every
  # Keep every checkpoint: each stage's and the periodic ones in between.
  config.train.checkpoints_to_keep = len(steps) + steps[-1] // config.train.checkpoint_every + 1
  workdir = os.path.join(workdir_root, config.data.name, name, f'seed_{seed}')
  return Run(name, config, workdir, steps)


def _flat_fields(config: ml_collections.ConfigDict) -> dict[str, object]:
  """{'train.batch_size': 64, ...}: the config's leaves by dotted name, as JSON values."""

  def flatten(tree, prefix):
    if not isinstance(tree, dict):
      return {prefix: tree}
    return {
      k: v for key, value in tree.items() for k, v in flatten(value, f'{prefix}.{key}').items()
    }

  fields = flatten(json.loads(config.to_json_best_effort()), '')
  return {name[1:]: value for name, value in fields.items()}


def _check_same_run(run: Run) -> None:
  """A workdir with a config.json must hold this run (at any of its stages).

  Fields only one of the configs has are not compared: a field added to the
  project since the run was trained has a default that keeps the old behaviour.
  """
  if not os.path.exists(os.path.join(run.workdir, 'config.json')):
    return
  stored, expected = _flat_fields(workdirs.read_config(run.workdir)), _flat_fields(run.config)
  differing = sorted(
    name
    for name in set(stored) & set(expected)
    if name not in _BOOKKEEPING_FIELDS and stored[name] != expected[name]
  )
  if differing:
    raise errors.ConfigError(
      f'{run.workdir} holds a run with another config (it differs in {", ".join(differing)}); '
      'pass another --workdir, or delete that run to train it anew.'
    )


def _manager(run: Run):
  return checkpoint.create_manager(run.workdir, run.config.train.checkpoints_to_keep)


def train_through(run: Run) -> float:
  """Trains `run` through all its evaluation steps, reusing what its workdir holds.

  A stage ends at each evaluation step that is not a multiple of
  train.checkpoint_every (those get their checkpoint on the way) and at the
  last one.

  Returns:
    Seconds spent training in this call (0.0 if the workdir held the whole run).

  Raises:
    ConfigError: if the workdir holds a run with another config.
    CheckpointError: if the workdir's run went past an evaluation step
      without keeping its checkpoint (e.g. trained by `experiments.train`).
  """
  _check_same_run(run)
  manager = _manager(run)
  stored, latest = set(manager.all_steps()), manager.latest_step() or 0
  manager.close()
  missing = [step for step in run.evaluation_steps if step not in stored]
  if not missing:
    return 0.0
  if missing[0] < latest:
    raise errors.CheckpointError(
      f'{run.workdir} holds a run at step {latest} without a checkpoint at step {missing[0]}, '
      'where the table evaluates G; pass another --workdir to train the run anew.'
    )
  every = run.config.train.checkpoint_every
  stages = sorted({step for step in missing if step % every} | {missing[-1]})
  start = time.perf_counter()
  try:
    for step in stages:
      stage = run.config.copy_and_resolve_references()
      stage.train.num_steps = step
      train.train_and_evaluate(stage, run.workdir)
  finally:  # An interrupted run resumes later; its time so far counts.
    seconds = time.perf_counter() - start
    _add_training_time(run.workdir, seconds)
  return seconds


def _add_training_time(workdir: str, seconds: float) -> None:
  seconds += training_record(workdir)[0]
  with open(os.path.join(workdir, _TRAINING_TIME_FILE), 'w', encoding='utf-8') as f:
    json.dump({'seconds': seconds, 'hardware': report.hardware()}, f, indent=2)


def training_record(workdir: str) -> tuple[float, str]:
  """(seconds, hardware) `train_through` spent training the run in `workdir`; (0.0, '') if none."""
  path = os.path.join(workdir, _TRAINING_TIME_FILE)
  if not os.path.exists(path):
    return 0.0, ''
  with open(path, encoding='utf-8') as f:
    record = json.load(f)
  return float(record['seconds']), record['hardware']


def time_summary(model_runs: Sequence[Run], evaluation_seconds: float) -> list[str]:
  """Sentences on the recorded training time of each config's runs, and the evaluation's."""
  lines = []
  for name in dict.fromkeys(run.name for run in model_runs):
    records = [training_record(run.workdir) for run in model_runs if run.name == name]
    total = sum(seconds for seconds, _ in records)
    hardware = ' / '.join(sorted({where for _, where in records if where})) or 'unrecorded'
    lines.append(
      f'Training `{name}`: {len(records)} run(s), {report.duration(total)} in all '
      f'({report.duration(total / len(records))} per run), on {hardware}.'
    )
  lines.append(f'Evaluation: {report.duration(evaluation_seconds)} on {report.hardware()}.')
  return lines


def evaluation_noise(seed: int, num_samples: int, latent_dim: int) -> jax.Array:
  """The z of every evaluation of a run: [num_samples, latent_dim], a function of the seed only."""
  rng = jax.random.fold_in(jax.random.PRNGKey(seed), _EVALUATION_NOISE_STREAM)
  return jax.random.normal(rng, (num_samples, latent_dim))


def generator_samples(run: Run, steps: Sequence[int], num_samples: int) -> np.ndarray:
  """G's samples at each of `steps`, all from `evaluation_noise`.

  G is restored from the checkpoint at each step (its EMA if the run keeps
  one) and run in evaluation mode. The samples are pixels here, so they are
  clipped to [-1, 1], as images.to_uint8 clips them: a G without an output
  tanh (StyleGAN2) overshoots it.

  Returns:
    float32 [len(steps), num_samples, H, W, C] in [-1, 1].

  Raises:
    CheckpointError: if the run kept no checkpoint at one of `steps`.
  """
  info = workdirs.read_data_info(run.workdir)
  gan = assembly.build(run.config, info.image_shape, info.num_classes)
  target = assembly.initial_state(run.config, gan, info.image_shape)
  generate = jax.jit(functools.partial(sampling.generate, gan.generator))
  z = evaluation_noise(run.seed, num_samples, run.config.model.latent_dim)
  manager = _manager(run)
  try:
    missing = sorted(set(steps) - set(manager.all_steps()))
    if missing:
      raise errors.CheckpointError(
        f'{run.workdir} has no checkpoint at step(s) {missing}; train it with the table first.'
      )
    samples = []
    for step in steps:
      state = checkpoint.restore(manager, target, step)
      generator_state = state.sampling_generator()
      samples.append(
        np.concatenate(
          [
            np.asarray(generate(generator_state, z[start : start + _GENERATION_BATCH_SIZE]))
            for start in range(0, num_samples, _GENERATION_BATCH_SIZE)
          ]
        )
      )
  finally:
    manager.close()
  return np.clip(np.stack(samples), -1.0, 1.0)
