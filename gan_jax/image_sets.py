"""Image sets on disk, for scoring samples of any codebase against any reference.

`read` takes what people exchange:
- a folder of image files (PNG, JPEG, ...; read as stored, not resized), as
  torch-fidelity, clean-fid and pytorch-fid read them;
- a `.npz` or `.npy` array of images [N, H, W, C] (or [N, H, W] grey): uint8
  in [0, 255], or floats in [-1, 1] as `experiments.sample` writes them
  (samples.npz);
- a `.npz` of FID statistics, arrays `mu` [d] and `sigma` [d, d]: the format
  of pytorch-fid, TTUR and `experiments.fid_stats`, which only FID (and
  metrics of the generated set alone) can use.
"""

import collections
import concurrent.futures
import os
from typing import NamedTuple, Optional

import numpy as np
from PIL import Image

from gan_jax import data_sources
from gan_jax import errors
from gan_jax.metrics import fid

# Keys under which an .npz holds its images, in order of preference
# (experiments.sample writes 'samples'; np.savez without names writes 'arr_0').
IMAGE_KEYS = ('samples', 'images', 'x', 'arr_0')


class ImageSet(NamedTuple):
  """A set to score: its images, or only the FID statistics of their features.

  Attributes:
    images: [N, H, W, C] uint8, or float32 in [-1, 1]; None for statistics.
    statistics: (mu [d], sigma [d, d]) float64, or None for images.
    description: where it came from, for a result's protocol.
  """

  images: Optional[np.ndarray]
  statistics: Optional[tuple[np.ndarray, np.ndarray]]
  description: str


def _folder_images(folder: str) -> np.ndarray:
  """uint8 [N, H, W, 3] of every image file under `folder`, or [N, H, W, 1] if all are grey."""
  paths = sorted(
    os.path.join(parent, name)
    for parent, _, names in os.walk(folder)
    for name in names
    if name.lower().endswith(data_sources.IMAGE_EXTENSIONS)
  )
  if not paths:
    raise errors.DataError(
      f'No image files ({", ".join(data_sources.IMAGE_EXTENSIONS)}) under {folder!r}; '
      'point to the folder that holds them.'
    )
  with concurrent.futures.ThreadPoolExecutor() as pool:
    try:
      pictures = list(pool.map(data_sources.read_rgb, paths))
    except (OSError, ValueError, Image.DecompressionBombError) as e:
      raise errors.DataError(
        f'An image under {folder!r} cannot be read ({e}); remove or replace it: every image '
        'of a set counts.'
      ) from e
  sizes = collections.Counter(picture.shape[:2] for picture in pictures)
  if len(sizes) > 1:
    listed = ', '.join(f'{h}x{w} ({count})' for (h, w), count in sizes.most_common(4))
    raise errors.DataError(
      f'The images under {folder!r} have {len(sizes)} sizes: {listed}; score images of one '
      'size (resize them as the model produced them, or save them to an .npz).'
    )
  images = np.stack(pictures)
  grey = np.all(images == images[..., :1])
  return images[..., :1] if grey else images


def _as_images(array: np.ndarray, source: str) -> np.ndarray:
  """`array` checked to be images: uint8 [N, H, W, C], or float32 in [-1, 1]."""
  if array.ndim == 3:
    array = array[..., None]
  if array.ndim != 4 or array.shape[-1] not in (1, 3) or not len(array):
    hint = (
      ' (channels first? transpose to [N, H, W, C])'
      if array.ndim == 4 and array.shape[1] in (1, 3)
      else ''
    )
    raise errors.DataError(
      f'{source} holds an array of shape {array.shape}, not images [N, H, W, C] with C 1 or 3'
      f'{hint}.'
    )
  if array.dtype == np.uint8:
    return array
  if np.issubdtype(array.dtype, np.floating):
    low, high = float(np.min(array)), float(np.max(array))
    if -1.0 - 1e-6 <= low and high <= 1.0 + 1e-6:
      return np.clip(array, -1.0, 1.0).astype(np.float32)
    raise errors.DataError(
      f'{source} holds floats in [{low:.4g}, {high:.4g}]; float images must lie in [-1, 1] '
      "(G's tanh range): save images in [0, 255] as uint8."
    )
  raise errors.DataError(
    f'{source} holds {array.dtype} values; save images as uint8 in [0, 255] or floats in [-1, 1].'
  )


def _array_file(path: str) -> ImageSet:
  try:
    loaded = np.load(path, allow_pickle=False)
  except (OSError, ValueError) as e:
    raise errors.DataError(f'{path} is not a readable .npz or .npy file: {e}') from e
  if isinstance(loaded, np.ndarray):
    return ImageSet(_as_images(loaded, path), None, f'{len(loaded)} images of {path}')
  with loaded:
    names = set(loaded.files)
    if {'mu', 'sigma'} <= names:
      try:
        statistics = fid.load_statistics(path)
      except ValueError as e:
        raise errors.DataError(str(e)) from e
      return ImageSet(None, statistics, f'FID statistics (mu, sigma) of {path}')
    key = next((key for key in IMAGE_KEYS if key in names), None)
    if key is None and len(names) == 1:
      (key,) = names
    if key is None:
      raise errors.DataError(
        f'{path} holds arrays {sorted(names)}, none of them named {", ".join(IMAGE_KEYS)} '
        'or mu and sigma; save the images under one of those names.'
      )
    images = _as_images(loaded[key], f'{path} (array {key!r})')
  return ImageSet(images, None, f'{len(images)} images of {path} (array {key!r})')


def read(path: str) -> ImageSet:
  """The image set (or FID statistics) at `path`: a folder, an .npz or an .npy file.

  Raises:
    DataError: naming the path and what is wrong with it (missing, no images,
      several sizes, not images, floats outside [-1, 1]).
  """
  if os.path.isdir(path):
    images = _folder_images(path)
    return ImageSet(images, None, f'{len(images)} images of the folder {path}')
  if os.path.isfile(path):
    if not path.endswith(('.npz', '.npy')):
      raise errors.DataError(
        f'{path} is neither a folder of images nor an .npz/.npy array; pass one of those.'
      )
    return _array_file(path)
  raise errors.DataError(f'{path} does not exist; pass a folder of images or an .npz/.npy file.')
