r"""WGAN-GP (Gulrajani et al. 2017) with the MLPs of Aakash's GAN-variants slides,
on MNIST.

  python -m experiments.train --config=configs/wgan_gp_mnist.py

The models and data are those of `gan_mnist` (the MLP critic has no batch
norm, which the per-example gradient penalty requires); the loss, penalty,
optimizers and k follow the paper.
`--config=configs/wgan_gp_mnist.py:tiny` shrinks everything for tests.
"""

import ml_collections

from configs import gan_mnist
from gan_jax import config_sections


def get_config(variant: str = '') -> ml_collections.ConfigDict:
  """The config; `variant='tiny'` gives narrow layers and a few steps, for tests."""
  config = gan_mnist.get_config(variant)

  # The critic maximizes E[C(x)] - E[C(G(z))], kept 1-Lipschitz by the penalty.
  config.loss.name = 'wasserstein'

  # Algorithm 1's defaults: lambda = 10, n_critic = 5, Adam with learning rate
  # 1e-4 and b2 = 0.9 for both players. The paper states b1 = 0; the authors'
  # MNIST code (gan_mnist.py) uses b1 = 0.5, as here.
  config.penalty = config_sections.penalty_config(name='gradient_penalty', weight=10.0)
  adam = dict(name='adam', learning_rate=1e-4, b1=0.5, b2=0.9)
  config.optimizer.generator = config_sections.optimizer_config(**adam)
  config.optimizer.discriminator = config_sections.optimizer_config(**adam)
  config.train.discriminator_steps = 5
  # Batch size 64 (gan_mnist's); the authors' MNIST code used 50.
  if not variant:  # The tiny variant keeps its few steps.
    config.train.num_steps = 20_000  # Generator iterations; not tuned on the bundled set.
  return config
