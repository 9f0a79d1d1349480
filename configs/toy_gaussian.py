r"""Strakhov's (2018) first toy study: a linear generator G(z) = a z + b learns N(mu, sigma).

  python -m experiments.toy --config=configs/toy_gaussian.py

The analytic solution is |a| = sigma, b = mu. With the defaults (mu = 4,
sigma = 1.5, 2,000 steps) G recovers both within about 1% in seconds, and
D(x) flattens to 1/2. The four discriminators of the blog post are
variants:

  --config=configs/toy_gaussian.py             a 3-layer MLP (plain)
  --config=configs/toy_gaussian.py:l2          with L2 weight decay on D
  --config=configs/toy_gaussian.py:dropout     with dropout in D
  --config=configs/toy_gaussian.py:l2_dropout  with both

and the other toy configs derive from this one, so they take the same
variants. Any field can be overridden, e.g. --config.data.means='(-1.0,)'
--config.data.stds='(0.5,)'.
"""

import ml_collections

from gan_jax import losses
from gan_jax import optimizers
from gan_jax import penalties
from gan_jax import toy_train

# The blog post does not state its regularization strengths; these are mild.
L2_WEIGHT = 1e-3  # D minimizes loss + L2_WEIGHT * 1/2 sum of squared kernel weights.
DROPOUT_RATE = 0.2  # After each of D's hidden layers, in training.
DISCRIMINATOR_VARIANTS = ('', 'l2', 'dropout', 'l2_dropout')


def get_config(variant: str = '') -> ml_collections.ConfigDict:
  """The config; `variant` picks the blog post's discriminator regularization (see above)."""
  if variant not in DISCRIMINATOR_VARIANTS:
    raise ValueError(
      f'Unknown variant {variant!r} of the toy configs; valid: '
      f"'' (plain), {', '.join(repr(v) for v in DISCRIMINATOR_VARIANTS[1:])}."
    )
  config = ml_collections.ConfigDict()
  config.seed = 0

  # p_data: an equal mixture of N(means[i], stds[i]^2); one component here.
  config.data = ml_collections.ConfigDict(
    dict(name='gaussian_mixture_1d', means=(4.0,), stds=(1.5,))
  )

  config.model = ml_collections.ConfigDict()
  config.model.name = 'toy_linear'  # G(z) = a z + b, starting at a = 1, b = 0: N(0, 1).
  config.model.latent_dim = 1  # z ~ N(0, 1).
  config.model.generator_hidden_sizes = (256, 256)  # Read by model.name='toy_mlp' only.
  # D: three hidden layers (LeakyReLU 0.2) and a logit, as in Strakhov's blog post.
  config.model.discriminator_hidden_sizes = (64, 64, 64)
  config.model.discriminator_dropout = DROPOUT_RATE if 'dropout' in variant else 0.0
  config.model.discriminator_normalization = 'none'  # Or 'layer', 'spectral'.

  # The blog post's losses: D's cross-entropy; G's cross-entropy against "real".
  config.loss = losses.loss_config(name='non_saturating')

  if 'l2' in variant:
    config.penalty = penalties.penalty_config(name='l2', weight=L2_WEIGHT)
  else:
    config.penalty = penalties.penalty_config(name='none', weight=0.0)

  config.optimizer = ml_collections.ConfigDict()
  # Adam for both players; the toy problems take large steps.
  config.optimizer.generator = optimizers.player_optimizer_config(learning_rate=1e-2)
  config.optimizer.discriminator = optimizers.player_optimizer_config(learning_rate=1e-2)

  config.train = toy_train.train_config(
    num_steps=2_000,
    batch_size=256,
    discriminator_steps=1,  # The blog post alternates one D and one G update.
    log_every=50,
    plot_every=50,
  )
  return config
