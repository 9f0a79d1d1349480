"""Tests of StyleGAN2's G and D (Karras et al. 2020) against stylegan2-ada-pytorch and closed forms."""

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gan_jax import config_sections
from gan_jax import errors
from gan_jax import models
from gan_jax.models import stylegan2

# Parameters of stylegan2-ada-pytorch's Generator and Discriminator (NVlabs/stylegan2-ada-pytorch,
# training/networks.py at commit d72cc7d041b42ec8e806021a205ed9349f87c6a4), built with the
# arguments its train.py gives and counted as the sum of numel() over module.parameters()
# (buffers such as noise_const and w_avg excluded) in PyTorch 2.13 (CPU) by
# tools/count_stylegan2_reference_parameters.py:
#   cifar:     --cfg=cifar --cond=1, 32x32x3, 10 classes, mapping 2, D 'orig', mbstd 32;
#   stylegan2: --cfg=stylegan2 (config F) at 256x256x3, unconditional, mapping 8, D 'resnet'.
# Both: z and w 512, channel_base 32768, channel_max 512, conv_clamp 256.
REFERENCE_PARAMETERS = {
  'cifar': dict(generator=20_215_315, discriminator=23_089_664),
  'stylegan2': dict(generator=30_034_338, discriminator=28_864_129),
}
REFERENCE_SETTINGS = {
  'cifar': dict(
    image_size=32,
    num_classes=10,
    generator=dict(mapping_layers=2),
    discriminator=dict(architecture='orig', minibatch_std_group_size=32),
  ),
  'stylegan2': dict(
    image_size=256,
    num_classes=0,
    generator=dict(mapping_layers=8),
    discriminator=dict(architecture='resnet', minibatch_std_group_size=4),
  ),
}
TINY = dict(channel_base=64, channel_max=16)
LABELS = jnp.asarray([0, 1, 2, 3], jnp.int32)


def _key(seed: int) -> jax.Array:
  """XLA's RngBitGenerator key: on the tests' CPU it compiles the inits 4x faster than threefry."""
  return jax.random.key(seed, impl='rbg')


def _standard_normal_variables(module, *args):
  """Variables of `module` with every parameter N(0, 1) from numpy, without compiling its init."""
  shapes = jax.eval_shape(lambda: module.init(_key(0), *args, train=False))
  rng = np.random.RandomState(0)
  return jax.tree.map(lambda leaf: jnp.asarray(rng.randn(*leaf.shape), leaf.dtype), shapes)


def _num_elements(tree) -> int:
  return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(tree))


@pytest.mark.parametrize('name', sorted(REFERENCE_PARAMETERS))
def test_parameter_counts_equal_stylegan2_ada_pytorch(name):
  settings = REFERENCE_SETTINGS[name]
  side, classes = settings['image_size'], settings['num_classes']
  labels = dict(num_classes=classes, conditioning='projection' if classes else 'none')
  generator = stylegan2.Generator(side, 3, **labels, **settings['generator'])
  discriminator = stylegan2.Discriminator(side, 3, **labels, **settings['discriminator'])
  y = jnp.zeros((1,), jnp.int32)
  g_variables = jax.eval_shape(lambda: generator.init(_key(0), jnp.zeros((1, 512)), y, train=False))
  d_variables = jax.eval_shape(
    lambda: discriminator.init(_key(0), jnp.zeros((1, side, side, 3)), y, train=False)
  )
  assert _num_elements(g_variables['params']) == REFERENCE_PARAMETERS[name]['generator']
  assert _num_elements(d_variables['params']) == REFERENCE_PARAMETERS[name]['discriminator']
  # The reference's buffers, here non-param collections: w_avg and one noise map per layer.
  assert g_variables['w_average']['latent_average']['w_avg'].shape == (512,)
  assert len(jax.tree.leaves(g_variables['noise_const'])) == stylegan2.num_ws(side) - 1
  assert set(d_variables) == {'params'}


@pytest.fixture(scope='module')
def conditional_generator():
  """A tiny 16x16 conditional G, its variables at init, and jitted ways to call it."""
  generator = stylegan2.Generator(
    16, 3, w_dim=8, mapping_layers=2, num_classes=4, conditioning='projection', **TINY
  )
  z = jnp.asarray(np.random.RandomState(1).randn(4, 8), jnp.float32)
  init = jax.jit(lambda rng, z: generator.init(rng, z, LABELS, train=False))
  return generator, init(_key(0), z), z


def _train_styles(generator):
  """Jitted (variables, z, rng) -> (ws, {'w_average': ...}) of G.styles in training."""
  return jax.jit(
    lambda v, z, rng: generator.apply(
      v, z, LABELS, train=True, method='styles', mutable=['w_average'], rngs={'noise': rng}
    )
  )


def _mapping(generator, variables, z):
  """w [B, w_dim] of the mapping network alone."""
  return generator.apply(variables, z, LABELS, method=lambda module, z, y: module.mapping(z, y))


def test_generator_makes_float32_nhwc_images_in_train_and_eval(conditional_generator):
  generator, variables, z = conditional_generator
  assert set(variables) == {'params', 'w_average', 'noise_const'}
  evaluation = jax.jit(lambda v, z, y=LABELS: generator.apply(v, z, y, train=False))
  images = evaluation(variables, z)
  assert images.shape == (4, 16, 16, 3) and images.dtype == jnp.float32
  assert jnp.all(jnp.isfinite(images))
  np.testing.assert_array_equal(evaluation(variables, z), images)  # Constant noise.
  unmixed = generator.clone(style_mixing_probability=0.0)
  training = jax.jit(
    lambda v, z, rng: unmixed.apply(
      v, z, LABELS, train=True, mutable=['w_average'], rngs={'noise': rng}
    )
  )
  train_images, _ = training(variables, z, _key(2))
  # Noise strengths start at 0: without style mixing, training makes the same images.
  np.testing.assert_allclose(train_images, images, rtol=1e-4, atol=1e-5)
  fused = jax.jit(
    lambda v, z: generator.clone(fused_modulation=True).apply(v, z, LABELS, train=False)
  )(variables, z)
  np.testing.assert_allclose(fused, images, rtol=1e-4, atol=1e-5)
  # With noise strengths of 1, training draws fresh noise and evaluation reads the constant maps.
  noisy = jax.tree_util.tree_map_with_path(
    lambda path, leaf: jnp.ones_like(leaf) if path[-1].key == 'noise_strength' else leaf, variables
  )
  first, _ = training(noisy, z, _key(2))
  second, _ = training(noisy, z, _key(3))
  assert not np.allclose(first, second)
  assert not np.allclose(evaluation(noisy, z), images)
  # Different labels, different images.
  other = evaluation(variables, z, LABELS[::-1])
  assert not np.allclose(other, images)


def test_w_average_moves_in_training_and_not_in_evaluation(conditional_generator):
  generator, variables, z = conditional_generator
  assert not np.any(variables['w_average']['latent_average']['w_avg'])
  _, updated = _train_styles(generator)(variables, z, _key(0))
  w = _mapping(generator, variables, z)
  # From zeros: w_avg = mean(w) + beta (0 - mean(w)) = (1 - beta) mean(w).
  np.testing.assert_allclose(
    updated['w_average']['latent_average']['w_avg'],
    (1 - stylegan2.W_AVERAGE_BETA) * jnp.mean(w, axis=0),
    rtol=1e-5,
  )
  _, unchanged = generator.apply(
    variables, z, LABELS, train=False, method='styles', mutable=['w_average']
  )
  np.testing.assert_array_equal(
    unchanged['w_average']['latent_average']['w_avg'],
    variables['w_average']['latent_average']['w_avg'],
  )


def test_w_average_update_is_averaged_over_the_batch_axis(conditional_generator):
  """Two replicas with different z's end with the same w_avg: that of their joint batch."""
  generator, variables, z = conditional_generator
  replicated = generator.clone(batch_axis_name='batch')
  halves = z.reshape(2, 2, 8)

  def update(z_half, y_half):
    _, state = replicated.apply(
      variables,
      z_half,
      y_half,
      train=True,
      method='styles',
      mutable=['w_average'],
      rngs={'noise': _key(0)},
    )
    return state['w_average']['latent_average']['w_avg']

  per_replica = jax.vmap(update, axis_name='batch')(halves, LABELS.reshape(2, 2))
  w = _mapping(generator, variables, z)
  np.testing.assert_allclose(per_replica[0], per_replica[1])
  np.testing.assert_allclose(
    per_replica[0], (1 - stylegan2.W_AVERAGE_BETA) * jnp.mean(w, 0), rtol=1e-5
  )


def test_truncation_psi_zero_gives_the_image_of_w_average(conditional_generator):
  generator, variables, z = conditional_generator
  _, updated = _train_styles(generator)(variables, z, _key(0))
  variables = {**variables, **updated}
  w_avg = variables['w_average']['latent_average']['w_avg']
  assert np.all(np.abs(w_avg) > 0)
  # Every z's styles are w_avg, so every image is w_avg's.
  np.testing.assert_allclose(
    generator.clone(truncation_psi=0.0).apply(variables, z, LABELS, train=False, method='styles'),
    jnp.broadcast_to(w_avg, (4, stylegan2.num_ws(16), 8)),
  )
  truncated = jax.jit(
    lambda v, z: generator.clone(truncation_psi=0.0).apply(v, z, LABELS, train=False)
  )(variables, z)
  np.testing.assert_allclose(truncated, jnp.broadcast_to(truncated[:1], truncated.shape), atol=1e-6)
  # psi = 0.5 halves every w's distance to w_avg.
  styles = lambda psi: generator.clone(truncation_psi=psi).apply(
    variables, z, LABELS, train=False, method='styles'
  )
  np.testing.assert_allclose(styles(0.5) - w_avg, 0.5 * (styles(1.0) - w_avg), rtol=1e-5, atol=1e-6)


def test_style_mixing_takes_the_last_ws_from_a_second_z(conditional_generator):
  generator, variables, z = conditional_generator
  count = stylegan2.num_ws(16)
  w = _mapping(generator, variables, z)
  never = generator.clone(style_mixing_probability=0.0)
  ws, _ = _train_styles(never)(variables, z, _key(0))
  np.testing.assert_allclose(ws, jnp.broadcast_to(w[:, None], (4, count, 8)), rtol=1e-6)
  always = generator.clone(style_mixing_probability=1.0)
  cutoffs, train_styles = set(), _train_styles(always)
  for seed in range(6):
    ws, _ = train_styles(variables, z, _key(seed))
    mixed = ~np.all(np.isclose(ws, w[:, None]), axis=(0, 2))  # [num_ws]
    cutoff = int(np.argmax(mixed))
    assert 1 <= cutoff < count and np.all(mixed[cutoff:]) and not np.any(mixed[:cutoff])
    # One second w per sample, the same for every mixed layer.
    np.testing.assert_allclose(ws[:, cutoff:], jnp.broadcast_to(ws[:, -1:], ws[:, cutoff:].shape))
    cutoffs.add(cutoff)
  assert len(cutoffs) > 1  # The cutoff is drawn.


@pytest.mark.parametrize('architecture', stylegan2.DISCRIMINATOR_ARCHITECTURES)
def test_discriminator_gives_one_logit_per_image(architecture):
  discriminator = stylegan2.Discriminator(
    8, 1, architecture=architecture, num_classes=4, conditioning='projection', **TINY
  )
  images = jnp.asarray(np.random.RandomState(2).randn(4, 8, 8, 1), jnp.float32)
  variables = jax.jit(lambda rng, x: discriminator.init(rng, x, LABELS, train=False))(
    _key(3), images
  )
  assert ('skip' in variables['params']['b8']) == (architecture == 'resnet')
  apply = jax.jit(lambda images, labels: discriminator.apply(variables, images, labels, train=True))
  logits = apply(images, LABELS).logits
  assert logits.shape == (4,) and logits.dtype == jnp.float32 and jnp.all(jnp.isfinite(logits))
  assert not np.allclose(apply(images, LABELS[::-1]).logits, logits)  # The projection reads y.
  # Minibatch std (groups of 4): a sample's logit depends on the others of its group.
  changed = images.at[1].set(0.0)
  assert not np.isclose(apply(changed, LABELS).logits[0], logits[0])


def _model_config(**overrides):
  return config_sections.model_config('stylegan2', **dict(TINY, **overrides))


def test_get_models_builds_the_configured_stylegan2():
  config = _model_config(
    conv_clamp=0.0, minibatch_std_group_size=2, discriminator_architecture='orig', w_dim=16
  )
  generator, discriminator = models.get_models(config, (32, 32, 1), 'batch')
  assert isinstance(generator, stylegan2.Generator) and generator.conv_clamp is None
  assert generator.batch_axis_name == 'batch' and generator.w_dim == 16
  assert discriminator.architecture == 'orig' and discriminator.minibatch_std_group_size == 2
  images = jax.eval_shape(
    lambda: generator.init_with_output(_key(0), jnp.zeros((2, 512)), train=False)[0]
  )
  assert images.shape == (2, 32, 32, 1) and images.dtype == jnp.float32


@pytest.mark.parametrize(
  'overrides, image_shape, num_classes, match',
  [
    (dict(), (24, 24, 3), 0, 'square images of side 8, 16'),
    (dict(), (32, 16, 3), 0, 'square images'),
    (dict(conditioning='embedding'), (32, 32, 3), 10, "mapping network and D's projection"),
    (dict(conditioning='auxiliary'), (32, 32, 3), 10, 'projection'),
    (dict(discriminator_normalization='spectral'), (32, 32, 3), 0, 'discriminator_normalization'),
    (dict(discriminator_architecture='skip'), (32, 32, 3), 0, 'orig, resnet'),
    (dict(mapping_layers=0), (32, 32, 3), 0, 'at least one'),
    (dict(style_mixing_probability=1.5), (32, 32, 3), 0, 'probability'),
    (dict(minibatch_std_group_size=0), (32, 32, 3), 0, 'group size'),
    (dict(minibatch_std_channels=3), (32, 32, 3), 0, 'divisor of 16'),
    (dict(channel_base=16), (32, 32, 3), 0, 'at least 32'),
  ],
)
def test_get_models_refuses_what_stylegan2_cannot_make(overrides, image_shape, num_classes, match):
  with pytest.raises(errors.ConfigError, match=match):
    models.get_models(_model_config(**overrides), image_shape, num_classes=num_classes)


def test_bfloat16_models_keep_float32_images_and_logits():
  config = _model_config(dtype='bfloat16', minibatch_std_group_size=2)
  generator, discriminator = models.get_models(config, (8, 8, 3))
  z = jnp.ones((2, 512))
  variables = _standard_normal_variables(generator, z)
  assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(variables['params']))
  images = jax.jit(lambda v, z: generator.apply(v, z, train=False))(variables, z)
  assert images.dtype == jnp.float32 and jnp.all(jnp.isfinite(images))
  d_variables = _standard_normal_variables(discriminator, images)
  logits = jax.jit(lambda v, x: discriminator.apply(v, x, train=False))(d_variables, images)
  assert logits.logits.dtype == jnp.float32


def test_unconditional_config_has_no_label_inputs():
  config = ml_collections.ConfigDict(_model_config())
  generator, discriminator = models.get_models(config, (8, 8, 3))
  params = jax.eval_shape(lambda: generator.init(_key(0), jnp.zeros((1, 512)), None, train=False))[
    'params'
  ]
  assert 'embed' not in params['mapping']
  d_params = jax.eval_shape(
    lambda: discriminator.init(_key(0), jnp.zeros((1, 8, 8, 3)), None, train=False)
  )['params']
  assert 'mapping' not in d_params
