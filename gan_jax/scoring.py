"""The metrics of `eval.metrics`, over observations of a real and a generated image set.

The metrics (`METRICS`, chosen by name) read what the `Observations` of each
set hold: feature-network embeddings and class probabilities
(`feature_networks`), or pixels. `observe` makes them from images, `score`
runs the named metrics and `metrics_protocol` says how each number was
computed, for eval.json. A reference known only by its FID statistics
(mu, sigma) serves the metrics that need no more of it (`Metric.reads_real`).
Every metric is a pure function on arrays in `gan_jax.metrics`.
"""

from typing import Callable, NamedTuple, Optional

import ml_collections
import numpy as np
from absl import logging

from gan_jax import config_sections
from gan_jax import errors
from gan_jax import feature_networks
from gan_jax.metrics import extrapolation
from gan_jax.metrics import fid
from gan_jax.metrics import inception_score
from gan_jax.metrics import kid
from gan_jax.metrics import mmd
from gan_jax.metrics import nearest_neighbor
from gan_jax.metrics import parzen
from gan_jax.metrics import precision_recall

# torch-fidelity's seed of its IS shuffle and KID subsets, so that both draw what it draws.
TORCH_FIDELITY_SEED = 2020
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
  mu, sigma = fid.feature_statistics(fake.features)
  warning = fid.sample_size_warning('fake', len(fake.features), sigma)
  if warning:
    logging.warning(warning)
  return {'fid': fid.frechet_distance(*real.statistics, mu, sigma)}


def _inception_score(real: Observations, fake: Observations, settings) -> dict[str, float]:
  del real
  mean, std = inception_score.inception_score(
    fake.probs,
    splits=min(10, len(fake.probs)),
    shuffle=settings.is_shuffle,
    seed=TORCH_FIDELITY_SEED,
  )
  return {'is': mean, 'is_std': std}


def _kid(real: Observations, fake: Observations, settings) -> dict[str, float]:
  subset_size = min(settings.kid_subset_size, len(real.features), len(fake.features))
  mean, std = kid.kernel_inception_distance(
    real.features, fake.features, subset_size=subset_size, seed=TORCH_FIDELITY_SEED
  )
  return {'kid': mean, 'kid_std': std, 'kid_subset_size': subset_size}


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


def _fid_infinity(real: Observations, fake: Observations, settings) -> dict[str, float]:
  del settings
  if real.statistics is None:
    result = extrapolation.fid_infinity(real.features, fake.features)
  else:
    result = extrapolation.fid_infinity_from_statistics(*real.statistics, fake.features)
  return {'fid_inf': result.value, 'fid_inf_slope': result.slope}


def _is_infinity(real: Observations, fake: Observations, settings) -> dict[str, float]:
  del real, settings
  result = extrapolation.inception_score_infinity(fake.probs)
  return {'is_inf': result.value, 'is_inf_slope': result.slope}


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
    lambda settings: (
      'Inception Score of the generated images (Salimans et al. 2016), mean and std over 10 '
      + (
        f'splits after numpy RandomState({TORCH_FIDELITY_SEED}).permutation, as torch-fidelity'
        if settings.is_shuffle
        else "splits in sample order, as Salimans et al.'s code"
      )
    ),
  ),
  'fid_infinity': Metric(
    _fid_infinity,
    'features',
    'statistics',
    _fixed(
      'FID_inf (Chong & Forsyth 2020): least-squares line of FID_N over 1/N at 15 N evenly '
      'spaced from num_samples // 10 to num_samples (random subsets of the generated features, '
      'seed 0; real statistics of all reference features), intercept; slope = bias of FID_N '
      'times N'
    ),
  ),
  'is_infinity': Metric(
    _is_infinity,
    'probs',
    'nothing',
    _fixed(
      'IS_inf (Chong & Forsyth 2020): least-squares line of IS_N (1 split) over 1/N at 15 N '
      'evenly spaced from num_samples // 10 to num_samples (random subsets, seed 0), intercept'
    ),
  ),
  'kid': Metric(
    _kid,
    'features',
    'features',
    lambda settings: (
      'unbiased cubic-kernel MMD^2 of the features in float64, mean and std over 100 subsets '
      f'of min(eval.kid_subset_size = {settings.kid_subset_size}, N_real, N_fake) points '
      f'(kid_subset_size) drawn as torch-fidelity (numpy RandomState({TORCH_FIDELITY_SEED})); '
      'kid_std is 0 when both subsets are the whole sets'
    ),
  ),
  'precision_recall': Metric(
    _precision_recall,
    'features',
    'features',
    _fixed(
      "k-NN balls in feature space, k = 3, closed (distance <= radius) as Kynkaanniemi et al.'s "
      'code'
    ),
  ),
  'density_coverage': Metric(
    _density_coverage,
    'features',
    'features',
    _fixed("k-NN balls around real, k = 5, open (distance < radius) as Naeem et al.'s prdc"),
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
