"""The train step: Algorithm 1 of Goodfellow et al. 2014, on one device.

`train_step` runs inside a data-parallel map over the named axis
`BATCH_AXIS`: every device holds a slice of each batch, and the gradients,
batch-norm statistics and metrics are averaged over the axis, so the update
equals that of the global batch. It makes `GAN.discriminator_steps` (k) D
updates, each on its own real batch and noise, then one G update, then the
EMA of G's weights; with lazy regularizers (`gan_jax.lazy_regularization`) also their own
updates when due, and with ADA the adjustment of its probability p. Everything static (the modules, the loss, the optimizers)
is a field of `GAN`, bound with `functools.partial`; everything that changes
is in `GANState`.

The losses, penalties and metrics are float32 whatever the models' dtype: D's
logits are cast to float32 as they leave D, and G's images are float32 (mixed
precision, Micikevicius et al. 2018; see `gan_jax.models`).
"""

import dataclasses
from typing import Optional, Union

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from jax import lax

from gan_jax import generator_ema
from gan_jax import lazy_regularization
from gan_jax import losses
from gan_jax import passes
from gan_jax import penalties
from gan_jax import regularizers
from gan_jax.augment import adaptive
from gan_jax.state import GANState
from gan_jax.state import PlayerState

BATCH_AXIS = passes.BATCH_AXIS

Metrics = dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class GAN:
  """What a run trains and how: the static arguments of the step (`assembly.build`).

  Attributes:
    generator, discriminator: the two linen modules (`gan_jax.models`); D
      returns `DiscriminatorLogits`.
    loss: an adversarial loss of `gan_jax.losses`.
    generator_optimizer, discriminator_optimizer: one Optax optimizer each.
    latent_dim: size of z.
    penalty, penalty_weight: D minimizes loss + penalty_weight * penalty, on
      each device's share of the batch (`gan_jax.penalties`).
    penalty_every: N > 1 makes the penalty lazy: computed at every N-th D
      update only, in an update of its own with weight N * penalty_weight
      (`lazy_regularization`, Karras et al. 2020b, section 3.1).
    clip_weights: c > 0 clips D's parameters to [-c, c] after each D update
      (WGAN, Arjovsky et al. 2017); 0 does not clip.
    auxiliary_weight: with an AC-GAN D (one that returns class logits), the
      weight of `losses.auxiliary_classifier_loss` in both players' losses.
    reuse_noise_for_generator: False draws fresh noise for G's update, as
      Algorithm 1 does; True reuses the noise and G's forward pass of the last
      D update, as the DCGAN reference code does (one G forward pass less).
    generator_ema_decay: beta > 0 keeps GANState.generator_ema, updated to
      beta * ema + (1 - beta) * params after each G update.
    generator_ema_half_life_images: h > 0 keeps the EMA with beta = 0.5 **
      (batch / h) instead, h capped at generator_ema_rampup times the images
      seen so far when that is > 0 (StyleGAN2-ADA's ema_kimg and ema_rampup).
    generator_orthogonal: beta > 0 adds BigGAN's orthogonal regularization
      of G's weights to G's loss (`regularizers.orthogonal_regularization`,
      Brock et al. 2019, Eq. 3); 0 does not.
    path_length_weight: w > 0 regularizes G's path lengths lazily, every
      path_length_every steps on batch / path_length_batch_shrink examples,
      with running-mean decay path_length_decay
      (`lazy_regularization.path_length_update`, Karras et al. 2020b, Eq. 4).
    augmentation: D's input stage (`gan_jax.augment`), applied to every image
      D sees, real and generated, in both players' updates and the
      penalties; None for none.
    augment_probability: ADA's p at step 0, and throughout without `adaptive_augment`.
    adaptive_augment: ADA's controller of p (`augment.adaptive`), or None.
  """

  generator: nn.Module
  discriminator: nn.Module
  loss: losses.Loss
  generator_optimizer: optax.GradientTransformation
  discriminator_optimizer: optax.GradientTransformation
  latent_dim: int
  penalty: penalties.Penalty = penalties.none
  penalty_weight: float = 0.0
  penalty_every: int = 1
  clip_weights: float = 0.0
  auxiliary_weight: float = 0.0
  reuse_noise_for_generator: bool = False
  generator_ema_decay: float = 0.0
  generator_ema_half_life_images: float = 0.0
  generator_ema_rampup: float = 0.0
  generator_orthogonal: float = 0.0
  path_length_weight: float = 0.0
  path_length_every: int = 4
  path_length_decay: float = 0.01
  path_length_batch_shrink: int = 2
  augmentation: Optional[passes.Augmentation] = None
  augment_probability: float = 0.0
  adaptive_augment: Optional[adaptive.Controller] = None

  @property
  def keeps_generator_ema(self) -> bool:
    return self.generator_ema_decay > 0 or self.generator_ema_half_life_images > 0

  @property
  def lazy_penalty(self) -> bool:
    return self.penalty_every > 1 and self.penalty is not penalties.none


def create_state(rng: jax.Array, gan: GAN, example_shape: tuple[int, ...]) -> GANState:
  """Both players and their optimizers at step 0.

  Args:
    rng: key for the parameters and, split off, the run's randomness.
    gan: the models and optimizers.
    example_shape: (height, width, channels) of an image, or (d,) of a vector.
  """
  generator_rng, discriminator_rng, run_rng = jax.random.split(rng, 3)
  labels = jnp.zeros((1,), jnp.int32)  # Read by conditional models only.

  def init_player(module, module_rng, inputs, optimizer):
    rngs = {'params': module_rng, 'dropout': module_rng}
    variables = module.init(rngs, inputs, labels, train=False)
    params = variables.pop('params')
    return PlayerState(params=params, model_state=dict(variables), opt_state=optimizer.init(params))

  generator = init_player(
    gan.generator, generator_rng, jnp.zeros((1, gan.latent_dim)), gan.generator_optimizer
  )
  discriminator = init_player(
    gan.discriminator,
    discriminator_rng,
    jnp.zeros((1, *example_shape)),
    gan.discriminator_optimizer,
  )
  ema = jax.tree.map(jnp.copy, generator.params) if gan.keeps_generator_ema else None
  augment = None
  if gan.adaptive_augment is not None:
    augment = adaptive.initial_state(gan.augment_probability)
  path_length_mean = jnp.zeros((), jnp.float32) if gan.path_length_weight > 0 else None
  return GANState(
    jnp.zeros((), jnp.int32),
    run_rng,
    generator,
    discriminator,
    ema,
    augment=augment,
    path_length_mean=path_length_mean,
  )


def _discriminator_loss(gan: GAN, params, d: PlayerState, real, fake, labels, rng, augment_p):
  """D's loss on one real and one generated batch, with its penalty unless that is lazy:
  (loss, (metrics, model state))."""
  dropout_rng = passes.per_device(jax.random.split(rng)[1])
  real_rng, fake_rng, penalty_augment_rng = (jax.random.fold_in(rng, i) for i in (2, 3, 4))
  # Real and generated data go through D separately, so each batch is
  # normalized with its own statistics, as in the DCGAN reference code.
  real_out, model_state = passes.discriminate(
    gan, params, d.model_state, real, labels, dropout_rng, real_rng, augment_p
  )
  fake_out, model_state = passes.discriminate(
    gan, params, model_state, fake, labels, dropout_rng, fake_rng, augment_p
  )
  terms = gan.loss(real_out.logits, fake_out.logits)
  metrics = {
    'd_loss': terms.discriminator,
    'd_loss_real': terms.discriminator_real,
    'd_loss_fake': terms.discriminator_fake,
    'd_real': jnp.mean(jax.nn.sigmoid(real_out.logits)),
    'd_fake': jnp.mean(jax.nn.sigmoid(fake_out.logits)),
  }
  if gan.adaptive_augment is not None:
    # ADA's overfitting heuristic reads the signs of D's outputs on its real data.
    metrics['augment_r_t'] = jnp.mean(jnp.sign(real_out.logits))
  total = terms.discriminator
  if not gan.lazy_penalty:
    # The penalty's forward passes see D's model state of this update; their
    # updates of it are dropped, so only the loss's two passes move it.
    def logits_fn(penalty_params, images):
      return passes.discriminate(
        gan,
        penalty_params,
        d.model_state,
        images,
        labels,
        dropout_rng,
        penalty_augment_rng,
        augment_p,
      )[0].logits

    penalty_rng = passes.per_device(jax.random.fold_in(rng, 1))
    metrics['d_penalty'] = gan.penalty(logits_fn, params, real, fake, penalty_rng)
    total += gan.penalty_weight * metrics['d_penalty']
  if real_out.class_logits is not None:
    metrics['d_classifier_loss'] = losses.auxiliary_classifier_loss(
      real_out.class_logits, labels
    ) + losses.auxiliary_classifier_loss(fake_out.class_logits, labels)
    total += gan.auxiliary_weight * metrics['d_classifier_loss']
  return total, (metrics, model_state)


def discriminator_step(
  gan: GAN,
  discriminator: PlayerState,
  real: jax.Array,
  fake: jax.Array,
  labels: Optional[jax.Array],
  rng: jax.Array,
  penalty_due: Union[bool, jax.Array],
  augment_p: jax.Array,
) -> tuple[PlayerState, Metrics]:
  """One D update of Algorithm 1: descend D's loss (+ penalty) on a real and a generated batch.

  Args:
    gan: what is trained.
    discriminator: D's state.
    real, fake: [batch, H, W, C] this device's share of a real batch and of
      G's samples (constants here: D's update does not move G).
    labels: int32 [batch], the classes of `real` (and the conditioning of
      `fake`), or None for unconditional models.
    rng: this update's key; half of its split drew `fake` (`train_step`).
    penalty_due: whether a lazy penalty is due at this update
      (`lazy_regularization`): a traced bool, or a bool fixed at compilation.
    augment_p: ADA's probability p, read by an augmentation only.

  Returns:
    D's new state, and its metrics: d_loss (without the penalty),
    d_loss_real, d_loss_fake, d_penalty (unweighted; 0 at the updates where
    a lazy penalty is not due), d_real = mean D(x), d_fake = mean D(G(z)),
    d_grad_norm (of the loss, penalized unless the penalty is lazy); with an
    AC-GAN D also d_classifier_loss; with ADA augment_r_t = mean sign D(x).
  """
  fake = lax.stop_gradient(fake)
  loss_fn = lambda params: _discriminator_loss(
    gan, params, discriminator, real, fake, labels, rng, augment_p
  )
  grads, (metrics, model_state) = jax.grad(loss_fn, has_aux=True)(discriminator.params)
  grads = lax.pmean(grads, BATCH_AXIS)
  metrics['d_grad_norm'] = optax.tree.norm(grads)
  new = passes.apply_update(discriminator, grads, gan.discriminator_optimizer, model_state)
  if gan.clip_weights > 0:
    new = new.replace(params=penalties.clip_weights(new.params, gan.clip_weights))
  if gan.lazy_penalty:
    new, metrics['d_penalty'] = lazy_regularization.discriminator_penalty_update(
      gan, new, real, fake, labels, rng, augment_p, penalty_due
    )
  return new, metrics


def generator_step(
  gan: GAN,
  generator: PlayerState,
  discriminator: PlayerState,
  forward: passes.GeneratorForward,
  real: jax.Array,
  labels: Optional[jax.Array],
  rng: jax.Array,
  augment_p: jax.Array,
) -> tuple[PlayerState, Metrics]:
  """G's update of Algorithm 1: descend G's loss through the updated D.

  The gradient of G's loss with respect to the generated images is pulled
  back through G's forward pass `forward`. D's running statistics are moved
  by D's own updates only.

  Args:
    gan: what is trained.
    generator, discriminator: G's state, and D's after its k updates.
    forward: G's forward pass on this update's noise (`passes.generator_forward`).
    real: [batch, H, W, C] a real batch, read only by losses whose G term
      compares with real data (for the others XLA drops that forward pass).
    labels: int32 [batch] the classes G drew for, or None.
    rng: this update's key (D's dropout and augmentation here).
    augment_p: ADA's probability p, read by an augmentation only.

  Returns:
    G's new state, and g_loss, g_grad_norm (with an AC-GAN D also
    g_classifier_loss; with orthogonal regularization g_orthogonal, its
    weighted value).
  """
  dropout_rng = passes.per_device(jax.random.fold_in(rng, 1))
  discriminate = lambda images, augment_rng: passes.discriminate(
    gan,
    discriminator.params,
    discriminator.model_state,
    images,
    labels,
    dropout_rng,
    augment_rng,
    augment_p,
  )[0]

  def loss_fn(fake):
    fake_out = discriminate(fake, jax.random.fold_in(rng, 2))
    real_out = discriminate(real, jax.random.fold_in(rng, 3))
    metrics = {'g_loss': gan.loss(real_out.logits, fake_out.logits).generator}
    if fake_out.class_logits is None:
      return metrics['g_loss'], metrics
    metrics['g_classifier_loss'] = losses.auxiliary_classifier_loss(fake_out.class_logits, labels)
    return metrics['g_loss'] + gan.auxiliary_weight * metrics['g_classifier_loss'], metrics

  image_grads, metrics = jax.grad(loss_fn, has_aux=True)(forward.images)
  (grads,) = forward.pullback(image_grads)
  grads = lax.pmean(grads, BATCH_AXIS)
  if gan.generator_orthogonal > 0:
    # A function of the replicated parameters alone: the same on every device.
    regularize = lambda params: regularizers.orthogonal_regularization(
      params, gan.generator_orthogonal
    )
    metrics['g_orthogonal'], regularizer_grads = jax.value_and_grad(regularize)(generator.params)
    grads = jax.tree.map(jnp.add, grads, regularizer_grads)
  metrics['g_grad_norm'] = optax.tree.norm(grads)
  new = passes.apply_update(generator, grads, gan.generator_optimizer, forward.model_state)
  return new, metrics


def train_step(
  state: GANState,
  real_images: jax.Array,
  real_labels: Optional[jax.Array] = None,
  *,
  gan: GAN,
  due: Optional[lazy_regularization.Due] = None,
) -> tuple[GANState, Metrics]:
  """One step of Algorithm 1 on one device, inside a map over `BATCH_AXIS`.

  Args:
    state: the replicated state.
    real_images: [k, per_device_batch, H, W, C] in [-1, 1]: one real batch
      for each of the k D updates.
    real_labels: int32 [k, per_device_batch], the classes of `real_images`
      for class-conditional models, else None. Each generated batch is
      conditioned on the labels of its real batch (a sample of the data's
      classes), so a penalty comparing the two sees one label per pair.
    gan: what is trained, bound with `functools.partial`.
    due: the lazy updates this step makes, fixed at compilation (one variant
      of the step per pattern, `train.step_function`); None decides them here
      from state.step, under `lax.cond`.

  Returns:
    The new state, and the metrics averaged over devices: D's (means over
    its k updates, see `discriminator_step`) and G's (`generator_step`);
    with ADA augment_p, p after this step; with the path length penalty
    g_path_length (0 at the steps where it is not due) and path_length_mean.
  """
  k, batch_size = real_images.shape[:2]
  global_batch = batch_size * lax.axis_size(BATCH_AXIS)
  labels = [None] * k if real_labels is None else list(real_labels)
  discriminator_rng, generator_rng = jax.random.split(jax.random.fold_in(state.rng, state.step))
  augment_p = jnp.float32(gan.augment_probability) if state.augment is None else state.augment.p
  if due is None:  # Traced: the lazy updates run under lax.cond.
    due = lazy_regularization.due_at(gan, state.step, k)
  discriminator, discriminator_metrics = state.discriminator, []
  # A Python loop, not lax.scan: with D's state carried through a scan XLA:CPU
  # ran a DCGAN step in 35 s instead of 1.1 s; k is small.
  for i, (real, y, rng) in enumerate(
    zip(real_images, labels, jax.random.split(discriminator_rng, k))
  ):
    forward = passes.generator_forward(
      gan, state.generator, jax.random.split(rng)[0], batch_size, y
    )
    discriminator, metrics = discriminator_step(
      gan, discriminator, real, forward.images, y, rng, due.penalty[i], augment_p
    )
    discriminator_metrics.append(metrics)
  if not gan.reuse_noise_for_generator:
    forward = passes.generator_forward(gan, state.generator, generator_rng, batch_size, labels[-1])
  generator, generator_metrics = generator_step(
    gan,
    state.generator,
    discriminator,
    forward,
    real_images[-1],
    labels[-1],
    generator_rng,
    augment_p,
  )
  path_length_mean = state.path_length_mean
  if gan.path_length_weight > 0:
    generator, path_length_mean, generator_metrics['g_path_length'] = (
      lazy_regularization.path_length_update(
        gan, generator, generator_rng, batch_size, labels[-1], path_length_mean, due.path_length
      )
    )
    generator_metrics['path_length_mean'] = path_length_mean
  ema = state.generator_ema
  if gan.keeps_generator_ema:
    beta = generator_ema.decay(gan, state.step, global_batch)
    ema = optax.incremental_update(generator.params, ema, 1.0 - beta)
  mean_over_updates = lambda *values: jnp.mean(jnp.stack(values))
  metrics = {**jax.tree.map(mean_over_updates, *discriminator_metrics), **generator_metrics}
  metrics = lax.pmean(metrics, BATCH_AXIS)
  augment = state.augment
  if augment is not None:
    # The mean of per-device means is the global batch's: the devices hold equal shares.
    augment = adaptive.observe(
      augment, metrics['augment_r_t'] * k * global_batch, jnp.float32(k * global_batch)
    )
    augment = adaptive.adjust(augment, state.step + 1, global_batch, gan.adaptive_augment)
    metrics['augment_p'] = augment.p
  new_state = state.replace(
    step=state.step + 1,
    generator=generator,
    discriminator=discriminator,
    generator_ema=ema,
    augment=augment,
    path_length_mean=path_length_mean,
  )
  return new_state, metrics
