"""The project's own error types.

Everything a user can get wrong (a config field, a name, a data path, a
checkpoint) raises a `GanJaxError` whose message names the problem and the fix.
The absl apps under `experiments/` print that message on one line and exit
non-zero instead of showing a traceback from deep inside JAX.
"""


class GanJaxError(Exception):
  """Base class: an error the user can fix, with a message that says how."""


class ConfigError(GanJaxError, ValueError):
  """A config value is invalid: an unknown name, a bad size, a bad combination."""


class DataError(GanJaxError):
  """A data set cannot be read: missing, not prepared, empty or corrupt."""


class CheckpointError(GanJaxError):
  """A checkpoint cannot be restored into the state of the current config."""


class WeightsError(GanJaxError):
  """A pretrained weights file (e.g. the FID Inception's) is missing, corrupt or not a state dict."""


class DownloadError(GanJaxError):
  """A download failed: no network, an HTTP error, a timeout, a truncated or corrupt file."""


class TrainingDivergedError(GanJaxError):
  """A loss or gradient norm became NaN or infinite."""


class NonFiniteError(GanJaxError, ValueError):
  """An array a metric reads (features, probabilities, statistics) holds NaN or Inf."""


class StorageError(GanJaxError):
  """A run's files cannot be written: the disk is full, or the workdir not writable."""


def unknown_name_error(kind: str, name: str, valid) -> ConfigError:
  """A `ConfigError` for a name that is not one of `valid` (listed in the message)."""
  return ConfigError(f'Unknown {kind} {name!r}; valid names: {", ".join(sorted(valid))}.')


class Interrupted(GanJaxError):
  """Training stopped on SIGINT/SIGTERM after saving a checkpoint.

  Attributes:
    exit_code: 128 + the signal number, the shell's convention for a process
      ended by a signal.
  """

  def __init__(self, message: str, exit_code: int):
    super().__init__(message)
    self.exit_code = exit_code
