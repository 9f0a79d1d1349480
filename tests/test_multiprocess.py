"""One job of two processes on this machine, as a cluster runs one across hosts.

Each process is `python -m experiments.train` with 4 CPU devices, joined by
--coordinator_address/--num_processes/--process_id, its collectives over
gloo. The job must train exactly as one process with 8 devices does (up to
the order of the floating-point sums of the cross-process mean), stop
together on a signal to one process, stop within a bounded time when a
process dies, and hand its checkpoints to a job of another size. Every launch
has a time limit: a hung collective fails the test instead of the suite.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
from PIL import Image

from configs import dcgan_faces
from configs import gan_mnist
from gan_jax import checkpoint
from gan_jax import summaries
from gan_jax import train
from gan_jax import workdirs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCH_TIMEOUT = 300  # Seconds for a whole launch: start-up, compiling, a dozen steps.
# Losses and parameters: the cross-process mean adds in another order than
# the in-process one, so values agree to float32 rounding, amplified a little
# by Adam's normalization over a dozen steps.
RTOL, ATOL = 1e-4, 1e-5


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def _launch(workdir, config_args, log_dir, num_processes=2, extra_flags=()):
  """Starts the processes of one training job; returns them (their output in log_dir)."""
  port = _free_port()
  env = dict(
    os.environ,
    XLA_FLAGS=f'--xla_force_host_platform_device_count={8 // num_processes}',
    JAX_PLATFORMS='cpu',
  )
  processes = []
  for index in range(num_processes):
    command = [
      sys.executable,
      '-m',
      'experiments.train',
      *config_args,
      f'--workdir={workdir}',
      f'--coordinator_address=localhost:{port}',
      f'--num_processes={num_processes}',
      f'--process_id={index}',
      *extra_flags,
    ]
    log = open(os.path.join(log_dir, f'process_{index}.log'), 'w')  # noqa: SIM115
    processes.append(
      subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    )
  return processes


def _wait(processes, log_dir, timeout=LAUNCH_TIMEOUT) -> list[int]:
  """The exit codes; kills every process and fails if any outlives `timeout` seconds."""
  deadline = time.monotonic() + timeout
  codes = []
  for process in processes:
    try:
      codes.append(process.wait(max(1.0, deadline - time.monotonic())))
    except subprocess.TimeoutExpired:
      for p in processes:
        p.kill()
      pytest.fail(f'the job did not finish in {timeout} s (a hung collective?)\n{_logs(log_dir)}')
  return codes


def _logs(log_dir, tail=3000) -> str:
  """The processes' output (the last `tail` characters of each; None: all)."""
  texts = []
  for name in sorted(n for n in os.listdir(log_dir) if n.endswith('.log')):
    with open(os.path.join(log_dir, name)) as f:
      texts.append(f'--- {name}\n' + f.read()[-tail if tail else 0 :])
  return '\n'.join(texts)


def _run_job(workdir, config_args, log_dir, **kwargs):
  processes = _launch(workdir, config_args, log_dir, **kwargs)
  codes = _wait(processes, log_dir)
  assert codes == [0] * len(processes), _logs(log_dir)
  logs = _logs(log_dir, tail=None)
  assert 'Deprecat' not in logs and 'FutureWarning' not in logs, logs


def _assert_same_run(workdir, reference_workdir):
  """Same losses at every logged step, same final parameters, same final grid."""
  records = summaries.read_metrics(workdir)
  reference = summaries.read_metrics(reference_workdir)
  assert [r['step'] for r in records] == [r['step'] for r in reference]
  for record, expected in zip(records, reference):
    for name, value in expected.items():
      if name != 'steps_per_sec':
        np.testing.assert_allclose(record[name], value, RTOL, ATOL, err_msg=f'{name} {record}')
  states = []
  for path in (workdir, reference_workdir):
    states.append(train.restore_for_sampling(workdirs.read_config(path), path)[1])
  assert int(states[0].step) == int(states[1].step)
  jax.tree.map(
    lambda a, b: np.testing.assert_allclose(np.asarray(a), np.asarray(b), RTOL, ATOL), *states
  )
  step = int(states[1].step)
  grids = [
    np.asarray(Image.open(workdirs.sample_path(p, step)), np.int32)
    for p in (workdir, reference_workdir)
  ]
  assert np.abs(grids[0] - grids[1]).max() <= 1  # At most a rounding step of a pixel.


def _overrides(config_name, **fields):
  return [
    f'--config=configs/{config_name}.py:tiny',
    *(f'--config.{k}={v}' for k, v in fields.items()),
  ]


def _config(module, fields):
  config = module.get_config('tiny')
  for path, value in fields.items():
    section, name = path.split('.')
    config[section][name] = value
  return config


# A dozen steps, each logged; the grid and checkpoint at the end.
MNIST_FIELDS = {
  'train.num_steps': 12,
  'train.log_every': 1,
  'train.sample_every': 12,
  'train.checkpoint_every': 6,
  # Evaluation split over the processes, equal to one process's.
  'eval.every': 12,
}
FACES_FIELDS = {'train.num_steps': 12, 'train.log_every': 1, 'train.checkpoint_every': 12}


@pytest.mark.parametrize(
  'module, fields',
  [(gan_mnist, MNIST_FIELDS), (dcgan_faces, FACES_FIELDS)],
  ids=['gan_mnist', 'dcgan_faces'],
)
def test_two_processes_train_as_one(tmp_path, module, fields):
  reference = str(tmp_path / 'one_process')
  train.train_and_evaluate(_config(module, fields), reference)  # 1 process x 8 devices.
  two = str(tmp_path / 'two_processes')
  name = module.__name__.split('.')[-1]
  _run_job(two, _overrides(name, **fields), tmp_path)
  _assert_same_run(two, reference)
  if fields.get('eval.every'):
    assert 'eval/fid' in summaries.read_metrics(two)[-1]


def test_a_checkpoint_of_one_process_resumes_in_two(tmp_path):
  reference = str(tmp_path / 'uninterrupted')
  train.train_and_evaluate(_config(gan_mnist, MNIST_FIELDS), reference)
  resumed = str(tmp_path / 'resumed')
  first_half = {**MNIST_FIELDS, 'train.num_steps': 6, 'eval.every': 0}  # No evaluation at its end.
  train.train_and_evaluate(_config(gan_mnist, first_half), resumed)
  _run_job(resumed, _overrides('gan_mnist', **MNIST_FIELDS), tmp_path)
  _assert_same_run(resumed, reference)


def _wait_for_checkpoint(workdir, processes, log_dir, timeout=LAUNCH_TIMEOUT) -> None:
  manifests = os.path.join(workdir, 'checkpoint_manifests')
  deadline = time.monotonic() + timeout
  while not (os.path.isdir(manifests) and os.listdir(manifests)):
    if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
      for p in processes:
        p.kill()
      pytest.fail(f'no checkpoint was completed\n{_logs(log_dir)}')
    time.sleep(0.5)


def test_a_signal_to_one_process_stops_both_at_the_same_step(tmp_path):
  workdir = str(tmp_path / 'run')
  fields = {'train.num_steps': 100_000, 'train.log_every': 5, 'train.checkpoint_every': 10}
  processes = _launch(workdir, _overrides('gan_mnist', **fields), tmp_path)
  _wait_for_checkpoint(workdir, processes, tmp_path)
  processes[1].send_signal(signal.SIGTERM)  # Process 1 alone: a preempted host.
  assert _wait(processes, tmp_path) == [128 + signal.SIGTERM] * 2, _logs(tmp_path)
  logs = _logs(tmp_path)
  stopped = {
    line.split(' at step ')[1].split(':')[0]
    for line in logs.splitlines()
    if line.startswith('SIGTERM at step')
  }
  assert len(stopped) == 1, logs  # Both processes name one step...
  (step,) = stopped
  assert int(step) % 5 == 0  # ... where they agreed: a log step.
  # The checkpoint of that step, written by two processes, resumes in one.
  state = train.train_and_evaluate(
    _config(gan_mnist, {**fields, 'train.num_steps': int(step) + 2}), workdir
  )
  assert int(state.step) == int(step) + 2
  assert [r['step'] for r in summaries.read_metrics(workdir)][-1] == int(step) + 2


def test_when_a_process_dies_the_other_stops_and_the_run_resumes(tmp_path):
  workdir = str(tmp_path / 'run')
  fields = {'train.num_steps': 100_000, 'train.log_every': 5, 'train.checkpoint_every': 10}
  heartbeat = 10
  processes = _launch(
    workdir,
    _overrides('gan_mnist', **fields),
    tmp_path,
    extra_flags=[f'--heartbeat_timeout={heartbeat}'],
  )
  _wait_for_checkpoint(workdir, processes, tmp_path)
  processes[1].kill()
  start = time.monotonic()
  codes = _wait(processes, tmp_path, timeout=heartbeat + 90)
  assert codes[0] != 0 and time.monotonic() - start < heartbeat + 90
  with open(tmp_path / 'process_0.log') as f:
    assert 'another task died' in f.read()  # What JAX's runtime says before it stops process 0.
  # The same job, now one process, resumes from the newest complete checkpoint.
  manager = checkpoint.create_manager(workdir, max_to_keep=3)
  newest = max(manager.all_steps())
  assert newest >= 10
  state = train.train_and_evaluate(
    _config(gan_mnist, {**fields, 'train.num_steps': newest + 2}), workdir
  )
  assert int(state.step) == newest + 2
  assert summaries.read_metrics(workdir)[-1]['step'] == newest + 2


def test_when_process_0_cannot_start_the_others_stop_too(tmp_path):
  workdir = str(tmp_path / 'run')
  held = workdirs.lock(workdir)  # Another job is training there.
  try:
    processes = _launch(workdir, _overrides('gan_mnist'), tmp_path)
    codes = _wait(processes, tmp_path, timeout=120)  # Not the heartbeat's 100 s on top.
  finally:
    workdirs.unlock(held)
  assert codes == [1, 1], _logs(tmp_path)
  with open(tmp_path / 'process_0.log') as f:
    assert 'Error: ' in f.read()
  with open(tmp_path / 'process_1.log') as f:
    assert 'Error: Process 0 of the job stopped; its output says why.' in f.read()
