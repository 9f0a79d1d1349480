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

from gan_jax import config_sections

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

  # G(z) = a z + b with z ~ N(0, 1), starting at a = 1, b = 0: N(0, 1).
  # D: three hidden layers of 64 (LeakyReLU 0.2) and a logit, as in the blog post.
  config.model = config_sections.model_config(
    'toy_linear', discriminator_dropout=DROPOUT_RATE if 'dropout' in variant else 0.0
  )

  # The blog post's losses: D's cross-entropy; G's cross-entropy against "real".
  config.loss = config_sections.loss_config(name='non_saturating')

  if 'l2' in variant:
    config.penalty = config_sections.penalty_config(name='l2', weight=L2_WEIGHT)
  else:
    config.penalty = config_sections.penalty_config(name='none', weight=0.0)

  # Adam for both players; the toy problems take large steps.
  adam = dict(learning_rate=1e-2)
  config.optimizer = config_sections.optimizers_config(generator=adam, discriminator=adam)

  config.train = config_sections.toy_train_config(
    num_steps=2_000,
    batch_size=256,
    discriminator_steps=1,  # The blog post alternates one D and one G update.
    log_every=50,
    plot_every=50,
  )
  return config
