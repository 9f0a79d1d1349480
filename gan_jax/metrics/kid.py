"""Kernel Inception Distance (KID).

Binkowski et al. 2018, "Demystifying MMD GANs": the unbiased MMD^2 (Gretton
et al. 2012, Eq. 3, as in `mmd`) between real and generated features under
the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random
subsets. Unlike FID it has an unbiased estimator, so its mean is ~0 for two
samples of one distribution whatever the sample size; the spread over subsets
gives a standard deviation.

The protocol is torch-fidelity's: subset pairs drawn without replacement by
numpy's legacy `RandomState(seed)`, real then fake for each subset (seed 2020
draws torch-fidelity's subsets), and a subset size above either set's size is
an error rather than clipped. Each subset's MMD^2 is computed in float64 numpy:
kernel values of order (||x||^2 / d + 1)^3 nearly cancel in the estimate, and
float32 left 1e-4 to 3e-3 relative error on Inception features. Measured on 2
CPU cores, a 1000 x 2048 subset pair takes 0.23 s in float64 numpy, 0.13 s in
float32 JAX and 0.33 s in float64 JAX: 100 subsets cost 23 s instead of 13 s.
"""

import numpy as np

from gan_jax.metrics import distances


def _cubic_kernel(a, b):
  """k(a, b) = (a.b / d + 1)^3 in float64: a [n, d], b [m, d] -> [n, m]."""
  return (a @ b.T / a.shape[1] + 1.0) ** 3


def unbiased_cubic_mmd2(x, y):
  """Unbiased MMD^2 of x [m, d] and y [n, d] under KID's cubic kernel, in float64.

  Gretton et al. 2012, Eq. 3: the within-set means skip the i == j terms,
  the cross mean keeps every pair. m, n >= 2.

  Returns:
    MMD^2 as a Python float.
  """
  x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
  m, n = len(x), len(y)
  k_xx, k_yy = _cubic_kernel(x, x), _cubic_kernel(y, y)
  within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
  within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
  return float(within_x + within_y - 2.0 * _cubic_kernel(x, y).mean())


def _check_subsets(num_real, num_fake, num_subsets, subset_size):
  if num_subsets < 1:
    raise ValueError(f'num_subsets must be >= 1; got {num_subsets}.')
  if subset_size < 2:
    raise ValueError(
      f'KID needs subsets of at least 2 points; got subset_size={subset_size}; pass 2 or more.'
    )
  if subset_size > min(num_real, num_fake):
    raise ValueError(
      f'KID subset_size={subset_size} exceeds the {num_real} real or {num_fake} fake points; '
      f'pass subset_size <= {min(num_real, num_fake)} or score more samples.'
    )


def kernel_inception_distance(real, fake, num_subsets=100, subset_size=1000, *, seed=0):
  """KID (Binkowski et al. 2018): unbiased cubic-kernel MMD^2 over subsets, in float64.

  Args:
    real: [N_real, d] features of real data (e.g. Inception pool3), numpy or JAX.
    fake: [N_fake, d] features of generated data, same layer.
    num_subsets: number of random subset pairs averaged over.
    subset_size: points per subset, drawn without replacement from each set;
      2 <= subset_size <= min(N_real, N_fake), else a ValueError (as
      torch-fidelity). A caller with fewer samples passes min(1000, N) and
      records it: with subset_size == N_real == N_fake every subset is the
      whole set, so the one MMD^2 is computed once and std is 0; with
      subset_size equal to one set's size the std reflects the other set's
      subsets only.
    seed: seed of numpy's RandomState that draws the subsets; 2020 draws
      those of torch-fidelity.

  Returns:
    (mean, std) of the per-subset MMD^2 values as Python floats (std with
    ddof=0, as torch-fidelity).

  Raises:
    ValueError: for mismatched shapes or a subset size out of range.
    errors.NonFiniteError: if real or fake holds NaN or Inf.
  """
  distances.check_point_sets(real, fake)
  num_real, num_fake = np.shape(real)[0], np.shape(fake)[0]
  _check_subsets(num_real, num_fake, num_subsets, subset_size)
  real, fake = np.asarray(real), np.asarray(fake)
  if subset_size == num_real == num_fake:
    # Every subset pair is the two whole sets, and MMD^2 ignores their order.
    return unbiased_cubic_mmd2(real, fake), 0.0
  rng = np.random.RandomState(seed)
  values = []
  for _ in range(num_subsets):
    real_indices = rng.choice(num_real, subset_size, replace=False)
    fake_indices = rng.choice(num_fake, subset_size, replace=False)
    values.append(unbiased_cubic_mmd2(real[real_indices], fake[fake_indices]))
  return float(np.mean(values)), float(np.std(values))
