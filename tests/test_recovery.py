"""Nothing lost, nothing silently wrong: the run's files survive faults and mistakes.

Each test is a fault a user or an operator met (issue "Reliability II"): a
damaged checkpoint, a damaged metrics.jsonl, two runs on one workdir, a
resume with another architecture, a state that diverged at a checkpoint
step, a full disk, and metrics windows cut by checkpoints.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import gan_mnist
from gan_jax import errors
from gan_jax import step as step_lib
from gan_jax import summaries
from gan_jax import train
from gan_jax import workdirs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(**train_fields):
  config = gan_mnist.get_config('tiny')  # 6 steps, metrics every 2, checkpoints every 3.
  config.train.update(train_fields)
  return config


def _rows(workdir):
  return [
    {k: v for k, v in r.items() if k != 'steps_per_sec'} for r in summaries.read_metrics(workdir)
  ]


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
  """A finished gan_mnist:tiny run (checkpoints 3 and 6) and its final state."""
  workdir = str(tmp_path_factory.mktemp('finished') / 'run')
  return workdir, train.train_and_evaluate(_config(), workdir)


def _copy(finished, tmp_path):
  workdir = str(tmp_path / 'run')
  shutil.copytree(finished[0], workdir)
  return workdir


def _damage(kind: str, step_dir: str) -> None:
  if kind == 'truncated':
    for path in glob.glob(f'{step_dir}/default/ocdbt.process_0/d/*'):
      with open(path, 'r+b') as f:
        f.truncate(os.path.getsize(path) // 2)
  elif kind == 'random':
    for path in glob.glob(f'{step_dir}/default/ocdbt.process_0/d/*'):
      with open(path, 'wb') as f:
        f.write(np.random.default_rng(0).bytes(os.path.getsize(path)))
  elif kind == 'metadata':
    with open(f'{step_dir}/default/_METADATA', 'w') as f:
      f.write('garbage{')
  else:  # 'emptied'
    shutil.rmtree(step_dir)
    os.makedirs(step_dir)


@pytest.mark.parametrize('kind', ['truncated', 'random', 'metadata', 'emptied'])
def test_a_damaged_newest_checkpoint_is_set_aside_and_the_one_before_restored(
  finished, tmp_path, kind, caplog
):
  workdir = _copy(finished, tmp_path)
  _damage(kind, f'{workdir}/checkpoints/6')
  state = train.train_and_evaluate(_config(), workdir)  # Resumes at 3, trains 3 more steps.
  # Nothing is lost: the retrained steps repeat the original ones bit for bit.
  jax.tree.map(np.testing.assert_array_equal, state, finished[1])
  assert os.listdir(f'{workdir}/checkpoints_damaged') == ['6']
  warnings = [r.getMessage() for r in caplog.records if 'is damaged' in r.getMessage()]
  assert len(warnings) == 1 and '\n' not in warnings[0]
  assert 'checkpoints_damaged/6' in warnings[0] and 'step 6' in warnings[0]
  assert [r['step'] for r in _rows(workdir)] == [2, 4, 6]


def test_resuming_with_another_architecture_keeps_the_recorded_config(finished, tmp_path):
  workdir = _copy(finished, tmp_path)
  config = _config(num_steps=9)
  config.model.latent_dim = 32
  with pytest.raises(errors.CheckpointError, match='another config'):
    train.train_and_evaluate(config, workdir)
  assert workdirs.read_config(workdir).model.latent_dim == gan_mnist.get_config().model.latent_dim
  _, state = train.restore_for_sampling(workdirs.read_config(workdir), workdir)
  assert int(state.step) == 6


def test_a_state_that_diverged_at_a_checkpoint_step_is_never_saved(tmp_path, monkeypatch):
  # G's update overflows at step 3, a checkpoint step: the metrics of step 3
  # were computed before that update and are finite, the state is not.
  original = step_lib.train_step

  def overflowing_step(state, *batch, gan, due=None):
    new_state, metrics = original(state, *batch, gan=gan, due=due)
    overflow = jnp.where(new_state.step == 3, jnp.inf, 1.0)
    params = jax.tree.map(lambda p: p * overflow, new_state.generator.params)
    return new_state.replace(generator=new_state.generator.replace(params=params)), metrics

  monkeypatch.setattr(step_lib, 'train_step', overflowing_step)
  workdir = str(tmp_path / 'run')
  with pytest.raises(
    errors.TrainingDivergedError,
    match='at step 3: NaN or Inf in generator/params/Dense_0/bias, .*Last good checkpoint: none yet',
  ):
    train.train_and_evaluate(_config(), workdir)
  assert os.listdir(f'{workdir}/checkpoints') == []


def test_damaged_lines_of_metrics_jsonl_lose_nothing_else(finished, tmp_path, caplog):
  workdir = _copy(finished, tmp_path)
  path = os.path.join(workdir, 'metrics.jsonl')
  with open(path, 'rb') as f:
    lines = f.read().splitlines(keepends=True)
  # Garbage between rows, random bytes, and a last row cut off before its newline.
  damaged = lines[:1] + [b'{"step": 3, "d_lo\n', bytes(range(128, 256)) + b'\n'] + lines[1:]
  with open(path, 'wb') as f:
    f.write(b''.join(damaged).rstrip(b'\n'))
  train.train_and_evaluate(_config(num_steps=8), workdir)
  assert [r['step'] for r in _rows(workdir)] == [2, 4, 6, 8]
  assert sum('damaged line' in r.getMessage() for r in caplog.records) == 2


def test_a_second_run_on_a_workdir_in_use_fails_at_once_naming_the_first(tmp_path):
  workdir = str(tmp_path / 'run')
  other = subprocess.Popen(['sleep', '60'])
  try:
    holder = workdirs.lock(workdir)
    with open(os.path.join(workdir, 'train.lock'), 'w') as f:
      f.write(str(other.pid))  # As if that process had taken it.
    with pytest.raises(errors.ConfigError, match=f'Another training run \\(PID {other.pid}\\)'):
      train.train_and_evaluate(_config(), workdir)
    workdirs.unlock(holder)
  finally:
    other.kill()
  # The lock of a process that has ended is taken over.
  assert int(train.train_and_evaluate(_config(), workdir).step) == 6


def test_checkpoints_between_log_steps_change_no_logged_row(tmp_path):
  # checkpoint_every=3 does not divide log_every=4: the rows at 4 and 8 must
  # average all 4 steps, also after resuming from the checkpoint at step 3.
  aligned = str(tmp_path / 'aligned')
  train.train_and_evaluate(_config(num_steps=8, log_every=4, checkpoint_every=4), aligned)
  workdir = str(tmp_path / 'run')
  train.train_and_evaluate(_config(num_steps=8, log_every=4, checkpoint_every=3), workdir)
  assert _rows(workdir) == _rows(aligned)
  for step in ('6', '8'):  # Back to the checkpoint at step 3.
    shutil.rmtree(os.path.join(workdir, 'checkpoints', step))
  train.train_and_evaluate(_config(num_steps=8, log_every=4, checkpoint_every=3), workdir)
  assert _rows(workdir) == _rows(aligned)


def test_a_disk_that_fills_mid_run_is_one_error_and_the_run_resumes_once_there_is_space(
  tmp_path,
):
  disk = tmp_path / 'disk'
  disk.mkdir()
  mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', str(disk)])
  if mounted.returncode:
    pytest.skip('cannot mount a small tmpfs here (needs root) to fill a disk')
  try:
    workdir = str(disk / 'run')
    train.train_and_evaluate(_config(), workdir)
    # Leave room for the metrics and a sample grid, not for the next checkpoint.
    free_kib = shutil.disk_usage(disk).free // 1024
    subprocess.run(['dd', 'if=/dev/zero', f'of={disk}/filler', 'bs=1k', f'count={free_kib - 150}'])
    command = [
      sys.executable, '-m', 'experiments.train', '--config=configs/gan_mnist.py:tiny',
      '--config.train.num_steps=12', f'--workdir={workdir}',
    ]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    said = [line for line in result.stderr.splitlines() if not re.match(r'[IW]\d{4} ', line)]
    assert result.returncode == 1 and len(said) == 1, result.stderr[-3000:]
    assert said[0].startswith(f'Error: Cannot write to {workdir} (No space left on device)')
    os.remove(disk / 'filler')
    state = train.train_and_evaluate(_config(num_steps=12), workdir)
    assert int(state.step) == 12
    assert [r['step'] for r in _rows(workdir)] == [2, 4, 6, 8, 10, 12]
  finally:
    subprocess.run(['umount', str(disk)])


def test_the_metrics_window_is_kept_per_checkpoint(tmp_path):
  workdir = str(tmp_path)
  summaries.save_metrics_window(workdir, 3, [{'d_loss': np.float32(0.1)}])
  assert summaries.load_metrics_window(workdir, 3) == [{'d_loss': np.float32(0.1)}]
  assert summaries.load_metrics_window(workdir, 6) == []
  summaries.prune_metrics_windows(workdir, {6})
  assert summaries.load_metrics_window(workdir, 3) == []
  with open(os.path.join(workdir, 'metrics.jsonl'), 'w') as f:
    f.write(json.dumps({'step': 1}) + '\n')
  assert summaries.read_metrics(workdir) == [{'step': 1}]
