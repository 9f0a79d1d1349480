"""Differentiable augmentation of the images D sees (the config's `augment` section).

Two methods for training on little data, both applied to real and generated
images alike and differentiable with respect to them, so G's gradient flows
through the augmentation:

  'diffaugment'  Zhao et al. 2020, `gan_jax.augment.diffaugment`: every
                 transformation of the policy, always.
  'ada'          Karras et al. 2020a, `gan_jax.augment.ada`: each
                 transformation with probability p, which the step keeps in the
                 training state and adapts.
  'none'         the images unchanged.

`Augmentation(images [B, H, W, C], keys [B], p) -> [B, H, W, C]` draws
everything of example i from keys[i] alone (the augmentation is mapped over
(image, key) pairs), so a batch split over devices is augmented exactly as on
one device when the keys come from the global example index.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp

from gan_jax import errors
from gan_jax.augment import ada
from gan_jax.augment import diffaugment

NAMES = ('none', 'diffaugment', 'ada')


@dataclasses.dataclass(frozen=True)
class Augmentation:
  """The augmentation of D's input, static in the step.

  Attributes:
    name: 'none', 'diffaugment' or 'ada'.
    policy: DiffAugment's transformations in the order they run, names of
      `diffaugment.TRANSFORMATIONS`, e.g. ('color', 'translation', 'cutout');
      () unless name is 'diffaugment'.
    transforms: ADA's transformations, names of `ada.TRANSFORMS` (they run in
      that order), e.g. all 12 of the paper's 'bgc'; () unless name is 'ada'.
  """

  name: str
  policy: tuple[str, ...] = ()
  transforms: tuple[str, ...] = ()

  def __call__(self, images: jax.Array, keys: jax.Array, p=0.0) -> jax.Array:
    """Augments a batch, example i from keys[i] alone.

    Args:
      images: [B, H, W, C] float32 in [-1, 1]; C = 1 or 3 for ADA's colour
        transformations. Outputs are not clipped (see each method's module).
      keys: [B] PRNG keys (typed, or raw uint32 [B, 2]), one per example.
      p: float32 scalar, ADA's probability (may be traced); ignored otherwise.

    Returns:
      [B, H, W, C], the same dtype.
    """
    if self.name == 'none':
      return images
    return _augment(self, images, keys, jnp.asarray(p, jnp.float32))


@functools.partial(jax.jit, static_argnums=0)
def _augment(augmentation: Augmentation, images, keys, p):
  """`augmentation` of a batch as one program: inside the jitted train step it is inlined;
  called eagerly (a step run op by op, as tests/test_combinations.py does), it compiles once
  per shape instead of dispatching its hundreds of operations one by one."""
  if augmentation.name == 'diffaugment':
    transform = lambda x, k: diffaugment.diffaugment(x, k, augmentation.policy)
  else:
    transform = lambda x, k: ada.ada(x, k, p, augmentation.transforms)
  augmented = jax.vmap(transform)(images, keys)
  return augmented.astype(images.dtype)  # The float32 draws would promote bfloat16 images.


def _names(field: str, value: str, valid: tuple[str, ...]) -> tuple[str, ...]:
  """The comma-separated names of `value`, each checked against `valid`, none twice."""
  names = tuple(name.strip() for name in value.split(',') if name.strip())
  if not names:
    raise errors.ConfigError(
      f'{field} is empty; name at least one of {", ".join(valid)}, or set augment.name=none.'
    )
  for name in names:
    if name not in valid:
      raise errors.unknown_name_error(f'{field} transformation', name, valid)
  repeated = sorted({name for name in names if names.count(name) > 1})
  if repeated:
    raise errors.ConfigError(f'{field} names {", ".join(repeated)} more than once; list each once.')
  return names


def from_config(augment_section) -> Augmentation:
  """The `Augmentation` of a config's `augment` section (`config_sections.augment_config`).

  Raises:
    ConfigError: an unknown method or transformation name, a repeated or empty list.
  """
  name = augment_section.name
  if name == 'none':
    return Augmentation('none')
  if name == 'diffaugment':
    policy = _names('augment.policy', augment_section.policy, tuple(diffaugment.TRANSFORMATIONS))
    return Augmentation('diffaugment', policy=policy)
  if name == 'ada':
    return Augmentation(
      'ada', transforms=_names('augment.transforms', augment_section.transforms, ada.TRANSFORMS)
    )
  raise errors.unknown_name_error('augment.name', name, NAMES)
