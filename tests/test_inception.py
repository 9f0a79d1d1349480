"""Tests of the FID Inception port, its TF1 resize and the PyTorch-free weights reader.

The network is checked against torch-fidelity's outputs in
tests/fixtures/inception_golden.npz, computed by
tools/compare_inception_with_torch_fidelity.py with seeded random weights that
`inception_weights.random_state_dict` regenerates here without PyTorch. The
reader is checked on small state dicts of known values that the same script
saved with torch.save in both of its formats.
"""

import os
import pickle
import zipfile

import ml_dtypes
import numpy as np
import pytest

from gan_jax import downloads
from gan_jax import errors
from gan_jax.metrics import inception
from gan_jax.metrics import inception_network
from gan_jax.metrics import inception_weights
from gan_jax.metrics import torch_checkpoint

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
GOLDEN_GROUPS = ('images_28_grey', 'images_32', 'images_64')


def relative_error(actual, reference):
  return np.max(np.abs(actual - reference)) / np.max(np.abs(reference))


@pytest.fixture(scope='module')
def golden():
  with np.load(os.path.join(FIXTURES, 'inception_golden.npz')) as data:
    return dict(data)


@pytest.fixture(scope='module')
def seeded_state_dict(golden):
  return inception_weights.random_state_dict(int(golden['weights_seed']))


@pytest.fixture(scope='module')
def seeded_variables(seeded_state_dict):
  return inception_weights.state_dict_to_variables(seeded_state_dict)


# The network against torch-fidelity.


@pytest.mark.parametrize('group', GOLDEN_GROUPS)
def test_features_equal_torch_fidelity(golden, seeded_variables, group):
  outputs = inception.compute_inception_features(seeded_variables, golden[group], batch_size=2)
  for name in inception_network.InceptionOutputs._fields:
    assert relative_error(getattr(outputs, name), golden[f'{group}/{name}']) < 1e-4, name


def test_features_of_a_padded_last_batch_are_unchanged(golden, seeded_variables):
  images = np.concatenate([golden['images_32'], golden['images_32'][:1]])  # 3 = 2 + 1 padded.
  outputs = inception.compute_inception_features(seeded_variables, images, batch_size=2)
  assert outputs.pool.shape == (3, inception_network.POOL_FEATURES)
  assert relative_error(outputs.pool[2], golden['images_32/pool'][0]) < 1e-4


def test_logits_differ_by_the_bias(golden, seeded_state_dict):
  difference = golden['images_32/logits'] - golden['images_32/logits_unbiased']
  np.testing.assert_allclose(difference, np.tile(seeded_state_dict['fc.bias'], (2, 1)), atol=1e-5)


def test_images_must_be_uint8_rgb_or_grey():
  with pytest.raises(ValueError, match='uint8'):
    inception.compute_inception_features({}, np.zeros((2, 32, 32, 3), np.float32))
  with pytest.raises(ValueError, match=r'\[N, H, W, 1\]'):
    inception.compute_inception_features({}, np.zeros((2, 32, 32, 2), np.uint8))


# The TF1 resize and the input normalization.


def bilinear_tensorflow1_loops(image, size):
  """Independent float64 reference: TF1 resize_bilinear, align_corners=False, one pixel at a time."""
  height, width = image.shape
  output = np.zeros((size, size))
  for i in range(size):
    y = i * height / size
    top, dy = int(np.floor(y)), y - np.floor(y)
    bottom = min(top + 1, height - 1)
    for j in range(size):
      x = j * width / size
      left, dx = int(np.floor(x)), x - np.floor(x)
      right = min(left + 1, width - 1)
      upper = image[top, left] * (1 - dx) + image[top, right] * dx
      lower = image[bottom, left] * (1 - dx) + image[bottom, right] * dx
      output[i, j] = upper * (1 - dy) + lower * dy
  return output


def test_resize_keeps_a_constant_image_constant():
  images = np.full((1, 7, 5, 3), 3.7, np.float32)
  np.testing.assert_array_equal(
    inception.resize_like_tensorflow1(images, 11), 3.7 * np.ones((1, 11, 11, 3), np.float32)
  )


def test_resize_by_an_integer_factor_picks_the_top_left_pixels():
  # TF1 samples at i * 4, without the half-pixel offset that would average pixels 1 and 2.
  image = np.arange(64, dtype=np.float32).reshape(1, 8, 8, 1)
  np.testing.assert_array_equal(inception.resize_like_tensorflow1(image, 2), image[:, ::4, ::4])


def test_resize_upsampling_by_hand():
  # Width 2 -> 3: positions 0, 2/3, 4/3 -> [a, a + 2/3 (b - a), b] (the last clamped to b).
  image = np.array([0.0, 3.0], np.float32).reshape(1, 1, 2, 1) * np.ones((1, 2, 1, 1), np.float32)
  resized = inception.resize_like_tensorflow1(image, 3)
  np.testing.assert_allclose(resized[0, :, :, 0], [[0, 2, 3]] * 3, rtol=1e-6)


@pytest.mark.parametrize('height, width, size', [(5, 7, 11), (13, 6, 4), (28, 28, 299)])
def test_resize_matches_the_loop_reference(height, width, size):
  image = np.random.default_rng(0).uniform(0, 255, (height, width)).astype(np.float32)
  resized = inception.resize_like_tensorflow1(image[None, :, :, None], size)[0, :, :, 0]
  np.testing.assert_allclose(resized, bilinear_tensorflow1_loops(image, size), atol=1e-3)


def test_preprocess_normalizes_as_torch_fidelity():
  images = np.random.default_rng(0).integers(0, 256, (1, 299, 299, 3), dtype=np.uint8)
  # At 299 the resize samples every pixel exactly; then (x - 128) / 128.
  np.testing.assert_array_equal(
    inception.preprocess_uint8(images), (images.astype(np.float32) - 128) / 128
  )


def test_preprocess_repeats_grey_to_rgb():
  grey = np.random.default_rng(0).integers(0, 256, (2, 28, 28, 1), dtype=np.uint8)
  np.testing.assert_array_equal(
    inception.preprocess_uint8(grey), inception.preprocess_uint8(np.repeat(grey, 3, axis=-1))
  )


# Loading the weights.


def test_missing_weights_file_says_where_to_get_it_and_put_it(tmp_path):
  path = tmp_path / 'nowhere.pth'
  with pytest.raises(errors.WeightsError) as error:
    inception_weights.load_inception_params(path)
  message = str(error.value)
  for part in (
    inception_weights.WEIGHTS_URL,
    str(path),
    inception_weights.WEIGHTS_ENV_VAR,
    '--config.eval.inception_weights',
  ):
    assert part in message


def test_weights_path_comes_from_the_environment_then_the_default(tmp_path, monkeypatch):
  monkeypatch.setenv(inception_weights.WEIGHTS_ENV_VAR, str(tmp_path / 'from_env.pth'))
  with pytest.raises(errors.WeightsError, match='from_env.pth'):
    inception_weights.load_inception_params()
  monkeypatch.delenv(inception_weights.WEIGHTS_ENV_VAR)
  monkeypatch.setenv('HOME', str(tmp_path))

  def offline(url, path, **kwargs):
    raise errors.DownloadError(f'{url}: offline')

  # The default place is downloaded to when the file is missing; here the download fails.
  monkeypatch.setattr(downloads, 'download', offline)
  default = tmp_path / '.cache' / 'gan_jax' / inception_weights.WEIGHTS_FILENAME
  with pytest.raises(errors.WeightsError, match=f'{default} .*offline'):
    inception_weights.load_inception_params()


def test_weights_are_converted_once_then_read_from_the_cache(
  tmp_path, monkeypatch, seeded_state_dict, seeded_variables
):
  weights = tmp_path / 'weights.pth'
  weights.write_bytes(b'read by the stubbed reader')
  reads = []
  monkeypatch.setattr(
    torch_checkpoint, 'load_state_dict', lambda path: reads.append(path) or seeded_state_dict
  )

  first = inception_weights.load_inception_params(weights, cache_dir=tmp_path / 'cache')
  second = inception_weights.load_inception_params(weights, cache_dir=tmp_path / 'cache')
  assert len(reads) == 1 and len(os.listdir(tmp_path / 'cache')) == 1
  for variables in (first, second):
    conv = variables['params']['Mixed_7c']['branch_pool']['conv']['kernel']
    np.testing.assert_array_equal(
      conv, seeded_variables['params']['Mixed_7c']['branch_pool']['conv']['kernel']
    )
    # OIHW -> HWIO.
    np.testing.assert_array_equal(
      conv, seeded_state_dict['Mixed_7c.branch_pool.conv.weight'].transpose(2, 3, 1, 0)
    )
  np.testing.assert_array_equal(
    second['batch_stats']['Conv2d_1a_3x3']['bn']['var'],
    seeded_state_dict['Conv2d_1a_3x3.bn.running_var'],
  )

  os.utime(weights, ns=(0, 0))  # A replaced file is converted again.
  inception_weights.load_inception_params(weights, cache_dir=tmp_path / 'cache')
  assert len(reads) == 2


def test_a_file_named_with_a_hash_is_checked_against_it(tmp_path):
  weights = tmp_path / 'pt_inception-2015-12-05-6726825d.pth'
  weights.write_bytes(b'an interrupted download')
  with pytest.raises(errors.WeightsError, match='SHA-256'):
    inception_weights.load_inception_params(weights, cache_dir=tmp_path)


def test_another_networks_state_dict_is_refused(seeded_state_dict):
  state_dict = dict(seeded_state_dict, **{'head.weight': np.zeros(3, np.float32)})
  del state_dict['fc.bias']
  state_dict['fc.weight'] = np.zeros((10, 2048), np.float32)
  with pytest.raises(errors.WeightsError) as error:
    inception_weights.state_dict_to_variables(state_dict)
  for part in (
    "missing ['fc.bias']",
    "unexpected ['head.weight']",
    'fc.weight: (10, 2048) instead of (1008, 2048)',
  ):
    assert part in str(error.value)


# The .pth reader.


@pytest.mark.parametrize('file_format', ['zip', 'legacy'])
def test_reader_rebuilds_torch_saved_tensors(file_format):
  state_dict = torch_checkpoint.load_state_dict(
    os.path.join(FIXTURES, f'tiny_state_dict_{file_format}.pth')
  )
  expected = {
    'weight': np.ones(2, np.float32),  # A BatchNorm1d(2)'s state dict first.
    'bias': np.zeros(2, np.float32),
    'running_mean': np.zeros(2, np.float32),
    'running_var': np.ones(2, np.float32),
    'num_batches_tracked': np.array(0, np.int64),
    'conv.weight': np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2),
    'transposed': np.arange(6, dtype=np.float64).reshape(2, 3).T,
    'tail': np.arange(4, 10, dtype=np.int32),
    'every_third': np.array([0, 3, 6, 9], np.int32),
    'half': np.array([0.5, -2.0], np.float16),
    'bfloat16': np.array([1.5, -3.0], ml_dtypes.bfloat16),
    'mask': np.array([True, False]),
    'count': np.array(7, np.int64),
  }
  assert list(state_dict) == list(expected)
  for name, array in expected.items():
    assert state_dict[name].dtype == array.dtype, name
    np.testing.assert_array_equal(state_dict[name], array, err_msg=name)


def test_reader_never_runs_code_from_the_file(tmp_path):
  marker = tmp_path / 'ran'
  payload = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
  path = tmp_path / 'evil.pth'
  with zipfile.ZipFile(path, 'w') as archive:
    archive.writestr('evil/data.pkl', payload)
  with pytest.raises(errors.WeightsError, match='os.system'):
    torch_checkpoint.load_state_dict(path)
  assert not marker.exists()


def test_reader_refuses_a_truncated_or_foreign_file(tmp_path):
  with open(os.path.join(FIXTURES, 'tiny_state_dict_legacy.pth'), 'rb') as f:
    legacy = f.read()
  truncated = tmp_path / 'truncated.pth'
  truncated.write_bytes(legacy[:-10])
  with pytest.raises(errors.WeightsError, match='truncated'):
    torch_checkpoint.load_state_dict(truncated)
  foreign = tmp_path / 'foreign.pth'
  foreign.write_bytes(pickle.dumps([1, 2, 3]))
  with pytest.raises(errors.WeightsError, match='not a torch.save file'):
    torch_checkpoint.load_state_dict(foreign)
  with pytest.raises(errors.WeightsError, match='No weights file'):
    torch_checkpoint.load_state_dict(tmp_path / 'absent.pth')
