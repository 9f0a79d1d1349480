"""Tests of the limited-data table (issue #19, item 6): D's gap, the runs' configs, the app.

The gap must be the hand-computed difference of means; D must be read in
evaluation mode without augmentation; and the tiny table's numbers must be
what the metrics and D give on the same runs.
"""

import json
import math
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from experiments import reproduce as reproduce_app
from gan_jax import assembly
from gan_jax import evaluation
from gan_jax import input_pipeline
from gan_jax import train
from gan_jax import workdirs
from gan_jax.metrics import fid
from gan_jax.metrics import mnist_classifier
from gan_jax.studies.reproduction import limited_data
from gan_jax.studies.reproduction import limited_data_mnist as table
from gan_jax.studies.reproduction import runs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# D's gap.


def test_overfitting_gap_by_hand():
  log3 = math.log(3.0)
  # sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4, sigmoid(-ln 3) = 1/4.
  gap = limited_data.overfitting_gap(np.array([0.0, log3]), np.array([-log3, -log3, -log3]))
  assert gap.train_logit == pytest.approx(log3 / 2)
  assert gap.held_out_logit == pytest.approx(-log3)
  assert gap.logit_gap == pytest.approx(1.5 * log3)
  assert gap.train_sigmoid == pytest.approx(0.625)
  assert gap.held_out_sigmoid == pytest.approx(0.25)
  assert gap.sigmoid_gap == pytest.approx(0.375)


def test_overfitting_gap_of_one_distribution_is_zero_and_needs_digits():
  logits = np.array([-2.0, 0.5, 7.0], np.float32)
  gap = limited_data.overfitting_gap(logits, logits[::-1])
  assert gap.logit_gap == 0.0 and gap.sigmoid_gap == pytest.approx(0.0, abs=1e-15)
  # Large logits do not overflow the sigmoid.
  assert limited_data.overfitting_gap(np.array([1e4]), np.array([-1e4])).sigmoid_gap == 1.0
  with pytest.raises(ValueError, match='at least one digit'):
    limited_data.overfitting_gap(np.zeros(0), logits)


def test_discriminator_is_read_in_evaluation_mode_without_augmentation():
  config = limited_data.table_config(
    reproduce_app.CONFIGS[table.MODEL]('tiny'),
    data='bundled_mnist',
    size=100,
    augmentation='diffaugment',
    num_steps=10,
    protocol=limited_data.TINY_PROTOCOL,
  )
  gan = assembly.build(config, (28, 28, 1), 10)
  assert gan.augmentation is not None  # The training step would augment; the gap must not.
  state = assembly.initial_state(config, gan, (28, 28, 1))
  variables = state.discriminator.variables()
  digits = np.random.default_rng(0).integers(0, 256, (7, 28, 28, 1), dtype=np.uint8)
  logits = limited_data.discriminator_logits(gan.discriminator, variables, digits, batch_size=3)
  expected = gan.discriminator.apply(
    variables, input_pipeline.to_model_range(digits), None, train=False
  ).logits
  assert logits.shape == (7,)
  np.testing.assert_allclose(logits, np.asarray(expected), rtol=1e-5, atol=1e-6)
  in_range = limited_data.discriminator_logits(
    gan.discriminator, variables, input_pipeline.to_model_range(digits), batch_size=7
  )
  np.testing.assert_allclose(in_range, logits, rtol=1e-5, atol=1e-6)


# The runs' configs.


def test_table_configs_share_steps_and_seed_and_hold_out_the_last_thousand():
  protocol = limited_data.Protocol()
  options = runs.Options(data='bundled_mnist', seeds=(0,), workdir_root='/unused')
  table_runs = limited_data.make_runs(reproduce_app.CONFIGS[table.MODEL](''), options, protocol)
  assert sorted(table_runs) == sorted(
    (size, name) for size in (100, 500, 4000) for name in ('none', 'diffaugment', 'ada')
  )
  for (size, name), (run,) in table_runs.items():
    config = run.config
    assert config.data.split == f'train[:{size}]' and run.seed == 0
    assert config.train.num_steps == protocol.num_steps
    assert config.eval.reference_split == 'train[4000:]'
    assert config.eval.feature_network == 'mnist_classifier'
    assert config.augment.name == name
  ada = table_runs[100, 'ada'][0].config
  # p can cross [0, 1] in a fifth of the run's images: 0.2 * steps * batch 64 / 1000.
  assert ada.augment.speed_kimg == pytest.approx(0.2 * protocol.num_steps * 64 / 1000)
  assert table_runs[100, 'diffaugment'][0].config.augment.policy == 'translation,cutout'
  assert max(protocol.train_sizes) <= 4000  # No training digit is held out.
  with pytest.raises(Exception, match='limited-data MNIST set'):
    limited_data.table_config(
      reproduce_app.CONFIGS[table.MODEL](''),
      data='bundled_faces',
      size=100,
      augmentation='none',
      num_steps=10,
      protocol=protocol,
    )


def _results(fids, gaps, p):
  """{(size, name): {0: RunResult}} with FID fids[name][i] and logit gap gaps[name][i]."""
  results = {}
  for i, size in enumerate((100, 500, 4000)):
    for name in ('none', 'diffaugment', 'ada'):
      gap = limited_data.Gap(gaps[name][i], 0.0, gaps[name][i], 0.5, 0.5, 0.0)
      results[size, name] = {
        0: limited_data.RunResult(fids[name][i], gap, p[i] if name == 'ada' else None)
      }
  return results


def test_findings_read_the_numbers_either_way():
  fids = {'none': [90, 60, 30], 'diffaugment': [70, 65, 29], 'ada': [95, 70, 40]}
  gaps = {'none': [3.0, 1.0, 0.2], 'diffaugment': [0.5, 0.3, -0.1], 'ada': [1.0, 0.5, -0.4]}
  lines = table.findings(_results(fids, gaps, [0.5, 0.25, 0.0]), floor=5.0, num_seeds=1)
  assert "D's logit gap shrinks as the training set grows: 3.00 at 100, 1.00 at 500" in lines[0]
  assert '100 digits: FID -20.0, gap -2.50' in lines[1]
  assert 'a lower FID at 2 and a gap closer to 0 at 3 of 3 sizes' in lines[1]
  assert 'a lower FID at 0 and a gap closer to 0 at 2 of 3 sizes' in lines[2]
  assert lines[3] == (
    'Lowest FID at each size: 100: DiffAugment (translation, cutout); 500: none; '
    '4,000: DiffAugment (translation, cutout).'
  )
  assert "ADA's p at the last step: 0.500 at 100, 0.250 at 500, 0.000 at 4,000 digits." in lines
  assert 'not established' in lines[-1]
  assert not any('times the real digits' in line or 'leak' in line for line in lines)
  gaps['none'] = [1.0, 2.0, 0.2]
  lines = table.findings(_results(fids, gaps, [0.9, 0.25, 0.0]), floor=2.0, num_seeds=3)
  assert 'does not shrink steadily' in lines[0] and 'mean ± standard deviation' in lines[-1]
  # FIDs of 29 and more against a floor of 2; p of 0.9: both said.
  assert "Every FID (29.0 at best) is over 10 times the real digits' 2.0" in lines[4]
  assert 'passed 0.8' in lines[-2]


# The app end to end.


@pytest.fixture(scope='module')
def tiny_table(tmp_path_factory):
  """experiments.reproduce --table=limited_data_mnist --tiny, one seed: nine tiny runs."""
  root = tmp_path_factory.mktemp('limited_data')
  workdir, results = str(root / 'runs'), str(root / 'results')
  env = dict(os.environ)
  # The three sizes compile the same steps: compile each once.
  env.update(
    JAX_COMPILATION_CACHE_DIR=str(root / 'jax_cache'),
    JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS='0.5',
  )
  result = subprocess.run(
    [
      sys.executable,
      '-m',
      'experiments.reproduce',
      f'--table={table.NAME}',
      '--tiny',
      '--seeds=1',
      f'--workdir={workdir}',
      f'--results_dir={results}',
    ],
    cwd=REPO,
    env=env,
    capture_output=True,
    text=True,
    timeout=900,
  )
  assert result.returncode == 0, result.stderr[-3000:]
  with open(os.path.join(results, f'{table.NAME}.json'), encoding='utf-8') as f:
    numbers = json.load(f)
  options = runs.Options(data='bundled_mnist', seeds=(0,), workdir_root=workdir, tiny=True)
  table_runs = limited_data.make_runs(
    reproduce_app.CONFIGS[table.MODEL]('tiny'), options, limited_data.TINY_PROTOCOL
  )
  return table_runs, numbers, results


def test_table_files_and_sane_numbers(tiny_table):
  table_runs, numbers, results = tiny_table
  with open(os.path.join(results, f'{table.NAME}.md'), encoding='utf-8') as f:
    markdown = f.read()
  assert os.path.getsize(os.path.join(results, f'{table.NAME}_samples.png')) > 0
  assert '--table=limited_data_mnist --seeds=1 --tiny' in markdown
  assert '## What it shows' in markdown and "ADA's p at the last step" in markdown
  assert len(numbers['runs']) == 9 and numbers['held_out'] == 'train[4000:]'
  for (size, name), (run,) in table_runs.items():
    found = numbers['runs'][limited_data.run_name(size, name)]['seeds']['0']
    assert np.isfinite(found['fid']) and found['fid'] > 0
    gap = found['gap']
    assert gap['logit_gap'] == pytest.approx(gap['train_logit'] - gap['held_out_logit'])
    assert -1 <= gap['sigmoid_gap'] <= 1
    assert (found['final_p'] is None) == (name != 'ada')
    if name == 'ada':
      assert 0.0 <= found['final_p'] <= 1.0
    assert (
      f'| {size:,} | {limited_data.AUGMENTATIONS[name].label} | {found["fid"]:.1f} |' in markdown
    )
  assert 0 < numbers['real_training_digits_fid'] < 1e3


def test_table_holds_what_fid_and_d_give_on_the_same_run(tiny_table):
  table_runs, numbers, _ = tiny_table
  (run,) = table_runs[100, 'ada']
  generate, state = train.restore_for_sampling(run.config, run.workdir)
  assert int(state.step) == run.final_step
  settings, info = run.config.eval, workdirs.read_data_info(run.workdir)
  evaluator = evaluation.Evaluator(
    run.config, generate=generate, latent_dim=run.config.model.latent_dim, image_shape=(28, 28, 1)
  )
  fake = evaluator.generated_images(state.sampling_generator())
  real, _ = evaluation.reference_images(
    run.config.data, 'train[4000:]', settings.num_reference, settings.seed
  )
  params = mnist_classifier.load_mnist_classifier()
  real_features, _ = mnist_classifier.classify(params, input_pipeline.to_model_range(real))
  fake_features, _ = mnist_classifier.classify(params, fake)
  found = numbers['runs'][limited_data.run_name(100, 'ada')]['seeds']['0']
  expected_fid = fid.fid_from_features(real_features, fake_features)
  assert found['fid'] == pytest.approx(expected_fid, rel=1e-4)
  assert found['final_p'] == pytest.approx(float(state.augment.p))

  # D's gap: its mean logit over the first digits drawn from each split, D in evaluation mode.
  gan = assembly.build(run.config, info.image_shape, info.num_classes)
  count = limited_data.TINY_PROTOCOL.gap_images
  means = []
  for split in ('train[:100]', 'train[4000:]'):
    digits, _ = evaluation.reference_images(run.config.data, split, count, settings.seed)
    logits = gan.discriminator.apply(
      state.discriminator.variables(), input_pipeline.to_model_range(digits), None, train=False
    ).logits
    means.append(float(jax.numpy.mean(logits)))
  assert found['gap']['train_logit'] == pytest.approx(means[0], rel=1e-4, abs=1e-5)
  assert found['gap']['held_out_logit'] == pytest.approx(means[1], rel=1e-4, abs=1e-5)
