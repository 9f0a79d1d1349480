"""The absl apps end to end, as a user runs them (subprocesses)."""

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = '--config=configs/gan_mnist.py:tiny'


def _run(*args):
  return subprocess.run(
    [sys.executable, '-m', *args], cwd=REPO, capture_output=True, text=True, timeout=300
  )


@pytest.fixture(scope='module')
def trained_run(tmp_path_factory):
  """The workdir of a 3-step tiny run, shared by the tests that sample from one."""
  workdir = str(tmp_path_factory.mktemp('trained') / 'run')
  trained = _run('experiments.train', TINY, f'--workdir={workdir}', '--config.train.num_steps=3')
  assert trained.returncode == 0, trained.stderr[-3000:]
  assert 'step 2/3 | d_loss' in trained.stderr
  return workdir


def test_train_then_sample(trained_run):
  workdir = trained_run
  sampled = _run('experiments.sample', f'--workdir={workdir}', '--num_samples=5')
  assert sampled.returncode == 0, sampled.stderr[-3000:]
  samples = np.load(os.path.join(workdir, 'samples', 'samples.npz'))['samples']
  assert samples.shape == (5, 28, 28, 1) and -1 <= samples.min() and samples.max() <= 1
  assert samples.std() > 0  # Distinct noise gives distinct images.
  assert os.path.exists(os.path.join(workdir, 'samples', 'sample_grid.png'))


@pytest.mark.parametrize(
  'flag, message',
  [
    (
      '--config.train.batchsize=8',
      'Error: no such config field: \'batchsize\'; Did you mean "batch_size" instead of "batchsize"?',
    ),
    (
      '--config.train.batch_size=abc',
      'Error: flag --config.train.batch_size=abc: invalid literal for int()',
    ),
    (
      '--config.loss.name=vanilla',
      "Error: Unknown loss 'vanilla'; valid names: hinge, least_squares, minimax, non_saturating, relativistic_average, wasserstein.",
    ),
    (
      '--config.model.name=vgg',
      "Error: Unknown model 'vgg'; valid names: biggan, dcgan, mlp, resnet, stylegan2, toy_linear, toy_mlp.",
    ),
    ('--config.optimizer.generator.name=adagrad', "Error: Unknown optimizer 'adagrad'"),
    ('--config.train.batch_size=12', 'Error: train.batch_size=12 must be a positive multiple'),
    (
      '--num_processes=2',
      'Error: --coordinator_address, --num_processes and --process_id go together; set all three',
    ),
  ],
)
def test_bad_input_is_one_line_and_non_zero_exit(tmp_path, flag, message):
  result = _run('experiments.train', TINY, f'--workdir={tmp_path}', flag)
  assert result.returncode != 0
  assert message in result.stderr
  assert 'Traceback' not in result.stderr


def test_process_id_outside_the_job_is_one_line(tmp_path):
  result = _run(
    'experiments.train',
    TINY,
    f'--workdir={tmp_path}',
    '--coordinator_address=localhost:1',
    '--num_processes=2',
    '--process_id=2',
  )
  assert result.returncode != 0 and 'Traceback' not in result.stderr
  assert 'Error: --process_id=2 must be in [0, 1] for --num_processes=2.' in result.stderr


@pytest.mark.parametrize('name', ['train', 'evaluate', 'sample'])
def test_the_apps_import_without_starting_jax(name):
  # jax.distributed.initialize must run before any device use: importing an
  # app (and so the library) must not start a backend.
  code = (
    f'import experiments.{name}\n'
    'from jax._src import xla_bridge\n'
    'assert not xla_bridge.backends_are_initialized()'
  )
  result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True)
  assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize('count', ['0', '-5'])
def test_sample_count_must_be_positive(tmp_path, count):
  result = _run('experiments.sample', f'--workdir={tmp_path}', f'--num_samples={count}')
  assert result.returncode != 0 and result.stderr.count('\n') == 1, result.stderr
  assert result.stderr.startswith(f'Error: flag --num_samples={count}: ')


def test_sample_into_an_unwritable_folder_says_where_and_what_to_do(trained_run, tmp_path):
  # Unwritable even for root, unlike chmod: a file where the samples folder should be...
  workdir = tmp_path / 'run'
  shutil.copytree(trained_run, workdir)
  shutil.rmtree(workdir / 'samples')
  (workdir / 'samples').write_text('')
  result = _run('experiments.sample', f'--workdir={workdir}', '--num_samples=2')
  assert result.returncode == 1 and result.stderr.count('\n') == 1, result.stderr
  assert result.stderr.startswith(
    f"Error: Cannot write samples to '{workdir}/samples' (not a directory); "
  )
  assert 'elsewhere with --out_dir=DIR' in result.stderr
  # ... and a full disk, where the file that becomes samples.npz leads to /dev/full.
  elsewhere = tmp_path / 'elsewhere'
  elsewhere.mkdir()
  (elsewhere / 'samples.partial.npz').symlink_to('/dev/full')
  result = _run(
    'experiments.sample', f'--workdir={workdir}', '--num_samples=2', f'--out_dir={elsewhere}'
  )
  assert result.returncode == 1 and 'Traceback' not in result.stderr
  assert f"Error: Cannot write samples to '{elsewhere}' (No space left on device)" in result.stderr
  assert (elsewhere / 'sample_grid.png').exists()  # Written before the disk was full.
  assert sorted(os.listdir(elsewhere)) == ['sample_grid.png']  # No partial file left.


@pytest.mark.parametrize(
  'config, named',
  [
    ('configs/nope.py', 'configs/nope.py'),
    ('configs/nope.py --config.train.batch_size=8', 'configs/nope.py'),
    ('configs', 'configs'),
    ('configs/gan_mnist.py:nope', "Unknown variant 'nope' of gan_mnist"),
    ('{tmp_path}/syntax.py', 'syntax.py'),
    ('{tmp_path}/failing.py', 'ZeroDivisionError'),
    ('{tmp_path}/no_get_config.py', 'get_config'),
  ],
)
def test_config_file_that_cannot_be_loaded_is_one_line(tmp_path, config, named):
  (tmp_path / 'syntax.py').write_text('def get_config(:\n  pass\n')
  (tmp_path / 'failing.py').write_text('def get_config():\n  return 1 / 0\n')
  (tmp_path / 'no_get_config.py').write_text('CONFIG = {}\n')
  flags = config.format(tmp_path=tmp_path).split()
  result = _run('experiments.train', f'--config={flags[0]}', *flags[1:], f'--workdir={tmp_path}')
  assert result.returncode != 0
  assert result.stderr.count('\n') == 1 and result.stderr.startswith('Error: '), result.stderr
  assert flags[0] in result.stderr and named in result.stderr


def test_sample_without_a_run_says_so(tmp_path):
  result = _run('experiments.sample', f'--workdir={tmp_path}')
  assert result.returncode == 1
  assert 'holds no training run' in result.stderr and 'Traceback' not in result.stderr


@pytest.mark.parametrize('signal_number', [signal.SIGTERM, signal.SIGINT])
def test_signal_saves_a_checkpoint_at_the_current_step(tmp_path, signal_number):
  workdir = tmp_path / 'run'
  process = subprocess.Popen(
    [
      sys.executable,
      '-m',
      'experiments.train',
      TINY,
      f'--workdir={workdir}',
      '--config.train.num_steps=100000',
      '--config.train.checkpoint_every=100000',
    ],
    cwd=REPO,
    stderr=subprocess.PIPE,
    text=True,
  )
  deadline = time.time() + 120
  while not (workdir / 'metrics.jsonl').exists() or not (workdir / 'metrics.jsonl').read_text():
    assert time.time() < deadline and process.poll() is None, 'training did not start'
    time.sleep(0.2)
  process.send_signal(signal_number)
  _, stderr = process.communicate(timeout=120)
  assert process.returncode == 128 + signal_number
  name = signal.Signals(signal_number).name
  assert f'\n{name} at step ' in stderr and 'run the same command to resume' in stderr
  step = int(stderr.split(f'{name} at step ')[1].split(':')[0])
  assert 2 <= step < 100000
  assert os.listdir(workdir / 'checkpoints') == [str(step)]


def test_unsupported_image_size_names_the_supported_ones(tmp_path):
  result = _run(
    'experiments.train',
    '--config=configs/dcgan_faces.py:tiny',
    f'--workdir={tmp_path}',
    '--config.data.image_size=48',
  )
  assert result.returncode == 1 and 'Traceback' not in result.stderr
  assert (
    'Error: DCGAN makes square images of side 28, 32, 64, but the data has shape (48, 48, 3)'
    in result.stderr
  )


def test_unwritable_workdir(tmp_path):
  blocker = tmp_path / 'a_file'
  blocker.write_text('')
  result = _run('experiments.train', TINY, f'--workdir={blocker}/run')
  assert result.returncode == 1 and 'Traceback' not in result.stderr
  assert f"Error: Cannot write to the workdir '{blocker}/run'" in result.stderr
