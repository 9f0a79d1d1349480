"""The pieces of a train step that every update shares: per-device draws, forward passes of G
and D in training mode, and an optimizer update.

They run inside the data-parallel map over the named axis `BATCH_AXIS`
(`gan_jax.step`). Draws that belong to an example (its noise, its
augmentation) are functions of the seed, the step and the example's index in
the global batch, so a step on 8 devices draws what the same step draws on 1.
"""

from typing import Callable, NamedTuple, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from jax import lax

from gan_jax.state import PlayerState
from gan_jax.state import Variables

# The one axis of the data-parallel map. Averaging over it makes the step
# compute the update of the global batch: the mean of per-device mean-loss
# gradients is the gradient of the global mean loss (devices hold equal
# shares), and the same holds for batch-norm means and mean squares.
BATCH_AXIS = 'batch'

# D's input stage: (images [B, H, W, C], keys [B], p) -> images, differentiable in the
# images (`gan_jax.augment.Augmentation`); p is ADA's probability, a float32 scalar.
Augmentation = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]


def example_keys(rng: jax.Array, batch_size: int) -> jax.Array:
  """One key per example of this device's share, [batch_size]: `fold_in(rng, global index)`.

  The index counts from `axis_index * batch_size`, so each device draws for
  its own examples, and the draws of the global batch do not depend on the
  number of devices.
  """
  first = lax.axis_index(BATCH_AXIS) * batch_size
  return jax.vmap(lambda i: jax.random.fold_in(rng, i))(first + jnp.arange(batch_size))


def sample_latent(rng: jax.Array, batch_size: int, latent_dim: int) -> jax.Array:
  """This device's share of z ~ N(0, I), [batch_size, latent_dim], drawn per example
  (`example_keys`): a run on 8 devices computes the same update as on 1."""
  keys = example_keys(rng, batch_size)
  return jax.vmap(lambda key: jax.random.normal(key, (latent_dim,)))(keys)


def per_device(rng: jax.Array) -> jax.Array:
  """`rng` folded with the device index: dropout masks and penalty draws differ per device."""
  return jax.random.fold_in(rng, lax.axis_index(BATCH_AXIS))


def apply_train(module: nn.Module, params, model_state, *inputs, rng, method=None):
  """Training-mode pass of `module` (or of its `method`) on `inputs`: (outputs, updated
  model_state).

  `rng` feeds the 'dropout' stream and, folded, the 'noise' stream (StyleGAN2's
  noise inputs and style mixing); a module reads the streams it needs.
  """
  return module.apply(
    {'params': params, **model_state},
    *inputs,
    train=True,
    mutable=list(model_state),
    rngs={'dropout': rng, 'noise': jax.random.fold_in(rng, 1)},
    method=method,
  )


def augment(
  augmentation: Optional[Augmentation], images: jax.Array, rng: jax.Array, p: jax.Array
) -> jax.Array:
  """`images` through D's input stage with per-example keys from `rng`; as they are without one."""
  if augmentation is None:
    return images
  return augmentation(images, example_keys(rng, images.shape[0]), p)


def apply_update(player: PlayerState, grads, optimizer, model_state) -> PlayerState:
  """`player` after one step of `optimizer` along `grads`, with `model_state`."""
  updates, opt_state = optimizer.update(grads, player.opt_state, player.params)
  return PlayerState(optax.apply_updates(player.params, updates), model_state, opt_state)


def discriminate(
  gan,
  params,
  model_state,
  images: jax.Array,
  labels: Optional[jax.Array],
  dropout_rng: jax.Array,
  augment_rng: jax.Array,
  p: jax.Array,
):
  """D's training-mode pass on `images` through D's input stage: (`DiscriminatorLogits` in
  float32, updated model_state).

  A bfloat16 D's logits are cast before any loss, penalty or sigmoid reads
  them; the gradients flow back through the cast in bfloat16. `gan` is the
  step's `GAN` (its discriminator and augmentation). The augmentation is
  differentiable, so G's gradients flow back through it (Zhao et al. 2020,
  section 3; Karras et al. 2020a, section 2).
  """
  images = augment(gan.augmentation, images, augment_rng, p)
  outputs, model_state = apply_train(
    gan.discriminator, params, model_state, images, labels, rng=dropout_rng
  )
  return jax.tree.map(lambda logits: logits.astype(jnp.float32), outputs), model_state


class GeneratorForward(NamedTuple):
  """G's training-mode forward pass on fresh noise, kept for G's own update.

  Attributes:
    images: G(z, y), [batch, H, W, C], float32 whatever G's dtype.
    pullback: the VJP of the pass: cotangent of `images` -> (grads of G's params,).
    model_state: G's model state after the pass (e.g. new batch statistics).
  """

  images: jax.Array
  pullback: Callable
  model_state: Variables


def generator_forward(
  gan, generator: PlayerState, rng: jax.Array, batch_size: int, labels: Optional[jax.Array]
) -> GeneratorForward:
  """G(z, y) for this device's share of fresh z, with its pullback to G's parameters.

  `gan` is the step's `GAN` (its generator and latent_dim).
  """
  noise_rng, dropout_rng = jax.random.split(rng)
  z = sample_latent(noise_rng, batch_size, gan.latent_dim)
  apply = lambda params: apply_train(
    gan.generator, params, generator.model_state, z, labels, rng=per_device(dropout_rng)
  )
  return GeneratorForward(*jax.vjp(apply, generator.params, has_aux=True))
