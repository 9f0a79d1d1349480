r"""Trains D against fixed generators and checks it against theory (Goodfellow et al. 2014).

  python -m experiments.optimal_discriminator [--config=configs/optimal_discriminator.py]

Writes results.json and optimal_discriminator.png to --workdir (default
runs/optimal_discriminator); see `gan_jax.studies.optimal_discriminator`.
"""

import json

from absl import flags
from absl import logging
from ml_collections import config_flags

from experiments import app
from gan_jax.studies import optimal_discriminator

_CONFIG = config_flags.DEFINE_config_file(
  'config', 'configs/optimal_discriminator.py', 'Study config file.', lock_config=True
)
_WORKDIR = flags.DEFINE_string(
  'workdir', None, 'Output directory; default runs/<config file stem>.'
)


def main(argv):
  del argv
  workdir = _WORKDIR.value or app.default_workdir(flags.FLAGS['config'].config_filename)
  results = optimal_discriminator.run(_CONFIG.value, workdir)
  logging.info('Results in %s/results.json: %s', workdir, json.dumps(results))


if __name__ == '__main__':
  app.run(main)
