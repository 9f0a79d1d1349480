"""Tests of the Inception input's resize modes: clean-fid's 'clean' resize and the TF1 default.

The golden outputs come from clean-fid's own `make_resizer` (written by
tools/compare_resize_with_clean_fid.py); the closed forms show what the
antialiasing changes (Parmar et al. 2022).
"""

import inspect
import os

import numpy as np
import pytest

from gan_jax.metrics import inception
from gan_jax.metrics.inception_network import INPUT_SIZE
from gan_jax.metrics.inception_network import InceptionOutputs

GOLDEN_PATH = os.path.join(os.path.dirname(__file__), 'fixtures', 'clean_resize_golden.npz')
GROUPS = ('images_28_grey', 'images_32', 'images_64', 'images_400_zone_plate')
TOLERANCE = 1e-4  # On 0..255.


@pytest.fixture(scope='module')
def golden():
  with np.load(GOLDEN_PATH) as data:
    return dict(data)


@pytest.mark.parametrize('group', GROUPS)
def test_clean_resize_equals_clean_fid(golden, group):
  resized = inception.resize_like_clean_fid(golden[group])
  assert resized.shape == (len(golden[group]), INPUT_SIZE, INPUT_SIZE, 3)
  assert resized.dtype == np.float32
  rows, columns = golden['positions'].T
  message = f'the fixture was made with {golden["versions"]}'
  np.testing.assert_allclose(
    resized[:, rows, columns],
    golden[f'{group}/clean_fid_at_positions'],
    rtol=0,
    atol=TOLERANCE,
    err_msg=message,
  )
  # Every pixel through the sums: a mean off by more than the tolerance would show.
  np.testing.assert_allclose(
    resized.mean(axis=(1, 2), dtype=np.float64),
    golden[f'{group}/clean_fid_channel_sums'] / INPUT_SIZE**2,
    rtol=0,
    atol=TOLERANCE,
    err_msg=message,
  )


def checkerboard(size):
  """[1, size, size, 1] uint8: 0 and 255 alternating, 0 in the top-left corner."""
  rows, columns = np.mgrid[:size, :size]
  return (255 * ((rows + columns) % 2)).astype(np.uint8)[None, :, :, None]


def test_halving_a_checkerboard_aliases_with_tf1_and_averages_with_clean():
  # Halving samples the even pixels with TF1 (all 0: the pattern aliases to a
  # constant of the wrong mean). PIL's bicubic, widened to 8 input pixels,
  # weighs even and odd pixels equally, so gives the mean 127.5 wherever the
  # kernel lies inside the image (all but 2 pixels at each border).
  image = checkerboard(2 * INPUT_SIZE)
  tf1 = np.asarray(inception.preprocess_uint8(image, resize='tf1_bilinear'))
  np.testing.assert_array_equal(tf1, -np.ones_like(tf1))  # (0 - 128) / 128.
  clean = inception.resize_like_clean_fid(image)
  np.testing.assert_allclose(clean[0, 2:-2, 2:-2], 127.5, rtol=0, atol=TOLERANCE)
  assert abs(clean.mean() - 127.5) < 1e-3


def test_clean_upsampling_reproduces_a_ramp_at_half_pixel_centres():
  # Keys' cubic (a = -0.5) reproduces linear functions: output column j samples
  # the input at (j + 0.5) * 32 / 299 - 0.5 (pixel centres at half-integers,
  # unlike TF1's j * 32 / 299), away from the borders.
  ramp = np.broadcast_to(8 * np.arange(32, dtype=np.uint8), (1, 32, 32))[..., None]
  resized = inception.resize_like_clean_fid(ramp)
  columns = np.arange(20, INPUT_SIZE - 20)
  expected = 8 * ((columns + 0.5) * 32 / INPUT_SIZE - 0.5)
  np.testing.assert_allclose(
    resized[0, :, 20:-20, 0], np.broadcast_to(expected, (299, 259)), atol=TOLERANCE
  )


def test_clean_repeats_grey_to_rgb_and_normalizes():
  grey = np.random.default_rng(0).integers(0, 256, (2, 28, 28, 1), np.uint8)
  resized_rgb = inception.resize_like_clean_fid(np.repeat(grey, 3, axis=-1))
  np.testing.assert_array_equal(inception.resize_like_clean_fid(grey), resized_rgb)
  np.testing.assert_array_equal(
    inception.preprocess_uint8(grey, resize='clean'), (resized_rgb - 128) / 128
  )


def test_tf1_bilinear_stays_the_default():
  for function in (inception.preprocess_uint8, inception.compute_inception_features):
    assert inspect.signature(function).parameters['resize'].default == 'tf1_bilinear'
  assert inception.RESIZE_MODES == ('tf1_bilinear', 'clean')
  # Unchanged: at an integer factor TF1 picks the top-left pixel of each block.
  images = np.random.default_rng(1).integers(0, 256, (2, 598, 598, 3), np.uint8)
  np.testing.assert_array_equal(
    inception.preprocess_uint8(images), (images[:, ::2, ::2].astype(np.float32) - 128) / 128
  )


def stand_in_network(variables, network_inputs):
  """Cheap stand-in for the Inception: per-image channel means, and two pixels."""
  del variables
  network_inputs = np.asarray(network_inputs, np.float64)
  return InceptionOutputs(
    network_inputs.mean(axis=(1, 2)), network_inputs[:, 0, 0], network_inputs[:, 5, 7]
  )


@pytest.mark.parametrize('resize', inception.RESIZE_MODES)
def test_features_use_the_resize_asked_for(monkeypatch, resize):
  monkeypatch.setattr(inception, '_inception_apply', stand_in_network)
  images = np.random.default_rng(2).integers(0, 256, (3, 32, 32, 3), np.uint8)
  outputs = inception.compute_inception_features({}, images, batch_size=2, resize=resize)
  expected = stand_in_network({}, np.asarray(inception.preprocess_uint8(images, resize=resize)))
  for actual, wanted in zip(outputs, expected):
    np.testing.assert_allclose(actual, wanted, rtol=1e-6)


def test_an_unknown_resize_is_refused_in_one_line_naming_the_modes():
  for call in (
    lambda: inception.preprocess_uint8(np.zeros((1, 8, 8, 3), np.uint8), resize='bicubic'),
    lambda: inception.compute_inception_features(
      {}, np.zeros((1, 8, 8, 3), np.uint8), resize='bicubic'
    ),
  ):
    with pytest.raises(ValueError, match="'bicubic'.*tf1_bilinear, clean") as error:
      call()
    assert '\n' not in str(error.value)
