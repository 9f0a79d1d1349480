"""Tests of gan_jax.metrics (FID, IS, KID, MMD, Parzen) against closed forms and references.

Each reference is written here from the definition (numpy loops, scipy,
sklearn), never by calling the code under test.
"""

import fractions
import logging
import re

import numpy as np
import pytest
import scipy.linalg
import scipy.spatial.distance
import scipy.special
import scipy.stats

from gan_jax.metrics import fid
from gan_jax.metrics import inception_score
from gan_jax.metrics import kid
from gan_jax.metrics import mmd
from gan_jax.metrics import parzen


def normal_sample(seed, shape, shift=0.0):
  return np.random.default_rng(seed).normal(size=shape) + shift


def random_covariance(seed, dim):
  factor = np.random.default_rng(seed).normal(size=(dim, dim))
  return factor @ factor.T / dim + 0.1 * np.eye(dim)


# FID.


def test_fid_of_identical_statistics_is_zero():
  mu, sigma = normal_sample(0, (16,)), random_covariance(1, 16)
  assert fid.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize('num_zero_variances', [0, 3])
def test_fid_of_diagonal_gaussians_matches_closed_form(num_zero_variances):
  # For commuting (diagonal) covariances (S1 S2)^{1/2} = diag(sqrt(a b)), so
  # d^2 = ||mu1 - mu2||^2 + sum (sqrt(a) - sqrt(b))^2; zero variances make
  # both covariances singular.
  rng = np.random.default_rng(2)
  mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
  variances1, variances2 = rng.uniform(0.1, 3.0, size=(2, 8))
  variances1[:num_zero_variances] = 0.0
  expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(variances1) - np.sqrt(variances2)) ** 2)
  actual = fid.frechet_distance(mu1, np.diag(variances1), mu2, np.diag(variances2))
  assert actual == pytest.approx(expected, rel=1e-10)


def test_fid_matches_sqrtm_on_full_rank_covariances():
  mu1, mu2 = normal_sample(3, (12,)), normal_sample(4, (12,))
  sigma1, sigma2 = random_covariance(5, 12), random_covariance(6, 12)
  trace_sqrt = np.trace(scipy.linalg.sqrtm(sigma1 @ sigma2)).real
  expected = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt
  assert fid.frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-8)


def test_fid_is_real_and_nonnegative_with_fewer_samples_than_dimensions():
  real, fake = normal_sample(7, (10, 64)), normal_sample(8, (12, 64))
  distance = fid.fid_from_features(real, fake)
  assert isinstance(distance, float) and np.isfinite(distance) and distance > 0
  assert fid.fid_from_features(fake, real) == pytest.approx(distance, rel=1e-8)
  assert fid.fid_from_features(real, real) == pytest.approx(0.0, abs=1e-8)


def _fid_through_the_samples(a, b):
  """FID of two feature sets without any d x d eigenproblem: with A, B the centred
  features, S1 S2 = A^T A B^T B / (n1 n2), whose nonzero eigenvalues are the
  squared singular values of A B^T / sqrt(n1 n2); Tr((S1 S2)^{1/2}) is their sum."""
  a_centred, b_centred = a - a.mean(axis=0), b - b.mean(axis=0)
  n1, n2 = len(a) - 1, len(b) - 1
  nuclear = np.linalg.svd(a_centred @ b_centred.T, compute_uv=False).sum() / np.sqrt(n1 * n2)
  return (
    np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2)
    + np.sum(a_centred**2) / n1
    + np.sum(b_centred**2) / n2
    - 2 * nuclear
  )


@pytest.mark.parametrize('num_samples, dimensions', [(20, 128), (100, 512)])
def test_fid_is_exact_with_fewer_samples_than_dimensions(num_samples, dimensions):
  a = normal_sample(21, (num_samples, dimensions)).astype(np.float64)
  far = 1.1 * normal_sample(22, (num_samples, dimensions)) + 0.05
  near = a + 1e-3 * normal_sample(23, (num_samples, dimensions))  # A FID near 0.
  for b in (far, near):
    expected = _fid_through_the_samples(a, b)
    assert fid.fid_from_features(a, b) == pytest.approx(expected, rel=1e-10)
  # Before the rank threshold, the rounding noise of the d - n zero eigenvalues
  # made this about -2e-4 (clipped to 0) and the near pair's FID 1e-5 off.
  assert abs(fid.fid_from_features(a, a)) < 1e-10


def test_fid_from_features_uses_mean_and_unbiased_covariance():
  real, fake = normal_sample(9, (50, 4)), normal_sample(10, (40, 4), shift=0.5)
  expected = fid.frechet_distance(
    real.mean(0), np.cov(real.T, ddof=1), fake.mean(0), np.cov(fake.T, ddof=1)
  )
  assert fid.fid_from_features(real, fake) == pytest.approx(expected, rel=1e-12)


def test_fid_statistics_round_trip_through_npz(tmp_path):
  mu, sigma = fid.feature_statistics(normal_sample(11, (30, 5)))
  path = tmp_path / 'reference_statistics'  # no suffix: must be written exactly here
  fid.save_statistics(path, mu, sigma)
  loaded_mu, loaded_sigma = fid.load_statistics(path)
  np.testing.assert_array_equal(loaded_mu, mu)
  np.testing.assert_array_equal(loaded_sigma, sigma)


def test_fid_load_statistics_rejects_foreign_npz(tmp_path):
  path = tmp_path / 'other.npz'
  np.savez(path, mean=np.zeros(3))
  with pytest.raises(ValueError, match='save_statistics'):
    fid.load_statistics(path)


@pytest.mark.parametrize(
  'num_real, num_fake, expected',
  [
    (40, 30, None),
    (40, 12, r'fake set of 12 samples in 16 dimensions: its covariance is singular \(rank <= 11\)'),
    (5, 40, 'real set of 5 samples in 16 dimensions: its statistics are mostly noise'),
  ],
)
def test_fid_warns_once_with_fewer_samples_than_dimensions(caplog, num_real, num_fake, expected):
  real, fake = normal_sample(51, (num_real, 16)), normal_sample(52, (num_fake, 16))
  with caplog.at_level(logging.WARNING):
    fid.fid_from_features(real, fake)
  warnings = [record.getMessage() for record in caplog.records if 'FID' in record.getMessage()]
  if expected is None:
    assert warnings == []
  else:
    assert len(warnings) == 1 and 'e.g. 10,000 or 50,000' in warnings[0]
    assert re.search(expected, warnings[0])


def test_fid_sample_size_warning_states_the_mean_terms_bias():
  # E ||mean of N draws of N(0, sigma)||^2 = tr(sigma) / N: here 16 * 2 / 8 = 4.
  warning = fid.sample_size_warning('fake', 8, 2.0 * np.eye(16))
  assert 'tr(sigma) / N = 4 ' in warning
  assert fid.sample_size_warning('fake', 16, 2.0 * np.eye(16)) is None


# Inception Score.


def test_inception_score_is_one_for_identical_predictions():
  probs = np.tile(np.random.default_rng(12).dirichlet(np.ones(7)), (40, 1))
  mean, std = inception_score.inception_score(probs, splits=4)
  assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_is_num_classes_for_equiprobable_one_hot_predictions():
  num_classes = 10
  # 60 rows cycling through the classes: each of the 2 splits holds every
  # class 3 times, so p(y) is uniform and p(y|x) one-hot (zeros: no NaN).
  probs = np.tile(np.eye(num_classes), (6, 1))
  mean, std = inception_score.inception_score(probs, splits=2)
  assert mean == pytest.approx(num_classes, rel=1e-12) and std == pytest.approx(0.0, abs=1e-9)


def test_inception_score_matches_entropy_decomposition():
  # exp(E KL(p(y|x) || p(y))) = exp(H(p(y)) - E H(p(y|x))), per split.
  probs = np.random.default_rng(13).dirichlet(0.3 * np.ones(5), size=90)
  scores = [
    np.exp(scipy.stats.entropy(chunk.mean(0)) - np.mean(scipy.stats.entropy(chunk, axis=1)))
    for chunk in np.split(probs, 3)
  ]
  mean, std = inception_score.inception_score(probs, splits=3)
  assert mean == pytest.approx(np.mean(scores), rel=1e-10)
  assert std == pytest.approx(np.std(scores), rel=1e-8)


def test_inception_score_without_shuffle_splits_rows_in_order():
  probs = np.random.default_rng(53).dirichlet(0.5 * np.ones(4), size=30)
  in_order = inception_score.inception_score(probs, splits=3)
  assert inception_score.inception_score(probs, splits=3, shuffle=False) == in_order
  reversed_order = inception_score.inception_score(probs[::-1], splits=3)
  assert reversed_order != in_order  # The order matters, so it must be stated.


def test_inception_score_shuffle_undoes_class_sorted_splits():
  # 100 one-hot samples of each of 10 classes, sorted by class: each of the
  # 10 splits in order holds one class, so each scores exactly 1. Shuffled, a
  # split's score is exp(entropy of its class counts), close to 10.
  num_classes, per_class = 10, 100
  labels = np.repeat(np.arange(num_classes), per_class)
  probs = np.eye(num_classes)[labels]
  assert inception_score.inception_score(probs, splits=10) == (1.0, 0.0)
  shuffled_labels = labels[np.random.RandomState(2020).permutation(len(labels))]
  scores = [
    np.exp(scipy.stats.entropy(np.bincount(chunk, minlength=num_classes)))
    for chunk in np.split(shuffled_labels, 10)
  ]
  mean, std = inception_score.inception_score(probs, splits=10, shuffle=True, seed=2020)
  assert mean == pytest.approx(np.mean(scores), rel=1e-12)
  assert std == pytest.approx(np.std(scores), rel=1e-9)
  assert 9.0 < mean < 10.0


# KID and MMD.


def reference_mmd2(x, y, kernel, unbiased):
  """MMD^2 by explicit double loops over pairs (Gretton et al. 2012)."""

  def mean_kernel(a, b, skip_diagonal):
    values = [
      kernel(a[i], b[j])
      for i in range(len(a))
      for j in range(len(b))
      if not (skip_diagonal and i == j)
    ]
    return np.mean(values)

  return mean_kernel(x, x, unbiased) + mean_kernel(y, y, unbiased) - 2 * mean_kernel(x, y, False)


def cubic_kernel(dim):
  return lambda a, b: (a @ b / dim + 1.0) ** 3


def test_kid_with_whole_sets_as_subsets_equals_unbiased_polynomial_mmd():
  real, fake = normal_sample(14, (20, 6)), normal_sample(15, (20, 6), shift=0.3)
  expected = reference_mmd2(real, fake, cubic_kernel(6), unbiased=True)
  # Every subset is a whole set: one MMD^2, and no spread at all.
  mean, std = kid.kernel_inception_distance(real, fake, num_subsets=3, subset_size=20)
  assert mean == pytest.approx(expected, rel=1e-12)
  assert std == 0.0


def test_kid_refuses_subsets_larger_than_a_set():
  # torch-fidelity's rule: no silent clipping to the smaller set.
  with pytest.raises(ValueError, match=r'subset_size=1000 exceeds the 20 real or 30 fake.*<= 20'):
    kid.kernel_inception_distance(np.zeros((20, 3)), np.zeros((30, 3)), subset_size=1000)


def exact_unbiased_cubic_mmd2(x, y):
  """Gretton et al.'s Eq. 3 with KID's kernel in exact rational arithmetic."""
  x, y = ([[fractions.Fraction(float(v)) for v in row] for row in points] for points in (x, y))
  dim = len(x[0])

  def kernel(a, b):
    return (sum(p * q for p, q in zip(a, b)) / dim + 1) ** 3

  def within(points):
    m = len(points)
    pairs = sum(kernel(points[i], points[j]) for i in range(m) for j in range(i + 1, m))
    return 2 * pairs / (m * (m - 1))

  cross = sum(kernel(a, b) for a in x for b in y) / (len(x) * len(y))
  return within(x) + within(y) - 2 * cross


def test_kid_is_float64_exact_where_float32_is_visibly_wrong():
  # Large-norm features: kernel values ~1e9 cancel down to an MMD^2 of ~6e4.
  real, fake = normal_sample(47, (20, 16), shift=30.0), normal_sample(48, (20, 16), shift=30.0)
  exact = float(exact_unbiased_cubic_mmd2(real, fake))
  kid_value, _ = kid.kernel_inception_distance(real, fake, num_subsets=1, subset_size=20)
  assert kid_value == pytest.approx(exact, rel=1e-10)
  # The float32 path (mmd2, as KID computed before) is off by ~2e-3 here.
  float32_value = mmd.mmd2(real, fake, kernel='polynomial', bandwidth=16)
  assert abs(float32_value - exact) > 1e-4 * abs(exact)


def test_kid_averages_subsets_drawn_as_torch_fidelity():
  real, fake = normal_sample(49, (30, 5)), normal_sample(50, (25, 5), shift=0.4)
  # torch-fidelity: one RandomState, real then fake subset for each subset.
  rng = np.random.RandomState(2020)
  values = []
  for _ in range(4):
    real_subset = real[rng.choice(30, 10, replace=False)]
    fake_subset = fake[rng.choice(25, 10, replace=False)]
    values.append(reference_mmd2(real_subset, fake_subset, cubic_kernel(5), unbiased=True))
  mean, std = kid.kernel_inception_distance(real, fake, num_subsets=4, subset_size=10, seed=2020)
  assert mean == pytest.approx(np.mean(values), rel=1e-12)
  assert std == pytest.approx(np.std(values), rel=1e-10)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_a_shift():
  real = normal_sample(16, (400, 8))
  same_mean, _ = kid.kernel_inception_distance(
    real, normal_sample(17, (400, 8)), num_subsets=20, subset_size=200
  )
  shifted_mean, shifted_std = kid.kernel_inception_distance(
    real, normal_sample(18, (400, 8), shift=1.0), num_subsets=20, subset_size=200
  )
  assert abs(same_mean) < 0.05
  assert shifted_mean > 1.0 and shifted_mean > 5 * shifted_std


@pytest.mark.parametrize('unbiased', [True, False])
@pytest.mark.parametrize('kernel', ['gaussian', 'polynomial'])
def test_mmd2_matches_double_loop(kernel, unbiased):
  x, y = normal_sample(19, (12, 3)), normal_sample(20, (9, 3), shift=0.5)
  bandwidth = 1.7 if kernel == 'gaussian' else 2.5
  kernel_function = {
    'gaussian': lambda a, b: np.exp(-np.sum((a - b) ** 2) / (2 * bandwidth**2)),
    'polynomial': lambda a, b: (a @ b / bandwidth + 1.0) ** 3,
  }[kernel]
  expected = reference_mmd2(x, y, kernel_function, unbiased)
  actual = mmd.mmd2(x, y, kernel=kernel, bandwidth=bandwidth, unbiased=unbiased)
  assert actual == pytest.approx(expected, rel=1e-4)


def test_mmd2_default_gaussian_bandwidth_is_median_pairwise_distance():
  x, y = normal_sample(21, (15, 4)), normal_sample(22, (11, 4), shift=1.0)
  median = np.median(scipy.spatial.distance.pdist(np.concatenate([x, y])))
  assert float(mmd.median_pairwise_distance(x, y)) == pytest.approx(median, rel=1e-5)
  assert mmd.mmd2(x, y) == pytest.approx(mmd.mmd2(x, y, bandwidth=median), rel=1e-5)


def test_unbiased_mmd2_is_near_zero_for_one_distribution_and_positive_for_a_shift():
  x = normal_sample(23, (300, 5))
  same = mmd.mmd2(x, normal_sample(24, (300, 5)))
  shifted = mmd.mmd2(x, normal_sample(25, (300, 5), shift=1.0))
  assert abs(same) < 0.01
  assert shifted > 0.1


def test_mmd2_unknown_kernel_lists_valid_names():
  with pytest.raises(ValueError, match='gaussian, polynomial'):
    mmd.mmd2(np.zeros((3, 2)), np.ones((3, 2)), kernel='laplacian')


# Parzen window.


def reference_parzen_log_density(samples, points, sigma):
  squared = scipy.spatial.distance.cdist(points, samples, 'sqeuclidean')
  dim = samples.shape[1]
  return (
    scipy.special.logsumexp(-squared / (2 * sigma**2), axis=1)
    - np.log(len(samples))
    - dim / 2 * np.log(2 * np.pi * sigma**2)
  )


@pytest.mark.parametrize('batch_size', [1, 4, 7, 23, 1000])
def test_parzen_matches_logsumexp_for_any_block_size(batch_size):
  samples, test = normal_sample(33, (23, 3)), normal_sample(34, (17, 3), shift=0.5)
  expected = reference_parzen_log_density(samples, test, 0.6)
  np.testing.assert_allclose(
    parzen.parzen_log_density(samples, test, 0.6, batch_size=batch_size), expected, rtol=1e-5
  )
  mean, standard_error = parzen.parzen_log_likelihood(samples, test, 0.6, batch_size=batch_size)
  assert mean == pytest.approx(expected.mean(), rel=1e-5)
  assert standard_error == pytest.approx(expected.std(ddof=1) / np.sqrt(17), rel=1e-4)


@pytest.mark.parametrize('dim', [1, 2])
def test_parzen_of_a_large_gaussian_sample_approaches_the_analytic_density(dim):
  # With many samples the KDE of N(0, I) tends to N(0, (1 + sigma^2) I).
  # sigma = 0.5 keeps the estimate's relative noise near 1% at these points.
  sigma = 0.5
  samples = normal_sample(35, (40_000, dim))
  points = np.random.default_rng(36).uniform(-1.0, 1.0, size=(50, dim))
  analytic = scipy.stats.multivariate_normal(np.zeros(dim), (1 + sigma**2) * np.eye(dim))
  np.testing.assert_allclose(
    parzen.parzen_log_density(samples, points, sigma), analytic.logpdf(points), atol=0.04
  )


@pytest.mark.parametrize('scale', [1.0, 100.0])
def test_select_bandwidth_picks_the_right_order_of_magnitude(scale):
  samples, validation = normal_sample(37, (2000, 1)), normal_sample(38, (500, 1))
  sigmas = scale * np.array([0.003, 0.03, 0.3, 3.0])
  best, log_likelihoods = parzen.select_bandwidth(scale * samples, scale * validation, sigmas)
  assert best == pytest.approx(0.3 * scale)
  assert log_likelihoods.shape == (4,) and np.argmax(log_likelihoods) == 2
