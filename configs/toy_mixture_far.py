r"""Mode collapse as in Strakhov's blog post (2018): the right mode of `toy_mixture` moved far out.

  python -m experiments.toy --config=configs/toy_mixture_far.py

p_data = 1/2 N(-2, 0.5^2) + 1/2 N(6, 0.5^2). The linear G starts at N(0, 1),
near the left mode and far from the right one; it fits the left mode (mean
near -2, std near 0.5) within 200 steps and never moves mass to the right
one. D settles at D* = p_data / (p_data + p_g) = (p/2) / (p/2 + p) = 1/3 on
the left mode, p = N(-2, 0.5^2), and at 1 on the right one. Takes the
discriminator variants of `toy_gaussian`.
"""

import ml_collections

from configs import toy_mixture


def get_config(variant: str = '') -> ml_collections.ConfigDict:
  """The config; `variant` as in `toy_gaussian`."""
  config = toy_mixture.get_config(variant)
  config.data.means = (-2.0, 6.0)
  return config
