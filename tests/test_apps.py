"""The absl apps end to end, as a user runs them (subprocesses)."""

import os
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = '--config=configs/gan_mnist.py:tiny'


def _run(*args):
  return subprocess.run(
    [sys.executable, '-m', *args], cwd=REPO, capture_output=True, text=True, timeout=300
  )


def test_train_then_sample(tmp_path):
  workdir = str(tmp_path / 'run')
  trained = _run('experiments.train', TINY, f'--workdir={workdir}', '--config.train.num_steps=3')
  assert trained.returncode == 0, trained.stderr[-3000:]
  assert 'step 2/3 | d_loss' in trained.stderr
  sampled = _run('experiments.sample', f'--workdir={workdir}', '--num_samples=5')
  assert sampled.returncode == 0, sampled.stderr[-3000:]
  samples = np.load(os.path.join(workdir, 'samples', 'samples.npz'))['samples']
  assert samples.shape == (5, 28, 28, 1) and -1 <= samples.min() and samples.max() <= 1
  assert samples.std() > 0  # Distinct noise gives distinct images.
  assert os.path.exists(os.path.join(workdir, 'samples', 'sample_grid.png'))


@pytest.mark.parametrize(
  'flag, message',
  [
    ('--config.train.batchsize=8', 'batchsize'),
    ('--config.loss.name=vanilla', "Error: Unknown loss 'vanilla'; valid names: minimax, non_saturating."),
    ('--config.model.name=resnet', "Error: Unknown model 'resnet'; valid names: mlp."),
    ('--config.optimizer.generator.name=adagrad', "Error: Unknown optimizer 'adagrad'"),
    ('--config.train.batch_size=12', 'Error: train.batch_size=12 must be a positive multiple'),
  ],
)
def test_bad_input_is_one_line_and_non_zero_exit(tmp_path, flag, message):
  result = _run('experiments.train', TINY, f'--workdir={tmp_path}', flag)
  assert result.returncode != 0
  assert message in result.stderr
  if message.startswith('Error:'):  # Our own errors: no traceback.
    assert 'Traceback' not in result.stderr


def test_sample_without_a_run_says_so(tmp_path):
  result = _run('experiments.sample', f'--workdir={tmp_path}')
  assert result.returncode == 1
  assert 'holds no training run' in result.stderr and 'Traceback' not in result.stderr
