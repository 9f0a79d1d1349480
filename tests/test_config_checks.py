"""`config_checks.check`: every bad config value is refused up front, in one line naming the field.

Each case below was accepted by `assembly.build` before the checks existed, or
ended in a traceback (ZeroDivisionError, KeyError, TypeError) instead of a
`ConfigError`.
"""

import importlib
import math
import os

import ml_collections
import pytest

from configs import dcgan_faces
from configs import gan_mnist
from configs import toy_gaussian
from gan_jax import config_checks
from gan_jax import config_sections
from gan_jax import errors

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_NAMES = sorted(
  name[:-3] for name in os.listdir(os.path.join(REPO, 'configs')) if name.endswith('.py')
)
CONFIGS = {
  'mlp': lambda: gan_mnist.get_config('tiny'),
  'dcgan': lambda: dcgan_faces.get_config('tiny'),
  'toy': toy_gaussian.get_config,
}
INTEGER_1 = 'an integer >= 1'
PROBABILITY = 'a finite number in [0, 1)'

CASES = [
  # Intervals: 0 divided the step (ZeroDivisionError after start-up); negative steps did nothing.
  ('mlp', 'train.checkpoint_every', 0, INTEGER_1),
  ('mlp', 'train.log_every', 0, INTEGER_1),
  ('mlp', 'train.sample_every', -1, INTEGER_1),
  ('mlp', 'train.num_steps', -5, INTEGER_1),
  ('mlp', 'train.checkpoints_to_keep', 0, INTEGER_1),
  ('mlp', 'train.batch_size', 0, INTEGER_1),
  ('mlp', 'train.num_sample_images', 0, INTEGER_1),
  ('mlp', 'train.discriminator_steps', 2.5, INTEGER_1),
  ('mlp', 'train.num_steps', '100', INTEGER_1),
  ('mlp', 'train.generator_ema_decay', 1.0, PROBABILITY),
  ('mlp', 'train.generator_ema_decay', -0.1, PROBABILITY),
  ('mlp', 'train.reuse_noise_for_generator', 'yes', 'True or False'),
  # Sizes.
  ('mlp', 'model.latent_dim', -1, INTEGER_1),
  ('mlp', 'model.latent_dim', 0, INTEGER_1),
  ('mlp', 'model.generator_hidden_sizes', (16, 0), 'a sequence of integers >= 1'),
  ('mlp', 'model.discriminator_hidden_sizes', 16, 'a sequence of integers >= 1'),
  ('mlp', 'model.reference_batch_size', 0, INTEGER_1),
  ('dcgan', 'model.base_width', 0, INTEGER_1),
  ('mlp', 'data.image_size', -1, 'an integer >= 0'),
  ('dcgan', 'data.crop_size', -8, 'an integer >= 0'),
  # Probabilities: dropout 1.5 trained a dead D.
  ('mlp', 'model.discriminator_dropout', 1.5, PROBABILITY),
  ('mlp', 'model.discriminator_dropout', 1.0, PROBABILITY),
  ('mlp', 'optimizer.generator.b1', 1.0, PROBABILITY),
  ('mlp', 'optimizer.discriminator.b2', -0.5, PROBABILITY),
  ('mlp', 'optimizer.generator.momentum', 1.5, PROBABILITY),
  ('mlp', 'optimizer.discriminator.decay', math.nan, PROBABILITY),
  # Learning rates: an infinite one passed and wrote non-finite parameters.
  ('mlp', 'optimizer.generator.learning_rate', math.inf, 'a finite number > 0'),
  ('dcgan', 'optimizer.discriminator.learning_rate', 'fast', 'a finite number > 0'),
  # Weights.
  ('mlp', 'loss.real_label', '0.9', 'a finite number in (0, 1]'),
  ('mlp', 'loss.auxiliary_weight', -1.0, 'a finite number >= 0'),
  ('mlp', 'loss.auxiliary_weight', math.inf, 'a finite number >= 0'),
  ('mlp', 'penalty.weight', math.inf, 'a finite number >= 0'),
  ('mlp', 'penalty.weight', math.nan, 'a finite number >= 0'),
  ('mlp', 'penalty.clip_weights', '0.01', 'a finite number >= 0'),
  # Evaluation.
  ('mlp', 'eval.num_samples', 0, INTEGER_1),
  ('mlp', 'eval.num_reference', -5, INTEGER_1),
  ('dcgan', 'eval.batch_size', 0, INTEGER_1),
  ('mlp', 'eval.every', -1, 'an integer >= 0'),
  ('mlp', 'eval.seed', 'x', 'an integer'),
  ('mlp', 'seed', 1.5, 'an integer'),
  ('dcgan', 'seed', None, 'an integer'),
  # The toy studies' train section and models.
  ('toy', 'train.plot_every', 0, INTEGER_1),
  ('toy', 'train.num_eval_samples', 0, INTEGER_1),
  ('toy', 'model.discriminator_dropout', 1.5, PROBABILITY),
  ('toy', 'model.discriminator_hidden_sizes', (64, -64), 'a sequence of integers >= 1'),
  ('toy', 'optimizer.generator.learning_rate', math.inf, 'a finite number > 0'),
  ('toy', 'penalty.weight', '0.001', 'a finite number >= 0'),
]


def with_value(config: ml_collections.ConfigDict, path: str, value) -> ml_collections.ConfigDict:
  """A copy of `config` with the field at `path` (e.g. 'train.log_every') set to `value`.

  Built from a dict, so that a value of another type gets past the ConfigDict's
  type checks, as it does from a config file or a stored config.json.
  """
  fields = config.to_dict()
  *sections, name = path.split('.')
  section = fields
  for key in sections:
    section = section[key]
  section[name] = value
  return ml_collections.ConfigDict(fields)


def assert_one_line_naming(error: errors.ConfigError, path: str, fragment: str) -> None:
  message = str(error)
  assert '\n' not in message, message
  assert message.startswith(f'{path} must be {fragment}'), message
  assert ', got ' in message, message
  assert f'--config.{path}=' in message, message  # The fix.


@pytest.mark.parametrize('config_name, path, value, fragment', CASES)
def test_bad_value_is_one_line_naming_the_field(config_name, path, value, fragment):
  config = with_value(CONFIGS[config_name](), path, value)
  with pytest.raises(errors.ConfigError) as raised:
    config_checks.check(config)
  assert_one_line_naming(raised.value, path, fragment)


def test_build_checks_first():
  from gan_jax import assembly  # Imports JAX, which the rest of this module does not need.

  config = with_value(gan_mnist.get_config('tiny'), 'train.checkpoints_to_keep', 0)
  with pytest.raises(errors.ConfigError) as raised:
    assembly.build(config, (28, 28, 1))
  assert str(raised.value) == (
    'train.checkpoints_to_keep must be an integer >= 1, got 0: '
    'set --config.train.checkpoints_to_keep=3 (the default) or another integer >= 1.'
  )


@pytest.mark.parametrize(
  'config_name, family, example',
  [('mlp', 'dcgan', 'configs/dcgan_mnist.py'), ('dcgan', 'mlp', 'configs/gan_mnist.py')],
)
def test_model_name_of_another_family_is_one_line(config_name, family, example):
  # --config.model.name=dcgan on gan_mnist.py was a KeyError 'base_width'.
  config = with_value(CONFIGS[config_name](), 'model.name', family)
  with pytest.raises(errors.ConfigError) as raised:
    config_checks.check(config)
  message = str(raised.value)
  assert '\n' not in message
  assert message.startswith(f'model.name={family!r} needs the {family} model fields')
  assert f"this config's model section is {config_name}'s" in message
  assert message.endswith(f'use a config of that family, such as {example}.')


def test_unknown_model_name_lists_the_valid_ones():
  config = with_value(gan_mnist.get_config('tiny'), 'model.name', 'vgg')
  with pytest.raises(
    errors.ConfigError, match="Unknown model 'vgg'; valid names: biggan, dcgan, mlp"
  ):
    config_checks.check(config)


def test_example_configs_are_of_their_family():
  for family, path in config_checks.EXAMPLE_CONFIGS.items():
    module = importlib.import_module(path[:-3].replace('/', '.'))
    assert module.get_config().model.name == family


def _refusal(config) -> str | None:
  """The message `check` refuses `config` with, or None if it passes."""
  try:
    config_checks.check(config)
  except errors.ConfigError as e:
    return str(e)
  return None


@pytest.mark.parametrize('name', CONFIG_NAMES)
def test_every_config_and_its_tiny_variant_passes(name):
  module = importlib.import_module(f'configs.{name}')
  assert _refusal(module.get_config()) is None
  if 'tiny' in (module.__doc__ or ''):
    assert _refusal(module.get_config('tiny')) is None


def test_every_default_passes():
  # The fix of each message suggests the default, so every default must pass.
  sections = dict(
    data=config_sections.data_config(),
    loss=config_sections.loss_config(),
    penalty=config_sections.penalty_config(),
    optimizer=config_sections.optimizers_config(),
    eval=config_sections.eval_config(),
    seed=0,
  )
  for family in config_sections.MODEL_FIELDS:
    for train in (config_sections.train_config(), config_sections.toy_train_config()):
      model = config_sections.model_config(family)
      config = ml_collections.ConfigDict(dict(sections, model=model, train=train))
      assert _refusal(config) is None, (family, train)
