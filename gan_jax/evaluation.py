"""Scoring image sets: observations of two sets, the metrics, and a run's `Evaluator`.

The metrics (`METRICS`, chosen by name in `eval.metrics`) read what the
`Observations` of each set hold: feature-network embeddings and class
probabilities (`feature_networks`), or pixels. `observe` makes them from
images, `score` runs the named metrics on a real and a generated set, and
`metrics_protocol` says how each number was computed. Any two image sets can
be scored this way (`experiments.evaluate --images --reference`); a reference
known only by its FID statistics (mu, sigma) scores the metrics that need no
more of it (`Metric.reads_real`).

An `Evaluator` is built once per run from the config's `eval` section: it
draws `num_reference` real images from the data set's reference split,
observes them once, and then scores any generator state by drawing
`num_samples` images. Every number comes with the protocol that produced it
(`Evaluator.protocol`), which `experiments.evaluate` writes next to the
numbers in eval.json. In a job of several processes, each draws and embeds
its block of the images (`distributed.row_block`) and the blocks are
gathered, so every process gets the numbers of one process.
"""

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan_jax import config_sections
from gan_jax import distributed
from gan_jax import errors
from gan_jax import feature_networks
from gan_jax import input_pipeline
from gan_jax.metrics import fid
from gan_jax.metrics import inception_score
from gan_jax.metrics import kid
from gan_jax.metrics import mmd
from gan_jax.metrics import nearest_neighbor
from gan_jax.metrics import parzen
from gan_jax.metrics import precision_recall

# The Parzen bandwidth grid of Goodfellow et al.'s evaluation code, on pixels in [0, 1].
PARZEN_SIGMAS = tuple(np.round(np.logspace(-1, 0, 10), 4))


class Observations(NamedTuple):
  """What the metrics read of one set of images (real or generated).

  Attributes:
    features: [N, d] feature-network embeddings, or None if no metric needs them.
    probs: [N, classes] feature-network class probabilities, or None.
    pixels: [N, H * W * C] images scaled to [0, 1], or None.
    statistics: (mu [d], sigma [d, d]) of the features, for a reference set
      known only by its FID statistics (`fid.load_statistics`); else None.
  """

  features: Optional[np.ndarray]
  probs: Optional[np.ndarray]
  pixels: Optional[np.ndarray]
  statistics: Optional[tuple[np.ndarray, np.ndarray]] = None


def _fid(real: Observations, fake: Observations, settings) -> dict[str, float]:
  del settings
  if real.statistics is None:
    return {'fid': fid.fid_from_features(real.features, fake.features)}
  return {'fid': fid.frechet_distance(*real.statistics, *fid.feature_statistics(fake.features))}


def _inception_score(real: Observations, fake: Observations, settings) -> dict[str, float]:
  del real, settings
  mean, std = inception_score.inception_score(fake.probs, splits=min(10, len(fake.probs)))
  return {'is': mean, 'is_std': std}


def _kid(real: Observations, fake: Observations, settings) -> dict[str, float]:
  del settings
  mean, std = kid.kernel_inception_distance(real.features, fake.features)
  return {'kid': mean, 'kid_std': std}


def _precision_recall(real: Observations, fake: Observations, settings) -> dict[str, float]:
  del settings
  precision, recall = precision_recall.precision_recall(real.features, fake.features, k=3)
  return {'precision': precision, 'recall': recall}


def _density_coverage(real: Observations, fake: Observations, settings) -> dict[str, float]:
  del settings
  density, coverage = precision_recall.density_coverage(real.features, fake.features, k=5)
  return {'density': density, 'coverage': coverage}


def _mmd(real: Observations, fake: Observations, settings) -> dict[str, float]:
  del settings
  return {'mmd2': mmd.mmd2(real.pixels, fake.pixels)}


def _one_nn(real: Observations, fake: Observations, settings) -> dict[str, float]:
  del settings
  # The two-sample test needs equally many of each (chance is then 0.5): the
  # first n of each set, both drawn at random already.
  n = min(len(real.pixels), len(fake.pixels))
  overall, on_real, on_fake = nearest_neighbor.one_nn_accuracy(real.pixels[:n], fake.pixels[:n])
  return {'one_nn': overall, 'one_nn_real': on_real, 'one_nn_fake': on_fake}


def _parzen(real: Observations, fake: Observations, settings) -> dict[str, float]:
  del settings
  # Goodfellow et al. 2014: sigma chosen on validation data, the estimate on
  # other held-out data; here the two halves of the reference images.
  half = len(real.pixels) // 2
  sigma, _ = parzen.select_bandwidth(fake.pixels, real.pixels[:half], PARZEN_SIGMAS)
  mean, standard_error = parzen.parzen_log_likelihood(fake.pixels, real.pixels[half:], sigma)
  return {'parzen': mean, 'parzen_stderr': standard_error, 'parzen_sigma': sigma}


class Metric(NamedTuple):
  """A metric of `eval.metrics`.

  Attributes:
    compute: (real, fake Observations, the eval settings) -> {result name: number}.
    reads: what it reads of the generated set: 'features', 'probs' or 'pixels'.
    reads_real: what it reads of the reference set: 'features', 'pixels',
      'statistics' (features or their FID statistics) or 'nothing'.
    protocol: the eval settings -> how the numbers are computed, for eval.json.
  """

  compute: Callable[[Observations, Observations, ml_collections.ConfigDict], dict[str, float]]
  reads: str
  reads_real: str
  protocol: Callable[[ml_collections.ConfigDict], str]


def _fixed(description: str) -> Callable[[ml_collections.ConfigDict], str]:
  return lambda settings: description


METRICS: dict[str, Metric] = {
  'fid': Metric(
    _fid, 'features', 'statistics', _fixed('Frechet distance of Gaussians fitted to the features')
  ),
  'is': Metric(
    _inception_score,
    'probs',
    'nothing',
    _fixed('Inception Score of the generated images, 10 splits (mean, std)'),
  ),
  'kid': Metric(
    _kid,
    'features',
    'features',
    _fixed('unbiased cubic-kernel MMD^2 of the features, 100 subsets of <= 1000'),
  ),
  'precision_recall': Metric(
    _precision_recall, 'features', 'features', _fixed('k-NN balls in feature space, k = 3')
  ),
  'density_coverage': Metric(
    _density_coverage, 'features', 'features', _fixed('k-NN balls around real, k = 5')
  ),
  'mmd': Metric(
    _mmd,
    'pixels',
    'pixels',
    _fixed('unbiased Gaussian-kernel MMD^2 of pixels in [0, 1], median bw'),
  ),
  'one_nn': Metric(
    _one_nn,
    'pixels',
    'pixels',
    _fixed(
      'leave-one-out 1-NN accuracy on pixels in [0, 1], min(num_samples, num_reference) of each'
    ),
  ),
  'parzen': Metric(
    _parzen,
    'pixels',
    'pixels',
    _fixed(
      f'Gaussian Parzen window on pixels in [0, 1]; sigma from {PARZEN_SIGMAS} on the first '
      'half of the reference images, log-likelihood (nats) of the second half'
    ),
  ),
}


def parse_metric_names(names: str) -> list[str]:
  """['fid', 'is', ...] from 'fid,is,...'; `ConfigError` listing the valid names if unknown."""
  parsed = [name.strip() for name in names.split(',') if name.strip()]
  if not parsed:
    raise errors.ConfigError(
      f'eval.metrics is empty; name one or more of: {", ".join(sorted(METRICS))}.'
    )
  for name in parsed:
    if name not in METRICS:
      raise errors.unknown_name_error('metric', name, METRICS)
  return parsed


def check_settings(settings: ml_collections.ConfigDict) -> list[str]:
  """The metric names of an `eval` section, after checking its counts; raises `ConfigError`."""
  for field in ('num_samples', 'num_reference', 'batch_size'):
    if settings[field] <= 0:
      raise errors.ConfigError(
        f'eval.{field}={settings[field]} must be positive; e.g. '
        f'--config.eval.{field}={config_sections.eval_config()[field]}.'
      )
  return parse_metric_names(settings.metrics)


def reads(metric_names: list[str]) -> set[str]:
  """What the named metrics read of the sets: a subset of {'features', 'probs', 'pixels'}."""
  return {METRICS[name].reads for name in metric_names}


def observe(
  images: np.ndarray, network: Optional[feature_networks.FeatureNetwork], needs: set[str]
) -> Observations:
  """The observations of `images` [N, H, W, C] (uint8, or float in [-1, 1]) that `needs` names.

  `network` embeds them when features or probabilities are needed.
  """
  features = probs = pixels = None
  if needs & {'features', 'probs'}:
    features, probs = network.embed(images)
  if 'pixels' in needs:
    pixels = (feature_networks.to_model_range(images) + 1.0) / 2.0
    pixels = pixels.reshape(len(images), -1)
  return Observations(features, probs, pixels)


def _observe_block(images, network, needs) -> Observations:
  if not len(images):  # A process left without rows still gives the shapes to gather.
    dummy = np.zeros((1, *images.shape[1:]), images.dtype)
    return jax.tree.map(lambda x: x[:0], observe(dummy, network, needs))
  return observe(images, network, needs)


def _gather(block: Observations, total: int, multiple: int) -> Observations:
  gather = lambda rows: None if rows is None else distributed.gather_rows(rows, total, multiple)
  return Observations(*(gather(rows) for rows in block))


def observe_split(
  images: np.ndarray,
  network: Optional[feature_networks.FeatureNetwork],
  needs: set[str],
  multiple: int = 1,
) -> Observations:
  """`observe` of all `images`, each process observing its `row_block` (blocks of `multiple`
  rows) and gathering the others'."""
  rows = distributed.row_block(len(images), multiple)
  block = _observe_block(images[rows.start : rows.stop], network, needs)
  return _gather(block, len(images), multiple)


def score(
  metric_names: list[str],
  real: Observations,
  fake: Observations,
  settings: ml_collections.ConfigDict,
) -> dict[str, float]:
  """{result name: number} of every named metric of `fake` against `real`."""
  results = {}
  for name in metric_names:
    results.update(METRICS[name].compute(real, fake, settings))
  return results


def metrics_protocol(
  metric_names: list[str], settings: ml_collections.ConfigDict
) -> dict[str, str]:
  """{metric name: how its numbers are computed under `settings`}, for eval.json."""
  return {name: METRICS[name].protocol(settings) for name in metric_names}


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
    self._metric_names = check_settings(settings)
    self._needs = reads(self._metric_names)
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
      'metrics': metrics_protocol(self._metric_names, settings),
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
    return score(self._metric_names, self._real, fake, self._settings)
