"""Drawing from a trained G: evaluation-mode samples, truncated latents, and the latents of
sample grids, interpolations and latent walks."""

from typing import Callable, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan_jax import errors
from gan_jax.state import PlayerState

# Below this sin(angle), start and end are (anti)parallel: slerp's great circle is undefined
# (antiparallel) or slerp differs from lerp by under angle^2 / 8 ~ 1e-7 (parallel).
_DEGENERATE_SIN = 1e-3


def generate(
  generator: nn.Module,
  generator_state: PlayerState,
  z: jax.Array,
  labels: Optional[jax.Array] = None,
) -> jax.Array:
  """G's samples in evaluation mode (running batch statistics): [N, H, W, C].

  z is [N, latent_dim]; labels int32 [N] for a class-conditional G. As G
  makes them: StyleGAN2's G has no output tanh, so its images can leave
  [-1, 1]; what turns samples into pixels or feature-network inputs clips them
  (`images.to_uint8`, `feature_networks.to_model_range`), as its official code
  clamps.
  """
  return generator.apply(generator_state.variables(), z, labels, train=False)


def truncated_normal(
  rng: jax.Array, shape: tuple[int, ...], truncation: Optional[float] = None
) -> jax.Array:
  """z ~ N(0, I) of `shape`, every component truncated to [-t, t]: float32 `shape`.

  The truncation trick of BigGAN (Brock et al. 2019, Sec. 3.1): components
  outside [-t, t] are resampled until they fall inside, which trades variety
  for fidelity as t shrinks. The result is the normal conditioned on [-t, t],
  which `jax.random.truncated_normal` draws exactly in one pass, by inverting
  the conditioned CDF (tests/test_sampling.py checks it against resampling).
  t None or <= 0: no truncation, the same draw as `jax.random.normal(rng, shape)`.
  """
  if truncation is None or truncation <= 0:
    return jax.random.normal(rng, shape)
  return jax.random.truncated_normal(rng, -truncation, truncation, shape)


def lerp(start: jax.Array, end: jax.Array, fractions: jax.Array) -> jax.Array:
  """Linear interpolation: (1 - s) start + s end for each s in fractions: [..., S, D].

  start, end: [..., D]; fractions: [S], 0 at start and 1 at end.
  """
  weights = jnp.asarray(fractions)[:, None]
  return (1 - weights) * start[..., None, :] + weights * end[..., None, :]


def slerp(start: jax.Array, end: jax.Array, fractions: jax.Array) -> jax.Array:
  """Spherical linear interpolation (Shoemake 1985) between latents: [..., S, D].

  slerp(a, b; s) = sin((1 - s) W) / sin W a + sin(s W) / sin W b, W the angle
  between a and b (Shoemake's quaternion formula, for vectors of any norm).
  White 2016 ("Sampling generative networks") recommends it for Gaussian
  latents: two draws of N(0, I_D) are nearly orthogonal with norms near
  sqrt(D), and slerp stays on that shell where lerp's midpoint falls to norm
  sqrt(D / 2), where G saw no z in training. Endpoints of equal norm keep it
  along the arc. Where a and b are (anti)parallel or one is zero (sin W below
  1e-3), this is `lerp`, without NaN.

  Args:
    start, end: [..., D].
    fractions: [S], 0 at start and 1 at end.
  """
  fractions = jnp.asarray(fractions)
  norms = jnp.linalg.norm(start, axis=-1) * jnp.linalg.norm(end, axis=-1)
  cosine = jnp.sum(start * end, axis=-1) / jnp.where(norms > 0, norms, 1.0)
  angle = jnp.arccos(jnp.clip(jnp.where(norms > 0, cosine, 1.0), -1.0, 1.0))[..., None]
  sin_angle = jnp.sin(angle)
  degenerate = sin_angle < _DEGENERATE_SIN  # [..., 1]
  safe_sin = jnp.where(degenerate, 1.0, sin_angle)
  start_weights = (jnp.sin((1 - fractions) * angle) / safe_sin)[..., None]  # [..., S, 1]
  end_weights = (jnp.sin(fractions * angle) / safe_sin)[..., None]
  arc = start_weights * start[..., None, :] + end_weights * end[..., None, :]
  return jnp.where(degenerate[..., None], lerp(start, end, fractions), arc)


INTERPOLATIONS = {'linear': lerp, 'slerp': slerp}


def get_interpolation(name: str) -> Callable[[jax.Array, jax.Array, jax.Array], jax.Array]:
  """`INTERPOLATIONS[name]`; ConfigError listing the names for an unknown one."""
  if name not in INTERPOLATIONS:
    raise errors.unknown_name_error('interpolation', name, INTERPOLATIONS)
  return INTERPOLATIONS[name]


def _latent_rng(seed: int) -> jax.Array:
  """The key of every latent drawn for pictures of a trained G (grids, interpolations, walks)."""
  return jax.random.fold_in(jax.random.PRNGKey(seed), 1)


def sample_grid_inputs(
  seed: int,
  num_images: int,
  latent_dim: int,
  num_classes: int = 0,
  truncation: Optional[float] = None,
) -> tuple[jax.Array, Optional[jax.Array], int]:
  """(z, labels, columns) of the sample grids, the same at every step so frames compare.

  Unconditional: num_images draws of z, labels None, a near-square grid
  (columns 0 = the default). Class-conditional (num_classes > 0): one row per
  class and num_images // num_classes columns (at least one); every column
  shares its z, so a row shows one class in the styles of the other rows.
  truncation: BigGAN's t (`truncated_normal`); None draws the plain normal.
  """
  rng = _latent_rng(seed)
  if not num_classes:
    return truncated_normal(rng, (num_images, latent_dim), truncation), None, 0
  columns = max(1, num_images // num_classes)
  z = jnp.tile(truncated_normal(rng, (columns, latent_dim), truncation), (num_classes, 1))
  return z, jnp.repeat(jnp.arange(num_classes, dtype=jnp.int32), columns), columns


def interpolation_inputs(
  seed: int,
  num_rows: int,
  num_steps: int,
  latent_dim: int,
  interpolation: str = 'slerp',
  truncation: Optional[float] = None,
) -> jax.Array:
  """z [num_rows * num_steps, latent_dim], row by row: row r goes in num_steps evenly spaced
  steps from one random latent to another, both included (`INTERPOLATIONS[interpolation]`)."""
  ends = truncated_normal(_latent_rng(seed), (2, num_rows, latent_dim), truncation)
  fractions = jnp.linspace(0.0, 1.0, num_steps)
  return get_interpolation(interpolation)(ends[0], ends[1], fractions).reshape(-1, latent_dim)


def walk_inputs(
  seed: int,
  num_waypoints: int,
  steps_per_leg: int,
  latent_dim: int,
  interpolation: str = 'slerp',
  truncation: Optional[float] = None,
) -> jax.Array:
  """z [num_waypoints * steps_per_leg, latent_dim]: the frames of a closed walk.

  The walk passes through num_waypoints random latents in turn and back to the
  first; each leg has steps_per_leg frames, starting at its waypoint and ending
  one step before the next (the next leg's first frame), so a looping
  animation neither repeats a frame nor jumps.
  """
  waypoints = truncated_normal(_latent_rng(seed), (num_waypoints, latent_dim), truncation)
  fractions = jnp.arange(steps_per_leg) / steps_per_leg
  legs = get_interpolation(interpolation)(waypoints, jnp.roll(waypoints, -1, axis=0), fractions)
  return legs.reshape(-1, latent_dim)


def row_labels(
  num_rows: int, row_length: int, num_classes: int, label: Optional[int] = None
) -> jax.Array:
  """int32 [num_rows * row_length], row by row, for a class-conditional G: every image of row r
  has class `label`, or r mod num_classes if label is None."""
  classes = jnp.arange(num_rows) % num_classes if label is None else jnp.full(num_rows, label)
  return jnp.repeat(classes.astype(jnp.int32), row_length)
