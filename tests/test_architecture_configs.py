"""The modern families through their configs: each :tiny config trains on 8 CPU devices,
and what a family cannot do is refused in one line before anything compiles."""

import json
import os

import numpy as np
import pytest

from configs import biggan_cifar10
from configs import biggan_imagenet128
from configs import sagan_cifar10
from gan_jax import config_sections
from gan_jax import errors
from gan_jax import models
from gan_jax import train


def _trained_metrics(config, workdir):
  state = train.train_and_evaluate(config, workdir)
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    records = [json.loads(line) for line in f]
  return state, records


def test_biggan_cifar10_tiny_trains_with_its_settings(tmp_path):
  # Hinge loss, 2 D steps, projection D on the digits' labels, EMA of G: finite throughout.
  config = biggan_cifar10.get_config('tiny')
  state, records = _trained_metrics(config, str(tmp_path / 'run'))
  assert int(state.step) == 2 and [r['step'] for r in records] == [1, 2]
  for record in records:
    assert all(np.isfinite(v) for k, v in record.items() if k != 'step'), record
  assert state.generator_ema is not None
  assert os.listdir(tmp_path / 'run' / 'checkpoints')


def test_sagan_cifar10_tiny_trains_conditionally_with_attention(tmp_path):
  # SNGAN's ResNets with self-attention at 16x16, spectral norm in G and D, projection D
  # on the digits (padded to 32x32), the two time-scale learning rates.
  config = sagan_cifar10.get_config('tiny')
  config.model.conditioning = 'projection'
  state, records = _trained_metrics(config, str(tmp_path / 'run'))
  assert int(state.step) == 2
  for record in records:
    assert all(np.isfinite(v) for k, v in record.items() if k != 'step'), record
  # Self-attention's scale starts at 0 (Zhang et al. 2019) and has moved: attention trains.
  assert np.abs(np.asarray(state.generator.params['attention']['gamma'])).max() > 0


def test_biggan_imagenet128_tiny_builds_its_layout():
  config = biggan_imagenet128.get_config('tiny')
  generator, discriminator = models.get_models(config.model, (128, 128, 3))
  assert generator.attention_resolution == 8 and discriminator.image_size == 128


@pytest.mark.parametrize(
  'fields, shape, num_classes, message',
  [
    ({}, (64, 64, 3), 0, 'BigGAN makes square images of side 32, 128'),
    ({'conditioning': 'embedding'}, (32, 32, 3), 10, 'set --config.model.conditioning=projection'),
    ({'discriminator_normalization': 'batch'}, (32, 32, 3), 0, 'not one of the biggan discr'),
    ({'attention_resolution': 12}, (32, 32, 3), 0, 'set it to one of 8, 16, 32 or 0'),
    ({'latent_dim': 30}, (32, 32, 3), 0, 'set --config.model.latent_dim=28'),
  ],
)
def test_biggan_refuses_what_it_cannot_do_in_one_line(fields, shape, num_classes, message):
  _assert_refused('biggan', fields, shape, num_classes, message)


@pytest.mark.parametrize(
  'fields, shape, message',
  [
    ({}, (28, 28, 1), r'--config.data.image_size=32 --config.data.crop_size=32 pads it'),
    ({'discriminator_normalization': 'batch'}, (32, 32, 3), 'not one of the resnet discr'),
    ({'attention_resolution': 32}, (32, 32, 3), 'attention'),
  ],
)
def test_resnet_refuses_what_it_cannot_do_in_one_line(fields, shape, message):
  _assert_refused('resnet', fields, shape, 0, message)


def _assert_refused(family, fields, shape, num_classes, message):
  config = config_sections.model_config(family, **fields)
  with pytest.raises(errors.ConfigError, match=message) as raised:
    models.get_models(config, shape, num_classes=num_classes)
  assert '\n' not in str(raised.value)
