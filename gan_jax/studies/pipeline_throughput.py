"""How fast the input pipeline alone delivers images, against what the train step consumes.

The pipeline timed is the one training reads (`input_pipeline.get_source`,
then `input_pipeline.batches`: Grain, shuffled, decoded, cropped, resized,
scaled to [-1, 1], batched), with nothing consuming its batches but the
timer. The sources:
  - the bundled sets, decoded once in memory: MNIST (28x28, as stored) and
    the LFW faces (25x25 grey, resized to the model's size);
  - a folder of JPEGs written for the purpose (`write_jpeg_folder`): the
    bundled faces upscaled to 64, 128 or 256 px and saved with Pillow, read
    back, decoded and resized to the model's size on every access, as
    `data.name='folder'` reads any folder; and the same folder through its
    cache (`data.cache_dir`, `gan_jax.image_cache`), built before the timing
    (its build time is reported apart) and read memory-mapped;
  - TFDS through `tfds.data_source` under `tfds.testing.mock_data`: random
    records generated on access, so this figure is the pipeline's own cost
    past the source, not the speed of reading array_record files from disk.
A pipeline keeps up with a step that consumes r images/s if it delivers at
least r; `format_pipelines` sets each against the CPU step's rate and a
stated accelerator rate (a multiple of it).
"""

import dataclasses
import os
import time
from typing import Sequence

import grain
import numpy as np
from PIL import Image

from gan_jax import config_sections
from gan_jax import data_sources
from gan_jax import input_pipeline


@dataclasses.dataclass(frozen=True)
class PipelineThroughput:
  """Images/s of one pipeline.

  Attributes:
    name: what was read, e.g. 'folder of 256x256 JPEGs'.
    image_shape: (height, width, channels) of the images it delivers.
    images_per_second: batch_size * timed batches / their seconds, after warm-up.
    batch_size: images per batch.
    timed_batches: batches timed.
    build_seconds: seconds taken, before the timing, to build the cache the
      pipeline reads (opening the source included); 0 for none.
  """

  name: str
  image_shape: tuple[int, int, int]
  images_per_second: float
  batch_size: int
  timed_batches: int
  build_seconds: float = 0.0


def write_jpeg_folder(directory: str, *, num_images: int, size: int, quality: int = 90) -> str:
  """Writes `num_images` JPEGs of size x size RGB pixels under `directory`; returns it.

  The pictures are the bundled LFW faces in turn (100 of them), upscaled
  bicubically from 25x25 and repeated to three channels, so the files have
  the smooth content and compressed size of real photos at that resolution.
  """
  faces, _ = data_sources.open_source(config_sections.data_config(name='bundled_faces'))
  os.makedirs(directory, exist_ok=True)
  for index in range(num_images):
    face = Image.fromarray(np.asarray(faces[index % len(faces)]['image']))
    face = face.resize((size, size), Image.Resampling.BICUBIC)
    face.save(os.path.join(directory, f'{index:05d}.jpg'), quality=quality)
  return directory


def time_pipeline(
  name: str,
  dataset: grain.MapDataset,
  *,
  batch_size: int,
  timed_batches: int,
  warmup_batches: int = 1,
) -> PipelineThroughput:
  """Times `input_pipeline.batches` of `dataset` (one D step per batch).

  The first `warmup_batches` are left out: they start Grain's reader threads
  and fill its prefetch buffer.
  """
  stream = input_pipeline.batches(
    dataset, seed=0, global_batch_size=batch_size, discriminator_steps=1
  )
  for _ in range(warmup_batches):
    images, _ = next(stream)
  start = time.perf_counter()
  for _ in range(timed_batches):
    images, _ = next(stream)
  seconds = time.perf_counter() - start
  return PipelineThroughput(
    name, tuple(images.shape[2:]), batch_size * timed_batches / seconds, batch_size, timed_batches
  )


def time_folder(
  name: str, folder: str, *, image_size: int, cache_dir: str, **timing
) -> list[PipelineThroughput]:
  """Times a folder's pipeline decoding on every access, then reading its cache.

  Args:
    name: what the folder holds, e.g. 'folder of 64x64 JPEGs'; the cached
      row is named `name + ', cached'`.
    folder: the images (`write_jpeg_folder`).
    image_size: the side they are cropped and resized to.
    cache_dir: where the cache is built (before its timing, which reads it).
    **timing: batch_size, timed_batches and warmup_batches of `time_pipeline`.
  """
  data = dict(name='folder', path=folder, image_size=image_size)
  dataset, _ = input_pipeline.get_source(config_sections.data_config(**data))
  decoding = time_pipeline(name, dataset, **timing)
  start = time.perf_counter()
  dataset, _ = input_pipeline.get_source(config_sections.data_config(**data, cache_dir=cache_dir))
  build_seconds = time.perf_counter() - start
  cached = time_pipeline(f'{name}, cached', dataset, **timing)
  return [decoding, dataclasses.replace(cached, build_seconds=build_seconds)]


def measure_pipelines(
  workdir: str,
  *,
  image_size: int = 64,
  batch_size: int = 64,
  timed_batches: int = 7,
  folder_sizes: Sequence[int] = (64, 128, 256),
  num_folder_images: int = 512,
  tfds_examples: int = 512,
) -> list[PipelineThroughput]:
  """Images/s of every kind of source, each delivering `batch_size` batches.

  Args:
    workdir: where the JPEG folders and their caches are written (a temporary
      directory).
    image_size: the model's side, that the faces and the folders are resized
      to; MNIST (bundled and TFDS mock) is read at its stored 28x28.
    batch_size, timed_batches: of each timing (after one warm-up batch).
    folder_sizes: sides of the JPEGs of each folder.
    num_folder_images: JPEGs per folder. With at least (timed_batches + 1) *
      batch_size of them, every timed image is decoded from its file, none
      repeated.
    tfds_examples: records of the TFDS mock.
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  def source(**data):
    dataset, _ = input_pipeline.get_source(config_sections.data_config(**data))
    return dataset

  timing = dict(batch_size=batch_size, timed_batches=timed_batches)
  results = [
    time_pipeline('bundled MNIST', source(name='bundled_mnist'), **timing),
    time_pipeline('bundled faces', source(name='bundled_faces', image_size=image_size), **timing),
  ]
  for size in folder_sizes:
    folder = write_jpeg_folder(
      os.path.join(workdir, f'jpeg_{size}'), num_images=num_folder_images, size=size
    )
    results += time_folder(
      f'folder of {size}x{size} JPEGs',
      folder,
      image_size=image_size,
      cache_dir=os.path.join(workdir, 'cache'),
      **timing,
    )
  with tfds.testing.mock_data(num_examples=tfds_examples):
    mock = grain.MapDataset.source(tfds.data_source('mnist', split='train'))
    results.append(time_pipeline('TFDS mnist (mock_data)', mock, **timing))
  return results


def format_pipelines(
  results: Sequence[PipelineThroughput],
  step_images_per_second: float,
  accelerator_factor: float = 20.0,
) -> str:
  """A markdown table: each pipeline's images/s and its margin over the CPU step and an accelerator.

  The build time of each cache that a pipeline read follows the table.

  Args:
    results: from `measure_pipelines`.
    step_images_per_second: what the train step consumes on this machine.
    accelerator_factor: the accelerator step is taken to consume this many
      times the CPU step's images/s (a stated assumption, not a measurement).
  """
  accelerator = accelerator_factor * step_images_per_second
  lines = [
    f'Step consumes {step_images_per_second:,.1f} images/s on this CPU; an accelerator at '
    f'{accelerator_factor:g}x would consume {accelerator:,.0f} images/s.',
    '',
    '| pipeline | images delivered | images/s | x CPU step | x accelerator step | starves |',
    '|---|---|---|---|---|---|',
  ]
  for result in results:
    shape = 'x'.join(str(side) for side in result.image_shape)
    starves = (
      'the CPU step'
      if result.images_per_second < step_images_per_second
      else 'the accelerator'
      if result.images_per_second < accelerator
      else 'neither'
    )
    lines.append(
      f'| {result.name} | {shape} | {result.images_per_second:,.0f} | '
      f'{result.images_per_second / step_images_per_second:.1f} | '
      f'{result.images_per_second / accelerator:.2f} | {starves} |'
    )
  builds = [result for result in results if result.build_seconds]
  if builds:
    lines += ['', 'Built once before its timing (listing, decoding, crop, resize, write):']
    lines += [f'- {result.name}: {result.build_seconds:.1f} s' for result in builds]
  return '\n'.join(lines)
