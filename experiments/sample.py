r"""Draws samples from a trained run: python -m experiments.sample --workdir=DIR [--num_samples=N].

Loads the latest checkpoint in DIR (G's EMA params if the run kept them) and writes DIR/samples/sample_grid.png and
DIR/samples/samples.npz (float32 [N, H, W, C] in [-1, 1]).
"""

import os

import jax
import numpy as np
from absl import flags
from absl import logging

from experiments import app
from gan_jax import images
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
  z = jax.random.normal(
    jax.random.PRNGKey(_SEED.value), (_NUM_SAMPLES.value, config.model.latent_dim)
  )
  samples = np.asarray(generate(state.sampling_generator(), z))
  out_dir = os.path.join(_WORKDIR.value, 'samples')
  images.save_png(os.path.join(out_dir, 'sample_grid.png'), images.image_grid(samples))
  np.savez_compressed(os.path.join(out_dir, 'samples.npz'), samples=samples)
  logging.info('Wrote %d samples from step %d to %s.', len(samples), int(state.step), out_dir)


if __name__ == '__main__':
  app.run(main)
