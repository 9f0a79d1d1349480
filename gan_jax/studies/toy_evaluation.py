"""What a toy study measures: G and D on fixed inputs, and statistics of samples.

After every chunk of steps the toy loop (`toy_train`) evaluates G and D on
fixed inputs (G's samples from fixed noise, D on a grid and on fixed real
samples) for the curves, and summarises samples by the mass near each mode of
the toy distribution (`toy_data`).
"""

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import sampling
from gan_jax import step
from gan_jax.state import GANState
from gan_jax.studies import toy_data

# Points of the grid on which D is evaluated: per axis in 2-D.
_GRID_POINTS_1D, _GRID_POINTS_2D = 400, 100


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


def make_evaluate(gan: step.GAN, noise, real, grid) -> Callable[[GANState], Evaluation]:
  """`evaluate(state) -> Evaluation`: G (its EMA if any) and D in evaluation mode.

  Args:
    gan: from `assembly.build`.
    noise: [num_eval_samples, latent_dim], G's fixed input.
    real: [num_eval_samples, d], fixed real samples.
    grid: [points, d], where D is drawn (`evaluation_grid`).
  """
  generator, discriminator = gan.generator, gan.discriminator

  @jax.jit
  def outputs(state: GANState, noise, real, grid):
    samples = sampling.generate(generator, state.sampling_generator(), noise)
    logits = lambda x: discriminator.apply(state.discriminator.variables(), x, train=False).logits
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
  high-quality fraction and the modes covered (`gan_jax.studies.toy_data`).
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


def generator_scalars(distribution: toy_data.GaussianMixture, samples: np.ndarray):
  """The scalar `sample_statistics` of G's samples, named generator_<name>, for the history."""
  statistics = sample_statistics(distribution, samples)
  return {f'generator_{k}': float(v) for k, v in statistics.items() if not isinstance(v, list)}
