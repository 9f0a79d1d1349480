"""Tests of the faces architectures table (issue #18, item 6): its scores and the table end to end.

Pooling and nearest faces are checked against closed forms; the tiny table's
numbers must be what `minibatch_metrics` gives on the runs' own samples, and a
G that copies the faces must score MMD 0, 1-NN accuracy 0 and distance 0.
"""

import json
import os

import numpy as np
import pytest

from configs import dcgan_faces
from configs import stylegan2_faces
from gan_jax.studies import benchmarking
from gan_jax.studies.reproduction import architectures_faces as table
from gan_jax.studies.reproduction import budgets
from gan_jax.studies.reproduction import face_scores
from gan_jax.studies.reproduction import minibatch_metrics
from gan_jax.studies.reproduction import runs

STEPS = 2
STEP_SECONDS = 0.5  # The calibration's step time, faked: the budget mechanism is
# tested in test_architectures_table.py, and timing would compile each step once more.
BUDGET_MINUTES = (STEPS + 0.5) * STEP_SECONDS / 60  # floor(budget / step) = STEPS.


def test_pooled_averages_blocks():
  images = np.arange(2 * 4 * 4 * 3, dtype=np.float32).reshape(2, 4, 4, 3)
  found = face_scores.pooled(images, 2).reshape(2, 2, 2, 3)
  # The top-left 2x2 block of channel 0 of image 0 holds 0, 3, 12, 15.
  assert found[0, 0, 0, 0] == pytest.approx(7.5)
  np.testing.assert_allclose(found, images.reshape(2, 2, 2, 2, 2, 3).mean(axis=(2, 4)))
  assert face_scores.pooled(images, 1).shape == (2, 3)
  with pytest.raises(ValueError, match='do not pool to 3x3'):
    face_scores.pooled(images, 3)


def test_nearest_gives_rms_distance_and_index():
  references = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]], np.float32)
  points = np.array([[0.9, 0.9, 0.9, 0.9], [0.0, 0.0, 0.0, 0.4]], np.float32)
  distance, index = face_scores.nearest(points, references)
  np.testing.assert_array_equal(index, [1, 0])
  # RMS over the 4 pixels: sqrt(4 * 0.01 / 4) and sqrt(0.16 / 4).
  np.testing.assert_allclose(distance, [0.1, 0.2], rtol=1e-5)


def test_copies_score_zero_and_real_halves_split_the_faces():
  faces = np.random.default_rng(0).uniform(-1, 1, (20, 12)).astype(np.float32)
  copies = face_scores.score_sets(faces, [faces])
  # MMD = sqrt(MMD^2): float32 rounding of MMD^2 ~ 1e-8 leaves ~1e-4.
  assert copies.row() == pytest.approx([0.0, 0.0, 0.0], abs=1e-3)
  assert copies.minibatch[0, 1:].tolist() == [0.0, 0.0, 0.0]
  halves = face_scores.score_real_halves(faces, num_splits=3)
  assert halves.minibatch.shape == (3, 4) and halves.nearest_face.shape == (30,)
  assert halves.row()[2] > 0 and 0 <= halves.row()[1] <= 1


def test_table_config_narrows_stylegan2_only():
  full = table.table_config(stylegan2_faces.get_config(), 'bundled_faces')
  assert (full.model.channel_base, full.model.channel_max) == (2048, 128)
  tiny = table.table_config(stylegan2_faces.get_config('tiny'), 'bundled_faces')
  assert (tiny.model.channel_base, tiny.model.channel_max) == (256, 16)
  dcgan = table.table_config(dcgan_faces.get_config(), 'other_faces')
  assert dcgan.model == dcgan_faces.get_config().model and dcgan.data.name == 'other_faces'


@pytest.fixture(scope='module')
def tiny_table(tmp_path_factory):
  """The table of the tiny configs, a budget of 2 steps each, one seed, no Inception weights."""
  root = tmp_path_factory.mktemp('architectures_faces')
  options = budgets.BudgetOptions(
    data='bundled_faces',
    seeds=(0,),
    workdir_root=str(root / 'runs'),
    results_dir=str(root / 'results'),
    tiny=True,
    budget_minutes=BUDGET_MINUTES,
  )

  def timed(config, *, config_name, warmup_steps, timed_steps):
    del config, warmup_steps, timed_steps
    return benchmarking.StepBenchmark(
      config_name, 'cpu', 8, 1, 2.0, STEP_SECONDS, 0.4, 0.6, 16, 1e9, 2e9, 4e9, 0.5, 0, None
    )

  # StyleGAN2's lazy regularizers take a third of its step's compile time (~150 s on 2 loaded
  # cores); the table reads nothing of them, and test_stylegan2_training.py trains with them.
  stylegan2 = stylegan2_faces.get_config('tiny')
  stylegan2.penalty.update(every=1, path_length_weight=0.0)
  configs = {'dcgan_faces': dcgan_faces.get_config('tiny'), 'stylegan2_faces': stylegan2}
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(benchmarking, 'benchmark_train_step', timed)
    patch.setenv('GAN_JAX_INCEPTION_WEIGHTS', str(root / 'no_weights.pth'))
    path = table.reproduce(configs, options)
  with open(path, encoding='utf-8') as f:
    markdown = f.read()
  with open(os.path.join(options.results_dir, f'{table.NAME}.json'), encoding='utf-8') as f:
    numbers = json.load(f)
  model_runs = budgets.calibrated_runs(
    table.NAME,
    {name: table.table_config(config, 'bundled_faces') for name, config in configs.items()},
    options,
    warmup_steps=1,
    timed_steps=1,
  )[1]
  return markdown, numbers, model_runs, options


def test_table_files_steps_and_references(tiny_table):
  markdown, numbers, model_runs, options = tiny_table
  for suffix in ('.md', '.json', '.png', '_nearest.png'):
    assert os.path.getsize(os.path.join(options.results_dir, table.NAME + suffix)) > 0
  for name, model in table.MODELS.items():
    assert numbers['models'][name]['num_steps'] == STEPS
    assert budgets.budget_steps(BUDGET_MINUTES, STEP_SECONDS) == STEPS
    assert model_runs[name][0].final_step == STEPS and os.path.isdir(model_runs[name][0].workdir)
    assert f'| {model.label} |' in markdown
  assert numbers['copies']['row'] == pytest.approx([0.0, 0.0, 0.0], abs=1e-3)
  assert 'FID and KID not computable offline: no FID Inception weights at' in markdown
  assert 'as training ended: `dcgan_faces` seed 0: ' in markdown


def test_table_holds_what_the_metrics_give_on_the_same_samples(tiny_table):
  _, numbers, model_runs, _ = tiny_table
  protocol = table.TINY_PROTOCOL
  for name, (run,) in model_runs.items():
    faces, _ = table.dcgan_faces_epochs.read_faces(run.config.data, max_images=1_000)
    count = protocol.num_sample_sets * len(faces)
    samples = runs.generator_samples(run, [STEPS], count)[0]
    assert np.abs(samples).max() <= 1.0 and samples.std() > 0
    pooled_faces = face_scores.pooled(faces, protocol.resolution)
    sets = np.split(face_scores.pooled(samples, protocol.resolution), protocol.num_sample_sets)
    expected = [minibatch_metrics.minibatch_scores(pooled_faces, s) for s in sets]
    found = numbers['models'][name]['scores']['0']
    np.testing.assert_allclose(found['minibatch'], np.array(expected), rtol=1e-5, atol=1e-6)
    mmd, one_nn, distance = numbers['models'][name]['row']['0']
    assert mmd > 0 and 0.5 <= one_nn <= 1.0  # Two steps of training: far from the faces.
    assert distance == pytest.approx(np.median(found['nearest_face']))
