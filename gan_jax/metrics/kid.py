"""Kernel Inception Distance (KID).

Binkowski et al. 2018, "Demystifying MMD GANs": the unbiased MMD^2
(`mmd.mmd2_estimate`) between real and generated features under the cubic
polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets.
Unlike FID it has an unbiased estimator, so its mean is ~0 for two samples of
one distribution whatever the sample size; the spread over subsets gives a
standard deviation.
"""

import functools

import jax
import numpy as np

from gan_jax.metrics import distances
from gan_jax.metrics import mmd


@jax.jit
def _subset_mmd2s(real, fake, real_subsets, fake_subsets):
  kernel_function = functools.partial(mmd.polynomial_kernel, bandwidth=real.shape[1])

  def subset_mmd2(subset_indices):
    real_indices, fake_indices = subset_indices
    return mmd.mmd2_estimate(kernel_function, real[real_indices], fake[fake_indices], unbiased=True)

  return jax.lax.map(subset_mmd2, (real_subsets, fake_subsets))


def kernel_inception_distance(real, fake, num_subsets=100, subset_size=1000, *, seed=0):
  """KID (Binkowski et al. 2018): unbiased polynomial-kernel MMD^2 over subsets.

  Args:
    real: [N_real, d] features of real data (e.g. Inception pool3).
    fake: [N_fake, d] features of generated data, same layer.
    num_subsets: number of random subset pairs averaged over.
    subset_size: points per subset, drawn without replacement from each set;
      clipped to min(N_real, N_fake), which must be >= 2.
    seed: seed of the subset draws, so a result can be reproduced.

  Returns:
    (mean, std) of the per-subset MMD^2 values as Python floats.
  """
  real, fake = distances.as_point_sets(real, fake)
  subset_size = min(subset_size, real.shape[0], fake.shape[0])
  if subset_size < 2:
    raise ValueError(
      f'KID needs subsets of at least 2 points; got subset_size={subset_size} '
      f'with {real.shape[0]} real and {fake.shape[0]} fake points.'
    )
  if num_subsets < 1:
    raise ValueError(f'num_subsets must be >= 1; got {num_subsets}.')
  rng = np.random.default_rng(seed)
  real_subsets = np.stack(
    [rng.choice(real.shape[0], subset_size, replace=False) for _ in range(num_subsets)]
  )
  fake_subsets = np.stack(
    [rng.choice(fake.shape[0], subset_size, replace=False) for _ in range(num_subsets)]
  )
  values = np.asarray(_subset_mmd2s(real, fake, real_subsets, fake_subsets), dtype=np.float64)
  return float(values.mean()), float(values.std())
