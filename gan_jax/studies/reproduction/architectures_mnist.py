"""Four GAN architectures on MNIST for one wall-clock budget each (issue #17, point 6).

An MLP GAN (`gan_mnist`: Goodfellow et al. 2014 with the MLPs of Aakash's
GAN-variants slides), DCGAN (`dcgan_mnist`: Radford et al. 2015), SNGAN's
ResNet (`sngan_cifar10`: Miyato et al. 2018) and BigGAN (`biggan_cifar10`:
Brock et al. 2019, class-conditional with a projection D) train on the MNIST
digits (`mnist.SPLITS`) for the same budget of train-step time on this
machine, and are scored with the MNIST classifier's FID, IS, precision and
recall (`gan_jax.evaluation.Evaluator`, hence `gan_jax.metrics`).

The budget (`--budget_minutes`) becomes steps by calibration (`budgets`):
each config's train step is timed once on this machine, the config trains
floor(budget / step time) steps, and the calibration is stored beside the
runs, so a rerun trains the same steps; `--num_steps` sets a config's steps
outright (e.g. to repeat a published table's runs on another machine).

The 32x32 families see the 28x28 digits padded with black to 32x32
(`data.crop_size=32`, as LeNet-5 took MNIST); the MNIST classifier scores
their samples by the centre 28x28, and the real digits they are compared
with are padded the same way.
"""

import dataclasses
import math
import os
import time
from typing import Mapping, NamedTuple, Sequence

import jax
import ml_collections
import numpy as np

from gan_jax import assembly
from gan_jax import config_sections
from gan_jax import evaluation
from gan_jax import feature_networks
from gan_jax import scoring
from gan_jax import train
from gan_jax import workdirs
from gan_jax.studies.reproduction import budgets
from gan_jax.studies.reproduction import mnist
from gan_jax.studies.reproduction import report
from gan_jax.studies.reproduction import runs

NAME = 'architectures_mnist'
METRICS = {'fid': 'FID', 'is': 'IS', 'precision': 'precision', 'recall': 'recall'}


class Model(NamedTuple):
  """A config of the table: its row's label and what differs from its paper's setting."""

  label: str
  differences: str


MODELS = {
  'gan_mnist': Model(
    'MLP GAN',
    "the small MLPs of Aakash's slides, not Goodfellow et al.'s 1200-unit G and maxout D; Adam "
    'instead of momentum SGD',
  ),
  'dcgan_mnist': Model(
    'DCGAN',
    "Radford et al.'s G and D scaled to 28x28x1 (G 7x7 -> 14x14 -> 28x28); batch 64, not 128",
  ),
  'sngan_cifar10': Model(
    'SNGAN',
    "Miyato et al.'s 32x32 ResNets (appendix B.4) at a quarter of G's width and half of D's "
    '(G 64 channels wide, D 64, see _CPU_WIDTHS) on one channel, unconditional as their '
    'CIFAR-10 runs; no linear decay of the learning rate',
  ),
  'biggan_cifar10': Model(
    'BigGAN',
    "BigGAN-PyTorch's CIFAR-10 networks at a quarter of their width (ch 16, see _CPU_WIDTHS) "
    'on one channel, conditioned on the digit with a '
    'projection D; no EMA of G: its decay 0.9999 averages over ~10,000 steps, more than a '
    'budget gives, and BigGAN-PyTorch starts it only after thousands of steps (--ema_start, '
    '20,000 in its ImageNet scripts); no orthogonal regularization, as its CIFAR script; '
    'samples without truncation',
  ),
}
# Families whose smallest layout is 32x32: they see the digits padded to 32x32.
_PADDED_FAMILIES = ('biggan', 'resnet')
# At the papers' CIFAR-10 widths a step takes 21 s (SNGAN: 2.7 TFLOP, five D updates) and
# 40-100 s (BigGAN) on 2 CPU cores, tens of steps in a budget of minutes; at these widths
# the ResNets train for hundreds of steps and the comparison says something about them.
_CPU_WIDTHS = {
  'resnet': dict(generator_width=64, discriminator_width=64),
  'biggan': dict(base_width=16),
}


@dataclasses.dataclass(frozen=True)
class Protocol:
  """Sample counts of the scores and of the grids, and the calibration's steps.

  num_reference: real digits, at most the train split (the bundled set's 4,000
    all); as many generated digits, as precision and recall want equal sets.
  warmup_steps, timed_steps: the calibration's steps, few because a step of
    BigGAN's CIFAR networks takes about 100 s on 2 CPU cores.
  """

  num_samples: int = 4_000
  num_reference: int = 4_000
  grid_size: int = 100
  warmup_steps: int = 1
  timed_steps: int = 3


TINY_PROTOCOL = Protocol(
  num_samples=64, num_reference=64, grid_size=20, warmup_steps=1, timed_steps=2
)


def table_config(
  config: ml_collections.ConfigDict, data: str, protocol: Protocol
) -> ml_collections.ConfigDict:
  """`config` as this table trains and scores it (train.num_steps still the config's).

  Data: the train split of `data`, padded to 32x32 for the 32x32 families;
  their widths for 2 CPU cores (`_CPU_WIDTHS`); no EMA of G (see `MODELS`); the scores of the table with the MNIST classifier,
  named since 'auto' takes Inception at 32x32; the reference digits from the
  train split, drawn with eval.seed. Conditioning stays the config's.
  """
  split = mnist.splits_of(data).train
  config = config.copy_and_resolve_references()
  config.data.update(name=data, split=split)
  if config.model.name in _PADDED_FAMILIES:
    config.data.update(image_size=32, crop_size=32)
  for field, width in _CPU_WIDTHS.get(config.model.name, {}).items():
    if not 0 < config.model[field] <= width:  # 0 is the paper's width; a tiny one stays.
      config.model[field] = width
  config.train.generator_ema_decay = 0.0
  config.eval.update(
    metrics='fid,is,precision_recall',
    feature_network='mnist_classifier',
    num_samples=protocol.num_samples,
    num_reference=protocol.num_reference,
    reference_split=split,
  )
  return config


def make_runs(
  name: str, config: ml_collections.ConfigDict, num_steps: int, options: budgets.BudgetOptions
) -> list[runs.Run]:
  """One run of the table's `config` per seed, evaluated at its last step (`budgets.budget_runs`)."""
  return budgets.budget_runs(NAME, name, config, num_steps, options)


def parameter_counts(config: ml_collections.ConfigDict, image_shape, num_classes: int):
  """(G's, D's) numbers of parameters (the 'params' collections), without computing them."""
  gan = assembly.build(config, image_shape, num_classes)
  state = jax.eval_shape(lambda: assembly.initial_state(config, gan, image_shape))
  count = lambda tree: sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(tree))
  return count(state.generator.params), count(state.discriminator.params)


def evaluator_of(run: runs.Run) -> tuple[evaluation.Evaluator, object]:
  """The table's `Evaluator` of a trained run and G's restored state (the last checkpoint)."""
  info = workdirs.read_data_info(run.workdir)
  generate, state = train.restore_for_sampling(run.config, run.workdir)
  evaluator = evaluation.Evaluator(
    run.config,
    generate=generate,
    latent_dim=run.config.model.latent_dim,
    image_shape=info.image_shape,
    num_classes=info.num_classes if assembly.is_conditional(run.config) else 0,
  )
  return evaluator, state.sampling_generator()


def grid_samples(evaluator: evaluation.Evaluator, generator_state, settings, count: int):
  """The first `count` of the scored samples [count, H, W, C] (whole batches are drawn, as there)."""
  stop = min(settings.num_samples, math.ceil(count / settings.batch_size) * settings.batch_size)
  return evaluator.generated_images(generator_state, range(stop))[:count]


def score_real_digits(data: str, settings: ml_collections.ConfigDict) -> dict[str, float]:
  """The scores of the test split's real digits against the reference digits, as if generated.

  A floor for every model: real digits against real digits, both 28x28 (padding
  changes nothing, the classifier sees the centre 28x28).
  """
  data_config, split = config_sections.data_config(name=data), mnist.splits_of(data)
  real, _ = evaluation.reference_images(
    data_config, split.train, settings.num_reference, settings.seed
  )
  held_out, _ = evaluation.reference_images(
    data_config, split.test, settings.num_samples, settings.seed
  )
  names = scoring.check_settings(settings)
  network = feature_networks.load(settings, real.shape[1:])
  observe = lambda images: scoring.observe(images, network, scoring.reads(names))
  return scoring.score(names, observe(real), observe(held_out), settings)


class ModelResult(NamedTuple):
  """What the table reports of one config: its size, its budget and its scores per seed."""

  generator_parameters: int
  discriminator_parameters: int
  calibration: budgets.Calibration
  num_steps: int
  training_seconds: float  # Mean over seeds of the recorded training time.
  scores: Mapping[int, Mapping[str, float]]  # {seed: {'fid': ..., 'is': ..., ...}}


def _score_cells(scores: Sequence[Mapping[str, float]], digits: int) -> list[str]:
  """'mean ± std' over seeds (the value alone for one seed) of each of `METRICS`."""
  return [
    report.plus_minus(*report.mean_and_std([s[metric] for s in scores]), digits=digits)
    for metric in METRICS
  ]


def _table_rows(results: Mapping[str, ModelResult], real: Mapping[str, float]) -> list[list[str]]:
  rows = [
    [
      MODELS[name].label,
      f'{result.generator_parameters:,}',
      f'{result.discriminator_parameters:,}',
      f'{result.calibration.step_seconds * 1e3:.1f} ms',
      f'{result.num_steps:,}',
      report.duration(result.training_seconds),
      *_score_cells(list(result.scores.values()), digits=3),
    ]
    for name, result in results.items()
  ]
  rows.append(['real digits (test split)', '', '', '', '', '', *_score_cells([real], digits=3)])
  return rows


def _protocol_items(
  *,
  options: budgets.BudgetOptions,
  protocol: Protocol,
  configs: Mapping[str, ml_collections.ConfigDict],
  results: Mapping[str, ModelResult],
  evaluation_protocols: Mapping[str, Mapping],
) -> list[str]:
  """The bullets of the Protocol section."""
  splits = mnist.splits_of(options.data)
  hardware = ' / '.join(sorted({r.calibration.hardware for r in results.values()}))
  set_steps = sorted(set(options.num_steps) & set(results))
  first = next(iter(evaluation_protocols.values()))

  # Every model's scores are described alike but for the feature network (the 32x32 crop)
  # and the generated set (class-conditional G's draw every class equally often).
  def by_model(field):
    labels = {}
    for name, protocol_of_model in evaluation_protocols.items():
      labels.setdefault(protocol_of_model[field], []).append(MODELS[name].label)
    return '; '.join(f'{text} ({", ".join(names)})' for text, names in labels.items())

  items = [
    f'Budget: {options.budget_minutes:g} min of train-step time per model on {hardware}. Each '
    "config's step (k D updates and one G update, as training runs it) was compiled and timed: "
    f'the median of {protocol.timed_steps} steps after {protocol.warmup_steps} warm-up step(s) '
    '(`gan_jax.studies.benchmarking`, the input pipeline left out), and the config trains '
    'floor(budget / step time) steps. "training time" is the whole wall time of training '
    '(input pipeline, logging, checkpoints and sample grids included), mean over seeds.'
    + (f' Steps set by --num_steps instead: {", ".join(set_steps)}.' if set_steps else ''),
    f'Data: {mnist.DESCRIPTIONS[options.data]}. Every G trains on `{splits.train}`; the 32x32 '
    'models see the 28x28 digits padded with black to 32x32 (`data.crop_size=32`: the digit '
    'at [2:30, 2:30], as LeNet-5 took MNIST, LeCun et al. 1998), not resized.',
    f"Feature network: {by_model('feature_network')}. A 32x32 G's 2-pixel border is not scored.",
    f'Generated: {by_model("generated")}. Reference: {first["reference"]}, padded as the model '
    'saw them. ' + '; '.join(f'{name}: {text}' for name, text in first['metrics'].items()) + '.',
    f'"real digits": {protocol.num_samples:,} (at most) digits of the split `{splits.test}` '
    'scored against the same reference as if generated: the floor of each metric here.',
    f'±: standard deviation over {len(options.seeds)} training seeds.'
    if len(options.seeds) > 1
    else 'One training seed: no spread.',
  ]
  for name, config in configs.items():
    model = MODELS[name]
    network = mnist.describe_mlp(config) if config.model.name == 'mlp' else config.model.name
    items.append(
      f'{model.label} (`{name}`, {network}): {report.describe_training(config)}. '
      f'Differs from the paper: {model.differences}.'
    )
  return items


def render(
  *,
  command: str,
  options: budgets.BudgetOptions,
  protocol: Protocol,
  configs: Mapping[str, ml_collections.ConfigDict],
  results: Mapping[str, ModelResult],
  real: Mapping[str, float],
  evaluation_protocols: Mapping[str, Mapping],
  timing: Sequence[str],
) -> str:
  """The Markdown of the table; `timing` holds sentences on how long it took, on what."""
  header = [
    'model',
    'G params',
    'D params',
    'step time',
    'steps',
    'training time',
    *METRICS.values(),
  ]
  per_seed = [
    [MODELS[name].label, str(seed), *[f'{scores[m]:.3f}' for m in METRICS]]
    for name, result in results.items()
    for seed, scores in result.scores.items()
  ]
  return '\n\n'.join(
    [
      f'# GAN architectures on MNIST, {options.budget_minutes:g} minutes of training each',
      f'`{command}` regenerates this file.',
      report.markdown_table(header, _table_rows(results, real)),
      '## Protocol',
      report.bullet_list(
        _protocol_items(
          options=options,
          protocol=protocol,
          configs=configs,
          results=results,
          evaluation_protocols=evaluation_protocols,
        )
      ),
      '## Per seed',
      report.markdown_table(['model', 'seed', *METRICS.values()], per_seed),
      f'## Samples (first seed; the first {protocol.grid_size} scored, BigGAN one class a column)',
      report.markdown_table(
        [MODELS[name].label for name in results],
        [[f'![{MODELS[name].label}]({NAME}_{name}_samples.png)' for name in results]],
      ),
      '## Time and hardware',
      report.bullet_list(timing),
    ]
  )


def _score_runs(
  group: Sequence[runs.Run], protocol: Protocol, results_dir: str
) -> tuple[dict[int, dict[str, float]], dict]:
  """Each run's scores by seed and the evaluation protocol; saves the first run's sample grid."""
  scores = {}
  for run in group:
    evaluator, generator_state = evaluator_of(run)
    scores[run.seed] = evaluator.evaluate(generator_state)
    if run is group[0]:
      samples = grid_samples(evaluator, generator_state, run.config.eval, protocol.grid_size)
      path = os.path.join(results_dir, f'{NAME}_{run.name}_samples.png')
      report.save_sample_grid(path, samples, num_columns=10)
  return scores, evaluator.protocol


def _numbers(
  options: budgets.BudgetOptions, protocol: Protocol, results, real, evaluation_protocols
) -> dict:
  """The table's numbers, for its JSON."""
  return {
    'data': options.data,
    'budget_minutes': options.budget_minutes,
    'protocol': dataclasses.asdict(protocol),
    'models': {
      name: {
        **result._asdict(),
        'calibration': result.calibration._asdict(),
        'scores': {str(seed): scores for seed, scores in result.scores.items()},
        'evaluation_protocol': evaluation_protocols[name],
      }
      for name, result in results.items()
    },
    'real_digits': real,
  }


def reproduce(
  configs: Mapping[str, ml_collections.ConfigDict], options: budgets.BudgetOptions
) -> str:
  """Calibrates, trains (or reuses) and scores every config, writes the table; returns its path."""
  protocol = TINY_PROTOCOL if options.tiny else Protocol()
  configs = {name: table_config(config, options.data, protocol) for name, config in configs.items()}
  calibrations, model_runs = budgets.calibrated_runs(
    NAME,
    configs,
    options,
    warmup_steps=protocol.warmup_steps,
    timed_steps=protocol.timed_steps,
  )
  for run in (run for group in model_runs.values() for run in group):
    runs.train_through(run)

  start, results, evaluation_protocols = time.perf_counter(), {}, {}
  os.makedirs(options.results_dir, exist_ok=True)
  for name, group in model_runs.items():
    scores, evaluation_protocols[name] = _score_runs(group, protocol, options.results_dir)
    info = workdirs.read_data_info(group[0].workdir)
    results[name] = ModelResult(
      *parameter_counts(group[0].config, info.image_shape, info.num_classes),
      calibration=calibrations[name],
      num_steps=group[0].final_step,
      training_seconds=float(np.mean([runs.training_record(r.workdir)[0] for r in group])),
      scores=scores,
    )
  real = score_real_digits(options.data, group[0].config.eval)
  evaluation_seconds = time.perf_counter() - start

  markdown = render(
    command=options.command(NAME, default_data='bundled_mnist'),
    options=options,
    protocol=protocol,
    configs={name: group[0].config for name, group in model_runs.items()},
    results=results,
    real=real,
    evaluation_protocols=evaluation_protocols,
    timing=runs.time_summary(
      [run for group in model_runs.values() for run in group], evaluation_seconds
    ),
  )
  numbers = _numbers(options, protocol, results, real, evaluation_protocols)
  return report.write(options.results_dir, NAME, markdown, numbers)
