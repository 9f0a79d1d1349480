r"""AC-GAN (Odena et al. 2017) with the DCGAN networks at 28x28, on MNIST.

  python -m experiments.train --config=configs/acgan_mnist.py

G(z, y) reads the one-hot class next to z; D is unconditional but has a second
head that predicts the class, and both players add its cross-entropy
(`loss.auxiliary_weight` = 1, as in the paper) to their adversarial losses:
D on real and generated digits, G on generated ones. The paper's
architecture was larger (and for ImageNet); here the networks, Adam settings
and data are `dcgan_mnist`'s, with one row per digit in the sample grids.
"""

import ml_collections

from configs import dcgan_mnist


def get_config() -> ml_collections.ConfigDict:
  config = dcgan_mnist.get_config()
  config.model.conditioning = 'auxiliary'
  config.loss.auxiliary_weight = 1.0
  config.train.num_sample_images = 100
  return config
