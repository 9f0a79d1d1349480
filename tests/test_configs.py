"""Every config file loads and builds its models for its data's image shape."""

import ast
import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from configs import dcgan_faces
from gan_jax import assembly
from gan_jax import config_sections
from gan_jax import models
from gan_jax import train
from gan_jax import workdirs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(
  name[:-3] for name in os.listdir(os.path.join(REPO, 'configs')) if name.endswith('.py')
)

IMAGE_SHAPES = {
  'acgan_mnist': (28, 28, 1),
  'biggan_cifar10': (32, 32, 3),
  'biggan_imagenet128': (128, 128, 3),
  'cgan_mnist': (28, 28, 1),
  'dcgan_cifar10': (32, 32, 3),
  'dcgan_faces': (64, 64, 3),
  'dcgan_mnist': (28, 28, 1),
  'gan_mnist': (28, 28, 1),
  'hinge_sn_cifar10': (32, 32, 3),
  'lsgan_cifar10': (32, 32, 3),
  'optimal_discriminator': (1,),
  'sagan_cifar10': (32, 32, 3),
  'sngan_cifar10': (32, 32, 3),
  'stylegan2_cifar10': (32, 32, 3),
  'stylegan2_faces': (64, 64, 3),
  'stylegan2_ffhq256': (256, 256, 3),
  'toy_gaussian': (1,),
  'toy_grid2d': (2,),
  'toy_mixture': (1,),
  'toy_mixture_far': (1,),
  'toy_mixture_mlp': (1,),
  'toy_ring2d': (2,),
  'wgan_gp_cifar10': (32, 32, 3),
  'wgan_gp_mnist': (28, 28, 1),
  'wgan_mnist': (28, 28, 1),
}


def test_every_config_is_listed_here():
  assert CONFIGS == sorted(IMAGE_SHAPES)


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds(name):
  config = importlib.import_module(f'configs.{name}').get_config()
  num_classes = 10 if assembly.is_conditional(config) else 0  # Any number of classes builds.
  gan = assembly.build(config, IMAGE_SHAPES[name], num_classes)
  assert gan.latent_dim == config.model.latent_dim
  assert config.train.batch_size % 8 == 0  # Splits over 8 devices.


def test_loading_and_checking_every_config_imports_no_jax():
  # Configs are data: a config file and its sections (gan_jax.config_sections)
  # load without starting JAX, Flax or Optax, and are checked before JAX
  # starts (gan_jax.config_checks), e.g. before an app loads its data.
  script = (
    'import importlib, sys\n'
    f'sys.path.insert(0, {REPO!r})\n'
    'from gan_jax import config_checks\n'
    f'for name in {CONFIGS!r}:\n'
    "  config_checks.check(importlib.import_module('configs.' + name).get_config())\n"
    "print(sorted(m for m in ('jax', 'flax', 'optax', 'orbax') if m in sys.modules))\n"
  )
  output = subprocess.run(
    [sys.executable, '-c', script], capture_output=True, text=True, check=True, timeout=120
  ).stdout
  assert output.strip() == '[]'


def test_sections_refuse_a_field_they_do_not_have():
  with pytest.raises(ValueError, match='has no field learning_rat; its fields: b1, b2, decay'):
    config_sections.optimizer_config(learning_rat=1e-3)
  with pytest.raises(ValueError, match='dcgan model section has no field generator_hidden_sizes'):
    config_sections.model_config('dcgan', generator_hidden_sizes=(8,))
  with pytest.raises(
    ValueError, match="Unknown model 'vgg'; valid names: biggan, dcgan, mlp, resnet"
  ):
    config_sections.model_config('vgg')


def test_every_model_family_has_its_fields_and_builds_from_them_alone():
  assert sorted(config_sections.MODEL_FIELDS) == sorted(models.MODELS)
  shapes = {
    'biggan': (32, 32, 3),
    'dcgan': (32, 32, 3),
    'mlp': (28, 28, 1),
    'resnet': (32, 32, 3),
    'toy_linear': (1,),
    'toy_mlp': (2,),
  }
  for name, shape in shapes.items():
    generator, discriminator = models.get_models(config_sections.model_config(name), shape)
    assert generator.__class__.__module__.startswith('gan_jax.models')
    assert discriminator.__class__.__module__.startswith('gan_jax.models')


def test_a_run_whose_config_lacks_newer_fields_restores_and_samples(tmp_path):
  # A run's config.json written before a field existed: the field gets its
  # default, which is what the code did before it (e.g. batch norm in the
  # DCGAN generator, no conditioning, no penalty), so the checkpoint restores.
  config = dcgan_faces.get_config('tiny')
  config.data = config_sections.data_config(name='bundled_mnist')  # 28x28: compiles fast.
  config.train.update(num_steps=1, checkpoint_every=1, sample_every=1)
  workdir = str(tmp_path / 'run')
  state = train.train_and_evaluate(config, workdir)
  path = os.path.join(workdir, 'config.json')
  with open(path) as f:
    stored = json.load(f)
  for field in ('generator_normalization', 'reference_batch_size', 'conditioning'):
    del stored['model'][field]
  del stored['loss']['auxiliary_weight'], stored['train']['generator_ema_decay']
  del stored['penalty'], stored['eval']
  with open(path, 'w') as f:
    json.dump(stored, f)
  config = workdirs.read_config(workdir)
  assert config.model.generator_normalization == 'batch' and config.penalty.name == 'none'
  generate, restored = train.restore_for_sampling(config, workdir)
  z = np.random.default_rng(0).normal(size=(2, config.model.latent_dim)).astype(np.float32)
  np.testing.assert_array_equal(
    generate(restored.sampling_generator(), z), generate(state.sampling_generator(), z)
  )


def test_the_library_never_imports_the_studies():
  # The studies (toy runs, theory, tables, benchmarks) sit above the library.
  library = os.path.join(REPO, 'gan_jax')
  for root, _, files in os.walk(library):
    if os.path.relpath(root, library).startswith('studies'):
      continue
    for name in (name for name in files if name.endswith('.py')):
      with open(os.path.join(root, name)) as f:
        tree = ast.parse(f.read())
      for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
          imported = [f'{node.module}.{alias.name}' for alias in node.names]
        elif isinstance(node, ast.Import):
          imported = [alias.name for alias in node.names]
        else:
          continue
        assert not any(n.startswith('gan_jax.studies') for n in imported), (name, imported)
