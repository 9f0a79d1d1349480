"""The decay of G's exponential moving average (Karras et al. 2018; Yazici et al. 2019).

Either a fixed beta per step, or StyleGAN2-ADA's half-life in images (Karras
et al. 2020a, their training loop's ema_kimg and ema_rampup): beta = 0.5 **
(batch / h), so the weight of a step's parameters halves every h images
whatever the batch, with h optionally capped at a fraction of the images seen
so far, which lets the average forget the first, poor generators early on.
"""

import jax
import jax.numpy as jnp


def decay(gan, step: jax.Array, batch_size: int):
  """beta of G's EMA at step `step` (0-based) for a global batch of `batch_size` images.

  Args:
    gan: the step's `GAN`: generator_ema_decay (a fixed beta, returned as is
      when there is no half-life), generator_ema_half_life_images (h) and
      generator_ema_rampup (r: h is capped at r times the images seen before
      this step, so beta = 0 at step 0 and the EMA starts as G).
    step: int32 scalar.
    batch_size: images per step, over all devices.
  """
  if gan.generator_ema_half_life_images <= 0:
    return gan.generator_ema_decay
  half_life = jnp.float32(gan.generator_ema_half_life_images)
  if gan.generator_ema_rampup > 0:
    seen = step.astype(jnp.float32) * batch_size
    half_life = jnp.minimum(half_life, seen * gan.generator_ema_rampup)
  return 0.5 ** (batch_size / jnp.maximum(half_life, 1e-8))
