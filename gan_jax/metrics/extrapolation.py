"""FID and Inception Score extrapolated to infinitely many samples (FID_inf, IS_inf).

Chong & Forsyth 2020, "Effectively unbiased FID and Inception Score and where
to find them" (CVPR 2020): FID_N and IS_N from N generated samples are biased,
and the bias depends on the generator as well as on N, so two models compared
at the same N can swap ranks, and FID at 5k and at 50k are incomparable. A
Taylor expansion in the sample statistics gives

  E[score_N] = score_inf + slope / N + O(1 / N^2),

so they compute score_N at several N (their default: 15 evenly spaced N from
5,000 to 50,000), each on a fresh random subset of one set of generated
samples, fit a line to score_N over 1/N by least squares, and report its
intercept, the value at 1/N = 0. For FID the real side is fixed: statistics of
all the real features (or a saved mu, sigma); its own finite-sample bias is not
extrapolated away. For IS each score_N is the score of one split.

The intercept removes the bias, not the sampling noise: on the tests'
Gaussians its spread over draws is about 1.4 times that of FID at the largest
N. The cost is num_points FIDs, each two d x d eigendecompositions (seconds
each at d = 2048).

Defaults here (`default_sample_counts`): `num_points` = 15 counts evenly spaced
from N // 10 to N, the N available; at N = 50,000 this is exactly the paper's
range, and at the usual 10,000 it is 1,000 to 10,000.

The paper also draws the generator's z from a scrambled Sobol sequence
(quasi-Monte Carlo), which lowers the variance of each score_N; that is the
sampler's business and is not done here: these functions take whatever
samples they are given.

Everything runs in float64 numpy, as `fid` and `inception_score` do.
"""

from typing import NamedTuple

import numpy as np

from gan_jax.metrics import fid
from gan_jax.metrics import inception_score

# The paper's smallest count is a tenth of its largest (5,000 of 50,000).
PAPER_COUNT_RATIO = 10


class Extrapolation(NamedTuple):
  """A score extrapolated to infinitely many samples, with what it was fitted on.

  Attributes:
    value: the fitted score at 1 / N = 0 (FID_inf or IS_inf), a Python float.
    slope: the fitted d score / d(1 / N), a Python float: score_N ~ value + slope / N.
    sample_counts: [P] int array, the N at which the score was computed.
    scores: [P] float array, score_N at each of those N.
  """

  value: float
  slope: float
  sample_counts: np.ndarray
  scores: np.ndarray


def default_sample_counts(num_samples, num_points=15, min_count=None):
  """The N at which to compute score_N: Chong & Forsyth 2020's range, scaled.

  Args:
    num_samples: N available (generated samples).
    num_points: how many counts (the paper: 15).
    min_count: the smallest count; None means num_samples // 10, the paper's
      ratio (5,000 of 50,000).

  Returns:
    [num_points] int array, evenly spaced from min_count to num_samples and
    truncated to integers as the authors' code does (np.linspace(...).astype(int)).
  """
  if min_count is None:
    min_count = num_samples // PAPER_COUNT_RATIO
  if num_points < 2 or not 1 <= min_count < num_samples:
    raise ValueError(
      f'need num_points >= 2 and 1 <= min_count < num_samples; got num_points={num_points}, '
      f'min_count={min_count}, num_samples={num_samples}. Draw more samples or lower min_count.'
    )
  return np.linspace(min_count, num_samples, num_points).astype(np.int64)


def fit_inverse_count(sample_counts, scores):
  """Least-squares line through (1 / N, score_N): Chong & Forsyth 2020's extrapolation.

  Args:
    sample_counts: [P] sample counts N (>= 2 distinct values).
    scores: [P] score_N at each count.

  Returns:
    (intercept, slope) as Python floats: score_N ~ intercept + slope / N, so
    the intercept is the score extrapolated to N = infinity. Ordinary least
    squares with centred 1 / N, the same line as the authors' sklearn
    LinearRegression, but well conditioned although 1 / N is ~1e-4.
  """
  sample_counts = np.asarray(sample_counts, dtype=np.float64)
  scores = np.asarray(scores, dtype=np.float64)
  if sample_counts.shape != scores.shape or sample_counts.ndim != 1:
    raise ValueError(
      f'sample_counts and scores must be [P] arrays of one length; got {sample_counts.shape} '
      f'and {scores.shape}.'
    )
  if len(np.unique(sample_counts)) < 2:
    raise ValueError(
      f'a line needs scores at >= 2 distinct sample counts; got {sample_counts.tolist()}. '
      'Pass more counts or draw more samples.'
    )
  inverse_counts = 1 / sample_counts
  centred = inverse_counts - inverse_counts.mean()
  slope = np.sum(centred * (scores - scores.mean())) / np.sum(centred**2)
  intercept = scores.mean() - slope * inverse_counts.mean()
  return float(intercept), float(slope)


def _checked_counts(num_samples, sample_counts, num_points, min_count, smallest_allowed):
  """sample_counts as an int array, or the default; a one-line error if unusable."""
  if sample_counts is None:
    sample_counts = default_sample_counts(num_samples, num_points, min_count)
  sample_counts = np.asarray(sample_counts, dtype=np.int64)
  if sample_counts.ndim != 1 or sample_counts.size == 0:
    raise ValueError(f'sample_counts must be a [P] list of ints; got {sample_counts}.')
  if sample_counts.max() > num_samples or sample_counts.min() < smallest_allowed:
    raise ValueError(
      f'sample counts {sample_counts.tolist()} need between {smallest_allowed} and the '
      f'{num_samples} samples given; draw at least {sample_counts.max()} samples or pass '
      'smaller sample_counts.'
    )
  return sample_counts


def _subset_scores(samples, sample_counts, score_function, seed):
  """score_function of a fresh random subset of N rows, for each N in sample_counts.

  As the authors' code: the samples are reshuffled before each N and the first
  N taken (without replacement), so the subsets are not nested.
  """
  rng = np.random.default_rng(seed)
  return np.array(
    [score_function(samples[rng.permutation(len(samples))[:count]]) for count in sample_counts]
  )


def fid_infinity_from_statistics(
  real_mu,
  real_sigma,
  fake_features,
  sample_counts=None,
  *,
  num_points=15,
  min_count=None,
  seed=0,
):
  """FID_inf (Chong & Forsyth 2020) against fixed real statistics (e.g. a fid_stats file).

  Args:
    real_mu: [d] mean of the real features.
    real_sigma: [d, d] covariance of the real features.
    fake_features: [N, d] features of generated samples, same layer.
    sample_counts: the N at which FID_N is computed, each 2 <= N <= len(fake);
      None means `default_sample_counts(N, num_points, min_count)`.
    num_points: number of counts when sample_counts is None (the paper: 15).
    min_count: smallest count when sample_counts is None (default N // 10).
    seed: seed of the random subsets, so a result can be reproduced.

  Returns:
    An `Extrapolation`: `.value` is FID_inf; `.scores` the FID_N it was fitted on.
  """
  fake_features = np.asarray(fake_features, dtype=np.float64)
  if fake_features.ndim != 2 or np.shape(real_mu) != fake_features.shape[1:]:
    raise ValueError(
      f'fake_features must be [N, d] with d = len(real_mu); got {fake_features.shape} and '
      f'real_mu {np.shape(real_mu)}. Use features from the same network layer for both.'
    )
  sample_counts = _checked_counts(len(fake_features), sample_counts, num_points, min_count, 2)

  def fid_to_real(fake_subset):
    return fid.frechet_distance(real_mu, real_sigma, *fid.feature_statistics(fake_subset))

  scores = _subset_scores(fake_features, sample_counts, fid_to_real, seed)
  return Extrapolation(*fit_inverse_count(sample_counts, scores), sample_counts, scores)


def fid_infinity(
  real_features, fake_features, sample_counts=None, *, num_points=15, min_count=None, seed=0
):
  """FID_inf (Chong & Forsyth 2020): FID_N over 1 / N, extrapolated to N = infinity.

  The real side is the statistics of all of `real_features`, as in the
  authors' code; only the generated side is subsampled.

  Args:
    real_features: [N_real, d] features of real data.
    fake_features: [N, d] features of generated data, same layer.
    sample_counts, num_points, min_count, seed: as `fid_infinity_from_statistics`.

  Returns:
    An `Extrapolation`: `.value` is FID_inf; `.scores` the FID_N it was fitted on.
  """
  if np.ndim(real_features) != 2:
    raise ValueError(
      f'real_features must be [N_real, d]; got shape {np.shape(real_features)}. For saved '
      'statistics call fid_infinity_from_statistics(mu, sigma, fake_features).'
    )
  return fid_infinity_from_statistics(
    *fid.feature_statistics(real_features),
    fake_features,
    sample_counts,
    num_points=num_points,
    min_count=min_count,
    seed=seed,
  )


def inception_score_infinity(probs, sample_counts=None, *, num_points=15, min_count=None, seed=0):
  """IS_inf (Chong & Forsyth 2020): IS_N (one split) over 1 / N, extrapolated to N = infinity.

  Args:
    probs: [N, K] class probabilities p(y|x) of generated samples.
    sample_counts: the N at which IS_N is computed, each 1 <= N <= len(probs);
      None means `default_sample_counts(N, num_points, min_count)`.
    num_points: number of counts when sample_counts is None (the paper: 15).
    min_count: smallest count when sample_counts is None (default N // 10).
    seed: seed of the random subsets, so a result can be reproduced.

  Returns:
    An `Extrapolation`: `.value` is IS_inf; `.scores` the IS_N it was fitted on.
  """
  probs = np.asarray(probs, dtype=np.float64)
  if probs.ndim != 2:
    raise ValueError(f'probs must be [N, K] class probabilities; got shape {probs.shape}.')
  sample_counts = _checked_counts(len(probs), sample_counts, num_points, min_count, 1)

  def one_split_score(probs_subset):
    return inception_score.inception_score(probs_subset, splits=1)[0]

  scores = _subset_scores(probs, sample_counts, one_split_score, seed)
  return Extrapolation(*fit_inverse_count(sample_counts, scores), sample_counts, scores)
