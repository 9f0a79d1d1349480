r"""DCGAN (Radford et al. 2015) at 28x28 on MNIST, one channel.

  python -m experiments.train --config=configs/dcgan_mnist.py

uses the 5,000 bundled MNIST digits; `--config.data.name=mnist` takes full
MNIST from TFDS on a machine with internet. G starts from a 7x7 map and
upsamples twice (7 -> 14 -> 28); D mirrors it.
"""

import ml_collections

from gan_jax import input_pipeline
from gan_jax import optimizers
from gan_jax import train


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.data = input_pipeline.data_config(name='bundled_mnist')  # 28x28x1 as stored.

  config.model = ml_collections.ConfigDict()
  config.model.name = 'dcgan'
  config.model.latent_dim = 100
  config.model.base_width = 64  # G: 128 @ 7x7 -> 64 @ 14x14 -> 1 @ 28x28.

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
    num_steps=5_000,
    batch_size=64,
    log_every=50,
    sample_every=250,
    checkpoint_every=1_000,
  )
  return config
