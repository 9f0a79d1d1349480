"""Writing a table's results: Markdown, the raw numbers as JSON, figures, hardware."""

import io
import json
import os
import platform
from typing import Sequence

import numpy as np
from PIL import Image

from gan_jax import images


def plus_minus(value: float, spread: float, digits: int) -> str:
  """'0.1964 ± 0.0064' with `digits` decimals; the value alone when spread is NaN."""
  if np.isnan(spread):
    return f'{value:.{digits}f}'
  return f'{value:.{digits}f} ± {spread:.{digits}f}'


def mean_and_std(values: Sequence[float]) -> tuple[float, float]:
  """Mean and sample standard deviation (ddof=1) of repeats; NaN std for one value."""
  values = np.asarray(values, dtype=np.float64)
  return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else float('nan')


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
  """A GitHub Markdown table; every row must have one cell per header column."""
  for row in rows:
    if len(row) != len(header):
      raise ValueError(f'row {list(row)} has {len(row)} cells for {len(header)} columns.')
  lines = [header, ['---'] * len(header), *rows]
  return '\n'.join('| ' + ' | '.join(str(cell) for cell in line) + ' |' for line in lines)


def bullet_list(items: Sequence[str]) -> str:
  return '\n'.join(f'- {item}' for item in items)


def duration(seconds: float) -> str:
  """'12 min 5 s', '40 s'."""
  minutes, seconds = divmod(round(seconds), 60)
  return f'{minutes} min {seconds} s' if minutes else f'{seconds} s'


def hardware() -> str:
  """The CPU model and core count (and accelerators, if JAX sees any) of this machine."""
  import jax  # pylint: disable=g-import-not-at-top

  cpu = platform.processor() or platform.machine()
  if os.path.exists('/proc/cpuinfo'):
    with open('/proc/cpuinfo', encoding='utf-8') as f:
      names = [line.split(':', 1)[1].strip() for line in f if line.startswith('model name')]
    cpu = names[0] if names else cpu
  description = f'{cpu}, {os.cpu_count()} cores'
  accelerators = [d for d in jax.devices() if d.platform != 'cpu']
  if accelerators:
    description += f', {len(accelerators)} x {accelerators[0].device_kind}'
  return description


def describe_training(config) -> str:
  """One line on how a config trains: loss, optimizers, batch, steps, k, penalty."""
  optimizers = []
  for player in ('generator', 'discriminator'):
    section = config.optimizer[player]
    detail = {'adam': f'b1 {section.b1}', 'rmsprop': f'decay {section.decay}'}.get(section.name)
    detail = f', {detail}' if detail else ''
    optimizers.append(f'{player[0].upper()}: {section.name} lr {section.learning_rate:g}{detail}')
  clipping = (
    f", D's weights clipped to +-{config.penalty.clip_weights:g}"
    if config.penalty.clip_weights
    else ''
  )
  return (
    f'{config.loss.name} loss{clipping}; {"; ".join(optimizers)}; batch {config.train.batch_size}; '
    f'{config.train.num_steps:,} steps of {config.train.discriminator_steps} D update(s) '
    'and one G update'
  )


def save_sample_grid(path: str, samples: np.ndarray, num_columns: int = 0) -> None:
  """Samples [N, H, W, C] in [-1, 1] as one PNG grid."""
  images.save_png(path, images.image_grid(samples, num_columns=num_columns or None))


def save_labelled_rows(path: str, rows: Sequence[tuple[str, np.ndarray]]) -> None:
  """A figure with one row of images per (label, images [n, H, W, C] in [-1, 1]).

  The images are drawn at their own resolution and the PNG is stored with a
  256-colour palette, to keep it small.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top

  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  grids = [images.image_grid(row, num_columns=len(row)) for _, row in rows]
  height, width = grids[0].shape[:2]
  dpi, label_width = 100, 1.2  # Inches for the labels.
  figure, axes = plt.subplots(
    len(rows), 1, figsize=(width / dpi + label_width, len(rows) * (height + 8) / dpi), squeeze=False
  )
  for axis, (label, _), grid in zip(axes[:, 0], rows, grids):
    axis.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap='gray', vmin=0, vmax=255)
    axis.set_axis_off()
    axis.text(-0.02, 0.5, label, transform=axis.transAxes, ha='right', va='center', fontsize=8)
  figure.subplots_adjust(left=label_width / (width / dpi + label_width), right=1, bottom=0, top=1)
  buffer = io.BytesIO()
  figure.savefig(buffer, dpi=dpi, format='png')
  plt.close(figure)
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  Image.open(buffer).convert('RGB').quantize(256).save(path, optimize=True)


def save_curves(path: str, curves: dict[str, dict[str, tuple[Sequence[int], Sequence[float]]]]):
  """Line plots against the training step: one panel per metric, one line per model.

  Args:
    path: the PNG to write.
    curves: {metric: {model: (steps, values)}}.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top

  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  figure, axes = plt.subplots(1, len(curves), figsize=(3.2 * len(curves), 2.8), squeeze=False)
  for axis, (metric, lines) in zip(axes[0], curves.items()):
    for model, (steps, values) in lines.items():
      axis.plot(steps, values, marker='.', label=model)
    axis.set_title(metric, fontsize=9)
    axis.set_xlabel('step')
  axes[0, 0].legend()
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)


def write(results_dir: str, name: str, markdown: str, numbers: dict) -> str:
  """Writes results_dir/name.md and results_dir/name.json; returns the Markdown's path."""
  os.makedirs(results_dir, exist_ok=True)
  with open(os.path.join(results_dir, f'{name}.json'), 'w', encoding='utf-8') as f:
    json.dump(numbers, f, indent=2)
  path = os.path.join(results_dir, f'{name}.md')
  with open(path, 'w', encoding='utf-8') as f:
    f.write(markdown.rstrip() + '\n')
  return path
