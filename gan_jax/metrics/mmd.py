"""Squared maximum mean discrepancy (MMD^2) between two samples.

Gretton et al. 2012, "A kernel two-sample test", Eq. 3 (unbiased U-statistic)
and Eq. 5 (biased V-statistic): with kernel k, x ~ P (m points), y ~ Q (n),

  MMD^2_u = sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (n (n - 1))
            - 2 sum_{i, j} k(x_i, y_j) / (m n),
  MMD^2_b = mean k(x, x') + mean k(y, y') - 2 mean k(x, y).

The unbiased estimate averages to 0 when P = Q and can be slightly negative.
The three kernel matrices are formed in full, so memory is O((m + n)^2);
for large feature sets use `kid`, which averages over subsets. JAX computes
in float32, whose rounding of large kernel values that nearly cancel costs
1e-4 to 1e-3 of relative error on Inception features; `kid` computes in
float64.
"""

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import errors
from gan_jax.metrics import distances


def gaussian_kernel(a, b, bandwidth):
  """k(a, b) = exp(-||a - b||^2 / (2 bandwidth^2)): a [n, d], b [m, d] -> [n, m]."""
  return jnp.exp(-distances.pairwise_squared_distances(a, b) / (2.0 * bandwidth**2))


def polynomial_kernel(a, b, bandwidth):
  """k(a, b) = (a.b / bandwidth + 1)^3: a [n, d], b [m, d] -> [n, m].

  With bandwidth = d this is the kernel of KID (Binkowski et al. 2018).
  """
  inner = jnp.matmul(a, b.T, precision=jax.lax.Precision.HIGHEST)
  return (inner / bandwidth + 1.0) ** 3


@jax.jit
def median_pairwise_distance(x, y):
  """The median heuristic: median ||z_i - z_j|| over pairs i < j of z = [x; y].

  Gretton et al. 2012, Sec. 8. Pairs i < j are every off-diagonal pair once,
  since the distance matrix is symmetric.

  Args:
    x: [m, d] points.
    y: [n, d] points.

  Returns:
    Scalar array. Forms all (m + n)^2 distances.
  """
  pooled = jnp.concatenate([x, y])
  rows, cols = np.triu_indices(pooled.shape[0], k=1)
  squared = distances.pairwise_squared_distances(pooled, pooled)[rows, cols]
  return jnp.median(jnp.sqrt(squared))


def feature_dimension(x, y):
  """d, the polynomial kernel's default scale (KID's choice); y is unused."""
  del y
  return x.shape[1]


class Kernel(NamedTuple):
  """A kernel k(a [n, d], b [m, d], bandwidth) -> [n, m] and its default bandwidth(x, y)."""

  function: Callable
  default_bandwidth: Callable


KERNELS = {
  'gaussian': Kernel(gaussian_kernel, median_pairwise_distance),
  'polynomial': Kernel(polynomial_kernel, feature_dimension),
}


def mmd2_estimate(kernel_function, x, y, unbiased):
  """MMD^2 of x [m, d] and y [n, d] under kernel_function(a, b) -> [|a|, |b|].

  The traceable core of `mmd2` (Gretton et al. 2012, Eqs. 3 and 5), to
  use inside jitted code. Returns a scalar array.
  """
  k_xx, k_yy, k_xy = kernel_function(x, x), kernel_function(y, y), kernel_function(x, y)
  if unbiased:
    m, n = x.shape[0], y.shape[0]
    # U-statistic: drop the i == j terms, which are biased upwards.
    within_x = (jnp.sum(k_xx) - jnp.trace(k_xx)) / (m * (m - 1))
    within_y = (jnp.sum(k_yy) - jnp.trace(k_yy)) / (n * (n - 1))
  else:
    within_x, within_y = jnp.mean(k_xx), jnp.mean(k_yy)
  return within_x + within_y - 2.0 * jnp.mean(k_xy)


@functools.partial(jax.jit, static_argnames=('kernel', 'unbiased'))
def _mmd2(x, y, bandwidth, kernel, unbiased):
  kernel_function = functools.partial(KERNELS[kernel].function, bandwidth=bandwidth)
  return mmd2_estimate(kernel_function, x, y, unbiased)


def mmd2(x, y, kernel='gaussian', bandwidth=None, unbiased=True):
  """Squared maximum mean discrepancy between two samples (Gretton et al. 2012).

  Args:
    x: [m, d] samples of P (m >= 2 when unbiased).
    y: [n, d] samples of Q (n >= 2 when unbiased).
    kernel: a name in KERNELS: 'gaussian' exp(-||a - b||^2 / (2 bw^2)) or
      'polynomial' (a.b / bw + 1)^3.
    bandwidth: the Gaussian's width, or the polynomial's inner-product scale.
      None picks the kernel's default: the median heuristic
      (`median_pairwise_distance`) for 'gaussian', d for 'polynomial'.
    unbiased: the U-statistic (Eq. 3) if True, else the V-statistic (Eq. 5).

  Returns:
    MMD^2 as a Python float (the unbiased estimate may be slightly negative).
  """
  if kernel not in KERNELS:
    raise errors.unknown_name_error('kernel', kernel, KERNELS)
  x, y = distances.as_point_sets(x, y, ('x', 'y'))
  smallest = 2 if unbiased else 1
  if min(x.shape[0], y.shape[0]) < smallest:
    raise ValueError(
      f'x and y need at least {smallest} points each for this estimator; '
      f'got {x.shape[0]} and {y.shape[0]}.'
    )
  if bandwidth is None:
    bandwidth = float(KERNELS[kernel].default_bandwidth(x, y))
    if bandwidth == 0:
      raise ValueError('all points coincide, so the median heuristic gives 0; pass bandwidth.')
  if not bandwidth > 0:
    raise ValueError(f'bandwidth must be > 0; got {bandwidth}.')
  return float(_mmd2(x, y, bandwidth, kernel=kernel, unbiased=unbiased))
