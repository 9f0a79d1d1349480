r"""Draws samples from a trained run: python -m experiments.sample --workdir=DIR [--num_samples=N].

Loads the latest checkpoint in DIR (G's EMA params if the run kept them) and writes DIR/samples/sample_grid.png and
DIR/samples/samples.npz (samples: float32 [N, H, W, C] in [-1, 1]; labels: int32 [N] for a class-conditional G,
whose grid has one row per class and N // num_classes columns).
"""

import os

import numpy as np
from absl import flags
from absl import logging

from experiments import app
from gan_jax import assembly
from gan_jax import images
from gan_jax import sampling
from gan_jax import train
from gan_jax import workdirs

_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory of a training run.')
_NUM_SAMPLES = flags.DEFINE_integer('num_samples', 64, 'How many samples to draw.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the noise.')
flags.mark_flags_as_required(['workdir'])


def main(argv):
  del argv
  config = workdirs.read_config(_WORKDIR.value)
  generate, state = train.restore_for_sampling(config, _WORKDIR.value)
  num_classes = workdirs.read_data_info(_WORKDIR.value).num_classes
  z, labels, columns = sampling.sample_grid_inputs(
    _SEED.value,
    _NUM_SAMPLES.value,
    config.model.latent_dim,
    num_classes if assembly.is_conditional(config) else 0,
  )
  samples = np.asarray(generate(state.sampling_generator(), z, labels))
  out_dir = os.path.join(_WORKDIR.value, 'samples')
  grid = images.image_grid(samples, num_columns=columns or None)
  images.save_png(os.path.join(out_dir, 'sample_grid.png'), grid)
  arrays = {'samples': samples} if labels is None else {'samples': samples, 'labels': labels}
  np.savez_compressed(os.path.join(out_dir, 'samples.npz'), **arrays)
  logging.info('Wrote %d samples from step %d to %s.', len(samples), int(state.step), out_dir)


if __name__ == '__main__':
  app.run(main)
