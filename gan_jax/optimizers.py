"""Optax optimizers built from a player's config section, chosen by name.

Each player (`optimizer.generator`, `optimizer.discriminator`) has its own
section, so the two are chosen and tuned separately (e.g. TTUR). The fields a
section holds, and which optimizer reads which:
  name:           'adam' | 'sgd' | 'rmsprop'
  learning_rate:  all
  b1, b2:         adam (DCGAN uses b1 = 0.5)
  momentum:       sgd (Goodfellow et al. 2014 trained with momentum), rmsprop
  decay:          rmsprop (the moving-average decay of squared gradients)
"""

from typing import Callable

import ml_collections
import optax

from gan_jax import errors


def _adam(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  return optax.adam(config.learning_rate, b1=config.b1, b2=config.b2)


def _sgd(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  return optax.sgd(config.learning_rate, momentum=config.momentum or None)


def _rmsprop(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  return optax.rmsprop(config.learning_rate, decay=config.decay, momentum=config.momentum or None)


OPTIMIZERS: dict[str, Callable[[ml_collections.ConfigDict], optax.GradientTransformation]] = {
  'adam': _adam,
  'sgd': _sgd,
  'rmsprop': _rmsprop,
}


def get_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """The optimizer described by one player's section; `ConfigError` if unknown."""
  if config.name not in OPTIMIZERS:
    raise errors.unknown_name_error('optimizer', config.name, OPTIMIZERS)
  if not config.learning_rate > 0:
    raise errors.ConfigError(
      f'optimizer learning_rate must be positive, got {config.learning_rate}.'
    )
  return OPTIMIZERS[config.name](config)
