"""Parzen-window (Gaussian kernel density) log-likelihood of held-out data.

Goodfellow et al. 2014, "Generative Adversarial Nets", Table 1: fit an
isotropic Gaussian kernel density estimate to N generated samples s_i and
report the mean log-likelihood of test points x under it,

  log p(x) = logsumexp_i(-||x - s_i||^2 / (2 sigma^2)) - log N - d/2 log(2 pi sigma^2),

with the standard error of the mean across test points, and sigma chosen by
the mean log-likelihood of a validation set.

The MNIST setting (10,000 samples x 10,000 test points x 784 dimensions)
would need a 400 MB distance matrix at once; instead test points are mapped
`batch_size` at a time, and for each block the sum over samples is a running
logsumexp over sample blocks of the same size, so memory is
O(batch_size^2 + (N + M) d).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.metrics import distances

DEFAULT_BATCH_SIZE = 500


@functools.partial(jax.jit, static_argnames='batch_size')
def _log_densities(samples, points, sigma, batch_size):
  num_samples, dim = samples.shape
  # Fewer samples than batch_size would only add padding.
  sample_batch_size = min(batch_size, num_samples)
  num_blocks = -(-num_samples // sample_batch_size)
  padded_size = num_blocks * sample_batch_size
  sample_blocks = jnp.pad(samples, ((0, padded_size - num_samples), (0, 0)))
  sample_blocks = sample_blocks.reshape(num_blocks, sample_batch_size, dim)
  is_padding = (jnp.arange(padded_size) >= num_samples).reshape(num_blocks, sample_batch_size)

  def log_density(point):
    def add_block(log_kernel_sum, block_and_padding):
      block, block_is_padding = block_and_padding
      squared = distances.pairwise_squared_distances(point[None], block)[0]
      log_kernels = jnp.where(block_is_padding, -jnp.inf, -squared / (2.0 * sigma**2))
      return jnp.logaddexp(log_kernel_sum, jax.nn.logsumexp(log_kernels)), None

    empty_sum = jnp.array(-jnp.inf, samples.dtype)
    log_kernel_sum, _ = jax.lax.scan(add_block, empty_sum, (sample_blocks, is_padding))
    return log_kernel_sum

  log_kernel_sums = jax.lax.map(log_density, points, batch_size=batch_size)
  normalizer = jnp.log(num_samples) + 0.5 * dim * jnp.log(2.0 * jnp.pi * sigma**2)
  return log_kernel_sums - normalizer


def parzen_log_density(samples, points, sigma, *, batch_size=DEFAULT_BATCH_SIZE):
  """Log-density of each point under the Gaussian KDE of `samples`.

  Goodfellow et al. 2014, Table 1 (see the module docstring for the formula).

  Args:
    samples: [N, d] generated samples: the kernel centres.
    points: [M, d] points to evaluate (test or validation data).
    sigma: the kernels' standard deviation (> 0).
    batch_size: points per block and samples per block of the running
      logsumexp; bounds memory, any value gives the same result.

  Returns:
    [M] numpy array of log p(x) in nats.
  """
  samples, points = distances.as_point_sets(samples, points, ('samples', 'points'))
  if samples.shape[0] < 1 or points.shape[0] < 1:
    raise ValueError('samples and points need at least one row each.')
  if not sigma > 0:
    raise ValueError(f'sigma must be > 0; got {sigma}.')
  if batch_size < 1:
    raise ValueError(f'batch_size must be >= 1; got {batch_size}.')
  return np.asarray(_log_densities(samples, points, jnp.asarray(sigma, samples.dtype), batch_size))


def parzen_log_likelihood(samples, test, sigma, *, batch_size=DEFAULT_BATCH_SIZE):
  """Mean Parzen-window log-likelihood of `test` and its standard error.

  Goodfellow et al. 2014, Table 1 ("mean log-likelihood of samples on test
  set, with the standard error of the mean computed across examples").

  Args:
    samples: [N, d] generated samples.
    test: [M, d] held-out data, M >= 2.
    sigma: kernel standard deviation, chosen with `select_bandwidth`.
    batch_size: block size of the computation; see `parzen_log_density`.

  Returns:
    (mean, standard_error) as Python floats: the mean of log p(x) over test
    points and std(log p(x)) / sqrt(M) with the sample (ddof=1) std.
  """
  log_densities = parzen_log_density(samples, test, sigma, batch_size=batch_size).astype(np.float64)
  if log_densities.shape[0] < 2:
    raise ValueError('test needs at least 2 points for a standard error.')
  standard_error = log_densities.std(ddof=1) / np.sqrt(log_densities.shape[0])
  return float(log_densities.mean()), float(standard_error)


def select_bandwidth(samples, validation, sigmas, *, batch_size=DEFAULT_BATCH_SIZE):
  """The kernel width with the highest mean validation log-likelihood.

  The bandwidth selection of Goodfellow et al. 2014, Table 1 ("sigma obtained
  by cross validation on the validation set").

  Args:
    samples: [N, d] generated samples.
    validation: [M, d] validation data (not the test set).
    sigmas: 1-D sequence of candidate sigmas (> 0), e.g. np.logspace(-1, 0, 10).
    batch_size: block size of the computation; see `parzen_log_density`.

  Returns:
    (best_sigma, mean_log_likelihoods): best_sigma as a Python float and a
    numpy array with the mean validation log-likelihood of each sigma.
  """
  sigmas = np.asarray(sigmas, dtype=np.float64)
  if sigmas.ndim != 1 or sigmas.size == 0:
    raise ValueError(f'sigmas must be a non-empty 1-D sequence; got shape {sigmas.shape}.')
  mean_log_likelihoods = np.array(
    [
      np.mean(parzen_log_density(samples, validation, sigma, batch_size=batch_size), dtype=float)
      for sigma in sigmas
    ]
  )
  return float(sigmas[np.argmax(mean_log_likelihoods)]), mean_log_likelihoods
