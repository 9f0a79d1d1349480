"""Regularizers of a player's parameters, added to its loss.

`orthogonal_regularization` is BigGAN's regularizer of G (Brock et al. 2019,
section 3, Eq. 3): it pushes the filters of every layer towards pairwise
orthogonality, which makes G amenable to the truncation trick.

`path_length_penalty` is StyleGAN2's path length regularization of G
(Karras et al. 2020, section 3.2, Eq. 4): it asks a fixed-size step in w to
move the image by a fixed amount whatever the direction and the w.
"""

import math
from typing import Callable, Optional

import jax
import jax.numpy as jnp
from jax import lax


def _off_diagonal_gram_norm(kernel: jax.Array) -> jax.Array:
  """||W^T W (1 - I)||_F^2 of W = kernel as [fan_in, fan_out], in float32.

  When fan_out > fan_in it is computed as ||W W^T||_F^2 - sum_j ||w_j||^4
  (w_j the columns of W; W^T W and W W^T have equal Frobenius norms), so that
  the Gram matrix formed is the smaller one: the first linear layer of
  BigGAN's G at 128x128 maps 20 inputs to 24,576 outputs, whose [fan_out,
  fan_out] Gram would take 2.4 GB. Otherwise the diagonal is masked out
  directly, which keeps orthogonal filters at 0 exactly, without cancellation.
  """
  matrix = kernel.reshape(-1, kernel.shape[-1]).astype(jnp.float32)
  fan_in, fan_out = matrix.shape
  if fan_out > fan_in:
    column_norms = jnp.sum(jnp.square(matrix), axis=0)
    return jnp.sum(jnp.square(matrix @ matrix.T)) - jnp.sum(jnp.square(column_norms))
  off_diagonal = (matrix.T @ matrix) * (1 - jnp.eye(fan_out, dtype=jnp.float32))
  return jnp.sum(jnp.square(off_diagonal))


def orthogonal_regularization(params, beta: float = 1e-4) -> jax.Array:
  """BigGAN's orthogonal regularization of a player's parameters (Brock et al. 2019, Eq. 3).

  R_beta = beta * sum over W of ||W^T W (1 - I)||_F^2, with (1 - I) masking
  out the diagonal: only the inner products of distinct filters are
  penalized, not their norms (the paper's relaxation of full orthogonal
  regularization of Brock et al. 2017, which the paper found too limiting).

  W ranges over every leaf named 'kernel' (the weights of flax's dense and
  convolution layers, the spectrally normalized ones included: the raw
  parameter is regularized, as in BigGAN-PyTorch), reshaped to [fan_in,
  fan_out] (a convolution's [kh, kw, in, out] to [kh * kw * in, out]), so
  that W^T W holds the inner products of the fan_out filters. Skipped, as
  BigGAN-PyTorch's `utils.ortho` skips them: parameters with fewer than two
  axes (biases, batch-norm scales, self-attention's gamma), and embeddings
  ('embedding' leaves; the reference leaves out G's shared class embedding,
  "it makes no sense"). The conditional batch norms' gain and bias
  projections are kernels and are regularized, as there.

  BigGAN-PyTorch adds 2 * beta * (W W^T (1 - I)) W to the gradient of each
  [out, in] weight W, which is the gradient of beta / 2 times the paper's
  term: its `--G_ortho 1e-4` equals beta = 5e-5 here.

  Args:
    params: a parameter tree (e.g. G's 'params' collection).
    beta: the regularization strength; the paper's 1e-4.

  Returns:
    The scalar R_beta, float32.
  """
  terms = [
    _off_diagonal_gram_norm(leaf)
    for path, leaf in jax.tree_util.tree_leaves_with_path(params)
    if getattr(path[-1], 'key', None) == 'kernel' and leaf.ndim >= 2
  ]
  return beta * sum(terms, jnp.zeros((), jnp.float32))


def path_length_penalty(
  synthesize: Callable[[jax.Array], jax.Array],
  ws: jax.Array,
  rng: jax.Array,
  running_mean: jax.Array,
  decay: float,
  axis_name: Optional[str] = None,
) -> tuple[jax.Array, jax.Array]:
  """StyleGAN2's path length penalty (Karras et al. 2020, section 3.2, Eq. 4).

  E_{w, y} (||J_w^T y||_2 - a)^2, with J_w the Jacobian of the images with
  respect to w, y ~ N(0, I) / sqrt(H W) (pixel-count normalized, so the
  lengths do not grow with the image) and a the running mean of the lengths,
  as StyleGAN2-ADA's `training/loss.py` computes it:

    grads   = d sum(images * y) / d ws                (one VJP), [B, num_ws, w_dim]
    lengths = sqrt(mean over num_ws of sum over w_dim of grads^2),  [B]
    a_new   = running_mean + decay * (mean(lengths) - running_mean)
    penalty = mean((lengths - a_new)^2)

  mean(lengths) is averaged over `axis_name` when given, so replicas keep one
  running mean. a_new is differentiable in the penalty (as in the reference,
  whose stored copy alone is detached); the penalty is differentiable with
  respect to whatever `synthesize` closes over (double backpropagation).

  Args:
    synthesize: ws [B, num_ws, w_dim] -> images [B, H, W, C] (G's synthesis
      network with its parameters bound; the caller's closure).
    ws: [B, num_ws, w_dim] the styles the images are made from.
    rng: key of y.
    running_mean: the scalar a, float32 (0 at the start of training).
    decay: the reference's pl_decay, 0.01.
    axis_name: the data-parallel axis, or None.

  Returns:
    (penalty, new running mean), both float32 scalars; the new running mean
    is a constant (stop_gradient), to be kept in the training state.
  """
  images, pullback = jax.vjp(synthesize, ws)
  height, width = images.shape[1:3]
  noise = jax.random.normal(rng, images.shape, jnp.float32) / math.sqrt(height * width)
  (grads,) = pullback(noise.astype(images.dtype))
  grads = grads.astype(jnp.float32)
  lengths = jnp.sqrt(jnp.mean(jnp.sum(jnp.square(grads), axis=2), axis=1))
  batch_mean = jnp.mean(lengths)
  if axis_name is not None:
    batch_mean = lax.pmean(batch_mean, axis_name)
  new_mean = running_mean + decay * (batch_mean - running_mean)
  penalty = jnp.mean(jnp.square(lengths - new_mean))
  return penalty, lax.stop_gradient(new_mean)
