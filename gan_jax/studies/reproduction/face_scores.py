"""Offline scores of generated faces against a small set of training faces.

What `architectures_faces` reports when no Inception weights are at hand,
all in pixel space at a reduced resolution (`pooled`): the minibatch scores
of `minibatch_metrics` (MMD and 1-NN accuracy, as `dcgan_faces_epochs`) and
each sample's RMS distance to its nearest training face, the copies'
detector; and, when the weights file exists, FID and KID from Inception
features (`inception_scores`).
"""

import os
from typing import NamedTuple, Sequence

import ml_collections
import numpy as np

from gan_jax import feature_networks
from gan_jax import scoring
from gan_jax.metrics import distances
from gan_jax.metrics import inception_weights
from gan_jax.studies.reproduction import minibatch_metrics

SCORES = ('MMD', '1-NN accuracy', 'nearest face (median RMS)')


def pooled(images: np.ndarray, resolution: int) -> np.ndarray:
  """Images [N, H, W, C] average-pooled to [N, resolution * resolution * C] (H, W multiples)."""
  n, height, width, channels = images.shape
  if height % resolution or width % resolution:
    raise ValueError(f'{height}x{width} images do not pool to {resolution}x{resolution}.')
  blocks = images.reshape(
    n, resolution, height // resolution, resolution, width // resolution, channels
  )
  return blocks.mean(axis=(2, 4), dtype=np.float64).astype(np.float32).reshape(n, -1)


def nearest(points: np.ndarray, references: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Each point's nearest reference: (RMS distance sqrt(||p - r||^2 / d) [n], index [n]).

  points [n, d], references [m, d]; RMS distances are in the pixels' units.
  """
  squared = np.asarray(distances.pairwise_squared_distances(points, references))
  index = squared.argmin(axis=1)
  return np.sqrt(squared[np.arange(len(points)), index] / points.shape[1]), index


class SetScores(NamedTuple):
  """Scores of the sample sets against the faces: [sets, 4] in `minibatch_metrics.COLUMNS`
  order, and every sample's RMS distance to its nearest face [sets * faces]."""

  minibatch: np.ndarray
  nearest_face: np.ndarray

  def row(self) -> list[float]:
    """`SCORES`: MMD and 1-NN accuracy (means over sets), the median nearest-face distance."""
    mmd, one_nn = self.minibatch[:, :2].mean(axis=0)
    return [float(mmd), float(one_nn), float(np.median(self.nearest_face))]


def score_sets(faces: np.ndarray, sample_sets: Sequence[np.ndarray]) -> SetScores:
  """`minibatch_metrics` and the nearest-face distance of each pooled set [n, d] against the
  pooled faces [m, d]."""
  return SetScores(
    np.array([minibatch_metrics.minibatch_scores(faces, s) for s in sample_sets]),
    np.concatenate([nearest(s, faces)[0] for s in sample_sets]),
  )


def score_real_halves(faces: np.ndarray, num_splits: int) -> SetScores:
  """Held-out real faces as if generated: random halves of the faces against the other halves.

  The floor of the scores (at half the set sizes) and the distance from a new
  face of the same distribution to its nearest face.
  """
  rng = np.random.default_rng(0)
  halves = [
    np.split(faces[rng.permutation(len(faces))], [len(faces) // 2]) for _ in range(num_splits)
  ]
  scores = [score_sets(reference, [held_out]) for reference, held_out in halves]
  return SetScores(
    np.concatenate([s.minibatch for s in scores]),
    np.concatenate([s.nearest_face for s in scores]),
  )


def inception_weights_path(settings: ml_collections.ConfigDict) -> str:
  """Where `feature_networks` reads the FID Inception weights: the field, the variable, else
  the default cache."""
  default = os.path.join(inception_weights.DEFAULT_CACHE_DIR, inception_weights.WEIGHTS_FILENAME)
  path = settings.inception_weights or os.environ.get(inception_weights.WEIGHTS_ENV_VAR) or default
  return os.path.expanduser(path)


def inception_scores(
  faces: np.ndarray, samples: np.ndarray, settings: ml_collections.ConfigDict
) -> dict[str, float]:
  """FID and KID of samples [N, H, W, C] against the faces (in [-1, 1]), Inception features."""
  settings = settings.copy_and_resolve_references()
  settings.metrics = 'fid,kid'
  names = scoring.check_settings(settings)
  network = feature_networks.load(settings, faces.shape[1:])
  observe = lambda images: scoring.observe(images, network, scoring.reads(names))
  return scoring.score(names, observe(faces), observe(samples), settings)
