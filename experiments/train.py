r"""Trains a GAN: python -m experiments.train --config=configs/gan_mnist.py [--workdir=DIR].

Every config field can be overridden, e.g. --config.train.batch_size=128.
Running again on the same workdir resumes from its latest checkpoint.
"""

from absl import flags
from ml_collections import config_flags

from experiments import app
from gan_jax import train

_CONFIG = config_flags.DEFINE_config_file(
  'config', None, 'Experiment config file.', lock_config=True
)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Run directory; default runs/<config file stem>.')
flags.mark_flags_as_required(['config'])


def main(argv):
  del argv
  workdir = _WORKDIR.value or app.default_workdir(flags.FLAGS['config'].config_filename)
  train.train_and_evaluate(_CONFIG.value, workdir)


if __name__ == '__main__':
  app.run(main)
