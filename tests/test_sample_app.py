"""experiments.sample's modes end to end (subprocesses) on a tiny class-conditional run."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIDE = 28 + 2  # A bundled MNIST digit and image_grid's padding.


def _sample(workdir, *flags):
  return subprocess.run(
    [sys.executable, '-m', 'experiments.sample', f'--workdir={workdir}', *flags],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=300,
  )


@pytest.fixture(scope='module')
def conditional_run(tmp_path_factory):
  """The workdir of a 2-step tiny cGAN run (10 digit classes)."""
  workdir = str(tmp_path_factory.mktemp('trained') / 'run')
  trained = subprocess.run(
    [
      sys.executable,
      '-m',
      'experiments.train',
      '--config=configs/cgan_mnist.py:tiny',
      f'--workdir={workdir}',
      '--config.train.num_steps=2',
    ],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert trained.returncode == 0, trained.stderr[-3000:]
  return workdir


def _picture(path):
  return np.asarray(Image.open(path))


def test_interpolation_rows_truncated_and_in_one_class(conditional_run, tmp_path):
  result = _sample(
    conditional_run,
    '--mode=interpolation',
    '--num_latents=3',
    '--num_steps=4',
    '--truncation=0.5',
    '--label=7',
    f'--out_dir={tmp_path}',
  )
  assert result.returncode == 0, result.stderr[-3000:]
  assert os.listdir(tmp_path) == ['interpolation_slerp_seed0_t0.5_class7.png']
  picture = _picture(tmp_path / 'interpolation_slerp_seed0_t0.5_class7.png')
  assert picture.shape == (3 * SIDE + 2, 4 * SIDE + 2)
  cells = [picture[2 + r * SIDE :][:28, 2 + c * SIDE :][:, :28] for r in range(3) for c in range(4)]
  assert len({cell.tobytes() for cell in cells}) == 12  # Every step a different z.


def test_walk_is_a_looping_gif_of_every_frame(conditional_run, tmp_path):
  result = _sample(
    conditional_run, '--mode=walk', '--num_latents=3', '--num_steps=4', '--fps=5', '--seed=1'
  )
  assert result.returncode == 0, result.stderr[-3000:]
  gif = Image.open(os.path.join(conditional_run, 'samples', 'walk_slerp_seed1.gif'))
  assert gif.n_frames == 12 and gif.size == (28, 28)
  assert gif.info['loop'] == 0 and gif.info['duration'] == 200


def test_classes_has_a_row_per_class_and_a_z_per_column(conditional_run, tmp_path):
  result = _sample(conditional_run, '--mode=classes', '--num_latents=2', f'--out_dir={tmp_path}')
  assert result.returncode == 0, result.stderr[-3000:]
  picture = _picture(tmp_path / 'classes_seed0.png')
  assert picture.shape == (10 * SIDE + 2, 2 * SIDE + 2)
  # The same z in column 0 of the default grid, whose rows are the classes too.
  result = _sample(conditional_run, '--num_samples=20', f'--out_dir={tmp_path}')
  assert result.returncode == 0, result.stderr[-3000:]
  np.testing.assert_array_equal(_picture(tmp_path / 'sample_grid.png'), picture)


@pytest.fixture
def unconditional_copy(conditional_run, tmp_path):
  """The run's files with model.conditioning='none': enough for the checks before G loads."""
  workdir = tmp_path / 'unconditional'
  workdir.mkdir()
  for name in ('config.json', 'data.json'):
    shutil.copy(os.path.join(conditional_run, name), workdir)
  config = json.loads((workdir / 'config.json').read_text())
  config['model']['conditioning'] = 'none'
  (workdir / 'config.json').write_text(json.dumps(config))
  return workdir


@pytest.mark.parametrize(
  'flags, message',
  [
    (['--fps=3'], 'Error: --fps does not apply to --mode=grid; it is read by --mode=walk.'),
    (
      ['--mode=classes', '--interpolation=linear'],
      '--interpolation does not apply to --mode=classes; it is read by --mode=interpolation or walk.',
    ),
    (['--mode=walk', '--num_latents=1'], 'Error: --mode=walk needs --num_latents of at least 2'),
    (
      ['--mode=walk', '--label=10'],
      'is not a class of the run in {workdir}: its classes are 0 to 9.',
    ),
    (['--truncation=0'], 'Error: flag --truncation=0.0: must be positive'),
    (['--mode=interpolation', '--interpolation=cubic'], 'Error: flag --interpolation=cubic: '),
  ],
)
def test_bad_flags_are_one_line(conditional_run, flags, message):
  result = _sample(conditional_run, *flags)
  assert result.returncode != 0 and result.stderr.count('\n') == 1, result.stderr
  assert message.format(workdir=conditional_run) in result.stderr


@pytest.mark.parametrize('flags', [['--mode=classes'], ['--mode=interpolation', '--label=3']])
def test_classes_of_an_unconditional_run_is_one_line(unconditional_copy, flags):
  result = _sample(unconditional_copy, *flags)
  assert result.returncode == 1 and result.stderr.count('\n') == 1, result.stderr
  assert 'needs a class-conditional G, but the run in' in result.stderr


@pytest.mark.skipif(
  importlib.util.find_spec('imageio_ffmpeg') is not None, reason='imageio-ffmpeg is installed'
)
def test_mp4_without_imageio_ffmpeg_says_what_to_install(conditional_run):
  result = _sample(conditional_run, '--mode=walk', '--video=mp4')
  assert result.returncode == 1 and result.stderr.count('\n') == 1, result.stderr
  assert result.stderr.endswith('pip install imageio-ffmpeg.\n')


@pytest.mark.skipif(
  importlib.util.find_spec('imageio_ffmpeg') is None, reason='needs imageio-ffmpeg'
)
def test_walk_as_mp4_beside_the_gif(conditional_run, tmp_path):
  result = _sample(
    conditional_run,
    '--mode=walk',
    '--num_latents=2',
    '--num_steps=3',
    '--video=mp4',
    f'--out_dir={tmp_path}',
  )
  assert result.returncode == 0, result.stderr[-3000:]
  assert sorted(os.listdir(tmp_path)) == ['walk_slerp_seed0.gif', 'walk_slerp_seed0.mp4']
