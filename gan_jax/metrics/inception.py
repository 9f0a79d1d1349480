"""The FID Inception-v3 in Flax: features for FID, KID, IS and precision/recall.

This is the network of TensorFlow's 2015-12-05 Inception graph
(`classify_image_graph_def.pb`) that the FID paper's code (TTUR, Heusel et
al. 2017), pytorch-fid and torch-fidelity use, ported layer for layer from
torch-fidelity's `FeatureExtractorInceptionV3`. It is an Inception-v3
(Szegedy et al. 2016) that differs from torchvision's in ways that change
every FID value, and all of which are kept here:

  * images are resized to 299x299 with TF1's bilinear resize (no half-pixel
    centres; `resize_like_tensorflow1`), then mapped to [-1, 1] by
    (x - 128) / 128, from uint8 values;
  * the average pools of Mixed_5b-5d, 6b-6e and 7b do not count the zero
    padding (TF's avg_pool);
  * the pool branch of Mixed_7c is a 3x3 max pool, not an average pool;
  * batch norm uses eps = 1e-3, and the classifier has the 2015 graph's 1008
    outputs (torchvision's has 1000).

The outputs are the 2048-d pool3 features that FID and KID compare and the
1008 logits. The Inception Score of Salimans et al.'s code takes the softmax
of the logits *without* the classifier's bias (it reads the MatMul op of the
graph), which torch-fidelity calls 'logits_unbiased'; both are returned.

Weights: `load_inception_params` reads the standard file
`pt_inception-2015-12-05-6726825d.pth` (no PyTorch needed) and caches the
converted Flax variables as an .npz. The port equals torch-fidelity to 1e-4
relative given the same weights: `tools/compare_inception_with_torch_fidelity.py`
checks it with seeded random weights (`random_state_dict`) and writes the
golden outputs that `tests/test_inception.py` compares against.
"""

import functools
import hashlib
import os
import re
import statistics
import time
from typing import NamedTuple

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from gan_jax import errors
from gan_jax import xla_options
from gan_jax.metrics import torch_checkpoint

INPUT_SIZE = 299
NUM_LOGITS = 1008
POOL_FEATURES = 2048
WEIGHTS_FILENAME = 'pt_inception-2015-12-05-6726825d.pth'
WEIGHTS_URL = (
  'https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/'
  'weights-inception-2015-12-05-6726825d.pth'
)
WEIGHTS_ENV_VAR = 'GAN_JAX_INCEPTION_WEIGHTS'
DEFAULT_CACHE_DIR = os.path.join('~', '.cache', 'gan_jax')

# Float32 throughout: 'highest' stops GPUs from running float32 convolutions
# in TF32, which would move the features by ~1e-3 relative. CPUs ignore it.
_PRECISION = jax.lax.Precision.HIGHEST


class InceptionOutputs(NamedTuple):
  """What the network computes for a batch of N images.

  Attributes:
    pool: [N, 2048] pool3 features (the mean of Mixed_7c over space), for
      FID, KID and precision/recall.
    logits_unbiased: [N, 1008] pool @ W, without the bias: the logits whose
      softmax gives the Inception Score of Salimans et al. and torch-fidelity.
    logits: [N, 1008] pool @ W + b, the classifier's full logits.
  """

  pool: jax.Array
  logits_unbiased: jax.Array
  logits: jax.Array


def resize_like_tensorflow1(images: jax.Array, size: int = INPUT_SIZE) -> jax.Array:
  """Bilinear resize exactly as TF1's `resize_bilinear(align_corners=False)`.

  Output pixel i samples the input at position i * in_size / size, with no
  half-pixel offset (unlike `jax.image.resize` and TF2), interpolating
  between floor(position) and min(floor(position) + 1, in_size - 1). The
  positions are computed in float32 as torch-fidelity's
  `interpolate_bilinear_2d_like_tensorflow1x` does, and the interpolation
  uses its order of operations.

  Args:
    images: [N, H, W, C] float images, any H, W >= 1.
    size: the output height and width.

  Returns:
    [N, size, size, C] float32 images.
  """
  images = jnp.asarray(images, jnp.float32)
  _, height, width, _ = images.shape

  def source_positions(in_size):
    positions = np.arange(size, dtype=np.float32) * np.float32(in_size / size)
    lower = positions.astype(np.int32)  # floor, as positions >= 0
    upper = np.minimum(lower + 1, in_size - 1)
    return lower, upper, positions - lower.astype(np.float32)

  top, bottom, row_weight = source_positions(height)
  left, right, column_weight = source_positions(width)
  column_weight = column_weight[None, None, :, None]
  upper_rows, lower_rows = images[:, top], images[:, bottom]
  upper = (
    upper_rows[:, :, left] + (upper_rows[:, :, right] - upper_rows[:, :, left]) * column_weight
  )
  lower = (
    lower_rows[:, :, left] + (lower_rows[:, :, right] - lower_rows[:, :, left]) * column_weight
  )
  return upper + (lower - upper) * row_weight[None, :, None, None]


class BasicConv(nn.Module):
  """Convolution without bias, batch norm (eps 1e-3, running statistics), ReLU.

  Attributes:
    features: output channels.
    kernel_size: (kh, kw).
    strides: (sh, sw).
    padding: (ph, pw) zeros on each side; (0, 0) is VALID.
  """

  features: int
  kernel_size: tuple[int, int] = (1, 1)
  strides: tuple[int, int] = (1, 1)
  padding: tuple[int, int] = (0, 0)

  @nn.compact
  def __call__(self, x):
    x = nn.Conv(
      self.features,
      self.kernel_size,
      self.strides,
      padding=[(p, p) for p in self.padding],
      use_bias=False,
      precision=_PRECISION,
      name='conv',
    )(x)
    x = nn.BatchNorm(use_running_average=True, epsilon=1e-3, name='bn')(x)
    return nn.relu(x)


def _avg_pool_3x3_same(x):
  # TF's avg_pool divides by the number of real pixels in the window.
  return nn.avg_pool(x, (3, 3), (1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)


def _max_pool_3x3_stride2(x):
  return nn.max_pool(x, (3, 3), (2, 2))


class InceptionA(nn.Module):
  """Mixed_5b-5d at 35x35: 1x1, 5x5, double 3x3 and pool branches."""

  pool_features: int

  @nn.compact
  def __call__(self, x):
    branch1x1 = BasicConv(64, name='branch1x1')(x)
    branch5x5 = BasicConv(48, name='branch5x5_1')(x)
    branch5x5 = BasicConv(64, (5, 5), padding=(2, 2), name='branch5x5_2')(branch5x5)
    branch3x3dbl = BasicConv(64, name='branch3x3dbl_1')(x)
    branch3x3dbl = BasicConv(96, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(branch3x3dbl)
    branch3x3dbl = BasicConv(96, (3, 3), padding=(1, 1), name='branch3x3dbl_3')(branch3x3dbl)
    branch_pool = BasicConv(self.pool_features, name='branch_pool')(_avg_pool_3x3_same(x))
    return jnp.concatenate([branch1x1, branch5x5, branch3x3dbl, branch_pool], axis=-1)


class InceptionB(nn.Module):
  """Mixed_6a: 35x35 -> 17x17 by strided 3x3 convolutions and a max pool."""

  @nn.compact
  def __call__(self, x):
    branch3x3 = BasicConv(384, (3, 3), strides=(2, 2), name='branch3x3')(x)
    branch3x3dbl = BasicConv(64, name='branch3x3dbl_1')(x)
    branch3x3dbl = BasicConv(96, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(branch3x3dbl)
    branch3x3dbl = BasicConv(96, (3, 3), strides=(2, 2), name='branch3x3dbl_3')(branch3x3dbl)
    return jnp.concatenate([branch3x3, branch3x3dbl, _max_pool_3x3_stride2(x)], axis=-1)


class InceptionC(nn.Module):
  """Mixed_6b-6e at 17x17: 7x7 convolutions factorized into 1x7 and 7x1."""

  channels_7x7: int

  @nn.compact
  def __call__(self, x):
    c7 = self.channels_7x7
    conv_1x7 = functools.partial(BasicConv, kernel_size=(1, 7), padding=(0, 3))
    conv_7x1 = functools.partial(BasicConv, kernel_size=(7, 1), padding=(3, 0))
    branch1x1 = BasicConv(192, name='branch1x1')(x)
    branch7x7 = BasicConv(c7, name='branch7x7_1')(x)
    branch7x7 = conv_1x7(c7, name='branch7x7_2')(branch7x7)
    branch7x7 = conv_7x1(192, name='branch7x7_3')(branch7x7)
    branch7x7dbl = BasicConv(c7, name='branch7x7dbl_1')(x)
    branch7x7dbl = conv_7x1(c7, name='branch7x7dbl_2')(branch7x7dbl)
    branch7x7dbl = conv_1x7(c7, name='branch7x7dbl_3')(branch7x7dbl)
    branch7x7dbl = conv_7x1(c7, name='branch7x7dbl_4')(branch7x7dbl)
    branch7x7dbl = conv_1x7(192, name='branch7x7dbl_5')(branch7x7dbl)
    branch_pool = BasicConv(192, name='branch_pool')(_avg_pool_3x3_same(x))
    return jnp.concatenate([branch1x1, branch7x7, branch7x7dbl, branch_pool], axis=-1)


class InceptionD(nn.Module):
  """Mixed_7a: 17x17 -> 8x8 by strided convolutions and a max pool."""

  @nn.compact
  def __call__(self, x):
    branch3x3 = BasicConv(192, name='branch3x3_1')(x)
    branch3x3 = BasicConv(320, (3, 3), strides=(2, 2), name='branch3x3_2')(branch3x3)
    branch7x7x3 = BasicConv(192, name='branch7x7x3_1')(x)
    branch7x7x3 = BasicConv(192, (1, 7), padding=(0, 3), name='branch7x7x3_2')(branch7x7x3)
    branch7x7x3 = BasicConv(192, (7, 1), padding=(3, 0), name='branch7x7x3_3')(branch7x7x3)
    branch7x7x3 = BasicConv(192, (3, 3), strides=(2, 2), name='branch7x7x3_4')(branch7x7x3)
    return jnp.concatenate([branch3x3, branch7x7x3, _max_pool_3x3_stride2(x)], axis=-1)


class InceptionE(nn.Module):
  """Mixed_7b and 7c at 8x8: 3x3 convolutions split into parallel 1x3 and 3x1.

  Attributes:
    max_pool: the pool branch max-pools (Mixed_7c in the TF graph, torch-fidelity's
      FIDInceptionE_2) instead of average-pooling without padding (Mixed_7b).
  """

  max_pool: bool

  @nn.compact
  def __call__(self, x):
    conv_1x3 = functools.partial(BasicConv, kernel_size=(1, 3), padding=(0, 1))
    conv_3x1 = functools.partial(BasicConv, kernel_size=(3, 1), padding=(1, 0))
    branch1x1 = BasicConv(320, name='branch1x1')(x)
    branch3x3 = BasicConv(384, name='branch3x3_1')(x)
    branch3x3 = jnp.concatenate(
      [
        conv_1x3(384, name='branch3x3_2a')(branch3x3),
        conv_3x1(384, name='branch3x3_2b')(branch3x3),
      ],
      axis=-1,
    )
    branch3x3dbl = BasicConv(448, name='branch3x3dbl_1')(x)
    branch3x3dbl = BasicConv(384, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(branch3x3dbl)
    branch3x3dbl = jnp.concatenate(
      [
        conv_1x3(384, name='branch3x3dbl_3a')(branch3x3dbl),
        conv_3x1(384, name='branch3x3dbl_3b')(branch3x3dbl),
      ],
      axis=-1,
    )
    if self.max_pool:
      pooled = nn.max_pool(x, (3, 3), (1, 1), padding=((1, 1), (1, 1)))
    else:
      pooled = _avg_pool_3x3_same(x)
    branch_pool = BasicConv(192, name='branch_pool')(pooled)
    return jnp.concatenate([branch1x1, branch3x3, branch3x3dbl, branch_pool], axis=-1)


class Logits(nn.Module):
  """The 2048 -> 1008 classifier, returning its logits without and with the bias."""

  @nn.compact
  def __call__(self, pool):
    kernel = self.param('kernel', nn.initializers.lecun_normal(), (pool.shape[-1], NUM_LOGITS))
    bias = self.param('bias', nn.initializers.zeros, (NUM_LOGITS,))
    logits_unbiased = jnp.dot(pool, kernel, precision=_PRECISION)
    return logits_unbiased, logits_unbiased + bias


class InceptionV3(nn.Module):
  """The FID Inception-v3 (see the module docstring for how it differs).

  Submodule names are torch-fidelity's, so that weight names map one to one.
  Variables: 'params' and 'batch_stats' (the batch norms' running statistics,
  never updated: the network only runs in inference mode).
  """

  @nn.compact
  def __call__(self, images) -> InceptionOutputs:
    """Features of images already resized and normalized.

    Args:
      images: [N, 299, 299, 3] float32 in [-1, 1], i.e. (x - 128) / 128 of
        RGB values in [0, 255] resized with `resize_like_tensorflow1`.

    Returns:
      InceptionOutputs with pool [N, 2048] and logits [N, 1008].
    """
    x = BasicConv(32, (3, 3), strides=(2, 2), name='Conv2d_1a_3x3')(images)  # 149x149x32
    x = BasicConv(32, (3, 3), name='Conv2d_2a_3x3')(x)  # 147x147x32
    x = BasicConv(64, (3, 3), padding=(1, 1), name='Conv2d_2b_3x3')(x)  # 147x147x64
    x = _max_pool_3x3_stride2(x)  # 73x73x64
    x = BasicConv(80, name='Conv2d_3b_1x1')(x)  # 73x73x80
    x = BasicConv(192, (3, 3), name='Conv2d_4a_3x3')(x)  # 71x71x192
    x = _max_pool_3x3_stride2(x)  # 35x35x192
    x = InceptionA(32, name='Mixed_5b')(x)  # 35x35x256
    x = InceptionA(64, name='Mixed_5c')(x)  # 35x35x288
    x = InceptionA(64, name='Mixed_5d')(x)  # 35x35x288
    x = InceptionB(name='Mixed_6a')(x)  # 17x17x768
    x = InceptionC(128, name='Mixed_6b')(x)
    x = InceptionC(160, name='Mixed_6c')(x)
    x = InceptionC(160, name='Mixed_6d')(x)
    x = InceptionC(192, name='Mixed_6e')(x)  # 17x17x768
    x = InceptionD(name='Mixed_7a')(x)  # 8x8x1280
    x = InceptionE(max_pool=False, name='Mixed_7b')(x)  # 8x8x2048
    x = InceptionE(max_pool=True, name='Mixed_7c')(x)  # 8x8x2048
    pool = jnp.mean(x, axis=(1, 2))
    logits_unbiased, logits = Logits(name='fc')(pool)
    return InceptionOutputs(pool, logits_unbiased, logits)


# Weights: torch-fidelity's state dict <-> this module's variables.

# The last two parts of a torch name -> (Flax collection, Flax leaf path,
# transposition from torch's layout to Flax's). Everything before them is the
# module path, which is the same in both.
_TORCH_TO_FLAX = {
  ('conv', 'weight'): ('params', ('conv', 'kernel'), (2, 3, 1, 0)),  # OIHW -> HWIO
  ('bn', 'weight'): ('params', ('bn', 'scale'), None),
  ('bn', 'bias'): ('params', ('bn', 'bias'), None),
  ('bn', 'running_mean'): ('batch_stats', ('bn', 'mean'), None),
  ('bn', 'running_var'): ('batch_stats', ('bn', 'var'), None),
  ('fc', 'weight'): ('params', ('fc', 'kernel'), (1, 0)),  # [out, in] -> [in, out]
  ('fc', 'bias'): ('params', ('fc', 'bias'), None),
}
# Batch norm's update counter: in the file, meaningless for inference.
_IGNORED_TORCH_SUFFIX = 'num_batches_tracked'


@functools.cache
def _variable_shapes() -> dict[tuple, tuple]:
  """{flattened Flax variable path: shape} of InceptionV3 (traced abstractly; computes nothing)."""
  images = jax.ShapeDtypeStruct((1, INPUT_SIZE, INPUT_SIZE, 3), jnp.float32)
  shapes = jax.eval_shape(InceptionV3().init, jax.random.key(0), images)
  return {path: leaf.shape for path, leaf in flax.traverse_util.flatten_dict(shapes).items()}


def _torch_name_and_layout(flax_path):
  """(torch name, transposition to Flax's layout or None) of a flattened Flax path."""
  collection, *module_path = flax_path
  for (torch_module, torch_leaf), (flax_collection, leaf_path, transpose) in _TORCH_TO_FLAX.items():
    if collection == flax_collection and tuple(module_path[-2:]) == leaf_path:
      return '.'.join([*module_path[:-2], torch_module, torch_leaf]), transpose
  raise AssertionError(f'no torch name for the Flax variable {flax_path}')


def torch_shapes() -> dict[str, tuple]:
  """{torch-fidelity state dict name: shape in torch's layout} of every weight used."""
  shapes = {}
  for path, shape in _variable_shapes().items():
    name, transpose = _torch_name_and_layout(path)
    shapes[name] = shape if transpose is None else tuple(shape[i] for i in np.argsort(transpose))
  return shapes


def state_dict_to_variables(state_dict, source='the state dict'):
  """Converts torch-fidelity's Inception state dict to InceptionV3's variables.

  Args:
    state_dict: {torch name: numpy array in torch's layout}, as
      `torch_checkpoint.load_state_dict` reads from the weights file.
    source: how error messages name the state dict (e.g. its path).

  Returns:
    {'params': ..., 'batch_stats': ...} of float32 numpy arrays in Flax's
    layouts (conv kernels HWIO, the classifier's kernel [2048, 1008]).

  Raises:
    WeightsError: names missing or unexpected, or a shape that differs.
  """
  expected = torch_shapes()
  given = {k for k in state_dict if not k.endswith(_IGNORED_TORCH_SUFFIX)}
  missing, unexpected = sorted(expected.keys() - given), sorted(given - expected.keys())
  wrong_shape = [
    f'{k}: {tuple(state_dict[k].shape)} instead of {expected[k]}'
    for k in sorted(given & expected.keys())
    if tuple(state_dict[k].shape) != expected[k]
  ]
  if missing or unexpected or wrong_shape:
    raise errors.WeightsError(
      f'{source} is not the FID Inception-v3 of torch-fidelity/pytorch-fid: '
      f'missing {missing[:5]}{"..." if len(missing) > 5 else ""} ({len(missing)}), '
      f'unexpected {unexpected[:5]}{"..." if len(unexpected) > 5 else ""} ({len(unexpected)}), '
      f'wrong shapes {wrong_shape[:5]}. Use {WEIGHTS_FILENAME} from {WEIGHTS_URL}.'
    )
  flat = {}
  for path in _variable_shapes():
    name, transpose = _torch_name_and_layout(path)
    array = np.asarray(state_dict[name], np.float32)
    flat[path] = np.ascontiguousarray(array if transpose is None else array.transpose(transpose))
  return flax.traverse_util.unflatten_dict(flat)


def random_state_dict(seed: int) -> dict[str, np.ndarray]:
  """Seeded random weights in the layout of the weights file, with O(1) activations.

  For checking the port against torch-fidelity without the real weights
  (a 96 MB download, too big for a test fixture): both networks get these
  weights and must agree. They are drawn with numpy only, so a test
  regenerates them without PyTorch. Conv weights are He-normal,
  N(0, 2 / fan_in), so that each ReLU layer keeps its input's scale; batch-norm
  scales in [0.5, 1.5], shifts and running means N(0, 0.2^2), running
  variances in [0.5, 2] are far from the identity (so that a misplaced eps or
  a swapped mean/var shows) but keep every layer's activations O(1).

  Args:
    seed: the numpy seed.

  Returns:
    {torch-fidelity name: float32 array in torch's layout}, without batch
    norm's `num_batches_tracked` counters.
  """
  rng = np.random.default_rng(seed)
  state_dict = {}
  for name, shape in sorted(torch_shapes().items()):
    kind = name.rsplit('.', 2)[-2:]
    if kind == ['conv', 'weight']:
      fan_in = np.prod(shape[1:])
      values = rng.standard_normal(shape, np.float32) * np.sqrt(2 / fan_in)
    elif kind == ['fc', 'weight']:
      values = rng.standard_normal(shape, np.float32) / np.sqrt(shape[1])
    elif kind == ['bn', 'weight']:
      values = rng.uniform(0.5, 1.5, shape)
    elif kind == ['bn', 'running_var']:
      values = rng.uniform(0.5, 2.0, shape)
    else:  # Batch-norm shifts and running means, the classifier's bias.
      values = rng.normal(0.0, 0.2, shape)
    state_dict[name] = values.astype(np.float32)
  return state_dict


def _check_sha256_prefix(path):
  """torch.hub's convention: a file named '...-<hex>.pth' has a SHA-256 starting with <hex>."""
  match = re.search(r'-([0-9a-f]{8,64})\.pth$', os.path.basename(path))
  if not match:
    return
  with open(path, 'rb') as f:
    digest = hashlib.file_digest(f, 'sha256').hexdigest()
  if not digest.startswith(match.group(1)):
    raise errors.WeightsError(
      f'{path} has SHA-256 {digest[:16]}..., not {match.group(1)}... as its name says: the '
      f'download is incomplete or corrupt. Download it again from {WEIGHTS_URL}.'
    )


def _missing_weights_error(path, how_chosen):
  return errors.WeightsError(
    f'The FID Inception weights are not at {path} ({how_chosen}). Download them (96 MB) from '
    f'{WEIGHTS_URL} and save the file as {path}, or point to it with '
    f'--config.eval.inception_weights=PATH or the environment variable {WEIGHTS_ENV_VAR}=PATH.'
  )


def load_inception_params(weights_path=None, cache_dir=None):
  """InceptionV3's variables from the standard FID weights file, converted once and cached.

  Args:
    weights_path: the `.pth` file (zip or legacy `torch.save` format); None
      reads the path from the environment variable GAN_JAX_INCEPTION_WEIGHTS,
      and without it uses ~/.cache/gan_jax/pt_inception-2015-12-05-6726825d.pth.
    cache_dir: where the converted variables are cached as an .npz named
      after the weights file, its size and modification time (so a replaced
      file is converted again); None is ~/.cache/gan_jax.

  Returns:
    {'params': ..., 'batch_stats': ...} of jax arrays for `InceptionV3().apply`.

  Raises:
    WeightsError: the file is missing (the message says where to get it and
      where to put it), corrupt, or not the FID Inception's state dict.
  """
  cache_dir = os.path.expanduser(cache_dir or DEFAULT_CACHE_DIR)
  if weights_path is not None:
    how_chosen = 'the path given'
  elif os.environ.get(WEIGHTS_ENV_VAR):
    weights_path, how_chosen = os.environ[WEIGHTS_ENV_VAR], f'from ${WEIGHTS_ENV_VAR}'
  else:
    weights_path = os.path.join(os.path.expanduser(DEFAULT_CACHE_DIR), WEIGHTS_FILENAME)
    how_chosen = f'the default place, as neither a path nor ${WEIGHTS_ENV_VAR} was given'
  weights_path = os.path.abspath(os.path.expanduser(os.fspath(weights_path)))
  if not os.path.isfile(weights_path):
    raise _missing_weights_error(weights_path, how_chosen)

  stat = os.stat(weights_path)
  file_key = hashlib.sha256(f'{weights_path}:{stat.st_size}:{stat.st_mtime_ns}'.encode())
  stem = os.path.splitext(os.path.basename(weights_path))[0]
  cache_path = os.path.join(cache_dir, f'{stem}-flax-{file_key.hexdigest()[:16]}.npz')
  if os.path.isfile(cache_path):
    with np.load(cache_path) as cached:
      flat = {tuple(k.split('/')): cached[k] for k in cached.files}
    if {path: a.shape for path, a in flat.items()} == _variable_shapes():
      return jax.device_put(flax.traverse_util.unflatten_dict(flat))
    logging.warning('Ignoring %s: its shapes are not those of InceptionV3.', cache_path)

  _check_sha256_prefix(weights_path)
  state_dict = torch_checkpoint.load_state_dict(weights_path)
  variables = state_dict_to_variables(state_dict, source=weights_path)
  try:
    os.makedirs(cache_dir, exist_ok=True)
    flat = flax.traverse_util.flatten_dict(variables, sep='/')
    # Written under a temporary name and renamed, so that a crash leaves no half-written cache.
    temporary_path = f'{cache_path}.{os.getpid()}.tmp'
    with open(temporary_path, 'wb') as f:
      np.savez(f, **flat)
    os.replace(temporary_path, cache_path)
  except OSError as e:
    logging.warning('Could not cache the converted Inception weights in %s: %s', cache_dir, e)
  return jax.device_put(variables)


# Running the network on uint8 images.


@functools.partial(jax.jit, static_argnames='size')
def preprocess_uint8(images, size: int = INPUT_SIZE):
  """torch-fidelity's input pipeline: uint8 -> float, TF1 resize, (x - 128) / 128.

  Args:
    images: [N, H, W, 3] or [N, H, W, 1] (grey, repeated to RGB) uint8.
    size: the network's input size.

  Returns:
    [N, size, size, 3] float32 in [-1, 1].
  """
  images = jnp.broadcast_to(images, (*images.shape[:3], 3)).astype(jnp.float32)
  return (resize_like_tensorflow1(images, size) - 128) / 128


@xla_options.jit
def _inception_apply(variables, images):
  return InceptionV3().apply(variables, images)


def compute_inception_features(variables, images, batch_size: int = 32) -> InceptionOutputs:
  """InceptionV3's pool features and logits of uint8 images, batch by batch.

  Each batch is preprocessed as torch-fidelity does (`preprocess_uint8`) and
  run through one jitted network; the last batch is padded to `batch_size`,
  so the network compiles once per batch size, whatever N and the image size.

  Args:
    variables: from `load_inception_params`.
    images: [N, H, W, 3] or [N, H, W, 1] uint8 (e.g. 28x28 MNIST, 32x32 CIFAR).
    batch_size: images per network call (min(batch_size, N) is used).

  Returns:
    InceptionOutputs of float32 numpy arrays: pool [N, 2048],
    logits_unbiased [N, 1008], logits [N, 1008].
  """
  images = np.asarray(images)
  if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(
      f'images must be uint8 [N, H, W, 3] or [N, H, W, 1]; got {images.dtype} {images.shape}. '
      'Map generator outputs in [-1, 1] to uint8 with np.round((x + 1) * 127.5).'
    )
  num_images = images.shape[0]
  batch_size = max(1, min(batch_size, num_images))
  outputs = []
  for start in range(0, num_images, batch_size):
    batch = images[start : start + batch_size]
    padding = batch_size - batch.shape[0]
    batch = np.pad(batch, [(0, padding), (0, 0), (0, 0), (0, 0)])
    batch_outputs = _inception_apply(variables, preprocess_uint8(batch))
    outputs.append(jax.tree.map(lambda a, n=batch_size - padding: np.asarray(a[:n]), batch_outputs))
  return InceptionOutputs(*(np.concatenate(parts) for parts in zip(*outputs)))


class InceptionThroughput(NamedTuple):
  """Timings of the jitted network on one device, in seconds.

  Attributes:
    device: kind of the device timed.
    batch_size: images per call.
    image_size: the input's height and width (before the resize to 299).
    compile_seconds: lowering plus compilation of the network.
    batch_seconds_median: median over the timed calls, preprocessing included.
    images_per_second: batch_size / batch_seconds_median.
  """

  device: str
  batch_size: int
  image_size: int
  compile_seconds: float
  batch_seconds_median: float
  images_per_second: float


def inception_throughput(
  batch_size: int = 32, image_size: int = INPUT_SIZE, timed_batches: int = 3
) -> InceptionThroughput:
  """Times `compute_inception_features`'s work on random uint8 images.

  The weights are `random_state_dict(0)`: the timing does not depend on their
  values, so no weights file is needed.
  """
  variables = jax.device_put(state_dict_to_variables(random_state_dict(0)))
  images = np.random.default_rng(0).integers(
    0, 256, (batch_size, image_size, image_size, 3), dtype=np.uint8
  )
  network_inputs = preprocess_uint8(images)
  start = time.perf_counter()
  network = _inception_apply.lower(variables, network_inputs).compile()
  compile_seconds = time.perf_counter() - start
  jax.block_until_ready(network(variables, network_inputs))  # Warm-up.
  durations = []
  for _ in range(timed_batches):
    start = time.perf_counter()
    jax.block_until_ready(network(variables, preprocess_uint8(images)))
    durations.append(time.perf_counter() - start)
  median = statistics.median(durations)
  return InceptionThroughput(
    device=jax.devices()[0].device_kind,
    batch_size=batch_size,
    image_size=image_size,
    compile_seconds=compile_seconds,
    batch_seconds_median=median,
    images_per_second=batch_size / median,
  )
