"""The theory of the GAN game (Goodfellow et al. 2014, section 4; Lima's GAN lecture notes).

For a fixed generator with density p_g, the value of the game (Eq. 1, written
over x as in the proof of Proposition 1) is

  V(G, D) = int p_data(x) log D(x) + p_g(x) log(1 - D(x)) dx.

Proposition 1: V is maximized by D*(x) = p_data(x) / (p_data(x) + p_g(x)),
i.e. D*'s logit is the log density ratio log p_data(x) - log p_g(x).
Theorem 1: C(G) = V(G, D*) = -log 4 + 2 JSD(p_data || p_g), minimized (at
-log 4, with D* = 1/2 everywhere) if and only if p_g = p_data.

Section 3 (Lima's GAN lecture notes, section 4.2): G's minimax loss log(1 - D(G(z)))
saturates, its gradient vanishing as D(G(z)) -> 0, while the non-saturating
-log D(G(z)) keeps it; see `generator_logit_gradients`.

The integrals are computed by the trapezoidal rule on a 1-D grid x [n] from
log densities [n] in float64, so that densities far in the tails (exp of a
very negative log density) contribute 0 instead of 0 * -inf. Discriminators
are given as logits, as everywhere in gan_jax: log D = -softplus(-logit) and
log(1 - D) = -softplus(logit) stay finite for any logit.
"""

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special

from gan_jax import losses

LOG_4 = float(np.log(4.0))


def optimal_discriminator_logits(log_p_data: np.ndarray, log_p_g: np.ndarray) -> np.ndarray:
  """The logit of D* (Proposition 1): log p_data(x) - log p_g(x), [n].

  sigmoid of it is D*(x) = p_data(x) / (p_data(x) + p_g(x)).
  """
  return np.asarray(log_p_data, np.float64) - np.asarray(log_p_g, np.float64)


def optimal_discriminator(log_p_data: np.ndarray, log_p_g: np.ndarray) -> np.ndarray:
  """D*(x) = p_data(x) / (p_data(x) + p_g(x)) (Proposition 1, Eq. 2), [n]."""
  return special.expit(optimal_discriminator_logits(log_p_data, log_p_g))


def _weighted_integral(log_weight: np.ndarray, values: np.ndarray, x: np.ndarray) -> float:
  """int exp(log_weight(x)) values(x) dx by the trapezoidal rule; 0 where the weight is 0."""
  weight = np.exp(np.asarray(log_weight, np.float64))
  with np.errstate(invalid='ignore'):
    integrand = np.where(weight > 0, weight * np.asarray(values, np.float64), 0.0)
  return float(np.trapezoid(integrand, np.asarray(x, np.float64)))


def value(
  discriminator_logits: np.ndarray, log_p_data: np.ndarray, log_p_g: np.ndarray, x: np.ndarray
) -> float:
  """V(G, D) = int p_data log D + p_g log(1 - D) dx (Goodfellow et al. 2014, Eq. 3).

  Args:
    discriminator_logits: D's logits on the grid, [n].
    log_p_data, log_p_g: log densities on the grid, [n].
    x: the grid, [n], increasing; it must hold (nearly) all of both densities' mass.
  """
  logits = np.asarray(discriminator_logits, np.float64)
  log_d, log_one_minus_d = -np.logaddexp(0.0, -logits), -np.logaddexp(0.0, logits)
  return _weighted_integral(log_p_data, log_d, x) + _weighted_integral(log_p_g, log_one_minus_d, x)


def kl_divergence(log_p: np.ndarray, log_q: np.ndarray, x: np.ndarray) -> float:
  """KL(p || q) = int p log(p / q) dx, from log densities [n] on the grid x [n]."""
  return _weighted_integral(log_p, np.asarray(log_p) - np.asarray(log_q), x)


def jensen_shannon(log_p: np.ndarray, log_q: np.ndarray, x: np.ndarray) -> float:
  """JSD(p || q) = 1/2 KL(p || m) + 1/2 KL(q || m), m = (p + q) / 2, in nats; in [0, log 2]."""
  log_m = np.logaddexp(log_p, log_q) - np.log(2.0)
  return 0.5 * kl_divergence(log_p, log_m, x) + 0.5 * kl_divergence(log_q, log_m, x)


def optimal_value(log_p_data: np.ndarray, log_p_g: np.ndarray, x: np.ndarray) -> float:
  """C(G) = max_D V(G, D) = -log 4 + 2 JSD(p_data || p_g) (Theorem 1, Eq. 6)."""
  return -LOG_4 + 2.0 * jensen_shannon(log_p_data, log_p_g, x)


def generator_logit_gradients(loss: losses.Loss, fake_logits: jax.Array) -> jax.Array:
  """d(G's loss)/d(logit of D(G(z_i))) for every example i, [batch].

  The gradient G receives through D's output, per example (the batch mean's
  gradient times the batch size). In closed form, for D(G(z)) = sigmoid(l):
  minimax, G minimizing log(1 - D(G(z))): -D(G(z)), which vanishes as
  D(G(z)) -> 0 (saturation); non_saturating, G minimizing -log D(G(z)):
  -(1 - D(G(z))), which tends to -1 there (Goodfellow et al. 2014, section 3).

  Args:
    loss: a loss of `gan_jax.losses` whose G term depends on the fake logits only.
    fake_logits: [batch] logits of D on generated samples.
  """
  fake_logits = jnp.asarray(fake_logits, jnp.float32)
  generator_loss = lambda logits: loss(jnp.zeros_like(logits), logits).generator
  return jax.grad(generator_loss)(fake_logits) * fake_logits.shape[0]
