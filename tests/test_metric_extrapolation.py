"""Tests of gan_jax.metrics.extrapolation (FID_inf, IS_inf; Chong & Forsyth 2020).

Each extrapolated score is checked against a closed form of the
infinite-sample value on synthetic data, and the finite-N bias it removes
against a second-order Taylor expansion derived here.
"""

import numpy as np
import pytest
import scipy.special
import threadpoolctl
from sklearn.linear_model import LinearRegression

from gan_jax.metrics import extrapolation
from gan_jax.metrics import fid

# The paper's sample counts: 15 evenly spaced from 5,000 to 50,000, as int32.
PAPER_COUNTS = np.linspace(5000, 50000, 15).astype('int32')
NUM_SEEDS = 12


@pytest.fixture(autouse=True)
def one_blas_thread():
  # Hundreds of FIDs of 32 x 32 matrices: BLAS threads only add synchronisation,
  # measured 0.2 s on one thread against 6 s on a loaded 2-core machine.
  # (threadpoolctl comes with scikit-learn.)
  with threadpoolctl.threadpool_limits(limits=1, user_api='blas'):
    yield


def standard_error(values):
  return np.std(values, ddof=1) / np.sqrt(len(values))


# The regression.


def test_default_sample_counts_are_the_papers_at_50k():
  np.testing.assert_array_equal(extrapolation.default_sample_counts(50000), PAPER_COUNTS)
  counts = extrapolation.default_sample_counts(10000, num_points=4, min_count=2500)
  np.testing.assert_array_equal(counts, [2500, 5000, 7500, 10000])


def test_fit_of_exact_line_in_inverse_count_recovers_intercept():
  intercept, slope = 3.25, 1.7e4
  scores = intercept + slope / PAPER_COUNTS
  fitted_intercept, fitted_slope = extrapolation.fit_inverse_count(PAPER_COUNTS, scores)
  assert abs(fitted_intercept - intercept) < 1e-10
  assert fitted_slope == pytest.approx(slope, rel=1e-9)


def test_fit_matches_the_authors_sklearn_regression_on_noisy_scores():
  scores = 20 + 3e5 / PAPER_COUNTS + np.random.default_rng(0).normal(scale=0.5, size=15)
  reference = LinearRegression().fit(1 / PAPER_COUNTS.reshape(-1, 1), scores)
  intercept, slope = extrapolation.fit_inverse_count(PAPER_COUNTS, scores)
  assert intercept == pytest.approx(reference.intercept_, rel=1e-9)
  assert slope == pytest.approx(reference.coef_[0], rel=1e-9)


# FID_inf on Gaussians.


def test_fid_infinity_removes_the_positive_bias_of_fid_on_gaussians():
  """Fake x ~ N(mu2, s I) against the exact real statistics (0, I), in d = 32.

  The real side is passed as exact (mu, sigma), so the only error is the fake
  side's. Expanding FID in the sample mean and covariance (unbiased, N - 1)
  to second order, with W the sample covariance of N standard normals:
  E||mu_hat - mu1||^2 = ||mu2 - mu1||^2 + s d / N, E Tr(S_hat) = s d, and
  E Tr(S_hat^{1/2}) = sqrt(s) E sum_i sqrt(lambda_i(W))
                    ~ sqrt(s) (d - E||W - I||_F^2 / 8) = sqrt(s) (d - d (d + 1) / (8 N)),
  so E FID_N - FID ~ (s d + sqrt(s) d (d + 1) / 4) / N > 0: the slope.
  """
  dim, num_samples, scale = 32, 4000, 1.1
  real_mu, real_sigma = np.zeros(dim), np.eye(dim)
  fake_mu = np.full(dim, 0.2 / np.sqrt(dim))
  true_fid = fid.frechet_distance(real_mu, real_sigma, fake_mu, scale * np.eye(dim))
  predicted_slope = scale * dim + np.sqrt(scale) * dim * (dim + 1) / 4
  results = [
    extrapolation.fid_infinity_from_statistics(
      real_mu,
      real_sigma,
      fake_mu + np.sqrt(scale) * np.random.default_rng(seed).normal(size=(num_samples, dim)),
      seed=seed,
    )
    for seed in range(NUM_SEEDS)
  ]
  # The last count is all the samples: FID_N at the largest N, as usually reported.
  largest_n_errors = np.array([result.scores[-1] - true_fid for result in results])
  infinity_errors = np.array([result.value - true_fid for result in results])
  slopes = np.array([result.slope for result in results])

  assert np.mean(largest_n_errors) > 0
  assert abs(np.mean(largest_n_errors) - predicted_slope / num_samples) < 3 * standard_error(
    largest_n_errors
  )
  assert abs(np.mean(slopes) - predicted_slope) < 3 * standard_error(slopes)
  # Unbiased within its sampling error, and most of the bias gone.
  assert abs(np.mean(infinity_errors)) < 3 * standard_error(infinity_errors)
  assert abs(np.mean(infinity_errors)) < 0.2 * np.mean(largest_n_errors)


def test_fid_infinity_from_features_uses_the_statistics_of_all_real_features():
  real = np.random.default_rng(0).normal(size=(300, 4))
  fake = np.random.default_rng(1).normal(size=(200, 4)) + 0.5
  from_features = extrapolation.fid_infinity(real, fake, seed=3)
  from_statistics = extrapolation.fid_infinity_from_statistics(
    *fid.feature_statistics(real), fake, seed=3
  )
  assert from_features.value == from_statistics.value
  # The last count takes every fake sample: plain FID of the two sets.
  assert from_features.scores[-1] == pytest.approx(fid.fid_from_features(real, fake), rel=1e-12)


# IS_inf on a finite mixture of class-probability vectors.


def test_inception_score_infinity_removes_the_negative_bias_of_is():
  """p(y|x) is one of K cyclic shifts p_i of a fixed vector, each with weight 1 / K.

  IS_inf = exp(sum_i w_i KL(p_i || p_bar)), p_bar = sum_i w_i p_i. log IS_N =
  H(p_hat) - mean_x H(p(y|x)); the second term is unbiased, and the entropy's
  Hessian -diag(1 / p) gives E H(p_hat) ~ H(p_bar) - sum_k Var_x p(k|x) / (2 N p_bar(k)),
  so E IS_N - IS ~ -IS sum_k Var_x p(k|x) / (2 p_bar(k)) / N < 0: the slope.
  The shifts make KL(p_i || p_bar) equal for every i, so the first-order
  sampling noise of IS_N (which no extrapolation removes) vanishes and the
  bias stands out.
  """
  num_classes, num_samples = 50, 4000
  base = np.random.default_rng(1234).dirichlet(np.full(num_classes, 0.1))
  components = np.stack([np.roll(base, shift) for shift in range(num_classes)])
  weights = np.full(num_classes, 1 / num_classes)
  marginal = weights @ components
  true_is = np.exp(weights @ scipy.special.rel_entr(components, marginal).sum(axis=1))
  class_variances = weights @ components**2 - marginal**2
  predicted_slope = -true_is * np.sum(class_variances / marginal) / 2
  results = []
  for seed in range(NUM_SEEDS):
    drawn = np.random.default_rng(seed).choice(num_classes, size=num_samples, p=weights)
    results.append(extrapolation.inception_score_infinity(components[drawn], seed=seed))
  largest_n_errors = np.array([result.scores[-1] - true_is for result in results])
  infinity_errors = np.array([result.value - true_is for result in results])
  slopes = np.array([result.slope for result in results])

  assert np.mean(largest_n_errors) < 0
  assert abs(np.mean(largest_n_errors) - predicted_slope / num_samples) < 3 * standard_error(
    largest_n_errors
  )
  assert abs(np.mean(slopes) - predicted_slope) < 3 * standard_error(slopes)
  assert abs(np.mean(infinity_errors)) < 3 * standard_error(infinity_errors)
  assert abs(np.mean(infinity_errors)) < 0.2 * abs(np.mean(largest_n_errors))


# Bad input.


def test_fewer_samples_than_the_counts_is_a_one_line_error():
  features = np.zeros((100, 3))
  with pytest.raises(ValueError, match=r'sample counts \[50, 200\].*draw at least 200'):
    extrapolation.fid_infinity(features, features, sample_counts=[50, 200])
  with pytest.raises(ValueError, match=r'num_samples=5\. Draw more samples'):
    extrapolation.inception_score_infinity(np.full((5, 2), 0.5))


def test_real_statistics_of_another_dimension_are_an_error():
  with pytest.raises(ValueError, match='same network layer'):
    extrapolation.fid_infinity_from_statistics(np.zeros(3), np.eye(3), np.zeros((100, 4)))
