r"""DCGAN (Radford et al. 2015) at 32x32 on CIFAR-10 (TFDS).

  python -m experiments.train --config=configs/dcgan_cifar10.py

reads CIFAR-10 with tfds.data_source; the first run on a machine with internet
downloads and prepares it (about 160 MB). G: 256 @ 4x4 -> 128 @ 8x8 -> 64 @
16x16 -> 3 @ 32x32; D mirrors it.
"""

import ml_collections

from gan_jax import input_pipeline
from gan_jax import optimizers
from gan_jax import train


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.data = input_pipeline.data_config(name='cifar10')  # 32x32x3 as stored.

  config.model = ml_collections.ConfigDict()
  config.model.name = 'dcgan'
  config.model.latent_dim = 100
  config.model.base_width = 64

  config.loss = ml_collections.ConfigDict()
  config.loss.name = 'non_saturating'

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.generator = optimizers.player_optimizer_config(
    name='adam', learning_rate=2e-4, b1=0.5
  )
  config.optimizer.discriminator = optimizers.player_optimizer_config(
    name='adam', learning_rate=2e-4, b1=0.5
  )

  # G's update reuses the last D update's noise and G forward pass, as the
  # DCGAN reference code does (one G forward pass less per step).
  config.train = train.train_config(
    reuse_noise_for_generator=True,
    num_steps=100_000,
    batch_size=128,
    log_every=100,
    sample_every=1_000,
    checkpoint_every=5_000,
  )
  return config
