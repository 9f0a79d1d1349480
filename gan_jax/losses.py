"""Adversarial losses: pure functions of the discriminator's logits.

Every loss has one contract: `loss(real_logits, fake_logits) -> LossTerms`,
with `real_logits` = D(x) on a real batch and `fake_logits` = D(G(z)) on a
generated batch, both of shape [batch] (pre-sigmoid). The discriminator
minimizes `LossTerms.discriminator`, the generator minimizes
`LossTerms.generator`. Terms are batch means, so that the data-parallel
gradient (the `lax.pmean` of per-device gradients) equals the gradient of the
global batch.

Logits, not probabilities, go in: log D = log sigmoid(l) = -softplus(-l) and
log(1 - D) = -softplus(l) are exact and stable for any logit, where
log(sigmoid(l)) underflows to -inf once sigmoid(l) rounds to 0.
"""

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax

from gan_jax import errors


class LossTerms(NamedTuple):
  """Scalar loss terms of one evaluation of an adversarial loss.

  Attributes:
    discriminator: what D minimizes, `discriminator_real + discriminator_fake`.
    discriminator_real: the part of D's loss on real data.
    discriminator_fake: the part of D's loss on generated data.
    generator: what G minimizes.
  """

  discriminator: jax.Array
  discriminator_real: jax.Array
  discriminator_fake: jax.Array
  generator: jax.Array


Loss = Callable[[jax.Array, jax.Array], LossTerms]


def _discriminator_cross_entropy(real_logits, fake_logits, real_label=1.0):
  """-E[log D(x)] and -E[log(1 - D(G(z)))]: D's side of the value function V(D, G).

  With real_label s < 1 the real term is the cross-entropy against target s,
  -E[s log D(x) + (1 - s) log(1 - D(x))]: one-sided label smoothing.
  """
  real_term = real_label * jax.nn.softplus(-real_logits) + (1.0 - real_label) * jax.nn.softplus(
    real_logits
  )
  return jnp.mean(real_term), jnp.mean(jax.nn.softplus(fake_logits))


def minimax(real_logits: jax.Array, fake_logits: jax.Array, real_label: float = 1.0) -> LossTerms:
  """The zero-sum game of Goodfellow et al. 2014, Eq. 1, exactly.

  min_G max_D V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))].
  D minimizes -V; G minimizes E_z[log(1 - D(G(z)))], the saturating form: its
  gradient vanishes when D confidently rejects samples (D(G(z)) -> 0), which is
  early in training (Lima's GAN lecture notes, section 4.2).

  Args:
    real_logits: [batch] logits of D on real data.
    fake_logits: [batch] logits of D on generated data.
    real_label: D's target on real data; 0.9 is one-sided label smoothing.
  """
  real_term, fake_term = _discriminator_cross_entropy(real_logits, fake_logits, real_label)
  # log(1 - sigmoid(l)) = -softplus(l).
  generator = -jnp.mean(jax.nn.softplus(fake_logits))
  return LossTerms(real_term + fake_term, real_term, fake_term, generator)


def non_saturating(
  real_logits: jax.Array, fake_logits: jax.Array, real_label: float = 1.0
) -> LossTerms:
  """The non-saturating game of Goodfellow et al. 2014, section 3.

  D's loss is that of `minimax`; G maximizes E_z[log D(G(z))] instead, which has
  the same fixed point but strong gradients while D rejects G's samples.

  Args:
    real_logits: [batch] logits of D on real data.
    fake_logits: [batch] logits of D on generated data.
    real_label: D's target on real data; 0.9 is one-sided label smoothing.
  """
  real_term, fake_term = _discriminator_cross_entropy(real_logits, fake_logits, real_label)
  # -log(sigmoid(l)) = softplus(-l).
  generator = jnp.mean(jax.nn.softplus(-fake_logits))
  return LossTerms(real_term + fake_term, real_term, fake_term, generator)


def wasserstein(real_logits: jax.Array, fake_logits: jax.Array) -> LossTerms:
  """The WGAN critic objective (Arjovsky et al. 2017, Eq. 3).

  The critic maximizes E[C(x)] - E[C(G(z))] and G maximizes E[C(G(z))]; the
  outputs are unbounded critic values, not logits. Meaningful only with a
  Lipschitz constraint on the critic (weight clipping or a gradient penalty).

  Args:
    real_logits: [batch] critic values C(x) on real data.
    fake_logits: [batch] critic values C(G(z)) on generated data.
  """
  real_term, fake_term = -jnp.mean(real_logits), jnp.mean(fake_logits)
  return LossTerms(real_term + fake_term, real_term, fake_term, -jnp.mean(fake_logits))


def hinge(real_logits: jax.Array, fake_logits: jax.Array) -> LossTerms:
  """The hinge loss (Lim & Ye 2017; Miyato et al. 2018, Eq. 16 and 17).

  D minimizes E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]; G minimizes
  -E[D(G(z))].

  Args:
    real_logits: [batch] D's raw outputs on real data.
    fake_logits: [batch] D's raw outputs on generated data.
  """
  real_term = jnp.mean(jax.nn.relu(1.0 - real_logits))
  fake_term = jnp.mean(jax.nn.relu(1.0 + fake_logits))
  return LossTerms(real_term + fake_term, real_term, fake_term, -jnp.mean(fake_logits))


def least_squares(real_logits: jax.Array, fake_logits: jax.Array) -> LossTerms:
  """LSGAN with the 0-1 coding a = 0, b = c = 1 (Mao et al. 2017, Eq. 9).

  D minimizes 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]; G minimizes
  1/2 E[(D(G(z)) - 1)^2], on D's raw (unsquashed) outputs.

  Args:
    real_logits: [batch] D's raw outputs on real data.
    fake_logits: [batch] D's raw outputs on generated data.
  """
  real_term = 0.5 * jnp.mean(jnp.square(real_logits - 1.0))
  fake_term = 0.5 * jnp.mean(jnp.square(fake_logits))
  generator = 0.5 * jnp.mean(jnp.square(fake_logits - 1.0))
  return LossTerms(real_term + fake_term, real_term, fake_term, generator)


def relativistic_average(real_logits: jax.Array, fake_logits: jax.Array) -> LossTerms:
  """The relativistic average GAN, RaSGAN (Jolicoeur-Martineau 2018, Eq. 11 and 12).

  D estimates how much more real x is than the average fake, and vice versa:
  D_ra(x_r) = sigmoid(C(x_r) - E[C(x_f)]), D_ra(x_f) = sigmoid(C(x_f) - E[C(x_r)]).
  D minimizes -E[log D_ra(x_r)] - E[log(1 - D_ra(x_f))]; G minimizes the same
  with real and fake swapped, so G's update also depends on the real logits.

  Args:
    real_logits: [batch] critic values C(x) on real data.
    fake_logits: [batch] critic values C(G(z)) on generated data.
  """
  real_relative = real_logits - jnp.mean(fake_logits)
  fake_relative = fake_logits - jnp.mean(real_logits)
  real_term, fake_term = _discriminator_cross_entropy(real_relative, fake_relative)
  generator = sum(_discriminator_cross_entropy(fake_relative, real_relative))
  return LossTerms(real_term + fake_term, real_term, fake_term, generator)


LOSSES: dict[str, Loss] = {
  'hinge': hinge,
  'least_squares': least_squares,
  'minimax': minimax,
  'non_saturating': non_saturating,
  'relativistic_average': relativistic_average,
  'wasserstein': wasserstein,
}


# The losses whose D term is a cross-entropy against a real label.
SMOOTHABLE_LOSSES = ('minimax', 'non_saturating')


def auxiliary_classifier_loss(class_logits: jax.Array, labels: jax.Array) -> jax.Array:
  """AC-GAN's class term (Odena et al. 2017, Eq. 3, as a loss): the mean
  cross-entropy -log softmax(class_logits)[y] of D's class prediction,
  class_logits [batch, num_classes] and labels y [batch]. D minimizes it on
  real and generated data, G on generated data (`gan_jax.step_lib.train_step`).
  """
  return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(class_logits, labels))


def get_loss(config: ml_collections.ConfigDict) -> Loss:
  """The loss of a config's `loss` section.

  Raises:
    ConfigError: for an unknown name (listing the valid ones), or a label
      smoothing the loss has no use for.
  """
  if config.name not in LOSSES:
    raise errors.unknown_name_error('loss', config.name, LOSSES)
  if config.real_label == 1.0:
    return LOSSES[config.name]
  if config.name not in SMOOTHABLE_LOSSES or not 0.0 < config.real_label < 1.0:
    raise errors.ConfigError(
      f'loss.real_label={config.real_label} smooths the real targets of a cross-entropy loss; it '
      f'must lie in (0, 1] and needs loss.name in {", ".join(SMOOTHABLE_LOSSES)}, not {config.name!r}.'
    )
  return functools.partial(LOSSES[config.name], real_label=config.real_label)
