"""Sample grids."""

import numpy as np
from PIL import Image

from gan_jax import images


def test_grid_places_and_scales_images():
  batch = np.stack([np.full((2, 3, 1), v, np.float32) for v in (-1.0, 0.0, 1.0)])
  grid = images.image_grid(batch, num_columns=2, padding=1)
  assert grid.shape == (1 + 2 * 3, 1 + 2 * 4, 1) and grid.dtype == np.uint8
  assert (grid[1:3, 1:4] == 0).all()  # -1 -> black
  assert (grid[1:3, 5:8] == 128).all()  # 0 -> mid grey (127.5 rounded)
  assert (grid[4:6, 1:4] == 255).all()  # +1 -> white
  assert (grid[0] == 0).all() and (grid[4:6, 5:8] == 0).all()  # border and the empty cell


def test_save_png_round_trips(tmp_path):
  picture = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
  path = str(tmp_path / 'a' / 'grid.png')
  images.save_png(path, picture)
  np.testing.assert_array_equal(np.asarray(Image.open(path)), picture)
