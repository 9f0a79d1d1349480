"""The FID Inception-v3's features of uint8 images, for FID, KID, IS and precision/recall.

`compute_inception_features` runs the network of `inception_network` (the
2015-12-05 TensorFlow graph of TTUR, Heusel et al. 2017, and torch-fidelity)
on uint8 images resized to 299x299 in one of `RESIZE_MODES`, then mapped by
(x - 128) / 128:

  'tf1_bilinear'  torch-fidelity's and TTUR's TF1 bilinear resize
                  (`resize_like_tensorflow1`), jitted with the normalization;
  'clean'         clean-fid's PIL bicubic resize with antialiasing (Parmar et
                  al. 2022, `resize_like_clean_fid`), run on the host in PIL
                  before the jitted network.

Its variables come from `inception_weights.load_inception_params`;
`inception_throughput` times it.
"""

import functools
import statistics
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from gan_jax import xla_options
from gan_jax.metrics import inception_weights
from gan_jax.metrics.inception_network import INPUT_SIZE
from gan_jax.metrics.inception_network import InceptionOutputs
from gan_jax.metrics.inception_network import InceptionV3


def resize_like_tensorflow1(images: jax.Array, size: int = INPUT_SIZE) -> jax.Array:
  """Bilinear resize exactly as TF1's `resize_bilinear(align_corners=False)`.

  Output pixel i samples the input at position i * in_size / size, with no
  half-pixel offset (unlike `jax.image.resize` and TF2), interpolating
  between floor(position) and min(floor(position) + 1, in_size - 1). The
  positions are computed in float32 as torch-fidelity's
  `interpolate_bilinear_2d_like_tensorflow1x` does, and the interpolation
  uses its order of operations.

  Args:
    images: [N, H, W, C] float images, any H, W >= 1.
    size: the output height and width.

  Returns:
    [N, size, size, C] float32 images.
  """
  images = jnp.asarray(images, jnp.float32)
  _, height, width, _ = images.shape

  def source_positions(in_size):
    positions = np.arange(size, dtype=np.float32) * np.float32(in_size / size)
    lower = positions.astype(np.int32)  # floor, as positions >= 0
    upper = np.minimum(lower + 1, in_size - 1)
    return lower, upper, positions - lower.astype(np.float32)

  top, bottom, row_weight = source_positions(height)
  left, right, column_weight = source_positions(width)
  column_weight = column_weight[None, None, :, None]
  upper_rows, lower_rows = images[:, top], images[:, bottom]
  upper = (
    upper_rows[:, :, left] + (upper_rows[:, :, right] - upper_rows[:, :, left]) * column_weight
  )
  lower = (
    lower_rows[:, :, left] + (lower_rows[:, :, right] - lower_rows[:, :, left]) * column_weight
  )
  return upper + (lower - upper) * row_weight[None, :, None, None]


def resize_like_clean_fid(images: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
  """clean-fid's 'clean' resize: PIL bicubic with antialiasing, per channel, in float.

  Parmar et al. 2022 ("On aliased resizing and surprising subtleties in GAN
  evaluation") show that TF1's bilinear resize aliases when it shrinks. Their
  clean-fid (0.1.35, `make_resizer('PIL', False, 'bicubic', (299, 299))`)
  turns each channel of a uint8 image into a 32-bit float PIL image, resizes
  it with `Image.BICUBIC` (a cubic kernel, a = -0.5, widened by the scale
  factor when shrinking: antialiasing), and clips to [0, 255]. This is that
  resize, run on the host in PIL one channel at a time (not jittable). A grey
  image is resized once and repeated: clean-fid converts it to RGB first, the
  same since each channel is resized alone.

  Args:
    images: [N, H, W, 3] or [N, H, W, 1] uint8, any H, W >= 1.
    size: the output height and width.

  Returns:
    [N, size, size, 3] float32 in [0, 255].
  """
  images = np.asarray(images)
  resized = np.empty((images.shape[0], size, size, images.shape[-1]), np.float32)
  for image_index, channel in np.ndindex(images.shape[0], images.shape[-1]):
    pixels = Image.fromarray(images[image_index, :, :, channel].astype(np.float32))
    resized[image_index, :, :, channel] = np.asarray(
      pixels.resize((size, size), resample=Image.BICUBIC)
    )
  return np.broadcast_to(np.clip(resized, 0, 255), (*resized.shape[:3], 3))


@functools.partial(jax.jit, static_argnames='size')
def _tf1_bilinear_network_inputs(images, size):
  images = jnp.broadcast_to(images, (*images.shape[:3], 3)).astype(jnp.float32)
  return (resize_like_tensorflow1(images, size) - 128) / 128


def _clean_network_inputs(images, size):
  return (resize_like_clean_fid(images, size) - 128) / 128


# Resize mode -> (uint8 images [N, H, W, C], size) -> network inputs [N, size, size, 3].
NETWORK_INPUTS = {
  'tf1_bilinear': _tf1_bilinear_network_inputs,
  'clean': _clean_network_inputs,
}
RESIZE_MODES = tuple(NETWORK_INPUTS)


def _network_inputs_function(resize: str):
  if resize not in NETWORK_INPUTS:
    raise ValueError(
      f'Unknown resize {resize!r}: use one of {", ".join(RESIZE_MODES)} '
      '(e.g. --config.eval.resize=tf1_bilinear).'
    )
  return NETWORK_INPUTS[resize]


def preprocess_uint8(images, size: int = INPUT_SIZE, resize: str = 'tf1_bilinear'):
  """The network's inputs: uint8 -> float, resize to `size`, (x - 128) / 128.

  `resize='tf1_bilinear'` is torch-fidelity's pipeline (`resize_like_tensorflow1`,
  jitted); `resize='clean'` is clean-fid's (`resize_like_clean_fid`, on the
  host in PIL). Both normalize as TTUR, torch-fidelity and clean-fid do.

  Args:
    images: [N, H, W, 3] or [N, H, W, 1] (grey, repeated to RGB) uint8.
    size: the network's input size.
    resize: one of `RESIZE_MODES`.

  Returns:
    [N, size, size, 3] float32 in [-1, 1].
  """
  return _network_inputs_function(resize)(images, size)


@xla_options.jit
def _inception_apply(variables, images):
  return InceptionV3().apply(variables, images)


def compute_inception_features(
  variables, images, batch_size: int = 32, resize: str = 'tf1_bilinear'
) -> InceptionOutputs:
  """InceptionV3's pool features and logits of uint8 images, batch by batch.

  Each batch is preprocessed with the `resize` mode (`preprocess_uint8`) and
  run through one jitted network; the last batch is padded to `batch_size`,
  so the network compiles once per batch size, whatever N and the image size.

  Args:
    variables: from `load_inception_params`.
    images: [N, H, W, 3] or [N, H, W, 1] uint8 (e.g. 28x28 MNIST, 32x32 CIFAR).
    batch_size: images per network call (min(batch_size, N) is used).
    resize: one of `RESIZE_MODES`: 'tf1_bilinear' (torch-fidelity, TTUR) or
      'clean' (clean-fid).

  Returns:
    InceptionOutputs of float32 numpy arrays: pool [N, 2048],
    logits_unbiased [N, 1008], logits [N, 1008].
  """
  network_inputs = _network_inputs_function(resize)
  images = np.asarray(images)
  if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(
      f'images must be uint8 [N, H, W, 3] or [N, H, W, 1]; got {images.dtype} {images.shape}. '
      'Map generator outputs in [-1, 1] to uint8 with np.round((x + 1) * 127.5).'
    )
  num_images = images.shape[0]
  batch_size = max(1, min(batch_size, num_images))
  outputs = []
  for start in range(0, num_images, batch_size):
    batch = images[start : start + batch_size]
    padding = batch_size - batch.shape[0]
    batch = np.pad(batch, [(0, padding), (0, 0), (0, 0), (0, 0)])
    batch_outputs = _inception_apply(variables, network_inputs(batch, INPUT_SIZE))
    outputs.append(jax.tree.map(lambda a, n=batch_size - padding: np.asarray(a[:n]), batch_outputs))
  return InceptionOutputs(*(np.concatenate(parts) for parts in zip(*outputs)))


class InceptionThroughput(NamedTuple):
  """Timings of the jitted network on one device, in seconds.

  Attributes:
    device: kind of the device timed.
    batch_size: images per call.
    image_size: the input's height and width (before the resize to 299).
    compile_seconds: lowering plus compilation of the network.
    batch_seconds_median: median over the timed calls, preprocessing included.
    images_per_second: batch_size / batch_seconds_median.
  """

  device: str
  batch_size: int
  image_size: int
  compile_seconds: float
  batch_seconds_median: float
  images_per_second: float


def inception_throughput(
  batch_size: int = 32, image_size: int = INPUT_SIZE, timed_batches: int = 3
) -> InceptionThroughput:
  """Times `compute_inception_features`'s work on random uint8 images.

  The weights are `inception_weights.random_state_dict(0)`: the timing does
  not depend on their values, so no weights file is needed.
  """
  variables = jax.device_put(
    inception_weights.state_dict_to_variables(inception_weights.random_state_dict(0))
  )
  images = np.random.default_rng(0).integers(
    0, 256, (batch_size, image_size, image_size, 3), dtype=np.uint8
  )
  network_inputs = preprocess_uint8(images)
  start = time.perf_counter()
  network = _inception_apply.lower(variables, network_inputs).compile()
  compile_seconds = time.perf_counter() - start
  jax.block_until_ready(network(variables, network_inputs))  # Warm-up.
  durations = []
  for _ in range(timed_batches):
    start = time.perf_counter()
    jax.block_until_ready(network(variables, preprocess_uint8(images)))
    durations.append(time.perf_counter() - start)
  median = statistics.median(durations)
  return InceptionThroughput(
    device=jax.devices()[0].device_kind,
    batch_size=batch_size,
    image_size=image_size,
    compile_seconds=compile_seconds,
    batch_seconds_median=median,
    images_per_second=batch_size / median,
  )
