"""MMD and 1-NN accuracy of an MLP GAN and WGAN on MNIST (Aakash's GAN-variants slides).

The slides' code scored every training iteration's 100 real and 100 generated
digits (`minibatch_metrics.minibatch_scores`) and reported the mean and the
variance over all iterations of training. Here each run's G is scored at
`mnist.NUM_EVALUATIONS` evenly spaced checkpoints, on `batches_per_evaluation`
batches of `batch_size` training digits against as many samples, and
summarized two ways:

  over training: mean and variance over every scored batch, of every
    checkpoint and seed (the slides' aggregation);
  final G: each run's mean over the batches of its last checkpoint, then the
    mean and standard deviation over seeds.

Pairs of disjoint batches of training digits, scored the same way, give the
values of a perfect G (MMD is biased upwards, 1-NN accuracy is about 0.5).
"""

import dataclasses
import os
import time
from typing import Mapping, NamedTuple, Sequence

import ml_collections
import numpy as np

from gan_jax import input_pipeline
from gan_jax.studies.reproduction import minibatch_metrics
from gan_jax.studies.reproduction import mnist
from gan_jax.studies.reproduction import published
from gan_jax.studies.reproduction import report
from gan_jax.studies.reproduction import runs

NAME = 'mmd_1nn_mnist'
MODELS = {'gan_mnist': 'GAN', 'wgan_mnist': 'WGAN'}
COLUMNS = minibatch_metrics.COLUMNS


@dataclasses.dataclass(frozen=True)
class Protocol:
  """Batch size as in the slides' code; batches per checkpoint, ours."""

  batch_size: int = 100
  batches_per_evaluation: int = 20


TINY_PROTOCOL = Protocol(batch_size=16, batches_per_evaluation=2)


class Summary(NamedTuple):
  """[4] arrays in `COLUMNS` order, and [steps, 4] means per checkpoint."""

  over_training_mean: np.ndarray
  over_training_variance: np.ndarray
  final_mean: np.ndarray
  final_std: np.ndarray
  per_step_mean: np.ndarray


def real_batch_indices(
  rng: np.random.Generator, num_real: int, batch_size: int, num_batches: int
) -> np.ndarray:
  """[num_batches, batch_size] indices, each batch drawn without replacement."""
  return np.stack([rng.choice(num_real, batch_size, replace=False) for _ in range(num_batches)])


def score_batches(real: np.ndarray, fake: np.ndarray) -> np.ndarray:
  """The slides' scores of batch pairs: real [B, n, ...], fake [B, n, ...] -> [B, 4]."""
  return np.array([minibatch_metrics.minibatch_scores(r, f) for r, f in zip(real, fake)])


def score_run(run: runs.Run, train_digits: np.ndarray, protocol: Protocol) -> np.ndarray:
  """Scores of G at each evaluation step of `run`: [steps, batches_per_evaluation, 4].

  Args:
    run: a trained run.
    train_digits: float32 [N, ...] in [-1, 1], the digits G trained on.
    protocol: batch size and count.
  """
  num_batches, batch_size = protocol.batches_per_evaluation, protocol.batch_size
  samples = runs.generator_samples(run, run.evaluation_steps, num_batches * batch_size)
  rng = np.random.default_rng(run.seed)
  scores = []
  for step_samples in samples:
    real = train_digits[real_batch_indices(rng, len(train_digits), batch_size, num_batches)]
    scores.append(score_batches(real, step_samples.reshape(num_batches, batch_size, -1)))
  return np.stack(scores)


def score_real_pairs(train_digits: np.ndarray, protocol: Protocol, num_pairs: int) -> np.ndarray:
  """Scores of `num_pairs` pairs of disjoint batches of training digits: [num_pairs, 4]."""
  rng = np.random.default_rng(0)
  pairs = real_batch_indices(rng, len(train_digits), 2 * protocol.batch_size, num_pairs)
  pairs = pairs.reshape(num_pairs, 2, protocol.batch_size)
  return score_batches(train_digits[pairs[:, 0]], train_digits[pairs[:, 1]])


def summarize(scores: Sequence[np.ndarray]) -> Summary:
  """Aggregates the scores of a config's runs (one [steps, batches, 4] array per seed)."""
  stacked = np.stack(scores)  # [seeds, steps, batches, 4]
  every_batch = stacked.reshape(-1, stacked.shape[-1])
  final = stacked[:, -1].mean(axis=1)  # [seeds, 4]
  final_std = final.std(axis=0, ddof=1) if len(final) > 1 else np.full(final.shape[1], np.nan)
  return Summary(
    every_batch.mean(axis=0),
    every_batch.var(axis=0),
    final.mean(axis=0),
    final_std,
    stacked.mean(axis=(0, 2)),
  )


def _cells(means, spreads) -> list[str]:
  return [report.plus_minus(m, s, digits=4) for m, s in zip(means, spreads)]


def _table_rows(
  summaries: Mapping[str, Summary], real_pairs: np.ndarray, num_seeds: int
) -> list[list[str]]:
  """The main table's rows: per model the slides', our over-training and our final-G scores;
  then real vs real."""
  rows = []
  for name, label in MODELS.items():
    summary, seed_scores = summaries[name], published.MMD_1NN_MNIST[name]
    rows += [
      [label, "Aakash's slides: over training, mean ± variance", *_cells(*zip(*seed_scores))],
      [
        label,
        'ours: over training, mean ± variance',
        *_cells(summary.over_training_mean, summary.over_training_variance),
      ],
      [
        label,
        f'ours: final G, mean ± std over {num_seeds} seeds',
        *[f'**{cell}**' for cell in _cells(summary.final_mean, summary.final_std)],
      ],
    ]
  rows.append(
    [
      'real vs real',
      'ours: disjoint batches of training digits, mean ± variance',
      *_cells(real_pairs.mean(axis=0), real_pairs.var(axis=0)),
    ]
  )
  return rows


def _seed_rows(per_seed_final: Mapping[str, Mapping[int, np.ndarray]]) -> list[list[str]]:
  """The rows of the final G's scores, one per model and seed."""
  return [
    [MODELS[name], str(seed), *[f'{value:.4f}' for value in scores]]
    for name, by_seed in per_seed_final.items()
    for seed, scores in by_seed.items()
  ]


def _protocol_items(
  protocol: Protocol,
  data: str,
  train_size: int,
  configs: Mapping[str, ml_collections.ConfigDict],
  evaluation_steps: Mapping[str, Sequence[int]],
) -> list[str]:
  """The bullets of the Protocol section: data, scores, when, spreads, models, training."""
  splits = mnist.splits_of(data)
  return [
    f'Data: {mnist.DESCRIPTIONS[data]}. G trains on `{splits.train}` ({train_size:,} digits); the '
    "real batches are drawn from the same digits, as in the code of Aakash's slides, which "
    'trained on the 60,000 training digits for 200 epochs with batch 100.',
    f"Scores: the slides' metric.py on {protocol.batch_size} real and {protocol.batch_size} "
    'generated digits in pixel space ([-1, 1], 784 dimensions): MMD = sqrt(biased MMD^2) with '
    'the Gaussian kernel exp(-||a - b||^2 / (2 s)), s = the mean squared distance between the '
    'real digits of the batch; leave-one-out 1-NN accuracy of the '
    f'{2 * protocol.batch_size} pooled digits, overall, '
    'on the real and on the generated ones.',
    f'When: {protocol.batches_per_evaluation} batch pairs at each of '
    + '; '.join(
      f'`{name}` steps {", ".join(f"{s:,}" for s in steps)}'
      for name, steps in evaluation_steps.items()
    )
    + ". The slides' code scored one batch pair at every training iteration.",
    f"± of Aakash's slides: {published.MMD_1NN_MNIST_SPREAD}; "
    '"over training" mirrors it (variance over all scored batches, checkpoints and seeds); '
    '"final G" is the spread over training seeds.',
    *[
      f"`{name}`: the slides' MLPs ({mnist.describe_mlp(config)}); "
      f'{report.describe_training(config)}.'
      for name, config in configs.items()
    ],
    "The slides' code trained its GAN with Adam (lr 2e-4, betas 0.9 / 0.999) and its WGAN with "
    'RMSProp 5e-5, clipping 0.01, one G update per 5 critic updates and a sigmoid on the critic.',
  ]


def render(
  *,
  command: str,
  protocol: Protocol,
  data: str,
  train_size: int,
  configs: Mapping[str, ml_collections.ConfigDict],
  evaluation_steps: Mapping[str, Sequence[int]],
  summaries: Mapping[str, Summary],
  per_seed_final: Mapping[str, Mapping[int, np.ndarray]],
  real_pairs: np.ndarray,
  timing: Sequence[str],
) -> str:
  """The Markdown of the table; `timing` holds sentences on how long it took, on what."""
  num_seeds = len(next(iter(per_seed_final.values())))
  return '\n\n'.join(
    [
      "# MMD and 1-NN accuracy of GAN and WGAN on MNIST (Aakash's GAN-variants slides)",
      f'`{command}` regenerates this file.',
      report.markdown_table(
        ['model', 'measured', *COLUMNS], _table_rows(summaries, real_pairs, num_seeds)
      ),
      '## Protocol',
      report.bullet_list(_protocol_items(protocol, data, train_size, configs, evaluation_steps)),
      '## Final G per seed',
      report.markdown_table(['model', 'seed', *COLUMNS], _seed_rows(per_seed_final)),
      '## Over training',
      f'![the four scores against the training step]({NAME}_curves.png)',
      '## Samples of the final G (first seed)',
      report.markdown_table(
        list(MODELS.values()),
        [[f'![{label}]({NAME}_{name}_samples.png)' for name, label in MODELS.items()]],
      ),
      '## Time and hardware',
      report.bullet_list(timing),
    ]
  )


def _score_all(
  model_runs: Mapping[str, Sequence[runs.Run]],
  train_digits: np.ndarray,
  protocol: Protocol,
  results_dir: str,
) -> tuple[dict[str, dict[int, np.ndarray]], np.ndarray, float]:
  """Scores every run and the real pairs and saves the sample grids.

  Returns:
    the scores by config name and seed, the real pairs' scores, and the
    seconds all this took.
  """
  start = time.perf_counter()
  scores = {
    name: {run.seed: score_run(run, train_digits, protocol) for run in group}
    for name, group in model_runs.items()
  }
  num_pairs = mnist.NUM_EVALUATIONS * protocol.batches_per_evaluation
  real_pairs = score_real_pairs(train_digits, protocol, num_pairs)
  os.makedirs(results_dir, exist_ok=True)
  for name, group in model_runs.items():
    first = group[0]
    samples = runs.generator_samples(first, [first.final_step], 64)[0]
    report.save_sample_grid(os.path.join(results_dir, f'{NAME}_{name}_samples.png'), samples)
  return scores, real_pairs, time.perf_counter() - start


def _save_curves(
  results_dir: str,
  model_runs: Mapping[str, Sequence[runs.Run]],
  summaries: Mapping[str, Summary],
) -> None:
  """Plots each score's mean per checkpoint against the training step, one curve a model."""
  report.save_curves(
    os.path.join(results_dir, f'{NAME}_curves.png'),
    {
      column: {
        MODELS[name]: (model_runs[name][0].evaluation_steps, summary.per_step_mean[:, i])
        for name, summary in summaries.items()
      }
      for i, column in enumerate(COLUMNS)
    },
  )


def _numbers(
  data: str,
  protocol: Protocol,
  model_runs: Mapping[str, Sequence[runs.Run]],
  summaries: Mapping[str, Summary],
  per_seed_final: Mapping[str, Mapping[int, np.ndarray]],
  real_pairs: np.ndarray,
) -> dict:
  """The table's numbers, for its JSON."""
  return {
    'data': data,
    'columns': list(COLUMNS),
    'protocol': dataclasses.asdict(protocol),
    'models': {
      name: {
        'evaluation_steps': list(model_runs[name][0].evaluation_steps),
        **{field: np.asarray(value).tolist() for field, value in summary._asdict().items()},
        'final_per_seed': {str(seed): v.tolist() for seed, v in per_seed_final[name].items()},
      }
      for name, summary in summaries.items()
    },
    'real_vs_real': {'mean': real_pairs.mean(0).tolist(), 'variance': real_pairs.var(0).tolist()},
  }


def reproduce(configs: Mapping[str, ml_collections.ConfigDict], options: runs.Options) -> str:
  """Trains (or reuses) the runs, scores them, writes the table; returns its path."""
  protocol = TINY_PROTOCOL if options.tiny else Protocol()
  train_digits = input_pipeline.to_model_range(mnist.read_splits(options.data)['train'].images)
  model_runs = {name: mnist.make_runs(name, configs[name], options) for name in MODELS}
  for run in (run for group in model_runs.values() for run in group):
    runs.train_through(run)

  scores, real_pairs, evaluation_seconds = _score_all(
    model_runs, train_digits, protocol, options.results_dir
  )
  summaries = {name: summarize(list(by_seed.values())) for name, by_seed in scores.items()}
  _save_curves(options.results_dir, model_runs, summaries)
  per_seed_final = {
    name: {seed: s[-1].mean(axis=0) for seed, s in by_seed.items()}
    for name, by_seed in scores.items()
  }
  markdown = render(
    command=options.command(NAME, default_data='bundled_mnist'),
    protocol=protocol,
    data=options.data,
    train_size=len(train_digits),
    configs={name: group[0].config for name, group in model_runs.items()},
    evaluation_steps={name: group[0].evaluation_steps for name, group in model_runs.items()},
    summaries=summaries,
    per_seed_final=per_seed_final,
    real_pairs=real_pairs,
    timing=runs.time_summary(
      [run for group in model_runs.values() for run in group], evaluation_seconds
    ),
  )
  numbers = _numbers(options.data, protocol, model_runs, summaries, per_seed_final, real_pairs)
  return report.write(options.results_dir, NAME, markdown, numbers)
