r"""Evaluates a trained run: python -m experiments.evaluate --workdir=DIR [--config.eval.metrics=fid,is].

Loads the latest checkpoint in DIR (G's EMA params if the run kept them),
draws --config.eval.num_samples images, scores them against real images of
the run's data set with the metrics named in --config.eval.metrics (any of
gan_jax.evaluation.METRICS), prints a table and writes DIR/eval.json: every
number with its protocol (sample counts, reference split, feature network,
resize, metric settings). The eval settings are gan_jax.evaluation's defaults
with the --config.eval.* overrides given here; the data comes from the run.
For an MNIST run the features come from the bundled MNIST classifier; for
other data from the FID Inception-v3, whose weights file the error message
says how to get.
"""

import json
import os

import jax
import ml_collections
from absl import flags
from ml_collections import config_flags

from experiments import app
from gan_jax import assembly
from gan_jax import config_sections
from gan_jax import evaluation
from gan_jax import train
from gan_jax import workdirs

_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory of a training run.')
_CONFIG = config_flags.DEFINE_config_dict(
  'config',
  ml_collections.ConfigDict({'eval': config_sections.eval_config()}),
  'Evaluation settings; override as --config.eval.metrics=fid,kid.',
  lock_config=True,
)
flags.mark_flags_as_required(['workdir'])


def format_table(step: int, results: dict[str, float]) -> str:
  """The results as a two-column text table."""
  width = max(len(name) for name in results)
  lines = [f'step {step}', *(f'  {name:<{width}}  {value:.6g}' for name, value in results.items())]
  return '\n'.join(lines)


def main(argv):
  del argv
  workdir = _WORKDIR.value
  run_config = workdirs.read_config(workdir)
  info = workdirs.read_data_info(workdir)
  generate, state = train.restore_for_sampling(run_config, workdir)
  config = ml_collections.ConfigDict({**run_config.to_dict(), 'eval': _CONFIG.value.eval.to_dict()})
  evaluator = evaluation.Evaluator(
    config,
    generate=generate,
    latent_dim=run_config.model.latent_dim,
    image_shape=info.image_shape,
    num_classes=info.num_classes if assembly.is_conditional(run_config) else 0,
  )
  results = evaluator.evaluate(state.sampling_generator())  # Split over the processes.
  if jax.process_index() != 0:
    return
  step = int(state.step)
  print(format_table(step, results))
  record = {
    'step': step,
    'generator': 'EMA of the params' if state.generator_ema is not None else 'params',
    'results': results,
    'protocol': evaluator.protocol,
  }
  path = os.path.join(workdir, 'eval.json')
  with open(path + '.partial', 'w', encoding='utf-8') as f:
    json.dump(record, f, indent=2)
  os.replace(path + '.partial', path)


if __name__ == '__main__':
  app.run(main)
