r"""DCGAN (Radford et al. 2015) at 32x32 on CIFAR-10 (TFDS).

  python -m experiments.train --config=configs/dcgan_cifar10.py

reads CIFAR-10 with tfds.data_source; the first run on a machine with internet
downloads and prepares it (about 160 MB). G: 256 @ 4x4 -> 128 @ 8x8 -> 64 @
16x16 -> 3 @ 32x32; D mirrors it. Model, loss and optimizers are those of
`dcgan_faces`; the batch is the paper's 128.
"""

import ml_collections

from configs import dcgan_faces
from gan_jax import config_sections


def get_config() -> ml_collections.ConfigDict:
  config = dcgan_faces.get_config()
  config.data = config_sections.data_config(name='cifar10')  # 32x32x3 as stored.
  config.train.update(
    num_steps=100_000, batch_size=128, log_every=100, sample_every=1_000, checkpoint_every=5_000
  )
  return config
