"""Tests of the BigGAN networks (Brock et al. 2019) against BigGAN-PyTorch and closed forms."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import distributed
from gan_jax import step as step_lib
from gan_jax.models import biggan

# Parameters of BigGAN-PyTorch's Generator and Discriminator (ajbrock/BigGAN-PyTorch,
# BigGAN.py and layers.py at commit 98459431a5d618d644d54cd1e9fceb1e5045648d),
# instantiated in PyTorch 2.13 (CPU) and counted as the sum of numel() over
# model.parameters() by tools/count_biggan_reference_parameters.py:
#   32x32: G_ch = D_ch = 64, dim_z 128, 10 classes, no attention, with
#          --G_shared --shared_dim 128 --hier (the paper's conditioning);
#   128x128: G_ch = D_ch = 96, dim_z 120, shared_dim 128, --hier, 1000 classes,
#          attention at 64 (its launch_BigGAN_bs256x8.sh). The paper's Table 1
#          gives 70.4M and 88.0M for this model.
REFERENCE_PARAMETERS = {
  32: dict(generator=4_373_251, discriminator=4_207_361),
  128: dict(generator=70_433_988, discriminator=87_982_370),
}
REFERENCE_SETTINGS = {
  32: dict(base_width=64, latent_dim=128, num_classes=10, attention_resolution=0),
  128: dict(base_width=96, latent_dim=120, num_classes=1000, attention_resolution=64),
}


def _num_elements(tree) -> int:
  return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(tree))


def _models(image_size=32, base_width=4, attention_resolution=16, **fields):
  fields = dict(
    dict(num_classes=10, conditioning='projection'),
    image_size=image_size,
    base_width=base_width,
    attention_resolution=attention_resolution,
    **fields,
  )
  generator_only = ('batch_axis_name', 'shared_embedding_dim')
  discriminator_fields = {k: v for k, v in fields.items() if k not in generator_only}
  return biggan.Generator(**fields), biggan.Discriminator(**discriminator_fields)


@pytest.mark.parametrize('image_size', sorted(REFERENCE_PARAMETERS))
def test_parameter_counts_equal_biggan_pytorch(image_size):
  settings = dict(REFERENCE_SETTINGS[image_size])
  latent_dim = settings.pop('latent_dim')
  generator, discriminator = _models(image_size, **settings)
  labels = jnp.zeros((1,), jnp.int32)
  g_params = jax.eval_shape(
    lambda: generator.init(jax.random.key(0), jnp.zeros((1, latent_dim)), labels, train=False)
  )['params']
  d_params = jax.eval_shape(
    lambda: discriminator.init(
      jax.random.key(0), jnp.zeros((1, image_size, image_size, 3)), labels, train=False
    )
  )['params']
  assert _num_elements(g_params) == REFERENCE_PARAMETERS[image_size]['generator']
  assert _num_elements(d_params) == REFERENCE_PARAMETERS[image_size]['discriminator']


def test_hierarchical_latent_and_shared_embedding_shapes():
  """z [128] in 4 chunks of 32 (32x32): the first to the linear layer, one per block's cBNs."""
  generator, _ = _models(base_width=4, shared_embedding_dim=128)
  params = jax.eval_shape(
    lambda: generator.init(
      jax.random.key(0), jnp.zeros((1, 128)), jnp.zeros((1,), jnp.int32), train=False
    )
  )['params']
  assert params['linear']['kernel'].shape == (32, 4 * 4 * 16)
  assert params['shared_embedding']['embedding'].shape == (10, 128)
  for block in ('GeneratorBlock_0', 'GeneratorBlock_1', 'GeneratorBlock_2'):
    for norm in ('ConditionalBatchNorm_0', 'ConditionalBatchNorm_1'):
      for term in ('gain', 'bias'):
        assert params[block][norm][term]['kernel'].shape == (128 + 32, 16)


def _batch_norm_reference(x):
  x = np.asarray(x, np.float64)
  mean = x.mean(axis=(0, 1, 2))
  variance = x.var(axis=(0, 1, 2))
  return (x - mean) / np.sqrt(variance + 1e-5)


@pytest.mark.parametrize('zero_terms', [True, False])
def test_conditional_batch_norm_formula(zero_terms):
  """BN(x) * (1 + c W_gain) + c W_bias; with W_gain = W_bias = 0 it is plain batch norm."""
  x = 3.0 + 2.0 * jax.random.normal(jax.random.key(0), (4, 3, 3, 5))
  condition = jax.random.normal(jax.random.key(1), (4, 7))
  layer = biggan.ConditionalBatchNorm(spectral_norm=False)
  variables = layer.init(jax.random.key(2), x, condition, train=False)
  params = variables['params']
  if zero_terms:
    params = jax.tree.map(jnp.zeros_like, params)
  output, _ = layer.apply(
    {**variables, 'params': params}, x, condition, train=True, mutable=['batch_stats']
  )
  gain = 1 + np.asarray(condition) @ np.asarray(params['gain']['kernel'])
  bias = np.asarray(condition) @ np.asarray(params['bias']['kernel'])
  expected = _batch_norm_reference(x) * gain[:, None, None, :] + bias[:, None, None, :]
  if zero_terms:
    expected = _batch_norm_reference(x)
  np.testing.assert_allclose(np.asarray(output), expected, rtol=1e-4, atol=1e-4)


def test_conditional_batch_norm_averages_statistics_over_the_mesh():
  num_devices = 8
  assert jax.local_device_count() >= num_devices, 'tests/conftest.py provides 8 CPU devices'
  x = jax.random.normal(jax.random.key(0), (2 * num_devices, 2, 2, 3))
  condition = jax.random.normal(jax.random.key(1), (2 * num_devices, 4))
  variables = biggan.ConditionalBatchNorm().init(jax.random.key(2), x, condition, train=False)
  expected, _ = biggan.ConditionalBatchNorm().apply(
    variables, x, condition, train=True, mutable=['batch_stats']
  )
  layer = biggan.ConditionalBatchNorm(batch_axis_name=step_lib.BATCH_AXIS)
  output = distributed.per_device(
    lambda v, x, c: layer.apply(v, x, c, train=True, mutable=['batch_stats'])[0],
    distributed.data_mesh(jax.local_devices()[:num_devices]),
    (jax.P(), jax.P(step_lib.BATCH_AXIS), jax.P(step_lib.BATCH_AXIS)),
    jax.P(step_lib.BATCH_AXIS),
  )(variables, x, condition)
  np.testing.assert_allclose(np.asarray(output), np.asarray(expected), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('dtype', [jnp.float32, jnp.bfloat16])
def test_shapes_and_dtypes(dtype):
  generator, discriminator = _models(dtype=dtype)
  z = jax.random.normal(jax.random.key(0), (3, 128))
  labels = jnp.array([0, 3, 9], jnp.int32)

  def generate_and_discriminate(z, labels):
    g_variables = generator.init(jax.random.key(1), z, labels, train=False)
    images, _ = generator.apply(g_variables, z, labels, train=True, mutable=['batch_stats'])
    d_variables = discriminator.init(jax.random.key(2), images, labels, train=False)
    outputs, _ = discriminator.apply(
      d_variables, images, labels, train=True, mutable=['batch_stats']
    )
    return images, outputs, g_variables['params']

  images, outputs, g_params = generate_and_discriminate(z, labels)
  assert images.shape == (3, 32, 32, 3) and images.dtype == jnp.float32
  assert float(jnp.max(jnp.abs(images))) <= 1.0
  assert outputs.logits.shape == (3,) and outputs.logits.dtype == dtype
  assert outputs.class_logits is None
  assert np.all(np.isfinite(np.asarray(outputs.logits, np.float32)))
  assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(g_params))


def test_attention_follows_the_blocks_at_its_resolution():
  """At 32x32 with attention at 8: after G's first block, after D's three 8x8 blocks."""
  generator, discriminator = _models(attention_resolution=8)
  labels = jnp.zeros((1,), jnp.int32)
  g_params = jax.eval_shape(
    lambda: generator.init(jax.random.key(0), jnp.zeros((1, 128)), labels, train=False)
  )['params']
  d_params = jax.eval_shape(
    lambda: discriminator.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), labels, train=False)
  )['params']
  assert [name for name in g_params if name.startswith('SelfAttention')] == ['SelfAttention_0']
  assert sorted(name for name in d_params if name.startswith('SelfAttention')) == [
    'SelfAttention_0',
    'SelfAttention_1',
    'SelfAttention_2',
  ]


def test_bad_layouts_raise():
  generator, discriminator = _models(attention_resolution=64)
  with pytest.raises(ValueError, match='attend at resolution'):
    generator.init(jax.random.key(0), jnp.zeros((1, 128)), jnp.zeros((1,), jnp.int32), train=False)
  generator, _ = _models(attention_resolution=0)
  with pytest.raises(ValueError, match='does not divide by 4'):
    generator.init(jax.random.key(0), jnp.zeros((1, 130)), jnp.zeros((1,), jnp.int32), train=False)
  with pytest.raises(ValueError, match='images of side'):
    _models(image_size=64)[0].init(
      jax.random.key(0), jnp.zeros((1, 128)), jnp.zeros((1,), jnp.int32), train=False
    )
