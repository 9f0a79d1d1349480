"""Tests of the published tables (gan_jax.studies.reproduction, experiments.reproduce).

The metric wrappers are checked against references written here from the
formulas of Aakash's GAN-variants slides and against closed forms; the tables'
logic on small inputs;
and the app end to end on tiny configs, whose numbers must equal what
`gan_jax.metrics` gives on the same samples.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from configs import gan_mnist
from gan_jax import errors
from gan_jax.metrics import parzen
from gan_jax.studies.reproduction import dcgan_faces_epochs
from gan_jax.studies.reproduction import minibatch_metrics
from gan_jax.studies.reproduction import mmd_1nn_mnist
from gan_jax.studies.reproduction import mnist
from gan_jax.studies.reproduction import parzen_mnist
from gan_jax.studies.reproduction import published
from gan_jax.studies.reproduction import report
from gan_jax.studies.reproduction import runs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def seed004_scores(real, fake):
  """The metric.py of Aakash's slides (compute_score: mmd and knn with k = 1), in float64 numpy."""
  x, y = real.reshape(len(real), -1).astype(np.float64), fake.reshape(len(fake), -1)
  pooled = np.concatenate([x, y.astype(np.float64)])
  squared = np.sum((pooled[:, None] - pooled[None]) ** 2, axis=-1)
  m = len(x)
  m_xx, m_xy, m_yy = squared[:m, :m], squared[:m, m:], squared[m:, m:]
  scale = m_xx.mean()
  kernel = lambda d: np.exp(-d / (scale * 2.0))
  mmd = np.sqrt(max(kernel(m_xx).mean() + kernel(m_yy).mean() - 2 * kernel(m_xy).mean(), 0.0))
  labels = np.r_[np.ones(m), np.zeros(len(y))]
  predicted = labels[np.argmin(squared + np.diag(np.full(len(pooled), np.inf)), axis=0)]
  correct = predicted == labels
  return mmd, correct.mean(), correct[:m].mean(), correct[m:].mean()


# The scores of Aakash's slides.


def test_minibatch_scores_match_seed004_formulas():
  rng = np.random.default_rng(0)
  real = rng.normal(size=(30, 5, 5, 1))
  fake = rng.normal(0.4, 1.3, size=(30, 5, 5, 1))
  np.testing.assert_allclose(
    minibatch_metrics.minibatch_scores(real, fake), seed004_scores(real, fake), rtol=1e-5
  )


def test_minibatch_scores_of_a_copy_are_zero():
  # Every point's nearest other point is its copy, of the other class. MMD^2 is
  # 0 up to float32 rounding, which the square root magnifies.
  real = np.random.default_rng(1).normal(size=(12, 6))
  assert minibatch_metrics.minibatch_scores(real, real.copy()) == pytest.approx(
    (0, 0, 0, 0), abs=1e-3
  )


def test_kernel_width_is_the_root_mean_squared_pair_distance():
  # Two points at distance 2: squared distances [[0, 4], [4, 0]], mean 2.
  assert minibatch_metrics.kernel_width([[0.0, 0.0], [2.0, 0.0]]) == pytest.approx(np.sqrt(2.0))


# Parzen evaluation.


def test_parzen_evaluation_picks_the_likeliest_sigma_and_scores_the_test_set():
  # One kernel centre at 0 in one dimension: log p(x) = -x^2 / (2 s^2) - log(2 pi s^2) / 2,
  # which for validation points at +-1 is largest at s = 1; at x = 0 it is -log(2 pi) / 2.
  result = parzen_mnist.evaluate(
    np.zeros((1, 1)), np.array([[1.0], [-1.0]]), np.zeros((3, 1)), (0.5, 1.0, 2.0)
  )
  assert result.sigma == 1.0
  assert result.mean == pytest.approx(-0.5 * np.log(2 * np.pi), rel=1e-6)
  assert result.standard_error == pytest.approx(0.0, abs=1e-6)
  expected_curve = [-1 / (2 * s**2) - 0.5 * np.log(2 * np.pi * s**2) for s in (0.5, 1.0, 2.0)]
  np.testing.assert_allclose(result.validation_curve, expected_curve, rtol=1e-5)


def test_pixel_scales_map_to_the_unit_interval():
  np.testing.assert_allclose(
    parzen_mnist.unit_interval(np.array([[0, 51, 255]], np.uint8)), [[0, 0.2, 1]]
  )
  np.testing.assert_allclose(
    parzen_mnist.samples_in_unit_interval(np.array([[-1.0, 0.0, 1.0]])), [[0, 0.5, 1]]
  )


# Steps, aggregation and rendering.


def test_evenly_spaced_steps():
  assert runs.evenly_spaced_steps(30_000, 10) == tuple(range(3_000, 30_001, 3_000))
  assert runs.evenly_spaced_steps(6, 10) == (1, 2, 3, 4, 5, 6)
  assert runs.evenly_spaced_steps(10, 3) == (3, 7, 10)


def test_epoch_end_steps_of_seed004_epochs_on_the_bundled_faces():
  steps = dcgan_faces_epochs.epoch_end_steps(published.DCGAN_FACES_EPOCHS, 100, 64)
  assert steps == (2, 79, 157, 235, 313)
  # Aakash's slides: 683 photos at batch 64 is 11 steps an epoch (the last batch partial).
  assert dcgan_faces_epochs.epoch_end_steps((1, 200), 683, 64) == (11, 2135)


def test_summarize_over_training_and_final():
  # 2 seeds x 2 steps x 2 batches x 4 columns.
  scores = [np.arange(16.0).reshape(2, 2, 4), 100 + np.arange(16.0).reshape(2, 2, 4)]
  summary = mmd_1nn_mnist.summarize(scores)
  every_batch = np.concatenate([s.reshape(-1, 4) for s in scores])
  np.testing.assert_allclose(summary.over_training_mean, every_batch.mean(0))
  np.testing.assert_allclose(summary.over_training_variance, every_batch.var(0))
  finals = np.array([[10.0, 11, 12, 13], [110, 111, 112, 113]])  # Means of the last step's batches.
  np.testing.assert_allclose(summary.final_mean, finals.mean(0))
  np.testing.assert_allclose(summary.final_std, np.full(4, np.std([10, 110], ddof=1)))
  np.testing.assert_allclose(summary.per_step_mean[0], [52, 53, 54, 55])


def test_report_formatting():
  assert report.plus_minus(0.19644, 0.00637, digits=4) == '0.1964 ± 0.0064'
  assert report.plus_minus(225.0, float('nan'), digits=1) == '225.0'
  assert report.mean_and_std([1.0, 3.0]) == (2.0, pytest.approx(np.sqrt(2.0)))
  assert np.isnan(report.mean_and_std([5.0])[1])
  assert report.markdown_table(['a', 'b'], [['1', '2']]) == '| a | b |\n| --- | --- |\n| 1 | 2 |'
  with pytest.raises(ValueError, match='2 cells'):
    report.markdown_table(['a'], [['1', '2']])
  assert report.duration(725) == '12 min 5 s' and report.duration(40.2) == '40 s'


def test_parzen_table_puts_ours_beside_the_seeds():
  result = lambda mean: parzen_mnist.ParzenResult(0.2, mean, 1.5, (-5.0, 3.0))
  markdown = parzen_mnist.render(
    command='CMD',
    protocol=parzen_mnist.Protocol(),
    data='bundled_mnist',
    sizes={'train': 4000, 'validation': 500, 'test': 500},
    config=gan_mnist.get_config(),
    per_seed={0: result(200.0), 1: result(210.0)},
    reference=result(300.0),
    timing=['Training: T.'],
  )
  assert '| Adversarial nets | 225.0 ± 2.0 | Goodfellow et al. 2014, Table 1 |' in markdown
  assert f'**205.0 ± {np.std([200, 210], ddof=1):.1f}**' in markdown
  assert '| 1 | 0.2000 | 3.0 | 210.0 ± 1.5 |' in markdown
  assert '`train[4500:]` (500)' in markdown and '10,000 samples' in markdown
  assert 'G 64-256-256-784, D 784-256-256-1' in markdown and '`CMD`' in markdown


def test_mmd_table_puts_ours_beside_the_seeds():
  summary = mmd_1nn_mnist.Summary(
    np.full(4, 0.5), np.full(4, 0.01), np.full(4, 0.25), np.full(4, 0.02), np.zeros((2, 4))
  )
  markdown = mmd_1nn_mnist.render(
    command='CMD',
    protocol=mmd_1nn_mnist.Protocol(),
    data='bundled_mnist',
    train_size=4000,
    configs={name: gan_mnist.get_config() for name in mmd_1nn_mnist.MODELS},
    evaluation_steps={name: (5, 10) for name in mmd_1nn_mnist.MODELS},
    summaries={name: summary for name in mmd_1nn_mnist.MODELS},
    per_seed_final={name: {0: np.full(4, 0.3)} for name in mmd_1nn_mnist.MODELS},
    real_pairs=np.array([[0.1, 0.5, 0.5, 0.5], [0.3, 0.5, 0.5, 0.5]]),
    timing=['Training: T.'],
  )
  assert '0.1079 ± 0.0016 | 0.6788 ± 0.0019 | 0.5409 ± 0.0198 | 0.8167 ± 0.0209' in markdown
  assert '| GAN | ours: over training, mean ± variance | 0.5000 ± 0.0100 |' in markdown
  assert '**0.2500 ± 0.0200**' in markdown
  assert (
    '| real vs real | ours: disjoint batches of training digits, mean ± variance | 0.2000 ± 0.0100 |'
    in markdown
  )


# Data splits and runs.


@pytest.fixture(scope='module')
def bundled_splits():
  return mnist.read_splits('bundled_mnist')


def test_bundled_mnist_splits_are_disjoint_and_class_balanced(bundled_splits):
  splits = bundled_splits
  assert {part: len(split.images) for part, split in splits.items()} == {
    'train': 4000,
    'validation': 500,
    'test': 500,
  }
  for split in splits.values():
    np.testing.assert_array_equal(np.bincount(split.labels), np.full(10, len(split.labels) // 10))


def test_overlapping_or_class_sorted_splits_are_refused():
  split = lambda labels: mnist.Split(np.zeros((len(labels), 28, 28, 1), np.uint8), np.array(labels))
  balanced = split(list(range(10)) * 2)
  named = {'train': 'train[:20]', 'validation': 'train[20:40]', 'test': 'test'}
  parts = {'train': balanced, 'validation': balanced, 'test': balanced}
  mnist.check_splits(named, parts, {'train': 40, 'test': 20})
  with pytest.raises(errors.DataError, match='together they hold 40 of the 30'):
    mnist.check_splits(named, parts, {'train': 30, 'test': 20})
  parts['validation'] = split([0, 1, 2, 3, 4] * 4)
  with pytest.raises(errors.DataError, match=r'validation split .* class\(es\) \[5, 6, 7, 8, 9\]'):
    mnist.check_splits(named, parts, {'train': 40, 'test': 20})


def test_bad_names_and_steps_are_config_errors():
  with pytest.raises(errors.ConfigError, match='valid names: bundled_mnist, mnist'):
    mnist.splits_of('cifar10')
  with pytest.raises(errors.ConfigError, match='must increase'):
    runs.make_run(
      'gan_mnist',
      gan_mnist.get_config(),
      seed=0,
      data={},
      evaluation_steps=(5, 5),
      workdir_root='/x',
    )
  names = ('gan_mnist', 'wgan_mnist')
  assert runs.parse_num_steps(['wgan_mnist=10000'], names) == {'wgan_mnist': 10_000}
  for item in ('wgan=10', 'wgan_mnist=0', 'wgan_mnist'):
    with pytest.raises(errors.ConfigError, match='CONFIG=STEPS'):
      runs.parse_num_steps([item], names)


# The app end to end.


@pytest.fixture(scope='module')
def tiny_parzen(tmp_path_factory):
  """experiments.reproduce --table=parzen_mnist on the tiny config, one seed."""
  root = tmp_path_factory.mktemp('reproduce')
  workdir, results = str(root / 'runs'), str(root / 'results')
  result = subprocess.run(
    [
      sys.executable,
      '-m',
      'experiments.reproduce',
      '--table=parzen_mnist',
      '--tiny',
      '--seeds=1',
      f'--workdir={workdir}',
      f'--results_dir={results}',
    ],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert result.returncode == 0, result.stderr[-3000:]
  options = runs.Options(data='bundled_mnist', seeds=(0,), workdir_root=workdir, tiny=True)
  (run,) = mnist.make_runs('gan_mnist', gan_mnist.get_config('tiny'), options)
  return run, results


def test_parzen_table_holds_what_the_metric_gives_on_the_same_samples(tiny_parzen, bundled_splits):
  run, results = tiny_parzen
  with open(os.path.join(results, 'parzen_mnist.md'), encoding='utf-8') as f:
    markdown = f.read()
  with open(os.path.join(results, 'parzen_mnist.json'), encoding='utf-8') as f:
    numbers = json.load(f)
  assert '| Adversarial nets | 225.0 ± 2.0 | Goodfellow et al. 2014, Table 1 |' in markdown
  assert os.path.getsize(os.path.join(results, 'parzen_mnist_samples.png')) > 0

  digits = lambda part: bundled_splits[part].images.reshape(-1, 784) / 255.0
  samples = runs.generator_samples(run, [run.final_step], parzen_mnist.TINY_PROTOCOL.num_samples)[0]
  centres = (samples.reshape(len(samples), -1) + 1.0) / 2.0
  sigma, _ = parzen.select_bandwidth(
    centres, digits('validation'), parzen_mnist.TINY_PROTOCOL.sigmas
  )
  mean, standard_error = parzen.parzen_log_likelihood(centres, digits('test'), sigma)
  assert numbers['per_seed']['0']['sigma'] == sigma
  assert numbers['per_seed']['0']['mean'] == pytest.approx(mean, rel=1e-6)
  assert f'| 0 | {sigma:.4f} |' in markdown
  assert f'{mean:.1f} ± {standard_error:.1f} |' in markdown


def test_runs_are_reused_and_checked(tiny_parzen):
  run, _ = tiny_parzen
  assert runs.train_through(run) == 0.0  # Already trained: nothing to do.
  other = run.config.copy_and_resolve_references()
  other.loss.name = 'minimax'
  with pytest.raises(errors.ConfigError, match='differs in loss.name'):
    runs.train_through(runs.Run(run.name, other, run.workdir, run.evaluation_steps))


def test_mmd_scores_of_a_run_are_seed004_scores_of_its_samples(tiny_parzen):
  run, _ = tiny_parzen
  protocol = mmd_1nn_mnist.Protocol(batch_size=10, batches_per_evaluation=2)
  train_digits = np.random.default_rng(3).uniform(-1, 1, size=(50, 28, 28, 1)).astype(np.float32)
  scores = mmd_1nn_mnist.score_run(run, train_digits, protocol)
  assert scores.shape == (len(run.evaluation_steps), 2, 4)
  samples = runs.generator_samples(run, run.evaluation_steps, 20)
  rng = np.random.default_rng(run.seed)
  for step_scores, step_samples in zip(scores, samples):
    batches = mmd_1nn_mnist.real_batch_indices(rng, 50, 10, 2)
    for batch_scores, batch, fake in zip(step_scores, batches, step_samples.reshape(2, 10, -1)):
      np.testing.assert_allclose(batch_scores, seed004_scores(train_digits[batch], fake), rtol=1e-4)
