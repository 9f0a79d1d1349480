"""StyleGAN2's training on 8 CPU devices: lazy R1 and path length updates on their schedules,
one compiled step, bitwise resume, and the truncation trick in W when sampling."""

import json
import os

import jax
import numpy as np
import pytest

from configs import stylegan2_cifar10
from configs import stylegan2_faces
from gan_jax import step as step_lib
from gan_jax import train
from gan_jax.studies import lazy_benchmarking


def _config(num_steps, **model):
  config = stylegan2_faces.get_config('tiny')
  # Lazy R1 every 2 D updates and the path length penalty every 3 G updates, so
  # that five steps see both due and skipped updates of each.
  config.penalty.update(every=2, path_length_every=3)
  config.model.update(model)
  config.train.update(num_steps=num_steps, checkpoint_every=3, log_every=1, sample_every=100)
  return config


def _metrics(workdir):
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    return [json.loads(line) for line in f]


@pytest.fixture(scope='module')
def straight_run(tmp_path_factory):
  """Five steps of stylegan2_faces:tiny in one go, counting the traces of the step."""
  workdir = str(tmp_path_factory.mktemp('straight'))
  traces, original = [], step_lib.train_step

  def counting_step(*args, **kwargs):
    traces.append(1)  # Runs only while JAX traces the step.
    return original(*args, **kwargs)

  step_lib.train_step = counting_step
  try:
    state = train.train_and_evaluate(_config(5), workdir)
  finally:
    step_lib.train_step = original
  return workdir, state, len(traces)


def test_lazy_updates_run_on_their_schedules_in_one_program_per_pattern(straight_run):
  workdir, state, traces = straight_run
  # On CPU one program per pattern of the 6-step cycle (compiled_step): both,
  # neither, R1 alone and path length alone, each traced once.
  assert jax.device_count() == 8 and traces == 4
  rows = _metrics(workdir)
  assert [r['step'] for r in rows] == [1, 2, 3, 4, 5]
  # D updates 0, 2, 4 (steps 1, 3, 5) regularize R1; G steps 0 and 3 (steps 1, 4) the path length.
  assert [r['d_penalty'] > 0 for r in rows] == [True, False, True, False, True]
  assert [r['g_path_length'] > 0 for r in rows] == [True, False, False, True, False]
  # The benchmark's account of the schedule is the step's.
  made_by = {'penalty': 'd_penalty', 'path_length': 'g_path_length'}
  made = [tuple(name for name, metric in made_by.items() if row[metric] > 0) for row in rows]
  assert lazy_benchmarking.due_at(_config(5), range(5)) == made
  means = [r['path_length_mean'] for r in rows]
  assert means[0] == means[1] == means[2] != means[3] == means[4]
  assert float(state.path_length_mean) == pytest.approx(means[-1])
  for row in rows:
    assert all(np.isfinite(value) for value in row.values())


def test_a_run_resumed_mid_schedule_equals_the_straight_run(straight_run, tmp_path):
  workdir = str(tmp_path / 'resumed')
  train.train_and_evaluate(_config(3), workdir)
  resumed = train.train_and_evaluate(_config(5), workdir)
  jax.tree.map(np.testing.assert_array_equal, resumed, straight_run[1])


def test_truncation_moves_samples_toward_the_mean_style(straight_run):
  workdir = straight_run[0]
  config = _config(5)
  z = jax.random.normal(jax.random.PRNGKey(1), (6, config.model.latent_dim))
  samples = {}
  for psi in (1.0, 0.7, 0.3, 0.0):
    generate, state = train.restore_for_sampling(config, workdir, style_truncation=psi)
    samples[psi] = np.asarray(generate(state.sampling_generator(), z, None))
  mean_image = samples[0.0][0]
  # psi = 0 draws G(w_avg) for every z; the distance to it shrinks with psi.
  np.testing.assert_allclose(samples[0.0], np.broadcast_to(mean_image, samples[0.0].shape))
  distances = [np.abs(samples[psi] - mean_image).mean() for psi in (1.0, 0.7, 0.3)]
  assert distances[0] > distances[1] > distances[2] > 0


def test_the_conditional_cifar10_recipe_trains_two_steps(tmp_path):
  config = stylegan2_cifar10.get_config('tiny')
  state = train.train_and_evaluate(config, str(tmp_path / 'cifar'))
  assert int(state.step) == 2 and state.path_length_mean is None and state.augment is not None
  assert state.generator_ema is not None
