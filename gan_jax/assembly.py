"""From a config to what the step trains: `build(config, ...) -> step.GAN`, and its state.

Training, the toy studies, the optimal-discriminator study, the reproduction
tables and the benchmark all assemble their run here, so a config means the
same thing to each of them.
"""

import jax
import ml_collections

from gan_jax import augment
from gan_jax import config_checks
from gan_jax import errors
from gan_jax import losses
from gan_jax import models
from gan_jax import optimizers
from gan_jax import penalties
from gan_jax import step
from gan_jax.augment import ada
from gan_jax.augment import adaptive
from gan_jax.state import GANState


def _check_penalty(config: ml_collections.ConfigDict) -> None:
  if (
    config.penalty.name in penalties.INPUT_GRADIENT_PENALTIES
    and config.model.discriminator_normalization == 'batch'
  ):
    raise errors.ConfigError(
      f'penalty.name={config.penalty.name!r} penalizes per-example gradients of D, but batch '
      'norm couples the examples; use --config.model.discriminator_normalization=layer '
      "(or 'spectral', 'none')."
    )


def _augmentation(config: ml_collections.ConfigDict, example_shape):
  """(D's input stage, ADA's controller of p) named by the `augment` section: (None, None) for
  'none' or a config without the section."""
  section = config.get('augment')
  if section is None or section.name == 'none':
    return None, None
  if len(example_shape) != 3:
    raise errors.ConfigError(
      f'augment.name={section.name!r} transforms images, but this run trains on vectors of '
      f'shape {tuple(example_shape)}; set --config.augment.name=none.'
    )
  controller = None
  if section.name == 'ada' and section.target > 0:
    controller = adaptive.Controller(section.target, section.interval, section.speed_kimg * 1000)
  augmentation = augment.from_config(section)
  channels = example_shape[-1]
  if set(augmentation.transforms) & set(ada.COLOR_TRANSFORMS) and channels not in (1, 3):
    raise errors.ConfigError(
      f"augment.transforms has ADA's color transformations, which need 1 or 3 channels, not "
      f'{channels}; drop {",".join(ada.COLOR_TRANSFORMS)} from --config.augment.transforms.'
    )
  return augmentation, controller


def _check_path_length(config: ml_collections.ConfigDict, generator) -> None:
  if config.penalty.path_length_weight > 0 and not hasattr(generator, 'styles'):
    raise errors.ConfigError(
      f'penalty.path_length_weight={config.penalty.path_length_weight} regularizes the '
      f'mapping from styles to images, which model.name={config.model.name!r} does not have; '
      'use --config.model.name=stylegan2 or set --config.penalty.path_length_weight=0.'
    )


def build(
  config: ml_collections.ConfigDict, example_shape: tuple[int, ...], num_classes: int = 0
) -> step.GAN:
  """The models, loss, penalty, optimizers and step options named by `config`.

  Args:
    config: the whole config.
    example_shape: (height, width, channels) of the images, or (d,) of toy vectors.
    num_classes: classes of the data's labels (0: unlabeled).

  Raises:
    ConfigError: for an unknown name, an invalid value (`config_checks.check`) or combination.
  """
  config_checks.check(config)
  penalty = penalties.get_penalty(config.penalty.name)
  _check_penalty(config)
  generator, discriminator = models.get_models(
    config.model, example_shape, batch_axis_name=step.BATCH_AXIS, num_classes=num_classes
  )
  _check_path_length(config, generator)
  augmentation, adaptive_augment = _augmentation(config, example_shape)
  auxiliary = config.model.conditioning == 'auxiliary'
  return step.GAN(
    generator=generator,
    discriminator=discriminator,
    loss=losses.get_loss(config.loss),
    generator_optimizer=optimizers.get_optimizer(config.optimizer.generator),
    discriminator_optimizer=optimizers.get_optimizer(config.optimizer.discriminator),
    latent_dim=config.model.latent_dim,
    penalty=penalty,
    penalty_weight=config.penalty.weight,
    clip_weights=config.penalty.clip_weights,
    auxiliary_weight=config.loss.auxiliary_weight if auxiliary else 0.0,
    reuse_noise_for_generator=config.train.reuse_noise_for_generator,
    generator_ema_decay=config.train.generator_ema_decay,
    generator_ema_half_life_images=config.train.generator_ema_half_life_kimg * 1000,
    generator_ema_rampup=config.train.generator_ema_rampup,
    generator_orthogonal=config.penalty.generator_orthogonal,
    penalty_every=config.penalty.every,
    path_length_weight=config.penalty.path_length_weight,
    path_length_every=config.penalty.path_length_every,
    path_length_decay=config.penalty.path_length_decay,
    path_length_batch_shrink=config.penalty.path_length_batch_shrink,
    augmentation=augmentation,
    augment_probability=config.augment.p if augmentation is not None else 0.0,
    adaptive_augment=adaptive_augment,
  )


def is_conditional(config: ml_collections.ConfigDict) -> bool:
  """Whether the config's models are class-conditional (and the step takes labels)."""
  return config.model.conditioning != 'none'


def initial_state(
  config: ml_collections.ConfigDict, gan: step.GAN, example_shape: tuple[int, ...]
) -> GANState:
  """The state at step 0 for `config.seed`."""
  return step.create_state(jax.random.PRNGKey(config.seed), gan, example_shape)
