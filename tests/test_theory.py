"""The theory of the game against closed forms, quadrature references and trained networks."""

import math

import numpy as np
import pytest
from scipy import integrate
from scipy import special

from configs import optimal_discriminator as optimal_discriminator_config
from gan_jax import errors
from gan_jax import losses
from gan_jax.models import toy
from gan_jax.studies import optimal_discriminator
from gan_jax.studies import theory
from gan_jax.studies import toy_data

X = np.linspace(-20.0, 20.0, 8001)


def _gaussian(mean, std):
  return toy_data.GaussianMixture(((mean,),), (std,))


BIMODAL = toy_data.GaussianMixture(((-2.0,), (2.0,)), (0.5, 0.5))
PAIRS = [
  (_gaussian(1.0, 1.0), _gaussian(-1.0, 1.5)),
  (BIMODAL, _gaussian(0.0, 2.0)),
  (_gaussian(0.0, 1.0), _gaussian(0.5, 0.3)),
]


def _log_densities(p_data, p_g):
  return p_data.log_density(X[:, None]), p_g.log_density(X[:, None])


def _scipy_jensen_shannon(p_data, p_g):
  """JSD by adaptive quadrature of its integrand: an independent reference."""
  p = lambda x: float(p_data.density(np.array([[x]]))[0])
  q = lambda x: float(p_g.density(np.array([[x]]))[0])

  def integrand(x):
    m = 0.5 * (p(x) + q(x))
    return 0.5 * sum(f * math.log(f / m) for f in (p(x), q(x)) if f > 0)

  return integrate.quad(integrand, -20, 20, points=[-2, 0, 2], limit=200, epsabs=1e-12)[0]


def test_optimal_discriminator_is_the_density_ratio():
  p_data, p_g = PAIRS[1]
  log_p_data, log_p_g = _log_densities(p_data, p_g)
  expected = np.exp(log_p_data) / (np.exp(log_p_data) + np.exp(log_p_g))
  np.testing.assert_allclose(
    theory.optimal_discriminator(log_p_data, log_p_g), expected, atol=1e-12
  )


@pytest.mark.parametrize('p_data', [PAIRS[0][0], BIMODAL])
def test_at_equal_densities_d_star_is_one_half_and_value_minus_log_4(p_data):
  log_p, _ = _log_densities(p_data, p_data)
  np.testing.assert_allclose(theory.optimal_discriminator(log_p, log_p), 0.5, atol=1e-12)
  optimal_logits = theory.optimal_discriminator_logits(log_p, log_p)
  assert theory.value(optimal_logits, log_p, log_p, X) == pytest.approx(-math.log(4), abs=1e-6)
  assert theory.jensen_shannon(log_p, log_p, X) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize('p_data, p_g', PAIRS)
def test_value_at_d_star_is_minus_log_4_plus_2_jsd(p_data, p_g):
  log_p_data, log_p_g = _log_densities(p_data, p_g)
  jsd = theory.jensen_shannon(log_p_data, log_p_g, X)
  assert jsd == pytest.approx(_scipy_jensen_shannon(p_data, p_g), abs=1e-6)
  assert 0 < jsd < math.log(2)
  optimal_logits = theory.optimal_discriminator_logits(log_p_data, log_p_g)
  value = theory.value(optimal_logits, log_p_data, log_p_g, X)
  assert value == pytest.approx(-math.log(4) + 2 * jsd, abs=1e-6)
  assert theory.optimal_value(log_p_data, log_p_g, X) == pytest.approx(value, abs=1e-9)


@pytest.mark.parametrize('p_data, p_g', PAIRS)
def test_d_star_maximizes_the_value(p_data, p_g):
  log_p_data, log_p_g = _log_densities(p_data, p_g)
  optimal_logits = theory.optimal_discriminator_logits(log_p_data, log_p_g)
  best = theory.value(optimal_logits, log_p_data, log_p_g, X)
  for perturbation in (0.1, -0.1, 0.5 * np.sin(X), 0.2 * X):
    assert theory.value(optimal_logits + perturbation, log_p_data, log_p_g, X) < best
  # D = 1/2 everywhere gives log 1/2 + log 1/2, whatever the densities.
  half = theory.value(np.zeros_like(X), log_p_data, log_p_g, X)
  assert half == pytest.approx(-math.log(4), abs=1e-6)


@pytest.mark.parametrize('m1, s1, m2, s2', [(0.0, 1.0, 1.0, 2.0), (3.0, 0.5, -1.0, 1.5)])
def test_kl_divergence_matches_the_gaussian_closed_form(m1, s1, m2, s2):
  log_p, log_q = _log_densities(_gaussian(m1, s1), _gaussian(m2, s2))
  closed_form = math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5
  assert theory.kl_divergence(log_p, log_q, X) == pytest.approx(closed_form, abs=1e-6)


def test_jensen_shannon_of_disjoint_densities_is_log_2():
  log_p, log_q = _log_densities(_gaussian(-10.0, 0.3), _gaussian(10.0, 0.3))
  assert theory.jensen_shannon(log_p, log_q, X) == pytest.approx(math.log(2), abs=1e-6)
  # Far apart, D* separates them perfectly: V = 0.
  assert theory.optimal_value(log_p, log_q, X) == pytest.approx(0.0, abs=1e-6)


def test_minimax_generator_gradient_vanishes_as_d_of_g_goes_to_zero():
  d_fake = np.array([1e-7, 1e-4, 1e-2, 0.5, 0.9])
  logits = special.logit(d_fake)
  minimax = np.asarray(theory.generator_logit_gradients(losses.minimax, logits))
  non_saturating = np.asarray(theory.generator_logit_gradients(losses.non_saturating, logits))
  # d/dl log(1 - sigmoid(l)) = -sigmoid(l); d/dl -log sigmoid(l) = -(1 - sigmoid(l)).
  np.testing.assert_allclose(minimax, -d_fake, rtol=1e-4)
  np.testing.assert_allclose(non_saturating, -(1 - d_fake), rtol=1e-4)
  assert abs(minimax[0]) < 1e-6 and abs(non_saturating[0]) > 0.999


def _study_config(num_steps):
  config = optimal_discriminator_config.get_config()
  config.data.means, config.data.stds = (1.0,), (1.0,)
  config.model.discriminator_hidden_sizes = (64, 64, 64)
  config.train.num_steps = num_steps
  config.train.batch_size = 512
  config.train.log_every = num_steps
  config.train.plot_every = num_steps
  config.train.num_eval_samples = 1000
  return config


@pytest.fixture(scope='module')
def fitted():
  """(config, gan, run) of D trained against p_data = N(1, 1) and a fixed p_g = N(-1, 1.5^2)."""
  config = _study_config(num_steps=2000)
  return (config, *optimal_discriminator.fit_discriminator(config, -1.0, 1.5))


def test_trained_discriminator_matches_d_star(fitted):
  # D* is the sigmoid of a quadratic here.
  _, gan, run = fitted
  numbers, curves = optimal_discriminator.compare_with_optimal(
    gan, run.state, _gaussian(1.0, 1.0), _gaussian(-1.0, 1.5)
  )
  assert numbers['max_abs_error'] < 0.05
  assert curves['in_region'].sum() > 1000  # x in about [-5.2, 4.0]: the bulk of both.
  # Proposition 1: no D beats D*; the trained one comes close.
  assert numbers['value'] <= numbers['optimal_value'] + 1e-9
  assert numbers['value'] == pytest.approx(numbers['optimal_value'], abs=5e-3)
  assert numbers['optimal_value'] == pytest.approx(numbers['minus_log_4_plus_2_jsd'], abs=1e-6)


def test_generator_gradient_saturates_against_a_confident_discriminator(fitted):
  # Move G to N(-8, 0.5^2), where the trained D (like D*) rejects it with confidence.
  config, gan, run = fitted
  far_generator = toy.linear_generator_params(-8.0, 0.5)
  state = run.state.replace(generator=run.state.generator.replace(params=far_generator))
  norms = optimal_discriminator.generator_gradient_norms(config, gan, state, _gaussian(1.0, 1.0))
  assert norms['minimax']['d_fake'] < 1e-3
  minimax, non_saturating = norms['minimax']['g_grad_norm'], norms['non_saturating']['g_grad_norm']
  assert non_saturating > 0.1
  assert minimax < 1e-4 * non_saturating


def test_study_refuses_a_loss_without_the_optimal_discriminator():
  config = _study_config(num_steps=10)
  config.loss.name = 'wasserstein'
  with pytest.raises(errors.ConfigError, match='D\\* = p_data'):
    optimal_discriminator.fit_discriminator(config, 0.0, 1.0)
