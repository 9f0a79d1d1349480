r"""The optimal discriminator, measured (Goodfellow et al. 2014, Proposition 1, Theorem 1).

  python -m experiments.optimal_discriminator

trains D alone against a linear G frozen at p_g = N(0, 2^2), on the bimodal
data of Strakhov's blog post (2018), and compares it with D* = p_data / (p_data + p_g); then fits D
against a G far from the data and measures G's gradient under the minimax and
the non-saturating losses (saturation). About two minutes on 2 CPU cores. The
models, losses and train step are those of the toy configs.
"""

import ml_collections

from configs import toy_mixture
from gan_jax import config_sections


def get_config() -> ml_collections.ConfigDict:
  """The config."""
  config = toy_mixture.get_config()  # p_data = 1/2 N(-2, 0.5^2) + 1/2 N(2, 0.5^2).

  # p_g of the comparison with D*: overlaps both modes, so D* has two bumps.
  config.fixed_generator = ml_collections.ConfigDict(dict(mean=0.0, std=2.0))
  # p_g far from the data, which D rejects with confidence: G's loss saturates.
  config.saturated_generator = ml_collections.ConfigDict(dict(mean=-8.0, std=0.5))

  # D only is trained. Adam with b1 = 0.9 and a larger batch than the toy runs
  # settle D closer to its optimum than DCGAN's b1 = 0.5.
  config.optimizer.discriminator = config_sections.optimizer_config(learning_rate=1e-3, b1=0.9)
  config.train.num_steps = 10_000
  config.train.batch_size = 1024
  config.train.log_every = 500
  config.train.plot_every = 10_000
  return config
