"""Inception Score from a classifier's class probabilities.

Salimans et al. 2016, "Improved techniques for training GANs", Sec. 4:

  IS = exp(E_x KL(p(y|x) || p(y))),  p(y) = E_x p(y|x),

computed on `splits` disjoint consecutive chunks of the samples and reported
as the mean and standard deviation over chunks, as in the paper's code. It
ranges from 1 (every sample gets the same prediction) to K (confident
predictions spread evenly over K classes).
"""

import numpy as np
import scipy.special


def inception_score(probs, splits=10):
  """Inception Score (Salimans et al. 2016), mean and std over splits.

  Args:
    probs: [N, K] class probabilities p(y|x) of N generated samples (softmax
      outputs, rows summing to 1).
    splits: number of chunks, 1 <= splits <= N; chunk i holds rows
      [i N / splits, (i + 1) N / splits).

  Returns:
    (mean, std) of the per-chunk scores as Python floats (std with ddof=0,
    as in the reference implementation).
  """
  probs = np.asarray(probs, dtype=np.float64)
  if probs.ndim != 2:
    raise ValueError(f'probs must be [N, K] class probabilities; got shape {probs.shape}.')
  num_samples = probs.shape[0]
  if not 1 <= splits <= num_samples:
    raise ValueError(
      f'splits={splits} must be between 1 and the number of samples ({num_samples}); '
      'pass fewer splits or more samples.'
    )
  if np.any(probs < 0) or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
    raise ValueError('probs rows must be non-negative and sum to 1; apply softmax to logits first.')
  scores = []
  for split in range(splits):
    chunk = probs[split * num_samples // splits : (split + 1) * num_samples // splits]
    marginal = chunk.mean(axis=0, keepdims=True)
    # rel_entr(p, q) = p log(p / q) with 0 log 0 = 0: classes that a sample
    # gives zero probability contribute nothing instead of NaN.
    mean_kl = scipy.special.rel_entr(chunk, marginal).sum(axis=1).mean()
    scores.append(np.exp(mean_kl))
  return float(np.mean(scores)), float(np.std(scores))
