"""DCGAN faces across epochs: G's samples after epochs 1, 50, 100, 150, 200.

Aakash's GAN-variants analysis slides trained DCGAN on their 683 face photos
(batch 64, so 11 steps an epoch) and showed samples after those epochs, with no
numbers. Here an epoch is a pass over the data at the config's batch size, so
epoch e ends at step ceil(e N / batch): on the 100 bundled faces at batch 64,
steps 2, 79, 157, 235 and 313. The figure shows G's samples from the same noise
at each of them; the table adds the slides' MMD and 1-NN accuracy
(`minibatch_metrics`) of as many samples as faces scored (at most 100) against
those faces, in pixel space.
"""

import dataclasses
import math
import os
import time
from typing import Mapping, Sequence

import ml_collections
import numpy as np

from gan_jax import input_pipeline
from gan_jax.studies.reproduction import minibatch_metrics
from gan_jax.studies.reproduction import published
from gan_jax.studies.reproduction import report
from gan_jax.studies.reproduction import runs

NAME = 'dcgan_faces_epochs'
MODEL = 'dcgan_faces'
COLUMNS = minibatch_metrics.COLUMNS


@dataclasses.dataclass(frozen=True)
class Protocol:
  """The epochs of the slides' figure; how many faces are scored; images per figure row."""

  epochs: tuple[int, ...] = published.DCGAN_FACES_EPOCHS
  max_scored_images: int = 100
  figure_columns: int = 8


TINY_PROTOCOL = Protocol(epochs=(1, 2), max_scored_images=16, figure_columns=4)


def epoch_end_steps(epochs: Sequence[int], num_examples: int, batch_size: int) -> tuple[int, ...]:
  """The train step at which each epoch ends: ceil(epoch * num_examples / batch_size)."""
  return tuple(math.ceil(epoch * num_examples / batch_size) for epoch in epochs)


def read_faces(data: ml_collections.ConfigDict, max_images: int) -> tuple[np.ndarray, int]:
  """(float32 [n, H, W, C] in [-1, 1], size of the data set): n = min(max_images, size)
  faces, drawn without replacement with a fixed seed and preprocessed as in training."""
  source, info = input_pipeline.get_source(data)
  count = min(max_images, info.num_examples)
  indices = np.sort(np.random.default_rng(0).choice(info.num_examples, count, replace=False))
  faces = np.stack([np.asarray(source[int(i)]['image']) for i in indices])
  return input_pipeline.to_model_range(faces), info.num_examples


def _widths(config: ml_collections.ConfigDict) -> str:
  """'100-512-256-128-64-3': z and G's channels, from the base width."""
  base = config.model.base_width
  return '-'.join(map(str, (config.model.latent_dim, 8 * base, 4 * base, 2 * base, base, 3)))


def render(
  *,
  command: str,
  protocol: Protocol,
  config: ml_collections.ConfigDict,
  data_size: int,
  num_scored: int,
  steps: Sequence[int],
  scores: Mapping[int, np.ndarray],
  timing: Sequence[str],
) -> str:
  """The Markdown of the table; scores maps each seed to [len(steps), 4]."""
  stacked = np.stack(list(scores.values()))  # [seeds, steps, 4]
  rows = []
  for i, (epoch, step) in enumerate(zip(protocol.epochs, steps)):
    cells = [report.plus_minus(*report.mean_and_std(stacked[:, i, j]), digits=4) for j in range(4)]
    rows.append([str(epoch), f'{step:,}', *cells, 'samples only'])
  spread = f'mean ± std over {len(scores)} seeds' if len(scores) > 1 else f'seed {min(scores)} only'
  data = config.data
  seed_steps_per_epoch = math.ceil(
    published.DCGAN_FACES_NUM_IMAGES / published.DCGAN_FACES_BATCH_SIZE
  )
  protocol_items = [
    f'Data: `{data.name}`, {data_size:,} images, centre-cropped and resized to '
    f"{data.image_size}x{data.image_size}. Aakash's slides used 683 photos of 5 people at "
    "256x256 (not public); the bundled set is scikit-image's 100 LFW crops of 25x25 grey pixels, "
    'upscaled, so samples are blurry by construction.',
    f"Model: `{MODEL}`, DCGAN as in Aakash's slides (G {_widths(config)} channels, transposed "
    'convolutions with batch norm; D mirrors it, LeakyReLU 0.2); '
    f'{report.describe_training(config)}.',
    f"Epoch e ends at step ceil(e x {data_size} / {config.train.batch_size}). The slides' epochs "
    f'of {published.DCGAN_FACES_NUM_IMAGES} photos took {seed_steps_per_epoch} updates each, so '
    f'its samples came after {", ".join(f"{e * seed_steps_per_epoch:,}" for e in protocol.epochs)} '
    'updates: by updates, the rows here are earlier in training than its.',
    'G draws in evaluation mode (batch norm with its running statistics), as the training '
    'grids and `experiments.sample` do; after a few steps those statistics are still near their '
    "initial values, so G's first samples are flat. The slides' code drew its samples in "
    'training mode (with the statistics of the sample batch).',
    f"Scores ({spread}): the slides' MMD and 1-NN accuracy (see `mmd_1nn_mnist.md`) of "
    f'{num_scored} samples against {num_scored} real faces in pixel space ([-1, 1], '
    f'{data.image_size}x{data.image_size}x3). The slides report no numbers for this figure.',
  ]
  return '\n\n'.join(
    [
      "# DCGAN faces across epochs (Aakash's GAN-variants slides)",
      f'`{command}` regenerates this file.',
      f'![real faces, then samples from the same noise after each epoch]({NAME}.png)',
      report.markdown_table(['epoch', 'step', *COLUMNS, "Aakash's slides"], rows),
      '## Protocol',
      report.bullet_list(protocol_items),
      '## Time and hardware',
      report.bullet_list(timing),
    ]
  )


def reproduce(configs: Mapping[str, ml_collections.ConfigDict], options: runs.Options) -> str:
  """Trains (or reuses) the runs, scores and draws them, writes the table; returns its path."""
  protocol = TINY_PROTOCOL if options.tiny else Protocol()
  config = configs[MODEL].copy_and_resolve_references()
  config.data.name = options.data
  real, data_size = read_faces(config.data, protocol.max_scored_images)
  steps = epoch_end_steps(protocol.epochs, data_size, config.train.batch_size)
  model_runs = [
    runs.make_run(
      MODEL,
      config,
      seed=seed,
      data={'name': options.data},
      evaluation_steps=steps,
      workdir_root=options.workdir_root,
    )
    for seed in options.seeds
  ]
  for run in model_runs:
    runs.train_through(run)

  start = time.perf_counter()
  scores, figure_rows = {}, [('real', real[: protocol.figure_columns])]
  for run in model_runs:
    samples = runs.generator_samples(run, steps, len(real))
    scores[run.seed] = np.array([minibatch_metrics.minibatch_scores(real, s) for s in samples])
    if run is model_runs[0]:
      figure_rows += [
        (f'epoch {epoch}\nstep {step}', step_samples[: protocol.figure_columns])
        for epoch, step, step_samples in zip(protocol.epochs, steps, samples)
      ]
  evaluation_seconds = time.perf_counter() - start

  os.makedirs(options.results_dir, exist_ok=True)
  report.save_labelled_rows(os.path.join(options.results_dir, f'{NAME}.png'), figure_rows)
  markdown = render(
    command=options.command(NAME, default_data='bundled_faces'),
    protocol=protocol,
    config=model_runs[0].config,
    data_size=data_size,
    num_scored=len(real),
    steps=steps,
    scores=scores,
    timing=runs.time_summary(model_runs, evaluation_seconds),
  )
  numbers = {
    'data': options.data,
    'columns': list(COLUMNS),
    'epochs': list(protocol.epochs),
    'steps': list(steps),
    'per_seed': {str(seed): s.tolist() for seed, s in scores.items()},
  }
  return report.write(options.results_dir, NAME, markdown, numbers)
