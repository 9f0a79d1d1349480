"""Inception Score from a classifier's class probabilities.

Salimans et al. 2016, "Improved techniques for training GANs", Sec. 4:

  IS = exp(E_x KL(p(y|x) || p(y))),  p(y) = E_x p(y|x),

computed on `splits` disjoint consecutive chunks of the samples and reported
as the mean and standard deviation over chunks, as in the paper's code. It
ranges from 1 (every sample gets the same prediction) to K (confident
predictions spread evenly over K classes).

The paper's code splits the samples in the order given; torch-fidelity
shuffles them first, with numpy's `RandomState(2020).permutation`. Both are
offered (`shuffle`), and they differ whenever the order carries information,
e.g. samples generated class by class: sorted by class, each split of a
K-class set sees few classes and scores near 1 instead of near K.
"""

import numpy as np
import scipy.special

from gan_jax.metrics import finite


def _check_probs(probs, splits):
  if probs.ndim != 2:
    raise ValueError(f'probs must be [N, K] class probabilities; got shape {probs.shape}.')
  finite.check_finite_rows(probs, 'probs')
  num_samples = probs.shape[0]
  if not 1 <= splits <= num_samples:
    raise ValueError(
      f'splits={splits} must be between 1 and the number of samples ({num_samples}); '
      'pass fewer splits or more samples.'
    )
  if np.any(probs < 0) or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
    raise ValueError('probs rows must be non-negative and sum to 1; apply softmax to logits first.')


def inception_score(probs, splits=10, *, shuffle=False, seed=0):
  """Inception Score (Salimans et al. 2016), mean and std over splits.

  Args:
    probs: [N, K] class probabilities p(y|x) of N generated samples (softmax
      outputs, rows summing to 1).
    splits: number of chunks, 1 <= splits <= N; chunk i holds rows
      [i N / splits, (i + 1) N / splits) of the (shuffled) samples.
    shuffle: False splits the rows in the order given (Salimans et al.'s
      code); True permutes them first with
      `np.random.RandomState(seed).permutation(N)` (torch-fidelity's way).
    seed: the permutation's seed when shuffle is True; 2020 is
      torch-fidelity's default and gives its splits exactly.

  Returns:
    (mean, std) of the per-chunk scores as Python floats (std with ddof=0,
    as in the reference implementations).

  Raises:
    ValueError: for a bad shape, split count, or rows that are not
      probabilities.
    errors.NonFiniteError: if probs holds NaN or Inf.
  """
  probs = np.asarray(probs, dtype=np.float64)
  _check_probs(probs, splits)
  num_samples = probs.shape[0]
  if shuffle:
    probs = probs[np.random.RandomState(seed).permutation(num_samples)]
  scores = []
  for split in range(splits):
    chunk = probs[split * num_samples // splits : (split + 1) * num_samples // splits]
    marginal = chunk.mean(axis=0, keepdims=True)
    # rel_entr(p, q) = p log(p / q) with 0 log 0 = 0: classes that a sample
    # gives zero probability contribute nothing instead of NaN.
    mean_kl = scipy.special.rel_entr(chunk, marginal).sum(axis=1).mean()
    scores.append(np.exp(mean_kl))
  return float(np.mean(scores)), float(np.std(scores))
