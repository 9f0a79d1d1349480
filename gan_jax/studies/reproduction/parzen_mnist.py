"""Table 1 of Goodfellow et al. 2014: Parzen-window log-likelihood of held-out MNIST digits.

Goodfellow et al. 2014 fit a Gaussian kernel density estimate to samples of
G and report the mean log-likelihood of the MNIST test digits under it, with
the standard error across digits. Their code (parzen_ll.py in
github.com/goodfeli/adversarial), where the paper is silent: 10,000 samples;
pixels in [0, 1]; sigma chosen from np.logspace(-1, 0, 10) by the mean
log-likelihood of 1,000 validation digits (training digits 50,000-50,999,
which G did not train on). This module runs that protocol on `gan_mnist`
runs (see `mnist` for the splits), and on the training digits themselves as
kernel centres, the estimate's reference.
"""

import dataclasses
import os
import time
from typing import Mapping, NamedTuple, Sequence

import ml_collections
import numpy as np

from gan_jax.metrics import parzen
from gan_jax.studies.reproduction import mnist
from gan_jax.studies.reproduction import published
from gan_jax.studies.reproduction import report
from gan_jax.studies.reproduction import runs

NAME = 'parzen_mnist'
MODEL = 'gan_mnist'


@dataclasses.dataclass(frozen=True)
class Protocol:
  """Goodfellow et al.'s parzen_ll.py defaults."""

  num_samples: int = 10_000
  sigmas: tuple[float, ...] = tuple(np.logspace(-1.0, 0.0, 10))


TINY_PROTOCOL = Protocol(num_samples=200, sigmas=tuple(np.logspace(-1.0, 0.0, 3)))


class ParzenResult(NamedTuple):
  """The chosen sigma, the test log-likelihood (mean and standard error over
  test points, nats) and the mean validation log-likelihood of each sigma."""

  sigma: float
  mean: float
  standard_error: float
  validation_curve: tuple[float, ...]


def unit_interval(images: np.ndarray) -> np.ndarray:
  """uint8 digits [N, ...] -> float32 [N, d] in [0, 1], the scale of Goodfellow et al.'s data."""
  return np.asarray(images, np.float32).reshape(len(images), -1) / 255.0


def samples_in_unit_interval(samples: np.ndarray) -> np.ndarray:
  """G's samples [N, ...] in [-1, 1] (tanh) -> float32 [N, d] in [0, 1]."""
  return (np.asarray(samples, np.float32).reshape(len(samples), -1) + 1.0) / 2.0


def evaluate(kernel_centres, validation, test, sigmas) -> ParzenResult:
  """Sigma by validation log-likelihood, then the test log-likelihood under it.

  Args:
    kernel_centres: [N, d] generated samples (or data) in [0, 1].
    validation: [M, d] validation digits in [0, 1].
    test: [T, d] test digits in [0, 1].
    sigmas: the candidate kernel widths.
  """
  sigma, curve = parzen.select_bandwidth(kernel_centres, validation, sigmas)
  mean, standard_error = parzen.parzen_log_likelihood(kernel_centres, test, sigma)
  return ParzenResult(sigma, mean, standard_error, tuple(float(v) for v in curve))


def _grid_ends(protocol: Protocol) -> tuple[float, float]:
  return min(protocol.sigmas), max(protocol.sigmas)


def _table_rows(
  config: ml_collections.ConfigDict,
  sizes: Mapping[str, int],
  per_seed: Mapping[int, ParzenResult],
  reference: ParzenResult,
) -> list[list[str]]:
  """The main table's rows: the published ones, ours over seeds, the training-digit reference."""
  mean, std = report.mean_and_std([result.mean for result in per_seed.values()])
  rows = [
    [name, report.plus_minus(*estimate, digits=1), 'Goodfellow et al. 2014, Table 1']
    for name, estimate in published.PARZEN_MNIST.items()
  ]
  rows += [
    [
      f"`{MODEL}` (the MLP GAN of Aakash's slides), {config.train.num_steps:,} steps",
      f'**{report.plus_minus(mean, std, digits=1)}**',
      f'ours: mean ± std over {len(per_seed)} seeds',
    ],
    [
      f'the {sizes["train"]:,} training digits themselves as kernel centres',
      report.plus_minus(reference.mean, reference.standard_error, digits=1),
      f'ours, reference (sigma {reference.sigma:.3f}): ± SE over test digits',
    ],
  ]
  return rows


def _seed_rows(protocol: Protocol, per_seed: Mapping[int, ParzenResult]) -> list[list[str]]:
  """The per-seed rows: sigma (flagged at the grid's edge), validation and test log-likelihood."""
  return [
    [
      str(seed),
      f'{result.sigma:.4f}' + (' (grid edge)' if result.sigma in _grid_ends(protocol) else ''),
      f'{max(result.validation_curve):.1f}',
      report.plus_minus(result.mean, result.standard_error, digits=1),
    ]
    for seed, result in per_seed.items()
  ]


def _protocol_items(
  protocol: Protocol,
  data: str,
  sizes: Mapping[str, int],
  config: ml_collections.ConfigDict,
  num_seeds: int,
) -> list[str]:
  """The bullets of the Protocol section: splits, pixel scale, kernel, model, spreads."""
  splits = mnist.splits_of(data)
  sigmas = ', '.join(f'{s:.3f}' for s in protocol.sigmas)
  return [
    f'Data: {mnist.DESCRIPTIONS[data]}. Splits (`data.split`): G trains on `{splits.train}` '
    f'({sizes["train"]:,} digits); sigma is chosen on `{splits.validation}` '
    f'({sizes["validation"]:,}); the log-likelihood is of `{splits.test}` ({sizes["test"]:,}), '
    'digits G never saw.',
    "Pixels in [0, 1] (digits / 255; samples (x + 1) / 2 from G's tanh), 784 dimensions, as "
    "in Goodfellow et al.'s code: the log-likelihood depends on the scale "
    '(doubling it subtracts 784 log 2 = 543 nats).',
    f'Kernel: isotropic Gaussian on {protocol.num_samples:,} samples of the final G (fixed noise '
    'per seed); sigma is the grid value with the highest mean validation log-likelihood, '
    f"from np.logspace(-1, 0, {len(protocol.sigmas)}) = {sigmas} (parzen_ll.py's grid).",
    f"Model: `{MODEL}`, the MLPs of Aakash's GAN-variants slides ({mnist.describe_mlp(config)}), "
    f"{report.describe_training(config)}. Goodfellow et al.'s MNIST model was larger "
    '(G 100-1200-1200-784, maxout D with dropout) and trained with momentum SGD.',
    f'± of the published rows: {published.PARZEN_MNIST_SPREAD}; of ours: the standard '
    f'deviation over {num_seeds} training seeds (standard errors per seed below).',
  ]


def render(
  *,
  command: str,
  protocol: Protocol,
  data: str,
  sizes: Mapping[str, int],
  config: ml_collections.ConfigDict,
  per_seed: Mapping[int, ParzenResult],
  reference: ParzenResult,
  timing: Sequence[str],
) -> str:
  """The Markdown of the table; `timing` holds sentences on how long it took, on what."""
  return '\n\n'.join(
    [
      '# Parzen-window log-likelihood of MNIST test digits (Goodfellow et al. 2014, Table 1)',
      f'`{command}` regenerates this file.',
      report.markdown_table(
        ['model', 'test log-likelihood (nats)', 'from'],
        _table_rows(config, sizes, per_seed, reference),
      ),
      '## Protocol',
      report.bullet_list(_protocol_items(protocol, data, sizes, config, len(per_seed))),
      '## Per seed',
      report.markdown_table(
        ['seed', 'sigma', 'validation log-likelihood', 'test log-likelihood ± SE'],
        _seed_rows(protocol, per_seed),
      ),
      '## Samples',
      f'![64 samples of the final G, seed {min(per_seed)}]({NAME}_samples.png)',
      '## Time and hardware',
      report.bullet_list(timing),
    ]
  )


def reproduce(configs: Mapping[str, ml_collections.ConfigDict], options: runs.Options) -> str:
  """Trains (or reuses) the runs, evaluates them, writes the table; returns its path."""
  protocol = TINY_PROTOCOL if options.tiny else Protocol()
  splits = mnist.read_splits(options.data)
  validation, test = (unit_interval(splits[part].images) for part in ('validation', 'test'))
  model_runs = mnist.make_runs(MODEL, configs[MODEL], options)
  for run in model_runs:
    runs.train_through(run)

  start = time.perf_counter()
  per_seed, final_samples = {}, {}
  for run in model_runs:
    final_samples[run.seed] = runs.generator_samples(run, [run.final_step], protocol.num_samples)[0]
    centres = samples_in_unit_interval(final_samples[run.seed])
    per_seed[run.seed] = evaluate(centres, validation, test, protocol.sigmas)
  reference = evaluate(unit_interval(splits['train'].images), validation, test, protocol.sigmas)
  evaluation_seconds = time.perf_counter() - start

  os.makedirs(options.results_dir, exist_ok=True)
  report.save_sample_grid(
    os.path.join(options.results_dir, f'{NAME}_samples.png'), final_samples[min(final_samples)][:64]
  )
  sizes = {part: len(split.images) for part, split in splits.items()}
  markdown = render(
    command=options.command(NAME, default_data='bundled_mnist'),
    protocol=protocol,
    data=options.data,
    sizes=sizes,
    config=model_runs[0].config,
    per_seed=per_seed,
    reference=reference,
    timing=runs.time_summary(model_runs, evaluation_seconds),
  )
  numbers = {
    'data': options.data,
    'split_sizes': sizes,
    'num_samples': protocol.num_samples,
    'sigmas': list(protocol.sigmas),
    'per_seed': {str(seed): result._asdict() for seed, result in per_seed.items()},
    'reference_training_digits': reference._asdict(),
  }
  return report.write(options.results_dir, NAME, markdown, numbers)
