"""Figures of the toy studies, like Strakhov's (2018): densities, D(x), curves, an animation.

  1-D frame   the real density p_data, a histogram of G's samples and D(x)
              on one axis (Strakhov 2018, Fig. 7 and 14);
  2-D frame   D(x) as a heat map, the modes and G's samples;
  curves      mean D(x) and D(G(z)) over training, and G's mean and standard
              deviation (1-D, Strakhov 2018, Fig. 1-4) or the modes covered and
              the high-quality fraction (2-D);
  GIF         every frame of the run, in order.

Figures are drawn with matplotlib's object API on the Agg canvas (no pyplot,
no display needed).
"""

import os
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image
from scipy import special

from gan_jax.studies import toy_data

_DPI = 80
_GIF_FRAME_MS = 120
_SCATTER_POINTS = 2_000


def draw_frame(ax, distribution: toy_data.GaussianMixture, grid: np.ndarray, evaluation) -> None:
  """Draws one snapshot (a `toy_evaluation.Evaluation`) on `ax`, in 1-D or 2-D."""
  discriminator = special.expit(evaluation.grid_logits)
  if distribution.dim == 1:
    x = grid[:, 0]
    data_density = distribution.density(grid)
    ax.hist(
      evaluation.samples[:, 0],
      bins=np.linspace(x[0], x[-1], 100),
      density=True,
      color='C2',
      alpha=0.5,
      label='p_g (histogram of G(z))',
    )
    ax.plot(x, data_density, color='C1', lw=2, label='p_data')
    ax.plot(x, discriminator, color='C0', lw=2, label='D(x)')
    ax.axhline(0.5, color='grey', lw=0.8, ls=':')
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(0, max(1.05, 1.15 * float(np.max(data_density))))
    ax.set_xlabel('x')
    ax.legend(loc='upper left', fontsize=8)
  else:
    side = int(round(np.sqrt(len(grid))))
    extent = (grid[0, 0], grid[-1, 0], grid[0, 1], grid[-1, 1])
    image = ax.imshow(
      discriminator.reshape(side, side),
      origin='lower',
      extent=extent,
      cmap='RdBu',
      vmin=0,
      vmax=1,
      alpha=0.6,
      interpolation='bilinear',
    )
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label='D(x)')
    samples = evaluation.samples[:_SCATTER_POINTS]
    ax.scatter(samples[:, 0], samples[:, 1], s=3, color='C2', alpha=0.8, label='G(z)')
    means = np.asarray(distribution.means)
    ax.scatter(means[:, 0], means[:, 1], marker='x', color='k', s=30, label='modes')
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect('equal')
    ax.legend(loc='upper right', fontsize=8)
  ax.set_title(f'step {evaluation.step}')


def draw_curves(axes, distribution, history: Sequence[dict], data: dict) -> None:
  """Draws a run's curves on three axes.

  Args:
    axes: three matplotlib axes.
    distribution: the run's `toy_data.GaussianMixture`.
    history: one record per logged step (`toy_train.ToyRun.history`).
    data: the same statistics of the data (`toy_evaluation.data_statistics`),
      drawn as dashed lines.
  """
  trained = [record for record in history if 'd_real' in record]
  steps = [record['step'] for record in trained]
  axes[0].plot(steps, [r['d_real'] for r in trained], label='D(x), real')
  axes[0].plot(steps, [r['d_fake'] for r in trained], label='D(G(z)), generated')
  axes[0].axhline(0.5, color='grey', lw=0.8, ls=':')
  axes[0].set_ylim(0, 1)
  axes[0].set_title('mean D output')
  axes[0].legend(fontsize=8)
  steps = [record['step'] for record in history]
  if distribution.dim == 1:
    panels = [('mean', 'mean of G(z)'), ('std', 'std of G(z)')]
  else:
    panels = [
      ('modes_covered', f'modes covered (of {distribution.num_modes})'),
      ('high_quality_fraction', 'samples within 3 std of a mode'),
    ]
  for ax, (name, title) in zip(axes[1:], panels):
    ax.plot(steps, [record[f'generator_{name}'] for record in history], color='C2', label='G')
    ax.axhline(data[name], color='C1', ls='--', label='data')
    ax.set_title(title)
    ax.legend(fontsize=8)
  for ax in axes:
    ax.set_xlabel('step')


def _rgb(figure: Figure) -> Image.Image:
  canvas = FigureCanvasAgg(figure)
  canvas.draw()
  return Image.fromarray(np.asarray(canvas.buffer_rgba())).convert('RGB')


def _save_png(figure: Figure, path: str) -> None:
  """Saves `figure` with a 256-colour palette: plots lose nothing visible and shrink 2-3x."""
  _rgb(figure).quantize(colors=256).save(path, optimize=True)


def _frame_figure(distribution, grid, evaluation) -> Figure:
  figure = Figure(figsize=(6.4, 4.2) if distribution.dim == 1 else (5.6, 4.6), dpi=_DPI)
  draw_frame(figure.add_subplot(), distribution, grid, evaluation)
  figure.tight_layout()
  return figure


def write_run_figures(
  workdir: str,
  distribution: toy_data.GaussianMixture,
  grid: np.ndarray,
  snapshots: Sequence,
  history: Sequence[dict],
  data: dict,
) -> None:
  """Writes plots/step_N.png per snapshot, training.gif, curves.png and summary.png.

  Args:
    workdir: the run's directory.
    distribution: the run's `toy_data.GaussianMixture`.
    grid: the points of D's values in the snapshots (`toy_evaluation.evaluation_grid`).
    snapshots: `toy_evaluation.Evaluation`s, one frame each.
    history, data: as in `draw_curves`.

  summary.png is the last frame beside the curves: one picture of the run.
  """
  os.makedirs(os.path.join(workdir, 'plots'), exist_ok=True)
  frames = []
  for evaluation in snapshots:
    figure = _frame_figure(distribution, grid, evaluation)
    picture = _rgb(figure)
    picture.quantize(colors=256).save(
      os.path.join(workdir, 'plots', f'step_{evaluation.step:07d}.png'), optimize=True
    )
    frames.append(picture.quantize(colors=64))
  frames[0].save(
    os.path.join(workdir, 'training.gif'),
    save_all=True,
    append_images=frames[1:],
    duration=_GIF_FRAME_MS,
    loop=0,
  )

  curves = Figure(figsize=(12, 3.4), dpi=_DPI)
  draw_curves(curves.subplots(1, 3), distribution, history, data)
  curves.tight_layout()
  _save_png(curves, os.path.join(workdir, 'curves.png'))

  summary = Figure(figsize=(10, 6.4), dpi=_DPI)
  if distribution.dim == 1:  # The frame and three curves in a 2 x 2 grid.
    axes = summary.subplots(2, 2)
    frame_ax, curve_axes = axes[0, 0], [axes[0, 1], axes[1, 0], axes[1, 1]]
  else:  # A square frame as tall as the three curves stacked beside it.
    layout = summary.add_gridspec(3, 2, width_ratios=(1.6, 1))
    frame_ax = summary.add_subplot(layout[:, 0])
    curve_axes = [summary.add_subplot(layout[row, 1]) for row in range(3)]
  draw_frame(frame_ax, distribution, grid, snapshots[-1])
  draw_curves(curve_axes, distribution, history, data)
  summary.tight_layout()
  _save_png(summary, os.path.join(workdir, 'summary.png'))


def write_optimal_discriminator_figure(
  path: str, curves: dict, saturation: dict, results: dict
) -> None:
  """The optimal discriminator study (`gan_jax.studies.optimal_discriminator`) in two panels.

  Left: p_data, p_g, D* and the trained D, with the region where they are
  compared. Right: |d(G's loss)/d(logit)| against D(G(z)) for the minimax
  and the non-saturating G losses, and the mean D(G(z)) of the rejected G.
  """
  figure = Figure(figsize=(12, 4.2), dpi=_DPI)
  left, right = figure.subplots(1, 2)
  x = curves['x']
  region = x[curves['in_region']]
  left.axvspan(region[0], region[-1], color='grey', alpha=0.08, label='compared')
  left.plot(x, curves['p_data'], color='C1', lw=2, label='p_data')
  left.plot(x, curves['p_g'], color='C2', lw=2, label='p_g (fixed)')
  left.plot(x, curves['optimal'], color='k', ls='--', lw=2, label='D* = p_data / (p_data + p_g)')
  left.plot(x, curves['trained'], color='C0', lw=1.5, label='trained D')
  left.set_xlim(region[0] - 1, region[-1] + 1)
  left.set_ylim(0, 1.05)
  left.set_xlabel('x')
  fixed = results['fixed_generator']
  left.set_title(
    f'max |D - D*| = {fixed["max_abs_error"]:.3f};  V(G, D) = {fixed["value"]:.4f},  '
    f'-log 4 + 2 JSD = {fixed["minus_log_4_plus_2_jsd"]:.4f}',
    fontsize=9,
  )
  left.legend(fontsize=8, loc='upper left')

  norms = results['saturation']['generator_gradient_norm']
  for name, label in (
    ('minimax', 'minimax: log(1 - D(G(z)))'),
    ('non_saturating', 'non-saturating: -log D(G(z))'),
  ):
    right.plot(
      saturation['d_fake'], saturation[name], lw=2, label=f'{label}; |grad G| = {norms[name]:.2g}'
    )
  right.axvline(
    results['saturation']['d_fake'], color='grey', ls=':', label='rejected G: mean D(G(z))'
  )
  right.set_xscale('log')
  right.set_yscale('log')
  right.set_xlabel('D(G(z))')
  right.set_ylabel("|d G's loss / d logit|")
  right.set_title("G's gradient through D (Lima's lecture notes, section 4.2)", fontsize=9)
  right.legend(fontsize=8)
  figure.tight_layout()
  _save_png(figure, path)
