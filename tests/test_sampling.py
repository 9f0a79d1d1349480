"""Latents for pictures of a trained G (truncation, lerp, slerp, walks) and the files they go to."""

import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image
from scipy import stats

from gan_jax import errors
from gan_jax import images
from gan_jax import sampling


def _truncated_normal_variance(t):
  """Var of N(0, 1) conditioned on [-t, t]: 1 - 2 t phi(t) / (2 Phi(t) - 1)."""
  return 1 - 2 * t * stats.norm.pdf(t) / (2 * stats.norm.cdf(t) - 1)


def _resampled_normal(rng, size, t):
  """BigGAN's procedure, written out: draw N(0, 1), redraw every value outside [-t, t]."""
  z = rng.standard_normal(size)
  outside = np.abs(z) > t
  while outside.any():
    z[outside] = rng.standard_normal(outside.sum())
    outside = np.abs(z) > t
  return z


@pytest.mark.parametrize('t', [0.3, 1.0, 2.0])
def test_truncated_normal_is_inside_with_the_closed_form_variance(t):
  z = np.asarray(sampling.truncated_normal(jax.random.PRNGKey(0), (200_000,), t), np.float64)
  assert np.abs(z).max() <= t
  # The sample variance's standard error is sqrt((m4 - var^2) / n).
  standard_error = np.sqrt((np.mean(z**4) - np.var(z) ** 2) / z.size)
  assert abs(np.var(z) - _truncated_normal_variance(t)) < 4 * standard_error
  assert abs(np.mean(z)) < 4 * np.sqrt(np.var(z) / z.size)


@pytest.mark.parametrize('t', [0.5, 1.5])
def test_truncated_normal_draws_as_resampling_does(t):
  z = np.asarray(sampling.truncated_normal(jax.random.PRNGKey(1), (50_000,), t))
  resampled = _resampled_normal(np.random.default_rng(0), 50_000, t)
  assert stats.ks_2samp(z, resampled).pvalue > 1e-3
  assert stats.kstest(z, stats.truncnorm(-t, t).cdf).pvalue > 1e-3
  # The same test tells clipping (a wrong truncation) apart.
  clipped = np.clip(np.random.default_rng(1).standard_normal(50_000), -t, t)
  assert stats.ks_2samp(clipped, resampled).pvalue < 1e-6


@pytest.mark.parametrize('t', [None, 0.0, -1.0])
def test_no_truncation_is_the_plain_normal(t):
  rng = jax.random.PRNGKey(3)
  np.testing.assert_array_equal(
    sampling.truncated_normal(rng, (4, 5), t), jax.random.normal(rng, (4, 5))
  )


def test_lerp_is_the_straight_line():
  start, end = jnp.array([[1.0, 2.0]]), jnp.array([[3.0, -2.0]])
  path = sampling.lerp(start, end, jnp.array([0.0, 0.25, 1.0]))
  assert path.shape == (1, 3, 2)
  np.testing.assert_allclose(path[0], [[1.0, 2.0], [1.5, 1.0], [3.0, -2.0]])


def test_slerp_of_orthogonal_unit_vectors_is_the_quarter_circle():
  a, b = jnp.array([1.0, 0.0, 0.0]), jnp.array([0.0, 1.0, 0.0])
  fractions = jnp.linspace(0.0, 1.0, 5)
  path = sampling.slerp(a, b, fractions)
  angles = np.pi / 2 * np.asarray(fractions)
  expected = np.stack([np.cos(angles), np.sin(angles), np.zeros(5)], axis=1)
  np.testing.assert_allclose(path, expected, atol=1e-6)
  np.testing.assert_allclose(path[2], (a + b) / np.sqrt(2), atol=1e-6)


def test_slerp_keeps_the_norm_and_the_endpoints_of_gaussian_latents():
  start, end = jax.random.normal(jax.random.PRNGKey(0), (2, 6, 64))
  end = end * (jnp.linalg.norm(start, axis=-1) / jnp.linalg.norm(end, axis=-1))[:, None]
  path = sampling.slerp(start, end, jnp.linspace(0.0, 1.0, 7))
  assert path.shape == (6, 7, 64)
  np.testing.assert_allclose(path[:, 0], start, atol=1e-5)
  np.testing.assert_allclose(path[:, -1], end, atol=1e-5)
  norms = np.linalg.norm(path, axis=-1)
  np.testing.assert_allclose(norms, np.repeat(norms[:, :1], 7, axis=1), rtol=1e-5)
  # lerp's midpoint of nearly orthogonal draws falls inside, by about 1 / sqrt(2).
  middle = np.linalg.norm(sampling.lerp(start, end, jnp.array([0.5])), axis=-1)[:, 0]
  assert (middle < 0.85 * norms[:, 3]).all()


@pytest.mark.parametrize('scale', [2.0, -1.0, 0.0])
def test_slerp_of_parallel_or_zero_vectors_is_lerp_without_nan(scale):
  a = jnp.array([0.6, -0.8])
  fractions = jnp.linspace(0.0, 1.0, 4)
  path = sampling.slerp(a, scale * a, fractions)
  assert np.isfinite(path).all()
  np.testing.assert_allclose(path, sampling.lerp(a, scale * a, fractions), atol=1e-6)
  np.testing.assert_allclose(sampling.slerp(0 * a, a, fractions), fractions[:, None] * a)


def test_unknown_interpolation_lists_the_names():
  with pytest.raises(errors.ConfigError, match="'cubic'; valid names: linear, slerp."):
    sampling.get_interpolation('cubic')


def test_interpolation_rows_go_evenly_between_two_latents():
  linear = np.asarray(sampling.interpolation_inputs(0, 3, 5, 16, 'linear', 1.0)).reshape(3, 5, 16)
  spherical = np.asarray(sampling.interpolation_inputs(0, 3, 5, 16, 'slerp', 1.0)).reshape(3, 5, 16)
  assert np.abs(linear).max() <= 1.0  # Truncated ends, convex combinations.
  np.testing.assert_allclose(spherical[:, [0, -1]], linear[:, [0, -1]], atol=1e-5)  # Same ends.
  steps = np.diff(linear, axis=1)
  np.testing.assert_allclose(steps, np.repeat(steps[:, :1], 4, axis=1), atol=1e-5)
  # Shoemake's formula in float64, s = 0, 1/4, ..., 1.
  a, b = linear[:, :1].astype(np.float64), linear[:, -1:].astype(np.float64)
  cosine = np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
  angle = np.arccos(cosine)[..., None]
  s = np.linspace(0, 1, 5)[None, :, None]
  expected = (np.sin((1 - s) * angle) * a + np.sin(s * angle) * b) / np.sin(angle)
  np.testing.assert_allclose(spherical, expected, atol=1e-5)
  assert not np.allclose(linear[0, 0], linear[1, 0])  # Each row its own pair.


def test_walk_passes_through_its_latents_and_closes_the_loop():
  frames = np.asarray(sampling.walk_inputs(0, 3, 4, 8, 'linear')).reshape(3, 4, 8)
  waypoints = frames[:, 0]
  # Leg k goes from waypoint k toward k + 1 in steps of a quarter; the last toward the first.
  for leg in range(3):
    step = (waypoints[(leg + 1) % 3] - waypoints[leg]) / 4
    np.testing.assert_allclose(np.diff(frames[leg], axis=0), np.tile(step, (3, 1)), atol=1e-5)
    np.testing.assert_allclose(waypoints[(leg + 1) % 3] - frames[leg, -1], step, atol=1e-5)


def test_row_labels():
  np.testing.assert_array_equal(sampling.row_labels(3, 2, 2), [0, 0, 1, 1, 0, 0])
  np.testing.assert_array_equal(sampling.row_labels(2, 2, 10, label=7), [7, 7, 7, 7])


def test_grid_noise_is_unchanged_and_truncates_on_request():
  z, _, _ = sampling.sample_grid_inputs(0, 6, 4)
  rng = jax.random.fold_in(jax.random.PRNGKey(0), 1)  # What training's sample grids have drawn.
  np.testing.assert_array_equal(z, jax.random.normal(rng, (6, 4)))
  z, labels, _ = sampling.sample_grid_inputs(0, 20, 4, num_classes=10, truncation=0.5)
  assert np.abs(z).max() <= 0.5 and labels.shape == (20,)


def test_to_uint8_maps_the_tanh_range_to_bytes():
  pixels = images.to_uint8(np.array([-2.0, -1.0, 0.0, 1.0, 3.0]))
  np.testing.assert_array_equal(pixels, [0, 0, 128, 255, 255])


def test_save_gif_round_trips_gray_frames(tmp_path):
  frames = np.random.default_rng(0).integers(0, 256, (5, 6, 7, 1), dtype=np.uint8)
  path = str(tmp_path / 'walk.gif')
  images.save_gif(path, frames, frames_per_second=10)
  gif = Image.open(path)
  assert gif.n_frames == 5 and gif.info['loop'] == 0 and gif.info['duration'] == 100
  for i in range(5):
    gif.seek(i)
    np.testing.assert_array_equal(np.asarray(gif.convert('L')), frames[i, ..., 0])
  assert [p.name for p in tmp_path.iterdir()] == ['walk.gif']  # No partial file left.


@pytest.mark.skipif(
  importlib.util.find_spec('imageio_ffmpeg') is None, reason='needs imageio-ffmpeg'
)
def test_save_mp4_pads_odd_sides_and_round_trips(tmp_path):
  import imageio.v3 as iio  # pylint: disable=g-import-not-at-top

  frames = np.zeros((6, 15, 21, 3), np.uint8)
  frames[:, :, :10] = 200  # A left half of light grey survives H.264 closely.
  path = str(tmp_path / 'walk.mp4')
  images.save_mp4(path, frames, frames_per_second=6)
  video = iio.imread(path)
  assert video.shape == (6, 16, 22, 3)
  assert abs(float(video[:, :14, :8].mean()) - 200) < 8 and video[:, :, 12:].mean() < 8


def test_mp4_without_the_plugin_names_the_package(monkeypatch):
  monkeypatch.setattr(importlib.util, 'find_spec', lambda name: None)
  with pytest.raises(errors.ConfigError, match='pip install imageio-ffmpeg.$'):
    images.check_mp4_support()
