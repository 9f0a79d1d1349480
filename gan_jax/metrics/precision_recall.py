"""Fidelity and diversity from k-nearest-neighbour balls around samples.

Each set's support is estimated as the union of balls B(x_i, NND_k(x_i)),
where NND_k is the distance to the k-th nearest other point of the same set.

Improved precision and recall (Kynkaanniemi et al. 2019, "Improved precision
and recall metric for assessing generative models", Eqs. 1-2, k = 3):
  precision = fraction of fake points inside the real support,
  recall    = fraction of real points inside the fake support.

Density and coverage (Naeem et al. 2020, "Reliable fidelity and diversity
metrics for generative models", k = 5) count real balls only, which
makes them robust to outlying fake points:
  density  = (1 / (k M)) sum_j #{i : fake_j in B(real_i, NND_k(real_i))},
  coverage = fraction of real balls that hold at least one fake point.

For two samples of one distribution density averages 1 and coverage
1 - prod_{i=1}^{k} (N - i) / (M + N - i) (about 1 - 2^-k when M = N), the
expectations derived by Naeem et al.

Ball boundaries follow each metric's authors' code, which matters when
distances tie exactly (duplicated or quantized points): precision and recall
use closed balls (distance <= radius), as NVlabs' improved-precision-recall
code; density and coverage open ones (distance < radius), as Naeem et al.'s
`prdc` package. `prdc` also uses open balls for precision and recall, so on
data with ties its precision and recall can be lower than these. Distances
are blocked over query rows (`distances`).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.metrics import distances


@functools.partial(jax.jit, static_argnames=('closed', 'block_size'))
def _balls_containing(points, centers, squared_radii, closed, block_size):
  """[n] number of balls (centers [m, d], squared_radii [m]) holding each of points [n, d].

  closed: count points on a ball's boundary as inside (<=) if True, else not (<).
  """

  def count(point):
    squared = distances.pairwise_squared_distances(point[None], centers)[0]
    inside = squared <= squared_radii if closed else squared < squared_radii
    return jnp.sum(inside)

  return jax.lax.map(count, points, batch_size=block_size)


@functools.partial(jax.jit, static_argnames='block_size')
def _ball_is_occupied(centers, squared_radii, points, block_size):
  """[m] whether each open ball (centers [m, d], squared_radii [m]) holds any of points [n, d]."""

  def occupied(center_and_squared_radius):
    center, squared_radius = center_and_squared_radius
    squared = distances.pairwise_squared_distances(center[None], points)[0]
    return jnp.min(squared) < squared_radius

  return jax.lax.map(occupied, (centers, squared_radii), batch_size=block_size)


def _as_feature_pair(real, fake, k):
  real, fake = distances.as_point_sets(real, fake)
  if fake.shape[0] < 1:
    raise ValueError('fake needs at least one point.')
  if k < 1:
    raise ValueError(f'k must be >= 1; got {k}.')
  return real, fake


def precision_recall(real, fake, k=3, *, block_size=distances.DEFAULT_BLOCK_SIZE):
  """Improved precision and recall (Kynkaanniemi et al. 2019, Eqs. 1-2), closed balls.

  Args:
    real: [N, d] real features, N > k.
    fake: [M, d] generated features, M > k.
    k: the neighbour whose distance sets each ball's radius.
    block_size: query rows processed together; bounds memory to
      O(block_size x max(N, M)).

  Returns:
    (precision, recall) as Python floats in [0, 1].
  """
  real, fake = _as_feature_pair(real, fake, k)
  real_radii = distances.kth_neighbor_squared_distances(real, k, block_size=block_size)
  fake_radii = distances.kth_neighbor_squared_distances(fake, k, block_size=block_size)
  fake_in_real = np.asarray(
    _balls_containing(fake, real, real_radii, closed=True, block_size=block_size)
  )
  real_in_fake = np.asarray(
    _balls_containing(real, fake, fake_radii, closed=True, block_size=block_size)
  )
  return float(np.mean(fake_in_real > 0)), float(np.mean(real_in_fake > 0))


def density_coverage(real, fake, k=5, *, block_size=distances.DEFAULT_BLOCK_SIZE):
  """Density and coverage (Naeem et al. 2020), open balls as their `prdc` code.

  Args:
    real: [N, d] real features, N > k.
    fake: [M, d] generated features.
    k: the neighbour whose distance sets each real ball's radius.
    block_size: query rows processed together; bounds memory to
      O(block_size x max(N, M)).

  Returns:
    (density, coverage) as Python floats; coverage is in [0, 1], density is
    >= 0 and can exceed 1 when fake points crowd dense real regions.
  """
  real, fake = _as_feature_pair(real, fake, k)
  real_radii = distances.kth_neighbor_squared_distances(real, k, block_size=block_size)
  fake_in_real = np.asarray(
    _balls_containing(fake, real, real_radii, closed=False, block_size=block_size)
  )
  occupied = np.asarray(_ball_is_occupied(real, real_radii, fake, block_size))
  return float(np.sum(fake_in_real) / (k * fake.shape[0])), float(np.mean(occupied))
