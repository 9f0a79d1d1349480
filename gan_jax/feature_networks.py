"""The networks whose embeddings the sample-quality metrics compare.

A `FeatureNetwork` maps images to (features [N, d], class probabilities
[N, K]): FID, KID, precision/recall and density/coverage read the features,
the Inception Score the probabilities. Two networks, chosen by
`eval.feature_network`:

- 'inception': the FID Inception-v3 of TTUR (Heusel et al. 2017) and
  torch-fidelity (`gan_jax.metrics.inception`; its weights are downloaded on
  first use), 2048-d pool3 features and the softmax of its 1008 bias-free
  logits (Salimans et al. 2016's IS code). `eval.resize` chooses how images
  reach 299x299: TF1's bilinear resize (TTUR, torch-fidelity) or clean-fid's
  antialiased bicubic (Parmar et al. 2022).
- 'mnist_classifier': the LeNet shipped with the package
  (`gan_jax.metrics.mnist_classifier`), the usual choice for MNIST GANs.

'auto' takes the MNIST classifier for 28x28x1 images and Inception otherwise.
The MNIST classifier also scores 32x32x1 digits padded with black
(`data.crop_size=32`) by their centre 28x28, but only when named: 'auto' does
not take it for 32x32x1 images, which may be other grey images (e.g. CIFAR-10
in grey) that a digit classifier would score without complaint.
Both accept images as uint8 in [0, 255] or floats in [-1, 1] (G's tanh range),
the two forms in which images reach an evaluation.
"""

from typing import Callable, NamedTuple

import jax
import ml_collections
import numpy as np

from gan_jax import errors

FEATURE_NETWORKS = ('auto', 'inception', 'mnist_classifier')
# How `eval.resize` brings images to Inception's 299x299 (`inception.RESIZE_MODES`).
RESIZE_PROTOCOLS = {
  'tf1_bilinear': 'images rounded to uint8 and resized to 299 with the TF1 bilinear resize',
  'clean': (
    "images rounded to uint8 and resized to 299 with clean-fid's clean resize (PIL bicubic "
    'with antialiasing, per channel in float32, clipped to [0, 255]; Parmar et al. 2022)'
  ),
}


class FeatureNetwork(NamedTuple):
  """A loaded feature network.

  Attributes:
    name: 'inception' or 'mnist_classifier'.
    embed: images [N, H, W, C] (uint8, or float in [-1, 1]) -> (features
      float32 [N, d], probs float32 [N, K]).
    description: the network and its input pipeline, for a result's protocol.
  """

  name: str
  embed: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
  description: str


def to_uint8(images: np.ndarray) -> np.ndarray:
  """uint8 images as they are; floats in [-1, 1] rounded to [0, 255] as an image file stores them."""
  images = np.asarray(images)
  if images.dtype == np.uint8:
    return images
  return np.clip(np.rint((images.astype(np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def to_model_range(images: np.ndarray) -> np.ndarray:
  """float32 images in [-1, 1]: uint8 scaled as the input pipeline does, floats clipped to
  [-1, 1] (a G without an output tanh, StyleGAN2's, can leave it)."""
  images = np.asarray(images)
  if images.dtype == np.uint8:
    return images.astype(np.float32) / 127.5 - 1.0
  return np.clip(images.astype(np.float32), -1.0, 1.0)


def resolve(name: str, image_shape) -> str:
  """'auto' -> 'mnist_classifier' for 28x28x1 images, else 'inception'."""
  if name not in FEATURE_NETWORKS:
    raise errors.unknown_name_error('eval.feature_network', name, FEATURE_NETWORKS)
  if name == 'auto':
    return 'mnist_classifier' if tuple(image_shape) == (28, 28, 1) else 'inception'
  return name


# Digits padded with black to 32x32 (data.crop_size=32, as LeNet-5 took MNIST) are
# scored by their centre 28x28, the digit as stored; G's 2-pixel border is not seen.
_MNIST_PADDED_SHAPE = (32, 32, 1)


def _mnist_classifier(settings: ml_collections.ConfigDict, image_shape) -> FeatureNetwork:
  from gan_jax.metrics import mnist_classifier  # pylint: disable=g-import-not-at-top

  image_shape = tuple(image_shape)
  if image_shape not in (mnist_classifier.IMAGE_SHAPE, _MNIST_PADDED_SHAPE):
    raise errors.ConfigError(
      f'eval.feature_network=mnist_classifier scores 28x28x1 digits (or 32x32x1 ones padded '
      f'with data.crop_size=32), but the images have shape {image_shape}; use '
      '--config.eval.feature_network=inception.'
    )
  padded = image_shape == _MNIST_PADDED_SHAPE
  params = mnist_classifier.load_mnist_classifier()

  def embed(images):
    images = np.asarray(images)[:, 2:30, 2:30] if padded else images
    return mnist_classifier.classify(params, to_model_range(images), batch_size=settings.batch_size)

  return FeatureNetwork(
    'mnist_classifier',
    embed,
    'MNIST classifier (LeNet shipped in gan_jax/metrics/weights): 128-d penultimate features, '
    'softmax over 10 digits'
    + ('; 32x32 images scored by their centre 28x28 [2:30, 2:30]' if padded else ''),
  )


def _inception(settings: ml_collections.ConfigDict) -> FeatureNetwork:
  if settings.resize not in RESIZE_PROTOCOLS:
    raise errors.unknown_name_error('eval.resize', settings.resize, RESIZE_PROTOCOLS)
  from gan_jax.metrics import inception  # pylint: disable=g-import-not-at-top
  from gan_jax.metrics import inception_weights  # pylint: disable=g-import-not-at-top

  variables = inception_weights.load_inception_params(settings.inception_weights or None)

  def embed(images):
    outputs = inception.compute_inception_features(
      variables, to_uint8(images), batch_size=settings.batch_size, resize=settings.resize
    )
    return outputs.pool, np.asarray(jax.nn.softmax(outputs.logits_unbiased, axis=-1))

  return FeatureNetwork(
    'inception',
    embed,
    'FID Inception-v3 (TF 2015-12-05 graph, torch-fidelity weights): 2048-d pool3 features, '
    'softmax of the 1008 unbiased logits; ' + RESIZE_PROTOCOLS[settings.resize],
  )


def load(settings: ml_collections.ConfigDict, image_shape) -> FeatureNetwork:
  """The network `settings.feature_network` names, for images of `image_shape` (H, W, C).

  Args:
    settings: the config's `eval` section (feature_network, inception_weights,
      resize, batch_size).
    image_shape: (H, W, C) of the images it will embed.

  Raises:
    ConfigError: an unknown name, or the MNIST classifier for images that are
      not 28x28x1.
    WeightsError: the network's weights file is missing or corrupt.
  """
  name = resolve(settings.feature_network, image_shape)
  if name == 'mnist_classifier':
    return _mnist_classifier(settings, image_shape)
  return _inception(settings)
