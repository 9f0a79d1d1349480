"""A cache of a folder's images, decoded, cropped and resized once, for every later run.

`data.name='folder'` decodes each file and resizes it every time the stream
reads it: 250-500 images/s on two CPU cores, less than an accelerator's step
consumes (issue #21, item 4). With `data.cache_dir` set,
`input_pipeline.get_source` writes the preprocessed images there once, as one
uint8 array [N, H, W, C] (images.npy) beside their int32 labels [N]
(labels.npy) and the number of classes (info.json), and every later access
and run reads the array memory-mapped.

The cache is a directory whose name is a fingerprint (`fingerprint`) of
everything its contents depend on: the data name, each file's path relative to
the folder, size and modification time, the labels, image_size and crop_size,
the version of Pillow (which decodes and resizes) and `FORMAT_VERSION`. A
changed folder or preprocessing names a new cache, so a stale one is never
read; old ones stay on disk until deleted.

A build is atomic: it writes into a temporary directory of its own beside the
cache, fsyncs every file, then renames it to the cache's name (one atomic
rename on POSIX). A run that finds the name finds a complete cache; an
interrupted build leaves only its temporary directory (removed on an
exception, left behind by a killed process), whose name is never read.
Processes of a multi-process job need no coordination: each that finds no
cache builds its own temporary directory and renames it; the first rename
wins and the others, whose contents are the same, discard theirs.
"""

import concurrent.futures
import hashlib
import json
import os
import shutil
import tempfile
import time
from typing import Callable, Sequence

import ml_collections
import numpy as np
import PIL
from absl import logging

from gan_jax import data_sources
from gan_jax import errors

# Raised whenever what a cache holds, or how it is laid out, changes, so that
# no cache written by older code is read.
FORMAT_VERSION = 1
_IMAGES, _LABELS, _INFO = 'images.npy', 'labels.npy', 'info.json'
# Threads decoding and resizing in a build. PIL releases the GIL in both, about
# half of a record's time, so threads gain little on 2 cores: measured on 384
# JPEGs resized to 64 px, 6 alternating rounds (2 AMD EPYC cores, load ~3.8),
# median images/s with 1, 2, 4 threads: 1,436, 1,447, 1,485 from 64 px files
# and 600, 586, 723 from 256 px files; 8 threads were slower than 1 at 64 and 128 px.
BUILD_THREADS = 4


class _CachedRecords(Sequence):
  """The records of a cache: image i is row i of the memory-mapped array."""

  def __init__(self, images: np.ndarray, labels: np.ndarray):
    self._images, self._labels = images, labels

  def __len__(self) -> int:
    return len(self._labels)

  def __getitem__(self, index):
    # A plain read-only view of the row, not an np.memmap.
    return {'image': np.asarray(self._images[index]), 'label': self._labels[index]}


def fingerprint(
  config: ml_collections.ConfigDict, paths: Sequence[str], image_size: int, crop_size: int
) -> str:
  """16 hex digits of the SHA-256 of everything a folder's cache holds depends on.

  Args:
    config: the `data` section (its name and path).
    paths: the image files under config.path (`data_sources.folder_files`).
    image_size, crop_size: the preprocessing (`input_pipeline.centre_crop_and_resize`).
  """
  labels, _ = data_sources.folder_labels(config.path, paths)
  files = []
  for path in paths:
    stat = os.stat(path)
    files.append([os.path.relpath(path, config.path), stat.st_size, stat.st_mtime_ns])
  contents = dict(
    format=FORMAT_VERSION,
    pillow=PIL.__version__,
    name=config.name,
    files=files,
    labels=labels,
    image_size=image_size,
    crop_size=crop_size,
  )
  return hashlib.sha256(json.dumps(contents, sort_keys=True).encode()).hexdigest()[:16]


def cached_source(
  config: ml_collections.ConfigDict,
  image_size: int,
  crop_size: int,
  preprocessed: Callable[[], data_sources.LabeledSource],
) -> data_sources.LabeledSource:
  """The folder's preprocessed records from its cache under config.cache_dir, built if absent.

  Args:
    config: the `data` section, with cache_dir set.
    image_size, crop_size: the preprocessing the records have.
    preprocessed: returns (records, num_classes) of the folder, decoded and
      preprocessed on access: what the cache holds, and builds it from.

  Returns:
    (records, num_classes): the records {'image': uint8 [H, W, C], read-only,
    'label': int32}, equal to `preprocessed()`'s.

  Raises:
    ConfigError: if config.name is not 'folder', or cache_dir cannot be written.
    DataError: for a folder without images (`data_sources.folder_files`), or a
      cache whose files were deleted or changed by hand.
    StorageError: if the cache cannot be written midway (e.g. the disk is full).
  """
  if config.name != 'folder':
    raise errors.ConfigError(
      f"data.cache_dir={config.cache_dir!r} caches a folder of images (data.name='folder'), "
      f'but data.name={config.name!r} is bundled in memory or read from TFDS: set '
      "--config.data.cache_dir=''."
    )
  paths = data_sources.folder_files(config.path)
  digest = fingerprint(config, paths, image_size, crop_size)
  directory = os.path.join(config.cache_dir, f'{config.name}-{image_size}px-{digest}')
  if os.path.isdir(directory):
    source = _load(directory)
    logging.info('Reusing the cache of %d images of %s: %s', len(source[0]), config.path, directory)
    return source
  start = time.perf_counter()
  records, num_classes = preprocessed()
  build(directory, records, num_classes)
  source = _load(directory)
  logging.info(
    'Cached %d images of %s in %.1f s: %s',
    len(source[0]),
    config.path,
    time.perf_counter() - start,
    directory,
  )
  return source


def build(
  directory: str,
  records: Sequence,
  num_classes: int,
  *,
  num_threads: int = BUILD_THREADS,
) -> None:
  """Writes `records` to the cache `directory`, atomically (see the module docstring).

  Args:
    directory: the cache to create; its parent is created if missing.
    records: {'image': uint8 [H, W, C], 'label': int}, all images of one shape.
    num_classes: stored with them.
    num_threads: threads reading `records` (decoding, when a record decodes).

  Raises:
    ConfigError: if the parent directory cannot be created or written.
    StorageError: if writing fails midway (e.g. the disk is full).
  """
  parent = os.path.dirname(os.path.abspath(directory))
  try:
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(prefix=f'.{os.path.basename(directory)}.tmp-', dir=parent)
  except OSError as e:
    raise errors.ConfigError(
      f'data.cache_dir={parent!r} cannot be written ({e.strerror}): point '
      "--config.data.cache_dir at a writable directory, or set it to '' for no cache."
    ) from e
  try:
    _write(temporary, records, num_classes, num_threads)
    _fsync(temporary)
    try:
      os.replace(temporary, directory)
    except OSError:
      if not os.path.isdir(directory):
        raise
      # Another process of the job renamed its build first: the same contents.
    _fsync(parent)
  except OSError as e:
    raise errors.StorageError(
      f'The cache {directory} could not be written ({e}); free space there, or point '
      '--config.data.cache_dir at another directory.'
    ) from e
  finally:
    shutil.rmtree(temporary, ignore_errors=True)


def _write(temporary: str, records: Sequence, num_classes: int, num_threads: int) -> None:
  """images.npy, labels.npy and info.json of `records` in `temporary`, each fsynced."""
  shape = np.shape(records[0]['image'])
  images = np.lib.format.open_memmap(
    os.path.join(temporary, _IMAGES), mode='w+', dtype=np.uint8, shape=(len(records), *shape)
  )
  labels = np.empty(len(records), np.int32)
  with concurrent.futures.ThreadPoolExecutor(num_threads) as pool:
    for index, record in enumerate(pool.map(records.__getitem__, range(len(records)))):
      images[index] = record['image']
      labels[index] = record['label']
  images.flush()
  del images  # Unmaps the file.
  np.save(os.path.join(temporary, _LABELS), labels)
  with open(os.path.join(temporary, _INFO), 'w') as f:
    json.dump(dict(num_classes=num_classes), f)
  for name in (_IMAGES, _LABELS, _INFO):
    _fsync(os.path.join(temporary, name))


def _fsync(path: str) -> None:
  """Flushes a file, or a directory's entries, to the disk."""
  descriptor = os.open(path, os.O_RDONLY)
  try:
    os.fsync(descriptor)
  finally:
    os.close(descriptor)


def _load(directory: str) -> data_sources.LabeledSource:
  """The records of a built cache: images memory-mapped read-only, labels in memory."""
  try:
    images = np.load(os.path.join(directory, _IMAGES), mmap_mode='r')
    labels = np.load(os.path.join(directory, _LABELS))
    with open(os.path.join(directory, _INFO)) as f:
      num_classes = json.load(f)['num_classes']
  except (OSError, ValueError, KeyError) as e:
    # Only a hand-edited cache gets here: builds are atomic.
    raise errors.DataError(
      f'The image cache {directory} cannot be read ({e}); delete it, and the next run rebuilds it.'
    ) from e
  return _CachedRecords(images, labels), num_classes
