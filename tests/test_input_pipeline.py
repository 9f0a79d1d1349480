"""Data sources by name and the per-step batch stream."""

import time

import grain
import numpy as np
import pytest
import tensorflow_datasets as tfds

from gan_jax import config_sections
from gan_jax import data_sources
from gan_jax import errors
from gan_jax import input_pipeline


def _data_config(name, **fields):
  return config_sections.data_config(name=name, **fields)


def _array_dataset(images):
  # Each image's label is its value, so tests can check that they travel together.
  labels = images.reshape(len(images)).astype(np.int32)
  return grain.MapDataset.source(data_sources._ArraySource(images, labels))


def _first_batches(source, count, **kwargs):
  """The images of the first `count` steps' batches."""
  return [images for images, _ in _first_examples(source, count, **kwargs)]


def _first_examples(source, count, **kwargs):
  stream = input_pipeline.batches(
    source, seed=0, global_batch_size=16, discriminator_steps=2, **kwargs
  )
  return [next(stream) for _ in range(count)]


def test_bundled_mnist_is_real_mnist():
  source, info = input_pipeline.get_source(_data_config('bundled_mnist'))
  assert info.image_shape == (28, 28, 1) and info.num_examples == 5000 and info.num_classes == 10
  images = np.stack([source[i]['image'] for i in range(0, 5000, 49)])  # Every class.
  labels = np.array([source[i]['label'] for i in range(5000)])
  assert images.dtype == np.uint8 and images.max() == 255 and images.min() == 0
  np.testing.assert_array_equal(np.bincount(labels), np.full(10, 500))
  # Digits: dark background, a bright stroke in the middle.
  assert images[:, :3].mean() < 5 and images[:, 10:18, 10:18].mean() > 60


def test_batches_are_in_model_range_and_shaped_per_step():
  source, _ = input_pipeline.get_source(_data_config('bundled_mnist'))
  (batch,) = _first_batches(source, 1)
  assert batch.shape == (2, 16, 28, 28, 1) and batch.dtype == np.float32
  assert batch.min() == -1.0 and batch.max() == 1.0


def test_labels_travel_with_their_images():
  images = np.arange(40, dtype=np.uint8).reshape(40, 1, 1, 1)
  ((batch, labels),) = _first_examples(_array_dataset(images), 1)
  assert labels.shape == (2, 16) and labels.dtype == np.int32
  np.testing.assert_array_equal(np.round((batch[..., 0, 0, 0] + 1) * 127.5), labels)


def test_stream_is_a_function_of_seed_and_step():
  images = np.arange(40, dtype=np.uint8).reshape(40, 1, 1, 1)
  source = _array_dataset(images)
  from_zero = _first_batches(source, 5)
  resumed = _first_batches(source, 2, start_step=3)
  np.testing.assert_array_equal(resumed[0], from_zero[3])
  np.testing.assert_array_equal(resumed[1], from_zero[4])
  # 5 steps x 2 D updates x 16 = 160 images = 4 epochs of 40, each a permutation.
  values = np.round((np.concatenate([b.ravel() for b in from_zero]) + 1) * 127.5).astype(int)
  epochs = values.reshape(4, 40)
  for epoch in epochs:
    np.testing.assert_array_equal(np.sort(epoch), np.arange(40))
  assert not np.array_equal(epochs[0], epochs[1])  # Reshuffled every epoch.


def test_processes_read_their_contiguous_block_of_the_global_batch(monkeypatch):
  images = np.arange(64, dtype=np.uint8).reshape(64, 1, 1, 1)
  source = _array_dataset(images)
  whole = _first_batches(source, 2)  # One process: the global batches [2, 16, ...].
  monkeypatch.setattr(input_pipeline.jax, 'process_count', lambda: 2)
  monkeypatch.setattr(input_pipeline.jax, 'device_count', lambda: 2)
  for index in (0, 1):
    monkeypatch.setattr(input_pipeline.jax, 'process_index', lambda index=index: index)
    shares = _first_batches(source, 2)
    for share, batch in zip(shares, whole):
      assert share.shape == (2, 8, 1, 1, 1)  # Half of the global batch of 16.
      # Process p holds rows [8p, 8p + 8) of each of the step's global batches.
      np.testing.assert_array_equal(share, batch[:, 8 * index : 8 * index + 8])


def test_tfds_source_reads_through_data_source(monkeypatch):
  monkeypatch.setattr(data_sources, '_network_reachable', lambda: True)
  with tfds.testing.mock_data(num_examples=24):
    source, info = input_pipeline.get_source(_data_config('mnist'))
    assert info.image_shape == (28, 28, 1) and info.num_examples == 24 and info.num_classes == 10
    (batch,) = _first_batches(source, 1)
  assert batch.shape == (2, 16, 28, 28, 1) and -1 <= batch.min() and batch.max() <= 1


def test_tfds_offline_and_not_prepared_fails_fast_with_the_fix(monkeypatch, tmp_path):
  monkeypatch.setattr(data_sources, '_network_reachable', lambda: False)
  start = time.perf_counter()
  with pytest.raises(
    errors.DataError, match=r"'mnist' is not prepared.*unreachable.*bundled_mnist"
  ):
    input_pipeline.get_source(_data_config('mnist', tfds_data_dir=str(tmp_path)))
  assert time.perf_counter() - start < 10


def test_unknown_data_set_names_the_valid_ones():
  with pytest.raises(
    errors.ConfigError, match=r"Unknown data set 'no_such_set'.*bundled_mnist.*tfds.list_builders"
  ):
    input_pipeline.get_source(_data_config('no_such_set'))


def test_batch_size_must_divide_by_device_count():
  with pytest.raises(
    errors.ConfigError, match=r'batch_size=12 must be a positive multiple .* \(8\)'
  ):
    input_pipeline.check_batch_size(12)


def test_bundled_faces_are_the_lfw_faces_resized():
  dataset, info = input_pipeline.get_source(_data_config('bundled_faces', image_size=64))
  assert info.image_shape == (64, 64, 3) and info.num_examples == 100
  face = dataset[7]['image']
  assert face.dtype == np.uint8
  np.testing.assert_array_equal(face[..., 0], face[..., 2])  # Grey, repeated to RGB.
  import skimage.data

  original = np.rint(skimage.data.lfw_subset()[7] * 255)
  # Same picture: the mean brightness survives the bicubic upscaling.
  assert abs(face.mean() - original.mean()) < 3


def test_centre_crop_and_resize():
  image = np.zeros((4, 6, 1), np.uint8)
  image[:, 1:5] = 200  # The centred 4x4 square; the side columns are cut off.
  np.testing.assert_array_equal(input_pipeline.centre_crop_and_resize(image, 4), image[:, 1:5])
  resized = input_pipeline.centre_crop_and_resize(image, 8)
  assert resized.shape == (8, 8, 1) and (resized == 200).all()
  cropped = input_pipeline.centre_crop_and_resize(
    np.arange(36, dtype=np.uint8).reshape(6, 6, 1), 2, crop_size=2
  )
  np.testing.assert_array_equal(cropped[..., 0], [[14, 15], [20, 21]])


def test_a_crop_larger_than_the_image_pads_it_with_black():
  # LeNet-5's MNIST (LeCun et al. 1998): the 28x28 digit in a 32x32 field, a 2-pixel black border.
  digit = np.random.default_rng(0).integers(1, 256, (28, 28, 1), dtype=np.uint8)
  padded = input_pipeline.centre_crop_and_resize(digit, 32, crop_size=32)
  assert padded.shape == (32, 32, 1) and padded.dtype == np.uint8
  np.testing.assert_array_equal(padded[2:30, 2:30], digit)
  border = np.ones((32, 32, 1), bool)
  border[2:30, 2:30] = False
  assert (padded[border] == 0).all()
  # A side shorter than the crop is padded, a longer one cropped: 3x6 -> 5x5 keeps columns 0:5.
  image = np.arange(18, dtype=np.uint8).reshape(3, 6, 1) + 1
  mixed = input_pipeline.centre_crop_and_resize(image, 5, crop_size=5)
  np.testing.assert_array_equal(mixed[1:4, :, 0], image[:, :5, 0])
  assert (mixed[[0, 4]] == 0).all()


def test_bundled_mnist_padded_to_32():
  config = config_sections.data_config(name='bundled_mnist', image_size=32, crop_size=32)
  dataset, info = input_pipeline.get_source(config)
  stored, _ = input_pipeline.get_source(config_sections.data_config(name='bundled_mnist'))
  assert info.image_shape == (32, 32, 1) and info.num_classes == 10
  np.testing.assert_array_equal(dataset[7]['image'][2:30, 2:30], stored[7]['image'])
  assert dataset[7]['label'] == stored[7]['label']


def _write_images(folder):
  from PIL import Image

  rng = np.random.default_rng(0)
  (folder / 'person_a').mkdir(parents=True)
  Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(
    folder / 'person_a' / 'rgb.jpg'
  )
  Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8), 'L').save(folder / 'grey.png')
  Image.fromarray(rng.integers(0, 256, (25, 50, 4), dtype=np.uint8), 'RGBA').save(
    folder / 'alpha.PNG'
  )
  Image.fromarray(rng.integers(0, 256, (33, 33), dtype=np.uint8), 'L').convert('P').save(
    folder / 'palette.gif'
  )
  (folder / 'corrupt.jpg').write_bytes(b'not an image at all')
  (folder / 'notes.txt').write_text('not an image file either')


def test_folder_of_mixed_images(tmp_path, caplog):
  _write_images(tmp_path)
  dataset, info = input_pipeline.get_source(
    _data_config('folder', path=str(tmp_path), image_size=16)
  )
  assert info.num_examples == 4 and info.image_shape == (16, 16, 3)
  for i in range(4):
    assert dataset[i]['image'].shape == (16, 16, 3) and dataset[i]['image'].dtype == np.uint8
  assert 'Skipped 1 of 5 image files' in caplog.text
  assert info.num_classes == 0  # Images directly under the root: no class folders.


def test_folder_with_one_subfolder_per_class_is_labeled(tmp_path):
  from PIL import Image

  for name, count in (('bob', 2), ('alice', 3)):
    (tmp_path / name).mkdir()
    for i in range(count):
      Image.fromarray(np.full((8, 8, 3), 10 * i, np.uint8)).save(tmp_path / name / f'{i}.png')
  dataset, info = input_pipeline.get_source(_data_config('folder', path=str(tmp_path)))
  assert info.num_classes == 2 and info.num_examples == 5
  # Classes in sorted folder order: alice 0, bob 1; paths sorted too.
  assert [dataset[i]['label'] for i in range(5)] == [0, 0, 0, 1, 1]


@pytest.mark.parametrize(
  'make, message',
  [
    (lambda root: None, 'is not a directory'),
    (lambda root: root.mkdir(), 'No image files'),
    (
      lambda root: (root.mkdir(), (root / 'bad.png').write_bytes(b'xx')),
      'None of the 1 image files',
    ),
  ],
)
def test_folder_errors(tmp_path, make, message):
  root = tmp_path / 'faces'
  make(root)
  with pytest.raises(errors.DataError, match=message):
    input_pipeline.get_source(_data_config('folder', path=str(root), image_size=16))


def test_celeb_a_gets_dcgans_108_crop(monkeypatch):
  monkeypatch.setattr(data_sources, '_network_reachable', lambda: True)
  with tfds.testing.mock_data(num_examples=4):
    dataset, info = input_pipeline.get_source(_data_config('celeb_a', image_size=64))
    raw = tfds.data_source('celeb_a', split='train')[0]['image']
    assert raw.shape == (218, 178, 3)
    np.testing.assert_array_equal(
      dataset[0]['image'], input_pipeline.centre_crop_and_resize(np.asarray(raw), 64, crop_size=108)
    )
  assert info.image_shape == (64, 64, 3)


def test_network_probe_is_bounded_even_when_the_lookup_hangs(monkeypatch):
  monkeypatch.setattr(data_sources, '_NETWORK_PROBE_TIMEOUT_S', 0.2)
  monkeypatch.setattr(data_sources, '_connects', lambda: time.sleep(5) or True)
  start = time.perf_counter()
  assert not data_sources._network_reachable()
  assert time.perf_counter() - start < 2


def test_bundled_splits_slice_like_tfds_and_hold_every_class():
  parts = {
    split: input_pipeline.get_source(_data_config('bundled_mnist', split=split))[0]
    for split in ('train[:4000]', 'train[4000:4500]', 'train[90%:]')
  }
  counts = {split: len(source) for split, source in parts.items()}
  assert counts == {'train[:4000]': 4000, 'train[4000:4500]': 500, 'train[90%:]': 500}
  held_out = [parts['train[90%:]'][i]['label'] for i in range(500)]
  np.testing.assert_array_equal(np.bincount(held_out), np.full(10, 50))
  # The slices are the whole set's examples, in order.
  whole, _ = input_pipeline.get_source(_data_config('bundled_mnist'))
  np.testing.assert_array_equal(parts['train[90%:]'][0]['image'], whole[4500]['image'])
  with pytest.raises(errors.ConfigError, match="a bundled data set has one split, 'train'"):
    input_pipeline.get_source(_data_config('bundled_faces', split='test'))


def _grey_files(folder):
  """One file per image mode that Pillow reads, each a flat grey as close to 128/255 as it
  can hold, and the value each must read as."""
  from PIL import Image

  mid = np.full((6, 6), 128 * 257, np.uint16)  # 16-bit 32896 is 8-bit 128 exactly.
  Image.fromarray(mid).save(folder / 'grey16.png')  # Pillow reads it as 'I;16'.
  Image.frombytes('I;16B', (6, 6), mid.astype('>u2').tobytes()).save(folder / 'grey16b.tif')
  Image.fromarray(mid.astype(np.int32)).save(folder / 'grey16.pgm')  # Read as 'I'.
  Image.fromarray(np.full((6, 6), 0.5, np.float32)).save(folder / 'float.tif')  # 'F', in [0, 1].
  Image.fromarray(np.full((6, 6), 128, np.uint8)).convert('LA').save(folder / 'grey_alpha.png')
  Image.fromarray(np.full((6, 6), 128, np.uint8)).convert('P').save(folder / 'palette.png')
  Image.fromarray(np.full((6, 6, 3), 128, np.uint8)).convert('CMYK').save(folder / 'cmyk.tif')
  Image.fromarray(np.ones((6, 6), bool)).save(folder / 'bits.png')  # '1': white.
  return {
    'grey16.png': 128,
    'grey16b.tif': 128,
    'grey16.pgm': 128,
    'float.tif': 128,
    'grey_alpha.png': 128,
    'palette.png': 128,
    'cmyk.tif': 128,
    'bits.png': 255,
  }


def test_images_of_every_mode_read_at_their_real_values(tmp_path):
  for name, value in _grey_files(tmp_path).items():
    image = data_sources.read_rgb(str(tmp_path / name))
    assert image.shape == (6, 6, 3) and image.dtype == np.uint8, name
    np.testing.assert_array_equal(image, value, err_msg=name)


def test_16_bit_values_scale_to_8_bits():
  from PIL import Image

  values = np.array([[0, 257, 32767, 32896, 65280, 65535]], np.uint16)
  image = data_sources._to_uint8(Image.fromarray(values))
  np.testing.assert_array_equal(image[..., 0], [[0, 1, 127, 128, 254, 255]])


def test_folder_of_mixed_sizes_without_image_size_names_the_sizes_and_the_fix(tmp_path):
  from PIL import Image

  for name, shape in (('a.png', (8, 8)), ('b.png', (8, 8)), ('c.png', (12, 10))):
    Image.fromarray(np.zeros(shape, np.uint8)).save(tmp_path / name)
  with pytest.raises(
    errors.ConfigError,
    match=r'sizes: 8x8 \(2 images\), 12x10 \(1 image\).*--config.data.image_size=64',
  ):
    input_pipeline.get_source(_data_config('folder', path=str(tmp_path), image_size=0))
  _, info = input_pipeline.get_source(_data_config('folder', path=str(tmp_path), image_size=4))
  assert info.image_shape == (4, 4, 3)


@pytest.mark.parametrize('num_images, warned', [(10, True), (1, True), (16, False)])
def test_batches_larger_than_the_data_set_are_warned_about(caplog, num_images, warned):
  images = np.arange(num_images, dtype=np.uint8).reshape(num_images, 1, 1, 1)
  _first_batches(_array_dataset(images), 1)
  warning = f'train.batch_size=16 is larger than the data set ({num_images} image'
  assert (warning in caplog.text) == warned, caplog.text
