"""What every absl app here shares: the workdir default, clean errors, and joining a job.

A user's mistake (a bad config value, missing data, an interrupted run) ends
the app with the project's one-line message and a non-zero exit code, not a
traceback from inside JAX; `--traceback` shows the traceback too.

Every app starts JAX's distributed runtime before it touches a device
(`gan_jax.distributed.initialize`): on a cluster JAX detects (TPU pod slice,
SLURM, Open MPI, Kubernetes) with no flags, elsewhere with
--coordinator_address, --num_processes and --process_id; a lone process
with none of them runs as it always has.
"""

import logging as std_logging
import os
import sys
from typing import Callable

from absl import app
from absl import flags
from absl import logging
from ml_collections.config_flags import config_flags

from gan_jax import distributed
from gan_jax import errors

_TRACEBACK = flags.DEFINE_bool('traceback', False, 'Show the full traceback of a gan_jax error.')
_COORDINATOR_ADDRESS = flags.DEFINE_string(
  'coordinator_address', None, 'HOST:PORT of process 0 of a job of several processes.'
)
_NUM_PROCESSES = flags.DEFINE_integer(
  'num_processes', None, 'Processes of the job (with --coordinator_address).', lower_bound=1
)
_PROCESS_ID = flags.DEFINE_integer(
  'process_id', None, "This process's index in the job, 0 to num_processes - 1.", lower_bound=0
)
_HEARTBEAT_TIMEOUT = flags.DEFINE_integer(
  'heartbeat_timeout',
  100,
  'Seconds after which a silent process of the job is taken for dead and the others stop.',
  lower_bound=1,
)


def default_workdir(config_path: str) -> str:
  """runs/<config file stem>, e.g. runs/gan_mnist for configs/gan_mnist.py."""
  stem = os.path.splitext(os.path.basename(config_path.split(':')[0]))[0]
  return os.path.join('runs', stem)


def _is_library_chatter(record) -> bool:
  """INFO records of Orbax and Grain (a dozen lines per checkpoint, none for the user), and
  Orbax's errors of a failed save, which reach the app as one exception, printed in one line."""
  if f'{os.sep}orbax{os.sep}' in record.pathname:
    return record.levelno < std_logging.CRITICAL
  if record.name == 'asyncio' and 'orbax' in record.getMessage():
    return True  # Orbax's abandoned writes or reads of that save, collected at exit.
  return record.levelno < std_logging.WARNING and f'{os.sep}grain{os.sep}' in record.pathname


class _ConfigFileParser(flags.ArgumentParser):
  """ml_collections' config file parser, with every failure to load as one line.

  Loading a config file runs it, so anything can go wrong: the file is missing
  (which ml_collections defers until the config is read, deep inside the run),
  it has a syntax error, `get_config` raises (an unknown `:variant` is a
  ValueError) or does not exist. ml_collections passes most of these on as raw
  exceptions or with their traceback in the message; here each becomes a
  one-line `ConfigError`, which absl reports as a bad value of the flag.
  """

  def __init__(self, parser: config_flags.ConfigFileFlagParser):
    self._parser = parser

  def parse(self, argument):
    path = argument.split(':', 1)[0]
    if not os.path.isfile(path):
      raise errors.ConfigError(
        f'no such file {path!r}; pass the path of a config file, e.g. configs/gan_mnist.py.'
      )
    try:
      return self._parser.parse(argument)
    except Exception as e:  # pylint: disable=broad-except
      # ml_collections re-raises a TypeError or ValueError with the traceback as its message.
      cause = e.__context__ if type(e.__context__) is type(e) else e
      raise errors.ConfigError(f'{type(cause).__name__}: {cause}'.replace('\n', ' ')) from e

  def flag_type(self):
    return self._parser.flag_type()


def _parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, with a mistyped config override or a config file that
  cannot be loaded as a one-line error.

  ml_collections raises AttributeError (with a "did you mean") for a config
  field that does not exist, from inside flag parsing, before main runs.
  """
  # The apps define their config file flags with ml_collections' parser; wrap
  # it before parsing so that loading the file fails in one line.
  for name in flags.FLAGS:
    flag = flags.FLAGS[name]
    if isinstance(flag.parser, config_flags.ConfigFileFlagParser):
      flag.parser = _ConfigFileParser(flag.parser)
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    print(f'Error: {e}', file=sys.stderr)
  except (AttributeError, KeyError) as e:
    # The message is the repr of a KeyError, escapes and all.
    detail = str(e).strip('\'"').replace('\\n', '; ').replace('\n', '; ').replace("\\'", "'")
    print(f'Error: no such config field: {detail}', file=sys.stderr)
  except (TypeError, ValueError) as e:
    print(f'Error: bad config override: {e}', file=sys.stderr)
  sys.exit(2)


def run(main: Callable[[list[str]], None]) -> None:
  """`absl.app.run(main)`, printing a `GanJaxError` as one line and exiting non-zero."""

  def main_with_clean_errors(argv):
    for logger in (logging.get_absl_logger(), std_logging.getLogger('asyncio')):
      logger.addFilter(lambda record: not _is_library_chatter(record))
    try:
      distributed.initialize(
        _COORDINATOR_ADDRESS.value,
        _NUM_PROCESSES.value,
        _PROCESS_ID.value,
        heartbeat_timeout_seconds=_HEARTBEAT_TIMEOUT.value,
      )
      main(argv)
    except errors.GanJaxError as e:
      if _TRACEBACK.value:
        raise
      # An interruption is the user's own request, not an error.
      prefix = '' if isinstance(e, errors.Interrupted) else 'Error: '
      print(f'{prefix}{e}', file=sys.stderr)
      sys.exit(getattr(e, 'exit_code', 1))

  app.run(main_with_clean_errors, flags_parser=_parse_flags)
