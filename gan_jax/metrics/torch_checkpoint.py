"""Reading PyTorch state dicts (`.pth` files) into numpy arrays, without PyTorch.

`torch.save(state_dict, path)` writes one of two formats, and both are read:

  zip (the default since PyTorch 1.6): a zip archive holding `<name>/data.pkl`,
    a pickle of the state dict, and one raw little-endian record
    `<name>/data/<key>` per tensor storage;
  legacy (files of PyTorch < 1.6, such as weights released in 2019, or
    `_use_new_zipfile_serialization=False`): five pickles in a row (magic
    number, protocol version, system info, the state dict, the sorted storage
    keys), then for each key the storage's element count as an int64 and its
    raw bytes.

In both, the pickled state dict maps names to calls
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`, where
`storage` is a persistent id ('storage', torch.FloatStorage, key, location,
numel[, view_metadata]). The unpickler here resolves only the handful of
globals that a state dict needs and never runs anything else from the file, so
an untrusted file cannot execute code; tensors are rebuilt from their storages
with numpy's strided views, bounds-checked against the storage.
"""

import collections
import dataclasses
import io
import os
import pickle
import struct
import zipfile

import ml_dtypes
import numpy as np

from gan_jax import errors

# The storage types a state dict can name, as `torch.<name>`.
_STORAGE_DTYPES = {
  'DoubleStorage': np.float64,
  'FloatStorage': np.float32,
  'HalfStorage': np.float16,
  'BFloat16Storage': ml_dtypes.bfloat16,
  'LongStorage': np.int64,
  'IntStorage': np.int32,
  'ShortStorage': np.int16,
  'CharStorage': np.int8,
  'ByteStorage': np.uint8,
  'BoolStorage': np.bool_,
}
_LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C


@dataclasses.dataclass(frozen=True)
class _StorageType:
  dtype: np.dtype


@dataclasses.dataclass(frozen=True)
class _StorageRef:
  key: str
  dtype: np.dtype
  numel: int


@dataclasses.dataclass(frozen=True)
class _TensorRef:
  """A tensor whose storage is read after unpickling (legacy files store it after the pickle)."""

  storage: _StorageRef
  offset: int
  size: tuple
  stride: tuple


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *unused_grad_hooks_metadata):
  return _TensorRef(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, *unused_requires_grad_hooks):
  return data


_ALLOWED_GLOBALS = {
  ('collections', 'OrderedDict'): collections.OrderedDict,
  ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor_v2,
  ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
}


class _StateDictUnpickler(pickle.Unpickler):
  """Resolves only the globals of a state dict; storages become references."""

  def __init__(self, file, path):
    super().__init__(file)
    self._path = path

  def find_class(self, module, name):
    if module == 'torch' and name in _STORAGE_DTYPES:
      return _StorageType(np.dtype(_STORAGE_DTYPES[name]))
    if (module, name) in _ALLOWED_GLOBALS:
      return _ALLOWED_GLOBALS[(module, name)]
    raise errors.WeightsError(
      f'{self._path} refers to {module}.{name}, which is not part of a plain PyTorch state '
      'dict of tensors; this reader never runs code from a file. Save the weights with '
      'torch.save(model.state_dict(), path).'
    )

  def persistent_load(self, saved_id):
    typename, storage_type, key, _, numel, *view_metadata = saved_id
    if typename != 'storage' or not isinstance(storage_type, _StorageType):
      raise errors.WeightsError(f'{self._path}: unknown persistent id {saved_id!r}.')
    if view_metadata and view_metadata[0] is not None:
      raise errors.WeightsError(
        f'{self._path} holds a storage view (PyTorch < 0.4); re-save it with a newer PyTorch.'
      )
    return _StorageRef(str(key), storage_type.dtype, int(numel))


def _materialize(name, tensor, storages, path):
  """The numpy array of a _TensorRef: a bounds-checked strided view of its storage, copied."""
  storage = storages[tensor.storage.key]
  if any(n == 0 for n in tensor.size):
    return np.zeros(tensor.size, storage.dtype)
  last = tensor.offset + sum((n - 1) * s for n, s in zip(tensor.size, tensor.stride))
  if tensor.offset < 0 or min(tensor.stride, default=0) < 0 or last >= storage.size:
    raise errors.WeightsError(
      f'{path}: tensor {name!r} of size {tensor.size} reaches past its storage of '
      f'{storage.size} elements; the file is corrupt, download it again.'
    )
  view = np.lib.stride_tricks.as_strided(
    storage[tensor.offset :],
    shape=tensor.size,
    strides=[s * storage.itemsize for s in tensor.stride],
    writeable=False,
  )
  return np.array(view)


def _read_zip(path):
  """(pickled state dict, {key: storage array}) of a zip-format file."""
  with zipfile.ZipFile(path) as archive:
    pickles = [n for n in archive.namelist() if n.endswith('/data.pkl')]
    if len(pickles) != 1:
      raise errors.WeightsError(f'{path} is a zip file but not a torch.save archive (no data.pkl).')
    prefix = pickles[0][: -len('data.pkl')]
    byteorder_record = prefix + 'byteorder'
    if byteorder_record in archive.namelist() and archive.read(byteorder_record) != b'little':
      raise errors.WeightsError(f'{path} was written on a big-endian machine; re-save it.')
    state = _StateDictUnpickler(io.BytesIO(archive.read(pickles[0])), path).load()
    storages = {}
    for tensor in state.values() if isinstance(state, dict) else ():
      if isinstance(tensor, _TensorRef) and tensor.storage.key not in storages:
        raw = archive.read(f'{prefix}data/{tensor.storage.key}')
        storages[tensor.storage.key] = np.frombuffer(raw, tensor.storage.dtype.newbyteorder('<'))
  return state, storages


def _read_legacy(path):
  """(pickled state dict, {key: storage array}) of a legacy-format file."""
  with open(path, 'rb') as f:
    try:
      magic_number = pickle.load(f)
    except Exception as e:
      raise errors.WeightsError(
        f'{path} is neither a zip nor a legacy torch.save file; download it again.'
      ) from e
    if magic_number != _LEGACY_MAGIC_NUMBER:
      raise errors.WeightsError(f'{path} is not a torch.save file (bad magic number).')
    pickle.load(f)  # Protocol version.
    system_info = pickle.load(f)
    if not system_info.get('little_endian', True):
      raise errors.WeightsError(f'{path} was written on a big-endian machine; re-save it.')
    state = _StateDictUnpickler(f, path).load()
    refs = {t.storage.key: t.storage for t in state.values() if isinstance(t, _TensorRef)}
    storages = {}
    for key in pickle.load(f):
      (numel,) = struct.unpack('<q', f.read(8))
      dtype = refs[key].dtype.newbyteorder('<')
      raw = f.read(numel * dtype.itemsize)
      if len(raw) != numel * dtype.itemsize:
        raise errors.WeightsError(f'{path} is truncated; download it again.')
      storages[key] = np.frombuffer(raw, dtype)
  return state, storages


def load_state_dict(path) -> dict[str, np.ndarray]:
  """Reads a PyTorch state dict saved with `torch.save` as numpy arrays.

  Args:
    path: a `.pth` file (zip or legacy format; see the module docstring) whose
      pickle is a dict of tensor name -> tensor, as `model.state_dict()` gives.

  Returns:
    {name: array} in the file's order, each array in the tensor's shape and
    dtype (torch's layouts, e.g. conv weights [out, in, kh, kw]), C-contiguous.

  Raises:
    WeightsError: the file is missing, corrupt, or holds more than tensors.
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise errors.WeightsError(f'No weights file at {path}.')
  try:
    state, storages = (_read_zip if zipfile.is_zipfile(path) else _read_legacy)(path)
  except (pickle.UnpicklingError, EOFError, KeyError, zipfile.BadZipFile, ValueError) as e:
    raise errors.WeightsError(f'{path} is corrupt ({e!r}); download it again.') from e
  if not isinstance(state, dict):
    raise errors.WeightsError(
      f'{path} holds a {type(state).__name__}, not a state dict; save model.state_dict().'
    )
  not_tensors = [name for name, value in state.items() if not isinstance(value, _TensorRef)]
  if not_tensors:
    raise errors.WeightsError(f'{path}: entries {not_tensors} are not tensors; save a state dict.')
  return {name: _materialize(name, tensor, storages, path) for name, tensor in state.items()}
