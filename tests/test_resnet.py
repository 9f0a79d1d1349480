"""Tests of the ResNet family: SNGAN's networks (Miyato et al. 2018), its cGAN and SAGAN options."""

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import distributed
from gan_jax import errors
from gan_jax.models import conditioning
from gan_jax.models import resnet

LATENT_DIM = 128  # As in Miyato et al. 2018.
NUM_CLASSES = 10

# torch_mimicry (github.com/kwotsin/mimicry, commit a7fda06c4aff1e6af8dc4c4a35ed6636e434c766),
# torch_mimicry/nets/{sngan/sngan_32,48,64, cgan_pd/cgan_pd_32, sagan/sagan_32}.py: the counts
# printed by tools/count_reference_parameters.py, which instantiates those modules in PyTorch
# 2.13 and sums numel() of their parameters (spectral norm's u, v are buffers there). The
# conditional networks have 10 classes. (Miyato & Koyama's Chainer code, sngan_projection
# commit e84b1a5, has the same networks but for a D output layer without bias at 32x32, one
# parameter less, counted by formula from dis_models/snresnet_32.py.)
# (image size, conditioning, attention resolution, spectral norm in G) -> (G, D) parameters.
MIMICRY_COUNTS = {
  (32, 'none', 0, False): (4_276_739, 1_053_825),  # SNGANGenerator32, SNGANDiscriminator32
  (48, 'none', 0, False): (4_878_083, 10_141_441),  # SNGANGenerator48, SNGANDiscriminator48
  (64, 'none', 0, False): (12_220_675, 10_141_441),  # SNGANGenerator64, SNGANDiscriminator64
  (32, 'projection', 0, False): (4_304_387, 1_055_105),  # CGANPDGenerator32, ...Discriminator32
  # SAGANGenerator32, SAGANDiscriminator32: attention after G's 16x16 block and D's second
  # block (8x8) there; in D every map has 128 channels, so the count is that of ours at 16.
  (32, 'projection', 16, True): (4_386_308, 1_075_586),
}


def _num_elements(tree) -> int:
  return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(tree))


def _networks(image_size, conditioning_name='none', width=16, **fields):
  """A tiny (G, D) pair of the family."""
  labels = dict(num_classes=NUM_CLASSES if conditioning_name != 'none' else 0)
  labels['conditioning'] = conditioning_name
  generator_fields = {k: v for k, v in fields.items() if k != 'normalization'}
  discriminator_fields = {
    k: v for k, v in fields.items() if k not in ('spectral_norm', 'batch_axis_name')
  }
  generator = resnet.Generator(image_size=image_size, width=width, **labels, **generator_fields)
  discriminator = resnet.Discriminator(
    image_size=image_size, width=width, **labels, **discriminator_fields
  )
  return generator, discriminator


def _labels(batch_size):
  return jnp.arange(batch_size, dtype=jnp.int32) % NUM_CLASSES


def _variables(module, *inputs, seed=0):
  """Variables of `module` with the shapes of its init, drawn by NumPy.

  flax's init compiles a random program per parameter, which XLA:CPU takes
  seconds each to compile; these tests need values, not the init's. Kernels
  and embeddings N(0, 1/fan_in), biases N(0, 0.01), batch-norm gains 1 + N(0,
  0.01) (so classes differ), attention's gamma 0.5 (so it takes part),
  power-iteration vectors N(0, 1), sigma 1, running means 0 and variances 1.
  """
  shapes = jax.eval_shape(lambda: module.init(jax.random.key(0), *inputs, train=False))
  rng = np.random.default_rng(seed)

  def draw(path, leaf):
    name = str(path[-1].key).split('/')[-1]
    if name in ('kernel', 'embedding'):
      value = rng.normal(0, 1 / math.sqrt(math.prod(leaf.shape[:-1])), leaf.shape)
    elif name in ('bias', 'gain'):
      value = (name == 'gain') + rng.normal(0, 0.1, leaf.shape)
    elif name in ('u',):
      value = rng.normal(0, 1, leaf.shape)
    else:
      value = np.full(leaf.shape, {'gamma': 0.5, 'sigma': 1.0, 'var': 1.0, 'mean': 0.0}[name])
    return jnp.asarray(value, leaf.dtype)

  return jax.tree_util.tree_map_with_path(draw, shapes)


@pytest.mark.parametrize('layout', sorted(MIMICRY_COUNTS))
def test_parameter_counts_equal_mimicry(layout):
  image_size, conditioning_name, attention_resolution, generator_spectral_norm = layout
  generator, discriminator = _networks(
    image_size,
    conditioning_name,
    width=0,  # The paper's widths.
    attention_resolution=attention_resolution,
    spectral_norm=generator_spectral_norm,
  )
  z, labels = jnp.zeros((1, LATENT_DIM)), jnp.zeros((1,), jnp.int32)
  images = jnp.zeros((1, image_size, image_size, 3))
  # eval_shape builds the shapes without running anything.
  g_params = jax.eval_shape(lambda: generator.init(jax.random.key(0), z, labels, train=False))
  d_params = jax.eval_shape(
    lambda: discriminator.init(jax.random.key(0), images, labels, train=False)
  )
  assert (_num_elements(g_params['params']), _num_elements(d_params['params'])) == (
    MIMICRY_COUNTS[layout]
  )


@pytest.mark.parametrize(
  'image_size, channels, conditioning_name, attention_resolution',
  [(32, 1, 'embedding', 0), (32, 3, 'projection', 8), (48, 3, 'none', 12), (64, 3, 'auxiliary', 0)],
)
def test_output_shapes(image_size, channels, conditioning_name, attention_resolution):
  width = 16 if image_size == 32 else 64  # 48 and 64 divide the width by up to 16.
  generator, discriminator = _networks(
    image_size,
    conditioning_name,
    width=width,
    channels=channels,
    attention_resolution=attention_resolution,
  )
  z, labels = jax.random.normal(jax.random.key(0), (2, LATENT_DIM)), _labels(2)

  g_variables = _variables(generator, z, labels)
  d_variables = _variables(discriminator, jnp.zeros((2, image_size, image_size, channels)), labels)

  @jax.jit
  def generate_and_discriminate(g_variables, d_variables, z, labels):
    images, _ = generator.apply(g_variables, z, labels, train=True, mutable=['batch_stats'])
    outputs, _ = discriminator.apply(
      d_variables, images, labels, train=True, mutable=['batch_stats']
    )
    return images, outputs

  images, outputs = generate_and_discriminate(g_variables, d_variables, z, labels)
  assert images.shape == (2, image_size, image_size, channels)
  assert images.dtype == jnp.float32 and float(jnp.max(jnp.abs(images))) <= 1.0
  assert outputs.logits.shape == (2,)
  if conditioning_name == 'auxiliary':
    assert outputs.class_logits.shape == (2, NUM_CLASSES)
  else:
    assert outputs.class_logits is None


def _converged_discriminator(discriminator, images, labels, iterations=200):
  """D's variables after `iterations` training-mode calls: power iteration converged."""
  variables = _variables(discriminator, images, labels)

  @jax.jit
  def power_iterations(variables):
    def one(_, batch_stats):
      _, updates = discriminator.apply(
        {**variables, 'batch_stats': batch_stats}, images, labels, train=True, mutable=True
      )
      return updates['batch_stats']

    return jax.lax.fori_loop(0, iterations, one, variables['batch_stats'])

  return {**variables, 'batch_stats': power_iterations(variables)}


def _spectral_norm_estimates(batch_stats):
  """{parameter path: sigma} from the 'SpectralNorm_k/<layer>/<param>/sigma' entries."""
  estimates = {}
  for path, value in jax.tree_util.tree_leaves_with_path(batch_stats):
    keys = [key.key for key in path]
    if keys[-1].endswith('/sigma'):
      modules = [key for key in keys[:-1] if not key.startswith('SpectralNorm_')]
      estimates[tuple(modules + keys[-1].split('/')[:-1])] = float(value)
  return estimates


def test_every_discriminator_layer_is_spectrally_normalized():
  # Projection (its class embedding) and attention (its four kernels) included.
  _, discriminator = _networks(32, 'projection', attention_resolution=16)
  images = jax.random.uniform(jax.random.key(0), (2, 32, 32, 3), minval=-1.0)
  variables = _converged_discriminator(discriminator, images, _labels(2))
  matrices = {
    tuple(key.key for key in path): np.asarray(value)
    for path, value in jax.tree_util.tree_leaves_with_path(variables['params'])
    if value.ndim >= 2
  }
  estimates = _spectral_norm_estimates(variables['batch_stats'])
  assert set(estimates) == set(matrices)
  assert ('conditioning', 'Embed_0', 'embedding') in estimates
  assert ('attention', 'theta', 'kernel') in estimates
  for path, weight in matrices.items():
    # flax's power iteration on a kernel [..., out] reshaped to [-1, out], as PyTorch's.
    largest = np.linalg.norm(weight.reshape(-1, weight.shape[-1]), ord=2)
    np.testing.assert_allclose(largest / estimates[path], 1.0, rtol=1e-3, err_msg=str(path))


def test_projection_adds_the_inner_product_of_the_class_embedding_and_phi():
  """D(x, y) = psi(phi(x)) + embed(y)^T phi(x) (Miyato & Koyama 2018, Eq. 3), phi sum-pooled."""
  _, discriminator = _networks(32, 'projection')
  images = jax.random.uniform(jax.random.key(0), (3, 32, 32, 3), minval=-1.0)
  labels = jnp.array([0, 7, 3], jnp.int32)
  variables = _converged_discriminator(discriminator, images, labels)
  head_inputs = []

  def record_head_inputs(next_fun, args, kwargs, context):
    if isinstance(context.module, conditioning.DiscriminatorOutput) and (
      context.method_name == '__call__'
    ):
      head_inputs.append(args)
    return next_fun(*args, **kwargs)

  with nn.intercept_methods(record_head_inputs):
    outputs, intermediates = discriminator.apply(
      variables, images, labels, train=False, capture_intermediates=True
    )
  features, unconditional_logits, _ = head_inputs[0]
  last_map = intermediates['intermediates']['block_3']['__call__'][0]
  np.testing.assert_allclose(
    features, jnp.sum(nn.relu(last_map), axis=(1, 2)), rtol=1e-5, atol=1e-4
  )
  embedding = np.asarray(variables['params']['conditioning']['Embed_0']['embedding'])
  normalized_embedding = embedding / np.linalg.norm(embedding, ord=2)
  projection = np.sum(normalized_embedding[np.asarray(labels)] * np.asarray(features), axis=-1)
  np.testing.assert_allclose(
    outputs.logits, unconditional_logits + projection, rtol=1e-4, atol=1e-5
  )
  assert float(np.max(np.abs(projection))) > 1e-2  # The term is there to be checked.


def test_conditional_batch_norm_starts_as_batch_norm():
  """Every class's gain starts at 1 and bias at 0 (the authors' code): plain batch norm."""
  norm = resnet.ClassConditionalBatchNorm(NUM_CLASSES, train=True)
  h = jax.random.normal(jax.random.key(0), (4, 3, 3, 5)) * 3.0 + 1.0
  labels = jnp.array([1, 4, 4, 9], jnp.int32)
  variables = norm.init(jax.random.key(1), h, labels)
  assert variables['params']['gain'].shape == (NUM_CLASSES, 5)
  output, _ = norm.apply(variables, h, labels, mutable=['batch_stats'])
  h = np.asarray(h)
  mean, variance = h.mean(axis=(0, 1, 2)), h.var(axis=(0, 1, 2))
  expected = (h - mean) / np.sqrt(variance + 2e-5)
  np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-5)
  # A gain and a bias per class once they move: example i reads row y_i.
  params = {
    'gain': jnp.arange(1.0, NUM_CLASSES + 1)[:, None] * jnp.ones(5),
    'bias': jnp.ones((10, 5)),
  }
  output, _ = norm.apply({**variables, 'params': params}, h, labels, mutable=['batch_stats'])
  gains = np.array([2.0, 5.0, 5.0, 10.0])[:, None, None, None]
  np.testing.assert_allclose(output, gains * expected + 1.0, rtol=1e-4, atol=1e-4)


def test_data_parallel_conditional_batch_norm_equals_global_batch_norm():
  """Over the mesh axis, each device normalizes with the global batch's statistics."""
  num_devices = 8
  assert jax.local_device_count() >= num_devices, 'tests/conftest.py provides 8 CPU devices'
  make = functools.partial(resnet.ClassConditionalBatchNorm, NUM_CLASSES, True)
  h = jax.random.normal(jax.random.key(0), (2 * num_devices, 3, 3, 4)) * 2.0 + 1.0
  labels = _labels(2 * num_devices)
  variables = make().init(jax.random.key(1), h, labels)
  # Gains and biases that differ by class.
  rows = variables['params']['gain'].shape
  variables['params'] = {
    'gain': 1.0 + 0.1 * jax.random.normal(jax.random.key(2), rows),
    'bias': 0.1 * jax.random.normal(jax.random.key(3), rows),
  }
  expected_outputs, expected = make().apply(variables, h, labels, mutable=['batch_stats'])
  mesh = distributed.data_mesh(jax.local_devices()[:num_devices])
  outputs, updates = distributed.per_device(
    lambda variables, h, labels: make(batch_axis_name='batch').apply(
      variables, h, labels, mutable=['batch_stats']
    ),
    mesh,
    (jax.P(), jax.P('batch'), jax.P('batch')),
    (jax.P('batch'), jax.P()),
  )(variables, h, labels)
  jax.tree.map(
    lambda a, b: np.testing.assert_allclose(np.asarray(a), b, rtol=1e-5, atol=1e-6),
    updates,
    expected,
  )
  np.testing.assert_allclose(np.asarray(outputs), expected_outputs, rtol=1e-5, atol=1e-5)


def test_bfloat16_runs_around_float32_parameters():
  generator, discriminator = _networks(32, 'projection', attention_resolution=16)
  low_generator, low_discriminator = _networks(
    32, 'projection', attention_resolution=16, dtype=jnp.bfloat16
  )
  z, labels = jax.random.normal(jax.random.key(0), (2, LATENT_DIM)), _labels(2)

  g_variables = _variables(generator, z, labels)
  d_variables = _variables(discriminator, jnp.zeros((2, 32, 32, 3)), labels)
  low_shapes = jax.eval_shape(
    lambda: low_generator.init(jax.random.key(1), z, labels, train=False)['params']
  )
  assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(low_shapes))

  @jax.jit
  def run(g_variables, d_variables):
    images, _ = generator.apply(g_variables, z, labels, train=True, mutable=['batch_stats'])
    low_images, _ = low_generator.apply(g_variables, z, labels, train=True, mutable=['batch_stats'])
    logits = discriminator.apply(d_variables, images, labels, train=False).logits
    low_logits = low_discriminator.apply(d_variables, images, labels, train=False).logits
    return images, low_images, logits, low_logits

  images, low_images, logits, low_logits = run(g_variables, d_variables)
  assert low_images.dtype == jnp.float32 and low_logits.dtype == jnp.bfloat16
  # bfloat16 keeps 8 bits of mantissa: a few percent of the output's scale.
  np.testing.assert_allclose(low_images, images, atol=0.1)
  scale = float(np.max(np.abs(logits)))
  np.testing.assert_allclose(np.asarray(low_logits, np.float32), logits, atol=0.1 * scale)


def test_bad_layouts_are_refused_with_the_fix():
  with pytest.raises(errors.ConfigError, match='32, 48, 64'):
    resnet.check(28, 0, 0, 0)
  with pytest.raises(errors.ConfigError, match='use 0 .* one of 8, 16'):
    resnet.check(32, 0, 0, 32)
  with pytest.raises(errors.ConfigError, match='generator_width=100 .* multiple of 8'):
    resnet.check(48, 100, 0, 0)
  with pytest.raises(errors.ConfigError, match='divisible by 8'):
    resnet.check(64, 32, 0, 32)  # G's 32x32 map would have 32 / 8 = 4 channels.
  with pytest.raises(errors.ConfigError, match="'spectral', 'none'|spectral, none"):
    _networks(32, normalization='batch')[1].init(
      jax.random.key(0), jnp.zeros((1, 32, 32, 3)), train=False
    )
