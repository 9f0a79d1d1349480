"""Official StyleGAN2-ADA weights as the variables of our StyleGAN2 (`gan_jax.models.stylegan2`).

NVlabs/stylegan2-ada-pytorch keeps G, D and G_ema in its .pkl snapshots as
torch modules; their `state_dict()`, converted to numpy (`{name:
tensor.numpy()}`, no torch needed here), loads into our modules built with the
same settings, e.g. to fine-tune an official checkpoint or to sample from it:

  variables = stylegan2_weights.generator_variables(state_dict, generator, latent_dim=512)
  images = generator.apply(variables, z, labels, train=False)

The module paths are the reference's (`synthesis.b8.conv0.affine.weight` is
our `params/synthesis_network/b8/conv0/affine/kernel`); layouts change from
torch's to ours: convolutions [out, in, kh, kw] -> [kh, kw, in, out], dense
weights [out, in] -> [in, out], the learned constant [C, 4, 4] -> [4, 4, C].
The equalized learning rate stores the same numbers in both (weights N(0, 1) /
lr_multiplier, scaled at run time), so nothing is rescaled. G's buffers
`mapping.w_avg` and `*.noise_const` become our 'w_average' and 'noise_const'
collections (the truncation trick's centre and the noise of train=False, the
reference's noise_mode='const'). The reference's `resample_filter` buffers
must be its default [1, 3, 3, 1] filter, ours. tests/test_stylegan2_reference.py
checks the outputs against the reference's to 1e-5.
"""

from typing import Any, Mapping, Optional

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import errors
from gan_jax.models import stylegan2
from gan_jax.models import stylegan2_layers as layers

StateDict = Mapping[str, Any]  # Official name -> array ([out, in, ...] torch layouts).

# Our module and variable names that differ from the reference's.
_OFFICIAL_NAMES = {
  'synthesis_network': 'synthesis',
  'latent_average': 'mapping',  # The reference keeps w_avg in the mapping network.
  'kernel': 'weight',
  'noise': 'noise_const',
}
_RESAMPLE_FILTER = 'resample_filter'
_SETTINGS_HINT = (
  'build ours with the settings of the checkpoint (image_size, channel_base, channel_max, '
  'w_dim, mapping_layers, num_classes and conditioning, D architecture)'
)


def _official_name(path: tuple[str, ...]) -> str:
  """Our variable path without its collection, e.g. ('synthesis_network', 'b4', 'const'), ->
  the reference's state_dict name, 'synthesis.b4.const'."""
  return '.'.join(_OFFICIAL_NAMES.get(part, part) for part in path)


def _axes_to_ours(ndim: int, leaf: str) -> tuple[int, ...]:
  """The permutation from the reference's layout to ours: convolutions [out, in, kh, kw] ->
  [kh, kw, in, out], dense [out, in] -> [in, out], the constant [C, 4, 4] -> [4, 4, C]."""
  if ndim == 4:
    return (2, 3, 1, 0)
  if leaf == 'const':
    return (1, 2, 0)
  if leaf == 'kernel':
    return (1, 0)
  return tuple(range(ndim))


def _load(state_dict: StateDict, shapes: Any, player: str) -> dict:
  """Fills the variable tree `shapes` (of jax.ShapeDtypeStruct) from `state_dict`; every
  official tensor must find its place, apart from the resample filters."""
  used = set()

  def load_leaf(path, target: jax.ShapeDtypeStruct) -> jax.Array:
    keys = tuple(entry.key for entry in path)
    name = _official_name(keys[1:])
    if name not in state_dict:
      raise errors.ConfigError(
        f'The official {player} state dict has no tensor {name!r} for our '
        f'{"/".join(keys)}; {_SETTINGS_HINT}.'
      )
    value = np.asarray(state_dict[name], np.float32)
    axes = _axes_to_ours(len(target.shape), keys[-1])
    expected = tuple(target.shape[axis] for axis in np.argsort(axes))
    if value.shape != expected:
      raise errors.ConfigError(
        f'The official {player} tensor {name!r} has shape {tuple(value.shape)}, ours needs '
        f'{expected} (in its layout); {_SETTINGS_HINT}.'
      )
    used.add(name)
    return jnp.asarray(value.transpose(axes), target.dtype)

  variables = jax.tree_util.tree_map_with_path(load_leaf, shapes)
  resample_filter = np.outer(layers.setup_filter(), layers.setup_filter())
  for name in sorted(set(state_dict) - used):
    if name.rsplit('.', 1)[-1] != _RESAMPLE_FILTER:
      raise errors.ConfigError(
        f'The official {player} tensor {name!r} has no place in ours; {_SETTINGS_HINT}.'
      )
    value = np.asarray(state_dict[name])
    if value.shape != resample_filter.shape or not np.allclose(value, resample_filter):
      raise errors.ConfigError(
        f"The official {player}'s {name!r} is not the [1, 3, 3, 1] filter, the only one ours "
        'has; use a checkpoint trained with the default resample filter.'
      )
  return variables


def _labels(num_classes: int, conditioning: str) -> Optional[jax.Array]:
  return jnp.zeros((1,), jnp.int32) if conditioning == 'projection' and num_classes else None


def generator_variables(
  state_dict: StateDict, generator: stylegan2.Generator, latent_dim: int
) -> dict:
  """The official G's `state_dict()` (names -> numpy arrays) -> our G's variables
  {'params', 'w_average', 'noise_const'}, for `generator.apply(variables, z [B, latent_dim],
  labels, train=False)`.

  Raises a ConfigError naming the first official tensor that is missing, of another shape
  than `generator` needs, or left over.
  """
  labels = _labels(generator.num_classes, generator.conditioning)
  shapes = jax.eval_shape(
    lambda: generator.init(
      jax.random.key(0), jnp.zeros((1, latent_dim), jnp.float32), labels, train=False
    )
  )
  return _load(state_dict, shapes, 'G')


def discriminator_variables(state_dict: StateDict, discriminator: stylegan2.Discriminator) -> dict:
  """The official D's `state_dict()` (names -> numpy arrays) -> our D's variables {'params'}.

  Raises a ConfigError naming the first official tensor that is missing, of another shape
  than `discriminator` needs, or left over (e.g. the 'skip' weights of a 'resnet' D loaded
  into an 'orig' one).
  """
  side = discriminator.image_size
  images = jnp.zeros((1, side, side, discriminator.channels), jnp.float32)
  labels = _labels(discriminator.num_classes, discriminator.conditioning)
  shapes = jax.eval_shape(
    lambda: discriminator.init(jax.random.key(0), images, labels, train=False)
  )
  return _load(state_dict, shapes, 'D')
