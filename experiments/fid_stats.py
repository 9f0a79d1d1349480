r"""Writes the FID reference statistics of a data set or an image set.

  python -m experiments.fid_stats --data=cifar10 --split=train --out=cifar10_train.npz
  python -m experiments.fid_stats --data=DIR_OR_NPZ --out=stats.npz

--data is a data set name as `data.name` takes it (bundled_mnist,
bundled_faces, or a TFDS name such as cifar10 or celeb_a, with --split and
--image_size as in training), or a folder / .npz / .npy of images. At most
--num_images images (drawn at random with --config.eval.seed) are embedded by
--config.eval.feature_network, and the mean and covariance of their features
are written to --out as pytorch-fid and TTUR write them: an .npz with `mu` [d]
and `sigma` [d, d] (float64), plus `num_images` and `protocol` (how they were
made). `experiments.evaluate --reference=` reads the file.
"""

import os

import jax
import ml_collections
import numpy as np
from absl import flags
from absl import logging
from ml_collections import config_flags

from experiments import app
from gan_jax import config_sections
from gan_jax import errors
from gan_jax import evaluation
from gan_jax import feature_networks
from gan_jax import image_sets
from gan_jax.metrics import fid

_DATA = flags.DEFINE_string(
  'data', None, 'A data set name (bundled_mnist, cifar10, ...) or a folder / .npz of images.'
)
_SPLIT = flags.DEFINE_string('split', 'train', 'The split of a named data set.')
_IMAGE_SIZE = flags.DEFINE_integer(
  'image_size', 0, 'Centre-crop and resize a named data set to this side, as data.image_size.'
)
_NUM_IMAGES = flags.DEFINE_integer(
  'num_images', 50_000, 'At most this many images, drawn at random.', lower_bound=2
)
_OUT = flags.DEFINE_string('out', None, 'The .npz file to write.')
_CONFIG = config_flags.DEFINE_config_dict(
  'config',
  ml_collections.ConfigDict({'eval': config_sections.eval_config()}),
  'Feature network settings; override as --config.eval.feature_network=inception.',
  lock_config=True,
)
flags.mark_flags_as_required(['data', 'out'])


def _images(settings: ml_collections.ConfigDict) -> tuple[np.ndarray, str]:
  """The images to describe, [N, H, W, C], and where they came from."""
  if os.path.exists(_DATA.value):
    image_set = image_sets.read(_DATA.value)
    if image_set.images is None:
      raise errors.ConfigError(f'{_DATA.value} already holds FID statistics; pass images.')
    images = image_set.images
    if len(images) > _NUM_IMAGES.value:
      chosen = np.random.default_rng(settings.seed).permutation(len(images))[: _NUM_IMAGES.value]
      images = images[np.sort(chosen)]
    return images, f'{len(images)} of {image_set.description}'
  data = config_sections.data_config(
    name=_DATA.value, split=_SPLIT.value, image_size=_IMAGE_SIZE.value
  )
  return evaluation.reference_images(data, _SPLIT.value, _NUM_IMAGES.value, settings.seed)


def write_statistics(path: str, mu: np.ndarray, sigma: np.ndarray, **metadata) -> None:
  """Writes mu, sigma and `metadata` to the .npz `path`, atomically."""
  partial = f'{path}.partial'
  try:
    with open(partial, 'wb') as f:
      np.savez(f, mu=mu, sigma=sigma, **{k: np.asarray(v) for k, v in metadata.items()})
    os.replace(partial, path)
  except OSError as e:
    raise errors.StorageError(f'Cannot write {path} ({e.strerror}); choose another --out.') from e


def main(argv):
  del argv
  settings = _CONFIG.value.eval
  images, description = _images(settings)
  network = feature_networks.load(settings, images.shape[1:])
  features = evaluation.observe_split(images, network, {'features'}).features
  mu, sigma = fid.feature_statistics(features)
  if jax.process_index() != 0:
    return
  protocol = f'{description}; features: {network.description}'
  write_statistics(_OUT.value, mu, sigma, num_images=len(images), protocol=protocol)
  logging.info('Wrote the statistics of %d %d-d features to %s.', len(images), len(mu), _OUT.value)


if __name__ == '__main__':
  app.run(main)
