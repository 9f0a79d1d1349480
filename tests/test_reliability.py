"""No lost work: a killed run resumes exactly; bad input fails with one line."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from configs import gan_mnist
from gan_jax import summaries
from gan_jax import train
from gan_jax import workdirs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = [
  '--config=configs/gan_mnist.py:tiny',
  '--config.train.num_steps=300',
  '--config.train.log_every=10',
  '--config.train.checkpoint_every=50',
  '--config.train.sample_every=1000',
]


def _train_command(workdir):
  return [sys.executable, '-m', 'experiments.train', *FLAGS, f'--workdir={workdir}']


def _final_state(workdir):
  config = workdirs.read_config(str(workdir))
  _, state = train.restore_for_sampling(config, str(workdir))
  return state


def _without_timing(records):
  return [{k: v for k, v in r.items() if k != 'steps_per_sec'} for r in records]


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('uninterrupted') / 'run'
  subprocess.run(_train_command(workdir), cwd=REPO, check=True, capture_output=True, timeout=300)
  return workdir


def test_sigkill_mid_run_then_resume_equals_uninterrupted(tmp_path, uninterrupted):
  workdir = tmp_path / 'run'
  process = subprocess.Popen(_train_command(workdir), cwd=REPO, stderr=subprocess.DEVNULL)
  metrics = workdir / 'metrics.jsonl'
  deadline = time.time() + 120
  while not metrics.exists() or len(metrics.read_text().splitlines()) < 12:
    assert process.poll() is None and time.time() < deadline, 'training ended before the kill'
    time.sleep(0.05)
  process.send_signal(signal.SIGKILL)
  process.wait()
  killed_at = json.loads(metrics.read_text().splitlines()[-1])['step']
  assert killed_at < 300
  subprocess.run(_train_command(workdir), cwd=REPO, check=True, capture_output=True, timeout=300)

  resumed, straight = _final_state(workdir), _final_state(uninterrupted)
  assert int(resumed.step) == int(straight.step) == 300
  jax.tree.map(np.testing.assert_array_equal, resumed, straight)
  assert _without_timing(summaries.read_metrics(str(workdir))) == _without_timing(
    summaries.read_metrics(str(uninterrupted))
  )


def test_a_checkpoint_cut_off_mid_save_is_ignored(tmp_path, uninterrupted):
  # What a kill during a save leaves behind: Orbax writes into a temporary
  # directory and renames it when complete, so a cut-off save is a *-tmp
  # directory, plus metrics logged after the last complete checkpoint.
  workdir = tmp_path / 'run'
  shutil.copytree(uninterrupted, workdir)
  checkpoints = workdir / 'checkpoints'
  for step in os.listdir(checkpoints):
    if int(step) > 200:
      shutil.rmtree(checkpoints / step)
  partial = checkpoints / '250.orbax-checkpoint-tmp'
  shutil.copytree(uninterrupted / 'checkpoints' / '250', partial)
  for name in os.listdir(partial / 'default'):
    if name.startswith('ocdbt') or name == 'd':
      shutil.rmtree(partial / 'default' / name)
  result = subprocess.run(
    _train_command(workdir), cwd=REPO, capture_output=True, text=True, timeout=300
  )
  assert result.returncode == 0, result.stderr[-2000:]
  assert 'Resuming from the checkpoint at step 200' in result.stderr
  jax.tree.map(np.testing.assert_array_equal, _final_state(workdir), _final_state(uninterrupted))
  assert _without_timing(summaries.read_metrics(str(workdir))) == _without_timing(
    summaries.read_metrics(str(uninterrupted))
  )


def test_same_seed_same_run_other_seed_other_run(tmp_path):
  runs = {}
  for name, seed in (('a', 0), ('b', 0), ('c', 1)):
    config = gan_mnist.get_config('tiny')
    config.seed = seed
    runs[name] = train.train_and_evaluate(config, str(tmp_path / name))
  jax.tree.map(np.testing.assert_array_equal, runs['a'], runs['b'])
  assert not np.array_equal(
    runs['a'].generator.params['Dense_0']['kernel'], runs['c'].generator.params['Dense_0']['kernel']
  )
  with open(tmp_path / 'c' / 'config.json') as f:
    assert json.load(f)['seed'] == 1
