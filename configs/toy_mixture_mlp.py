r"""Strakhov's (2018) fix for mode averaging: an MLP generator on the data of `toy_mixture`.

  python -m experiments.toy --config=configs/toy_mixture_mlp.py

G is the blog post's z (1) -> 256 -> 256 -> x MLP (ReLU, linear output). Unlike
the linear G it can bend N(0, 1) into two bumps, and puts about half its
mass near each mode; D ends near 1/2. Takes the discriminator variants of
`toy_gaussian`.
"""

import ml_collections

from configs import toy_mixture


def get_config(variant: str = '') -> ml_collections.ConfigDict:
  """The config; `variant` as in `toy_gaussian`."""
  config = toy_mixture.get_config(variant)
  config.model.name = 'toy_mlp'
  config.model.generator_hidden_sizes = (256, 256)
  # Smaller steps than the linear G's 1e-2: the MLP has 66,000 parameters, not 2.
  config.optimizer.generator.learning_rate = 3e-3
  config.optimizer.discriminator.learning_rate = 3e-3
  config.train.num_steps = 4_000
  config.train.log_every = 100
  config.train.plot_every = 100
  return config
