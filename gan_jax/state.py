"""The training state of the two-player game, as one explicit pytree.

The state holds arrays only (no modules, no optimizers): those are static and
bound to the train step with `functools.partial`, so the state can be
replicated, donated, checkpointed and restored as a plain pytree.
"""

from typing import Any, Optional

import flax
import jax
import optax

from gan_jax.augment.adaptive import AdaptiveState

Variables = Any  # A (possibly empty) dict of linen variable collections.


@flax.struct.dataclass
class PlayerState:
  """One player's (G's or D's) trainable and non-trainable state.

  Attributes:
    params: the 'params' collection.
    model_state: every other collection of the module (e.g. 'batch_stats'),
      updated in training and used as is in evaluation; {} if there is none.
    opt_state: the player's optimizer state.
  """

  params: Variables
  model_state: Variables
  opt_state: optax.OptState

  def variables(self) -> Variables:
    """The full variable dict to pass to `module.apply`."""
    return {'params': self.params, **self.model_state}


@flax.struct.dataclass
class GANState:
  """The whole state of a GAN run.

  Attributes:
    step: number of completed train steps (each: k D updates, one G update).
    rng: the run's base key; a step's randomness is `fold_in(rng, step)`, so
      every draw is a function of the seed and the step alone, which makes a
      resumed run repeat an uninterrupted one exactly.
    generator: G's state.
    discriminator: D's state.
    generator_ema: an exponential moving average of G's params, used for
      samples and evaluation (Karras et al. 2018; Yazici et al. 2019), or
      None when the run keeps none (`train.generator_ema_decay` = 0).
    augment: ADA's adaptive probability p and its running statistics
      (`gan_jax.augment.adaptive`), or None when p does not adapt.
    path_length_mean: the running mean of G's path lengths (Karras et al.
      2020b, Eq. 4), or None without the path length penalty.
  """

  step: jax.Array
  rng: jax.Array
  generator: PlayerState
  discriminator: PlayerState
  generator_ema: Optional[Variables] = None
  augment: Optional[AdaptiveState] = None
  path_length_mean: Optional[jax.Array] = None

  def sampling_generator(self) -> PlayerState:
    """G as it should draw samples: with the EMA params when there are any."""
    if self.generator_ema is None:
      return self.generator
    return self.generator.replace(params=self.generator_ema)
