"""What the train step reads: a named data set, preprocessed, and the per-host batch stream.

`get_source` opens the records that `data.name` names (`data_sources`) and,
with `data.image_size` set, centre-crops every image (to `data.crop_size`, or
to the largest centred square; a crop_size larger than the image pads it with
black) and resizes it to image_size x image_size, the usual DCGAN preprocessing.
With `data.cache_dir` set, a folder's images are preprocessed once and read
back from a cache on disk (`image_cache`): the same records, without decoding.

The stream (`batches`) is a Grain `MapDataset`: shuffled with the run's seed,
reshuffled every epoch, split between processes, and indexed by train step, so
the batch of step s is a function of (seed, s) alone and a resumed run sees
exactly the data an uninterrupted run would have seen, whatever the number of
processes: each process reads its contiguous block of every global batch.
"""

import dataclasses
from typing import Iterator

import grain
import jax
import ml_collections
import numpy as np
from absl import logging
from PIL import Image

from gan_jax import data_sources
from gan_jax import errors
from gan_jax import image_cache


@dataclasses.dataclass(frozen=True)
class DataInfo:
  """What the rest of the code needs to know about a data set.

  Attributes:
    name: the config's `data.name`.
    image_shape: (height, width, channels) of every image.
    num_examples: size of the split being read (all processes together).
    num_classes: number of classes of the labels; 0 for data without labels.
  """

  name: str
  image_shape: tuple[int, int, int]
  num_examples: int
  num_classes: int = 0


# The crop that papers take before resizing, where a data set has one: DCGAN
# and most GANs after it crop CelebA's aligned 178x218 faces to 108x108.
STANDARD_CROP_SIZES = {'celeb_a': 108}


def get_source(config: ml_collections.ConfigDict) -> tuple[grain.MapDataset, DataInfo]:
  """The records named by the config's `data` section, preprocessed, and their info.

  Raises:
    ConfigError: for a name that is neither bundled, 'folder', nor a TFDS set
      (see `data_sources.open_source`); for a cache_dir set with another name
      than 'folder', or that cannot be written (see `image_cache`).
    DataError: for data that is missing, empty or unreadable, a TFDS set that
      is not prepared and cannot be downloaded, or records that are not images.
    StorageError: for a cache that cannot be written midway (a full disk).
  """
  crop_size = config.crop_size or STANDARD_CROP_SIZES.get(config.name, 0)
  if config.cache_dir:
    source, num_classes = image_cache.cached_source(
      config, config.image_size, crop_size, lambda: _preprocessed(config, crop_size)
    )
    dataset = grain.MapDataset.source(source)
  else:
    dataset, num_classes = _preprocessed(config, crop_size)
  image = np.asarray(dataset[0]['image'])
  if image.ndim != 3:
    raise errors.DataError(
      f'Data set {config.name!r} does not hold images: its first image has shape {image.shape}, '
      'expected (height, width, channels).'
    )
  return dataset, DataInfo(config.name, tuple(image.shape), len(dataset), num_classes)


def _preprocessed(
  config: ml_collections.ConfigDict, crop_size: int
) -> tuple[grain.MapDataset, int]:
  """(records cropped and resized on access, as config.image_size asks; number of classes)."""
  source, num_classes = data_sources.open_source(config)
  dataset = grain.MapDataset.source(source)
  if config.image_size:
    dataset = dataset.map(_crop_and_resize_fn(config.image_size, crop_size))
  return dataset, num_classes


def centre_crop_and_resize(image: np.ndarray, image_size: int, crop_size: int = 0) -> np.ndarray:
  """The DCGAN preprocessing: a centred square crop, resized to image_size.

  A crop larger than the image pads it with black (0) around the centre
  instead, as LeNet-5 took MNIST's 28x28 digits in a 32x32 field (LeCun et al.
  1998, section II.B): crop_size=32 puts a 28x28 image at [2:30, 2:30].

  Args:
    image: uint8 [H, W, C].
    image_size: side of the output.
    crop_size: side of the centred crop (or of the padded square, along a side
      shorter than it); 0 for the largest centred square.

  Returns:
    uint8 [image_size, image_size, C], resized bicubically (antialiased when
    shrinking).
  """
  height, width = image.shape[:2]
  side = crop_size or min(height, width)
  # A side shorter than the crop gets half the missing rows (or columns) of black
  # before it and the rest after; a longer one loses (length - side) // 2 at its start.
  missing = [max(0, side - height), max(0, side - width)]
  image = np.pad(image, [*((n // 2, n - n // 2) for n in missing), (0, 0)])
  top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
  crop = image[top : top + side, left : left + side]
  if side != image_size:
    channels = crop.shape[-1]
    picture = Image.fromarray(crop[..., 0] if channels == 1 else crop)
    crop = np.asarray(picture.resize((image_size, image_size), Image.Resampling.BICUBIC))
    crop = crop.reshape(image_size, image_size, channels)
  return crop


def _crop_and_resize_fn(image_size: int, crop_size: int):
  def crop_and_resize(record):
    return {
      **record,
      'image': centre_crop_and_resize(np.asarray(record['image']), image_size, crop_size),
    }

  return crop_and_resize


def to_model_range(image: np.ndarray) -> np.ndarray:
  """uint8 [H, W, C] in [0, 255] -> float32 [H, W, C] in [-1, 1], G's tanh range."""
  return image.astype(np.float32) / 127.5 - 1.0


def check_batch_size(global_batch_size: int) -> None:
  """Raises ConfigError unless the global batch splits evenly over every device of the job."""
  num_devices = jax.device_count()
  if global_batch_size <= 0 or global_batch_size % num_devices:
    raise errors.ConfigError(
      f'train.batch_size={global_batch_size} must be a positive multiple of the number of devices '
      f'({num_devices}); e.g. --config.train.batch_size={max(1, global_batch_size // num_devices) * num_devices}.'
    )


def _example_of(record) -> tuple[np.ndarray, np.ndarray]:
  return to_model_range(np.asarray(record['image'])), np.asarray(record['label'], np.int32)


def _warn_if_batches_repeat(num_examples: int, global_batch_size: int) -> None:
  """Warns when the data set holds fewer images than a batch, so every batch repeats some.

  Training still runs (a tiny data set can be what the user wants), but the
  repeats should not go unnoticed: D sees the same image several times per update.
  """
  if num_examples < global_batch_size:
    logging.warning(
      'train.batch_size=%d is larger than the data set (%d image%s); every batch repeats images.',
      global_batch_size,
      num_examples,
      '' if num_examples == 1 else 's',
    )


def batches(
  dataset: grain.MapDataset,
  *,
  seed: int,
  global_batch_size: int,
  discriminator_steps: int,
  start_step: int = 0,
  num_threads: int = 2,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
  """The infinite stream of this process's training batches, from `start_step` on.

  Each element holds the real examples of one train step: one batch for each
  of the `discriminator_steps` D updates of Algorithm 1, so that every D update
  sees fresh data.

  Args:
    dataset: random-access records with an 'image' field (uint8 [H, W, C])
      and a 'label' field (int).
    seed: shuffling seed; the order is reshuffled every epoch.
    global_batch_size: images per D update, over all processes and devices.
    discriminator_steps: D updates per train step (k of Algorithm 1).
    start_step: the first step to yield (a resumed run's restored step).
    num_threads: Grain reader threads.

  Yields:
    (images, labels): images float32 [k, B, H, W, C] in [-1, 1] and labels
    int32 [k, B], with k = discriminator_steps and B = global_batch_size //
    process_count, this process's rows of the global batch.
  """
  _warn_if_batches_repeat(len(dataset), global_batch_size)
  check_batch_size(global_batch_size)
  rows = global_batch_size // jax.process_count()
  # Every process shuffles identically, cuts the stream into blocks of `rows`
  # records and keeps every process_count-th block: process p reads rows
  # [p * rows, (p + 1) * rows) of each global batch, and nothing else.
  dataset = (
    dataset.seed(seed)
    .shuffle()
    .repeat()
    .map(_example_of)
    .batch(rows, drop_remainder=True)[jax.process_index() :: jax.process_count()]
    .batch(discriminator_steps, drop_remainder=True)
  )
  dataset = dataset[start_step:]
  read_options = grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=4)
  return iter(dataset.to_iter_dataset(read_options))
