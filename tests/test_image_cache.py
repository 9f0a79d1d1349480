"""The cache of a folder's decoded, cropped and resized images (`gan_jax.image_cache`)."""

import os

import numpy as np
import pytest
from PIL import Image

from gan_jax import config_sections
from gan_jax import data_sources
from gan_jax import errors
from gan_jax import image_cache
from gan_jax import input_pipeline


def _write_jpeg(path, seed, shape=(40, 48)):
  """A JPEG of smooth random colours (a noise image would compress to nearly every byte)."""
  coarse = np.random.default_rng(seed).integers(0, 256, (5, 6, 3), np.uint8)
  Image.fromarray(coarse).resize(shape[::-1], Image.Resampling.BILINEAR).save(path, quality=90)


def _labeled_folder(root, per_class=5):
  """Two class subfolders of `per_class` 40x48 JPEGs each."""
  for label, name in enumerate(('cats', 'dogs')):
    os.makedirs(root / name)
    for index in range(per_class):
      _write_jpeg(root / name / f'{index}.jpg', seed=10 * label + index)
  return str(root)


def _config(folder, cache_dir='', **fields):
  fields = {'image_size': 16, **fields}
  return config_sections.data_config(name='folder', path=folder, cache_dir=cache_dir, **fields)


def _batches(config, steps=3):
  """(images, labels) of the first `steps` train steps of a seed-3 stream."""
  dataset, info = input_pipeline.get_source(config)
  stream = input_pipeline.batches(dataset, seed=3, global_batch_size=8, discriminator_steps=2)
  return info, [next(stream) for _ in range(steps)]


def _records(config):
  dataset, _ = input_pipeline.get_source(config)
  return [(np.asarray(r['image']), int(r['label'])) for r in dataset]


def _assert_same_records(actual, expected):
  assert len(actual) == len(expected)
  for (image, label), (expected_image, expected_label) in zip(actual, expected):
    np.testing.assert_array_equal(image, expected_image)
    assert image.dtype == expected_image.dtype and label == expected_label


def _caches(cache_dir):
  return sorted(os.listdir(cache_dir)) if os.path.isdir(cache_dir) else []


@pytest.mark.parametrize('fields', [dict(), dict(crop_size=30), dict(image_size=0)])
def test_batches_are_bitwise_the_same_with_and_without_the_cache(tmp_path, monkeypatch, fields):
  folder = _labeled_folder(tmp_path / 'images')
  cache_dir = str(tmp_path / 'cache')
  info, expected = _batches(_config(folder, **fields))
  built_info, built = _batches(_config(folder, cache_dir, **fields))
  assert len(_caches(cache_dir)) == 1

  def no_decoding(path):
    raise AssertionError(f'{path} was decoded, though its image is cached')

  # A later run reads the cache alone: no image file is decoded.
  monkeypatch.setattr(data_sources, 'read_rgb', no_decoding)
  reused_info, reused = _batches(_config(folder, cache_dir, **fields))
  assert info == built_info == reused_info and info.num_classes == 2
  assert info.image_shape == ((40, 48, 3) if fields.get('image_size') == 0 else (16, 16, 3))
  for run in (built, reused):
    for (images, labels), (expected_images, expected_labels) in zip(run, expected):
      assert images.dtype == expected_images.dtype == np.float32
      # Bitwise: the same float32 bits, not merely close values.
      np.testing.assert_array_equal(images.view(np.uint32), expected_images.view(np.uint32))
      np.testing.assert_array_equal(labels, expected_labels)
  assert set(np.concatenate([labels.ravel() for _, labels in expected])) == {0, 1}


def _modify_file(folder, config):
  _write_jpeg(os.path.join(folder, 'cats', '0.jpg'), seed=99)
  return config


def _touch_file(folder, config):
  # The same bytes with a new modification time: maybe another file of the same name.
  path = os.path.join(folder, 'cats', '1.jpg')
  stat = os.stat(path)
  os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
  return config


def _add_file(folder, config):
  _write_jpeg(os.path.join(folder, 'dogs', '9.jpg'), seed=77)
  return config


def _remove_file(folder, config):
  os.remove(os.path.join(folder, 'dogs', '2.jpg'))
  return config


def _move_to_other_class(folder, config):
  os.rename(os.path.join(folder, 'dogs', '3.jpg'), os.path.join(folder, 'cats', '3b.jpg'))
  return config


def _resize_differently(folder, config):
  return _config(folder, config.cache_dir, image_size=8)


def _crop_differently(folder, config):
  return _config(folder, config.cache_dir, crop_size=24)


@pytest.mark.parametrize(
  'change',
  [
    _modify_file,
    _touch_file,
    _add_file,
    _remove_file,
    _move_to_other_class,
    _resize_differently,
    _crop_differently,
  ],
)
def test_a_changed_folder_or_preprocessing_builds_a_new_cache_and_never_reads_the_stale_one(
  tmp_path, change
):
  folder = _labeled_folder(tmp_path / 'images')
  cache_dir = str(tmp_path / 'cache')
  config = _config(folder, cache_dir)
  paths = data_sources.folder_files(folder)
  before = image_cache.fingerprint(config, paths, config.image_size, config.crop_size)
  _records(config)
  (stale,) = _caches(cache_dir)
  assert before in stale

  config = change(folder, config)
  paths = data_sources.folder_files(folder)
  after = image_cache.fingerprint(config, paths, config.image_size, config.crop_size)
  assert after != before
  cached = _records(config)
  assert len(_caches(cache_dir)) == 2 and stale in _caches(cache_dir)
  _assert_same_records(cached, _records(_config(folder, '', **_preprocessing(config))))


def _preprocessing(config):
  return dict(image_size=config.image_size, crop_size=config.crop_size)


def test_the_fingerprint_ignores_where_the_folder_is_and_nothing_else(tmp_path):
  folder = _labeled_folder(tmp_path / 'images')
  config = _config(folder)
  paths = data_sources.folder_files(folder)
  digest = image_cache.fingerprint(config, paths, 16, 0)
  assert digest == image_cache.fingerprint(config, paths, 16, 0)
  moved = str(tmp_path / 'moved')
  os.rename(folder, moved)
  # Relative paths, sizes and modification times survive a move: the cache is reused.
  assert image_cache.fingerprint(_config(moved), data_sources.folder_files(moved), 16, 0) == digest


def test_an_interrupted_build_leaves_no_cache_and_the_next_run_rebuilds(tmp_path, monkeypatch):
  folder = _labeled_folder(tmp_path / 'images')
  cache_dir = str(tmp_path / 'cache')
  expected = _records(_config(folder))
  resize = input_pipeline.centre_crop_and_resize
  calls = []

  def fails_midway(*args, **kwargs):
    calls.append(1)
    if len(calls) == 5:  # Image 5 of 10: the array file is half written.
      raise KeyboardInterrupt
    return resize(*args, **kwargs)

  monkeypatch.setattr(input_pipeline, 'centre_crop_and_resize', fails_midway)
  with pytest.raises(KeyboardInterrupt):
    _records(_config(folder, cache_dir))
  assert _caches(cache_dir) == []  # Its temporary directory removed, nothing under the name.
  # A process killed mid-build leaves its temporary directory behind; no run reads it.
  config = _config(folder, cache_dir)
  digest = image_cache.fingerprint(config, data_sources.folder_files(folder), 16, 0)
  leftover = os.path.join(cache_dir, f'.folder-16px-{digest}.tmp-killed')
  os.makedirs(leftover)
  np.save(os.path.join(leftover, 'images.npy'), np.zeros((3, 16, 16, 3), np.uint8))

  monkeypatch.setattr(input_pipeline, 'centre_crop_and_resize', resize)
  _assert_same_records(_records(config), expected)
  assert _caches(cache_dir) == sorted([os.path.basename(leftover), f'folder-16px-{digest}'])


def test_a_failed_rename_leaves_no_cache_and_says_so(tmp_path, monkeypatch):
  folder = _labeled_folder(tmp_path / 'images')
  cache_dir = str(tmp_path / 'cache')

  def full_disk(source, destination):
    raise OSError(28, 'No space left on device')

  monkeypatch.setattr(image_cache.os, 'replace', full_disk)
  with pytest.raises(errors.StorageError, match='No space left') as error:
    _records(_config(folder, cache_dir))
  assert '\n' not in str(error.value) and '--config.data.cache_dir' in str(error.value)
  assert _caches(cache_dir) == []


def test_a_second_build_of_the_same_cache_keeps_the_first(tmp_path):
  # Two processes of a job that both found no cache: the second rename fails, its build goes.
  directory = str(tmp_path / 'cache' / 'folder-2px-0123')
  first = [{'image': np.full((2, 2, 1), 7, np.uint8), 'label': 1}] * 3
  second = [{'image': np.full((2, 2, 1), 7, np.uint8), 'label': 1}] * 3
  image_cache.build(directory, first, 2)
  inode = os.stat(directory).st_ino
  image_cache.build(directory, second, 2)
  assert os.stat(directory).st_ino == inode
  assert os.listdir(tmp_path / 'cache') == ['folder-2px-0123']
  records, num_classes = image_cache._load(directory)
  assert num_classes == 2 and len(records) == 3 and records[2]['label'] == 1
  np.testing.assert_array_equal(records[2]['image'], first[2]['image'])


def test_an_unwritable_cache_dir_is_a_one_line_error_with_the_fix(tmp_path):
  folder = _labeled_folder(tmp_path / 'images')
  not_a_directory = tmp_path / 'notes.txt'
  not_a_directory.write_text('a file, not a directory')
  with pytest.raises(errors.ConfigError) as error:
    _records(_config(folder, str(not_a_directory / 'cache')))
  message = str(error.value)
  assert '\n' not in message and 'cannot be written' in message
  assert "--config.data.cache_dir at a writable directory, or set it to ''" in message


@pytest.mark.parametrize('name', ['bundled_faces', 'mnist'])
def test_a_cache_dir_for_data_already_in_memory_or_in_tfds_is_a_config_error(tmp_path, name):
  config = config_sections.data_config(name=name, cache_dir=str(tmp_path))
  with pytest.raises(errors.ConfigError, match="set --config.data.cache_dir=''") as error:
    input_pipeline.get_source(config)
  assert '\n' not in str(error.value) and not os.listdir(tmp_path)


def test_a_cache_damaged_by_hand_is_a_data_error_that_says_to_delete_it(tmp_path):
  folder = _labeled_folder(tmp_path / 'images')
  cache_dir = str(tmp_path / 'cache')
  _records(_config(folder, cache_dir))
  (cache,) = _caches(cache_dir)
  os.remove(os.path.join(cache_dir, cache, 'labels.npy'))
  with pytest.raises(errors.DataError, match='delete it, and the next run rebuilds it') as error:
    _records(_config(folder, cache_dir))
  assert '\n' not in str(error.value)
