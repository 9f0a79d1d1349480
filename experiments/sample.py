r"""Draws samples from a trained run: python -m experiments.sample --workdir=DIR [--num_samples=N].

Loads the latest checkpoint in DIR (G's EMA params if the run kept them) and writes
DIR/samples/sample_grid.png and DIR/samples/samples.npz (samples: float32 [N, H, W, C] in
[-1, 1]; labels: int32 [N] for a class-conditional G, whose grid has one row per class and
N // num_classes columns); --out_dir=FOLDER writes them to FOLDER instead.
"""

import os

import jax
import numpy as np
from absl import flags
from absl import logging

from experiments import app
from gan_jax import assembly
from gan_jax import errors
from gan_jax import images
from gan_jax import sampling
from gan_jax import train
from gan_jax import workdirs

_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory of a training run.')
_NUM_SAMPLES = flags.DEFINE_integer('num_samples', 64, 'How many samples to draw.', lower_bound=1)
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the noise.')
_OUT_DIR = flags.DEFINE_string('out_dir', None, 'Folder for the samples; default WORKDIR/samples.')
flags.mark_flags_as_required(['workdir'])


def _unwritable(out_dir: str, error: OSError) -> errors.ConfigError:
  reason = 'not a directory' if os.path.isfile(out_dir) else error.strerror
  return errors.ConfigError(
    f'Cannot write samples to {out_dir!r} ({reason}); make it a writable folder or write them '
    'elsewhere with --out_dir=DIR.'
  )


def _write_samples(out_dir: str, samples: np.ndarray, labels, num_columns: int) -> None:
  """Writes out_dir/sample_grid.png and out_dir/samples.npz.

  Raises:
    ConfigError: if `out_dir` cannot be written (read-only or full), naming it
      and the way out.
  """
  try:
    grid = images.image_grid(samples, num_columns=num_columns or None)
    images.save_png(os.path.join(out_dir, 'sample_grid.png'), grid)
    arrays = {'samples': samples} if labels is None else {'samples': samples, 'labels': labels}
    np.savez_compressed(os.path.join(out_dir, 'samples.npz'), **arrays)
  except OSError as e:
    raise _unwritable(out_dir, e) from e


def main(argv):
  del argv
  config = workdirs.read_config(_WORKDIR.value)
  out_dir = _OUT_DIR.value or os.path.join(_WORKDIR.value, 'samples')
  try:
    # Before the checkpoint is loaded and G runs, so that a bad folder fails at once.
    os.makedirs(out_dir, exist_ok=True)
  except OSError as e:
    raise _unwritable(out_dir, e) from e
  generate, state = train.restore_for_sampling(config, _WORKDIR.value)
  if jax.process_index() != 0:
    return  # Every process reads the checkpoint (Orbax's restore is collective); one writes.
  num_classes = workdirs.read_data_info(_WORKDIR.value).num_classes
  z, labels, columns = sampling.sample_grid_inputs(
    _SEED.value,
    _NUM_SAMPLES.value,
    config.model.latent_dim,
    num_classes if assembly.is_conditional(config) else 0,
  )
  samples = np.asarray(generate(state.sampling_generator(), z, labels))
  _write_samples(out_dir, samples, labels, columns)
  logging.info('Wrote %d samples from step %d to %s.', len(samples), int(state.step), out_dir)


if __name__ == '__main__':
  app.run(main)
