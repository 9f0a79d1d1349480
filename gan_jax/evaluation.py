"""Evaluating a trained generator, and scoring any two image sets.

An `Evaluator` is built once per run from the config's `eval` section: it
draws `num_reference` real images from the data set's reference split,
observes them once (`scoring.observe`), and then scores any generator state
by drawing `num_samples` images and running the metrics of `eval.metrics`
(`scoring.METRICS`). Every number comes with the protocol that produced it
(`Evaluator.protocol`), which `experiments.evaluate` writes next to the
numbers in eval.json. `score_image_sets` does the same for two sets read from
disk (`image_sets`), e.g. samples of another codebase against a reference.

In a job of several processes, each draws and embeds its block of the images
(`distributed.row_block`) and the blocks are gathered, so every process gets
the numbers of one process.
"""

from typing import Callable, Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan_jax import distributed
from gan_jax import errors
from gan_jax import feature_networks
from gan_jax import image_sets
from gan_jax import input_pipeline
from gan_jax import scoring
from gan_jax.scoring import Observations


def _observe_block(images, network, needs) -> Observations:
  if not len(images):  # A process left without rows still gives the shapes to gather.
    dummy = np.zeros((1, *images.shape[1:]), images.dtype)
    return jax.tree.map(lambda x: x[:0], scoring.observe(dummy, network, needs))
  return scoring.observe(images, network, needs)


def _gather(block: Observations, total: int, multiple: int) -> Observations:
  gather = lambda rows: None if rows is None else distributed.gather_rows(rows, total, multiple)
  return Observations(*(gather(rows) for rows in block))


def observe_split(
  images: np.ndarray,
  network: Optional[feature_networks.FeatureNetwork],
  needs: set[str],
  multiple: int = 1,
) -> Observations:
  """`scoring.observe` of all `images`, each process observing its `row_block` (blocks of `multiple`
  rows) and gathering the others'."""
  rows = distributed.row_block(len(images), multiple)
  block = _observe_block(images[rows.start : rows.stop], network, needs)
  return _gather(block, len(images), multiple)


def reference_images(
  data_config: ml_collections.ConfigDict, split: str, count: int, seed: int
) -> tuple[np.ndarray, str]:
  """`count` real images uint8 [count, H, W, C] as the model's input pipeline makes them
  (cropped and resized), drawn without replacement, and a description of where they came
  from."""
  data_config = ml_collections.ConfigDict(data_config.to_dict())
  data_config.split = split or data_config.split
  source, info = input_pipeline.get_source(data_config)
  count = min(count, info.num_examples)
  indices = np.sort(np.random.default_rng(seed).permutation(info.num_examples)[:count])
  images = np.stack([np.asarray(source[i]['image']) for i in indices])
  description = (
    f'{count} of the {info.num_examples} images of {info.name} split {data_config.split!r}, '
    f'drawn at random (seed {seed})'
  )
  return images, description


class Evaluator:
  """Scores generator states of one run with the metrics of its `eval` config."""

  def __init__(
    self,
    config: ml_collections.ConfigDict,
    *,
    generate: Callable,
    latent_dim: int,
    image_shape,
    num_classes: int = 0,
  ):
    """Loads the feature network and the reference images' observations.

    Args:
      config: the whole run config (its `eval` and `data` sections are read).
      generate: (generator_state, z [N, latent_dim], labels [N] or None) ->
        images [N, H, W, C] in [-1, 1], G in evaluation mode (`sampling.generate`
        bound to G's module).
      latent_dim: size of z.
      image_shape: (H, W, C) of the data.
      num_classes: > 0 for a class-conditional G, which draws equally many
        images of every class.

    Raises:
      ConfigError: an unknown metric or feature network name, or a count
        (`num_samples`, `num_reference`, `batch_size`) that is not positive.
      WeightsError: the feature network's weights file is missing.
    """
    settings = config.eval
    self._settings = settings
    self._metric_names = scoring.check_settings(settings)
    self._needs = scoring.reads(self._metric_names)
    self._network = None
    network_description = 'none (pixel metrics only)'
    if self._needs & {'features', 'probs'}:
      self._network = feature_networks.load(settings, image_shape)
      network_description = self._network.description
    self._latent_dim, self._num_classes = latent_dim, num_classes
    self._image_shape = tuple(image_shape)
    self._generate = generate
    real, reference_description = reference_images(
      config.data, settings.reference_split, settings.num_reference, settings.seed
    )
    self._real = observe_split(real, self._network, self._needs)
    self.protocol = {
      'num_samples': int(settings.num_samples),
      'num_reference': len(real),
      'reference': reference_description,
      'feature_network': network_description,
      'generated': (
        f'{settings.num_samples} samples, z ~ N(0, I) from seed {settings.seed}'
        + (f', classes {num_classes} equally often' if num_classes else '')
      ),
      'metrics': scoring.metrics_protocol(self._metric_names, settings),
    }

  def generated_images(self, generator_state, rows: Optional[range] = None) -> np.ndarray:
    """Images [len(rows), H, W, C] in [-1, 1] from G in evaluation mode: the `rows` of the
    `num_samples` (all by default), drawn in batches of `batch_size` from fixed noise.

    `rows` starts at a multiple of `batch_size` (the images do not depend on
    which process draws them).
    """
    settings = self._settings
    rows = range(settings.num_samples) if rows is None else rows
    rng = jax.random.fold_in(jax.random.PRNGKey(settings.seed), 2)
    batches = []
    for start in range(rows.start, rows.stop, settings.batch_size):
      size = min(settings.batch_size, rows.stop - start)
      z = jax.random.normal(jax.random.fold_in(rng, start), (size, self._latent_dim))
      labels = None
      if self._num_classes:
        labels = (start + jnp.arange(size, dtype=jnp.int32)) % self._num_classes
      batches.append(np.asarray(self._generate(generator_state, z, labels)))
    return np.concatenate(batches) if batches else np.zeros((0, *self._image_shape), np.float32)

  def evaluate(self, generator_state) -> dict[str, float]:
    """Every configured metric of G's samples against the reference images.

    With several processes, every process calls this (it gathers) and gets
    the same numbers.
    """
    total, batch_size = self._settings.num_samples, self._settings.batch_size
    rows = distributed.row_block(total, batch_size)
    block = _observe_block(self.generated_images(generator_state, rows), self._network, self._needs)
    fake = _gather(block, total, batch_size)
    return scoring.score(self._metric_names, self._real, fake, self._settings)


def _check_reference(metric_names: list[str], generated, reference) -> None:
  """Raises `ConfigError` when the sets cannot serve the metrics: generated statistics, a
  statistics reference for a metric that needs more, or pixel metrics over two sizes."""
  if generated.images is None:
    raise errors.ConfigError(
      f'The generated set is FID statistics ({generated.description}); score images: a folder, '
      'or an .npz/.npy of them.'
    )
  if reference.images is None:
    needing = [n for n in metric_names if scoring.METRICS[n].reads_real in ('features', 'pixels')]
    if needing:
      raise errors.ConfigError(
        f'The reference is FID statistics only ({reference.description}), which serve '
        f'{", ".join(n for n, m in scoring.METRICS.items() if m.reads_real != "features")}'
        f'; {", ".join(needing)} need its images: pass a folder or .npz of them, or choose '
        'other metrics with --config.eval.metrics=fid.'
      )
  elif 'pixels' in scoring.reads(metric_names):
    if generated.images.shape[1:] != reference.images.shape[1:]:
      raise errors.ConfigError(
        f'Pixel metrics compare images of one shape, but the generated images are '
        f'{generated.images.shape[1:]} and the reference {reference.images.shape[1:]}; '
        'choose feature metrics (fid, kid, ...) with --config.eval.metrics.'
      )


def score_image_sets(
  settings: ml_collections.ConfigDict,
  generated: image_sets.ImageSet,
  reference: image_sets.ImageSet,
) -> tuple[dict[str, float], dict]:
  """Every metric of `settings.metrics` of `generated` against `reference`, and the protocol.

  Args:
    settings: an `eval` section (metrics, feature_network, batch_size, ...).
    generated: the images to score (`image_sets.read`).
    reference: the real images, or the FID statistics of their features.

  Returns:
    ({result name: number}, protocol) as `Evaluator` gives them.

  Raises:
    ConfigError: sets that cannot serve the metrics (see `_check_reference`),
      or statistics of other features than the feature network's.
    WeightsError: the feature network's weights are missing.
  """
  metric_names = scoring.check_settings(settings)
  _check_reference(metric_names, generated, reference)
  needs = scoring.reads(metric_names)
  network = None
  if needs & {'features', 'probs'}:
    network = feature_networks.load(settings, generated.images.shape[1:])
  fake = observe_split(generated.images, network, needs)
  if reference.images is not None:
    real = observe_split(reference.images, network, needs)
  else:
    real = Observations(None, None, None, reference.statistics)
    if fake.features is not None and len(real.statistics[0]) != fake.features.shape[1]:
      raise errors.ConfigError(
        f'The reference statistics are of {len(real.statistics[0])}-d features, but '
        f'{network.name} gives {fake.features.shape[1]}-d ones; compute them with the same '
        'network (--config.eval.feature_network).'
      )
  protocol = {
    'num_samples': len(generated.images),
    'num_reference': None if reference.images is None else len(reference.images),
    'generated': generated.description,
    'reference': reference.description,
    'feature_network': network.description if network else 'none (pixel metrics only)',
    'metrics': scoring.metrics_protocol(metric_names, settings),
  }
  return scoring.score(metric_names, real, fake, settings), protocol
