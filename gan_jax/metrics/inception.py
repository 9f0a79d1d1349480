"""The FID Inception-v3's features of uint8 images, for FID, KID, IS and precision/recall.

`compute_inception_features` runs the network of `inception_network` (the
2015-12-05 TensorFlow graph of TTUR, Heusel et al. 2017, and torch-fidelity)
on uint8 images with torch-fidelity's input pipeline: TF1's bilinear resize to
299x299 (`resize_like_tensorflow1`), then (x - 128) / 128. Its variables come
from `inception_weights.load_inception_params`; `inception_throughput` times it.
"""

import functools
import statistics
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

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


@functools.partial(jax.jit, static_argnames='size')
def preprocess_uint8(images, size: int = INPUT_SIZE):
  """torch-fidelity's input pipeline: uint8 -> float, TF1 resize, (x - 128) / 128.

  Args:
    images: [N, H, W, 3] or [N, H, W, 1] (grey, repeated to RGB) uint8.
    size: the network's input size.

  Returns:
    [N, size, size, 3] float32 in [-1, 1].
  """
  images = jnp.broadcast_to(images, (*images.shape[:3], 3)).astype(jnp.float32)
  return (resize_like_tensorflow1(images, size) - 128) / 128


@xla_options.jit
def _inception_apply(variables, images):
  return InceptionV3().apply(variables, images)


def compute_inception_features(variables, images, batch_size: int = 32) -> InceptionOutputs:
  """InceptionV3's pool features and logits of uint8 images, batch by batch.

  Each batch is preprocessed as torch-fidelity does (`preprocess_uint8`) and
  run through one jitted network; the last batch is padded to `batch_size`,
  so the network compiles once per batch size, whatever N and the image size.

  Args:
    variables: from `load_inception_params`.
    images: [N, H, W, 3] or [N, H, W, 1] uint8 (e.g. 28x28 MNIST, 32x32 CIFAR).
    batch_size: images per network call (min(batch_size, N) is used).

  Returns:
    InceptionOutputs of float32 numpy arrays: pool [N, 2048],
    logits_unbiased [N, 1008], logits [N, 1008].
  """
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
    batch_outputs = _inception_apply(variables, preprocess_uint8(batch))
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
