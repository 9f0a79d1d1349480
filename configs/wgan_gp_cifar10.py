r"""WGAN-GP (Gulrajani et al. 2017) on CIFAR-10 with the DCGAN networks at 32x32.

  python -m experiments.train --config=configs/wgan_gp_cifar10.py

The critic is DCGAN's with layer norm instead of batch norm (the paper: "no
critic batch normalization", section 4, because the penalty is per example).
CIFAR-10 comes from TFDS (downloaded on first use).
"""

import ml_collections

from configs import dcgan_cifar10
from gan_jax import config_sections


def get_config() -> ml_collections.ConfigDict:
  config = dcgan_cifar10.get_config()
  config.model.discriminator_normalization = 'layer'
  config.loss.name = 'wasserstein'
  # The paper's CIFAR-10 settings: lambda = 10, n_critic = 5, Adam with
  # learning rate 1e-4, b1 = 0, b2 = 0.9, batch 64, 100k generator iterations.
  config.penalty = config_sections.penalty_config(name='gradient_penalty', weight=10.0)
  adam = dict(name='adam', learning_rate=1e-4, b1=0.0, b2=0.9)
  config.optimizer.generator = config_sections.optimizer_config(**adam)
  config.optimizer.discriminator = config_sections.optimizer_config(**adam)
  config.train.update(discriminator_steps=5, batch_size=64, reuse_noise_for_generator=False)
  return config
