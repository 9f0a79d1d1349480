"""Scoring image sets from disk: reading folders and arrays, FID statistics, the two apps."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gan_jax import config_sections
from gan_jax import errors
from gan_jax import evaluation
from gan_jax import feature_networks
from gan_jax import image_sets
from gan_jax.metrics import fid
from gan_jax.metrics import mnist_classifier

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def digits():
  """400 bundled MNIST digits, uint8 [400, 28, 28, 1]."""
  images, _ = evaluation.reference_images(config_sections.data_config(), 'train', 400, seed=0)
  return images


def _settings(**overrides):
  return config_sections.eval_config(**{'batch_size': 100, **overrides})


def _classifier_features(images):
  params = mnist_classifier.load_mnist_classifier()
  return mnist_classifier.classify(params, feature_networks.to_model_range(images))


def test_a_folder_reads_as_stored_grey_when_every_image_is(tmp_path, digits):
  for i, digit in enumerate(digits[:5]):
    Image.fromarray(digit[..., 0]).save(tmp_path / f'{i}.png')
  image_set = image_sets.read(str(tmp_path))
  np.testing.assert_array_equal(image_set.images, digits[:5])
  colour = np.random.default_rng(0).integers(0, 256, (8, 8, 3), np.uint8)
  Image.fromarray(colour).save(tmp_path / 'colour.png')
  Image.fromarray(digits[0, ..., 0]).resize((8, 8)).save(tmp_path / 'small.png')
  with pytest.raises(errors.DataError, match=r'have 2 sizes: 28x28 \(5\), 8x8 \(2\)'):
    image_sets.read(str(tmp_path))


def test_arrays_read_by_their_names_and_ranges(tmp_path, digits):
  floats = feature_networks.to_model_range(digits[:4])
  np.savez(tmp_path / 'samples.npz', samples=floats, labels=np.arange(4))
  np.testing.assert_array_equal(image_sets.read(str(tmp_path / 'samples.npz')).images, floats)
  np.save(tmp_path / 'grey.npy', digits[:4, ..., 0])
  np.testing.assert_array_equal(image_sets.read(str(tmp_path / 'grey.npy')).images, digits[:4])
  for name, array, message in [
    ('wide.npy', floats * 255, r'floats in \[-2\d\d.*save images in \[0, 255\] as uint8'),
    ('first.npy', np.zeros((4, 3, 8, 8), np.uint8), r'channels first\? transpose'),
    ('ints.npy', digits[:4].astype(np.int64), 'holds int64 values'),
  ]:
    np.save(tmp_path / name, array)
    with pytest.raises(errors.DataError, match=message):
      image_sets.read(str(tmp_path / name))
  np.savez(tmp_path / 'other.npz', a=floats, b=floats)
  with pytest.raises(errors.DataError, match=r"holds arrays \['a', 'b'\], none of them named"):
    image_sets.read(str(tmp_path / 'other.npz'))
  with pytest.raises(errors.DataError, match='does not exist'):
    image_sets.read(str(tmp_path / 'missing'))


def test_two_image_sets_score_as_the_metrics_on_their_features(digits):
  generated = image_sets.ImageSet(digits[:200], None, 'first 200')
  reference = image_sets.ImageSet(digits[200:], None, 'last 200')
  results, protocol = evaluation.score_image_sets(
    _settings(metrics='fid,is,mmd'), generated, reference
  )
  real_features, _ = _classifier_features(digits[200:])
  fake_features, _ = _classifier_features(digits[:200])
  np.testing.assert_allclose(
    results['fid'], fid.fid_from_features(real_features, fake_features), rtol=1e-9
  )
  assert results['is'] > 7 and abs(results['mmd2']) < 0.01
  assert protocol['num_samples'] == 200 and protocol['reference'] == 'last 200'
  assert 'MNIST classifier' in protocol['feature_network']


def test_a_statistics_reference_gives_the_fid_of_its_images(tmp_path, digits):
  real_features, _ = _classifier_features(digits[200:])
  path = str(tmp_path / 'stats.npz')
  fid.save_statistics(path, *fid.feature_statistics(real_features))
  reference = image_sets.read(path)
  assert reference.images is None
  generated = image_sets.ImageSet(digits[:200], None, 'first 200')
  with_images = image_sets.ImageSet(digits[200:], None, 'last 200')
  settings = _settings(metrics='fid,is,fid_infinity')
  from_stats, protocol = evaluation.score_image_sets(settings, generated, reference)
  from_images, _ = evaluation.score_image_sets(settings, generated, with_images)
  for name in ('fid', 'fid_inf', 'fid_inf_slope'):
    np.testing.assert_allclose(from_stats[name], from_images[name], rtol=1e-10)
  assert from_stats['is'] == from_images['is'] and protocol['num_reference'] is None
  with pytest.raises(errors.ConfigError, match=r'FID statistics only .*; kid need its images'):
    evaluation.score_image_sets(_settings(metrics='fid,kid'), generated, reference)
  inception_sized = image_sets.ImageSet(None, (np.zeros(2048), np.eye(2048)), 'inception')
  with pytest.raises(errors.ConfigError, match='of 2048-d features, but mnist_classifier gives'):
    evaluation.score_image_sets(_settings(metrics='fid'), generated, inception_sized)


def test_inception_score_splits_in_order_or_shuffled_and_kid_subsets_are_reported(digits):
  _, probs = _classifier_features(digits[:200])
  by_class = image_sets.ImageSet(digits[:200][np.argsort(probs.argmax(axis=1))], None, 'sorted')
  reference = image_sets.ImageSet(digits[200:], None, 'last 200')
  scores, protocols = {}, {}
  for shuffle in (False, True):
    settings = _settings(metrics='is,kid', is_shuffle=shuffle)
    scores[shuffle], protocol = evaluation.score_image_sets(settings, by_class, reference)
    protocols[shuffle] = protocol['metrics']['is']
  # Splits of class-sorted digits hold one or two classes each; shuffled ones hold all ten.
  assert scores[False]['is'] < 2.5 and scores[True]['is'] > 7
  assert 'in sample order' in protocols[False] and 'RandomState(2020)' in protocols[True]
  # 200 of each: every KID subset is both whole sets, so there is no spread.
  assert scores[True]['kid_subset_size'] == 200 and scores[True]['kid_std'] == 0


def test_pixel_metrics_need_one_image_shape(digits):
  generated = image_sets.ImageSet(digits[:50], None, 'grey')
  reference = image_sets.ImageSet(np.repeat(digits[50:100], 3, axis=-1), None, 'rgb')
  with pytest.raises(errors.ConfigError, match=r'\(28, 28, 1\) and the reference \(28, 28, 3\)'):
    evaluation.score_image_sets(_settings(metrics='mmd'), generated, reference)


def _run(*args):
  return subprocess.run(
    [sys.executable, '-m', *args], cwd=REPO, capture_output=True, text=True, timeout=300
  )


def test_fid_stats_then_evaluate_images_against_them(tmp_path, digits):
  stats = str(tmp_path / 'mnist.npz')
  written = _run(
    'experiments.fid_stats', '--data=bundled_mnist', '--num_images=300', f'--out={stats}'
  )
  assert written.returncode == 0, written.stderr[-3000:]
  with np.load(stats) as data:
    assert data['mu'].shape == (128,) and data['sigma'].shape == (128, 128)
    assert int(data['num_images']) == 300 and 'MNIST classifier' in str(data['protocol'])
  # The statistics are those of the same 300 digits drawn in this process.
  real, _ = evaluation.reference_images(config_sections.data_config(), 'train', 300, seed=0)
  mu, sigma = fid.feature_statistics(_classifier_features(real)[0])
  np.testing.assert_allclose(fid.load_statistics(stats)[0], mu, rtol=1e-6, atol=1e-6)

  samples = str(tmp_path / 'samples.npz')
  np.savez(samples, samples=feature_networks.to_model_range(digits[:100]))
  out = str(tmp_path / 'eval.json')
  evaluated = _run(
    'experiments.evaluate',
    f'--images={samples}',
    f'--reference={stats}',
    '--config.eval.metrics=fid,is',
    f'--out={out}',
  )
  assert evaluated.returncode == 0, evaluated.stderr[-3000:]
  with open(out) as f:
    record = json.load(f)
  expected = fid.frechet_distance(
    mu, sigma, *fid.feature_statistics(_classifier_features(digits[:100])[0])
  )
  np.testing.assert_allclose(record['results']['fid'], expected, rtol=1e-5)
  assert record['protocol']['reference'].startswith('FID statistics')
  both = _run('experiments.evaluate', '--workdir=x', f'--images={samples}')
  assert both.returncode == 1 and both.stderr.count('\n') == 1 and 'not both' in both.stderr
