"""Image batches to picture files: sample grids as uint8 arrays and PNGs."""

import math
import os

import numpy as np
from PIL import Image


def image_grid(images: np.ndarray, num_columns: int | None = None, padding: int = 2) -> np.ndarray:
  """Tiles a batch of images in [-1, 1] into one uint8 picture.

  Args:
    images: [N, H, W, C] with C in {1, 3}, values in [-1, 1] (G's tanh range).
    num_columns: images per row; the nearest square by default.
    padding: pixels of black border between images.

  Returns:
    uint8 [rows * (H + padding) + padding, columns * (W + padding) + padding, C].
  """
  images = np.asarray(images, dtype=np.float32)
  n, h, w, c = images.shape
  num_columns = num_columns or math.ceil(math.sqrt(n))
  num_rows = math.ceil(n / num_columns)
  grid = np.zeros(
    (num_rows * (h + padding) + padding, num_columns * (w + padding) + padding, c), np.uint8
  )
  pixels = np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)
  for i, image in enumerate(pixels):
    top = padding + (i // num_columns) * (h + padding)
    left = padding + (i % num_columns) * (w + padding)
    grid[top : top + h, left : left + w] = image
  return grid


def save_png(path: str, picture: np.ndarray) -> None:
  """Writes a uint8 [H, W, C] picture (C in {1, 3}) to `path`, atomically."""
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  picture = picture[..., 0] if picture.shape[-1] == 1 else picture
  # Write then rename, so a viewer (or a crash) never sees half a file.
  partial = path + '.partial'
  Image.fromarray(picture).save(partial, format='PNG')
  os.replace(partial, path)
