"""Frechet distance between Gaussians fitted to features (FID).

Heusel et al. 2017, "GANs trained by a two time-scale update rule converge to
a local Nash equilibrium", Eq. 6:

  d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2}).

The trace of the matrix square root is computed without ever forming
(S1 S2)^{1/2}: S1 S2 is similar to the symmetric PSD matrix
S1^{1/2} S2 S1^{1/2}, so Tr((S1 S2)^{1/2}) is the sum of the square roots of
the latter's eigenvalues. Unlike a general `sqrtm`, symmetric eigensolvers
never return imaginary parts, and they stay exact for singular covariances
(fewer samples than feature dimensions) once the eigenvalues below the
matrix's numerical rank threshold, rounding noise of either sign, are taken
as the zeros they are (`_nonzero_part`).

Everything runs in float64 numpy: for close distributions the trace terms are
large and nearly cancel, which loses every significant digit in float32 at
d = 2048, and JAX computes in float32 unless x64 is enabled globally. The
work is one or two d x d eigendecompositions per evaluation, so the host CPU
is the right place for it.

FID is biased upwards, more so for fewer samples (Chong & Forsyth 2020,
"Effectively unbiased FID and Inception Score and where to find them"):
`fid_from_features` logs a warning below 10 samples, or fewer samples than
feature dimensions, where each covariance is singular. Heusel et al. 2017
recommend at least 10,000 samples; papers use 10,000 or 50,000.
"""

from typing import Optional

import numpy as np
from absl import logging

from gan_jax.metrics import finite

# Below this many samples FID's statistics are mostly noise, whatever d.
FEW_SAMPLES = 10


def _check_statistics(mu, sigma, name):
  if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
    raise ValueError(
      f'{name}: mu must be [d] and sigma [d, d]; got {mu.shape} and {sigma.shape}. '
      'Compute them with feature_statistics(features).'
    )
  finite.check_finite_rows(mu, f'{name} mu')
  finite.check_finite_rows(sigma, f'{name} sigma')


def _nonzero_part(eigenvalues):
  """`eigenvalues` of a symmetric PSD matrix with those below its numerical rank
  threshold set to 0.

  With fewer samples than dimensions a covariance is singular, and an
  eigensolver returns its zero eigenvalues as rounding noise of order
  lambda_max * d * eps, of either sign; their square roots, summed over
  thousands of them, would add 1e-5 of relative error (and make the FID of a
  set with itself about -2e-4). The threshold is numpy's `matrix_rank`'s.
  """
  threshold = np.max(np.abs(eigenvalues), initial=0.0) * len(eigenvalues) * np.finfo(np.float64).eps
  return np.where(eigenvalues > threshold, eigenvalues, 0.0)


def _psd_sqrt(matrix):
  """Symmetric square root of a symmetric PSD matrix [d, d]."""
  eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
  return (eigenvectors * np.sqrt(_nonzero_part(eigenvalues))) @ eigenvectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2):
  """Squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2).

  Heusel et al. 2017, Eq. 6 (see the module docstring for the method).

  Args:
    mu1: [d] mean of the first Gaussian.
    sigma1: [d, d] covariance of the first Gaussian (PSD, may be singular).
    mu2: [d] mean of the second Gaussian.
    sigma2: [d, d] covariance of the second Gaussian.

  Returns:
    The distance as a Python float, >= 0.
  """
  mu1, sigma1, mu2, sigma2 = (np.asarray(a, dtype=np.float64) for a in (mu1, sigma1, mu2, sigma2))
  _check_statistics(mu1, sigma1, 'first Gaussian')
  _check_statistics(mu2, sigma2, 'second Gaussian')
  if mu1.shape != mu2.shape:
    raise ValueError(
      f'the Gaussians have different dimensions: {mu1.shape[0]} and {mu2.shape[0]}; '
      'use features from the same network layer for both.'
    )
  sqrt_sigma1 = _psd_sqrt(sigma1)
  similar_to_product = sqrt_sigma1 @ sigma2 @ sqrt_sigma1
  eigenvalues = np.linalg.eigvalsh((similar_to_product + similar_to_product.T) / 2)
  trace_sqrt_product = np.sum(np.sqrt(_nonzero_part(eigenvalues)))
  distance = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product
  # A squared distance: anything below zero is rounding of equal statistics.
  return float(max(distance, 0.0))


def _statistics(features, what):
  features = np.asarray(features, dtype=np.float64)
  if features.ndim != 2 or features.shape[0] < 2:
    raise ValueError(
      f'{what} must be [N, d] with N >= 2; got shape {features.shape}. '
      'Flatten activations to one vector per sample.'
    )
  finite.check_finite_rows(features, what)
  # atleast_2d: np.cov returns a 0-d array for one feature.
  return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))


def feature_statistics(features):
  """Mean and covariance of features, as FID compares them.

  Args:
    features: [N, d] activations (e.g. Inception pool3, d = 2048), N >= 2.

  Returns:
    (mu [d], sigma [d, d]) float64 numpy arrays; sigma is the unbiased
    (N - 1) sample covariance.

  Raises:
    ValueError: for a shape other than [N >= 2, d].
    errors.NonFiniteError: if features holds NaN or Inf.
  """
  return _statistics(features, 'features')


def sample_size_warning(what, num_samples, sigma) -> Optional[str]:
  """Why FID from `num_samples` feature vectors is unreliable, or None if it is not.

  With N < d samples the covariance sigma [d, d] has rank <= N - 1, and FID
  is biased upwards (Chong & Forsyth 2020): the squared distance of two
  independent sample means overestimates ||mu1 - mu2||^2 by
  tr(sigma1) / N1 + tr(sigma2) / N2 in expectation, this set's share being
  tr(sigma) / N, and the trace term typically adds more.

  Args:
    what: the set's name in the message, e.g. 'fake'.
    num_samples: N, the number of feature vectors behind sigma.
    sigma: [d, d] their covariance.

  Returns:
    A one-sentence message, or None for N >= max(d, FEW_SAMPLES).
  """
  dimension = sigma.shape[0]
  if num_samples >= max(dimension, FEW_SAMPLES):
    return None
  mean_bias = np.trace(sigma) / num_samples
  problem = (
    'its statistics are mostly noise'
    if num_samples < FEW_SAMPLES
    else f'its covariance is singular (rank <= {num_samples - 1})'
  )
  return (
    f'{what} set of {num_samples} samples in {dimension} dimensions: {problem}, and FID is '
    f'biased upwards, by tr(sigma) / N = {mean_bias:.4g} from its mean alone and '
    'typically more from the covariance'
  )


def fid_from_features(real, fake):
  """FID between two sets of features.

  Logs one warning if either set has fewer than FEW_SAMPLES samples or fewer
  samples than dimensions (`sample_size_warning`).

  Args:
    real: [N_real, d] features of real data.
    fake: [N_fake, d] features of generated data (same network layer).

  Returns:
    frechet_distance of the two sets' feature_statistics, a Python float.

  Raises:
    ValueError: for mismatched shapes or fewer than 2 samples.
    errors.NonFiniteError: if real or fake holds NaN or Inf.
  """
  if np.ndim(real) != 2 or np.ndim(fake) != 2 or np.shape(real)[1] != np.shape(fake)[1]:
    raise ValueError(
      f'real and fake must be [N, d] with the same d; got {np.shape(real)} and '
      f'{np.shape(fake)}. Use features from the same network layer for both.'
    )
  real_mu, real_sigma = _statistics(real, 'real')
  fake_mu, fake_sigma = _statistics(fake, 'fake')
  warnings = [
    warning
    for warning in (
      sample_size_warning('real', len(real), real_sigma),
      sample_size_warning('fake', len(fake), fake_sigma),
    )
    if warning
  ]
  if warnings:
    logging.warning(
      'FID: %s; use N >= d samples, e.g. 10,000 or 50,000 as papers do.', '; '.join(warnings)
    )
  return frechet_distance(real_mu, real_sigma, fake_mu, fake_sigma)


def save_statistics(path, mu, sigma):
  """Writes reference statistics to an .npz file, to skip recomputing them.

  Args:
    path: file path; written exactly as given (no '.npz' is appended).
    mu: [d] feature mean.
    sigma: [d, d] feature covariance.
  """
  mu, sigma = np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
  _check_statistics(mu, sigma, 'statistics to save')
  with open(path, 'wb') as f:
    np.savez(f, mu=mu, sigma=sigma)


def load_statistics(path):
  """Reads statistics written by `save_statistics`.

  Args:
    path: an .npz file with arrays 'mu' [d] and 'sigma' [d, d].

  Returns:
    (mu, sigma) as float64 numpy arrays.
  """
  with np.load(path) as data:
    missing = {'mu', 'sigma'} - set(data.files)
    if missing:
      raise ValueError(
        f'{path} lacks {sorted(missing)} (has {sorted(data.files)}); '
        'write reference statistics with save_statistics(path, mu, sigma).'
      )
    mu, sigma = data['mu'].astype(np.float64), data['sigma'].astype(np.float64)
  _check_statistics(mu, sigma, str(path))
  return mu, sigma
