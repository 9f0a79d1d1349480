"""Regularizers of a player's parameters, added to its loss.

`orthogonal_regularization` is BigGAN's regularizer of G (Brock et al. 2019,
section 3, Eq. 3): it pushes the filters of every layer towards pairwise
orthogonality, which makes G amenable to the truncation trick.
"""

import jax
import jax.numpy as jnp


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
