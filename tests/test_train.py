"""The train step (Algorithm 1) and the training loop."""

import json
import os
import warnings

import jax
import numpy as np
import pytest
import step_helpers
from PIL import Image

from configs import dcgan_faces
from configs import gan_mnist
from gan_jax import distributed
from gan_jax import errors
from gan_jax import losses
from gan_jax import passes
from gan_jax import step as step_lib
from gan_jax import summaries
from gan_jax import train


def _tiny_config(**train_overrides):
  config = gan_mnist.get_config('tiny')
  config.train.update(train_overrides)
  return config


@pytest.mark.parametrize('reuse_noise_for_generator', [False, True])
def test_one_and_eight_devices_compute_the_same_update(reuse_noise_for_generator):
  assert jax.local_device_count() == 8, 'tests/conftest.py forces 8 CPU devices'
  config = _tiny_config(discriminator_steps=2, reuse_noise_for_generator=reuse_noise_for_generator)
  # Momentum SGD (Algorithm 1's): its update is linear in the gradient, so the
  # float rounding of the two reductions stays at rounding size. Adam's first
  # steps are lr * sign(g), which rounding flips for gradients near 0.
  sgd = dict(name='sgd', learning_rate=0.05, momentum=0.5)
  config.optimizer.generator.update(sgd)
  config.optimizer.discriminator.update(sgd)
  image_shape = (28, 28, 1)
  batch = np.random.default_rng(0).uniform(-1, 1, (2, 16, *image_shape)).astype(np.float32)
  results = []
  for devices in (jax.local_devices()[:1], jax.local_devices()):
    state, step = step_helpers.data_parallel_step(config, image_shape, devices)
    replicated = step.replicate(state)
    for _ in range(2):
      replicated, metrics = step(replicated, batch)
    results.append((step_helpers.host(replicated), step_helpers.host(metrics)))
  (state_1, metrics_1), (state_8, metrics_8) = results
  jax.tree.map(
    lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6), state_1, state_8
  )
  for name in metrics_1:
    np.testing.assert_allclose(metrics_1[name], metrics_8[name], rtol=2e-5, atol=1e-6)
  assert int(state_8.step) == 2


def test_discriminator_learns_to_separate_toy_data():
  # Real data is one bright image; G starts near 0. A few steps of k = 2 D
  # updates must raise D(x) and lower D(G(z)) (G learns slowly: tiny lr).
  config = _tiny_config(discriminator_steps=2)
  config.optimizer.discriminator.learning_rate = 1e-3
  config.optimizer.generator.learning_rate = 1e-6
  image_shape = (28, 28, 1)
  state, step = step_helpers.data_parallel_step(config, image_shape, jax.local_devices())
  replicated = step.replicate(state)
  batch = np.full((2, 16, *image_shape), 0.9, np.float32)
  history = []
  for _ in range(4):
    replicated, metrics = step(replicated, batch)
    history.append({k: float(v) for k, v in metrics.items()})
  assert history[-1]['d_real'] > history[0]['d_real'] + 0.05
  assert history[-1]['d_fake'] < history[0]['d_fake'] - 0.1
  assert history[-1]['d_loss'] < history[0]['d_loss']


def test_noise_is_per_example_and_independent_of_device_layout():
  rng = jax.random.PRNGKey(3)
  draw = lambda devices: np.asarray(
    distributed.per_device(
      lambda: passes.sample_latent(rng, 8 // len(devices), 4),
      distributed.data_mesh(devices),
      (),
      jax.P(step_lib.BATCH_AXIS),
    )()
  )
  one, eight = draw(jax.local_devices()[:1]), draw(jax.local_devices())
  np.testing.assert_array_equal(one, eight)
  assert len(np.unique(eight[:, 0])) == 8  # Every example (so every device) draws its own.


def _run(tmp_path, name, **train_overrides):
  workdir = str(tmp_path / name)
  return workdir, train.train_and_evaluate(_tiny_config(**train_overrides), workdir)


def test_a_training_run_warns_of_no_deprecation(tmp_path):
  # The step, the batches and the checkpoints use only current JAX, Flax and
  # Orbax APIs (no pmap, no flax.jax_utils).
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    _run(tmp_path, 'run')
  deprecations = [
    f'{w.category.__name__}: {w.message}'
    for w in caught
    if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning))
  ]
  assert not deprecations


def test_train_and_evaluate_writes_the_run_files(tmp_path):
  workdir, state = _run(tmp_path, 'run')
  assert int(state.step) == 6
  records = summaries.read_metrics(workdir)
  assert [r['step'] for r in records] == [2, 4, 6]
  for key in ('d_loss', 'g_loss', 'd_real', 'd_fake', 'steps_per_sec'):
    assert all(np.isfinite(r[key]) for r in records), key
  assert 0 < records[-1]['d_real'] < 1 and 0 < records[-1]['d_fake'] < 1
  with open(os.path.join(workdir, 'config.json')) as f:
    assert json.load(f)['seed'] == 0
  assert sorted(os.listdir(os.path.join(workdir, 'samples'))) == [
    'step_0000000.png',
    'step_0000003.png',
    'step_0000006.png',
  ]
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['3', '6']
  assert any(
    f.startswith('events.out.tfevents') for f in os.listdir(os.path.join(workdir, 'tensorboard'))
  )


@pytest.mark.parametrize('ema', [0.0, 0.9])
def test_resumed_run_equals_uninterrupted_run(tmp_path, ema):
  _, uninterrupted = _run(
    tmp_path, 'straight', num_steps=8, checkpoint_every=4, generator_ema_decay=ema
  )
  workdir, _ = _run(tmp_path, 'resumed', num_steps=4, checkpoint_every=4, generator_ema_decay=ema)
  resumed = train.train_and_evaluate(
    _tiny_config(num_steps=8, checkpoint_every=4, generator_ema_decay=ema), workdir
  )
  assert (resumed.generator_ema is None) == (ema == 0)
  assert int(resumed.step) == 8
  jax.tree.map(np.testing.assert_array_equal, resumed, uninterrupted)
  straight = summaries.read_metrics(str(tmp_path / 'straight'))
  again = summaries.read_metrics(workdir)
  assert [r['step'] for r in again] == [2, 4, 6, 8]
  for a, b in zip(straight, again):
    assert {k: v for k, v in a.items() if k != 'steps_per_sec'} == {
      k: v for k, v in b.items() if k != 'steps_per_sec'
    }


def test_restore_rejects_a_checkpoint_of_another_config(tmp_path):
  workdir, _ = _run(tmp_path, 'run', num_steps=3)
  config = _tiny_config(num_steps=6)
  config.model.generator_hidden_sizes = (32,)
  with pytest.raises(
    errors.CheckpointError,
    match=r'generator/params/Dense_0/kernel: checkpoint \(64, 16\) vs config \(64, 32\)',
  ):
    train.train_and_evaluate(config, workdir)


def test_divergence_stops_before_a_checkpoint(tmp_path):
  config = _tiny_config()
  config.optimizer.discriminator.learning_rate = 1e30
  config.optimizer.generator.learning_rate = 1e30
  with pytest.raises(
    errors.TrainingDivergedError,
    match=r'Training diverged at step 2: .*Last good checkpoint: none yet',
  ):
    train.train_and_evaluate(config, str(tmp_path / 'run'))
  assert not os.listdir(tmp_path / 'run' / 'checkpoints')


def test_batch_size_must_divide_by_device_count(tmp_path):
  with pytest.raises(
    errors.ConfigError, match=r'multiple of the number of devices \(8\).*batch_size=8'
  ):
    train.train_and_evaluate(_tiny_config(batch_size=12), str(tmp_path / 'run'))


def test_step_is_traced_once_for_a_whole_run(tmp_path, monkeypatch):
  traces = []
  original = step_lib.train_step

  def counting_step(*args, **kwargs):
    traces.append(1)  # Runs only while JAX traces the step.
    return original(*args, **kwargs)

  monkeypatch.setattr(step_lib, 'train_step', counting_step)
  _run(tmp_path, 'run', num_steps=7)
  assert len(traces) == 1


def test_dcgan_faces_trains_two_steps(tmp_path):
  config = dcgan_faces.get_config('tiny')
  workdir = str(tmp_path / 'faces')
  state = train.train_and_evaluate(config, workdir)
  assert int(state.step) == 2
  records = summaries.read_metrics(workdir)
  assert [r['step'] for r in records] == [1, 2]
  assert all(np.isfinite(r['d_loss']) and np.isfinite(r['g_loss']) for r in records)
  # Both players' batch-norm running averages moved away from their init.
  for player in (state.generator, state.discriminator):
    means = jax.tree.leaves(player.model_state['batch_stats'])
    assert any(np.abs(np.asarray(m)).max() > 0 for m in means)
  grid = np.asarray(Image.open(os.path.join(workdir, 'samples', 'step_0000002.png')))
  assert grid.shape[-1] == 3  # RGB faces.


def test_dcgan_trains_on_an_image_folder(tmp_path):
  rng = np.random.default_rng(0)
  folder = tmp_path / 'photos'
  folder.mkdir()
  for i in range(10):
    Image.fromarray(rng.integers(0, 256, (50 + i, 40, 3), dtype=np.uint8)).save(folder / f'{i}.jpg')
  config = dcgan_faces.get_config('tiny')
  config.data.name, config.data.path = 'folder', str(folder)
  state = train.train_and_evaluate(config, str(tmp_path / 'run'))
  assert int(state.step) == 2
  with open(tmp_path / 'run' / 'data.json') as f:
    assert json.load(f)['image_shape'] == [64, 64, 3]


def test_reusing_the_noise_changes_only_the_generator_update():
  image_shape = (28, 28, 1)
  batch = np.random.default_rng(0).uniform(-1, 1, (1, 16, *image_shape)).astype(np.float32)
  states = {}
  for reuse in (False, True):
    state, step = step_helpers.data_parallel_step(
      _tiny_config(reuse_noise_for_generator=reuse), image_shape, jax.local_devices()
    )
    new_state, _ = step(step.replicate(state), batch)
    states[reuse] = step_helpers.host(new_state)
  jax.tree.map(
    np.testing.assert_array_equal, states[False].discriminator, states[True].discriminator
  )
  differs = jax.tree.map(
    lambda a, b: not np.array_equal(a, b),
    states[False].generator.params,
    states[True].generator.params,
  )
  assert all(jax.tree.leaves(differs))


@pytest.mark.parametrize('loss_name', sorted(losses.LOSSES))
def test_one_step_with_every_loss(loss_name):
  config = _tiny_config()
  config.loss.name = loss_name
  image_shape = (28, 28, 1)
  state, step = step_helpers.data_parallel_step(config, image_shape, jax.local_devices())
  batch = np.random.default_rng(0).uniform(-1, 1, (1, 16, *image_shape)).astype(np.float32)
  new_state, metrics = step(step.replicate(state), batch)
  assert all(np.isfinite(np.asarray(v)).all() for v in metrics.values())
  moved = jax.tree.map(
    lambda a, b: not np.array_equal(a, np.asarray(b)),
    state.generator.params,
    new_state.generator.params,
  )
  assert all(jax.tree.leaves(moved))


def test_generator_ema_after_n_steps_equals_the_closed_form():
  beta = 0.5
  config = _tiny_config(generator_ema_decay=beta)
  image_shape = (28, 28, 1)
  state, step = step_helpers.data_parallel_step(config, image_shape, jax.local_devices())
  batch = np.random.default_rng(0).uniform(-1, 1, (1, 16, *image_shape)).astype(np.float32)
  params = [state.generator.params]
  replicated = step.replicate(state)
  for _ in range(3):
    replicated, _ = step(replicated, batch)
    params.append(step_helpers.host(replicated.generator.params))
  # ema_3 = beta^3 p_0 + (1 - beta) (beta^2 p_1 + beta p_2 + p_3).
  expected = jax.tree.map(
    lambda p0, p1, p2, p3: beta**3 * p0 + (1 - beta) * (beta**2 * p1 + beta * p2 + p3), *params
  )
  ema = step_helpers.host(replicated.generator_ema)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), ema, expected)
  assert replicated.sampling_generator().params is replicated.generator_ema


def test_no_ema_unless_asked():
  state, _ = step_helpers.data_parallel_step(_tiny_config(), (28, 28, 1), jax.local_devices())
  assert state.generator_ema is None and state.sampling_generator() is state.generator
