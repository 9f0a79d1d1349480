"""Every numeric field of a config checked before anything runs: `check(config)`.

`assembly.build` calls `check` first, so training, sampling, evaluation, the toy
studies and the benchmark refuse a bad value alike: one `ConfigError` line that
names the field, the value, the rule and the fix (the field's default), e.g.

  train.checkpoints_to_keep must be an integer >= 1, got 0: set
  --config.train.checkpoints_to_keep=3 (the default) or another integer >= 1.

This module imports neither JAX, Flax nor Optax, so an app can call it before
it starts a backend or loads data.

The rules. A section or field the config lacks is skipped; the toy studies'
`train` section (told apart by its `plot_every`) takes its fix from
`config_sections.toy_train_config`, and their free-form `data` section is
checked by `gan_jax.studies.toy_data`.

  seed, eval.seed                         an integer
  train.num_steps, batch_size, discriminator_steps, log_every, sample_every,
    checkpoint_every, checkpoints_to_keep, num_sample_images, plot_every,
    num_eval_samples                      an integer >= 1: an interval of 0
                                          divides by zero, 0 checkpoints kept
                                          deletes every one, num_steps <= 0
                                          trains nothing
  train.generator_ema_decay               in [0, 1): 0 keeps no EMA; 1 freezes it
  train.generator_ema_half_life_kimg, generator_ema_rampup    a number >= 0 (0: off)
  train.reuse_noise_for_generator         True or False
  model.name                              a family of `config_sections.MODEL_FIELDS`
                                          whose fields the section has
  model.latent_dim, base_width, reference_batch_size, shared_embedding_dim
                                          an integer >= 1
  model.attention_resolution              an integer >= 0 (0: no self-attention)
  model.generator_width, discriminator_width    an integer >= 0 (0: the paper's)
  model.generator_spectral_norm           True or False
  model.generator_hidden_sizes, discriminator_hidden_sizes
                                          a sequence of integers >= 1
  model.discriminator_dropout             in [0, 1): a rate of 1 drops every unit
  model.dtype                             'float32' or 'bfloat16' (`config_sections.MODEL_DTYPES`)
  model.w_dim, mapping_layers, channel_base, channel_max, minibatch_std_group_size
                                          an integer >= 1
  model.minibatch_std_channels            an integer >= 0 (0: no minibatch std layer)
  model.mapping_lr_multiplier             a number > 0
  model.conv_clamp                        a number >= 0 (0: no clamp)
  model.style_mixing_probability, augment.p     in [0, 1]
  penalty.every                           an integer >= 1 (1: not lazy)
  penalty.path_length_weight              a number >= 0 (0: off)
  penalty.path_length_every, path_length_batch_shrink, augment.interval    an integer >= 1
  penalty.path_length_decay               in (0, 1]
  augment.target                          in [0, 1) (0: p held fixed)
  augment.speed_kimg                      a number > 0
  data.image_size, data.crop_size         an integer >= 0 (0: as stored, the usual crop)
  loss.real_label                         in (0, 1] (1: no label smoothing)
  loss.auxiliary_weight, penalty.weight, penalty.clip_weights, penalty.generator_orthogonal
                                          a finite number >= 0 (0: off)
  optimizer.generator.learning_rate, optimizer.discriminator.learning_rate
                                          a finite number > 0
  optimizer.*.b1, b2, momentum, decay     in [0, 1): the decay rates of moving
                                          averages; 1 never moves them
  eval.num_samples, num_reference, batch_size, kid_subset_size    an integer >= 1
  eval.is_shuffle                         True or False
  eval.every                              an integer >= 0 (0: never)

A number must be finite and a number: True, None, '0.5' and nan are refused;
an integer must be an integer (2.5 and 2.0 are refused).
"""

import math
import numbers
from typing import Any, Callable, NamedTuple

import ml_collections

from gan_jax import config_sections
from gan_jax import errors


class Rule(NamedTuple):
  """What a field's value must be.

  text:        the rule as a message says it, e.g. 'an integer >= 1'.
  alternative: what the fix offers besides the default, e.g. 'another integer >= 1'.
  accepts:     value -> whether it obeys the rule.
  """

  text: str
  alternative: str
  accepts: Callable[[Any], bool]


def _is_integer(value) -> bool:
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_finite(value) -> bool:
  return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _integer(low: int, note: str = '') -> Rule:
  return Rule(
    f'an integer >= {low}{note}', f'another integer >= {low}', lambda v: _is_integer(v) and v >= low
  )


def _number(bound: str, within: Callable[[Any], bool]) -> Rule:
  return Rule(
    f'a finite number {bound}', f'another one {bound}', lambda v: _is_finite(v) and within(v)
  )


INTEGER = Rule('an integer', 'another integer', _is_integer)
COUNT = _integer(1)
FRACTION = _number('in [0, 1)', lambda v: 0 <= v < 1)
WEIGHT = _number('>= 0', lambda v: v >= 0)
POSITIVE = _number('> 0', lambda v: v > 0)
PROBABILITY = _number('in [0, 1]', lambda v: 0 <= v <= 1)
SIZES = Rule(
  'a sequence of integers >= 1',
  'another such sequence',
  lambda v: isinstance(v, (tuple, list)) and all(_is_integer(n) and n >= 1 for n in v),
)
BOOLEAN = Rule('True or False', 'the other', lambda v: isinstance(v, bool))
DTYPE = Rule(
  ' or '.join(map(repr, config_sections.MODEL_DTYPES)),
  "'bfloat16' (mixed precision)",
  lambda v: v in config_sections.MODEL_DTYPES,
)

_OPTIMIZER_RULES = dict(
  learning_rate=POSITIVE,
  b1=FRACTION,
  b2=FRACTION,
  momentum=FRACTION,
  decay=FRACTION,
)
# (section path, its rules by field); '' is the top level.
SECTION_RULES: dict[str, dict[str, Rule]] = {
  '': dict(seed=INTEGER),
  'data': dict(
    image_size=_integer(0, ' (0: as stored)'), crop_size=_integer(0, ' (0: the usual crop)')
  ),
  'model': dict(
    latent_dim=COUNT,
    base_width=COUNT,
    generator_hidden_sizes=SIZES,
    discriminator_hidden_sizes=SIZES,
    discriminator_dropout=FRACTION,
    reference_batch_size=COUNT,
    dtype=DTYPE,
    shared_embedding_dim=COUNT,
    attention_resolution=_integer(0, ' (0: none)'),
    generator_width=_integer(0, " (0: the paper's)"),
    discriminator_width=_integer(0, " (0: the paper's)"),
    generator_spectral_norm=BOOLEAN,
    w_dim=COUNT,
    mapping_layers=COUNT,
    mapping_lr_multiplier=POSITIVE,
    channel_base=COUNT,
    channel_max=COUNT,
    minibatch_std_group_size=COUNT,
    minibatch_std_channels=_integer(0, ' (0: no minibatch std layer)'),
    conv_clamp=_number('>= 0 (0: no clamp)', lambda v: v >= 0),
    style_mixing_probability=PROBABILITY,
  ),
  'loss': dict(real_label=_number('in (0, 1]', lambda v: 0 < v <= 1), auxiliary_weight=WEIGHT),
  'penalty': dict(
    weight=WEIGHT,
    every=_integer(1, ' (1: every update, not lazy)'),
    clip_weights=WEIGHT,
    generator_orthogonal=WEIGHT,
    path_length_weight=WEIGHT,
    path_length_every=COUNT,
    path_length_decay=_number('in (0, 1]', lambda v: 0 < v <= 1),
    path_length_batch_shrink=COUNT,
  ),
  'augment': dict(
    p=PROBABILITY,
    target=FRACTION,
    interval=COUNT,
    speed_kimg=POSITIVE,
  ),
  'optimizer.generator': _OPTIMIZER_RULES,
  'optimizer.discriminator': _OPTIMIZER_RULES,
  'train': dict(
    num_steps=COUNT,
    batch_size=COUNT,
    discriminator_steps=COUNT,
    reuse_noise_for_generator=BOOLEAN,
    generator_ema_decay=FRACTION,
    generator_ema_half_life_kimg=WEIGHT,
    generator_ema_rampup=WEIGHT,
    log_every=COUNT,
    sample_every=COUNT,
    checkpoint_every=COUNT,
    checkpoints_to_keep=COUNT,
    num_sample_images=COUNT,
    plot_every=COUNT,
    num_eval_samples=COUNT,
  ),
  'eval': dict(
    num_samples=COUNT,
    num_reference=COUNT,
    batch_size=COUNT,
    every=_integer(0, ' (0: never)'),
    seed=INTEGER,
    kid_subset_size=COUNT,
    is_shuffle=BOOLEAN,
  ),
}

# A config of each model family, named in the message for a model section of another family.
EXAMPLE_CONFIGS = {
  'biggan': 'configs/biggan_cifar10.py',
  'dcgan': 'configs/dcgan_mnist.py',
  'mlp': 'configs/gan_mnist.py',
  'resnet': 'configs/sngan_cifar10.py',
  'stylegan2': 'configs/stylegan2_faces.py',
  'toy_linear': 'configs/toy_gaussian.py',
  'toy_mlp': 'configs/toy_mixture_mlp.py',
}

_OPTIMIZER_DEFAULTS = config_sections.optimizer_config().to_dict()
_DEFAULTS: dict[str, dict[str, Any]] = {
  '': dict(seed=0),
  'data': config_sections.data_config().to_dict(),
  'loss': config_sections.loss_config().to_dict(),
  'penalty': config_sections.penalty_config().to_dict(),
  'augment': config_sections.augment_config().to_dict(),
  'optimizer.generator': _OPTIMIZER_DEFAULTS,
  'optimizer.discriminator': _OPTIMIZER_DEFAULTS,
  'train': config_sections.train_config().to_dict(),
  'toy train': config_sections.toy_train_config().to_dict(),
  'eval': config_sections.eval_config().to_dict(),
}


def _show(value) -> str:
  """`value` as a message shows it: its repr on one line, at most 60 characters."""
  shown = ' '.join(repr(value).split())
  return shown if len(shown) <= 60 else shown[:57] + '...'


def _flag(value) -> str:
  """`value` as a command line override writes it."""
  return f"'{tuple(value)}'" if isinstance(value, (tuple, list)) else repr(value)


def _error(path: str, value, rule: Rule, default) -> errors.ConfigError:
  alternative = str(not default) if rule is BOOLEAN else rule.alternative
  return errors.ConfigError(
    f'{path} must be {rule.text}, got {_show(value)}: set --config.{path}={_flag(default)} '
    f'(the default) or {alternative}.'
  )


def _check_model_family(model: ml_collections.ConfigDict) -> None:
  """Raises ConfigError unless model.name is a family whose fields the section has."""
  name = model.get('name')
  if not isinstance(name, str) or name not in config_sections.MODEL_FIELDS:
    raise errors.unknown_name_error('model', name, config_sections.MODEL_FIELDS)
  missing = sorted(set(config_sections.MODEL_FIELDS[name]) - set(model.keys()))
  if missing:
    fields = set(model.keys()) - {'name', 'conditioning'}
    owners = [f for f, own in config_sections.MODEL_FIELDS.items() if set(own) == fields]
    owner = f"is {' / '.join(owners)}'s and " if owners else ''
    raise errors.ConfigError(
      f"model.name={name!r} needs the {name} model fields, but this config's model section "
      f'{owner}lacks {", ".join(missing)}: use a config of that family, such as '
      f'{EXAMPLE_CONFIGS[name]}.'
    )


def _defaults(config: ml_collections.ConfigDict, path: str) -> dict[str, Any]:
  """The defaults of the section at `path`: of the model's family, of an image or toy run."""
  if path == 'model':
    families = config_sections.MODEL_FIELDS.values()
    every_family = {field: v for fields in families for field, v in fields.items()}
    return {**every_family, **config_sections.MODEL_FIELDS[config.model.name]}
  if path == 'train' and 'plot_every' in config.train:
    return _DEFAULTS['toy train']
  return _DEFAULTS[path]


def _section(config: ml_collections.ConfigDict, path: str):
  """The section at `path` ('' is the config itself), or None if the config lacks it."""
  section = config
  for key in filter(None, path.split('.')):
    if key not in section:
      return None
    section = section[key]
  return section


def check(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError, in one line naming the field and the fix, for the first bad value.

  Args:
    config: a whole config: an image run's, or a toy study's.

  Raises:
    ConfigError: for a value that breaks its field's rule (see the module
      docstring), or a model section without the fields of its model.name.
  """
  if 'model' in config:
    _check_model_family(config.model)
  for path, rules in SECTION_RULES.items():
    section = _section(config, path)
    if section is None:
      continue
    for field, rule in rules.items():
      if field in section and not rule.accepts(section[field]):
        prefix = f'{path}.' if path else ''
        raise _error(prefix + field, section[field], rule, _defaults(config, path)[field])
