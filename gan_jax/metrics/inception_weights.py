"""The FID Inception-v3's weights: torch-fidelity's weights file -> Flax variables.

`load_inception_params` reads the standard file
`pt_inception-2015-12-05-6726825d.pth` (no PyTorch needed: `torch_checkpoint`
reads it), downloading it on first use as torch-fidelity and clean-fid do,
converts it to the variables of `inception_network.InceptionV3` and caches
them as an .npz. The port equals torch-fidelity to 1e-4 relative
given the same weights: `tools/compare_inception_with_torch_fidelity.py`
checks it with seeded random weights (`random_state_dict`) and writes the
golden outputs that `tests/test_inception.py` compares against.
"""

import functools
import hashlib
import os
import re

import flax
import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from gan_jax import downloads
from gan_jax import errors
from gan_jax.metrics import torch_checkpoint
from gan_jax.metrics.inception_network import INPUT_SIZE
from gan_jax.metrics.inception_network import InceptionV3

WEIGHTS_FILENAME = 'pt_inception-2015-12-05-6726825d.pth'
WEIGHTS_URL = (
  'https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/'
  'weights-inception-2015-12-05-6726825d.pth'
)
# The full SHA-256 of that file, whose first 8 digits are the '6726825d' in its
# name (torch.hub's convention). Stated for pytorch-fid's release of the same
# file in snap-research/discoscene, models/inception_model.py
# (_MODEL_URL_SHA256['tf_inception_v3'], which its download_url checks), and
# for torch-fidelity's v0.2.0 copy (95,628,359 bytes) by several independent
# projects' notes; not computed here (no network).
WEIGHTS_SHA256 = '6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2'
WEIGHTS_ENV_VAR = 'GAN_JAX_INCEPTION_WEIGHTS'
DEFAULT_CACHE_DIR = os.path.join('~', '.cache', 'gan_jax')

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


def _missing_weights_error(path, why_missing):
  """One line: why the weights are not at `path`, and the three ways to provide them."""
  return errors.WeightsError(
    f'The FID Inception weights are not at {path} ({why_missing}). Download them (96 MB) from '
    f'{WEIGHTS_URL} and save the file as {path}, or point to it with '
    f'--config.eval.inception_weights=PATH or the environment variable {WEIGHTS_ENV_VAR}=PATH.'
  )


def download_weights(
  path,
  *,
  url: str = WEIGHTS_URL,
  sha256: str = WEIGHTS_SHA256,
  timeout_s: float = downloads.DEFAULT_TIMEOUT_S,
) -> None:
  """Downloads the FID Inception weights file (96 MB) to `path`, verified by its full SHA-256.

  Args:
    path: where the file goes (its folder is created).
    url, sha256, timeout_s: the address, its expected SHA-256 and the
      connect/read timeout; tests replace them.

  Raises:
    WeightsError: offline, an HTTP error, a timeout, a truncated or corrupt
      download: one line with the reason and where to put the file by hand.
      Nothing is left at `path`.
  """
  try:
    downloads.download(url, path, sha256=sha256, timeout_s=timeout_s)
  except errors.DownloadError as error:
    raise _missing_weights_error(path, f'download failed: {error}') from None


def _chosen_weights_path(weights_path):
  """(absolute path, how it was chosen, whether it is the default place) of the weights file."""
  if weights_path is not None:
    path, how_chosen, is_default = weights_path, 'the path given', False
  elif os.environ.get(WEIGHTS_ENV_VAR):
    path, how_chosen, is_default = os.environ[WEIGHTS_ENV_VAR], f'from ${WEIGHTS_ENV_VAR}', False
  else:
    path = os.path.join(DEFAULT_CACHE_DIR, WEIGHTS_FILENAME)
    how_chosen = f'the default place, as neither a path nor ${WEIGHTS_ENV_VAR} was given'
    is_default = True
  return os.path.abspath(os.path.expanduser(os.fspath(path))), how_chosen, is_default


def load_inception_params(weights_path=None, cache_dir=None):
  """InceptionV3's variables from the standard FID weights file, converted once and cached.

  Args:
    weights_path: the `.pth` file (zip or legacy `torch.save` format); None
      reads the path from the environment variable GAN_JAX_INCEPTION_WEIGHTS,
      and without it uses ~/.cache/gan_jax/pt_inception-2015-12-05-6726825d.pth,
      downloaded from WEIGHTS_URL if it is not there yet. A path given or
      named by the environment variable is never downloaded to: it says where
      the file is, so a typo fails at once.
    cache_dir: where the converted variables are cached as an .npz named
      after the weights file, its size and modification time (so a replaced
      file is converted again); None is ~/.cache/gan_jax.

  Returns:
    {'params': ..., 'batch_stats': ...} of jax arrays for `InceptionV3().apply`.

  Raises:
    WeightsError: the file is missing or its download failed (the message
      says where to get it and where to put it), corrupt, or not the FID
      Inception's state dict.
  """
  cache_dir = os.path.expanduser(cache_dir or DEFAULT_CACHE_DIR)
  weights_path, how_chosen, is_default = _chosen_weights_path(weights_path)
  if not os.path.isfile(weights_path):
    if not is_default:
      raise _missing_weights_error(weights_path, how_chosen)
    download_weights(weights_path)

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
