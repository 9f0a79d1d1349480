"""Every config file loads and builds its models for its data's image shape."""

import importlib
import os

import pytest

from gan_jax import train

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(
  name[:-3] for name in os.listdir(os.path.join(REPO, 'configs')) if name.endswith('.py')
)

IMAGE_SHAPES = {
  'acgan_mnist': (28, 28, 1),
  'cgan_mnist': (28, 28, 1),
  'dcgan_cifar10': (32, 32, 3),
  'dcgan_faces': (64, 64, 3),
  'dcgan_mnist': (28, 28, 1),
  'gan_mnist': (28, 28, 1),
  'hinge_sn_cifar10': (32, 32, 3),
  'lsgan_cifar10': (32, 32, 3),
  'optimal_discriminator': (1,),
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
  num_classes = 10 if train.is_conditional(config) else 0  # The conditional ones are on MNIST.
  parts = train.build(config, IMAGE_SHAPES[name], num_classes)
  assert parts['latent_dim'] == config.model.latent_dim
  assert config.train.batch_size % 8 == 0  # Splits over 8 devices.
