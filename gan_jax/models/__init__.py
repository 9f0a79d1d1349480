"""Architectures, chosen by name: `get_models(model_config, image_shape)`.

Each family module exports `Generator` and `Discriminator` linen modules with
one contract: G(z [batch, latent_dim], labels=None, *, train) -> images
[batch, H, W, C] in [-1, 1], and D(images, labels=None, *, train) -> logits
[batch]. The builders below turn the `model` section of a config into the two
modules; each reads only the fields its family has.
"""

from typing import Callable, Optional

import flax.linen as nn
import ml_collections

from gan_jax import errors
from gan_jax.models import dcgan
from gan_jax.models import layers
from gan_jax.models import mlp

ModelPair = tuple[nn.Module, nn.Module]


def _check_normalization(family: str, normalization: str, valid: tuple[str, ...]) -> None:
  if normalization not in valid:
    raise errors.ConfigError(
      f'model.discriminator_normalization={normalization!r} is not one of the {family} '
      f"discriminator's: {', '.join(valid)}."
    )


def _mlp(config: ml_collections.ConfigDict, image_shape, batch_axis_name) -> ModelPair:
  del batch_axis_name  # No batch statistics to synchronize.
  _check_normalization('mlp', config.discriminator_normalization, ('none', 'layer', 'spectral'))
  generator = mlp.Generator(
    image_shape=tuple(image_shape), hidden_sizes=tuple(config.generator_hidden_sizes)
  )
  discriminator = mlp.Discriminator(
    hidden_sizes=tuple(config.discriminator_hidden_sizes),
    dropout_rate=config.discriminator_dropout,
    normalization=config.discriminator_normalization,
  )
  return generator, discriminator


def _dcgan(config: ml_collections.ConfigDict, image_shape, batch_axis_name) -> ModelPair:
  height, width, channels = image_shape
  if height != width or height not in dcgan.IMAGE_SIZES:
    raise errors.ConfigError(
      f'DCGAN makes square images of side {", ".join(map(str, dcgan.IMAGE_SIZES))}, but the data '
      f'has shape {tuple(image_shape)}; set --config.data.image_size to one of those sides.'
    )
  _check_normalization('dcgan', config.discriminator_normalization, layers.NORMALIZATIONS)
  shared = dict(
    image_size=height,
    channels=channels,
    base_width=config.base_width,
    batch_axis_name=batch_axis_name,
  )
  discriminator = dcgan.Discriminator(**shared, normalization=config.discriminator_normalization)
  return dcgan.Generator(**shared), discriminator


MODELS: dict[str, Callable[..., ModelPair]] = {
  'dcgan': _dcgan,
  'mlp': _mlp,
}


def get_models(
  config: ml_collections.ConfigDict,
  image_shape: tuple[int, int, int],
  batch_axis_name: Optional[str] = None,
) -> ModelPair:
  """The (Generator, Discriminator) of the family `config.name`.

  Args:
    config: the config's `model` section.
    image_shape: (height, width, channels) of the data.
    batch_axis_name: the pmap axis over which batch statistics are averaged in
      training, or None outside pmap.

  Raises:
    ConfigError: for an unknown family name or a shape the family cannot make.
  """
  if config.name not in MODELS:
    raise errors.unknown_name_error('model', config.name, MODELS)
  return MODELS[config.name](config, image_shape, batch_axis_name)
