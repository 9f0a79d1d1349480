r"""SNGAN-style (Miyato et al. 2018): hinge loss and a spectrally normalized critic, CIFAR-10.

  python -m experiments.train --config=configs/hinge_sn_cifar10.py

The DCGAN networks at 32x32 stand in for the paper's "standard CNN": G keeps
batch norm, every layer of D is spectrally normalized (no batch norm). The
paper's setting (Table 1, setting C for the hinge loss): Adam with learning
rate 2e-4, b1 = 0.5, b2 = 0.999, n_dis = 1 for the standard CNN, batch 64.
CIFAR-10 comes from TFDS (downloaded on first use).
"""

import ml_collections

from configs import dcgan_cifar10
from gan_jax import config_sections


def get_config() -> ml_collections.ConfigDict:
  config = dcgan_cifar10.get_config()
  config.model.discriminator_normalization = 'spectral'
  config.loss.name = 'hinge'
  adam = dict(name='adam', learning_rate=2e-4, b1=0.5, b2=0.999)
  config.optimizer.generator = config_sections.optimizer_config(**adam)
  config.optimizer.discriminator = config_sections.optimizer_config(**adam)
  config.train.update(discriminator_steps=1, batch_size=64)
  return config
