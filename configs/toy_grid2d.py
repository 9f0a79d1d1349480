r"""The 2-D mode-coverage benchmark: 25 Gaussians on a 5 x 5 grid (Srivastava et al. 2017).

  python -m experiments.toy --config=configs/toy_grid2d.py

p_data: 25 equal modes at {-4, -2, 0, 2, 4}^2, std 0.05 each; the models and
optimizers are those of `toy_ring2d`. results.json reports the modes covered
(out of 25) and the fraction of G's samples within 3 std of a mode. Takes the
discriminator variants of `toy_gaussian`.
"""

import ml_collections

from configs import toy_ring2d


def get_config(variant: str = '') -> ml_collections.ConfigDict:
  """The config; `variant` as in `toy_gaussian`."""
  config = toy_ring2d.get_config(variant)
  config.data = ml_collections.ConfigDict(
    dict(name='grid_2d', modes_per_side=5, spacing=2.0, std=0.05)
  )
  # 25 modes take longer than 8 to be found: 20,000 steps, a few minutes.
  config.train.num_steps = 20_000
  config.train.plot_every = 500
  return config
