r"""LSGAN (Mao et al. 2017) on CIFAR-10 with the DCGAN networks at 32x32.

  python -m experiments.train --config=configs/lsgan_cifar10.py

The least-squares loss with the 0-1 coding (a = 0, b = c = 1, Eq. 9) on D's
raw outputs; Adam with learning rate 2e-4 and b1 = 0.5 as in the paper.
CIFAR-10 comes from TFDS (downloaded on first use).
"""

import ml_collections

from configs import dcgan_cifar10


def get_config() -> ml_collections.ConfigDict:
  config = dcgan_cifar10.get_config()
  config.loss.name = 'least_squares'
  config.train.batch_size = 64
  return config
