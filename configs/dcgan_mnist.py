r"""DCGAN (Radford et al. 2015) at 28x28 on MNIST, one channel.

  python -m experiments.train --config=configs/dcgan_mnist.py

uses the 5,000 bundled MNIST digits; `--config.data.name=mnist` takes full
MNIST from TFDS on a machine with internet. G starts from a 7x7 map and
upsamples twice (128 @ 7x7 -> 64 @ 14x14 -> 1 @ 28x28); D mirrors it. Model,
loss and optimizers are those of `dcgan_faces`.
"""

import ml_collections

from configs import dcgan_faces
from gan_jax import config_sections


def get_config() -> ml_collections.ConfigDict:
  config = dcgan_faces.get_config()
  config.data = config_sections.data_config(name='bundled_mnist')  # 28x28x1 as stored.
  config.train.update(num_steps=5_000, log_every=50, sample_every=250, checkpoint_every=1_000)
  return config
