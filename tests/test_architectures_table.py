"""Tests of the architectures table (issue #17): budgets, padded digits, and the app end to end.

The MNIST classifier must score digits padded to 32x32 exactly as the digits
themselves; the budget must turn into steps by its closed form and be reused;
and the tiny table's numbers must equal what `gan_jax.metrics` gives on the
same samples.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from experiments import reproduce as reproduce_app
from gan_jax import config_sections
from gan_jax import errors
from gan_jax import evaluation
from gan_jax import feature_networks
from gan_jax import input_pipeline
from gan_jax.metrics import fid
from gan_jax.metrics import inception_score
from gan_jax.metrics import mnist_classifier
from gan_jax.metrics import precision_recall
from gan_jax.studies import benchmarking
from gan_jax.studies.reproduction import architectures_mnist
from gan_jax.studies.reproduction import budgets

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUDGET_MINUTES = 0.01
TABLE = architectures_mnist.NAME


def _app(*flags, timeout=900, cache_dir=None):
  """experiments.reproduce with `flags`; a JAX compilation cache in `cache_dir`, if given."""
  env = dict(os.environ)
  if cache_dir:  # The calibration and the training compile the same step: compile it once.
    env.update(
      JAX_COMPILATION_CACHE_DIR=cache_dir, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS='0.5'
    )
  return subprocess.run(
    [sys.executable, '-m', 'experiments.reproduce', *flags],
    cwd=REPO,
    env=env,
    capture_output=True,
    text=True,
    timeout=timeout,
  )


# The MNIST classifier on digits padded to 32x32.


def test_padded_digits_score_exactly_as_the_digits():
  dataset, _ = input_pipeline.get_source(config_sections.data_config(name='bundled_mnist'))
  digits = np.stack([np.asarray(dataset[i]['image']) for i in range(40)])
  padded = np.stack([input_pipeline.centre_crop_and_resize(d, 32, crop_size=32) for d in digits])
  settings = config_sections.eval_config(feature_network='mnist_classifier', batch_size=16)
  plain = feature_networks.load(settings, (28, 28, 1))
  centred = feature_networks.load(settings, (32, 32, 1))
  for convert in (np.asarray, input_pipeline.to_model_range):  # uint8, and floats in [-1, 1].
    for expected, found in zip(plain.embed(convert(digits)), centred.embed(convert(padded))):
      np.testing.assert_array_equal(found, expected)
  assert 'centre 28x28' in centred.description and 'centre' not in plain.description


def test_auto_keeps_inception_at_32x32_and_other_shapes_are_refused():
  # A 32x32x1 set need not be digits: only a named mnist_classifier scores it.
  assert feature_networks.resolve('auto', (32, 32, 1)) == 'inception'
  settings = config_sections.eval_config(feature_network='mnist_classifier')
  with pytest.raises(
    errors.ConfigError, match=r'shape \(30, 30, 1\); use --config.eval.feature_network'
  ):
    feature_networks.load(settings, (30, 30, 1))


# Budgets.


def test_budget_steps_fill_the_budget():
  assert budgets.budget_steps(10, 0.25) == 2_400  # 600 s / 0.25 s.
  assert budgets.budget_steps(1, 0.7) == 85  # floor(60 / 0.7).
  assert budgets.budget_steps(0.001, 1.0) == 1  # At least one step.


def test_calibration_is_stored_and_reused_for_the_same_config_only(tmp_path, monkeypatch):
  timed = []

  def fake_benchmark(config, *, config_name, warmup_steps, timed_steps):
    timed.append((config_name, warmup_steps, timed_steps))
    return benchmarking.StepBenchmark(
      config_name, 'cpu', 8, 1, 2.0, 0.5, 0.4, 0.6, 16, 1e9, 2e9, 4e9, 0.5, 0, None
    )

  monkeypatch.setattr(benchmarking, 'benchmark_train_step', fake_benchmark)
  config = reproduce_app.CONFIGS['gan_mnist']('tiny')
  path = str(tmp_path / 'gan_mnist' / 'calibration.json')
  first = budgets.calibrate(config, path, warmup_steps=1, timed_steps=3)
  assert (first.step_seconds, first.compile_seconds) == (0.5, 2.0)
  assert budgets.calibrate(config, path, warmup_steps=1, timed_steps=3) == first
  assert timed == [('gan_mnist', 1, 3)]
  config.train.batch_size = 32  # Another step: timed anew.
  budgets.calibrate(config, path, warmup_steps=1, timed_steps=3)
  assert len(timed) == 2


def test_table_configs_pad_the_32x32_families_and_name_the_classifier():
  protocol = architectures_mnist.Protocol()
  for name in architectures_mnist.MODELS:
    config = architectures_mnist.table_config(
      reproduce_app.CONFIGS[name](''), 'bundled_mnist', protocol
    )
    padded = config.model.name in ('biggan', 'resnet')
    assert (config.data.image_size, config.data.crop_size) == ((32, 32) if padded else (0, 0))
    assert config.data.split == config.eval.reference_split == 'train[:4000]'
    assert config.eval.feature_network == 'mnist_classifier'
    assert config.train.generator_ema_decay == 0.0
  biggan = reproduce_app.CONFIGS['biggan_cifar10']('')
  biggan = architectures_mnist.table_config(biggan, 'mnist', protocol)
  assert biggan.model.conditioning != 'none' and biggan.model.base_width == 16
  # The ResNets at CPU widths; a tiny config's narrower widths stay.
  sngan = architectures_mnist.table_config(
    reproduce_app.CONFIGS['sngan_cifar10'](''), 'mnist', protocol
  )
  assert (sngan.model.generator_width, sngan.model.discriminator_width) == (64, 64)
  tiny = architectures_mnist.table_config(
    reproduce_app.CONFIGS['sngan_cifar10']('tiny'), 'mnist', protocol
  )
  assert (tiny.model.generator_width, tiny.model.discriminator_width) == (16, 16)


def test_budget_minutes_belongs_to_the_architectures_table():
  result = _app('--table=parzen_mnist', '--budget_minutes=5', timeout=120)
  assert result.returncode != 0
  assert f'--budget_minutes applies to --table={TABLE} or architectures_faces only' in result.stderr
  options = budgets.BudgetOptions(data='bundled_mnist', seeds=(0,), budget_minutes=2.5)
  assert options.command(TABLE, 'bundled_mnist').endswith('--seeds=1 --budget_minutes=2.5')


def test_render_gives_mean_and_spread_over_seeds():
  scores = lambda value: {'fid': value, 'is': 2.0, 'precision': 0.5, 'recall': 0.25}
  calibration = budgets.Calibration(0.125, 3.0, 'CPU, 2 cores')
  results = {
    name: architectures_mnist.ModelResult(
      1_000, 2_000, calibration, 4_800, 61.0, {0: scores(10.0), 1: scores(12.0)}
    )
    for name in architectures_mnist.MODELS
  }
  conditional = {'generated': 'z, classes 10 equally often'}
  protocols = {
    name: {
      'feature_network': 'net',
      'generated': 'z',
      'reference': 'ref',
      'metrics': {'fid': 'F'},
      **(conditional if name == 'biggan_cifar10' else {}),
    }
    for name in architectures_mnist.MODELS
  }
  options = budgets.BudgetOptions(data='bundled_mnist', seeds=(0, 1))
  markdown = architectures_mnist.render(
    command='CMD',
    options=options,
    protocol=architectures_mnist.Protocol(),
    configs={name: reproduce_app.CONFIGS[name]('') for name in architectures_mnist.MODELS},
    results=results,
    real=scores(1.0),
    evaluation_protocols=protocols,
    timing=['T.'],
  )
  spread = f'11.000 ± {np.std([10, 12], ddof=1):.3f}'
  assert (
    f'| DCGAN | 1,000 | 2,000 | 125.0 ms | 4,800 | 1 min 1 s | {spread} | 2.000 ± 0.000 |'
    in markdown
  )
  assert '| real digits (test split) |  |  |  |  |  | 1.000 | 2.000 | 0.500 | 0.250 |' in markdown
  unconditional = ', '.join(
    m.label for m in architectures_mnist.MODELS.values() if m.label != 'BigGAN'
  )
  assert f'Generated: z ({unconditional}); z, classes 10 equally often (BigGAN).' in markdown
  assert '10 min of train-step time per model on CPU, 2 cores' in markdown


# The app end to end.


@pytest.fixture(scope='module')
def tiny_table(tmp_path_factory):
  """experiments.reproduce --table=architectures_mnist on the tiny configs, one seed."""
  root = tmp_path_factory.mktemp('architectures')
  workdir, results = str(root / 'runs'), str(root / 'results')
  result = _app(
    f'--table={TABLE}',
    '--tiny',
    '--seeds=1',
    f'--budget_minutes={BUDGET_MINUTES}',
    f'--workdir={workdir}',
    f'--results_dir={results}',
    cache_dir=str(root / 'jax_cache'),
  )
  assert result.returncode == 0, result.stderr[-3000:]
  with open(os.path.join(results, f'{TABLE}.json'), encoding='utf-8') as f:
    numbers = json.load(f)
  options = budgets.BudgetOptions(
    data='bundled_mnist', seeds=(0,), workdir_root=workdir, tiny=True, budget_minutes=BUDGET_MINUTES
  )
  model_runs = {}
  for name in architectures_mnist.MODELS:
    config = architectures_mnist.table_config(
      reproduce_app.CONFIGS[name]('tiny'), 'bundled_mnist', architectures_mnist.TINY_PROTOCOL
    )
    steps = numbers['models'][name]['num_steps']
    (model_runs[name],) = architectures_mnist.make_runs(name, config, steps, options)
  return model_runs, numbers, results


def test_table_files_and_budget(tiny_table):
  model_runs, numbers, results = tiny_table
  with open(os.path.join(results, f'{TABLE}.md'), encoding='utf-8') as f:
    markdown = f.read()
  for name, run in model_runs.items():
    label = architectures_mnist.MODELS[name].label
    model = numbers['models'][name]
    assert f'| {label} | {model["generator_parameters"]:,} |' in markdown
    assert os.path.getsize(os.path.join(results, f'{TABLE}_{name}_samples.png')) > 0
    step_seconds = model['calibration']['step_seconds']
    assert model['num_steps'] == budgets.budget_steps(BUDGET_MINUTES, step_seconds)
    assert run.final_step == model['num_steps'] and os.path.exists(run.workdir)
  assert '| real digits (test split) |' in markdown
  assert f'--budget_minutes={BUDGET_MINUTES}' in markdown


def test_table_holds_what_the_metrics_give_on_the_same_samples(tiny_table):
  model_runs, numbers, _ = tiny_table
  params = mnist_classifier.load_mnist_classifier()
  for name, run in model_runs.items():
    evaluator, generator_state = architectures_mnist.evaluator_of(run)
    fake = evaluator.generated_images(generator_state)
    settings = run.config.eval
    real, _ = evaluation.reference_images(
      run.config.data, settings.reference_split, settings.num_reference, settings.seed
    )
    if fake.shape[1] == 32:  # The padded digits: the classifier sees the centre 28x28.
      assert (real[:, :2] == 0).all() and (real[:, :, 30:] == 0).all()
      fake, real = fake[:, 2:30, 2:30], real[:, 2:30, 2:30]
    real_features, _ = mnist_classifier.classify(params, input_pipeline.to_model_range(real))
    fake_features, fake_probs = mnist_classifier.classify(params, fake)
    precision, recall = precision_recall.precision_recall(real_features, fake_features, k=3)
    expected = {
      'fid': fid.fid_from_features(real_features, fake_features),
      'is': inception_score.inception_score(fake_probs, splits=10)[0],
      'precision': precision,
      'recall': recall,
    }
    found = numbers['models'][name]['scores']['0']
    for metric, value in expected.items():
      assert found[metric] == pytest.approx(value, rel=1e-4, abs=1e-6), (name, metric)
