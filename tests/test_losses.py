"""Adversarial losses against closed forms (Goodfellow et al. 2014)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import config_sections
from gan_jax import errors
from gan_jax import losses

LOG2 = np.log(2.0)


CROSS_ENTROPY_LOSSES = ['minimax', 'non_saturating', 'relativistic_average']


@pytest.mark.parametrize('name', CROSS_ENTROPY_LOSSES)
def test_at_chance_discriminator_loss_is_2_log_2(name):
  # D = 1/2 everywhere (logit 0): -log(1/2) - log(1 - 1/2) = 2 log 2.
  terms = losses.LOSSES[name](jnp.zeros(8), jnp.zeros(8))
  np.testing.assert_allclose(terms.discriminator, 2 * LOG2, rtol=1e-6)
  np.testing.assert_allclose(terms.discriminator_real, LOG2, rtol=1e-6)
  np.testing.assert_allclose(terms.discriminator_fake, LOG2, rtol=1e-6)


def test_generator_losses_at_chance():
  zeros = jnp.zeros(4)
  np.testing.assert_allclose(
    losses.minimax(zeros, zeros).generator, -LOG2, rtol=1e-6
  )  # log(1 - 1/2)
  np.testing.assert_allclose(
    losses.non_saturating(zeros, zeros).generator, LOG2, rtol=1e-6
  )  # -log(1/2)


@pytest.mark.parametrize('name', ['minimax', 'non_saturating'])
def test_matches_probability_form_on_moderate_logits(name):
  rng = np.random.default_rng(0)
  real_logits, fake_logits = rng.normal(size=16), rng.normal(size=16)
  d_real, d_fake = 1 / (1 + np.exp(-real_logits)), 1 / (1 + np.exp(-fake_logits))
  expected_generator = {
    'minimax': np.mean(np.log(1 - d_fake)),
    'non_saturating': -np.mean(np.log(d_fake)),
  }[name]
  terms = losses.LOSSES[name](jnp.asarray(real_logits), jnp.asarray(fake_logits))
  np.testing.assert_allclose(
    terms.discriminator, -np.mean(np.log(d_real)) - np.mean(np.log(1 - d_fake)), rtol=1e-5
  )
  np.testing.assert_allclose(terms.generator, expected_generator, rtol=1e-5)


@pytest.mark.parametrize('name', sorted(losses.LOSSES))
def test_finite_at_saturated_logits(name):
  extreme = jnp.array([-200.0, 200.0])
  terms = losses.LOSSES[name](extreme, extreme)
  assert all(np.isfinite(t) for t in terms)


def _generator_gradient(loss, fake_logit):
  return jax.grad(lambda f: loss(jnp.zeros(1), f).generator)(jnp.array([fake_logit]))[0]


def test_minimax_generator_gradient_saturates_non_saturating_does_not():
  # Lima's GAN lecture notes, section 4.2: when D rejects samples (D(G(z)) -> 0, logit -> -inf),
  # d/dl log(1 - sigmoid(l)) = -sigmoid(l) -> 0, while d/dl -log sigmoid(l) -> -1.
  for logit in (-5.0, -10.0, -20.0):
    np.testing.assert_allclose(
      _generator_gradient(losses.minimax, logit), -1 / (1 + np.exp(-logit)), rtol=1e-5, atol=1e-12
    )
    np.testing.assert_allclose(
      _generator_gradient(losses.non_saturating, logit), -1 / (1 + np.exp(logit)), rtol=1e-5
    )
  assert abs(_generator_gradient(losses.minimax, -20.0)) < 1e-8
  assert abs(_generator_gradient(losses.non_saturating, -20.0)) > 0.99
  # Both push the fake logit up (G wants D(G(z)) larger): negative gradients.
  assert _generator_gradient(losses.minimax, 0.0) < 0
  assert _generator_gradient(losses.non_saturating, 0.0) < 0


def test_discriminator_gradient_signs():
  loss = losses.non_saturating
  grad_real = jax.grad(lambda r: loss(r, jnp.zeros(1)).discriminator)(jnp.zeros(1))[0]
  grad_fake = jax.grad(lambda f: loss(jnp.zeros(1), f).discriminator)(jnp.zeros(1))[0]
  assert grad_real < 0 < grad_fake  # D raises real logits and lowers fake ones.


def test_unknown_loss_lists_valid_names():
  with pytest.raises(errors.ConfigError, match='non_saturating') as info:
    losses.get_loss(config_sections.loss_config(name='vanilla'))
  assert "'vanilla'" in str(info.value)


def _logits():
  rng = np.random.default_rng(1)
  return rng.normal(size=8) * 2, rng.normal(size=8) * 2


def test_wasserstein_hinge_and_least_squares_against_hand_computation():
  real, fake = _logits()
  terms = losses.wasserstein(jnp.asarray(real), jnp.asarray(fake))
  np.testing.assert_allclose(terms.discriminator, fake.mean() - real.mean(), rtol=1e-5)
  np.testing.assert_allclose(terms.generator, -fake.mean(), rtol=1e-5)
  terms = losses.hinge(jnp.asarray(real), jnp.asarray(fake))
  np.testing.assert_allclose(
    terms.discriminator, np.maximum(0, 1 - real).mean() + np.maximum(0, 1 + fake).mean(), rtol=1e-5
  )
  np.testing.assert_allclose(terms.generator, -fake.mean(), rtol=1e-5)
  terms = losses.least_squares(jnp.asarray(real), jnp.asarray(fake))
  np.testing.assert_allclose(
    terms.discriminator, 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean(), rtol=1e-5
  )
  np.testing.assert_allclose(terms.generator, 0.5 * ((fake - 1) ** 2).mean(), rtol=1e-5)


def test_relativistic_average_against_hand_computation():
  real, fake = _logits()
  sigmoid = lambda v: 1 / (1 + np.exp(-v))
  d_real, d_fake = sigmoid(real - fake.mean()), sigmoid(fake - real.mean())
  terms = losses.relativistic_average(jnp.asarray(real), jnp.asarray(fake))
  np.testing.assert_allclose(
    terms.discriminator, -np.log(d_real).mean() - np.log(1 - d_fake).mean(), rtol=1e-5
  )
  np.testing.assert_allclose(
    terms.generator, -np.log(d_fake).mean() - np.log(1 - d_real).mean(), rtol=1e-5
  )
  # G's loss depends on the real logits too, unlike the other losses'.
  grad_real = jax.grad(lambda r: losses.relativistic_average(r, jnp.asarray(fake)).generator)(
    jnp.asarray(real)
  )
  assert np.abs(grad_real).sum() > 0


@pytest.mark.parametrize('name', sorted(losses.LOSSES))
def test_gradient_signs(name):
  # Every loss has D push real outputs up and fake ones down, and G push fake
  # outputs up, at a point where D cannot yet tell them apart.
  loss = losses.LOSSES[name]
  real, fake = jnp.full(4, 0.5), jnp.full(4, 0.25)
  d_real = jax.grad(lambda r: loss(r, fake).discriminator)(real)
  d_fake = jax.grad(lambda f: loss(real, f).discriminator)(fake)
  g_fake = jax.grad(lambda f: loss(real, f).generator)(fake)
  assert (d_real < 0).all() and (d_fake > 0).all() and (g_fake < 0).all()


@pytest.mark.parametrize('name', losses.SMOOTHABLE_LOSSES)
def test_one_sided_label_smoothing(name):
  smoothed = losses.get_loss(config_sections.loss_config(name=name, real_label=0.9))
  # D's best real logit is now logit(0.9) = log 9, not +inf: the real term's
  # gradient vanishes there, and at logit 0 the term is still log 2.
  real_gradient = jax.grad(lambda r: smoothed(r, jnp.zeros(1)).discriminator_real)
  np.testing.assert_allclose(real_gradient(jnp.array([np.log(9.0)])), 0.0, atol=1e-7)
  assert real_gradient(jnp.array([5.0]))[0] > 0  # Overconfidence on real data costs.
  np.testing.assert_allclose(
    smoothed(jnp.zeros(4), jnp.zeros(4)).discriminator_real, LOG2, rtol=1e-6
  )
  # Fake targets stay 0, and G's loss is unchanged.
  logits = jnp.array([-1.0, 0.5, 2.0])
  plain = losses.LOSSES[name](logits, logits)
  np.testing.assert_allclose(smoothed(logits, logits).discriminator_fake, plain.discriminator_fake)
  np.testing.assert_allclose(smoothed(logits, logits).generator, plain.generator)


def test_label_smoothing_is_rejected_where_it_means_nothing():
  with pytest.raises(errors.ConfigError, match='loss.real_label=0.9 smooths'):
    losses.get_loss(config_sections.loss_config(name='wasserstein', real_label=0.9))
  with pytest.raises(errors.ConfigError, match='must lie in'):
    losses.get_loss(config_sections.loss_config(name='minimax', real_label=1.5))
