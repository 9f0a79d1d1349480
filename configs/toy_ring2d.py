r"""The 2-D mode-coverage benchmark: 8 Gaussians on a ring (Metz et al. 2017).

  python -m experiments.toy --config=configs/toy_ring2d.py

p_data: 8 equal modes evenly spaced on a circle of radius 2, std 0.02 each.
G is `toy_mixture_mlp`'s MLP with a 2-D latent; D has three hidden layers of
128. results.json reports the modes covered (at least 0.8% of G's samples
within 3 std, out of 8) and the fraction of G's samples within 3 std of a
mode. Takes the discriminator variants of `toy_gaussian`.
"""

import ml_collections

from configs import toy_mixture_mlp


def get_config(variant: str = '') -> ml_collections.ConfigDict:
  """The config; `variant` as in `toy_gaussian`."""
  config = toy_mixture_mlp.get_config(variant)
  config.data = ml_collections.ConfigDict(dict(name='ring_2d', num_modes=8, radius=2.0, std=0.02))
  config.model.latent_dim = 2
  config.model.discriminator_hidden_sizes = (128, 128, 128)
  config.optimizer.generator.learning_rate = 1e-3
  config.optimizer.discriminator.learning_rate = 1e-3
  config.train.num_steps = 5_000
  config.train.log_every = 50
  config.train.plot_every = 200
  return config
