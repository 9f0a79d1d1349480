"""Tests of the k-NN metrics (1-NN accuracy, precision/recall, density/coverage) against
closed forms and independent references (sklearn, prdc).

Each reference is written here from the definition (numpy loops, scipy,
sklearn), never by calling the code under test.
"""

import numpy as np
import prdc
import pytest
import scipy.linalg
import scipy.spatial.distance
import scipy.special
import scipy.stats
from sklearn.model_selection import LeaveOneOut
from sklearn.model_selection import cross_val_predict
from sklearn.neighbors import KNeighborsClassifier

from gan_jax.metrics import distances
from gan_jax.metrics import nearest_neighbor
from gan_jax.metrics import precision_recall


def normal_sample(seed, shape, shift=0.0):
  return np.random.default_rng(seed).normal(size=shape) + shift


# Nearest neighbours.


def test_one_nn_accuracy_is_one_half_for_one_distribution():
  overall, on_real, on_fake = nearest_neighbor.one_nn_accuracy(
    normal_sample(26, (300, 5)), normal_sample(27, (300, 5))
  )
  assert overall == pytest.approx(0.5, abs=0.06)
  assert on_real == pytest.approx(0.5, abs=0.1) and on_fake == pytest.approx(0.5, abs=0.1)


def test_one_nn_accuracy_is_one_for_separated_sets():
  accuracies = nearest_neighbor.one_nn_accuracy(
    normal_sample(28, (50, 5)), normal_sample(29, (60, 5), shift=20.0)
  )
  assert accuracies == (1.0, 1.0, 1.0)


def test_one_nn_accuracy_is_zero_for_copied_samples():
  # Each point's nearest other point is its copy of the other label: exact
  # duplicates must count as neighbours (self is excluded by index).
  real = normal_sample(30, (40, 3))
  assert nearest_neighbor.one_nn_accuracy(real, real.copy()) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize('block_size', [7, 256])
def test_one_nn_accuracy_matches_sklearn_leave_one_out(block_size):
  real, fake = normal_sample(31, (30, 3)), normal_sample(32, (25, 3), shift=0.7)
  pooled = np.concatenate([real, fake])
  labels = np.r_[np.ones(30), np.zeros(25)]
  predicted = cross_val_predict(
    KNeighborsClassifier(n_neighbors=1), pooled, labels, cv=LeaveOneOut()
  )
  correct = predicted == labels
  expected = (correct.mean(), correct[:30].mean(), correct[30:].mean())
  actual = nearest_neighbor.one_nn_accuracy(real, fake, block_size=block_size)
  np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-12)


# Precision, recall, density and coverage.


def test_precision_recall_density_coverage_of_identical_sets():
  real = normal_sample(39, (200, 4))
  assert precision_recall.precision_recall(real, real) == (1.0, 1.0)
  density, coverage = precision_recall.density_coverage(real, real, k=5)
  # Every open real ball holds its own copy and its 4 nearer neighbours, not
  # the 5th on its boundary: density = 5/5.
  assert density == 1.0 and coverage == 1.0


def test_precision_recall_density_coverage_of_far_apart_sets():
  real, fake = normal_sample(40, (100, 4)), normal_sample(41, (120, 4), shift=100.0)
  assert precision_recall.precision_recall(real, fake) == (0.0, 0.0)
  assert precision_recall.density_coverage(real, fake) == (0.0, 0.0)


def test_density_and_coverage_for_one_distribution_match_their_expectations():
  num_points, k = 1000, 5
  density, coverage = precision_recall.density_coverage(
    normal_sample(42, (num_points, 3)), normal_sample(43, (num_points, 3)), k=k
  )
  expected_coverage = 1 - np.prod(
    [(num_points - i) / (2 * num_points - i) for i in range(1, k + 1)]
  )
  assert density == pytest.approx(1.0, abs=0.1)
  assert coverage == pytest.approx(expected_coverage, abs=0.03)


def test_precision_recall_density_coverage_match_brute_force():
  real, fake = normal_sample(44, (40, 3)), normal_sample(45, (35, 3), shift=0.8)
  k = 3

  def radii(points):  # column 0 of each sorted row is the point itself
    return np.sort(scipy.spatial.distance.cdist(points, points), axis=1)[:, k]

  fake_to_real = scipy.spatial.distance.cdist(fake, real)
  inside_real_balls = fake_to_real <= radii(real)[None, :]
  inside_fake_balls = fake_to_real.T <= radii(fake)[None, :]
  inside_open_real_balls = fake_to_real < radii(real)[None, :]
  expected = (
    inside_real_balls.any(1).mean(),
    inside_fake_balls.any(1).mean(),
    inside_open_real_balls.sum() / (k * len(fake)),
    inside_open_real_balls.any(0).mean(),
  )
  actual = (
    *precision_recall.precision_recall(real, fake, k=k, block_size=7),
    *precision_recall.density_coverage(real, fake, k=k, block_size=7),
  )
  np.testing.assert_allclose(actual, expected, rtol=1e-12)


def prdc_reference(real, fake, k):
  """Naeem et al.'s own code (the prdc package) as a tuple in our order."""
  result = prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=k)
  return tuple(float(result[name]) for name in ('precision', 'recall', 'density', 'coverage'))


def test_precision_recall_density_coverage_match_prdc_on_random_data():
  # Continuous data has no distance ties, so open and closed balls agree.
  real, fake = normal_sample(54, (60, 4)), normal_sample(55, (50, 4), shift=0.5)
  actual = (
    *precision_recall.precision_recall(real, fake, k=3),
    *precision_recall.density_coverage(real, fake, k=3),
  )
  np.testing.assert_allclose(actual, prdc_reference(real, fake, 3), rtol=1e-12)


def test_density_and_coverage_match_prdc_with_distance_ties():
  # Points on a small integer grid: many distances equal a ball's radius
  # exactly, where prdc's open balls (<) and closed ones (<=) differ.
  rng = np.random.default_rng(56)
  real = rng.integers(0, 4, size=(80, 2)).astype(np.float32)
  fake = rng.integers(0, 4, size=(70, 2)).astype(np.float32) + np.float32([1, 0])
  k = 5
  _, _, density, coverage = prdc_reference(real, fake, k)
  assert precision_recall.density_coverage(real, fake, k=k) == pytest.approx(
    (density, coverage), rel=1e-12
  )
  radii = np.sort(scipy.spatial.distance.cdist(real, real), axis=1)[:, k]
  closed_density = np.sum(scipy.spatial.distance.cdist(fake, real) <= radii) / (k * len(fake))
  assert closed_density > density + 0.1  # The test data do tell open from closed.
  # Precision and recall keep Kynkaanniemi et al.'s closed balls: never below prdc's.
  prdc_precision, prdc_recall, _, _ = prdc_reference(real, fake, k)
  precision, recall = precision_recall.precision_recall(real, fake, k=k)
  assert precision >= prdc_precision and recall >= prdc_recall


def test_kth_neighbor_squared_distances_match_sorted_distances():
  points = normal_sample(46, (30, 4))
  expected = np.sort(scipy.spatial.distance.cdist(points, points, 'sqeuclidean'), axis=1)[:, 2]
  np.testing.assert_allclose(
    distances.kth_neighbor_squared_distances(points, 2, block_size=8), expected, rtol=1e-5
  )
