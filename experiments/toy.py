r"""Trains a toy GAN (Strakhov 2018): python -m experiments.toy --config=configs/toy_gaussian.py.

Writes results.json, metrics.jsonl, plots/, curves.png, summary.png and
training.gif to --workdir (default runs/<config stem>[_<variant>]). A toy run
takes seconds to minutes and starts over instead of resuming.
"""

import json

from absl import flags
from absl import logging
from ml_collections import config_flags

from experiments import app
from gan_jax.studies import toy_train

_CONFIG = config_flags.DEFINE_config_file(
  'config', None, 'Toy experiment config file.', lock_config=True
)
_WORKDIR = flags.DEFINE_string(
  'workdir', None, 'Run directory; default runs/<config file stem>[_<variant>].'
)
flags.mark_flags_as_required(['config'])


def default_workdir(config_argument: str) -> str:
  """runs/toy_gaussian for configs/toy_gaussian.py, runs/toy_gaussian_l2 for its :l2 variant."""
  _, _, variant = config_argument.partition(':')
  return app.default_workdir(config_argument) + (f'_{variant}' if variant else '')


def main(argv):
  del argv
  workdir = _WORKDIR.value or default_workdir(flags.FLAGS['config'].config_filename)
  results = toy_train.train_and_evaluate(_CONFIG.value, workdir)
  logging.info('Results in %s/results.json: %s', workdir, json.dumps(results))


if __name__ == '__main__':
  app.run(main)
