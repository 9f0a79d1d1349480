"""Architectures, chosen by name: `get_models(model_config, image_shape, num_classes)`.

Each family module exports `Generator` and `Discriminator` linen modules with
one contract: G(z [batch, latent_dim], labels=None, *, train) -> images
[batch, H, W, C] in [-1, 1] (StyleGAN2's are not squashed, as in its
reference: about [-1, 1] once trained), and D(images, labels=None, *, train) ->
`DiscriminatorLogits` (logits [batch], and class_logits with
conditioning='auxiliary'; see `conditioning`). The builders below turn the
`model` section of a config (`gan_jax.config_sections.model_config`, whose
`MODEL_FIELDS` lists each family's fields) into the two modules.

Mixed precision. The image families' `model.dtype` ('float32' or 'bfloat16',
`DTYPES`) is the dtype their activations, matrix products and convolutions
are computed in. 'bfloat16' follows Micikevicius et al. 2018 (Mixed Precision
Training, section 3), with bfloat16 in place of their float16:
  - the parameters are a float32 master copy (3.1), cast to bfloat16 where a
    layer uses them (flax's `dtype` against `param_dtype`), so the gradients,
    the optimizer state and the EMA of G are float32;
  - what sums many terms or loses digits to cancellation is float32 (3.3):
    the statistics of batch, virtual batch and layer norm and the running
    averages in 'batch_stats', spectral norm's power iteration (on the
    float32 weights), and the losses, which `gan_jax.step` computes from D's
    logits cast to float32;
  - no loss scaling (3.2): bfloat16 has float32's exponent range.
G's images are float32 whatever the dtype (its output tanh is computed in
float32), as the real images are.
"""

from typing import Any, Callable, Optional

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from gan_jax import errors
from gan_jax.models import biggan
from gan_jax.models import conditioning
from gan_jax.models import dcgan
from gan_jax.models import layers
from gan_jax.models import mlp
from gan_jax.models import resnet
from gan_jax.models import stylegan2
from gan_jax.models import toy

ModelPair = tuple[nn.Module, nn.Module]

# model.dtype -> the dtype of the image families' computation (the names:
# `config_sections.MODEL_DTYPES`).
DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}


def _check_normalization(player: str, family: str, normalization: str, valid) -> None:
  if normalization not in valid:
    raise errors.ConfigError(
      f'model.{player}_normalization={normalization!r} is not one of the {family} '
      f"{player}'s: {', '.join(valid)}."
    )


def _generator_normalization(config, family: str) -> dict[str, Any]:
  """The G fields shared by the families: its normalization and VBN's reference size."""
  normalization = config.generator_normalization
  _check_normalization('generator', family, normalization, layers.GENERATOR_NORMALIZATIONS)
  return dict(normalization=normalization, reference_batch_size=config.reference_batch_size)


def _dtype(config) -> Any:
  """The dtype named by model.dtype, of an image family's computation."""
  if config.dtype not in DTYPES:
    raise errors.unknown_name_error('model.dtype', config.dtype, DTYPES)
  return DTYPES[config.dtype]


def _mlp(config: ml_collections.ConfigDict, image_shape, batch_axis_name, labels) -> ModelPair:
  # D's examples never meet, so D has no batch norm (hence no batch statistics).
  _check_normalization(
    'discriminator', 'mlp', config.discriminator_normalization, ('none', 'layer', 'spectral')
  )
  generator = mlp.Generator(
    image_shape=tuple(image_shape),
    hidden_sizes=tuple(config.generator_hidden_sizes),
    batch_axis_name=batch_axis_name,
    **_generator_normalization(config, 'mlp'),
    **labels,
    dtype=_dtype(config),
  )
  discriminator = mlp.Discriminator(
    hidden_sizes=tuple(config.discriminator_hidden_sizes),
    dropout_rate=config.discriminator_dropout,
    normalization=config.discriminator_normalization,
    **labels,
    dtype=_dtype(config),
  )
  return generator, discriminator


def _square_side(family: str, sizes, image_shape, hint: str = '') -> int:
  """The side of square `image_shape` (H, W, C) if `family` makes images of that side, else
  a `ConfigError` naming the sides and the fix."""
  height, width, _ = image_shape
  if height != width or height not in sizes:
    raise errors.ConfigError(
      f'{family} makes square images of side {", ".join(map(str, sizes))}, but the data has '
      f'shape {tuple(image_shape)}; set --config.data.image_size to one of those sides{hint}.'
    )
  return height


def _dcgan(config: ml_collections.ConfigDict, image_shape, batch_axis_name, labels) -> ModelPair:
  height, channels = _square_side('DCGAN', dcgan.IMAGE_SIZES, image_shape), image_shape[-1]
  _check_normalization(
    'discriminator', 'dcgan', config.discriminator_normalization, layers.NORMALIZATIONS
  )
  shared = dict(
    image_size=height,
    channels=channels,
    base_width=config.base_width,
    batch_axis_name=batch_axis_name,
    **labels,
    dtype=_dtype(config),
  )
  generator = dcgan.Generator(**shared, **_generator_normalization(config, 'dcgan'))
  discriminator = dcgan.Discriminator(**shared, normalization=config.discriminator_normalization)
  return generator, discriminator


def _check_attention(family: str, config, resolutions, image_size: int) -> None:
  """`ConfigError` unless model.attention_resolution is 0 or the side of one of G's block
  outputs (`resolutions`)."""
  if config.attention_resolution and config.attention_resolution not in resolutions:
    raise errors.ConfigError(
      f'model.attention_resolution={config.attention_resolution} is not a side of '
      f"{family}'s G blocks at {image_size}x{image_size}; set it to one of "
      f'{", ".join(map(str, resolutions))} or 0 (no attention).'
    )


def _biggan(config: ml_collections.ConfigDict, image_shape, batch_axis_name, labels) -> ModelPair:
  height, channels = _square_side('BigGAN', biggan.IMAGE_SIZES, image_shape), image_shape[-1]
  if labels['conditioning'] == 'embedding':
    raise errors.ConfigError(
      "BigGAN's G reads the class through its batch norms, not its input; set "
      "--config.model.conditioning=projection (the paper's), 'auxiliary' or 'none'."
    )
  _check_normalization(
    'discriminator', 'biggan', config.discriminator_normalization, ('spectral', 'none')
  )
  _check_attention('BigGAN', config, biggan.generator_resolutions(height), height)
  chunks = biggan.latent_chunks(height)
  if config.latent_dim % chunks:
    raise errors.ConfigError(
      f'model.latent_dim={config.latent_dim} does not divide by {chunks}: BigGAN at '
      f'{height}x{height} splits z into one chunk per G block plus one; set '
      f'--config.model.latent_dim={chunks * max(1, config.latent_dim // chunks)}.'
    )
  shared = dict(
    image_size=height,
    channels=channels,
    base_width=config.base_width,
    attention_resolution=config.attention_resolution,
    **labels,
    dtype=_dtype(config),
  )
  generator = biggan.Generator(
    **shared, shared_embedding_dim=config.shared_embedding_dim, batch_axis_name=batch_axis_name
  )
  discriminator = biggan.Discriminator(
    **shared, spectral_norm=config.discriminator_normalization == 'spectral'
  )
  return generator, discriminator


def _resnet(config: ml_collections.ConfigDict, image_shape, batch_axis_name, labels) -> ModelPair:
  hint = ' (MNIST: --config.data.image_size=32 --config.data.crop_size=32 pads it)'
  height = _square_side('The resnet family', resnet.IMAGE_SIZES, image_shape, hint)
  channels = image_shape[-1]
  _check_normalization(
    'discriminator',
    'resnet',
    config.discriminator_normalization,
    resnet.DISCRIMINATOR_NORMALIZATIONS,
  )
  resnet.check(
    height, config.generator_width, config.discriminator_width, config.attention_resolution
  )
  shared = dict(
    image_size=height,
    channels=channels,
    attention_resolution=config.attention_resolution,
    **labels,
    dtype=_dtype(config),
  )
  generator = resnet.Generator(
    **shared,
    width=config.generator_width,
    spectral_norm=config.generator_spectral_norm,
    batch_axis_name=batch_axis_name,
  )
  discriminator = resnet.Discriminator(
    **shared, width=config.discriminator_width, normalization=config.discriminator_normalization
  )
  return generator, discriminator


def _stylegan2(config: ml_collections.ConfigDict, image_shape, batch_axis_name, labels):
  hint = ' (MNIST: --config.data.image_size=32 --config.data.crop_size=32 pads it)'
  height = _square_side('StyleGAN2', stylegan2.IMAGE_SIZES, image_shape, hint)
  channels = image_shape[-1]
  if labels['conditioning'] not in stylegan2.CONDITIONINGS:
    raise errors.ConfigError(
      f"StyleGAN2 takes the label through G's mapping network and D's projection only; set "
      f'--config.model.conditioning to one of {", ".join(stylegan2.CONDITIONINGS)}, not '
      f'{labels["conditioning"]!r}.'
    )
  _check_normalization('discriminator', 'stylegan2', config.discriminator_normalization, ('none',))
  if config.discriminator_architecture not in stylegan2.DISCRIMINATOR_ARCHITECTURES:
    raise errors.unknown_name_error(
      'model.discriminator_architecture',
      config.discriminator_architecture,
      stylegan2.DISCRIMINATOR_ARCHITECTURES,
    )
  if config.mapping_layers < 1:
    raise errors.ConfigError(
      f'model.mapping_layers={config.mapping_layers}: the mapping network needs at least one '
      "layer; set it to 8 (config F) or 2 (ADA's CIFAR-10)."
    )
  if not 0 <= config.style_mixing_probability <= 1:
    raise errors.ConfigError(
      f'model.style_mixing_probability={config.style_mixing_probability} is not a probability; '
      'set it in [0, 1] (0.9 in the paper, 0 for none).'
    )
  if config.minibatch_std_group_size < 1 or config.minibatch_std_channels < 0:
    raise errors.ConfigError(
      f'model.minibatch_std_group_size={config.minibatch_std_group_size} and '
      f'model.minibatch_std_channels={config.minibatch_std_channels}: set a group size >= 1 '
      'and channels >= 0 (4 and 1 in config F; 0 channels: no minibatch std layer).'
    )
  width_at_4 = stylegan2.channels_at(4, config.channel_base, config.channel_max)
  if stylegan2.channels_at(height, config.channel_base, config.channel_max) < 1:
    raise errors.ConfigError(
      f'model.channel_base={config.channel_base} gives no channels at {height}x{height} '
      f'(channel_base // side); set it to at least {height}.'
    )
  if config.minibatch_std_channels and width_at_4 % config.minibatch_std_channels:
    raise errors.ConfigError(
      f'model.minibatch_std_channels={config.minibatch_std_channels} does not divide the '
      f'{width_at_4} channels of D at 4x4; set a divisor of {width_at_4} (1 in config F).'
    )
  shared = dict(
    image_size=height,
    channels=channels,
    channel_base=config.channel_base,
    channel_max=config.channel_max,
    # The reference's None (no clamp) is 0 in the config.
    conv_clamp=config.conv_clamp or None,
    **labels,
    dtype=_dtype(config),
  )
  generator = stylegan2.Generator(
    **shared,
    w_dim=config.w_dim,
    mapping_layers=config.mapping_layers,
    mapping_lr_multiplier=config.mapping_lr_multiplier,
    style_mixing_probability=config.style_mixing_probability,
    batch_axis_name=batch_axis_name,
  )
  discriminator = stylegan2.Discriminator(
    **shared,
    architecture=config.discriminator_architecture,
    minibatch_std_group_size=config.minibatch_std_group_size,
    minibatch_std_channels=config.minibatch_std_channels,
  )
  return generator, discriminator


def _toy_discriminator(config: ml_collections.ConfigDict) -> nn.Module:
  """Strakhov's (2018) D on vectors: an MLP (three hidden layers in its configs), maybe dropout."""
  _check_normalization(
    'discriminator', 'toy', config.discriminator_normalization, ('none', 'layer', 'spectral')
  )
  return mlp.Discriminator(
    hidden_sizes=tuple(config.discriminator_hidden_sizes),
    dropout_rate=config.discriminator_dropout,
    normalization=config.discriminator_normalization,
  )


def _toy_linear(config: ml_collections.ConfigDict, example_shape, batch_axis_name, labels):
  del batch_axis_name, labels  # No batch statistics; toy data have no labels.
  generator = toy.LinearGenerator(example_shape=tuple(example_shape))
  return generator, _toy_discriminator(config)


def _toy_mlp(config: ml_collections.ConfigDict, example_shape, batch_axis_name, labels):
  del batch_axis_name, labels  # No batch statistics; toy data have no labels.
  generator = toy.MLPGenerator(
    example_shape=tuple(example_shape), hidden_sizes=tuple(config.generator_hidden_sizes)
  )
  return generator, _toy_discriminator(config)


MODELS: dict[str, Callable[..., ModelPair]] = {
  'biggan': _biggan,
  'dcgan': _dcgan,
  'mlp': _mlp,
  'resnet': _resnet,
  'stylegan2': _stylegan2,
  'toy_linear': _toy_linear,
  'toy_mlp': _toy_mlp,
}


def get_models(
  config: ml_collections.ConfigDict,
  image_shape: tuple[int, int, int],
  batch_axis_name: Optional[str] = None,
  num_classes: int = 0,
) -> ModelPair:
  """The (Generator, Discriminator) of the family `config.name`.

  Args:
    config: the config's `model` section.
    image_shape: (height, width, channels) of the data.
    batch_axis_name: the mesh axis over which batch statistics are averaged in
      training, or None outside a data-parallel map.
    num_classes: classes of the data's labels; 0 for data without labels.

  Raises:
    ConfigError: for an unknown family, conditioning or dtype name, a
      normalization the family does not have, a shape it cannot make, or a
      conditional model on data without labels.
  """
  if config.name not in MODELS:
    raise errors.unknown_name_error('model', config.name, MODELS)
  conditioning_name = config.conditioning
  if conditioning_name not in conditioning.CONDITIONINGS:
    raise errors.unknown_name_error('conditioning', conditioning_name, conditioning.CONDITIONINGS)
  if conditioning_name != 'none' and num_classes < 2:
    raise errors.ConfigError(
      f'model.conditioning={conditioning_name!r} needs class labels, but the data has none; '
      "train on labeled data (e.g. --config.data.name=bundled_mnist or 'mnist', 'cifar10') "
      'or set --config.model.conditioning=none.'
    )
  labels = dict(num_classes=num_classes, conditioning=conditioning_name)
  return MODELS[config.name](config, image_shape, batch_axis_name, labels)
