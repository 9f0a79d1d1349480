"""model.dtype='bfloat16': bfloat16 computation around float32 state and losses.

The policy of Micikevicius et al. 2018 (Mixed Precision Training), described in
`gan_jax.models`: layers compute in bfloat16 from float32 parameters; gradients,
optimizer state, batch-norm statistics and losses stay float32. The step tests
train a tiny config in both dtypes from one initial state on the same batches,
and look inside the models for the layers' bfloat16 outputs, so that a dtype
ignored anywhere on the way fails them.
"""

import functools

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import dcgan_faces
from configs import gan_mnist
from gan_jax import assembly
from gan_jax import config_checks
from gan_jax import config_sections
from gan_jax import errors
from gan_jax import models
from gan_jax import step

# |bfloat16 - float32| allowed for the losses and mean D outputs of the first
# step, which all read the same initial parameters: bfloat16 keeps 8
# significant bits (relative rounding 2^-9), and these networks are shallow.
STEP_1_TOLERANCE = 2e-2
COMPARED_METRICS = ('d_loss', 'd_loss_real', 'd_loss_fake', 'g_loss', 'd_real', 'd_fake')
# Each program here runs once or twice on tiny shapes, so compiling it is
# nearly all its cost, and XLA:CPU compiles several times faster at its lowest
# backend optimization level (the DCGAN's initialization: 18 s at the default
# level, 1.7 s at 0, on two busy cores). The dtypes traced are the same.
_FAST_COMPILE = {'xla_backend_optimization_level': 0}


def _dcgan_config():
  """The batch-norm DCGAN of dcgan_faces:tiny, at its smallest image size (two stages)."""
  config = dcgan_faces.get_config('tiny')
  config.data.image_size = 28
  return config, (28, 28, 1)


def _mlp_config():
  config = gan_mnist.get_config('tiny')
  return config, (28, 28, 1)


def _with_dtype(config, dtype):
  config = config.copy_and_resolve_references()
  config.model.dtype = dtype
  return config


def _compiled(fun, *args):
  """`fun` compiled for `args` with `_FAST_COMPILE`."""
  return jax.jit(fun).lower(*args).compile(_FAST_COMPILE)


def _train(gan, state, batches):
  """The metrics of each step, and the state after the last, on one device."""
  mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), (step.BATCH_AXIS,))
  train_step = jax.shard_map(
    functools.partial(step.train_step, gan=gan),
    mesh=mesh,
    in_specs=(jax.P(), jax.P(None, step.BATCH_AXIS)),
    out_specs=(jax.P(), jax.P()),
  )
  train_step = _compiled(train_step, state, batches[0])
  history = []
  for batch in batches:
    state, metrics = train_step(state, batch)
    history.append(jax.device_get(metrics))
  return state, history


def _shapes_and_dtypes(tree):
  return jax.tree.structure(tree), [(leaf.shape, leaf.dtype) for leaf in jax.tree.leaves(tree)]


def _floating_dtypes(tree) -> set[str]:
  leaves = jax.tree.leaves(tree)
  return {str(leaf.dtype) for leaf in leaves if jnp.issubdtype(leaf.dtype, jnp.floating)}


def _layer_outputs(module, variables, *inputs) -> tuple[jax.Array, dict[str, jax.Array]]:
  """A training-mode pass: the module's output, and each submodule's by its path."""
  apply = functools.partial(
    module.apply,
    train=True,
    mutable=['intermediates', *(name for name in variables if name != 'params')],
    capture_intermediates=True,
  )
  output, state = _compiled(apply, variables, *inputs)(variables, *inputs)
  layers = flax.traverse_util.flatten_dict(state['intermediates'], sep='/')
  return output, {path.removesuffix('/__call__'): value[0] for path, value in layers.items()}


def _init(module, *inputs):
  """The variables of `module`, initialized for `inputs` in evaluation mode."""
  rngs = {'params': jax.random.key(0)}
  init = functools.partial(module.init, train=False)
  return _compiled(init, rngs, *inputs)(rngs, *inputs)


def _initial_state(config, gan, image_shape):
  """`assembly.initial_state`, compiled as one program (faster than op by op)."""
  create = functools.partial(step.create_state, gan=gan, example_shape=image_shape)
  rng = jax.random.PRNGKey(config.seed)
  return _compiled(create, rng)(rng)


def _check_mixed_precision(config, image_shape, generator_layers, discriminator_layers):
  float32_gan = assembly.build(_with_dtype(config, 'float32'), image_shape)
  bfloat16_gan = assembly.build(_with_dtype(config, 'bfloat16'), image_shape)
  # Both runs start from one state: the parameters do not depend on the dtype,
  # and a bfloat16 model initializes float32 variables of the same shapes.
  state = _initial_state(config, float32_gan, image_shape)
  create = functools.partial(step.create_state, gan=bfloat16_gan, example_shape=image_shape)
  shapes = jax.eval_shape(create, jax.random.PRNGKey(config.seed))
  assert _shapes_and_dtypes(shapes) == _shapes_and_dtypes(state)
  batch_size = config.train.batch_size
  rng = np.random.default_rng(0)
  batches = rng.uniform(-1, 1, (2, 1, batch_size, *image_shape)).astype(np.float32)

  _, float32_history = _train(float32_gan, state, batches)
  bfloat16_state, bfloat16_history = _train(bfloat16_gan, state, batches)

  for metrics in bfloat16_history:
    for name, value in metrics.items():
      assert value.dtype == np.float32, name
      assert np.isfinite(value), name
  differences = {
    name: abs(float(bfloat16_history[0][name]) - float(float32_history[0][name]))
    for name in COMPARED_METRICS
  }
  assert all(d <= STEP_1_TOLERANCE for d in differences.values()), differences
  # The parameters (the float32 master copy), Adam's moments and batch statistics.
  assert _floating_dtypes(bfloat16_state) == {'float32'}

  # Inside the models the layers compute in bfloat16; G's images come out in
  # float32. (The modules outside the step: no axis to average statistics over.)
  generator, discriminator = models.get_models(_with_dtype(config, 'bfloat16').model, image_shape)
  z = jnp.ones((batch_size, config.model.latent_dim))
  images, generator_outputs = _layer_outputs(generator, bfloat16_state.generator.variables(), z)
  _, discriminator_outputs = _layer_outputs(
    discriminator, bfloat16_state.discriminator.variables(), images
  )
  assert images.dtype == jnp.float32
  for path in generator_layers:
    assert generator_outputs[path].dtype == jnp.bfloat16, path
  for path in discriminator_layers:
    assert discriminator_outputs[path].dtype == jnp.bfloat16, path


def test_batch_norm_dcgan_computes_in_bfloat16_around_float32_state():
  config, image_shape = _dcgan_config()
  assert config.model.generator_normalization == 'batch'
  assert config.model.discriminator_normalization == 'batch'
  _check_mixed_precision(
    config,
    image_shape,
    generator_layers=['ConvTransposeFromVector_0', 'BatchNorm_0', 'SubPixelConvTranspose_0'],
    discriminator_layers=['Conv_0', 'Conv_1', 'BatchNorm_0', 'Conv_2'],
  )


def test_mlp_gan_computes_in_bfloat16_around_float32_state():
  config, image_shape = _mlp_config()
  assert config.model.generator_normalization == 'none'  # The plain MLPs of Aakash's slides.
  _check_mixed_precision(
    config,
    image_shape,
    generator_layers=['Dense_0', 'Dense_1'],
    discriminator_layers=['Dense_0', 'Dense_1'],
  )


@pytest.mark.parametrize(
  'make_config, overrides, generator_layers, discriminator_layers',
  [
    (
      _dcgan_config,
      {
        'generator_normalization': 'virtual_batch',
        'reference_batch_size': 4,
        'discriminator_normalization': 'layer',
        'conditioning': 'projection',
      },
      ['VirtualBatchNorm_0', 'SubPixelConvTranspose_0'],
      ['LayerNorm_0', 'DiscriminatorOutput_0/Embed_0'],
    ),
    (
      _mlp_config,
      {
        'generator_normalization': 'layer',
        'discriminator_normalization': 'spectral',
        'conditioning': 'auxiliary',
      },
      ['LayerNorm_0'],
      ['SpectralNorm_0', 'DiscriminatorOutput_0/classifier'],
    ),
  ],
  ids=['dcgan', 'mlp'],
)
def test_other_normalizations_and_heads_compute_in_bfloat16(
  make_config, overrides, generator_layers, discriminator_layers
):
  config, image_shape = make_config()
  config.model.update({**overrides, 'dtype': 'bfloat16'})
  generator, discriminator = models.get_models(config.model, image_shape, num_classes=10)
  z, labels = jnp.ones((4, config.model.latent_dim)), jnp.arange(4)
  images, generator_outputs = _layer_outputs(generator, _init(generator, z, labels), z, labels)
  discriminator_variables = _init(discriminator, images, labels)
  _, discriminator_outputs = _layer_outputs(discriminator, discriminator_variables, images, labels)
  assert images.dtype == jnp.float32
  # Spectral norm's u and sigma, like batch statistics, are float32.
  assert _floating_dtypes(discriminator_variables) == {'float32'}
  for path in generator_layers:
    assert generator_outputs[path].dtype == jnp.bfloat16, path
  for path in discriminator_layers:
    assert discriminator_outputs[path].dtype == jnp.bfloat16, path


def test_float32_is_the_default_and_fills_old_configs():
  for family in ('dcgan', 'mlp'):
    assert config_sections.model_config(family).dtype == 'float32'
  old_model = {k: v for k, v in dcgan_faces.get_config().model.items() if k != 'dtype'}
  config = config_sections.with_defaults({'model': old_model})
  assert config.model.dtype == 'float32'
  assert sorted(models.DTYPES) == sorted(config_sections.MODEL_DTYPES)


@pytest.mark.parametrize('make_config', [_dcgan_config, _mlp_config], ids=['dcgan', 'mlp'])
def test_unknown_dtype_is_refused_in_one_line(make_config):
  config, _ = make_config()
  config.model.dtype = 'float16x'
  with pytest.raises(errors.ConfigError) as refusal:
    config_checks.check(config)
  assert str(refusal.value) == (
    "model.dtype must be 'float32' or 'bfloat16', got 'float16x': set "
    "--config.model.dtype='float32' (the default) or 'bfloat16' (mixed precision)."
  )
