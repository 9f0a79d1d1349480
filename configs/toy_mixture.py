r"""Mode averaging (Strakhov 2018): a linear generator on an equal mixture of two Gaussians.

  python -m experiments.toy --config=configs/toy_mixture.py

p_data = 1/2 N(-2, 0.5^2) + 1/2 N(2, 0.5^2). A linear G can only make one
bell curve; it stays centred between the modes (mean near 0) and widens to
span both (std near 1.9, against 0.5 per mode), putting more than a quarter
of its mass where the data has almost none. D cannot be fooled: mean D(x)
stays near 2/3 on real data and 1/3 on generated data.
Takes the discriminator variants of `toy_gaussian` (e.g. `:l2_dropout`).
"""

import ml_collections

from configs import toy_gaussian


def get_config(variant: str = '') -> ml_collections.ConfigDict:
  """The config; `variant` as in `toy_gaussian`."""
  config = toy_gaussian.get_config(variant)
  config.data.means = (-2.0, 2.0)
  config.data.stds = (0.5, 0.5)
  # The modes are spread by step 300; 25-step frames show it happen.
  config.train.num_steps = 1_500
  config.train.log_every = 25
  config.train.plot_every = 25
  return config
