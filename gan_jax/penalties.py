"""Regularizers of the discriminator: penalties added to its loss, and weight clipping.

Every penalty has one contract:

  penalty(discriminator_fn, params, real, fake, rng) -> scalar

with `discriminator_fn(params, images [batch, H, W, C]) -> logits [batch]` D's
training-mode forward pass (its model state bound, any update of it dropped),
`params` D's parameters, `real` and `fake` [batch, H, W, C] batches of real and
(gradient-stopped) generated images, and `rng` a key for the penalty's own
randomness. D minimizes `loss + weight * penalty`. Penalties are batch means,
so that the data-parallel gradient (the `lax.pmean` of per-device gradients)
equals the gradient of the global batch.

The penalties on grad_x D(x) assume that D scores each example on its own:
with batch norm in D, the gradient of the summed logits with respect to one
example also flows through the batch statistics, which couples the examples
(Gulrajani et al. 2017, section 4: "no critic batch normalization").

Weight clipping (Arjovsky et al. 2017) is a constraint, not a penalty: it is
applied to D's parameters after every D update, see `clip_weights`.
"""

from typing import Callable

import jax
import jax.numpy as jnp

from gan_jax import errors

DiscriminatorFn = Callable[[object, jax.Array], jax.Array]
Penalty = Callable[[DiscriminatorFn, object, jax.Array, jax.Array, jax.Array], jax.Array]


def _input_gradients(discriminator_fn: DiscriminatorFn, params, images: jax.Array) -> jax.Array:
  """grad_x D(x) for every example, [batch, H, W, C].

  The gradient of the summed logits is the per-example gradient because each
  logit depends on its own example only (no batch norm in D).
  """
  return jax.grad(lambda x: jnp.sum(discriminator_fn(params, x)))(images)


def _per_example_norm(gradients: jax.Array) -> jax.Array:
  """||g||_2 per example, [batch]; the epsilon keeps its gradient finite at g = 0."""
  squared = jnp.sum(jnp.square(gradients.reshape(gradients.shape[0], -1)), axis=-1)
  return jnp.sqrt(squared + 1e-12)


def _per_example_uniform(rng: jax.Array, images: jax.Array) -> jax.Array:
  """U[0, 1] draws, one per example, shaped to broadcast against `images`."""
  return jax.random.uniform(rng, (images.shape[0],) + (1,) * (images.ndim - 1), images.dtype)


def _interpolates(rng: jax.Array, real: jax.Array, fake: jax.Array) -> jax.Array:
  """x_hat = eps x + (1 - eps) G(z), eps ~ U[0, 1] per example (Gulrajani et al. 2017, Alg. 1)."""
  eps = _per_example_uniform(rng, real)
  return eps * real + (1.0 - eps) * fake


def none(discriminator_fn: DiscriminatorFn, params, real, fake, rng) -> jax.Array:
  """No penalty: 0."""
  del discriminator_fn, params, real, fake, rng
  return jnp.zeros(())


def gradient_penalty(discriminator_fn: DiscriminatorFn, params, real, fake, rng) -> jax.Array:
  """WGAN-GP (Gulrajani et al. 2017, Eq. 3): E[(||grad_x D(x_hat)||_2 - 1)^2].

  x_hat is a random point on the line between a real and a generated example.

  Args:
    discriminator_fn: (params, images [batch, H, W, C]) -> logits [batch].
    params: D's parameters.
    real, fake: [batch, H, W, C] real and generated images.
    rng: key for the interpolation coefficients.
  """
  x_hat = _interpolates(rng, real, fake)
  norms = _per_example_norm(_input_gradients(discriminator_fn, params, x_hat))
  return jnp.mean(jnp.square(norms - 1.0))


def one_sided_gradient_penalty(
  discriminator_fn: DiscriminatorFn, params, real, fake, rng
) -> jax.Array:
  """The one-sided WGAN-GP (Gulrajani et al. 2017, section 4; Petzka et al. 2018).

  E[max(0, ||grad_x D(x_hat)||_2 - 1)^2] on the interpolates of
  `gradient_penalty`: only gradient norms above 1 are penalized, which is all
  that the Lipschitz constraint asks.
  """
  x_hat = _interpolates(rng, real, fake)
  norms = _per_example_norm(_input_gradients(discriminator_fn, params, x_hat))
  return jnp.mean(jnp.square(jax.nn.relu(norms - 1.0)))


def dragan(discriminator_fn: DiscriminatorFn, params, real, fake, rng) -> jax.Array:
  """DRAGAN (Kodali et al. 2017): E[(||grad_x D(x_hat)||_2 - 1)^2] near the real data.

  x_hat = x + c * std(x) * u with u ~ U[0, 1] per pixel and c = 0.5, the form
  of the authors' code; std(x) is the standard deviation of the real batch.
  `fake` is not used.
  """
  del fake
  noise = jax.random.uniform(rng, real.shape, real.dtype)
  x_hat = real + 0.5 * jnp.std(real) * noise
  norms = _per_example_norm(_input_gradients(discriminator_fn, params, x_hat))
  return jnp.mean(jnp.square(norms - 1.0))


def r1(discriminator_fn: DiscriminatorFn, params, real, fake, rng) -> jax.Array:
  """R1 (Mescheder et al. 2018, Eq. 9): 1/2 E[||grad_x D(x)||^2] on real data."""
  del fake, rng
  gradients = _input_gradients(discriminator_fn, params, real)
  return 0.5 * jnp.mean(jnp.sum(jnp.square(gradients.reshape(real.shape[0], -1)), axis=-1))


def r2(discriminator_fn: DiscriminatorFn, params, real, fake, rng) -> jax.Array:
  """R2 (Mescheder et al. 2018, Eq. 10): 1/2 E[||grad_x D(x)||^2] on generated data."""
  del real, rng
  gradients = _input_gradients(discriminator_fn, params, fake)
  return 0.5 * jnp.mean(jnp.sum(jnp.square(gradients.reshape(fake.shape[0], -1)), axis=-1))


def l2(discriminator_fn: DiscriminatorFn, params, real, fake, rng) -> jax.Array:
  """L2 weight decay on D (Strakhov 2018): 1/2 sum of the squared kernel weights.

  Only kernels (dense and convolution weights) are decayed, not biases or
  normalization scales.
  """
  del discriminator_fn, real, fake, rng
  leaves = jax.tree_util.tree_leaves_with_path(params)
  kernels = [leaf for path, leaf in leaves if getattr(path[-1], 'key', None) == 'kernel']
  return 0.5 * sum(jnp.sum(jnp.square(kernel)) for kernel in kernels)


PENALTIES: dict[str, Penalty] = {
  'dragan': dragan,
  'gradient_penalty': gradient_penalty,
  'l2': l2,
  'none': none,
  'one_sided_gradient_penalty': one_sided_gradient_penalty,
  'r1': r1,
  'r2': r2,
}

# The penalties on grad_x D(x): per-example, so D must have no batch norm.
INPUT_GRADIENT_PENALTIES = frozenset(
  {'dragan', 'gradient_penalty', 'one_sided_gradient_penalty', 'r1', 'r2'}
)


def get_penalty(name: str) -> Penalty:
  """The penalty called `name`; raises `ConfigError` listing the valid names."""
  if name not in PENALTIES:
    raise errors.unknown_name_error('penalty', name, PENALTIES)
  return PENALTIES[name]


def clip_weights(params, bound: float):
  """Every parameter clipped to [-bound, bound] (WGAN, Arjovsky et al. 2017, Algorithm 1).

  Clipping keeps the critic in a compact set of functions, hence K-Lipschitz
  for some K; it applies to all parameters, biases and normalization scales
  included, as in the authors' code.
  """
  return jax.tree.map(lambda p: jnp.clip(p, -bound, bound), params)
