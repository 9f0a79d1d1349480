"""Reproducing the published tables: one module per table, chosen by name from `TABLES`.

  parzen_mnist        Goodfellow et al. 2014, Table 1: Parzen-window log-likelihood on MNIST.
  mmd_1nn_mnist       Aakash's GAN-variants slides: MMD and 1-NN accuracy of an MLP GAN
                      and WGAN on MNIST.
  dcgan_faces_epochs  Aakash's GAN-variants slides: DCGAN face samples across epochs.
  architectures_mnist Issue #17: MLP GAN, DCGAN, SNGAN and BigGAN on MNIST for one
                      wall-clock budget each; MNIST-classifier FID, IS, precision, recall.
  limited_data_mnist  Issue #19: DCGAN on 100, 500 and 4,000 digits with no augmentation,
                      DiffAugment and ADA; MNIST-classifier FID, D's train/held-out gap.
  architectures_faces Issue #18: DCGAN and StyleGAN2 on the 100 bundled faces for one
                      budget each; pixel MMD, 1-NN accuracy and nearest-face distances.

Each table module has `reproduce(configs, options) -> path`: it trains the
runs it needs (or reuses them, `runs`), evaluates them with `gan_jax.metrics`,
and writes results/<table>.md beside the published numbers (`published`), with
its protocol, figures and the raw numbers as JSON (`report`).
"""

from typing import Callable, Mapping, NamedTuple

import ml_collections

from gan_jax import errors
from gan_jax.studies.reproduction import architectures_faces
from gan_jax.studies.reproduction import architectures_mnist
from gan_jax.studies.reproduction import dcgan_faces_epochs
from gan_jax.studies.reproduction import limited_data_mnist
from gan_jax.studies.reproduction import mmd_1nn_mnist
from gan_jax.studies.reproduction import parzen_mnist
from gan_jax.studies.reproduction import runs


class Table(NamedTuple):
  """A table: the configs it trains, its default data set, and its `reproduce`."""

  config_names: tuple[str, ...]
  default_data: str
  reproduce: Callable[[Mapping[str, ml_collections.ConfigDict], runs.Options], str]


TABLES = {
  'parzen_mnist': Table(('gan_mnist',), 'bundled_mnist', parzen_mnist.reproduce),
  'mmd_1nn_mnist': Table(('gan_mnist', 'wgan_mnist'), 'bundled_mnist', mmd_1nn_mnist.reproduce),
  'dcgan_faces_epochs': Table(('dcgan_faces',), 'bundled_faces', dcgan_faces_epochs.reproduce),
  'architectures_mnist': Table(
    tuple(architectures_mnist.MODELS), 'bundled_mnist', architectures_mnist.reproduce
  ),
  'limited_data_mnist': Table(
    (limited_data_mnist.MODEL,), 'bundled_mnist', limited_data_mnist.reproduce
  ),
  'architectures_faces': Table(
    tuple(architectures_faces.MODELS), 'bundled_faces', architectures_faces.reproduce
  ),
}


def get_table(name: str) -> Table:
  """The table called `name`; ConfigError listing the valid names otherwise."""
  if name not in TABLES:
    raise errors.unknown_name_error('table', name, TABLES)
  return TABLES[name]
