"""Class conditioning: cGAN inputs, the projection discriminator, AC-GAN, class-row grids."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import step_helpers
from PIL import Image

from configs import cgan_mnist
from gan_jax import assembly
from gan_jax import errors
from gan_jax import losses
from gan_jax import sampling
from gan_jax import train
from gan_jax.models import conditioning
from gan_jax.models import mlp

MNIST_SHAPE = (28, 28, 1)


def test_generator_input_appends_the_one_hot_label():
  z = jnp.arange(6.0).reshape(2, 3)
  inputs = conditioning.generator_input(z, jnp.array([2, 0]), 4, 'embedding')
  np.testing.assert_array_equal(inputs, [[0, 1, 2, 0, 0, 1, 0], [3, 4, 5, 1, 0, 0, 0]])
  assert conditioning.generator_input(z, None, 4, 'none') is z


def test_discriminator_input_adds_one_constant_channel_per_class():
  x = jnp.zeros((2, 3, 3, 1))
  inputs = conditioning.discriminator_input(x, jnp.array([1, 2]), 3, 'embedding')
  assert inputs.shape == (2, 3, 3, 4)
  np.testing.assert_array_equal(inputs[0, :, :, 1:], np.broadcast_to([0, 1, 0], (3, 3, 3)))
  np.testing.assert_array_equal(inputs[1, :, :, 1:], np.broadcast_to([0, 0, 1], (3, 3, 3)))
  # Projection and auxiliary discriminators read the image alone.
  assert conditioning.discriminator_input(x, jnp.array([1, 2]), 3, 'projection') is x


def test_projection_discriminator_adds_the_inner_product_with_the_class_embedding():
  head = conditioning.DiscriminatorOutput(num_classes=3, conditioning='projection')
  features = jax.random.normal(jax.random.PRNGKey(0), (4, 5))
  logits = jnp.arange(4.0)
  labels = jnp.array([0, 2, 1, 2])
  variables = head.init(jax.random.PRNGKey(1), features, logits, labels)
  embedding = np.asarray(variables['params']['Embed_0']['embedding'])  # [classes, features]
  expected = np.asarray(logits) + np.sum(embedding[labels] * np.asarray(features), axis=-1)
  outputs = head.apply(variables, features, logits, labels)
  np.testing.assert_allclose(outputs.logits, expected, rtol=1e-6)
  assert outputs.class_logits is None


def test_auxiliary_discriminator_returns_class_logits():
  module = mlp.Discriminator(hidden_sizes=(8,), num_classes=10, conditioning='auxiliary')
  x = jnp.zeros((3, *MNIST_SHAPE))
  variables = module.init(jax.random.PRNGKey(0), x, None, train=False)
  outputs = module.apply(variables, x, None, train=False)
  assert isinstance(outputs, conditioning.DiscriminatorLogits)
  assert outputs.logits.shape == (3,) and outputs.class_logits.shape == (3, 10)


def test_auxiliary_classifier_loss_is_the_cross_entropy():
  class_logits = jnp.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
  labels = jnp.array([0, 2])
  log_softmax_0 = 2.0 - np.log(np.exp(2.0) + 1.0 + np.exp(-1.0))
  expected = (-log_softmax_0 + np.log(3.0)) / 2
  np.testing.assert_allclose(losses.auxiliary_classifier_loss(class_logits, labels), expected)


@pytest.mark.parametrize('name', ['embedding', 'projection', 'auxiliary'])
def test_conditional_generator_draws_different_images_per_class(name):
  config = cgan_mnist.get_config('tiny')
  config.model.conditioning = name
  gan = assembly.build(config, MNIST_SHAPE, num_classes=10)
  state = assembly.initial_state(config, gan, MNIST_SHAPE)
  z = jnp.ones((2, config.model.latent_dim))
  images = sampling.generate(gan.generator, state.generator, z, jnp.array([3, 7]))
  assert np.abs(np.asarray(images[0] - images[1])).max() > 1e-3  # Same z, another class.


def test_conditioning_needs_labels_and_a_known_name():
  config = cgan_mnist.get_config('tiny')
  with pytest.raises(errors.ConfigError, match='needs class labels, but the data has none'):
    assembly.build(config, MNIST_SHAPE, num_classes=0)
  config.model.conditioning = 'film'
  with pytest.raises(
    errors.ConfigError, match="Unknown conditioning 'film'.*auxiliary, embedding, none, projection"
  ):
    assembly.build(config, MNIST_SHAPE, num_classes=10)


def test_acgan_step_trains_both_players_on_the_class_loss():
  config = cgan_mnist.get_config('tiny')
  config.model.conditioning = 'auxiliary'
  config.optimizer.discriminator.learning_rate = 1e-2
  state, step = step_helpers.data_parallel_step(config, MNIST_SHAPE, num_classes=10)
  replicated = step.replicate(state)
  images = step_helpers.random_batch(config.train.batch_size, MNIST_SHAPE)
  labels = step_helpers.random_labels(config.train.batch_size, 10)
  history = []
  for _ in range(15):  # The same batch again and again: D learns its labels.
    replicated, metrics = step(replicated, images, labels)
    history.append({name: float(value) for name, value in metrics.items()})
  first, last = history[0], history[-1]
  # At initialization the class logits are near 0: each cross-entropy is about log 10.
  np.testing.assert_allclose(first['d_classifier_loss'], 2 * np.log(10), rtol=0.05)
  assert last['d_classifier_loss'] < 0.7 * first['d_classifier_loss']
  assert np.isfinite(last['g_classifier_loss'])


def test_sample_grid_inputs_have_one_row_per_class_and_one_z_per_column():
  z, labels, columns = sampling.sample_grid_inputs(0, 25, 4, num_classes=10)
  assert columns == 2 and z.shape == (20, 4)
  np.testing.assert_array_equal(labels, np.repeat(np.arange(10), 2))
  np.testing.assert_array_equal(z[0], z[2])  # Column 0 of rows 0 and 1.
  assert not np.array_equal(z[0], z[1])
  z, labels, columns = sampling.sample_grid_inputs(0, 25, 4)
  assert z.shape == (25, 4) and labels is None and columns == 0


def test_cgan_trains_on_labeled_digits_and_writes_class_rows(tmp_path):
  config = cgan_mnist.get_config('tiny')
  train.train_and_evaluate(config, str(tmp_path))
  grid = np.asarray(Image.open(tmp_path / 'samples' / 'step_0000006.png'))
  # 20 images, 10 classes: 10 rows x 2 columns of 28x28 with 2-pixel padding.
  assert grid.shape[:2] == (10 * 30 + 2, 2 * 30 + 2)
  with open(tmp_path / 'data.json') as f:
    assert json.load(f)['num_classes'] == 10
  records = [json.loads(line) for line in open(tmp_path / 'metrics.jsonl')]
  assert all(np.isfinite(record['g_loss']) for record in records)
  assert os.path.isdir(tmp_path / 'checkpoints')
  generate, state = train.restore_for_sampling(config, str(tmp_path))
  images = generate(
    state.sampling_generator(), jnp.zeros((2, config.model.latent_dim)), jnp.array([1, 2])
  )
  assert images.shape == (2, *MNIST_SHAPE)
