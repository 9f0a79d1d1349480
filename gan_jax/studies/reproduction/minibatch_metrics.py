"""MMD and 1-NN accuracy of a real and a generated batch, as in Aakash's GAN-variants slides.

The slides' numbers come from the authors' metric.py (adapted from Xu et al.
2018, "An empirical study on evaluation metrics of generative adversarial
networks", github.com/xuqiantong/GAN-Metrics), applied in pixel space to a
batch of real images x (m of them) and of generated images y (n):

  MMD = sqrt(max(0, MMD^2_b)),  MMD^2_b = mean k(x, x') + mean k(y, y') - 2 mean k(x, y),
  k(a, b) = exp(-||a - b||^2 / (2 s)),  s = mean_{i, j} ||x_i - x_j||^2,

the biased V-statistic (Gretton et al. 2012, Eq. 5) with the kernel width set
by the real batch (s averages over all m^2 pairs, the zero diagonal
included); and the leave-one-out 1-NN two-sample accuracy on the pooled batch
(Lopez-Paz & Oquab 2017), overall, on the real and on the generated points.
Both are computed here with `gan_jax.metrics`.
"""

from typing import NamedTuple

import numpy as np

from gan_jax.metrics import distances
from gan_jax.metrics import mmd
from gan_jax.metrics import nearest_neighbor


class Scores(NamedTuple):
  """MMD and 1-NN accuracy (overall, on real points, on generated points)."""

  mmd: float
  one_nn: float
  one_nn_real: float
  one_nn_fake: float


# Column headings of `Scores`, in order.
COLUMNS = ('MMD', '1-NN accuracy', '1-NN accuracy (real)', '1-NN accuracy (fake)')


def kernel_width(real) -> float:
  """The Gaussian width sqrt(s), s = mean squared distance over all pairs of real [m, d]."""
  real = np.asarray(real, dtype=np.float32)
  return float(np.sqrt(np.mean(distances.pairwise_squared_distances(real, real))))


def minibatch_scores(real, fake) -> Scores:
  """The slides' metrics of a real and a generated batch (see the module docstring).

  Args:
    real: [m, ...] real images (flattened here), m >= 2 and not all equal.
    fake: [n, ...] generated images of the same shape, in the same range.

  Returns:
    Scores as Python floats.
  """
  real = np.asarray(real, dtype=np.float32).reshape(len(real), -1)
  fake = np.asarray(fake, dtype=np.float32).reshape(len(fake), -1)
  squared_mmd = mmd.mmd2(real, fake, 'gaussian', bandwidth=kernel_width(real), unbiased=False)
  return Scores(
    float(np.sqrt(max(squared_mmd, 0.0))), *nearest_neighbor.one_nn_accuracy(real, fake)
  )
