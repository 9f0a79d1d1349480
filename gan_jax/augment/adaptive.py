"""ADA's controller of the augmentation probability p (Karras et al. 2020a, section 3).

D's overfitting is read from its outputs on the real images it trains on:

  r_t = E[sign(D_train)]                                   (section 3, Eq. 1)

is 0 while D cannot tell its training images from generated ones and goes to
1 as it memorises them. Every `interval` steps, p moves by

  sign(r_t - target) * batch * interval / speed_images

(the expectation over the images of those steps), so that p can go from 0 to 1
in `speed_images` images (the paper: 500k), and is kept in [0, 1]. The
official code clamps at 0 only; above 1 every transformation already applies
to every image.

p and the running sums are part of the training state (`GANState.augment`),
so they are checkpointed with it and a resumed run goes on with the p it had,
to the bit.
"""

import dataclasses

import flax
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class AdaptiveState:
  """ADA's state.

  Attributes:
    p: float32 scalar, the probability of each transformation.
    sign_sum: float32, the sum of sign(D(x_real)) since p last moved.
    count: float32, the number of real logits in `sign_sum`.
  """

  p: jax.Array
  sign_sum: jax.Array
  count: jax.Array


@dataclasses.dataclass(frozen=True)
class Controller:
  """How p adapts (the `augment` section: target, interval, speed_kimg).

  Attributes:
    target: the r_t that p steers towards (the paper: 0.6).
    interval: steps between adjustments (the paper's code: 4).
    speed_images: images in which p can move from 0 to 1 (the paper: 500,000).
  """

  target: float
  interval: int
  speed_images: float


def initial_state(p: float) -> AdaptiveState:
  """p at step 0, nothing observed yet."""
  return AdaptiveState(jnp.float32(p), jnp.zeros((), jnp.float32), jnp.zeros((), jnp.float32))


def observe(state: AdaptiveState, sign_sum: jax.Array, count: jax.Array) -> AdaptiveState:
  """`state` with the signs of some more real logits: their sum and their number."""
  return state.replace(sign_sum=state.sign_sum + sign_sum, count=state.count + count)


def adjust(
  state: AdaptiveState, completed_steps: jax.Array, batch_size: int, controller: Controller
) -> AdaptiveState:
  """p moved after every `controller.interval`-th step, the sums reset; else `state`.

  Args:
    state: with this step's signs observed.
    completed_steps: int32 scalar, the steps done including this one.
    batch_size: the global batch of a step, in images.
    controller: the target and speeds.
  """
  r_t = state.sign_sum / jnp.maximum(state.count, 1.0)
  step_size = batch_size * controller.interval / controller.speed_images
  moved = jnp.clip(state.p + jnp.sign(r_t - controller.target) * step_size, 0.0, 1.0)
  due = completed_steps % controller.interval == 0
  zero = jnp.zeros((), jnp.float32)
  return AdaptiveState(
    p=jnp.where(due, moved, state.p).astype(jnp.float32),
    sign_sum=jnp.where(due, zero, state.sign_sum),
    count=jnp.where(due, zero, state.count),
  )
