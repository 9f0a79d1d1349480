r"""Scores a trained run, or any two image sets, with the metrics of --config.eval.metrics.

  python -m experiments.evaluate --workdir=DIR [--config.eval.metrics=fid,is]
  python -m experiments.evaluate --images=DIR_OR_NPZ --reference=DIR_OR_NPZ_OR_STATS [--out=F]

With --workdir: loads the latest checkpoint in DIR (G's EMA params if the run
kept them), draws --config.eval.num_samples images, scores them against real
images of the run's data set, prints a table and writes DIR/eval.json.

With --images and --reference: scores every image of one set against every
image of the other, e.g. samples of another codebase against a data set.
Each is a folder of image files, an .npz/.npy array of images (uint8 in
[0, 255] or floats in [-1, 1]), and the reference may be FID statistics
(an .npz of mu and sigma, as pytorch-fid, TTUR and experiments.fid_stats write
them), which serve FID and IS. Results go to --out (default ./eval.json).

Every number is written with its protocol (sample counts, where the images
came from, the feature network and its resize, each metric's settings); the
metrics are any of gan_jax.scoring.METRICS. The eval settings are
gan_jax.config_sections.eval_config's defaults with the --config.eval.*
overrides given here. For 28x28x1 images the features come from the bundled
MNIST classifier, otherwise from the FID Inception-v3 (downloaded on first use).
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
from gan_jax import errors
from gan_jax import evaluation
from gan_jax import image_sets
from gan_jax import train
from gan_jax import workdirs

_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory of a training run to score.')
_IMAGES = flags.DEFINE_string(
  'images', None, 'Images to score instead of a run: a folder, or an .npz/.npy array.'
)
_REFERENCE = flags.DEFINE_string(
  'reference', None, 'With --images: real images (folder, .npz/.npy) or FID statistics (.npz).'
)
_OUT = flags.DEFINE_string(
  'out', None, 'Where the results go; default WORKDIR/eval.json, or ./eval.json with --images.'
)
_CONFIG = config_flags.DEFINE_config_dict(
  'config',
  ml_collections.ConfigDict({'eval': config_sections.eval_config()}),
  'Evaluation settings; override as --config.eval.metrics=fid,kid.',
  lock_config=True,
)


def format_table(heading: str, results: dict[str, float]) -> str:
  """The results as a two-column text table under `heading`."""
  width = max(len(name) for name in results)
  lines = [heading, *(f'  {name:<{width}}  {value:.6g}' for name, value in results.items())]
  return '\n'.join(lines)


def _write_json(path: str, record: dict) -> None:
  """Writes `record` to `path` atomically: a crash leaves the previous file intact."""
  try:
    with open(path + '.partial', 'w', encoding='utf-8') as f:
      json.dump(record, f, indent=2)
    os.replace(path + '.partial', path)
  except OSError as e:
    raise errors.StorageError(f'Cannot write {path} ({e.strerror}); choose another --out.') from e


def _evaluate_run(workdir: str) -> None:
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
  print(format_table(f'step {step}', results))
  record = {
    'step': step,
    'generator': 'EMA of the params' if state.generator_ema is not None else 'params',
    'results': results,
    'protocol': evaluator.protocol,
  }
  _write_json(_OUT.value or os.path.join(workdir, 'eval.json'), record)


def _evaluate_image_sets(images_path: str, reference_path: str) -> None:
  generated, reference = image_sets.read(images_path), image_sets.read(reference_path)
  results, protocol = evaluation.score_image_sets(_CONFIG.value.eval, generated, reference)
  if jax.process_index() != 0:
    return
  print(format_table(f'{images_path} against {reference_path}', results))
  _write_json(_OUT.value or 'eval.json', {'results': results, 'protocol': protocol})


def main(argv):
  del argv
  if _WORKDIR.value and (_IMAGES.value or _REFERENCE.value):
    raise errors.ConfigError(
      'Score either a run (--workdir) or two image sets (--images and --reference), not both.'
    )
  if _WORKDIR.value:
    _evaluate_run(_WORKDIR.value)
  elif _IMAGES.value and _REFERENCE.value:
    _evaluate_image_sets(_IMAGES.value, _REFERENCE.value)
  else:
    raise errors.ConfigError(
      'Say what to score: --workdir=RUN_DIR, or --images=DIR_OR_NPZ with '
      '--reference=DIR_OR_NPZ_OR_STATS.'
    )


if __name__ == '__main__':
  app.run(main)
