"""Tests of downloading the FID Inception weights on first use (issue #20), without internet.

A local `http.server` on 127.0.0.1 serves the bytes: whole, with a wrong hash,
cut off after half of its Content-Length, or not at all (a closed port). The
downloaded bytes are checked against the served ones and their SHA-256 against
hashlib's; a failure must leave neither the target nor a temporary file.
"""

import hashlib
import http.server
import os
import socket
import threading
import time

import pytest

from gan_jax import downloads
from gan_jax import errors
from gan_jax.metrics import inception_weights

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
PAYLOAD = bytes(range(256)) * 40  # 10,240 bytes.
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
STALL_S = 3


class _Handler(http.server.BaseHTTPRequestHandler):
  """GET /whole: the payload; /half: its Content-Length, half of it, a close; /stall: silence."""

  def do_GET(self):  # pylint: disable=invalid-name
    if self.path not in ('/whole', '/half', '/stall'):
      self.send_error(404)
      return
    self.send_response(200)
    self.send_header('Content-Length', str(len(PAYLOAD)))
    self.end_headers()
    if self.path == '/stall':
      time.sleep(STALL_S)
      return
    self.wfile.write(PAYLOAD if self.path == '/whole' else PAYLOAD[: len(PAYLOAD) // 2])

  def log_message(self, *args):  # Keeps the test output quiet.
    del args


@pytest.fixture(scope='module')
def server_url():
  server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  yield f'http://127.0.0.1:{server.server_address[1]}'
  server.shutdown()
  server.server_close()


@pytest.fixture
def closed_port_url():
  with socket.socket() as probe:  # A port just freed: connecting to it is refused.
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
  return f'http://127.0.0.1:{port}/weights.pth'


def assert_nothing_left(folder, target):
  assert not target.exists()
  assert not [name for name in os.listdir(folder) if name.endswith('.part')]


def test_download_writes_the_bytes_and_reports_progress(tmp_path, server_url, capsys):
  target = tmp_path / 'new_folder' / 'file.bin'
  downloads.download(f'{server_url}/whole', target, sha256=PAYLOAD_SHA256, timeout_s=5)
  assert target.read_bytes() == PAYLOAD
  assert os.listdir(target.parent) == ['file.bin']
  progress = capsys.readouterr().err
  assert f'Downloading {server_url}/whole to {target}' in progress
  assert '(100%)' in progress


def test_download_accepts_a_hash_prefix_as_torch_hub_names_do(tmp_path, server_url):
  target = tmp_path / 'file.bin'
  downloads.download(f'{server_url}/whole', target, sha256=PAYLOAD_SHA256[:8], timeout_s=5)
  assert target.read_bytes() == PAYLOAD


def test_wrong_hash_names_both_and_leaves_nothing(tmp_path, server_url):
  target = tmp_path / inception_weights.WEIGHTS_FILENAME
  wrong = f'{int(PAYLOAD_SHA256[:8], 16) ^ 1:08x}' + PAYLOAD_SHA256[8:]
  with pytest.raises(errors.WeightsError) as error:
    inception_weights.download_weights(target, url=f'{server_url}/whole', sha256=wrong, timeout_s=5)
  message = str(error.value)
  assert f'SHA-256 {PAYLOAD_SHA256[:16]}..., not {wrong[:16]}...' in message
  assert '\n' not in message
  assert_nothing_left(tmp_path, target)


def test_refused_connection_fails_in_seconds_saying_where_to_put_the_file(
  tmp_path, closed_port_url
):
  target = tmp_path / inception_weights.WEIGHTS_FILENAME
  start = time.monotonic()
  with pytest.raises(errors.WeightsError) as error:
    inception_weights.download_weights(target, url=closed_port_url, timeout_s=2)
  assert time.monotonic() - start < 5
  message = str(error.value)
  assert '\n' not in message
  for part in (
    f'not at {target} (download failed: {closed_port_url}: <urlopen error',
    f'save the file as {target}',
    inception_weights.WEIGHTS_URL,
    inception_weights.WEIGHTS_ENV_VAR,
    '--config.eval.inception_weights',
  ):
    assert part in message
  assert_nothing_left(tmp_path, target)


def test_interrupted_transfer_leaves_nothing(tmp_path, server_url):
  target = tmp_path / 'file.bin'
  with pytest.raises(errors.DownloadError, match=r'closed after 5,120 of 10,240 bytes'):
    downloads.download(f'{server_url}/half', target, sha256=PAYLOAD_SHA256, timeout_s=5)
  assert_nothing_left(tmp_path, target)


def test_a_stalled_transfer_times_out_and_leaves_nothing(tmp_path, server_url):
  target = tmp_path / 'file.bin'
  start = time.monotonic()
  with pytest.raises(errors.DownloadError, match='timed out'):
    downloads.download(f'{server_url}/stall', target, sha256=PAYLOAD_SHA256, timeout_s=0.3)
  assert time.monotonic() - start < STALL_S
  assert_nothing_left(tmp_path, target)


def test_http_error_leaves_nothing(tmp_path, server_url):
  target = tmp_path / 'file.bin'
  with pytest.raises(errors.DownloadError, match='HTTP Error 404'):
    downloads.download(f'{server_url}/missing', target, sha256=PAYLOAD_SHA256, timeout_s=5)
  assert_nothing_left(tmp_path, target)


def test_a_bad_hash_argument_is_one_line():
  with pytest.raises(ValueError, match='8 to 64 hex digits'):
    downloads.download('http://127.0.0.1:1/x', '/nonexistent/x', sha256='6726')


# load_inception_params: downloads only to the default place.


@pytest.fixture
def fake_download(monkeypatch):
  """Replaces the network with a copy of a tiny torch file; records the calls."""
  with open(os.path.join(FIXTURES, 'tiny_state_dict_zip.pth'), 'rb') as f:
    tiny_torch_file = f.read()
  calls = []

  def download(url, path, *, sha256, timeout_s):
    calls.append((url, os.fspath(path), sha256, timeout_s))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
      f.write(tiny_torch_file)

  monkeypatch.setattr(downloads, 'download', download)
  return calls, hashlib.sha256(tiny_torch_file).hexdigest()


def test_default_place_downloads_then_loads_the_downloaded_file(
  tmp_path, monkeypatch, fake_download
):
  calls, tiny_sha256 = fake_download
  monkeypatch.setenv('HOME', str(tmp_path))
  monkeypatch.delenv(inception_weights.WEIGHTS_ENV_VAR, raising=False)
  default = tmp_path / '.cache' / 'gan_jax' / inception_weights.WEIGHTS_FILENAME
  # The stand-in is not the real file, so the name's hash check rejects it, naming its SHA-256:
  # what was downloaded is what gets loaded.
  with pytest.raises(errors.WeightsError, match=f'{default} has SHA-256 {tiny_sha256[:16]}'):
    inception_weights.load_inception_params(cache_dir=tmp_path / 'npz')
  assert calls == [
    (
      inception_weights.WEIGHTS_URL,
      str(default),
      inception_weights.WEIGHTS_SHA256,
      downloads.DEFAULT_TIMEOUT_S,
    )
  ]


def test_a_path_given_or_from_the_environment_is_never_downloaded_to(
  tmp_path, monkeypatch, fake_download
):
  calls, _ = fake_download
  with pytest.raises(errors.WeightsError, match='the path given'):
    inception_weights.load_inception_params(tmp_path / 'given.pth')
  monkeypatch.setenv(inception_weights.WEIGHTS_ENV_VAR, str(tmp_path / 'from_env.pth'))
  with pytest.raises(errors.WeightsError, match='from_env.pth'):
    inception_weights.load_inception_params()
  assert calls == [] and os.listdir(tmp_path) == []


def test_the_expected_hash_matches_the_name_as_torch_hub_requires():
  name_prefix = inception_weights.WEIGHTS_FILENAME.rsplit('-', 1)[1].removesuffix('.pth')
  assert len(inception_weights.WEIGHTS_SHA256) == 64
  assert inception_weights.WEIGHTS_SHA256.startswith(name_prefix)
