r"""SAGAN (Zhang et al. 2019): SNGAN's ResNets with self-attention, spectral norm in both
players and the two time-scale update rule, on CIFAR-10 (TFDS).

  python -m experiments.train --config=configs/sagan_cifar10.py
  python -m experiments.train --config=configs/sagan_cifar10.py:tiny   # offline, for tests

The networks of `sngan_cifar10` with SAGAN's self-attention block after the
16x16 maps of G and D (4.39M and 1.08M parameters, equal to torch_mimicry's
SAGAN at 32x32 but for where D attends) and spectral normalization of every
layer of G as well as D. Training as in Zhang et al. 2019, section 5: the
hinge loss, one D step per G step, Adam with (b1, b2) = (0, 0.9) and the
learning rates of the two time-scale update rule (Heusel et al. 2017), 1e-4
for G and 4e-4 for D; batch 64.
"""

import ml_collections

from configs import sngan_cifar10


def get_config(variant: str = '') -> ml_collections.ConfigDict:
  """The config; `variant='tiny'` gives narrow layers, few steps and bundled MNIST, for tests."""
  if variant not in ('', 'tiny'):
    raise ValueError(f"Unknown variant {variant!r} of sagan_cifar10; valid: 'tiny'.")
  config = sngan_cifar10.get_config(variant)
  config.model.update(attention_resolution=16, generator_spectral_norm=True)
  config.optimizer.generator.update(learning_rate=1e-4, b1=0.0, b2=0.9)
  config.optimizer.discriminator.update(learning_rate=4e-4, b1=0.0, b2=0.9)
  config.train.discriminator_steps = 1
  return config
