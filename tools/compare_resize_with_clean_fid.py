"""Checks gan_jax's 'clean' resize against clean-fid's own and writes the golden fixture.

clean-fid (Parmar et al. 2022) resizes each channel of a uint8 image, as a
32-bit float PIL image, with PIL's antialiased bicubic to 299x299 and clips to
[0, 255] (`cleanfid.resize.make_resizer('PIL', False, 'bicubic', (299, 299))`,
what its `build_resizer('clean')` returns). This script runs that function and
`gan_jax.metrics.inception.resize_like_clean_fid` on the same seeded images:
random uint8 of sizes 28 (grey, converted to RGB first as clean-fid's
`Image.open(...).convert('RGB')` does), 32 and 64, all upsampled, and a
400x400 zone plate, downsampled, where the antialiasing acts. It fails unless
every output pixel agrees to 1e-4 (on 0..255), and writes

  tests/fixtures/clean_resize_golden.npz   the images, clean-fid's outputs at
                                           10,000 seeded pixel positions, the
                                           per-channel sums of its full outputs,
                                           and the versions that produced them

(the full outputs, 1 MB each in float32, would make the fixture too large).
PIL's bicubic rounding can change between Pillow versions: the fixture
records which one produced it.

Run it from the repository root in a scratch environment with the project's
Pillow, JAX and Flax and clean-fid without its dependencies:

  python3 -m venv /tmp/cleanfid_env
  /tmp/cleanfid_env/bin/pip install numpy pillow==13.0.0 jax==0.10.2 flax==0.12.8 absl-py
  /tmp/cleanfid_env/bin/pip install --no-deps clean-fid==0.1.35
  PYTHONPATH=. /tmp/cleanfid_env/bin/python tools/compare_resize_with_clean_fid.py

cleanfid/resize.py imports torch at module level (for its PyTorch resize and
a Dataset class) although the PIL path never uses it: without PyTorch
installed, the script puts an empty stand-in `torch` module in sys.modules
before importing it, and says so.
"""

import argparse
import importlib.util
import os
import sys
import types
from importlib import metadata

import numpy as np
import PIL

from gan_jax.metrics import inception

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'tests', 'fixtures')
SIZE = inception.INPUT_SIZE
# (name, shape) of the random golden images: grey MNIST-sized, CIFAR-sized, and 64x64.
RANDOM_IMAGE_GROUPS = (
  ('images_28_grey', (2, 28, 28, 1)),
  ('images_32', (2, 32, 32, 3)),
  ('images_64', (2, 64, 64, 3)),
)
ZONE_PLATE_SIZE = 400
NUM_POSITIONS = 10_000
TOLERANCE = 1e-4


def stand_in_torch():
  """Empty `torch`, `torch.nn.functional` and `torch.utils.data.Dataset`: what
  cleanfid/resize.py needs at import time, for its PIL path only."""
  modules = {
    name: types.ModuleType(name)
    for name in ('torch', 'torch.nn', 'torch.nn.functional', 'torch.utils', 'torch.utils.data')
  }
  modules['torch'].nn, modules['torch'].utils = modules['torch.nn'], modules['torch.utils']
  modules['torch.nn'].functional = modules['torch.nn.functional']
  modules['torch.utils'].data = modules['torch.utils.data']
  modules['torch.utils.data'].Dataset = type('Dataset', (), {})
  sys.modules.update(modules)


def import_clean_fid_resize():
  """cleanfid.resize, with a stand-in torch when PyTorch is not installed."""
  if importlib.util.find_spec('torch') is None:
    print('PyTorch is not installed: importing cleanfid.resize with an empty stand-in torch module')
    print('(its PIL resize, the one checked here, does not use torch).')
    stand_in_torch()
  from cleanfid import resize  # pylint: disable=g-import-not-at-top

  return resize


def zone_plate(size):
  """[1, size, size, 3] uint8 cos(pi r^2 / size) rings, frequency rising to the
  Nyquist limit (half a cycle per pixel) at the middle of each edge (a chirp:
  the classic aliasing test), phase-shifted
  per channel."""
  rows, columns = np.mgrid[:size, :size].astype(np.float64) - size / 2
  phase = np.pi * (rows**2 + columns**2) / size
  channels = [np.cos(phase + shift) for shift in (0.0, 2.0, 4.0)]
  return np.rint(127.5 + 127.5 * np.stack(channels, -1))[None].astype(np.uint8)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--images_seed', type=int, default=1)
  parser.add_argument('--positions_seed', type=int, default=2)
  parser.add_argument('--fixtures', default=FIXTURES)
  args = parser.parse_args()

  clean_fid_resize = import_clean_fid_resize()
  resizer = clean_fid_resize.make_resizer('PIL', False, 'bicubic', (SIZE, SIZE))
  rng = np.random.default_rng(args.images_seed)
  images = {name: rng.integers(0, 256, shape, np.uint8) for name, shape in RANDOM_IMAGE_GROUPS}
  images[f'images_{ZONE_PLATE_SIZE}_zone_plate'] = zone_plate(ZONE_PLATE_SIZE)
  positions = np.random.default_rng(args.positions_seed).integers(0, SIZE, (NUM_POSITIONS, 2))

  golden = {
    'images_seed': args.images_seed,
    'positions': positions.astype(np.int16),
    'versions': (
      f'clean-fid {metadata.version("clean-fid")}, Pillow {PIL.__version__}, numpy {np.__version__}'
    ),
  }
  worst = 0.0
  for name, group in images.items():
    rgb = np.broadcast_to(group, (*group.shape[:3], 3))  # clean-fid's convert('RGB').
    reference = np.stack([resizer(np.ascontiguousarray(image)) for image in rgb])
    ours = inception.resize_like_clean_fid(group, SIZE)
    error = float(np.max(np.abs(ours - reference)))
    worst = max(worst, error)
    print(
      f'{name:26s} {group.shape} -> {reference.shape} {reference.dtype}: '
      f'max |gan_jax - clean-fid| {error:.2e}'
    )
    golden[name] = group
    golden[f'{name}/clean_fid_at_positions'] = reference[:, positions[:, 0], positions[:, 1]]
    golden[f'{name}/clean_fid_channel_sums'] = reference.sum(axis=(1, 2), dtype=np.float64)
  if worst > TOLERANCE:
    sys.exit(f'FAILED: gan_jax differs from clean-fid by {worst:.2e} > {TOLERANCE:.0e}.')
  print(f'OK: worst absolute difference {worst:.2e} <= {TOLERANCE:.0e} ({golden["versions"]})')

  os.makedirs(args.fixtures, exist_ok=True)
  golden_path = os.path.join(args.fixtures, 'clean_resize_golden.npz')
  np.savez_compressed(golden_path, **golden)
  print(f'wrote {os.path.normpath(golden_path)} ({os.path.getsize(golden_path)} bytes)')


if __name__ == '__main__':
  main()
