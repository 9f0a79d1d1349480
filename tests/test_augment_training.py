"""Augmentation in the train step: ADA's controller of p, p in the state and checkpoints, and
D's input stage on every device count (the transformations themselves: test_augment.py)."""

import jax
import numpy as np
import pytest
import step_helpers

from configs import gan_mnist
from configs import toy_gaussian
from gan_jax import assembly
from gan_jax import errors
from gan_jax import train
from gan_jax.augment import adaptive

IMAGE_SHAPE = (28, 28, 1)


def _config(name, **augment):
  config = gan_mnist.get_config('tiny')
  config.augment.name = name
  config.augment.update(augment)
  return config


def _controller(target=0.6, interval=4, speed_images=1000.0):
  return adaptive.Controller(target=target, interval=interval, speed_images=speed_images)


def _run_controller(signs, batch_size, controller, p=0.0):
  """p after each step, for steps whose real logits all have sign signs[t]."""
  state, history = adaptive.initial_state(p), []
  for t, sign in enumerate(signs):
    state = adaptive.observe(state, np.float32(sign * batch_size), np.float32(batch_size))
    state = adaptive.adjust(state, np.int32(t + 1), batch_size, controller)
    history.append(float(state.p))
  return history


def test_p_rises_while_d_is_sure_of_the_real_data_at_the_papers_speed():
  # r_t = 1 > 0.6 at every step: p moves every 4 steps by 50 * 4 / 1000 = 0.2,
  # so it reaches 1 after 5 moves (1000 images) and stays there.
  history = _run_controller([1] * 24, 50, _controller())
  assert history[:3] == [0.0] * 3
  np.testing.assert_allclose(history[3::4], [0.2, 0.4, 0.6, 0.8, 1.0, 1.0], atol=1e-6)
  assert history[4:7] == [history[3]] * 3  # Held between adjustments.


def test_p_falls_when_d_is_fooled_and_never_below_zero():
  history = _run_controller([-1] * 16, 50, _controller(), p=0.5)
  np.testing.assert_allclose(history[3::4], [0.3, 0.1, 0.0, 0.0], atol=1e-6)


def test_p_follows_the_mean_sign_over_the_interval_against_the_target():
  # Three steps at +1 and one at -1: r_t = 0.5 < 0.6, so p falls; then
  # four steps averaging 0.75 > 0.6, so it rises back.
  history = _run_controller([1, 1, 1, -1, 1, 1, 0.5, 0.5], 50, _controller(), p=0.5)
  np.testing.assert_allclose([history[3], history[7]], [0.3, 0.5], atol=1e-6)


def test_the_step_moves_p_by_the_logged_signs():
  config = _config('ada', p=0.5, target=0.6, interval=2, speed_kimg=0.064)
  state, step = step_helpers.data_parallel_step(config, IMAGE_SHAPE, jax.local_devices())
  replicated, batch = step.replicate(state), step_helpers.random_batch(16, IMAGE_SHAPE)
  p, r_t = [], []
  for _ in range(4):
    replicated, metrics = step(replicated, batch)
    p.append(float(metrics['augment_p']))
    r_t.append(float(metrics['augment_r_t']))
  move = 16 * 2 / 64  # batch * interval / speed_images = 0.5
  expected_2 = np.clip(0.5 + np.sign(np.mean(r_t[:2]) - 0.6) * move, 0, 1)
  expected_4 = np.clip(expected_2 + np.sign(np.mean(r_t[2:]) - 0.6) * move, 0, 1)
  np.testing.assert_allclose(p, [0.5, expected_2, expected_2, expected_4], atol=1e-6)
  assert float(step_helpers.host(replicated).augment.p) == p[-1]


@pytest.mark.parametrize('name', ['diffaugment', 'ada'])
def test_one_and_eight_devices_augment_the_same(name):
  config = _config(name, p=0.8, target=0.0)
  sgd = dict(name='sgd', learning_rate=0.05, momentum=0.5)
  config.optimizer.generator.update(sgd)
  config.optimizer.discriminator.update(sgd)
  batch = step_helpers.random_batch(16, IMAGE_SHAPE)
  results = []
  for devices in (jax.local_devices()[:1], jax.local_devices()):
    state, step = step_helpers.data_parallel_step(config, IMAGE_SHAPE, devices)
    replicated, metrics = step(step.replicate(state), batch)
    results.append((step_helpers.host(replicated), step_helpers.host(metrics)))
  (state_1, metrics_1), (state_8, metrics_8) = results
  close = lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)
  jax.tree.map(close, state_1, state_8)
  jax.tree.map(close, metrics_1, metrics_8)


@pytest.mark.parametrize('name', ['diffaugment', 'ada'])
def test_augmentation_changes_both_players_updates(name):
  batch = step_helpers.random_batch(16, IMAGE_SHAPE)
  after = {}
  for augment in ('none', name):
    config = _config(augment, p=1.0, target=0.0)
    state, step = step_helpers.data_parallel_step(config, IMAGE_SHAPE, jax.local_devices())
    after[augment] = step_helpers.host(step(step.replicate(state), batch)[0])
  for player in ('generator', 'discriminator'):
    plain = jax.tree.leaves(getattr(after['none'], player).params)
    augmented = jax.tree.leaves(getattr(after[name], player).params)
    assert all(np.all(np.isfinite(leaf)) for leaf in augmented)
    assert any(not np.allclose(a, b) for a, b in zip(plain, augmented)), player


def test_adaptive_p_resumes_bitwise(tmp_path):
  def config(num_steps):
    c = _config('ada', p=0.5, target=0.6, interval=1, speed_kimg=0.1)
    c.train.update(num_steps=num_steps, checkpoint_every=3, log_every=3)
    return c

  straight = train.train_and_evaluate(config(6), str(tmp_path / 'straight'))
  train.train_and_evaluate(config(3), str(tmp_path / 'resumed'))
  resumed = train.train_and_evaluate(config(6), str(tmp_path / 'resumed'))
  assert resumed.augment is not None and int(resumed.step) == 6
  jax.tree.map(np.testing.assert_array_equal, resumed, straight)
  # p moved (by 16 / 100 per step), so the test compares a state that changed.
  assert float(straight.augment.p) != 0.5


def test_fixed_p_keeps_no_controller_state():
  gan = assembly.build(_config('ada', p=0.3, target=0.0), IMAGE_SHAPE)
  assert gan.adaptive_augment is None and gan.augment_probability == 0.3
  state = assembly.initial_state(_config('ada', p=0.3, target=0.0), gan, IMAGE_SHAPE)
  assert state.augment is None


def test_vectors_cannot_be_augmented():
  config = toy_gaussian.get_config()
  config.augment = gan_mnist.get_config().augment
  config.augment.name = 'diffaugment'
  with pytest.raises(errors.ConfigError, match=r'transforms images.*augment.name=none'):
    assembly.build(config, (1,))
