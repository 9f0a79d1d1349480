"""Euclidean nearest neighbours and the leave-one-out 1-NN two-sample test.

The 1-NN test (Lopez-Paz & Oquab 2017, "Revisiting classifier two-sample
tests"; proposed as a GAN metric by Xu et al. 2018, "An empirical study on
evaluation metrics of generative adversarial networks") pools real samples
(label 1) and generated samples (label 0) and classifies every point by the
label of its nearest *other* pooled point. Accuracy near 0.5 means the two sets
cannot be told apart; 1.0 means they are fully separated; well below 0.5 means
the generated points sit on top of the real ones (a generator that copies its
training set).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.metrics import distances


@functools.partial(jax.jit, static_argnames='block_size')
def _nearest_other_indices(points, block_size):
  def nearest_other(point_and_index):
    return jnp.argmin(distances.distances_to_others(*point_and_index, points))

  indices = jnp.arange(points.shape[0])
  return jax.lax.map(nearest_other, (points, indices), batch_size=block_size)


def one_nn_accuracy(real, fake, *, block_size=distances.DEFAULT_BLOCK_SIZE):
  """Leave-one-out 1-nearest-neighbour two-sample test accuracy.

  Lopez-Paz & Oquab 2017; Xu et al. 2018 ("1-NN classifier"). Every
  point of the pooled set {real (label 1), fake (label 0)} is classified by the
  label of its Euclidean nearest neighbour among the other pooled points.

  Args:
    real: [n_real, d] real samples or features.
    fake: [n_fake, d] generated samples or features.
    block_size: query rows processed together; bounds memory to
      O(block_size x (n_real + n_fake)).

  Returns:
    (overall, on_real, on_fake) accuracies as Python floats: over all pooled
    points, over the real points only, over the fake points only. About 0.5
    when both sets come from one distribution, 1.0 when they are separated.
  """
  real, fake = distances.as_point_sets(real, fake)
  if real.shape[0] < 1 or fake.shape[0] < 1:
    raise ValueError('real and fake need at least one point each.')
  pooled = jnp.concatenate([real, fake])
  labels = np.concatenate([np.ones(real.shape[0], bool), np.zeros(fake.shape[0], bool)])
  neighbors = np.asarray(_nearest_other_indices(pooled, block_size))
  correct = labels[neighbors] == labels
  return (float(correct.mean()), float(correct[labels].mean()), float(correct[~labels].mean()))
