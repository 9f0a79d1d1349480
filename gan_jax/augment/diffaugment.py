"""DiffAugment: Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training".

The paper (section 3.2) augments every image D sees, real and generated, with
transformations that are differentiable with respect to the image, so that G's
gradient flows through them. Its policies, as the official code
(mit-han-lab/data-efficient-gans, DiffAugment_pytorch.py and DiffAugment_tf.py)
draws them, one draw per example:

  color:        brightness x + b, b ~ U[-0.5, 0.5); then saturation
                (x - mean_c x) s + mean_c x, s ~ U[0, 2), around each pixel's
                channel mean; then contrast (x - mean x) c + mean x,
                c ~ U[0.5, 1.5), around the image's mean.
  translation:  an integer shift of up to round(H / 8) rows and round(W / 8)
                columns each way, uniform over the integers, vacated pixels zero.
  cutout:       a square of round(H / 2) x round(W / 2) pixels at a uniform
                position (it may stick out of the image) set to zero.

Images are [H, W, C] float32 in [-1, 1], one example at a time (the caller maps
over the batch with one key per example). Like the reference, nothing is
clipped, so outputs leave [-1, 1]: for inputs in [-1, 1] brightness gives
[-1.5, 1.5], saturation [-7/3, 7/3] for RGB (x_c' = 2 x_c - mean: 5/3 + 2/3)
and the identity for one channel (a pixel equals its channel mean), contrast
(-2, 2), translation and cutout stay in [-1, 1] (zeros fill). The three
colour steps in sequence stay within [-7, 7] and in practice far inside. Zero
is the mid-grey of [-1, 1] images, so zero padding and cutout paint mid-grey.

The reference's translation reads x[i + t] for a draw t; here content moves by
+t, which is the same distribution since t is symmetric about zero.
"""

from typing import Callable

import jax
import jax.numpy as jnp

TRANSLATION_RATIO = 1 / 8  # The largest shift, as a fraction of the side.
CUTOUT_RATIO = 1 / 2  # The cut square's side, as a fraction of the image's.


def brightness(image: jax.Array, shift) -> jax.Array:
  """x + b for a scalar b; image [H, W, C] -> [H, W, C]."""
  return image + shift


def saturation(image: jax.Array, factor) -> jax.Array:
  """(x - mean_c x) s + mean_c x, around each pixel's mean over channels; [H, W, C]."""
  channel_mean = jnp.mean(image, axis=-1, keepdims=True)
  return (image - channel_mean) * factor + channel_mean


def contrast(image: jax.Array, factor) -> jax.Array:
  """(x - mean x) c + mean x, around the mean of the whole image; [H, W, C]."""
  image_mean = jnp.mean(image)
  return (image - image_mean) * factor + image_mean


def translate(image: jax.Array, rows, cols) -> jax.Array:
  """Moves the content `rows` down and `cols` right (integers), zero-filling; [H, W, C].

  out[i, j] = image[i - rows, j - cols] where that is inside the image, else 0.
  Its transpose (and so its gradient) is the translation by (-rows, -cols).
  """
  height, width = image.shape[:2]
  source_rows = jnp.arange(height) - rows
  source_cols = jnp.arange(width) - cols
  moved = image[jnp.clip(source_rows, 0, height - 1)][:, jnp.clip(source_cols, 0, width - 1)]
  rows_inside = (source_rows >= 0) & (source_rows < height)
  cols_inside = (source_cols >= 0) & (source_cols < width)
  return jnp.where(rows_inside[:, None, None] & cols_inside[None, :, None], moved, 0.0)


def cutout(image: jax.Array, top, left, size: tuple[int, int]) -> jax.Array:
  """Zeroes rows [top, top + size[0]) x columns [left, left + size[1]) (clipped); [H, W, C]."""
  height, width = image.shape[:2]
  rows, cols = jnp.arange(height), jnp.arange(width)
  in_rows = (rows >= top) & (rows < top + size[0])
  in_cols = (cols >= left) & (cols < left + size[1])
  keep = ~(in_rows[:, None] & in_cols[None, :])
  return image * keep[:, :, None].astype(image.dtype)


def _uniform_integer(uniform, low: int, high: int):
  """An integer uniform in [low, high) from a U[0, 1) draw (uniform to within 2^-24)."""
  return low + jnp.floor(uniform * (high - low)).astype(jnp.int32)


def random_color(image: jax.Array, uniform: jax.Array) -> jax.Array:
  """Brightness, saturation, then contrast (the paper's 'color'); uniform [3] U[0, 1) draws."""
  image = brightness(image, uniform[0] - 0.5)
  image = saturation(image, uniform[1] * 2.0)
  return contrast(image, uniform[2] + 0.5)


def random_translation(image: jax.Array, uniform: jax.Array) -> jax.Array:
  """An integer shift uniform in [-round(H/8), round(H/8)] x [-round(W/8), round(W/8)].

  uniform: [3] U[0, 1) draws, the first two used.
  """
  height, width = image.shape[:2]
  max_rows, max_cols = int(height * TRANSLATION_RATIO + 0.5), int(width * TRANSLATION_RATIO + 0.5)
  rows = _uniform_integer(uniform[0], -max_rows, max_rows + 1)
  cols = _uniform_integer(uniform[1], -max_cols, max_cols + 1)
  return translate(image, rows, cols)


def random_cutout(image: jax.Array, uniform: jax.Array) -> jax.Array:
  """A zeroed square of half the side, its centre uniform as in the reference.

  The reference draws the centre in [0, H) for an odd side and [0, H] for an
  even one, and the square starts at centre - side // 2. uniform: [3] U[0, 1)
  draws, the first two used.
  """
  height, width = image.shape[:2]
  size = (int(height * CUTOUT_RATIO + 0.5), int(width * CUTOUT_RATIO + 0.5))
  center_row = _uniform_integer(uniform[0], 0, height + 1 - size[0] % 2)
  center_col = _uniform_integer(uniform[1], 0, width + 1 - size[1] % 2)
  return cutout(image, center_row - size[0] // 2, center_col - size[1] // 2, size)


# The policies by name, each a function of (image [H, W, C], uniform [3]).
TRANSFORMATIONS: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
  'color': random_color,
  'translation': random_translation,
  'cutout': random_cutout,
}


def diffaugment(image: jax.Array, key: jax.Array, policy: tuple[str, ...]) -> jax.Array:
  """One example through the policy's transformations in the given order; [H, W, C].

  All draws come from one call (threefry is costly to compile): row k of a
  [3, 3] U[0, 1) array belongs to transformation k of `TRANSFORMATIONS`, so a
  transformation's draws do not depend on which others run with it.

  Args:
    image: [H, W, C] float32, C any (saturation is the identity for C = 1).
    key: this example's PRNG key; every draw comes from it alone.
    policy: names of `TRANSFORMATIONS`, applied in this order (the reference's
      order is that of its policy string, 'color,translation,cutout').
  """
  names = tuple(TRANSFORMATIONS)
  uniform = jax.random.uniform(key, (len(names), 3))
  for name in policy:
    image = TRANSFORMATIONS[name](image, uniform[names.index(name)])
  return image
