"""Every metric refuses non-finite inputs and bad arguments with one line naming the problem."""

import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import errors
from gan_jax.metrics import distances
from gan_jax.metrics import fid
from gan_jax.metrics import finite
from gan_jax.metrics import inception_score
from gan_jax.metrics import kid
from gan_jax.metrics import mmd
from gan_jax.metrics import nearest_neighbor
from gan_jax.metrics import parzen
from gan_jax.metrics import precision_recall


def normal_sample(seed, shape, shift=0.0):
  return np.random.default_rng(seed).normal(size=shape) + shift


# Non-finite inputs.


def with_bad_rows(array, rows=(3, 11)):
  """A copy of array with NaN in its first listed row and -Inf in the second."""
  array = np.array(array, dtype=np.float64)
  array[rows[0], 0], array[rows[1], -1] = np.nan, -np.inf
  return array


def features(seed, num=20, dim=3):
  return normal_sample(seed, (num, dim))


@pytest.mark.parametrize(
  'call, message',
  [
    (lambda: fid.fid_from_features(with_bad_rows(features(0)), features(1)), 'real: 2 of 20 rows'),
    (lambda: fid.fid_from_features(features(0), with_bad_rows(features(1))), 'fake: 2 of 20 rows'),
    (lambda: fid.feature_statistics(with_bad_rows(features(0))), 'features: 2 of 20 rows'),
    (
      lambda: fid.frechet_distance(np.r_[0.0, np.nan], np.eye(2), np.zeros(2), np.eye(2)),
      'first Gaussian mu: 1 of 2 entries',
    ),
    (
      lambda: fid.frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.diag([1.0, np.inf])),
      'second Gaussian sigma: 1 of 2 rows',
    ),
    (
      lambda: kid.kernel_inception_distance(features(0), with_bad_rows(features(1)), 2, 10),
      'fake: 2 of 20 rows',
    ),
    (
      lambda: kid.kernel_inception_distance(jnp.asarray(with_bad_rows(features(0))), features(1)),
      'real: 2 of 20 rows',
    ),
    (lambda: mmd.mmd2(with_bad_rows(features(0)), features(1)), 'x: 2 of 20 rows'),
    (lambda: mmd.mmd2(features(0), with_bad_rows(features(1))), 'y: 2 of 20 rows'),
    (
      lambda: precision_recall.precision_recall(with_bad_rows(features(0)), features(1)),
      'real: 2 of 20 rows',
    ),
    (
      lambda: precision_recall.density_coverage(features(0), with_bad_rows(features(1))),
      'fake: 2 of 20 rows',
    ),
    (
      lambda: nearest_neighbor.one_nn_accuracy(features(0), with_bad_rows(features(1))),
      'fake: 2 of 20 rows',
    ),
    (
      lambda: parzen.parzen_log_likelihood(with_bad_rows(features(0)), features(1), 1.0),
      'samples: 2 of 20 rows',
    ),
    (
      lambda: parzen.parzen_log_likelihood(features(0), with_bad_rows(features(1)), 1.0),
      'points: 2 of 20 rows',
    ),
    (
      lambda: distances.kth_neighbor_squared_distances(with_bad_rows(features(0)), 3),
      'points: 2 of 20 rows',
    ),
    (
      lambda: inception_score.inception_score(with_bad_rows(np.full((20, 4), 0.25)), splits=2),
      'probs: 2 of 20 rows',
    ),
  ],
)
def test_non_finite_inputs_raise_an_error_naming_the_input_and_rows(call, message):
  with pytest.raises(errors.NonFiniteError, match=message + r' hold NaN or Inf \((rows|entries) '):
    call()


def test_check_finite_rows_lists_the_first_rows_and_passes_finite_extremes():
  array = np.zeros((100, 2), np.float32)
  array[[2, 5, 7, 40, 41, 60, 99], 1] = np.nan
  with pytest.raises(ValueError, match=r'7 of 100 rows .* \(rows 2, 5, 7, 40, 41, \.\.\.\);'):
    finite.check_finite_rows(jnp.asarray(array), 'fake')
  # Finite values whose sum overflows, integers and empty arrays pass.
  finite.check_finite_rows(np.full((3, 2), 1e308), 'real')
  finite.check_finite_rows(np.arange(6).reshape(3, 2), 'real')
  finite.check_finite_rows(np.zeros((0, 4)), 'real')


# Argument checks.


@pytest.mark.parametrize(
  'call, message',
  [
    (lambda: fid.fid_from_features(np.zeros((5, 3)), np.zeros((5, 4))), 'same d'),
    (
      lambda: fid.frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2)),
      'different dimensions',
    ),
    (lambda: inception_score.inception_score(np.full((4, 2), 0.5), splits=5), 'splits=5'),
    (lambda: inception_score.inception_score(np.array([[2.0, -1.0]]), splits=1), 'softmax'),
    (lambda: kid.kernel_inception_distance(np.zeros((5, 3)), np.zeros((5, 2))), 'same d'),
    (lambda: mmd.mmd2(np.zeros((5, 3)), np.zeros((5, 2))), 'same d'),
    (lambda: nearest_neighbor.one_nn_accuracy(np.zeros((5, 3)), np.zeros((5, 2))), 'same d'),
    (lambda: parzen.parzen_log_likelihood(np.zeros((5, 3)), np.zeros((5, 2)), 1.0), 'same d'),
    (lambda: parzen.parzen_log_density(np.zeros((5, 3)), np.zeros((5, 3)), 0.0), 'sigma'),
    (lambda: precision_recall.precision_recall(np.zeros((3, 2)), np.zeros((9, 2))), 'k=3'),
    (lambda: precision_recall.density_coverage(np.zeros((9, 2)), np.zeros((9, 3))), 'same d'),
  ],
)
def test_invalid_arguments_raise_value_errors_that_name_the_problem(call, message):
  with pytest.raises(ValueError, match=message):
    call()
