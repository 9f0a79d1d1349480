"""The evaluators: metric names, feature networks, reference data, eval during training, the app."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from configs import gan_mnist
from gan_jax import config_sections
from gan_jax import errors
from gan_jax import evaluation
from gan_jax import feature_networks
from gan_jax import input_pipeline
from gan_jax import scoring
from gan_jax import summaries
from gan_jax import train
from gan_jax.metrics import fid
from gan_jax.metrics import mnist_classifier

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_metric_names_are_checked_with_the_valid_ones_listed():
  assert scoring.parse_metric_names(' fid, is ,kid') == ['fid', 'is', 'kid']
  with pytest.raises(errors.ConfigError, match=r"Unknown metric 'fd'; valid names: density_cov"):
    scoring.parse_metric_names('fid,fd')
  with pytest.raises(errors.ConfigError, match='eval.metrics is empty'):
    scoring.parse_metric_names(' , ')


def test_auto_feature_network_is_the_mnist_classifier_for_digits_only():
  assert feature_networks.resolve('auto', (28, 28, 1)) == 'mnist_classifier'
  assert feature_networks.resolve('auto', (64, 64, 3)) == 'inception'
  with pytest.raises(errors.ConfigError, match="Unknown eval.feature_network 'vgg'"):
    feature_networks.resolve('vgg', (28, 28, 1))


def test_an_unknown_resize_is_refused_before_the_weights_are_read():
  settings = config_sections.eval_config(feature_network='inception', resize='bicubic')
  with pytest.raises(errors.ConfigError, match="Unknown eval.resize 'bicubic'; valid names: clean"):
    feature_networks.load(settings, (32, 32, 3))


def test_the_resize_mode_reaches_the_network_and_the_protocol(monkeypatch):
  from gan_jax.metrics import inception  # pylint: disable=g-import-not-at-top
  from gan_jax.metrics import inception_weights  # pylint: disable=g-import-not-at-top

  calls = []

  def features(variables, images, batch_size, resize):
    calls.append((images.dtype, batch_size, resize))
    logits = np.zeros((len(images), 1008), np.float32)
    return inception.InceptionOutputs(np.zeros((len(images), 2048), np.float32), logits, logits)

  monkeypatch.setattr(inception_weights, 'load_inception_params', lambda path: {})
  monkeypatch.setattr(inception, 'compute_inception_features', features)
  for resize, phrase in [('tf1_bilinear', 'TF1 bilinear resize'), ('clean', "clean-fid's clean")]:
    settings = config_sections.eval_config(feature_network='inception', resize=resize)
    network = feature_networks.load(settings, (32, 32, 3))
    assert network.description.endswith(feature_networks.RESIZE_PROTOCOLS[resize])
    assert phrase in network.description
    network.embed(np.zeros((3, 32, 32, 3), np.float32))
    assert calls[-1] == (np.uint8, settings.batch_size, resize)


def test_missing_inception_weights_say_where_to_get_them(tmp_path):
  config = gan_mnist.get_config('tiny')
  config.eval.update(
    feature_network='inception', inception_weights=str(tmp_path / 'missing.pth'), metrics='fid'
  )
  with pytest.raises(errors.WeightsError, match=r'Download them .* from https://github.com/'):
    evaluation.Evaluator(
      config, generate=None, latent_dim=64, image_shape=(28, 28, 1), num_classes=0
    )


@pytest.mark.parametrize('field', ['num_samples', 'num_reference', 'batch_size'])
@pytest.mark.parametrize('value', [0, -5])
def test_eval_counts_must_be_positive(field, value):
  config = gan_mnist.get_config('tiny')
  config.eval[field] = value
  with pytest.raises(errors.ConfigError, match=rf'eval.{field}={value} must be positive'):
    evaluation.Evaluator(config, generate=None, latent_dim=8, image_shape=(28, 28, 1))


def _digits(count, seed):
  source, _ = input_pipeline.get_source(config_sections.data_config(name='bundled_mnist'))
  indices = np.random.default_rng(seed).permutation(len(source))[:count]
  return np.stack([input_pipeline.to_model_range(source[int(i)]['image']) for i in indices])


class _FixedImages:
  """A stand-in generator: hands out the given images in order, batch by batch."""

  def __init__(self, images):
    self._images, self._next = images, 0

  def __call__(self, generator_state, z, labels):
    del generator_state, labels
    batch = self._images[self._next : self._next + len(z)]
    self._next += len(z)
    return batch


def test_evaluator_scores_real_digits_well_and_noise_badly():
  config = gan_mnist.get_config('tiny')
  config.eval.update(
    metrics='fid,is,kid,one_nn', num_samples=300, num_reference=300, batch_size=100
  )
  scores = {}
  for name, images in {
    'digits': _digits(300, seed=1),
    'noise': np.random.default_rng(0).uniform(-1, 1, (300, 28, 28, 1)).astype(np.float32),
  }.items():
    evaluator = evaluation.Evaluator(
      config, generate=_FixedImages(images), latent_dim=64, image_shape=(28, 28, 1)
    )
    scores[name] = evaluator.evaluate(generator_state=None)
  digits, noise = scores['digits'], scores['noise']
  # Real digits against real digits: low FID and KID, high IS, 1-NN near chance.
  assert digits['fid'] < 0.1 * noise['fid'] and digits['kid'] < 0.1 * noise['kid']
  assert digits['is'] > 7.0 > noise['is']
  assert 0.4 < digits['one_nn'] < 0.65 and noise['one_nn'] > 0.95
  # FID is the library's FID of the classifier's features of the same images.
  real = evaluation.reference_images(config.data, '', 300, seed=0)[0]
  params = mnist_classifier.load_mnist_classifier()
  expected = fid.fid_from_features(
    mnist_classifier.classify(params, feature_networks.to_model_range(real))[0],
    mnist_classifier.classify(params, _digits(300, 1))[0],
  )
  np.testing.assert_allclose(digits['fid'], expected, rtol=1e-6)
  assert evaluator.protocol['num_reference'] == 300
  assert 'bundled_mnist' in evaluator.protocol['reference']
  assert 'MNIST classifier' in evaluator.protocol['feature_network']


def test_one_nn_compares_equally_many_real_and_generated_images():
  config = gan_mnist.get_config('tiny')
  config.eval.update(metrics='one_nn', num_samples=200, num_reference=50, batch_size=100)
  # Generated images are real digits too: with balanced sets both accuracies are near
  # chance (0.42 overall, 0.48 on real), where 50 real against 200 generated would leave
  # most real digits with a generated nearest neighbour (0.18 on real, 0.68 overall).
  evaluator = evaluation.Evaluator(
    config, generate=_FixedImages(_digits(200, seed=3)), latent_dim=8, image_shape=(28, 28, 1)
  )
  results = evaluator.evaluate(generator_state=None)
  assert results['one_nn'] < 0.6 and results['one_nn_real'] > 0.3


def test_conditional_generator_is_asked_for_every_class_equally():
  config = gan_mnist.get_config('tiny')
  config.eval.update(metrics='mmd', num_samples=40, num_reference=20, batch_size=15)
  asked = []

  def generate(generator_state, z, labels):
    asked.extend(np.asarray(labels))
    return np.zeros((len(z), 28, 28, 1), np.float32)

  evaluator = evaluation.Evaluator(
    config, generate=generate, latent_dim=8, image_shape=(28, 28, 1), num_classes=10
  )
  images = evaluator.generated_images(generator_state=None)
  assert images.shape == (40, 28, 28, 1)
  np.testing.assert_array_equal(np.bincount(asked), np.full(10, 4))


def test_training_evaluates_every_eval_every_steps(tmp_path):
  config = gan_mnist.get_config('tiny')
  config.eval.update(every=3, metrics='fid,is')
  train.train_and_evaluate(config, str(tmp_path))
  records = [r for r in summaries.read_metrics(str(tmp_path)) if 'eval/fid' in r]
  assert [r['step'] for r in records] == [3, 6]
  assert all(r['eval/fid'] > 0 and 1 <= r['eval/is'] <= 10 for r in records)


def test_evaluate_app_writes_numbers_with_their_protocol(tmp_path):
  workdir = str(tmp_path / 'run')
  run = lambda *args: subprocess.run(
    [sys.executable, '-m', *args], cwd=REPO, capture_output=True, text=True, timeout=300
  )
  trained = run('experiments.train', '--config=configs/gan_mnist.py:tiny', f'--workdir={workdir}')
  assert trained.returncode == 0, trained.stderr[-3000:]
  evaluated = run(
    'experiments.evaluate',
    f'--workdir={workdir}',
    '--config.eval.metrics=fid,is,kid,precision_recall,density_coverage,mmd,one_nn,parzen',
    '--config.eval.num_samples=100',
    '--config.eval.num_reference=100',
  )
  assert evaluated.returncode == 0, evaluated.stderr[-3000:]
  with open(os.path.join(workdir, 'eval.json')) as f:
    record = json.load(f)
  assert record['step'] == 6 and 'step 6' in evaluated.stdout
  expected = {'fid', 'is', 'kid', 'precision', 'recall', 'density', 'coverage', 'mmd2', 'one_nn'}
  assert expected <= set(record['results']) and 'parzen_sigma' in record['results']
  assert set(record['protocol']['metrics']) == {
    'fid',
    'is',
    'kid',
    'precision_recall',
    'density_coverage',
    'mmd',
    'one_nn',
    'parzen',
  }
  assert record['protocol']['num_samples'] == 100
  bad = run('experiments.evaluate', f'--workdir={workdir}', '--config.eval.metrics=fid,lpips')
  assert bad.returncode == 1 and "Error: Unknown metric 'lpips'" in bad.stderr
  assert 'Traceback' not in bad.stderr
  no_weights = run(
    'experiments.evaluate',
    f'--workdir={workdir}',
    '--config.eval.feature_network=inception',
    f'--config.eval.inception_weights={tmp_path / "missing.pth"}',
  )
  assert no_weights.returncode == 1 and 'Error: The FID Inception weights are not at' in (
    no_weights.stderr
  )
  assert 'Download them (96 MB)' in no_weights.stderr and 'Traceback' not in no_weights.stderr
