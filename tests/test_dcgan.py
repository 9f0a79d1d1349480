"""Tests of the DCGAN networks and of the fast transposed convolutions they use."""

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import distributed
from gan_jax.models import dcgan
from gan_jax.models import layers

LATENT_DIM = 100


def _assert_close(actual, desired, rtol=1e-4):
  """Elementwise rtol, with an absolute floor at rtol/10 of the largest |desired|."""
  desired = np.asarray(desired)
  atol = 0.1 * rtol * float(np.max(np.abs(desired)))
  np.testing.assert_allclose(np.asarray(actual), desired, rtol=rtol, atol=atol)


def _num_elements(tree) -> int:
  return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(tree))


def _output_and_gradients(module, params, x):
  """module(x), and the gradients of <module(x), random cotangent> w.r.t. params and x."""
  output = module.apply(params, x)
  cotangent = jax.random.normal(jax.random.key(99), output.shape)
  gradients = jax.grad(lambda p, x: jnp.vdot(module.apply(p, x), cotangent), argnums=(0, 1))(
    params, x
  )
  return output, gradients


def _assert_equals_flax(fast, reference, x):
  """Asserts that `fast` and flax's `reference` layer share parameters, outputs and gradients.

  Returns the output of `fast` on x.
  """
  params = fast.init(jax.random.key(1), x)
  # Same parameter name, shape and layout: each module's own init makes the other's params.
  assert jax.tree.map(jnp.shape, params) == jax.tree.map(
    jnp.shape, reference.init(jax.random.key(1), x)
  )
  output, (kernel_gradient, input_gradient) = _output_and_gradients(fast, params, x)
  expected, (expected_kernel_gradient, expected_input_gradient) = _output_and_gradients(
    reference, params, x
  )
  _assert_close(output, expected)
  _assert_close(kernel_gradient['params']['kernel'], expected_kernel_gradient['params']['kernel'])
  _assert_close(input_gradient, expected_input_gradient)
  return output


# Inputs of up to 16 positions take the matrix-product form of the output, larger
# ones the convolution form (`layers._MATMUL_MAX_POSITIONS`); these cover both.
@pytest.mark.parametrize(
  'batch, height, width, in_features, features',
  [(2, 4, 4, 8, 16), (3, 5, 7, 3, 2), (1, 8, 8, 16, 3), (2, 6, 3, 32, 1), (2, 2, 5, 4, 6)],
)
@pytest.mark.parametrize('padding', ['SAME', ((2, 2), (2, 2))])
def test_strided_conv_transpose_equals_flax(batch, height, width, in_features, features, padding):
  x = jax.random.normal(jax.random.key(0), (batch, height, width, in_features))
  output = _assert_equals_flax(
    layers.StridedConvTranspose(features),
    nn.ConvTranspose(features, (4, 4), strides=(2, 2), padding=padding, use_bias=False),
    x,
  )
  assert output.shape == (batch, 2 * height, 2 * width, features)


@pytest.mark.parametrize('size', [4, 7])
def test_conv_transpose_from_vector_equals_flax(size):
  z = jax.random.normal(jax.random.key(0), (3, 10))
  fast = layers.ConvTransposeFromVector(6, size=size)
  reference = nn.ConvTranspose(6, (size, size), padding='VALID', use_bias=False)
  params = fast.init(jax.random.key(1), z)
  output, (kernel_gradient, input_gradient) = _output_and_gradients(fast, params, z)
  expected, (expected_kernel_gradient, expected_input_gradient) = _output_and_gradients(
    reference, params, z[:, None, None, :]
  )
  assert output.shape == (3, size, size, 6)
  _assert_close(output, expected)
  _assert_close(kernel_gradient['params']['kernel'], expected_kernel_gradient['params']['kernel'])
  _assert_close(input_gradient, expected_input_gradient[:, 0, 0, :])


def _flax_strided_conv(features):
  return nn.Conv(features, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)), use_bias=False)


# Outputs of up to 16 positions take the matrix-product form of the input
# gradient, larger ones the convolution form; these cover both.
@pytest.mark.parametrize(
  'batch, height, width, in_features, features',
  [(2, 4, 4, 8, 16), (3, 6, 10, 3, 2), (1, 8, 8, 16, 3), (2, 2, 14, 32, 1), (2, 10, 12, 4, 3)],
)
def test_strided_conv_equals_flax(batch, height, width, in_features, features):
  x = jax.random.normal(jax.random.key(0), (batch, height, width, in_features))
  output = _assert_equals_flax(layers.StridedConv(features), _flax_strided_conv(features), x)
  assert output.shape == (batch, height // 2, width // 2, features)


@pytest.mark.parametrize('size', [6, 10])  # Either form of the input gradient.
def test_strided_conv_second_derivatives_equal_flax(size):
  """A gradient penalty through the layer (reverse over reverse) matches nn.Conv's."""
  x = jax.random.normal(jax.random.key(0), (2, size, size, 4))

  def penalty_and_gradient(module, params):
    def penalty(params):
      input_gradient = jax.grad(lambda x: jnp.sum(jnp.tanh(module.apply(params, x))))(x)
      return jnp.sum(jnp.square(input_gradient))

    return jax.value_and_grad(penalty)(params)

  params = layers.StridedConv(5).init(jax.random.key(1), x)
  value, gradient = penalty_and_gradient(layers.StridedConv(5), params)
  expected_value, expected_gradient = penalty_and_gradient(_flax_strided_conv(5), params)
  _assert_close(value, expected_value)
  _assert_close(gradient['params']['kernel'], expected_gradient['params']['kernel'])


def test_strided_conv_rejects_odd_maps():
  with pytest.raises(ValueError, match='even'):
    layers.StridedConv(2).init(jax.random.key(0), jnp.zeros((1, 5, 4, 3)))


def test_discriminator_keeps_flax_parameter_names():
  """Checkpoints written when D was made of nn.Conv layers still restore."""
  discriminator = dcgan.Discriminator(base_width=8)
  variables = discriminator.init(jax.random.key(0), jnp.zeros((1, 64, 64, 3)), train=False)
  assert {
    name: variables['params'][name]['kernel'].shape
    for name in variables['params']
    if name.startswith('Conv')
  } == {
    'Conv_0': (4, 4, 3, 8),
    'Conv_1': (4, 4, 8, 16),
    'Conv_2': (4, 4, 16, 32),
    'Conv_3': (4, 4, 32, 64),
    'Conv_4': (4, 4, 64, 1),
  }


class _FlaxGenerator64(nn.Module):
  """The 64x64 DCGAN generator as written with flax's own nn.ConvTranspose."""

  base_width: int

  @nn.compact
  def __call__(self, z, *, train):
    batch_norm = functools.partial(
      nn.BatchNorm, use_running_average=not train, momentum=0.9, epsilon=1e-5
    )
    upsample = functools.partial(
      nn.ConvTranspose, kernel_size=(4, 4), strides=(2, 2), padding=((2, 2), (2, 2)), use_bias=False
    )
    h = nn.ConvTranspose(8 * self.base_width, (4, 4), padding='VALID', use_bias=False)(
      z[:, None, None, :]
    )
    h = nn.relu(batch_norm()(h))
    for width in (4 * self.base_width, 2 * self.base_width, self.base_width):
      h = nn.relu(batch_norm()(upsample(width)(h)))
    h = upsample(3)(h)
    return jnp.tanh(h)


def _flax_layer_names(params):
  """Renames the fast layers' parameters to those of the flax layers they replace."""
  renamed = dict(params)
  renamed['ConvTranspose_0'] = renamed.pop('ConvTransposeFromVector_0')
  for stage in range(4):
    renamed[f'ConvTranspose_{stage + 1}'] = renamed.pop(f'SubPixelConvTranspose_{stage}')
  return renamed


def test_generator_equals_flax_conv_transpose_generator():
  z = jax.random.normal(jax.random.key(0), (2, LATENT_DIM))

  def loss(module, params, batch_stats):
    images, updates = module.apply(
      {'params': params, 'batch_stats': batch_stats}, z, train=True, mutable=['batch_stats']
    )
    return jnp.sum(jnp.sin(3.0 * images)), (images, updates['batch_stats'])

  generator = dcgan.Generator(base_width=16)
  variables = jax.jit(functools.partial(generator.init, train=False))(jax.random.key(1), z)
  gradients, outputs = jax.jit(jax.grad(functools.partial(loss, generator), has_aux=True))(
    variables['params'], variables['batch_stats']
  )
  expected_gradients, expected_outputs = jax.jit(
    jax.grad(functools.partial(loss, _FlaxGenerator64(base_width=16)), has_aux=True)
  )(_flax_layer_names(variables['params']), variables['batch_stats'])
  jax.tree.map(_assert_close, outputs, expected_outputs)
  jax.tree.map(_assert_close, _flax_layer_names(gradients), expected_gradients)


@pytest.mark.parametrize('image_size, channels', [(64, 3), (32, 3), (28, 1)])
def test_output_shapes(image_size, channels):
  generator = dcgan.Generator(image_size=image_size, channels=channels, base_width=4)
  discriminator = dcgan.Discriminator(image_size=image_size, channels=channels, base_width=4)

  @jax.jit
  def generate_and_discriminate(z):
    g_variables = generator.init(jax.random.key(1), z, train=False)
    images, _ = generator.apply(g_variables, z, train=True, mutable=['batch_stats'])
    d_variables = discriminator.init(jax.random.key(2), images, train=False)
    outputs, _ = discriminator.apply(d_variables, images, train=True, mutable=['batch_stats'])
    return images, outputs

  images, outputs = generate_and_discriminate(jax.random.normal(jax.random.key(0), (3, LATENT_DIM)))
  assert images.shape == (3, image_size, image_size, channels)
  assert float(jnp.max(jnp.abs(images))) <= 1.0
  assert outputs.logits.shape == (3,) and outputs.class_logits is None


def test_parameter_counts_at_64x64():
  # The PyTorch reference's counts; eval_shape builds the shapes without running anything.
  z = jnp.zeros((1, LATENT_DIM))
  images = jnp.zeros((1, 64, 64, 3))
  g_variables = jax.eval_shape(lambda: dcgan.Generator().init(jax.random.key(0), z, train=False))
  d_variables = jax.eval_shape(
    lambda: dcgan.Discriminator().init(jax.random.key(0), images, train=False)
  )
  assert _num_elements(g_variables['params']) == 3_576_704
  assert _num_elements(d_variables['params']) == 2_765_568


def test_unsupported_sizes_raise():
  with pytest.raises(ValueError, match=r'\[28, 32, 64\]'):
    dcgan.Generator(image_size=48).init(jax.random.key(0), jnp.zeros((1, 8)), train=False)
  with pytest.raises(ValueError, match='expects images'):
    dcgan.Discriminator(image_size=32).init(
      jax.random.key(0), jnp.zeros((1, 28, 28, 3)), train=False
    )


def test_initialization_follows_the_paper():
  z = jnp.zeros((1, LATENT_DIM))
  images = jnp.zeros((1, 32, 32, 3))
  params = {
    'generator': jax.jit(
      dcgan.Generator(image_size=32, base_width=16).init, static_argnames='train'
    )(jax.random.key(0), z, train=False)['params'],
    'discriminator': jax.jit(
      dcgan.Discriminator(image_size=32, base_width=16).init, static_argnames='train'
    )(jax.random.key(1), images, train=False)['params'],
  }
  leaves = jax.tree_util.tree_leaves_with_path(params)
  kernels = [leaf for path, leaf in leaves if path[-1].key == 'kernel']
  scales = jnp.concatenate([leaf for path, leaf in leaves if path[-1].key == 'scale'])
  biases = [leaf for path, leaf in leaves if path[-1].key == 'bias']
  assert len(kernels) == 8 and len(biases) == 5  # No layer but BatchNorm has a bias.
  for kernel in kernels:
    if kernel.size >= 10_000:  # Enough draws for a 5% test of the standard deviation.
      assert abs(float(jnp.std(kernel)) - 0.02) < 0.001
      assert abs(float(jnp.mean(kernel))) < 0.001
  assert abs(float(jnp.mean(scales)) - 1.0) < 0.005
  assert abs(float(jnp.std(scales)) - 0.02) < 0.004
  assert all(not jnp.any(bias) for bias in biases)


def test_batch_statistics_update_with_momentum_0_9():
  generator = dcgan.Generator(image_size=28, channels=1, base_width=4)
  z = jax.random.normal(jax.random.key(0), (5, LATENT_DIM))
  variables = generator.init(jax.random.key(1), z, train=False)
  _, updates = generator.apply(variables, z, train=True, mutable=['batch_stats'])
  first_map = layers.ConvTransposeFromVector(8, size=7).apply(
    {'params': variables['params']['ConvTransposeFromVector_0']}, z
  )
  stats = updates['batch_stats']['BatchNorm_0']
  # Running averages start at mean 0, variance 1 and move 10% towards the batch's
  # (biased) statistics, PyTorch's momentum=0.1.
  _assert_close(stats['mean'], 0.1 * jnp.mean(first_map, axis=(0, 1, 2)))
  _assert_close(stats['var'], 0.9 + 0.1 * jnp.var(first_map, axis=(0, 1, 2)))


def _images_or_logits(outputs):
  """G's images, or the logits of D's `DiscriminatorLogits`."""
  return getattr(outputs, 'logits', outputs)


@pytest.mark.parametrize('network', ['generator', 'discriminator'])
def test_evaluation_uses_running_averages(network):
  if network == 'generator':
    module = dcgan.Generator(image_size=32, base_width=4)
    inputs = jax.random.normal(jax.random.key(0), (4, LATENT_DIM))
  else:
    module = dcgan.Discriminator(image_size=32, base_width=4)
    inputs = jax.random.uniform(jax.random.key(0), (4, 32, 32, 3), minval=-1.0, maxval=1.0)
  variables = module.init(jax.random.key(1), inputs, train=False)
  # A training call makes the running averages differ from their initial values.
  _, updates = module.apply(variables, inputs, train=True, mutable=['batch_stats'])
  variables = {**variables, **updates}
  evaluated = _images_or_logits(module.apply(variables, inputs, train=False))
  trained, _ = module.apply(variables, inputs, train=True, mutable=['batch_stats'])
  assert not np.allclose(evaluated, _images_or_logits(trained), atol=1e-3)
  # In evaluation an example's output does not depend on the rest of its batch.
  for index in range(inputs.shape[0]):
    alone = _images_or_logits(module.apply(variables, inputs[index : index + 1], train=False))
    _assert_close(alone[0], evaluated[index])


@pytest.mark.parametrize('network', ['generator', 'discriminator'])
def test_data_parallel_batch_statistics_equal_global_batch_statistics(network):
  num_devices = 8
  assert jax.local_device_count() >= num_devices, 'tests/conftest.py provides 8 CPU devices'
  if network == 'generator':
    make = functools.partial(dcgan.Generator, image_size=28, channels=1, base_width=4)
    inputs = jax.random.normal(jax.random.key(0), (2 * num_devices, LATENT_DIM))
  else:
    make = functools.partial(dcgan.Discriminator, image_size=28, channels=1, base_width=4)
    inputs = jax.random.uniform(jax.random.key(0), (2 * num_devices, 28, 28, 1), minval=-1.0)
  variables = make().init(jax.random.key(1), inputs, train=False)
  expected_outputs, expected = make().apply(variables, inputs, train=True, mutable=['batch_stats'])

  data_parallel = make(batch_axis_name='batch')
  mesh = distributed.data_mesh(jax.local_devices()[:num_devices])
  outputs, updates = distributed.per_device(
    lambda variables, inputs: data_parallel.apply(
      variables, inputs, train=True, mutable=['batch_stats']
    ),
    mesh,
    (jax.P(), jax.P('batch')),
    (jax.P('batch'), jax.P()),
  )(variables, inputs)
  # Every device holds the statistics of the global batch.
  for shard in jax.tree.leaves(updates)[0].addressable_shards:
    _assert_close(np.asarray(shard.data), jax.tree.leaves(expected)[0])
  jax.tree.map(lambda a, b: _assert_close(np.asarray(a), b), updates, expected)
  # Normalized with the global statistics, each shard's outputs are the global call's.
  _assert_close(_images_or_logits(outputs), _images_or_logits(expected_outputs))
