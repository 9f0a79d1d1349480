"""Image batches to picture files: sample grids as uint8 arrays, PNGs, animated GIFs and MP4s."""

import importlib.util
import math
import os
import warnings
from typing import Callable

import numpy as np
from PIL import Image

from gan_jax import errors


def to_uint8(images: np.ndarray) -> np.ndarray:
  """Images in [-1, 1] (G's tanh range) as uint8 pixels of the same shape, -1 -> 0, 1 -> 255."""
  images = np.asarray(images, dtype=np.float32)
  return np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def image_grid(images: np.ndarray, num_columns: int | None = None, padding: int = 2) -> np.ndarray:
  """Tiles a batch of images in [-1, 1] into one uint8 picture.

  Args:
    images: [N, H, W, C] with C in {1, 3}, values in [-1, 1] (G's tanh range).
    num_columns: images per row; the nearest square by default.
    padding: pixels of black border between images.

  Returns:
    uint8 [rows * (H + padding) + padding, columns * (W + padding) + padding, C].
  """
  n, h, w, c = np.shape(images)
  num_columns = num_columns or math.ceil(math.sqrt(n))
  num_rows = math.ceil(n / num_columns)
  grid = np.zeros(
    (num_rows * (h + padding) + padding, num_columns * (w + padding) + padding, c), np.uint8
  )
  for i, image in enumerate(to_uint8(images)):
    top = padding + (i // num_columns) * (h + padding)
    left = padding + (i % num_columns) * (w + padding)
    grid[top : top + h, left : left + w] = image
  return grid


def _write_atomically(path: str, write: Callable[[str], None]) -> None:
  """Calls write(partial) on a file beside `path`, then renames it to `path`.

  A viewer (or a crash) never sees half a file. The partial file keeps the
  extension, since some writers (ffmpeg) choose the format by it.
  """
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  stem, extension = os.path.splitext(path)
  partial = f'{stem}.partial{extension}'
  try:
    write(partial)
    os.replace(partial, path)
  except BaseException:
    if os.path.lexists(partial):
      os.remove(partial)
    raise


def _squeeze_gray(pictures: np.ndarray) -> np.ndarray:
  """[..., 1] -> [...] (what Pillow and ffmpeg take for gray); [..., 3] unchanged."""
  return pictures[..., 0] if pictures.shape[-1] == 1 else pictures


def save_arrays(path: str, **arrays: np.ndarray) -> None:
  """Writes `arrays` to the compressed .npz `path` (which ends in .npz), atomically."""
  _write_atomically(path, lambda partial: np.savez_compressed(partial, **arrays))


def save_png(path: str, picture: np.ndarray) -> None:
  """Writes a uint8 [H, W, C] picture (C in {1, 3}) to `path`, atomically."""
  picture = Image.fromarray(_squeeze_gray(picture))
  _write_atomically(path, lambda partial: picture.save(partial, format='PNG'))


def save_gif(path: str, frames: np.ndarray, frames_per_second: float) -> None:
  """Writes uint8 frames [F, H, W, C] (C in {1, 3}) as a GIF that loops forever, atomically.

  GIF keeps frame times in hundredths of a second, so the rate is rounded to
  one of 100 / k frames per second. Colour frames get a palette of 256 colours
  each (Pillow's quantizer); gray ones are exact.
  """
  pictures = [Image.fromarray(frame) for frame in _squeeze_gray(np.asarray(frames))]
  milliseconds = 10 * max(1, round(100 / frames_per_second))
  _write_atomically(
    path,
    lambda partial: pictures[0].save(
      partial,
      format='GIF',
      save_all=True,
      append_images=pictures[1:],
      duration=milliseconds,
      loop=0,
    ),
  )


def check_mp4_support() -> None:
  """Raises ConfigError, naming the package to install, if imageio's ffmpeg plugin is missing."""
  if importlib.util.find_spec('imageio_ffmpeg') is None:
    raise errors.ConfigError(
      "Writing MP4 needs imageio's ffmpeg plugin, which is not installed: pip install "
      'imageio-ffmpeg.'
    )


def save_mp4(path: str, frames: np.ndarray, frames_per_second: float) -> None:
  """Writes uint8 frames [F, H, W, C] (C in {1, 3}) as an H.264 MP4, atomically.

  Needs imageio-ffmpeg (`check_mp4_support`). H.264's 4:2:0 colour needs even
  sides, so odd ones get a black row or column at the bottom or right; imageio
  would otherwise rescale the frames (or ffmpeg fail and leave an empty file).
  """
  check_mp4_support()
  # imageio comes with scikit-image; imported here, the one place that needs it.
  import imageio.v3 as iio  # pylint: disable=g-import-not-at-top

  frames = np.asarray(frames)
  _, height, width, _ = frames.shape
  frames = np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)))
  with warnings.catch_warnings():
    # ffmpeg runs as a subprocess: fork then exec at once, safe beside JAX's threads.
    warnings.filterwarnings('ignore', 'os.fork', RuntimeWarning)
    _write_atomically(
      path,
      lambda partial: iio.imwrite(
        partial, _squeeze_gray(frames), fps=frames_per_second, macro_block_size=1
      ),
    )
