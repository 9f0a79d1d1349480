r"""Conditional GAN (Mirza & Osindero 2014) with the MLPs of Aakash's GAN-variants
slides, on MNIST.

  python -m experiments.train --config=configs/cgan_mnist.py

G(z, y) and D(x, y) both read the one-hot digit class y next to their input
("train with labels", Rahmdel's GAN tutorial); the sample grids have one row per digit,
each column one z. The paper's MLPs were wider and used maxout in D; these are
`gan_mnist`'s (G 64+10 -> 256 -> 256 -> 784, D 784+10 -> 256 -> 256 -> 1), with
its Adam settings. `--config.model.conditioning=projection` swaps in the
projection discriminator (Miyato & Koyama 2018).
`--config=configs/cgan_mnist.py:tiny` shrinks everything for tests.
"""

import ml_collections

from configs import gan_mnist


def get_config(variant: str = '') -> ml_collections.ConfigDict:
  """The config; `variant='tiny'` gives narrow layers and a few steps, for tests."""
  config = gan_mnist.get_config(variant)
  config.model.conditioning = 'embedding'
  # One row per digit in the sample grids: 10 x 10.
  config.train.num_sample_images = 100 if not variant else 20
  return config
