r"""WGAN with weight clipping (Arjovsky et al. 2017) and the MLPs of Aakash's
GAN-variants slides, on MNIST.

  python -m experiments.train --config=configs/wgan_mnist.py

The models and data are those of `gan_mnist`; the loss, the critic's
constraint, the optimizers and k follow Algorithm 1 of the paper.
`--config=configs/wgan_mnist.py:tiny` shrinks everything for tests.
"""

import ml_collections

from configs import gan_mnist
from gan_jax import config_sections


def get_config(variant: str = '') -> ml_collections.ConfigDict:
  """The config; `variant='tiny'` gives narrow layers and a few steps, for tests."""
  config = gan_mnist.get_config(variant)

  # The critic maximizes E[C(x)] - E[C(G(z))] (Eq. 3); its outputs are unbounded.
  config.loss.name = 'wasserstein'

  # Algorithm 1's defaults: clipping c = 0.01, RMSProp with learning rate
  # 5e-5 for both players (momentum-based optimizers made training unstable,
  # section 3), batch size m = 64 (gan_mnist's), n_critic = 5. The authors' code used
  # PyTorch's RMSProp, whose decay (alpha) is 0.99.
  config.penalty = config_sections.penalty_config(name='none', clip_weights=0.01)
  rmsprop = dict(name='rmsprop', learning_rate=5e-5, decay=0.99, momentum=0.0)
  config.optimizer.generator = config_sections.optimizer_config(**rmsprop)
  config.optimizer.discriminator = config_sections.optimizer_config(**rmsprop)
  config.train.discriminator_steps = 5
  if not variant:  # The tiny variant keeps its few steps.
    config.train.num_steps = 20_000  # Generator iterations; not tuned on the bundled set.
  return config
