"""Euclidean distances between point sets, blocked to bound memory.

Shared by the nearest-neighbour metrics (`nearest_neighbor`, `precision_recall`)
and the kernel ones (`parzen`, `mmd`). Queries are processed `block_size` rows
at a time against all references, so memory is O(block_size x num_references)
and 10k + 10k points of 784 dimensions fit easily.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.metrics import finite

DEFAULT_BLOCK_SIZE = 256


def check_point_sets(a, b, names: tuple[str, str] = ('real', 'fake')):
  """Checks that a [n, d] and b [m, d] share d and hold only finite values.

  Works on numpy and JAX arrays alike, without copying them to another dtype
  or device.

  Raises:
    ValueError: naming the two sets and their shapes if they do not match.
    errors.NonFiniteError: naming the set and its rows that hold NaN or Inf.
  """
  a_shape, b_shape = np.shape(a), np.shape(b)
  if len(a_shape) != 2 or len(b_shape) != 2 or a_shape[1] != b_shape[1]:
    raise ValueError(
      f'{names[0]} and {names[1]} must be [n, d] with the same d; got {a_shape} and {b_shape}. '
      'Flatten images to vectors, or use features from the same network layer for both.'
    )
  finite.check_finite_rows(a, names[0])
  finite.check_finite_rows(b, names[1])


def as_point_sets(a, b, names: tuple[str, str] = ('real', 'fake')):
  """(a, b) as JAX float arrays, after `check_point_sets` (a [n, d], b [m, d])."""
  # Checked as given, so that a host array is checked on the host.
  check_point_sets(a, b, names)
  return jnp.asarray(a, dtype=float), jnp.asarray(b, dtype=float)


def pairwise_squared_distances(a, b):
  """Squared Euclidean distances ||a_i - b_j||^2.

  Args:
    a: [n, d] points.
    b: [m, d] points.

  Returns:
    [n, m] squared distances.
  """
  # ||a||^2 + ||b||^2 - 2 a.b turns the work into one matrix product instead
  # of an [n, m, d] difference tensor. HIGHEST precision because accelerators
  # otherwise multiply float32 in bf16/tf32, which ruins distances between
  # nearby points. Rounding can push the expansion slightly below zero.
  cross = jnp.matmul(a, b.T, precision=jax.lax.Precision.HIGHEST)
  squared = jnp.sum(a * a, axis=1)[:, None] + jnp.sum(b * b, axis=1)[None, :]
  return jnp.maximum(squared - 2.0 * cross, 0.0)


def distances_to_others(point, index, points):
  """[n] squared distances from points[index] to all points, itself at +inf."""
  distances = pairwise_squared_distances(point[None], points)[0]
  # Mask by index, not by zero distance, so exact duplicates still count as
  # neighbours of each other.
  return jnp.where(jnp.arange(points.shape[0]) == index, jnp.inf, distances)


@functools.partial(jax.jit, static_argnames=('k', 'block_size'))
def _kth_neighbor_squared_distances(points, k, block_size):
  def kth_smallest(point_and_index):
    negated_nearest, _ = jax.lax.top_k(-distances_to_others(*point_and_index, points), k)
    return -negated_nearest[k - 1]

  indices = jnp.arange(points.shape[0])
  return jax.lax.map(kth_smallest, (points, indices), batch_size=block_size)


def kth_neighbor_squared_distances(points, k, *, block_size=DEFAULT_BLOCK_SIZE):
  """Squared distance from each point to its k-th nearest other point.

  This is the squared radius of the smallest ball around each point that holds
  k other points of the set: the k-NN manifold estimate of Kynkaanniemi et al.
  2019 and Naeem et al. 2020 (their NND_k).

  Args:
    points: [n, d] array with n > k.
    k: which neighbour, counting from 1 and excluding the point itself.
    block_size: query rows processed together; bounds memory to
      O(block_size x n).

  Returns:
    [n] numpy array of squared distances.
  """
  if np.ndim(points) != 2:
    raise ValueError(f'points must be [n, d]; got shape {np.shape(points)}.')
  finite.check_finite_rows(points, 'points')
  points = jnp.asarray(points, dtype=float)
  if not 1 <= k < points.shape[0]:
    raise ValueError(
      f'k={k} needs 1 <= k < number of points ({points.shape[0]}); lower k or pass more points.'
    )
  return np.asarray(_kth_neighbor_squared_distances(points, k, block_size))
