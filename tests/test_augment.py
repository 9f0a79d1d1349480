"""DiffAugment and ADA against closed forms: pixels land where they should, colours follow
the formulas, gradients are the transposed maps, and example i depends on keys[i] alone."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import augment
from gan_jax import errors
from gan_jax.augment import ada
from gan_jax.augment import diffaugment
from gan_jax.config_sections import augment_config


def _images(shape, seed=0):
  return jax.random.uniform(jax.random.PRNGKey(seed), shape, minval=-1.0, maxval=1.0)


def _one_hot(height, width, row, col, channels=1):
  return jnp.zeros((height, width, channels)).at[row, col].set(1.0)


def _keys(count, seed=1):
  return jax.random.split(jax.random.PRNGKey(seed), count)


def _uniform(count, seed=1):
  """[count, 3] U[0, 1) rows, as DiffAugment's transformations read them."""
  return jax.random.uniform(jax.random.PRNGKey(seed), (count, 3))


# ---- DiffAugment's transformations.


def test_translate_moves_a_one_hot_pixel_by_the_shift_and_zero_fills():
  moved = diffaugment.translate(_one_hot(8, 8, 3, 4), 2, -1)
  np.testing.assert_array_equal(moved, _one_hot(8, 8, 5, 3))
  ones = diffaugment.translate(jnp.ones((8, 8, 1)), -3, 2)
  assert float(ones.sum()) == 5 * 6  # Three rows and two columns vacated, zero.
  np.testing.assert_array_equal(ones[5:], 0.0)
  np.testing.assert_array_equal(ones[:, :2], 0.0)


def test_random_translation_shifts_by_every_integer_up_to_an_eighth_and_no_further():
  image = _one_hot(16, 16, 8, 8)
  moved = jax.jit(jax.vmap(diffaugment.random_translation, in_axes=(None, 0)))(image, _uniform(400))
  rows, cols, _ = np.nonzero(np.asarray(moved))[1:]  # Each output holds the pixel once.
  assert len(rows) == 400
  assert set(rows - 8) == set(range(-2, 3)) and set(cols - 8) == set(range(-2, 3))


def test_cutout_zeroes_a_square_of_half_the_side_at_the_reference_positions():
  cut = diffaugment.cutout(jnp.ones((8, 8, 3)), 6, -1, (4, 4))
  expected = np.ones((8, 8, 3))
  expected[6:, :3] = 0.0
  np.testing.assert_array_equal(cut, expected)
  cuts = jax.jit(jax.vmap(diffaugment.random_cutout, in_axes=(None, 0)))(
    jnp.ones((8, 8, 1)), _uniform(400)
  )
  zeroed = np.asarray(cuts[..., 0] == 0)
  # Centres in [0, 8] (even side 4): the square starts in [-2, 6], 4 x 4 at most.
  assert zeroed.sum(axis=(1, 2)).max() == 16 and zeroed.sum(axis=(1, 2)).min() == 4
  first_rows = [np.flatnonzero(z.any(axis=1))[0] for z in zeroed]
  assert set(first_rows) == set(range(0, 7))


def test_color_ops_match_the_formulas():
  pixel = jnp.array([[[1.0, -1.0, -1.0]]])
  np.testing.assert_allclose(diffaugment.brightness(pixel, 0.25), pixel + 0.25)
  # (x - mean_c) s + mean_c with mean_c = -1/3, s = 2: 2 x + 1/3.
  np.testing.assert_allclose(diffaugment.saturation(pixel, 2.0), [[[7 / 3, -5 / 3, -5 / 3]]])
  np.testing.assert_allclose(diffaugment.saturation(pixel, 0.0), jnp.full((1, 1, 3), -1 / 3))
  grey = _images((4, 4, 1))
  np.testing.assert_allclose(diffaugment.saturation(grey, 1.7), grey, rtol=1e-6)
  image = _images((4, 4, 3))
  mean = float(jnp.mean(image))
  np.testing.assert_allclose(diffaugment.contrast(image, 1.5), (image - mean) * 1.5 + mean, 1e-6)
  np.testing.assert_allclose(float(jnp.mean(diffaugment.contrast(image, 0.5))), mean, atol=1e-6)


def test_color_ops_keep_the_documented_ranges_at_their_extreme_draws():
  image = jnp.sign(_images((8, 8, 8, 3)))  # Corners of [-1, 1]^3: the worst cases.
  assert float(jnp.abs(diffaugment.brightness(image, 0.5)).max()) == 1.5
  saturated = jax.vmap(diffaugment.saturation, in_axes=(0, None))(image, 2.0)
  np.testing.assert_allclose(float(jnp.abs(saturated).max()), 7 / 3, rtol=1e-6)
  contrasted = jax.vmap(diffaugment.contrast, in_axes=(0, None))(image, 1.5)
  assert float(jnp.abs(contrasted).max()) < 2.0
  colored = jax.jit(jax.vmap(diffaugment.random_color))(image, _uniform(8))
  assert float(jnp.abs(colored).max()) <= 7.0


# ---- ADA's geometric transformations.


def test_ada_integer_translation_moves_a_one_hot_pixel_by_its_matrix_shift():
  matrices = jax.jit(jax.vmap(lambda k: ada.geometric_matrix(ada.draw(k), 1.0, ('xint',), 16, 16)))(
    _keys(64)
  )
  shifts = -np.asarray(matrices[:, :2, 2])  # (x, y) shift of the content.
  np.testing.assert_array_equal(shifts, np.round(shifts))
  assert np.abs(shifts).max() == 2 and len(np.unique(shifts)) == 5  # round(0.125 x 16) = 2.
  for matrix, (dx, dy) in zip(matrices[:4], shifts[:4]):
    moved = ada.resample(_one_hot(16, 16, 7, 9), matrix)
    np.testing.assert_array_equal(moved, _one_hot(16, 16, 7 + int(dy), 9 + int(dx)))


def test_xflip_twice_and_rotate90_four_times_are_the_identity():
  image = _images((6, 6, 3))
  flip = ada.scale_matrix(-1.0, 1.0)
  np.testing.assert_array_equal(ada.resample(image, flip), image[:, ::-1])
  np.testing.assert_array_equal(ada.resample(ada.resample(image, flip), flip), image)
  turn = ada.quarter_turns_matrix(1)
  turned = ada.resample(image, turn)
  np.testing.assert_array_equal(turned, jnp.rot90(image, k=1, axes=(0, 1)))
  for _ in range(3):
    turned = ada.resample(turned, turn)
  np.testing.assert_array_equal(turned, image)


def test_general_rotation_by_90_degrees_matches_the_exact_permutation():
  image = _images((8, 8, 1))
  theta = np.pi / 2
  rotated = ada.resample(image, ada.rotation_matrix(jnp.cos(theta), jnp.sin(theta)))
  np.testing.assert_allclose(rotated, jnp.rot90(image, k=1, axes=(0, 1)), atol=1e-5)
  np.testing.assert_array_equal(ada.resample(image, ada.scale_matrix(1.0, 1.0)), image)


def test_half_pixel_translation_averages_neighbours_and_mirrors_at_the_border():
  image = _images((4, 6, 1))
  moved = ada.resample(image, ada.translation_matrix(0.5, 0.0))  # Reads x + 1/2.
  np.testing.assert_allclose(moved[:, :-1], (image[:, :-1] + image[:, 1:]) / 2, rtol=1e-6)
  # Column 6 mirrors column 4 (d c b | a b c d | c b a): the last pixel averages 5 and 4.
  np.testing.assert_allclose(moved[:, -1], (image[:, -1] + image[:, -2]) / 2, rtol=1e-6)


def test_rotation_probability_follows_the_p_rot_rule_and_each_transform_has_probability_p():
  p = 0.5
  keys = _keys(4000)
  rotations = jax.jit(jax.vmap(lambda k: ada.geometric_matrix(ada.draw(k), p, ('rotate',), 8, 8)))(
    keys
  )
  rotated = np.any(np.abs(np.asarray(rotations) - np.eye(3)) > 0, axis=(1, 2))
  assert abs(rotated.mean() - p) < 0.04  # 1 - (1 - p_rot)^2 = p; std 0.008.
  scales = jax.jit(jax.vmap(lambda k: ada.geometric_matrix(ada.draw(k), 0.3, ('scale',), 8, 8)))(
    keys
  )[:, 0, 0]
  scaled = np.asarray(scales) != 1.0
  assert abs(scaled.mean() - 0.3) < 0.04
  log2_factors = -np.log2(np.asarray(scales)[scaled])
  assert abs(log2_factors.std() - ada.SCALE_LOG2_STD) < 0.02


@pytest.mark.parametrize('channels', [1, 3])
def test_ada_with_p_zero_is_the_identity_bit_for_bit(channels):
  images = _images((4, 8, 8, channels))
  augmentation = augment.from_config(augment_config(name='ada'))
  np.testing.assert_array_equal(jax.jit(augmentation)(images, _keys(4), 0.0), images)


# ---- ADA's colour transformations.


def test_lumaflip_is_a_householder_involution():
  flip = ada.lumaflip_matrix(1.0)
  np.testing.assert_allclose(flip @ flip, np.eye(4), atol=1e-6)
  pixel = jnp.array([[[1.0, 1.0, -1.0]]])
  np.testing.assert_allclose(ada.apply_color(pixel, flip), [[[1 / 3, 1 / 3, -5 / 3]]], atol=1e-6)
  grey = _images((3, 3, 1))
  np.testing.assert_allclose(ada.apply_color(grey, flip), -grey, atol=1e-6)


def test_hue_rotation_matches_rodrigues_and_a_third_turn_cycles_the_channels():
  np.testing.assert_allclose(ada.hue_rotation_matrix(2 * np.pi), np.eye(4), atol=1e-6)
  pixel = jnp.array([[[0.9, -0.2, 0.4]]])
  third = ada.apply_color(pixel, ada.hue_rotation_matrix(2 * np.pi / 3))
  np.testing.assert_allclose(third, [[[0.4, 0.9, -0.2]]], atol=1e-6)  # r -> g -> b -> r.
  # The reference's rotate3d(v, theta) (stylegan2-ada-pytorch, training/augment.py), written out.
  theta, (vx, vy, vz) = 0.7, np.full(3, 1 / np.sqrt(3))
  s, c = np.sin(theta), np.cos(theta)
  cc = 1 - c
  reference = [
    [vx * vx * cc + c, vx * vy * cc - vz * s, vx * vz * cc + vy * s],
    [vy * vx * cc + vz * s, vy * vy * cc + c, vy * vz * cc - vx * s],
    [vz * vx * cc - vy * s, vz * vy * cc + vx * s, vz * vz * cc + c],
  ]
  np.testing.assert_allclose(ada.hue_rotation_matrix(theta)[:3, :3], reference, atol=1e-6)


def test_saturation_scales_the_chroma_around_the_grey_axis():
  image = _images((4, 4, 3))
  grey = jnp.mean(image, axis=-1, keepdims=True)
  desaturated = ada.apply_color(image, ada.saturation_matrix(0.0))
  np.testing.assert_allclose(desaturated, jnp.broadcast_to(grey, image.shape), atol=1e-6)
  np.testing.assert_allclose(
    ada.apply_color(image, ada.saturation_matrix(2.5)), grey + 2.5 * (image - grey), atol=1e-6
  )


@pytest.mark.parametrize('channels', [1, 3])
def test_brightness_adds_b_and_contrast_scales_about_zero_by_their_draws(channels):
  images, draws = _images((8, 4, 4, channels)), jax.vmap(ada.draw)(_keys(8))

  @functools.partial(jax.jit, static_argnums=0)
  def colored(transform):
    matrix = lambda d: ada.color_matrix(d, 1.0, (transform,), channels)
    return jax.vmap(lambda x, d: ada.apply_color(x, matrix(d)))(images, draws)

  normal = lambda name: draws.normal[:, ada.TRANSFORMS.index(name), 0, None, None, None]
  brightness = ada.BRIGHTNESS_STD * normal('brightness')
  np.testing.assert_allclose(colored('brightness'), images + brightness, rtol=1e-6, atol=1e-6)
  contrast = jnp.exp2(ada.CONTRAST_LOG2_STD * normal('contrast'))
  np.testing.assert_allclose(colored('contrast'), images * contrast, rtol=1e-5, atol=1e-6)


def test_color_matrix_matches_stylegan2_ada_at_a_debug_percentile():
  # stylegan2-ada-pytorch's AugmentPipe(brightness=1, contrast=1, lumaflip=1, hue=1,
  # saturation=1) with debug_percentile=0.7, which sets every draw from 0.7: the
  # uniforms to 0.7, the normals to erfinv(2 x 0.7 - 1). Read off by transforming
  # the pixels e_r, e_g, e_b and 0: [C[:3, :3] | C[:3, 3]].
  reference = [
    [-0.0761254, -1.3378916, 0.2768824, -0.08433156],
    [0.27688238, -0.07612541, -1.3378917, -0.08433156],
    [-1.3378916, 0.27688235, -0.0761254, -0.08433156],
  ]
  rows = len(ada.TRANSFORMS)
  uniform = jnp.zeros((rows, 4)).at[:, 1:].set(0.7)  # Column 0 < p: every transform applied.
  normal = jnp.full((rows, 2), jax.scipy.special.erfinv(2 * 0.7 - 1))
  matrix = ada.color_matrix(ada.Draws(uniform, normal), 1.0, ada.COLOR_TRANSFORMS, 3)
  np.testing.assert_allclose(matrix[:3], reference, atol=1e-6)


# ---- Gradients, determinism, the entry point.


def _input_gradient(fn, image):
  weights = _images(image.shape, seed=7)
  return jax.grad(lambda x: jnp.sum(fn(x) * weights))(image), weights


@pytest.mark.parametrize('policy', list(diffaugment.TRANSFORMATIONS))
def test_gradients_flow_through_every_diffaugment_policy(policy):
  image = _images((8, 8, 3))
  gradient, _ = _input_gradient(lambda x: diffaugment.diffaugment(x, _keys(1)[0], (policy,)), image)
  assert np.isfinite(gradient).all() and float(jnp.abs(gradient).sum()) > 0


@pytest.mark.parametrize('transform', ada.TRANSFORMS)
def test_gradients_flow_through_every_ada_transform(transform):
  image = _images((8, 8, 3))
  gradient, _ = _input_gradient(lambda x: ada.ada(x, _keys(1)[0], 1.0, (transform,)), image)
  assert np.isfinite(gradient).all() and float(jnp.abs(gradient).sum()) > 0


def test_gradients_are_the_transposed_maps():
  image = _images((8, 8, 3))
  gradient, weights = _input_gradient(lambda x: diffaugment.translate(x, 2, -3), image)
  np.testing.assert_array_equal(gradient, diffaugment.translate(weights, -2, 3))
  gradient, weights = _input_gradient(lambda x: diffaugment.cutout(x, 1, 2, (4, 4)), image)
  np.testing.assert_array_equal(gradient, diffaugment.cutout(weights, 1, 2, (4, 4)))
  gradient, weights = _input_gradient(lambda x: diffaugment.contrast(x, 1.5), image)
  np.testing.assert_allclose(gradient, 1.5 * weights - 0.5 * jnp.mean(weights), rtol=1e-5)
  gradient, weights = _input_gradient(lambda x: ada.resample(x, ada.quarter_turns_matrix(1)), image)
  np.testing.assert_array_equal(gradient, jnp.rot90(weights, k=-1, axes=(0, 1)))


@pytest.mark.parametrize('name', ['diffaugment', 'ada'])
def test_a_batch_of_eight_equals_its_halves_with_the_same_keys(name):
  augmentation = jax.jit(augment.from_config(augment_config(name=name)))
  images, keys = _images((8, 16, 16, 3)), _keys(8)
  whole = augmentation(images, keys, 0.8)
  halves = [augmentation(images[i : i + 4], keys[i : i + 4], 0.8) for i in (0, 4)]
  # The same draws; XLA may vectorize the float arithmetic of 8 and 4 examples
  # differently, hence a float tolerance far below the augmentations' effects.
  np.testing.assert_allclose(whole, jnp.concatenate(halves), rtol=0, atol=1e-5)
  others = augmentation(images, _keys(8, seed=2), 0.8)
  assert all(float(jnp.abs(a - b).max()) > 0.1 for a, b in zip(whole, others))


def test_none_returns_the_images_and_diffaugment_runs_its_policy_in_order():
  images = _images((2, 8, 8, 3))
  assert augment.from_config(augment_config(name='none'))(images, _keys(2), 1.0) is images
  augmentation = augment.from_config(augment_config(name='diffaugment', policy='cutout, color'))
  assert augmentation.policy == ('cutout', 'color') and augmentation.transforms == ()
  key = _keys(2)[0]
  uniform = jax.random.uniform(key, (3, 3))  # Rows: color, translation, cutout.
  expected = diffaugment.random_color(diffaugment.random_cutout(images[0], uniform[2]), uniform[0])
  # One compiled program against the ops one by one: equal up to XLA's fusion of the float ops.
  np.testing.assert_allclose(
    augmentation(images[:1], key[None], 0.0)[0], expected, rtol=1e-6, atol=1e-6
  )


def test_the_images_keep_their_dtype():
  augmentation = augment.from_config(augment_config(name='diffaugment', policy='color'))
  images = _images((2, 4, 4, 3)).astype(jnp.bfloat16)
  assert augmentation(images, _keys(2), 0.0).dtype == jnp.bfloat16


@pytest.mark.parametrize(
  'overrides, message',
  [
    (dict(name='diffaug'), "Unknown augment.name 'diffaug'; valid names: ada, diffaugment, none."),
    (
      dict(name='diffaugment', policy='color,colour'),
      "Unknown augment.policy transformation 'colour'; valid names: color, cutout, translation.",
    ),
    (dict(name='ada', transforms='xflip,shear'), 'valid names: aniso, brightness, contrast, hue'),
    (dict(name='ada', transforms='xflip,xflip'), 'augment.transforms names xflip more than once'),
    (dict(name='diffaugment', policy=' , '), 'augment.policy is empty'),
  ],
)
def test_from_config_rejects_bad_names_in_one_line(overrides, message):
  with pytest.raises(errors.ConfigError, match=None) as raised:
    augment.from_config(augment_config(**overrides))
  assert message in str(raised.value) and '\n' not in str(raised.value)
