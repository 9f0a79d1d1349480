"""Tests of the committed MNIST classifier as the feature network of IS and FID.

The numbers asserted are the ones measured on the committed weights (see
gan_jax/metrics/weights/mnist_classifier.json), with a margin: a retrained or
corrupted weights file that classifies worse fails here.
"""

import json
import os

import jax
import numpy as np
import pytest

from gan_jax import config_sections
from gan_jax import errors
from gan_jax import input_pipeline
from gan_jax.metrics import fid
from gan_jax.metrics import inception_score
from gan_jax.metrics import mnist_classifier


@pytest.fixture(scope='module')
def heldout():
  """The 1,000 held-out bundled digits [1000, 28, 28, 1] in [-1, 1], labels, features and probs."""
  dataset, _ = input_pipeline.get_source(config_sections.data_config(name='bundled_mnist'))
  labels = np.array([dataset[index]['label'] for index in range(len(dataset))])
  indices = mnist_classifier.bundled_test_indices(labels)
  images = np.stack([input_pipeline.to_model_range(dataset[int(i)]['image']) for i in indices])
  params = mnist_classifier.load_mnist_classifier()
  features, probs = mnist_classifier.classify(params, images)
  return dict(params=params, images=images, labels=labels[indices], features=features, probs=probs)


def test_bundled_test_indices_are_the_last_hundred_of_each_class():
  labels = np.repeat(np.arange(10), 500)
  indices = mnist_classifier.bundled_test_indices(labels)
  expected = np.concatenate([np.arange(500 * c + 400, 500 * (c + 1)) for c in range(10)])
  np.testing.assert_array_equal(indices, expected)


def test_committed_weights_are_small_and_documented(heldout):
  size = os.path.getsize(mnist_classifier.DEFAULT_WEIGHTS_PATH)
  assert size < 500_000
  with open(mnist_classifier.DEFAULT_WEIGHTS_PATH.replace('.npz', '.json')) as f:
    protocol = json.load(f)
  accuracy = np.mean(heldout['probs'].argmax(axis=1) == heldout['labels'])
  # The protocol's figure is reproduced (up to a digit flipped by rounding).
  assert accuracy == pytest.approx(protocol['test_accuracy'], abs=0.002)


def test_heldout_accuracy(heldout):
  # Measured: 0.986 (986 of 1,000).
  assert np.mean(heldout['probs'].argmax(axis=1) == heldout['labels']) >= 0.98


def test_probabilities_and_features(heldout):
  assert heldout['features'].shape == (1000, 128) and heldout['probs'].shape == (1000, 10)
  np.testing.assert_allclose(heldout['probs'].sum(axis=1), 1.0, atol=1e-5)
  assert heldout['features'].min() >= 0.0  # Post-ReLU.


def test_classify_does_not_depend_on_batching(heldout):
  # 20 digits in batches of 7: two full batches and one padded with 1 of 7 real digits.
  features, probs = mnist_classifier.classify(
    heldout['params'], heldout['images'][:20], batch_size=7
  )
  np.testing.assert_allclose(features, heldout['features'][:20], rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(probs, heldout['probs'][:20], rtol=1e-5, atol=1e-6)


def test_inception_score_of_real_digits_is_near_ten(heldout):
  # Ten balanced classes bound IS by 10; measured 9.59 in one split. The
  # held-out digits are sorted by class, so several splits would each hold one
  # class and score near 1: the set must be shuffled before splitting.
  score, _ = inception_score.inception_score(heldout['probs'], splits=1)
  assert 9.3 < score <= 10.0


@pytest.mark.parametrize('digit', range(10))
def test_inception_score_of_one_class_is_near_one(heldout, digit):
  # Measured between 1.002 (6) and 1.31 (2).
  probs = heldout['probs'][heldout['labels'] == digit]
  score, _ = inception_score.inception_score(probs, splits=1)
  assert 1.0 <= score < 1.5


def test_inception_score_of_one_repeated_digit_is_one(heldout):
  _, probs = mnist_classifier.classify(
    heldout['params'], np.repeat(heldout['images'][:1], 50, axis=0), batch_size=16
  )
  assert inception_score.inception_score(probs, splits=5)[0] == pytest.approx(1.0, abs=1e-5)


def test_fid_separates_real_digits_from_noise_and_blanks(heldout):
  rng = np.random.default_rng(0)
  order = rng.permutation(1000)
  real_a, real_b = heldout['features'][order[:500]], heldout['features'][order[500:]]
  noise = rng.uniform(-1.0, 1.0, (500, 28, 28, 1)).astype(np.float32)
  blank = np.full((500, 28, 28, 1), -1.0, np.float32) + 0.01 * rng.normal(size=(500, 28, 28, 1))
  # Measured: 12.5 between the halves, 591 to noise, 700 to blanks.
  assert fid.fid_from_features(real_a, real_b) < 25.0
  for fake in (noise, blank):
    fake_features, _ = mnist_classifier.classify(heldout['params'], fake)
    assert fid.fid_from_features(real_a, fake_features) > 300.0


def test_missing_weights_file_is_a_clear_error(tmp_path):
  path = str(tmp_path / 'absent.npz')
  with pytest.raises(errors.WeightsError, match='tools.train_mnist_classifier') as raised:
    mnist_classifier.load_mnist_classifier(path)
  assert path in str(raised.value)


def test_weights_round_trip_and_wrong_architecture(heldout, tmp_path):
  rng = np.random.default_rng(0)
  params = jax.tree.map(lambda a: np.asarray(a) + rng.normal(size=a.shape), heldout['params'])
  path = str(tmp_path / 'weights.npz')
  mnist_classifier.save_weights(path, params)
  loaded = mnist_classifier.load_mnist_classifier(path)
  jax.tree.map(
    lambda a, b: np.testing.assert_array_equal(np.asarray(a, np.float16).astype(np.float32), b),
    params,
    loaded,
  )
  mnist_classifier.save_weights(path, {name: params[name] for name in ('conv1', 'conv2')})
  with pytest.raises(errors.WeightsError, match='does not hold MnistClassifier weights'):
    mnist_classifier.load_mnist_classifier(path)
  with open(path, 'wb') as f:
    f.write(b'not an npz file')
  with pytest.raises(errors.WeightsError, match='not a readable .npz'):
    mnist_classifier.load_mnist_classifier(path)


@pytest.mark.parametrize(
  'images, message',
  [
    (np.zeros((4, 28, 28), np.float32), r'\[N, 28, 28, 1\]'),
    (np.zeros((4, 32, 32, 3), np.float32), r'\[N, 28, 28, 1\]'),
    (np.zeros((4, 28, 28, 1), np.uint8), 'to_model_range'),
  ],
)
def test_classify_rejects_other_images(heldout, images, message):
  with pytest.raises(errors.ConfigError, match=message):
    mnist_classifier.classify(heldout['params'], images)
