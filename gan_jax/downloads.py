"""Downloads a file once, verified and atomically: what torch.hub and clean-fid do on first use.

`download(url, path, sha256=...)` streams the response into a temporary file
next to `path`, hashing it on the way, and renames it to `path` only when every
byte announced by Content-Length arrived and the SHA-256 matches. An interrupted,
truncated or corrupt download therefore never leaves a file at `path` (a later
run would otherwise load it as if it were good), and two processes downloading
at once each rename a complete file. Progress goes to stderr.
"""

import hashlib
import http.client
import os
import re
import sys
import tempfile
import time
import urllib.request

from gan_jax import errors

# Seconds to wait for the connection and then for each read: offline, a download
# fails in seconds instead of the minutes of the operating system's TCP timeout.
# (A failing DNS lookup is not bounded by it, but fails at once when offline.)
DEFAULT_TIMEOUT_S = 10.0
_CHUNK_BYTES = 1 << 20
_REPORT_EVERY_BYTES = 10 * 1000**2


def download(url: str, path, *, sha256: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
  """Downloads `url` to `path`, with a progress report on stderr, if its SHA-256 matches.

  Args:
    url: an http(s) address (redirects are followed).
    path: where the file goes; its folder is created if needed.
    sha256: the expected SHA-256 in hex, or a prefix of it of at least 8 digits
      (torch.hub's convention for files named '...-<prefix>.pth').
    timeout_s: seconds to wait for the connection and for each read.

  Raises:
    ValueError: `sha256` is not 8 to 64 hex digits.
    DownloadError: the download failed (the message says why); nothing is
      left at `path` and the temporary file is removed.
  """
  expected = sha256.lower()
  if not re.fullmatch(r'[0-9a-f]{8,64}', expected):
    raise ValueError(f'sha256 must be 8 to 64 hex digits, not {sha256!r}.')
  path = os.path.abspath(os.fspath(path))
  temporary_path = None
  try:
    print(f'Downloading {url} to {path}', file=sys.stderr, flush=True)
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
      os.makedirs(os.path.dirname(path), exist_ok=True)
      descriptor, temporary_path = tempfile.mkstemp(
        dir=os.path.dirname(path), prefix=f'.{os.path.basename(path)}.', suffix='.part'
      )
      with os.fdopen(descriptor, 'wb') as file:
        actual = _copy_and_hash(response, file)
    if not actual.startswith(expected):
      raise errors.DownloadError(
        f'{url} has SHA-256 {actual[:16]}..., not {expected[:16]}...: the file is corrupt '
        'or the address now serves a different one'
      )
    os.replace(temporary_path, path)
    temporary_path = None
  except (OSError, http.client.HTTPException) as error:  # URLError, timeouts, a full disk.
    reason = ' '.join(str(error).split())  # One line, even if the reason has several.
    raise errors.DownloadError(f'{url}: {reason or type(error).__name__}') from error
  finally:
    if temporary_path is not None and os.path.exists(temporary_path):
      os.remove(temporary_path)


def _copy_and_hash(response, file) -> str:
  """Copies the response into `file`; returns the hex SHA-256 of the bytes.

  Raises:
    DownloadError: the connection closed before Content-Length bytes arrived
      (http.client's read returns b'' then instead of raising).
  """
  announced = response.headers.get('Content-Length')
  total_bytes = int(announced) if announced and announced.isdigit() else None
  digest = hashlib.sha256()
  done_bytes, next_report, start = 0, _REPORT_EVERY_BYTES, time.monotonic()
  while chunk := response.read(_CHUNK_BYTES):
    file.write(chunk)
    digest.update(chunk)
    done_bytes += len(chunk)
    if done_bytes >= next_report:
      _report(done_bytes, total_bytes, time.monotonic() - start)
      next_report += _REPORT_EVERY_BYTES
  if total_bytes is not None and done_bytes != total_bytes:
    raise errors.DownloadError(
      f'{response.url}: the connection closed after {done_bytes:,} of {total_bytes:,} bytes'
    )
  _report(done_bytes, total_bytes, time.monotonic() - start)
  return digest.hexdigest()


def _report(done_bytes: int, total_bytes, elapsed_s: float) -> None:
  """One progress line on stderr: bytes so far, of how many, and the rate."""
  of_total = '' if total_bytes is None else f' of {total_bytes / 1e6:.1f}'
  percent = '' if not total_bytes else f' ({100 * done_bytes / total_bytes:.0f}%)'
  rate = done_bytes / 1e6 / max(elapsed_s, 1e-6)
  print(
    f'  {done_bytes / 1e6:.1f}{of_total} MB{percent}, {rate:.1f} MB/s',
    file=sys.stderr,
    flush=True,
  )
