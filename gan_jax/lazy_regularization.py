"""Lazy regularization (Karras et al. 2020b, section 3.1): a regularizer computed at every N-th
update only, and descended there in an optimizer update of its own, with its weight times N.

StyleGAN2 regularizes D with R1 every 16 minibatches and G with the path
length penalty every 4, which saves most of their cost (their double
backpropagation) at no loss in quality. As in the official code, the
regularizer's update follows the player's main update of the same step and
shares its optimizer state (StyleGAN2-ADA's 'Dreg' and 'Greg' phases).

Each update here runs under `lax.cond` on a traced predicate, so the step is
compiled once and runs the regularizer's passes only when it is due. The
predicate is the same on every device (a function of the replicated step), so
every device takes the same branch and the collectives inside it match.

Or the predicate is fixed when the step is compiled (`Due`, Python bools), and
the loop runs the variant of the step compiled for each step's pattern: on
CPU, where convolutions inside a `lax.cond` branch run ~100x slower
(`gan_jax.compiled_step` says why).
"""

import math
from typing import Callable, NamedTuple, Optional, Union

import jax
import jax.numpy as jnp
from jax import lax

from gan_jax import passes
from gan_jax import penalties
from gan_jax import regularizers
from gan_jax.state import PlayerState

# A Python int where the benchmark asks, a traced int32 scalar inside the step.
Index = Union[int, jax.Array]


def penalty_due(update_index: Index, every: int) -> Index:
  """Whether D's lazy penalty is due at D update `update_index` (0, N, 2N, ... for every N)."""
  return update_index % every == 0


def path_length_due(step: Index, every: int) -> Index:
  """Whether G's path length update is due at train step `step` (0, N, 2N, ... for every N)."""
  return step % every == 0


class Due(NamedTuple):
  """The lazy updates that one train step makes, fixed when the step is compiled.

  Attributes:
    penalty: for each of the step's k D updates, whether D's lazy penalty is due.
    path_length: whether G's path length update is due.
  """

  penalty: tuple[Union[bool, jax.Array], ...]
  path_length: Union[bool, jax.Array]


def due_at(gan, step: Index, discriminator_steps: int) -> Due:
  """The lazy updates of train step `step` (`GANState.step` as it starts), k D updates a step.

  A Python int gives a `Due` of bools; the traced step gives traced bools,
  for `lax.cond` (False where `gan` has no such regularizer).
  """
  first_update = step * discriminator_steps
  penalty = tuple(
    gan.lazy_penalty and penalty_due(first_update + i, gan.penalty_every)
    for i in range(discriminator_steps)
  )
  path_length = gan.path_length_weight > 0 and path_length_due(step, gan.path_length_every)
  return Due(penalty, path_length)


def cycle_steps(gan, discriminator_steps: int) -> int:
  """Steps after which the pattern of lazy updates repeats: 1 without lazy regularizers.

  D's penalty is due at every N-th of the k D updates of a step, so its
  pattern over steps repeats every N / gcd(N, k) steps; the path length's
  every path_length_every steps.
  """
  periods = [1]
  if gan.lazy_penalty:
    periods.append(gan.penalty_every // math.gcd(gan.penalty_every, discriminator_steps))
  if gan.path_length_weight > 0:
    periods.append(gan.path_length_every)
  return math.lcm(*periods)


def _when(due: Union[bool, jax.Array], update: Callable, skip: Callable, operand):
  """update(operand) if due else skip(operand): a `lax.cond` for a traced due, Python's for a bool."""
  if isinstance(due, bool):
    return update(operand) if due else skip(operand)
  return lax.cond(due, update, skip, operand)


def due_regularizers(gan, step: int, discriminator_steps: int) -> tuple[str, ...]:
  """The names of the lazy regularizers whose updates train step `step` of `gan` makes.

  Args:
    gan: the step's `GAN`.
    step: the train step's index (`GANState.step` as it starts).
    discriminator_steps: k, the D updates of each train step.

  Returns:
    ('penalty',) when one of the step's k D updates is due, ('path_length',)
    when G's is, both, or () at the steps in between; () always when `gan`
    has no lazy regularizer.
  """
  due = due_at(gan, step, discriminator_steps)
  return ('penalty',) * any(due.penalty) + ('path_length',) * due.path_length


def discriminator_penalty_update(
  gan,
  discriminator: PlayerState,
  real: jax.Array,
  fake: jax.Array,
  labels: Optional[jax.Array],
  rng: jax.Array,
  augment_p: jax.Array,
  due: Union[bool, jax.Array],
) -> tuple[PlayerState, jax.Array]:
  """D after its lazy penalty's update when `due`, else D as it is; and the penalty (0 if not due).

  Args:
    gan: the step's `GAN`: its penalty, penalty_weight, penalty_every.
    discriminator: D after this D update's main step.
    real, fake: this device's shares of the update's real and generated batches.
    labels: their classes, or None.
    rng: this D update's key.
    augment_p: ADA's probability (read by an augmentation only).
    due: whether the penalty is due at this update: a traced bool scalar, or
      a Python bool fixed at compilation.
  """

  def penalize(player: PlayerState):
    dropout_rng = passes.per_device(jax.random.fold_in(rng, 5))

    def logits_fn(params, images):
      augment_rng = jax.random.fold_in(rng, 6)
      outputs, _ = passes.discriminate(
        gan,
        params,
        player.model_state,
        images,
        labels,
        dropout_rng,
        augment_rng,
        augment_p,
      )
      return outputs.logits

    penalty_rng = passes.per_device(jax.random.fold_in(rng, 7))
    penalty_fn = lambda params: gan.penalty(logits_fn, params, real, fake, penalty_rng)
    penalty, grads = jax.value_and_grad(penalty_fn)(player.params)
    scale = gan.penalty_every * gan.penalty_weight
    grads = lax.pmean(jax.tree.map(lambda g: scale * g, grads), passes.BATCH_AXIS)
    new = passes.apply_update(player, grads, gan.discriminator_optimizer, player.model_state)
    if gan.clip_weights > 0:
      new = new.replace(params=penalties.clip_weights(new.params, gan.clip_weights))
    return new, penalty

  return _when(due, penalize, lambda player: (player, jnp.zeros(())), discriminator)


def path_length_update(
  gan,
  generator: PlayerState,
  rng: jax.Array,
  batch_size: int,
  labels: Optional[jax.Array],
  running_mean: jax.Array,
  due: Union[bool, jax.Array],
) -> tuple[PlayerState, jax.Array, jax.Array]:
  """G after the path length update when `due` (Karras et al. 2020b, Eq. 4), else as it is.

  On fresh z for batch_size / path_length_batch_shrink examples per device,
  G's styles w (with style mixing) and its synthesis g(w) give the penalty
  (|J_w^T y| - a)^2 (`regularizers.path_length_penalty`), descended with
  weight path_length_weight * path_length_every. G's model state is not moved
  by these passes.

  Args:
    gan: the step's `GAN`, whose G has `styles` and `synthesis` methods.
    generator: G after this step's main update.
    rng: this step's G key.
    batch_size: this device's share of a batch.
    labels: int32 [batch_size] classes to draw for, or None.
    running_mean: a, the running mean of the path lengths.
    due: a traced bool scalar, or a Python bool fixed at compilation.

  Returns:
    (G, the new running mean, the penalty); the mean and G as they were and a
    penalty of 0 when not due.
  """
  shrunk = max(batch_size // gan.path_length_batch_shrink, 1)
  noise_rng, pass_rng, penalty_rng = jax.random.split(jax.random.fold_in(rng, 9), 3)
  z = passes.sample_latent(noise_rng, shrunk, gan.latent_dim)
  labels = None if labels is None else labels[:shrunk]
  pass_rng = passes.per_device(pass_rng)

  def regularize(player: PlayerState):
    def loss_fn(params):
      run = lambda *inputs, method: passes.apply_train(
        gan.generator, params, player.model_state, *inputs, rng=pass_rng, method=method
      )[0]
      ws = run(z, labels, method='styles')
      synthesize = lambda ws: run(ws, method='synthesis')
      penalty, new_mean = regularizers.path_length_penalty(
        synthesize,
        ws,
        passes.per_device(penalty_rng),
        running_mean,
        gan.path_length_decay,
        axis_name=passes.BATCH_AXIS,
      )
      return gan.path_length_weight * gan.path_length_every * penalty, (penalty, new_mean)

    grads, (penalty, new_mean) = jax.grad(loss_fn, has_aux=True)(player.params)
    grads = lax.pmean(grads, passes.BATCH_AXIS)
    new = passes.apply_update(player, grads, gan.generator_optimizer, player.model_state)
    return new, lax.stop_gradient(new_mean), penalty

  skip = lambda player: (player, running_mean, jnp.zeros(()))
  return _when(due, regularize, skip, generator)
