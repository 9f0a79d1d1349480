"""DCGAN beside StyleGAN2 on the 100 bundled faces for one budget of train-step time each.

Issue #18, item 6. DCGAN (`dcgan_faces`: Radford et al. 2015, the main job)
and StyleGAN2 (`stylegan2_faces`: Karras et al. 2020b with StyleGAN2-ADA's
'auto' settings, Karras et al. 2020a) train on the same 100 faces at 64x64
for the same budget of train-step time on this machine: each config's step
is timed once and the config trains floor(budget / step time) steps
(`budgets.calibrated_runs`, as `architectures_mnist`). StyleGAN2 trains at a
stated CPU width (`_CPU_WIDTHS`) whose step costs about what DCGAN's does.

No Inception weights ship with the project, so the scores are ones that can
be computed offline (`face_scores`), in pixel space at a reduced resolution (each image
average-pooled to `Protocol.resolution` squared, which keeps the faces'
shapes and drops what 100 upscaled 25x25 crops cannot tell apart anyway):

  MMD and 1-NN accuracy (`minibatch_metrics`, as `dcgan_faces_epochs`): sets
    of as many samples as faces against the faces. MMD 0 and 1-NN accuracy 0.5
    for samples from the faces' distribution; 1-NN 1.0 when every sample and
    every face is closer to its own kind; 0 for a G that copies the faces.
  nearest-face distance: each sample's RMS pixel distance to its nearest
    training face, beside a held-out real face's (a half of the faces against
    the other half). Samples much closer than held-out faces are copies.

FID and KID are added when the FID Inception weights file exists
(`eval.inception_weights`, $GAN_JAX_INCEPTION_WEIGHTS or the default cache).
Samples are G's in evaluation mode from `runs.evaluation_noise`: StyleGAN2's
EMA of G, DCGAN's G (it keeps no EMA).
"""

import dataclasses
import json
import os
import time
from typing import Mapping, NamedTuple, Sequence

import ml_collections
import numpy as np

from gan_jax import images
from gan_jax import workdirs
from gan_jax.studies.reproduction import architectures_mnist
from gan_jax.studies.reproduction import budgets
from gan_jax.studies.reproduction import dcgan_faces_epochs
from gan_jax.studies.reproduction import face_scores
from gan_jax.studies.reproduction import minibatch_metrics
from gan_jax.studies.reproduction import report
from gan_jax.studies.reproduction import runs

NAME = 'architectures_faces'
Model = architectures_mnist.Model
MODELS = {
  'dcgan_faces': Model(
    'DCGAN',
    "Aakash's slides' DCGAN (G 100-512-256-128-64-3 channels) at batch 64, not the paper's 128; "
    'no EMA of G',
  ),
  'stylegan2_faces': Model(
    'StyleGAN2',
    "StyleGAN2-ADA's 'auto' settings for 64x64 at a CPU width (see _CPU_WIDTHS): "
    'channel_base 2048 and channel_max 128 (128 channels up to 16x16, 64 at 32x32, 32 at '
    '64x64) instead of 16384 and 512 (512 up to 32x32, 256 at 64x64)',
  ),
}
# At StyleGAN2-ADA's 64x64 widths (22M + 23M parameters) a step costs about 40 times DCGAN's
# (~6 TFLOP against 0.15), a few steps in a budget of minutes on 2 shared CPU cores; at these
# widths (about a fiftieth of the multiply-adds) its step costs about what DCGAN's does.
_CPU_WIDTHS = {'stylegan2': dict(channel_base=2048, channel_max=128)}
_LOAD_FILE = 'load_average.json'


@dataclasses.dataclass(frozen=True)
class Protocol:
  """What is scored and drawn, and the calibration's steps.

  num_sample_sets: sets of as many samples as faces, each scored against all
    the faces; their spread is that of the sampling alone.
  resolution: images are average-pooled to resolution x resolution to score.
  grid_size: samples (and faces) per panel of the figure.
  pairs_shown: samples drawn beside their nearest training face.
  warmup_steps, timed_steps: the calibration's steps, few since full-width
    StyleGAN2 takes seconds a step.
  """

  num_sample_sets: int = 5
  resolution: int = 16
  grid_size: int = 64
  pairs_shown: int = 10
  warmup_steps: int = 1
  timed_steps: int = 3


TINY_PROTOCOL = Protocol(
  num_sample_sets=2, resolution=4, grid_size=4, pairs_shown=2, warmup_steps=1, timed_steps=1
)


def table_config(config: ml_collections.ConfigDict, data: str) -> ml_collections.ConfigDict:
  """`config` on the data set `data`, its family at the CPU width (a tiny width stays)."""
  config = config.copy_and_resolve_references()
  config.data.name = data
  for field, width in _CPU_WIDTHS.get(config.model.name, {}).items():
    config.model[field] = min(config.model[field], width)
  return config


class ModelResult(NamedTuple):
  """One config of the table: size, budget, training time and its scores per seed."""

  generator_parameters: int
  discriminator_parameters: int
  calibration: budgets.Calibration
  num_steps: int
  training_seconds: float  # Mean over seeds of the recorded training time.
  scores: Mapping[int, face_scores.SetScores]
  inception: Mapping[int, Mapping[str, float]]  # {} when the weights are missing.


class References(NamedTuple):
  """The rows that anchor the scores: held-out real faces, and a G that copies the faces."""

  real_halves: face_scores.SetScores
  copies: face_scores.SetScores
  num_faces: int


def _cells(rows: Sequence[Sequence[float]]) -> list[str]:
  """'mean ± std' over repeats (the value alone for one) of each score."""
  return [report.plus_minus(*report.mean_and_std(column), digits=3) for column in zip(*rows)]


def _width(model: ml_collections.ConfigDict) -> str:
  fields = ('channel_base', 'channel_max') if model.name == 'stylegan2' else ('base_width',)
  return ', '.join(f'{field} {model[field]}' for field in fields)


def _table_rows(results: Mapping[str, ModelResult], configs, references: References):
  rows = [
    [
      MODELS[name].label,
      _width(configs[name].model),
      f'{result.generator_parameters:,} / {result.discriminator_parameters:,}',
      f'{result.calibration.step_seconds:.2f} s',
      f'{result.num_steps:,}',
      f'{result.num_steps * configs[name].train.batch_size:,}',
      report.duration(result.training_seconds),
      *_cells([s.row() for s in result.scores.values()]),
      *(_cells([[s['fid'], s['kid']] for s in result.inception.values()]) or ['n/a'] * 2),
    ]
    for name, result in results.items()
  ]
  half = references.num_faces // 2
  for label, scores in (
    (f'held-out real faces ({half} vs the other {half})', references.real_halves),
    ('the training faces themselves (a G that copies them)', references.copies),
  ):
    rows.append([label, *[''] * 6, *_cells([scores.row()]), '', ''])
  return rows


def _reading(results: Mapping[str, ModelResult], references: References) -> list[str]:
  """Sentences that read the numbers: which G is closer to the faces, and whether it copies."""
  means = {
    MODELS[n].label: np.mean([s.row() for s in r.scores.values()], axis=0)
    for n, r in results.items()
  }
  by_mmd = sorted(means, key=lambda label: means[label][0])
  real_distance = references.real_halves.row()[-1]
  return [
    f'By MMD, {by_mmd[0]} is closer to the faces than {by_mmd[-1]} at this budget '
    f'({means[by_mmd[0]][0]:.3f} against {means[by_mmd[-1]][0]:.3f}; held-out real faces: '
    f'{references.real_halves.row()[0]:.3f}).',
    '1-NN accuracy: '
    + '; '.join(f'{label} {values[1]:.3f}' for label, values in means.items())
    + ' (0.5: samples and faces indistinguishable to a nearest-neighbour classifier at '
    'this resolution; 1.0: every sample and face is nearer its own kind).',
    'Memorization: a held-out real face lies at a median RMS distance of '
    f'{real_distance:.3f} from its nearest training face; the samples lie at '
    + '; '.join(f'{label} {values[-1]:.3f}' for label, values in means.items())
    + '. Closer than held-out faces means copies of training faces or blurred averages of '
    'them (a blur lies near many faces in pixel space); the figure of samples above their '
    'nearest faces tells which.',
  ]


def render(
  *,
  command: str,
  options: budgets.BudgetOptions,
  protocol: Protocol,
  configs: Mapping[str, ml_collections.ConfigDict],
  results: Mapping[str, ModelResult],
  references: References,
  missing_weights: str,
  timing: Sequence[str],
) -> str:
  """The Markdown of the table; `missing_weights` is the weights path if FID/KID were not
  computable, else ''."""
  hardware = ' / '.join(sorted({r.calibration.hardware for r in results.values()}))
  resolution, n = protocol.resolution, references.num_faces
  header = ['model', 'width', 'G / D params', 'step time', 'steps', 'images seen', 'training time']
  header += [*face_scores.SCORES, 'FID', 'KID']
  inception = (
    f'FID and KID not computable offline: no FID Inception weights at {missing_weights}.'
    if missing_weights
    else f'FID and KID: FID Inception features of all {protocol.num_sample_sets * n} samples '
    f'against the {n} faces at 64x64 (KID unbiased; FID biased high with {n} faces).'
  )
  protocol_items = [
    f'Budget: {options.budget_minutes:g} min of train-step time per model on {hardware}. Each '
    "config's step was compiled and timed as training runs it (`gan_jax.studies.benchmarking`: "
    f'the median of {protocol.timed_steps} steps after {protocol.warmup_steps} warm-up step) '
    "and the config trains floor(budget / step time) steps. StyleGAN2's median step is one "
    'without its lazy regularizers (R1 every 16th step, path length every 4th), so their '
    'cost is outside the budget; "training time", the whole wall time of training (input '
    'pipeline, logging, checkpoints and grids included, mean over seeds), holds it. The CPU '
    'is shared with other jobs: the load is in "Time and hardware".',
    f"Data: the {n} bundled faces (`{options.data}`: scikit-image's LFW crops, 25x25 grey, "
    'upscaled to 64x64), the same preprocessing for both.',
    f'Scores: {protocol.num_sample_sets} sets of {n} samples (evaluation mode, '
    "`runs.evaluation_noise`; StyleGAN2's EMA of G) against the "
    f'{n} faces, every image average-pooled to {resolution}x{resolution}x3 in [-1, 1]. '
    "MMD, 1-NN accuracy: the slides' metrics (`minibatch_metrics`; see `mmd_1nn_mnist.md`), "
    "mean over the sets. nearest face: each sample's RMS pixel distance to its nearest "
    'training face, median over all samples.',
    'References: held-out real faces are random halves of the faces scored against the other '
    f'halves ({protocol.num_sample_sets} splits; half-size sets, so MMD is biased higher); the '
    'training faces scored against themselves give what a G that copies them would get '
    '(MMD 0, 1-NN accuracy 0, distance 0).',
    inception,
    f'±: standard deviation over {len(options.seeds)} training seeds.'
    if len(options.seeds) > 1
    else 'One training seed: no spread (the per-seed section gives the spread over sets).',
    *[
      f'{MODELS[name].label} (`{name}`, {_width(config.model)}): '
      f'{report.describe_training(config)}. '
      f'Differs from the paper: {MODELS[name].differences}.'
      for name, config in configs.items()
    ],
  ]
  per_seed = [
    [MODELS[name].label, str(seed), *_cells(scores.minibatch)]
    for name, result in results.items()
    for seed, scores in result.scores.items()
  ]
  return '\n\n'.join(
    [
      f'# DCGAN and StyleGAN2 on the bundled faces, {options.budget_minutes:g} minutes of '
      'training each',
      f'`{command}` regenerates this file.',
      f'![real faces, DCGAN and StyleGAN2 samples side by side]({NAME}.png)',
      report.markdown_table(header, _table_rows(results, configs, references)),
      '## Reading',
      report.bullet_list(_reading(results, references)),
      '## Protocol',
      report.bullet_list(protocol_items),
      f'## Per seed (± over the {protocol.num_sample_sets} sample sets)',
      report.markdown_table(['model', 'seed', *minibatch_metrics.COLUMNS], per_seed),
      '## Samples beside their nearest training face (first seed)',
      f'![samples and their nearest faces]({NAME}_nearest.png)',
      '## Time and hardware',
      report.bullet_list(timing),
    ]
  )


def save_figures(results_dir: str, protocol: Protocol, faces, samples) -> None:
  """NAME.png: the faces and each model's samples side by side; NAME_nearest.png: samples
  above their nearest training faces (nearest at the scoring resolution).

  faces, samples: {config name: [N, H, W, C] in [-1, 1]}, the faces as that config sees them.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top

  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  panels = {'real faces': next(iter(faces.values()))}
  panels.update({MODELS[name].label: pictures for name, pictures in samples.items()})
  figure, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4.3))
  for axis, (label, pictures) in zip(axes, panels.items()):
    axis.imshow(images.image_grid(pictures[: protocol.grid_size]))
    axis.set_title(label)
    axis.set_axis_off()
  figure.tight_layout()
  figure.savefig(os.path.join(results_dir, f'{NAME}.png'), dpi=100)
  plt.close(figure)
  rows = []
  for name, pictures in samples.items():
    shown = pictures[: protocol.pairs_shown]
    _, index = face_scores.nearest(
      face_scores.pooled(shown, protocol.resolution),
      face_scores.pooled(faces[name], protocol.resolution),
    )
    rows += [(MODELS[name].label, shown), ('nearest face', faces[name][index])]
  report.save_labelled_rows(os.path.join(results_dir, f'{NAME}_nearest.png'), rows)


def load_averages(model_runs) -> list[str]:
  """'`name` seed S: 1.00, 2.00, 3.00': the 1, 5, 15 minute load averages as each run ended."""
  loads = []
  for run in (run for group in model_runs.values() for run in group):
    path = os.path.join(run.workdir, _LOAD_FILE)
    if os.path.exists(path):
      with open(path, encoding='utf-8') as f:
        averages = json.load(f)['load_averages']
      loads.append(f'`{run.name}` seed {run.seed}: ' + ', '.join(f'{a:.2f}' for a in averages))
  return loads


def _score_model(group, protocol: Protocol, with_inception: bool):
  """(scores by seed, Inception scores by seed, first run's samples, faces) of a config's runs."""
  faces, _ = dcgan_faces_epochs.read_faces(group[0].config.data, max_images=10**9)
  pooled_faces = face_scores.pooled(faces, protocol.resolution)
  scores, inception = {}, {}
  for run in group:
    count = protocol.num_sample_sets * len(faces)
    samples = runs.generator_samples(run, [run.final_step], count)[0]
    pooled_sets = np.split(
      face_scores.pooled(samples, protocol.resolution), protocol.num_sample_sets
    )
    scores[run.seed] = face_scores.score_sets(pooled_faces, pooled_sets)
    if with_inception:
      inception[run.seed] = face_scores.inception_scores(faces, samples, run.config.eval)
    if run is group[0]:
      first_samples = samples
  return scores, inception, first_samples, faces


def _numbers(options, protocol, results, references, missing_weights) -> dict:
  """The table's numbers, for its JSON."""
  as_lists = lambda scores: {k: np.asarray(v).tolist() for k, v in scores._asdict().items()}
  return {
    'data': options.data,
    'budget_minutes': options.budget_minutes,
    'protocol': dataclasses.asdict(protocol),
    'columns': list(face_scores.SCORES),
    'models': {
      name: {
        **{k: v for k, v in result._asdict().items() if k not in ('scores', 'calibration')},
        'calibration': result.calibration._asdict(),
        'row': {str(seed): s.row() for seed, s in result.scores.items()},
        'scores': {str(seed): as_lists(s) for seed, s in result.scores.items()},
        'inception': {str(seed): s for seed, s in result.inception.items()},
      }
      for name, result in results.items()
    },
    'real_halves': as_lists(references.real_halves) | {'row': references.real_halves.row()},
    'copies': {'row': references.copies.row()},
    'fid_kid': 'not computable offline: no weights at ' + missing_weights
    if missing_weights
    else 'computed',
  }


def reproduce(
  configs: Mapping[str, ml_collections.ConfigDict], options: budgets.BudgetOptions
) -> str:
  """Calibrates, trains (or reuses) and scores both configs, writes the table; returns its path."""
  protocol = TINY_PROTOCOL if options.tiny else Protocol()
  configs = {name: table_config(configs[name], options.data) for name in MODELS}
  calibrations, model_runs = budgets.calibrated_runs(
    NAME, configs, options, warmup_steps=protocol.warmup_steps, timed_steps=protocol.timed_steps
  )
  for run in (run for group in model_runs.values() for run in group):
    if runs.train_through(run):  # The load it trained under: the shared CPU's other jobs.
      workdirs.write_json(os.path.join(run.workdir, _LOAD_FILE), {'load_averages': os.getloadavg()})

  start, results, samples, faces = time.perf_counter(), {}, {}, {}
  weights = face_scores.inception_weights_path(configs['dcgan_faces'].eval)
  missing_weights = '' if os.path.isfile(weights) else weights
  for name, group in model_runs.items():
    scores, inception, samples[name], faces[name] = _score_model(
      group, protocol, with_inception=not missing_weights
    )
    info = workdirs.read_data_info(group[0].workdir)
    results[name] = ModelResult(
      *architectures_mnist.parameter_counts(group[0].config, info.image_shape, info.num_classes),
      calibration=calibrations[name],
      num_steps=group[0].final_step,
      training_seconds=float(np.mean([runs.training_record(r.workdir)[0] for r in group])),
      scores=scores,
      inception=inception,
    )
  first_faces = face_scores.pooled(next(iter(faces.values())), protocol.resolution)
  references = References(
    face_scores.score_real_halves(first_faces, protocol.num_sample_sets),
    face_scores.score_sets(first_faces, [first_faces]),
    len(first_faces),
  )
  os.makedirs(options.results_dir, exist_ok=True)
  save_figures(options.results_dir, protocol, faces, samples)
  evaluation_seconds = time.perf_counter() - start

  markdown = render(
    command=options.command(NAME, default_data='bundled_faces'),
    options=options,
    protocol=protocol,
    configs={name: group[0].config for name, group in model_runs.items()},
    results=results,
    references=references,
    missing_weights=missing_weights,
    timing=[
      *runs.time_summary([r for group in model_runs.values() for r in group], evaluation_seconds),
      f'Load average (1, 5, 15 min, as uptime) on {os.cpu_count()} cores as training ended: '
      f'{"; ".join(load_averages(model_runs)) or "not recorded"}.',
    ],
  )
  numbers = _numbers(options, protocol, results, references, missing_weights)
  numbers['loads'] = load_averages(model_runs)
  return report.write(options.results_dir, NAME, markdown, numbers)
