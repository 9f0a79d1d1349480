"""Every variant works with every other: one train step per combination that makes sense.

The factors are the loss, D's penalty (and WGAN clipping), D's and G's
normalizations, the class conditioning and the architecture. Each part meets
the others only through a narrow contract: a loss sees D's logits; a penalty
sees D as a function of its input, so it meets the architecture, its
normalization and its conditioning; clipping meets D's parameters. So the
product is taken over the factors that meet:

  penalty (+ clipping) x D normalization x architecture, the loss cycling;
  loss x conditioning on the MLPs, and every conditioning on DCGAN (a loss
  sees logits only, whichever network made them);
  G normalization x architecture.

Combinations that make no sense (an input-gradient penalty through batch
norm, a normalization the family lacks) must be rejected by `train.build`
with a ConfigError; every other one runs one step with finite metrics that
moves both players.

The families are the MLP, DCGAN and the ResNet (SNGAN), BigGAN and StyleGAN2
families at 32x32, each from its tiny config; each family also runs a conditional
step with an augmentation of D's input (DiffAugment or ADA, each on several families). The step runs un-jitted, vmapped over a one-device axis named like the mesh's:
XLA compiles each primitive once for all combinations instead of compiling
every combination's whole step, which keeps ~100 combinations to about a minute.
"""

import functools
import itertools

import jax
import numpy as np
import pytest

from configs import biggan_cifar10
from configs import dcgan_faces
from configs import gan_mnist
from configs import sngan_cifar10
from configs import stylegan2_cifar10
from gan_jax import assembly
from gan_jax import errors
from gan_jax import losses
from gan_jax import penalties
from gan_jax import step as step_lib
from gan_jax.models import conditioning
from gan_jax.models import layers

ARCHITECTURES = {
  'mlp': (28, 28, 1),
  'dcgan': (28, 28, 1),
  'resnet': (32, 32, 1),
  'biggan': (32, 32, 1),
  'stylegan2': (32, 32, 1),
}
# The families whose G normalization is a field; resnet's and biggan's G have batch norm,
# stylegan2's none.
GENERATOR_NORMALIZED = ('mlp', 'dcgan')
TINY_CONFIGS = {
  'mlp': gan_mnist.get_config,
  'dcgan': dcgan_faces.get_config,
  'resnet': sngan_cifar10.get_config,
  'biggan': biggan_cifar10.get_config,
  'stylegan2': stylegan2_cifar10.get_config,
}
DISCRIMINATOR_NORMALIZATIONS = {
  'mlp': ('none', 'layer', 'spectral'),
  'dcgan': layers.NORMALIZATIONS,
  'resnet': ('spectral', 'none'),
  'biggan': ('spectral', 'none'),
  'stylegan2': ('none',),
}
NUM_CLASSES = 10
LOSSES = sorted(losses.LOSSES)


def _config(architecture, *, loss='non_saturating', penalty='none', clip=0.0, **model):
  config = TINY_CONFIGS[architecture]('tiny')
  config.loss.name = loss
  config.penalty.update(name=penalty, clip_weights=clip)
  config.model.update({'conditioning': 'none', **model})
  config.train.update(batch_size=4, discriminator_steps=1)
  if architecture == 'stylegan2':
    # Not lazy here: a lazy update is a lax.cond, compiled whole for every combination
    # (tests/test_stylegan2_training.py and test_lazy_regularization.py run the lazy ones).
    config.penalty.update(every=1, path_length_weight=0.0)
  return config


def _valid(architecture, config) -> bool:
  """Whether the combination makes sense, by the rules the library states."""
  normalization = config.model.discriminator_normalization
  if normalization not in DISCRIMINATOR_NORMALIZATIONS[architecture]:
    return False
  if architecture == 'biggan' and config.model.conditioning == 'embedding':
    return False  # BigGAN's G reads classes through its batch norms only.
  if architecture == 'stylegan2' and config.model.conditioning not in ('none', 'projection'):
    return False  # Its G reads the class through the mapping network, its D projects.
  return not (
    config.penalty.name in penalties.INPUT_GRADIENT_PENALTIES and normalization == 'batch'
  )


def _one_step(config, image_shape):
  num_classes = NUM_CLASSES if assembly.is_conditional(config) else 0
  gan = assembly.build(config, image_shape, num_classes)
  state = assembly.initial_state(config, gan, image_shape)
  rng = np.random.default_rng(0)
  batch_shape = (1, config.train.discriminator_steps, config.train.batch_size)
  inputs = [rng.uniform(-1, 1, (*batch_shape, *image_shape)).astype(np.float32)]
  if num_classes:
    inputs.append(rng.integers(0, num_classes, batch_shape, dtype=np.int32))
  step = jax.vmap(functools.partial(step_lib.train_step, gan=gan), axis_name=step_lib.BATCH_AXIS)
  new_state, metrics = step(jax.tree.map(lambda x: x[None], state), *inputs)
  return state, jax.tree.map(lambda x: np.asarray(x[0]), new_state), metrics


def _assert_one_step_or_rejection(architecture, config):
  image_shape = ARCHITECTURES[architecture]
  if not _valid(architecture, config):
    with pytest.raises(errors.ConfigError):
      assembly.build(config, image_shape, NUM_CLASSES)
    return
  state, new_state, metrics = _one_step(config, image_shape)
  for name, value in metrics.items():
    assert np.isfinite(value).all(), name
  for player in ('generator', 'discriminator'):
    old, new = getattr(state, player).params, getattr(new_state, player).params
    moved = jax.tree.leaves(jax.tree.map(lambda a, b: not np.array_equal(a, b), old, new))
    assert any(moved), player
  # Spectral norm's power iteration and batch norm's running averages are model state.
  for player in ('generator', 'discriminator'):
    # resnet, biggan: G's batch norm; stylegan2: no batch statistics anywhere.
    default = 'none' if architecture == 'stylegan2' else 'batch'
    normalization = config.model.get(f'{player}_normalization', default)
    has_stats = 'batch_stats' in getattr(new_state, player).model_state
    assert has_stats == (normalization in ('batch', 'spectral')), player
  if config.penalty.clip_weights:
    bound = max(np.abs(leaf).max() for leaf in jax.tree.leaves(new_state.discriminator.params))
    assert bound <= config.penalty.clip_weights
  if config.model.get('conditioning') == 'auxiliary':
    assert {'d_classifier_loss', 'g_classifier_loss'} <= set(metrics)


PENALTY_CASES = [(name, 0.0) for name in sorted(penalties.PENALTIES)] + [('none', 0.01)]
# The full product on the MLP and DCGAN; on the ResNet and BigGAN families, which have the
# normalizations 'spectral' and 'none' only, each penalty once, the two alternating;
# StyleGAN2's D has no normalization: each penalty once.
DISCRIMINATOR_CASES = (
  [
    (index, penalty, clip, normalization, architecture)
    for index, ((penalty, clip), normalization, architecture) in enumerate(
      itertools.product(PENALTY_CASES, layers.NORMALIZATIONS, GENERATOR_NORMALIZED)
    )
  ]
  + [
    (index, penalty, clip, ('spectral', 'none')[index % 2], architecture)
    for architecture in ('resnet', 'biggan')
    for index, (penalty, clip) in enumerate(PENALTY_CASES)
  ]
  + [
    (index, penalty, clip, 'none', 'stylegan2')
    for index, (penalty, clip) in enumerate(PENALTY_CASES)
  ]
)


@pytest.mark.parametrize('index, penalty, clip, normalization, architecture', DISCRIMINATOR_CASES)
def test_penalty_x_discriminator_normalization_x_architecture(
  index, penalty, clip, normalization, architecture
):
  loss = LOSSES[index % len(LOSSES)]  # Every loss meets several penalties and both families.
  config = _config(
    architecture,
    loss=loss,
    penalty=penalty,
    clip=clip,
    discriminator_normalization=normalization,
  )
  _assert_one_step_or_rejection(architecture, config)


# Every loss with every conditioning on the MLPs; every conditioning on the other families, the
# loss cycling.
CONDITIONING_CASES = list(itertools.product(LOSSES, conditioning.CONDITIONINGS, ['mlp'])) + [
  (LOSSES[(offset + index) % len(LOSSES)], name, architecture)
  for offset, architecture in enumerate(('dcgan', 'resnet', 'biggan', 'stylegan2'))
  for index, name in enumerate(conditioning.CONDITIONINGS)
]


@pytest.mark.parametrize('loss, conditioning_name, architecture', CONDITIONING_CASES)
def test_loss_x_conditioning_x_architecture(loss, conditioning_name, architecture):
  normalization = {'mlp': 'none', 'dcgan': 'batch', 'stylegan2': 'none'}.get(
    architecture, 'spectral'
  )
  config = _config(
    architecture,
    loss=loss,
    conditioning=conditioning_name,
    discriminator_normalization=normalization,
  )
  _assert_one_step_or_rejection(architecture, config)


@pytest.mark.parametrize(
  'normalization, architecture',
  list(itertools.product(layers.GENERATOR_NORMALIZATIONS, GENERATOR_NORMALIZED)),
)
def test_generator_normalization_x_architecture(normalization, architecture):
  config = _config(
    architecture,
    generator_normalization=normalization,
    reference_batch_size=4,
    discriminator_normalization='none',
  )
  _assert_one_step_or_rejection(architecture, config)


# Each augmentation on at least two families, StyleGAN2 among them: the augmentation meets the
# architecture only through D's input (tests/test_augment_training.py runs both on the MLP).
AUGMENTATION_CASES = [
  ('diffaugment', 'mlp'),
  ('ada', 'dcgan'),
  ('diffaugment', 'resnet'),
  ('ada', 'biggan'),
  ('diffaugment', 'stylegan2'),
]


@pytest.mark.parametrize('augment, architecture', AUGMENTATION_CASES)
def test_augmentation_x_architecture_conditionally(augment, architecture):
  config = _config(
    architecture,
    conditioning='projection',
    discriminator_normalization=DISCRIMINATOR_NORMALIZATIONS[architecture][0],
  )
  config.augment.update(name=augment, p=0.5)
  _assert_one_step_or_rejection(architecture, config)


def test_the_invalid_combinations_say_why():
  config = _config('dcgan', penalty='r1', discriminator_normalization='batch')
  with pytest.raises(errors.ConfigError, match='batch norm couples the examples'):
    assembly.build(config, (28, 28, 1))
  config = _config('mlp', discriminator_normalization='batch')
  with pytest.raises(errors.ConfigError, match="mlp discriminator's: none, layer, spectral"):
    assembly.build(config, (28, 28, 1))
