"""Class conditioning ("train with labels", Rahmdel's GAN tutorial), shared by every architecture.

`model.conditioning` names how the class label y in {0, ..., num_classes - 1}
enters the two players:

  'none'        unconditional G(z) and D(x).
  'embedding'   cGAN (Mirza & Osindero 2014): G(z, y) and D(x, y) both read
                the one-hot label next to their input (for images, D reads it
                as num_classes constant channels).
  'projection'  the projection discriminator (Miyato & Koyama 2018, Eq. 3):
                D(x, y) = psi(phi(x)) + embed(y)^T phi(x), with phi(x) D's
                last hidden features and psi its unconditional output layer;
                G as for 'embedding'.
  'auxiliary'   AC-GAN (Odena et al. 2017): D(x) is unconditional but also
                predicts the class from phi(x); both players add a
                cross-entropy on that prediction to their losses
                (`gan_jax.losses.auxiliary_classifier_loss`); G as for
                'embedding'.

Every conditional generator reads [z, one_hot(y)], the input layer of Mirza &
Osindero (a dense layer of the concatenation is a layer of z plus a learned
per-class embedding). Every D returns `DiscriminatorLogits`: logits [batch],
and with 'auxiliary' also class_logits [batch, num_classes].
"""

from typing import NamedTuple, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.typing import Dtype

CONDITIONINGS = ('none', 'embedding', 'projection', 'auxiliary')


class DiscriminatorLogits(NamedTuple):
  """What every discriminator returns.

  Attributes:
    logits: [batch] D's real-vs-generated output, pre-sigmoid (a critic value
      for the Wasserstein and hinge losses).
    class_logits: [batch, num_classes] AC-GAN's class prediction with
      conditioning='auxiliary', else None.
  """

  logits: jax.Array
  class_logits: Optional[jax.Array] = None


def _require_labels(labels: Optional[jax.Array]) -> jax.Array:
  if labels is None:
    raise ValueError(
      'This model is class-conditional (model.conditioning != "none") and needs labels.'
    )
  return labels


def _one_hot(labels: Optional[jax.Array], num_classes: int) -> jax.Array:
  return jax.nn.one_hot(_require_labels(labels), num_classes)


def generator_input(
  z: jax.Array, labels: Optional[jax.Array], num_classes: int, conditioning: str
) -> jax.Array:
  """G's input: z [batch, latent_dim], with one_hot(y) appended if conditional."""
  if conditioning == 'none':
    return z
  return jnp.concatenate([z, _one_hot(labels, num_classes)], axis=-1)


def discriminator_input(
  x: jax.Array, labels: Optional[jax.Array], num_classes: int, conditioning: str
) -> jax.Array:
  """D's input x [batch, ...], with one_hot(y) as extra channels for 'embedding'.

  An image [batch, H, W, C] gets num_classes constant channels; a vector
  [batch, d] gets num_classes more entries.
  """
  if conditioning != 'embedding':
    return x
  one_hot = _one_hot(labels, num_classes)
  one_hot = one_hot.reshape((x.shape[0],) + (1,) * (x.ndim - 2) + (num_classes,))
  return jnp.concatenate([x, jnp.broadcast_to(one_hot, x.shape[:-1] + (num_classes,))], axis=-1)


class DiscriminatorOutput(nn.Module):
  """D's conditional output from its last hidden features and unconditional logits.

  Attributes:
    num_classes: number of classes.
    conditioning: one of `CONDITIONINGS`.
    dtype: of the embedding's and the classifier's computation (their
      parameters stay float32).
  """

  num_classes: int
  conditioning: str
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(
    self, features: jax.Array, logits: jax.Array, labels: Optional[jax.Array]
  ) -> DiscriminatorLogits:
    """features phi(x) [batch, d], logits psi(phi(x)) [batch] -> D's output.

    'projection' adds embed(y)^T phi(x) to the logits; 'auxiliary' adds
    class_logits [batch, num_classes]; otherwise the logits are as they are.
    """
    if self.conditioning == 'projection':
      embedding = nn.Embed(
        self.num_classes,
        features.shape[-1],
        embedding_init=nn.initializers.normal(0.02),
        dtype=self.dtype,
      )
      projection = jnp.sum(embedding(_require_labels(labels)) * features, axis=-1)
      return DiscriminatorLogits(logits + projection)
    if self.conditioning == 'auxiliary':
      classifier = nn.Dense(self.num_classes, dtype=self.dtype, name='classifier')
      return DiscriminatorLogits(logits, classifier(features))
    return DiscriminatorLogits(logits)
