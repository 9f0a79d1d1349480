"""Drawing from a trained G: evaluation-mode samples and the inputs of sample grids."""

from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax.state import PlayerState


def generate(
  generator: nn.Module,
  generator_state: PlayerState,
  z: jax.Array,
  labels: Optional[jax.Array] = None,
) -> jax.Array:
  """G's samples in evaluation mode (running batch statistics): [N, H, W, C].

  z is [N, latent_dim]; labels int32 [N] for a class-conditional G.
  """
  return generator.apply(generator_state.variables(), z, labels, train=False)


def sample_grid_inputs(
  seed: int, num_images: int, latent_dim: int, num_classes: int = 0
) -> tuple[jax.Array, Optional[jax.Array], int]:
  """(z, labels, columns) of the sample grids, the same at every step so frames compare.

  Unconditional: num_images draws of z, labels None, a near-square grid
  (columns 0 = the default). Class-conditional (num_classes > 0): one row per
  class and num_images // num_classes columns (at least one); every column
  shares its z, so a row shows one class in the styles of the other rows.
  """
  rng = jax.random.fold_in(jax.random.PRNGKey(seed), 1)
  if not num_classes:
    return jax.random.normal(rng, (num_images, latent_dim)), None, 0
  columns = max(1, num_images // num_classes)
  z = jnp.tile(jax.random.normal(rng, (columns, latent_dim)), (num_classes, 1))
  return z, jnp.repeat(jnp.arange(num_classes, dtype=jnp.int32), columns), columns
