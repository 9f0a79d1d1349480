"""Toy data with known densities: mixtures of isotropic Gaussians in 1-D and 2-D.

Every toy distribution is an equal-weight mixture of isotropic Gaussians
N(mu_i, sigma_i^2 I), i = 1..M, in d dimensions:

  p(x) = 1/M sum_i N(x; mu_i, sigma_i^2 I).

That covers the 1-D data of Strakhov's blog post (2018) (one Gaussian; two Gaussians, for mode
averaging and mode collapse) and the standard 2-D mode-coverage benchmarks: 8
Gaussians on a ring (Metz et al. 2017) and 25 on a 5 x 5 grid (Srivastava et al.
2017). Because the density is exact, the optimal discriminator
D*(x) = p_data / (p_data + p_g) can be computed (`gan_jax.studies.theory`), and
generated samples can be scored against the modes:

  mass_near_modes       the fraction of samples within 3 sigma_i of mode i,
                        counting each sample at its nearest mode only;
  high_quality_fraction the sum of those: samples within 3 sigma of a mode;
  modes_covered         the modes holding at least 20 of every 2,500 samples
                        (0.8%), the rule of Lin et al. 2018 (PacGAN).

Sampling is a JAX function of a key (it runs on device, inside the jitted
loop); densities and metrics are float64 NumPy on the host.
"""

import dataclasses
import math
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from scipy import special

from gan_jax import errors

# A sample is high quality within this many standard deviations of its mode.
HIGH_QUALITY_STDS = 3.0
# A mode is covered when it holds this fraction of the samples: 20 of 2,500.
COVERED_MODE_FRACTION = 20 / 2500


@dataclasses.dataclass(frozen=True)
class GaussianMixture:
  """An equal-weight mixture of isotropic Gaussians.

  Attributes:
    means: M modes, each a tuple of d coordinates.
    stds: M standard deviations, one per mode (the same in every coordinate).
  """

  means: tuple[tuple[float, ...], ...]
  stds: tuple[float, ...]

  def __post_init__(self):
    if not self.means or len(self.means) != len(self.stds):
      raise errors.ConfigError(
        f'A Gaussian mixture needs one std per mean, got {len(self.means)} means and '
        f'{len(self.stds)} stds.'
      )
    if len({len(mean) for mean in self.means}) != 1:
      raise errors.ConfigError(f'The means {self.means} have different dimensions.')
    if min(self.stds) <= 0:
      raise errors.ConfigError(f'Standard deviations must be positive, got {self.stds}.')

  @property
  def num_modes(self) -> int:
    return len(self.means)

  @property
  def dim(self) -> int:
    return len(self.means[0])

  def sample(self, rng: jax.Array, num_samples: int) -> jax.Array:
    """Draws [num_samples, d] float32: a uniform mode index, then that mode's Gaussian."""
    mode_rng, noise_rng = jax.random.split(rng)
    modes = jax.random.randint(mode_rng, (num_samples,), 0, self.num_modes)
    noise = jax.random.normal(noise_rng, (num_samples, self.dim))
    means = jnp.asarray(self.means, jnp.float32)
    stds = jnp.asarray(self.stds, jnp.float32)
    return means[modes] + stds[modes, None] * noise

  def log_density(self, x: np.ndarray) -> np.ndarray:
    """log p(x) for x [n, d], float64 [n]."""
    x = np.asarray(x, np.float64).reshape(-1, self.dim)
    means, stds = np.asarray(self.means, np.float64), np.asarray(self.stds, np.float64)
    squared = np.sum(np.square(x[:, None, :] - means[None]), axis=-1)  # [n, M]
    log_components = -0.5 * squared / stds**2 - self.dim * np.log(np.sqrt(2 * np.pi) * stds)
    return special.logsumexp(log_components, axis=-1) - np.log(self.num_modes)

  def density(self, x: np.ndarray) -> np.ndarray:
    """p(x) for x [n, d], float64 [n]."""
    return np.exp(self.log_density(x))

  def mean(self) -> np.ndarray:
    """E[x], [d]: the average of the modes."""
    return np.mean(np.asarray(self.means, np.float64), axis=0)

  def std(self) -> np.ndarray:
    """The standard deviation of each coordinate, [d].

    Var[x] = E_i[sigma_i^2 + mu_i^2] - E[x]^2 (law of total variance).
    """
    means, stds = np.asarray(self.means, np.float64), np.asarray(self.stds, np.float64)
    second_moment = np.mean(stds[:, None] ** 2 + means**2, axis=0)
    return np.sqrt(second_moment - self.mean() ** 2)


def _gaussian_mixture_1d(config: ml_collections.ConfigDict) -> GaussianMixture:
  return GaussianMixture(tuple((float(m),) for m in config.means), tuple(map(float, config.stds)))


def _ring_2d(config: ml_collections.ConfigDict) -> GaussianMixture:
  angles = [2 * math.pi * i / config.num_modes for i in range(config.num_modes)]
  means = tuple((config.radius * math.cos(a), config.radius * math.sin(a)) for a in angles)
  return GaussianMixture(means, (config.std,) * config.num_modes)


def _grid_2d(config: ml_collections.ConfigDict) -> GaussianMixture:
  side = config.modes_per_side
  coordinates = [config.spacing * (i - (side - 1) / 2) for i in range(side)]
  means = tuple((x, y) for x in coordinates for y in coordinates)
  return GaussianMixture(means, (config.std,) * side**2)


# Each reads only its own fields of the config's `data` section:
#   gaussian_mixture_1d: means (M floats), stds (M floats);
#   ring_2d: num_modes, radius, std (modes evenly spaced on a circle);
#   grid_2d: modes_per_side, spacing, std (a square grid centred at 0).
DISTRIBUTIONS: dict[str, Callable[[ml_collections.ConfigDict], GaussianMixture]] = {
  'gaussian_mixture_1d': _gaussian_mixture_1d,
  'grid_2d': _grid_2d,
  'ring_2d': _ring_2d,
}


def get_distribution(config: ml_collections.ConfigDict) -> GaussianMixture:
  """The distribution described by a toy config's `data` section.

  Raises:
    ConfigError: for an unknown name or inconsistent means and stds.
  """
  if config.name not in DISTRIBUTIONS:
    raise errors.unknown_name_error('toy distribution', config.name, DISTRIBUTIONS)
  return DISTRIBUTIONS[config.name](config)


def _nearest_modes(mixture: GaussianMixture, samples: np.ndarray):
  """(index of the nearest mode [n], whether within HIGH_QUALITY_STDS of it [n])."""
  samples = np.asarray(samples, np.float64).reshape(-1, mixture.dim)
  means, stds = np.asarray(mixture.means), np.asarray(mixture.stds)
  distances = np.linalg.norm(samples[:, None, :] - means[None], axis=-1)  # [n, M]
  nearest = np.argmin(distances, axis=-1)
  within = distances[np.arange(len(samples)), nearest] <= HIGH_QUALITY_STDS * stds[nearest]
  return nearest, within


def mass_near_modes(mixture: GaussianMixture, samples: np.ndarray) -> np.ndarray:
  """The fraction of `samples` [n, d] within 3 sigma_i of mode i, [M].

  Each sample counts at its nearest mode only, so the fractions sum to the
  high-quality fraction (at most 1). For the data itself each entry is
  1/M * P(|N(0, 1)| <= 3) = 0.9973 / M in 1-D, 0.9889 / M in 2-D (for
  well-separated modes).
  """
  nearest, within = _nearest_modes(mixture, samples)
  return np.bincount(nearest[within], minlength=mixture.num_modes) / len(nearest)


def high_quality_fraction(mixture: GaussianMixture, samples: np.ndarray) -> float:
  """The fraction of `samples` [n, d] within 3 standard deviations of a mode."""
  return float(np.sum(mass_near_modes(mixture, samples)))


def modes_covered(mixture: GaussianMixture, samples: np.ndarray) -> int:
  """The number of modes holding at least 0.8% of `samples` [n, d] within 3 sigma."""
  return int(np.sum(mass_near_modes(mixture, samples) >= COVERED_MODE_FRACTION))
