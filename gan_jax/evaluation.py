"""Evaluating a trained generator: samples, reference data, feature network, metrics.

An `Evaluator` is built once per run from the config's `eval` section: it
draws `num_reference` real images from the data set's reference split,
computes their features once, and then scores any generator state by drawing
`num_samples` images and running the named metrics (`METRICS`) on features,
class probabilities or pixels of both sets. Every number comes with the
protocol that produced it (`Evaluator.protocol`), which `experiments.evaluate`
writes next to the numbers in eval.json. In a job of several processes, each
draws and embeds its block of the images (`distributed.row_block`) and the
blocks are gathered, so every process gets the numbers of one process.

Feature networks: 'inception' (the FID Inception-v3 of TTUR/torch-fidelity,
`gan_jax.metrics.inception`; needs its weights file) and 'mnist_classifier'
(the LeNet shipped with the package, `gan_jax.metrics.mnist_classifier`, the
usual choice for MNIST GANs). 'auto' takes the MNIST classifier for 28x28x1
data and Inception otherwise.
"""

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan_jax import config_sections
from gan_jax import distributed
from gan_jax import errors
from gan_jax import input_pipeline
from gan_jax.metrics import fid
from gan_jax.metrics import inception_score
from gan_jax.metrics import kid
from gan_jax.metrics import mmd
from gan_jax.metrics import nearest_neighbor
from gan_jax.metrics import parzen
from gan_jax.metrics import precision_recall

FEATURE_NETWORKS = ('auto', 'inception', 'mnist_classifier')
# The Parzen bandwidth grid of Goodfellow et al.'s evaluation code, on pixels in [0, 1].
PARZEN_SIGMAS = tuple(np.round(np.logspace(-1, 0, 10), 4))


class Observations(NamedTuple):
  """What the metrics read of one set of images (real or generated).

  Attributes:
    features: [N, d] feature-network embeddings, or None if no metric needs them.
    probs: [N, classes] feature-network class probabilities, or None.
    pixels: [N, H * W * C] images scaled to [0, 1].
  """

  features: Optional[np.ndarray]
  probs: Optional[np.ndarray]
  pixels: np.ndarray


def _fid(real: Observations, fake: Observations) -> dict[str, float]:
  return {'fid': fid.fid_from_features(real.features, fake.features)}


def _inception_score(real: Observations, fake: Observations) -> dict[str, float]:
  del real
  mean, std = inception_score.inception_score(fake.probs, splits=min(10, len(fake.probs)))
  return {'is': mean, 'is_std': std}


def _kid(real: Observations, fake: Observations) -> dict[str, float]:
  mean, std = kid.kernel_inception_distance(real.features, fake.features)
  return {'kid': mean, 'kid_std': std}


def _precision_recall(real: Observations, fake: Observations) -> dict[str, float]:
  precision, recall = precision_recall.precision_recall(real.features, fake.features, k=3)
  return {'precision': precision, 'recall': recall}


def _density_coverage(real: Observations, fake: Observations) -> dict[str, float]:
  density, coverage = precision_recall.density_coverage(real.features, fake.features, k=5)
  return {'density': density, 'coverage': coverage}


def _mmd(real: Observations, fake: Observations) -> dict[str, float]:
  return {'mmd2': mmd.mmd2(real.pixels, fake.pixels)}


def _one_nn(real: Observations, fake: Observations) -> dict[str, float]:
  # The two-sample test needs equally many of each (chance is then 0.5): the
  # first n of each set, both drawn at random already.
  n = min(len(real.pixels), len(fake.pixels))
  overall, on_real, on_fake = nearest_neighbor.one_nn_accuracy(real.pixels[:n], fake.pixels[:n])
  return {'one_nn': overall, 'one_nn_real': on_real, 'one_nn_fake': on_fake}


def _parzen(real: Observations, fake: Observations) -> dict[str, float]:
  # Goodfellow et al. 2014: sigma chosen on validation data, the estimate on
  # other held-out data; here the two halves of the reference images.
  half = len(real.pixels) // 2
  sigma, _ = parzen.select_bandwidth(fake.pixels, real.pixels[:half], PARZEN_SIGMAS)
  mean, standard_error = parzen.parzen_log_likelihood(fake.pixels, real.pixels[half:], sigma)
  return {'parzen': mean, 'parzen_stderr': standard_error, 'parzen_sigma': sigma}


class Metric(NamedTuple):
  """A metric: its function of (real, fake) observations, what it reads, its protocol."""

  compute: Callable[[Observations, Observations], dict[str, float]]
  reads: str  # 'features', 'probs' or 'pixels'.
  protocol: str


METRICS: dict[str, Metric] = {
  'fid': Metric(_fid, 'features', 'Frechet distance of Gaussians fitted to the features'),
  'is': Metric(
    _inception_score, 'probs', 'Inception Score of the generated images, 10 splits (mean, std)'
  ),
  'kid': Metric(
    _kid, 'features', 'unbiased cubic-kernel MMD^2 of the features, 100 subsets of <= 1000'
  ),
  'precision_recall': Metric(_precision_recall, 'features', 'k-NN balls in feature space, k = 3'),
  'density_coverage': Metric(_density_coverage, 'features', 'k-NN balls around real, k = 5'),
  'mmd': Metric(_mmd, 'pixels', 'unbiased Gaussian-kernel MMD^2 of pixels in [0, 1], median bw'),
  'one_nn': Metric(
    _one_nn,
    'pixels',
    'leave-one-out 1-NN accuracy on pixels in [0, 1], min(num_samples, num_reference) of each',
  ),
  'parzen': Metric(
    _parzen,
    'pixels',
    f'Gaussian Parzen window on pixels in [0, 1]; sigma from {PARZEN_SIGMAS} on the first half '
    'of the reference images, log-likelihood (nats) of the second half',
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


def resolve_feature_network(name: str, image_shape) -> str:
  """'auto' -> 'mnist_classifier' for 28x28x1 images, else 'inception'."""
  if name not in FEATURE_NETWORKS:
    raise errors.unknown_name_error('eval.feature_network', name, FEATURE_NETWORKS)
  if name == 'auto':
    return 'mnist_classifier' if tuple(image_shape) == (28, 28, 1) else 'inception'
  return name


def _feature_function(network: str, config: ml_collections.ConfigDict, image_shape):
  """(images [N, H, W, C] in [-1, 1] -> (features, probs), protocol description)."""
  if network == 'mnist_classifier':
    from gan_jax.metrics import mnist_classifier  # pylint: disable=g-import-not-at-top

    if tuple(image_shape) != mnist_classifier.IMAGE_SHAPE:
      raise errors.ConfigError(
        f'eval.feature_network=mnist_classifier scores 28x28x1 digits, but the data has shape '
        f'{tuple(image_shape)}; use --config.eval.feature_network=inception.'
      )
    params = mnist_classifier.load_mnist_classifier()
    return (
      lambda images: mnist_classifier.classify(params, images, batch_size=config.batch_size),
      'MNIST classifier (LeNet shipped in gan_jax/metrics/weights): 128-d penultimate features, '
      'softmax over 10 digits',
    )
  from gan_jax.metrics import inception  # pylint: disable=g-import-not-at-top
  from gan_jax.metrics import inception_weights  # pylint: disable=g-import-not-at-top

  variables = inception_weights.load_inception_params(config.inception_weights or None)

  def features_and_probs(images):
    pixels = np.clip(np.rint((np.asarray(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    outputs = inception.compute_inception_features(variables, pixels, batch_size=config.batch_size)
    return outputs.pool, np.asarray(jax.nn.softmax(outputs.logits_unbiased, axis=-1))

  return features_and_probs, (
    'FID Inception-v3 (TF 2015-12-05 graph, torch-fidelity weights): 2048-d pool3 features, '
    'softmax of the 1008 unbiased logits; images rounded to uint8 and resized to 299 with the '
    'TF1 bilinear resize'
  )


def reference_images(
  data_config: ml_collections.ConfigDict, split: str, count: int, seed: int
) -> tuple[np.ndarray, str]:
  """`count` real images [count, H, W, C] in [-1, 1], drawn without replacement, and
  a description of where they came from."""
  data_config = ml_collections.ConfigDict(data_config.to_dict())
  data_config.split = split or data_config.split
  source, info = input_pipeline.get_source(data_config)
  count = min(count, info.num_examples)
  indices = np.sort(np.random.default_rng(seed).permutation(info.num_examples)[:count])
  images = np.stack(
    [input_pipeline.to_model_range(np.asarray(source[i]['image'])) for i in indices]
  )
  description = (
    f'{count} of the {info.num_examples} images of {info.name} split {data_config.split!r}, '
    f'drawn at random (seed {seed})'
  )
  return images, description


def _pixels(images: np.ndarray) -> np.ndarray:
  return ((np.asarray(images, np.float32) + 1.0) / 2.0).reshape(len(images), -1)


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
    eval_settings = config.eval
    for field in ('num_samples', 'num_reference', 'batch_size'):
      if eval_settings[field] <= 0:
        raise errors.ConfigError(
          f'eval.{field}={eval_settings[field]} must be positive; e.g. '
          f'--config.eval.{field}={config_sections.eval_config()[field]}.'
        )
    self._settings = eval_settings
    self._metric_names = parse_metric_names(eval_settings.metrics)
    reads = {METRICS[name].reads for name in self._metric_names}
    self._network = None
    network_description = 'none (pixel metrics only)'
    if reads & {'features', 'probs'}:
      self._network = resolve_feature_network(eval_settings.feature_network, image_shape)
      self._features_and_probs, network_description = _feature_function(
        self._network, eval_settings, image_shape
      )
    self._latent_dim, self._num_classes = latent_dim, num_classes
    self._image_shape = tuple(image_shape)
    self._generate = generate
    real, reference_description = reference_images(
      config.data, eval_settings.reference_split, eval_settings.num_reference, eval_settings.seed
    )
    self._real = self._observe(real)
    self.protocol = {
      'num_samples': int(eval_settings.num_samples),
      'num_reference': len(real),
      'reference': reference_description,
      'feature_network': network_description,
      'generated': (
        f'{eval_settings.num_samples} samples, z ~ N(0, I) from seed {eval_settings.seed}'
        + (f', classes {num_classes} equally often' if num_classes else '')
      ),
      'metrics': {name: METRICS[name].protocol for name in self._metric_names},
    }

  def _observe(self, images: np.ndarray, multiple: int = 1) -> Observations:
    """The observations of all `images`, from this process's `row_block` of them and the
    other processes' blocks."""
    rows = distributed.row_block(len(images), multiple)
    block = self._observe_block(images[rows.start : rows.stop])
    return self._gather(block, len(images), multiple)

  def _observe_block(self, images: np.ndarray) -> Observations:
    if not len(images):  # A process left without rows still gives the shapes to gather.
      return jax.tree.map(lambda x: x[:0], self._observe_block(np.zeros((1, *images.shape[1:]))))
    features = probs = None
    if self._network is not None:
      features, probs = self._features_and_probs(images)
    return Observations(features, probs, _pixels(images))

  @staticmethod
  def _gather(block: Observations, total: int, multiple: int) -> Observations:
    gather = lambda rows: None if rows is None else distributed.gather_rows(rows, total, multiple)
    return Observations(*(gather(rows) for rows in block))

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
    block = self._observe_block(self.generated_images(generator_state, rows))
    fake = self._gather(block, total, batch_size)
    results = {}
    for name in self._metric_names:
      results.update(METRICS[name].compute(self._real, fake))
    return results
