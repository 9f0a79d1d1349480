"""ADA's augmentations: Karras et al. 2020a, Appendix B.

The pipeline of "Training Generative Adversarial Networks with Limited Data"
(Karras et al. 2020a, Appendix B), as the official code (NVlabs/stylegan2-ada-pytorch,
training/augment.py, `AugmentPipe`) does it, with every transformation of the
'bgc' pipeline applied to each example with probability p:

  geometric, composed into one 3x3 matrix G^-1 (output pixel -> input pixel,
  in pixel units about the image centre) and executed once:
    xflip       x -> -x for i ~ U{0, 1}
    rotate90    rotation by i quarter turns, i ~ U{0, 1, 2, 3}
    xint        integer translation, round(t W), round(t H), t ~ U[-0.125, 0.125]
    scale       isotropic scaling by 2^(0.2 n), n ~ N(0, 1) (lognormal, std 0.2 ln 2)
    rotate      rotation by U[-pi, pi), before and after aniso, each with
                p_rot = 1 - sqrt(1 - p), so that P(any rotation) = p
    aniso       scaling by (2^(0.2 n), 2^(-0.2 n))
    xfrac       translation by (t_x W, t_y H), t ~ N(0, 0.125^2)
  colour, composed into one 4x4 matrix C (homogeneous RGB) and applied once:
    brightness  + b, b ~ N(0, 0.2^2)
    contrast    x c, c = 2^(0.5 n)
    lumaflip    Householder reflection I - 2 v v^T across the plane normal to
                the luma axis v = (1, 1, 1) / sqrt(3), for i ~ U{0, 1}
    hue         rotation about v by U[-pi, pi)
    saturation  v v^T + (I - v v^T) s, s = 2^n

Deviation from the reference, on purpose: the geometric matrix is executed by
bilinear sampling of the image at the transformed pixel centres, with
reflection ("mirror": d c b | a b c d | c b a) beyond the border, through
`jax.scipy.ndimage.map_coordinates`. The reference pads by reflection, upsamples
2x with the sym6 wavelet low-pass filter, samples bilinearly and downsamples
with the same filter, which suppresses aliasing under rotation and scaling.
The stand-in skips the 4x-pixel upsampled pass (cheaper on CPU, simpler),
reproduces integer transformations (flips, quarter turns, integer shifts)
exactly, and blurs slightly and aliases a little under fractional ones. The
reference also pads at most W - 1 pixels each side (zeros beyond); the
mirror here repeats without end. Measured against the reference with every
draw at its 0.3 or 0.7 percentile (its debug_percentile) on smooth 32x32 RGB
images of std 0.34: the seven geometric transforms together differ by at most
0.03 (mean 0.005); the reference's own x-flip differs from the exact flip by
up to 0.02 (sym6 is not symmetric), while here flips are exact. The colour
matrix agrees to 3e-7 (`tests/test_augment.py` pins it).

Colour on one channel follows the reference: the grey value g is read as
(g, g, g), transformed, and averaged back, so brightness and contrast act as
on RGB, lumaflip negates (g -> -g), and hue and saturation, which leave the
grey axis fixed, are skipped. Neither the reference nor this module clips:
brightness and contrast are unbounded, and lumaflip and hue preserve the RGB
vector's norm but not the cube [-1, 1]^3 (lumaflip of (1, 1, -1) is
(1/3, 1/3, -5/3)).

Every random draw of an example comes from its own key (`draw`): row k of its
draws belongs to transformation k of `TRANSFORMS`. Uniform integers are
floor(u n), which is uniform to within 2^-24.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from gan_jax import errors

GEOMETRIC_TRANSFORMS = ('xflip', 'rotate90', 'xint', 'scale', 'rotate', 'aniso', 'xfrac')
COLOR_TRANSFORMS = ('brightness', 'contrast', 'lumaflip', 'hue', 'saturation')
TRANSFORMS = GEOMETRIC_TRANSFORMS + COLOR_TRANSFORMS  # The reference's order of application.

# The reference's defaults (AugmentPipe's arguments).
XINT_MAX = 0.125  # Integer translation's range, relative to the image's side.
SCALE_LOG2_STD = 0.2
ROTATE_MAX = 1.0  # Range of the arbitrary rotation: 1 = the full circle.
ANISO_LOG2_STD = 0.2
XFRAC_STD = 0.125  # Fractional translation's std, relative to the image's side.
BRIGHTNESS_STD = 0.2
CONTRAST_LOG2_STD = 0.5
HUE_MAX = 1.0  # Range of the hue rotation: 1 = the full circle.
SATURATION_LOG2_STD = 1.0

LUMA_AXIS = np.full(3, 1 / np.sqrt(3), np.float32)  # v, the unit grey axis of RGB.


def _compose(left: jax.Array, right: jax.Array) -> jax.Array:
  """left @ right in full float32 (TPU and GPU matmuls default to less)."""
  return jnp.matmul(left, right, precision=lax.Precision.HIGHEST)


def translation_matrix(tx, ty) -> jax.Array:
  """[3, 3]: (x, y) -> (x + tx, y + ty)."""
  return jnp.array([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])


def scale_matrix(sx, sy) -> jax.Array:
  """[3, 3]: (x, y) -> (sx x, sy y)."""
  return jnp.array([[sx, 0.0, 0.0], [0.0, sy, 0.0], [0.0, 0.0, 1.0]])


def rotation_matrix(cos, sin) -> jax.Array:
  """[3, 3]: rotation by the angle of (cos, sin); x right, y down, so clockwise on screen."""
  return jnp.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])


def quarter_turns_matrix(turns) -> jax.Array:
  """[3, 3]: rotation by `turns` x 90 degrees with exact 0/+-1 entries (integer turns)."""
  cos = jnp.array([1.0, 0.0, -1.0, 0.0])[turns % 4]
  sin = jnp.array([0.0, 1.0, 0.0, -1.0])[turns % 4]
  return rotation_matrix(cos, sin)


def _embed_color(linear: jax.Array, offset=0.0) -> jax.Array:
  """[4, 4] homogeneous colour map rgb -> linear @ rgb + offset."""
  top = jnp.concatenate([linear, jnp.broadcast_to(offset, (3, 1))], axis=1)
  return jnp.concatenate([top, jnp.array([[0.0, 0.0, 0.0, 1.0]])], axis=0)


def _luma_projector() -> jax.Array:
  """[3, 3] v v^T, the projection onto the grey axis."""
  return jnp.outer(LUMA_AXIS, LUMA_AXIS)


def hue_rotation_matrix(theta) -> jax.Array:
  """[4, 4] rotation by theta about the luma axis (Rodrigues: I + sin K + (1 - cos) K^2)."""
  vx, vy, vz = LUMA_AXIS
  cross = jnp.array([[0.0, -vz, vy], [vz, 0.0, -vx], [-vy, vx, 0.0]])
  cross_squared = _luma_projector() - jnp.eye(3)
  return _embed_color(jnp.eye(3) + jnp.sin(theta) * cross + (1 - jnp.cos(theta)) * cross_squared)


def lumaflip_matrix(flip) -> jax.Array:
  """[4, 4] I - 2 i v v^T: flip = 1 reflects across the plane normal to v, 0 is I."""
  return _embed_color(jnp.eye(3) - 2.0 * flip * _luma_projector())


def saturation_matrix(factor) -> jax.Array:
  """[4, 4] v v^T + s (I - v v^T), written I + (s - 1)(I - v v^T) so s = 1 is exactly I."""
  return _embed_color(jnp.eye(3) + (factor - 1.0) * (jnp.eye(3) - _luma_projector()))


class Draws(NamedTuple):
  """One example's random numbers: row k belongs to transformation k of `TRANSFORMS`.

  Drawn by row, so that a transformation's draws do not depend on which others run.
  """

  uniform: jax.Array  # [len(TRANSFORMS), 4] U[0, 1): whether to apply, and parameters.
  normal: jax.Array  # [len(TRANSFORMS), 2] N(0, 1): parameters.


def draw(key: jax.Array) -> Draws:
  """The draws of the example whose key is `key`.

  One threefry call (each costs about a second of XLA compile time on CPU):
  the normals are Phi^-1 of uniforms moved into (0, 1), as jax.random.normal
  makes them from uniforms on (-1, 1).
  """
  uniform = jax.random.uniform(key, (len(TRANSFORMS), 6))
  open_uniform = jnp.maximum(uniform[:, 4:], jnp.finfo(jnp.float32).tiny)
  return Draws(uniform[:, :4], jax.scipy.special.ndtri(open_uniform))


def _with_probability(draw_u, probability, value, identity):
  """`value` if the uniform draw is below `probability`, else `identity` (exact at p = 0 and 1)."""
  return jnp.where(draw_u < probability, value, identity)


def _random_rotation(uniform: jax.Array, probability) -> jax.Array:
  """[3, 3] rotation by theta ~ U[-pi, pi) with `probability`, else I; uniform [2]."""
  theta = (uniform[1] * 2 - 1) * np.pi * ROTATE_MAX
  theta = _with_probability(uniform[0], probability, theta, 0.0)
  return rotation_matrix(jnp.cos(theta), jnp.sin(theta))


def geometric_matrix(draws: Draws, p, transforms: tuple[str, ...], height: int, width: int):
  """[3, 3] G^-1 for one example: output pixel -> input pixel, about the image centre.

  Builds G^-1 = T_1^-1 T_2^-1 ... as the reference does, so the transformations
  act on the image in `TRANSFORMS` order; absent ones are skipped.
  """
  uniform = dict(zip(TRANSFORMS, draws.uniform))
  normal = dict(zip(TRANSFORMS, draws.normal))
  size = jnp.array([width, height], jnp.float32)
  inverse = jnp.eye(3)
  if 'xflip' in transforms:
    flip = _with_probability(uniform['xflip'][0], p, jnp.floor(uniform['xflip'][1] * 2), 0.0)
    inverse = _compose(inverse, scale_matrix(1 - 2 * flip, 1.0))
  if 'rotate90' in transforms:
    turns = jnp.floor(uniform['rotate90'][1] * 4).astype(jnp.int32)
    turns = _with_probability(uniform['rotate90'][0], p, turns, 0)
    inverse = _compose(inverse, quarter_turns_matrix(turns))
  if 'xint' in transforms:
    shift = jnp.round((uniform['xint'][1:3] * 2 - 1) * XINT_MAX * size)
    shift = _with_probability(uniform['xint'][0], p, shift, 0.0)
    inverse = _compose(inverse, translation_matrix(-shift[0], -shift[1]))
  if 'scale' in transforms:
    factor = jnp.exp2(normal['scale'][0] * SCALE_LOG2_STD)
    factor = _with_probability(uniform['scale'][0], p, factor, 1.0)
    inverse = _compose(inverse, scale_matrix(1 / factor, 1 / factor))
  # Two rotations, each with p_rot, so that P(pre or post) = p (the reference's rule).
  p_rot = 1 - jnp.sqrt(jnp.clip(1 - p, 0.0, 1.0))
  if 'rotate' in transforms:
    inverse = _compose(inverse, _random_rotation(uniform['rotate'][:2], p_rot))
  if 'aniso' in transforms:
    factor = jnp.exp2(normal['aniso'][0] * ANISO_LOG2_STD)
    factor = _with_probability(uniform['aniso'][0], p, factor, 1.0)
    inverse = _compose(inverse, scale_matrix(1 / factor, factor))
  if 'rotate' in transforms:
    inverse = _compose(inverse, _random_rotation(uniform['rotate'][2:], p_rot))
  if 'xfrac' in transforms:
    shift = _with_probability(uniform['xfrac'][0], p, normal['xfrac'] * XFRAC_STD * size, 0.0)
    inverse = _compose(inverse, translation_matrix(-shift[0], -shift[1]))
  return inverse


def color_matrix(draws: Draws, p, transforms: tuple[str, ...], channels: int) -> jax.Array:
  """[4, 4] C for one example: homogeneous rgb_in -> rgb_out, composed C = T_k ... T_1."""
  uniform = dict(zip(TRANSFORMS, draws.uniform))
  normal = dict(zip(TRANSFORMS, draws.normal))
  matrix = jnp.eye(4)
  if 'brightness' in transforms:
    shift = normal['brightness'][0] * BRIGHTNESS_STD
    shift = _with_probability(uniform['brightness'][0], p, shift, 0.0)
    matrix = _compose(_embed_color(jnp.eye(3), shift), matrix)
  if 'contrast' in transforms:
    factor = jnp.exp2(normal['contrast'][0] * CONTRAST_LOG2_STD)
    factor = _with_probability(uniform['contrast'][0], p, factor, 1.0)
    matrix = _compose(_embed_color(factor * jnp.eye(3)), matrix)
  if 'lumaflip' in transforms:
    flip = jnp.floor(uniform['lumaflip'][1] * 2)
    flip = _with_probability(uniform['lumaflip'][0], p, flip, 0.0)
    matrix = _compose(lumaflip_matrix(flip), matrix)
  if 'hue' in transforms and channels > 1:
    theta = (uniform['hue'][1] * 2 - 1) * np.pi * HUE_MAX
    theta = _with_probability(uniform['hue'][0], p, theta, 0.0)
    matrix = _compose(hue_rotation_matrix(theta), matrix)
  if 'saturation' in transforms and channels > 1:
    factor = jnp.exp2(normal['saturation'][0] * SATURATION_LOG2_STD)
    factor = _with_probability(uniform['saturation'][0], p, factor, 1.0)
    matrix = _compose(saturation_matrix(factor), matrix)
  return matrix


def resample(image: jax.Array, inverse: jax.Array) -> jax.Array:
  """The image under the geometric map whose inverse is `inverse`; [H, W, C] -> [H, W, C].

  out(x, y) = image(G^-1 (x - c_x, y - c_y) + c), c = ((W - 1) / 2, (H - 1) / 2), read
  bilinearly with mirror reflection beyond the border. Exact wherever G^-1
  lands on pixel centres; linear in the image, so its gradient is the
  transposed sampling (a scatter of the output gradient).
  """
  height, width = image.shape[:2]
  center_x, center_y = (width - 1) / 2, (height - 1) / 2
  y, x = jnp.meshgrid(jnp.arange(height) - center_y, jnp.arange(width) - center_x, indexing='ij')
  source_x = inverse[0, 0] * x + inverse[0, 1] * y + inverse[0, 2] + center_x
  source_y = inverse[1, 0] * x + inverse[1, 1] * y + inverse[1, 2] + center_y

  def sample(channel):
    return jax.scipy.ndimage.map_coordinates(channel, [source_y, source_x], order=1, mode='mirror')

  return jax.vmap(sample, in_axes=2, out_axes=2)(image)


def apply_color(image: jax.Array, matrix: jax.Array) -> jax.Array:
  """rgb -> C[:3, :3] rgb + C[:3, 3] per pixel; one channel as the reference; [H, W, C].

  Written as elementwise products and sums, not a matmul, so that it is full
  float32 on every backend and C = I returns the image bit for bit.
  """
  channels = image.shape[-1]
  if channels == 3:
    return jnp.sum(image[..., None, :] * matrix[:3, :3], axis=-1) + matrix[:3, 3]
  if channels == 1:
    # Grey g read as (g, g, g): the mean output channel is g sum(C[:3, :3]) / 3 + mean(C[:3, 3]).
    return image * (jnp.sum(matrix[:3, :3]) / 3) + jnp.mean(matrix[:3, 3])
  raise errors.ConfigError(
    f"augment.name='ada' colour transforms need 1 or 3 channels, not {channels}; "
    'drop brightness,contrast,lumaflip,hue,saturation from augment.transforms.'
  )


def ada(image: jax.Array, key: jax.Array, p, transforms: tuple[str, ...]) -> jax.Array:
  """One example through ADA's pipeline, each transformation with probability p; [H, W, C].

  Args:
    image: [H, W, C] float32 in [-1, 1], C = 1 or 3 if any colour transform runs.
    key: this example's PRNG key; every draw comes from it alone.
    p: float32 scalar, the augmentation probability (may be traced).
    transforms: names of `TRANSFORMS` to run (in `TRANSFORMS` order whatever
      the order given); with none of a kind, that stage is skipped.
  """
  height, width, channels = image.shape
  draws = draw(key)
  if any(name in transforms for name in GEOMETRIC_TRANSFORMS):
    image = resample(image, geometric_matrix(draws, p, transforms, height, width))
  if any(name in transforms for name in COLOR_TRANSFORMS):
    image = apply_color(image, color_matrix(draws, p, transforms, channels))
  return image
