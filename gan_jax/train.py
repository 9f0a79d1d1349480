"""Training a GAN: the state, the pure train step, and the training loop.

The train step is Algorithm 1 of Goodfellow et al. 2014: `discriminator_steps`
(k) updates of D, each on a fresh real batch and fresh noise, then one update
of G. It is pmapped over the local devices (data parallel): each device holds a
slice of every batch, and gradients, batch-norm statistics and metrics are
averaged over the named axis `BATCH_AXIS`.
"""

import functools
import itertools
import signal
import threading
import time
from typing import Any, Callable, Optional

import flax.jax_utils
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from absl import logging
from jax import lax

from gan_jax import checkpoint
from gan_jax import errors
from gan_jax import evaluation
from gan_jax import images
from gan_jax import input_pipeline
from gan_jax import losses
from gan_jax import models
from gan_jax import optimizers
from gan_jax import penalties
from gan_jax import summaries
from gan_jax import workdirs
from gan_jax import xla_options
from gan_jax.state import GANState, PlayerState

# The one pmap axis. Averaging over it makes the data-parallel step compute
# the update of the global batch: the mean of per-device mean-loss gradients is
# the gradient of the global mean loss (devices hold equal shares), and the
# same holds for batch-norm means and mean squares.
BATCH_AXIS = 'batch'

Metrics = dict[str, jax.Array]


def create_state(
  rng: jax.Array,
  *,
  generator: nn.Module,
  discriminator: nn.Module,
  generator_optimizer: optax.GradientTransformation,
  discriminator_optimizer: optax.GradientTransformation,
  latent_dim: int,
  image_shape: tuple[int, int, int],
  generator_ema_decay: float = 0.0,
) -> GANState:
  """Initializes both players and their optimizers.

  Args:
    rng: key for the parameters and, folded, the run's randomness.
    generator, discriminator: the two linen modules.
    generator_optimizer, discriminator_optimizer: one optimizer per player.
    latent_dim: size of z.
    image_shape: (height, width, channels) of the data.
    generator_ema_decay: > 0 keeps an EMA of G's params, starting from them.
  """
  generator_rng, discriminator_rng, run_rng = jax.random.split(rng, 3)

  # Labels are read by conditional models only; the others ignore them.
  labels = jnp.zeros((1,), jnp.int32)

  def init_player(module, module_rng, inputs, optimizer):
    variables = module.init(
      {'params': module_rng, 'dropout': module_rng}, inputs, labels, train=False
    )
    params = variables.pop('params')
    return PlayerState(params=params, model_state=dict(variables), opt_state=optimizer.init(params))

  g = init_player(generator, generator_rng, jnp.zeros((1, latent_dim)), generator_optimizer)
  return GANState(
    step=jnp.zeros((), jnp.int32),
    rng=run_rng,
    generator=g,
    discriminator=init_player(
      discriminator, discriminator_rng, jnp.zeros((1, *image_shape)), discriminator_optimizer
    ),
    generator_ema=jax.tree.map(jnp.copy, g.params) if generator_ema_decay > 0 else None,
  )


def sample_latent(rng: jax.Array, batch_size: int, latent_dim: int) -> jax.Array:
  """This device's share of z ~ N(0, I), [batch_size, latent_dim].

  Noise is drawn per example from `fold_in(rng, global example index)`, where
  the index counts from `axis_index * batch_size`: each device draws different
  noise, and the global batch of noise is the same whatever the number of
  devices, so a run on 8 devices computes the same update as on 1.
  """
  first = lax.axis_index(BATCH_AXIS) * batch_size
  draw = lambda i: jax.random.normal(jax.random.fold_in(rng, i), (latent_dim,))
  return jax.vmap(draw)(first + jnp.arange(batch_size))


def _apply_train(module: nn.Module, params, model_state, inputs, labels, dropout_rng):
  """Training-mode forward pass: (outputs, updated model_state)."""
  return module.apply(
    {'params': params, **model_state},
    inputs,
    labels,
    train=True,
    mutable=list(model_state),
    rngs={'dropout': dropout_rng},
  )


def _split_discriminator_output(outputs) -> tuple[jax.Array, jax.Array | None]:
  """(logits [batch], class_logits [batch, classes] or None) of D's output."""
  return outputs if isinstance(outputs, tuple) else (outputs, None)


def _update(player: PlayerState, grads, optimizer: optax.GradientTransformation, model_state):
  updates, opt_state = optimizer.update(grads, player.opt_state, player.params)
  return PlayerState(optax.apply_updates(player.params, updates), model_state, opt_state)


def train_step(
  state: GANState,
  real_images: jax.Array,
  real_labels: Optional[jax.Array] = None,
  *,
  generator: nn.Module,
  discriminator: nn.Module,
  loss: losses.Loss,
  generator_optimizer: optax.GradientTransformation,
  discriminator_optimizer: optax.GradientTransformation,
  latent_dim: int,
  reuse_noise_for_generator: bool = False,
  penalty: penalties.Penalty = penalties.none,
  penalty_weight: float = 0.0,
  clip_weights: float = 0.0,
  generator_ema_decay: float = 0.0,
  auxiliary_weight: float = 0.0,
) -> tuple[GANState, Metrics]:
  """One step of Algorithm 1 on one device, inside `pmap(axis_name=BATCH_AXIS)`.

  Args:
    state: the replicated state.
    real_images: [k, per_device_batch, H, W, C] in [-1, 1], one real batch
      for each of the k = `discriminator_steps` D updates.
    real_labels: int32 [k, per_device_batch], the classes of `real_images`,
      for class-conditional models; None for unconditional ones. The generated
      batch of each update is conditioned on the labels of its real batch, a
      sample of the data's class distribution; so a penalty comparing a real
      and a generated example sees one label for both.
    generator, discriminator, loss, generator_optimizer,
    discriminator_optimizer, latent_dim: static, bound with functools.partial.
    reuse_noise_for_generator: False draws fresh noise for G's update, as
      Algorithm 1 does. True reuses the noise, and G's forward pass, of the
      last D update, as the DCGAN reference implementation does: one G forward
      pass less per step (G's parameters are the same in both).
    penalty, penalty_weight: D minimizes loss + penalty_weight * penalty, on
      this device's share of the batch (see `gan_jax.penalties`).
    clip_weights: c > 0 clips D's parameters to [-c, c] after each D update
      (WGAN); 0 does not clip.
    generator_ema_decay: beta > 0 updates state.generator_ema to
      beta * ema + (1 - beta) * params after G's update.
    auxiliary_weight: with an AC-GAN discriminator (one that also returns
      class logits), both players add auxiliary_weight times
      `losses.auxiliary_classifier_loss` of D's class prediction to their
      losses: D on real and generated data, G on generated data.

  Returns:
    The new state, and metrics averaged over devices: d_loss (the adversarial
    term, without the penalty), d_loss_real, d_loss_fake, d_penalty (the
    unweighted penalty), d_real = mean D(x), d_fake = mean D(G(z)) (means over
    the k D updates), d_grad_norm (of the penalized loss), g_loss, g_grad_norm;
    with an AC-GAN discriminator also d_classifier_loss and g_classifier_loss.
  """
  discriminator_steps, batch_size = real_images.shape[:2]
  step_rng = jax.random.fold_in(state.rng, state.step)
  discriminator_rng, generator_rng = jax.random.split(step_rng)
  device_index = lax.axis_index(BATCH_AXIS)
  g = state.generator

  def generator_forward(rng: jax.Array, labels: Optional[jax.Array]):
    """G(z, y) on fresh noise, with its pullback to G's parameters and G's new model state."""
    noise_rng, dropout_rng = jax.random.split(rng)
    dropout_rng = jax.random.fold_in(dropout_rng, device_index)
    z = sample_latent(noise_rng, batch_size, latent_dim)
    apply = lambda params: _apply_train(generator, params, g.model_state, z, labels, dropout_rng)
    return jax.vjp(apply, g.params, has_aux=True)

  def discriminator_update(d: PlayerState, real: jax.Array, labels, rng: jax.Array):
    generator_rng, dropout_rng = jax.random.split(rng)
    dropout_rng = jax.random.fold_in(dropout_rng, device_index)
    # Folded, not split, so that runs without a penalty draw what they drew
    # before penalties existed; per device, like the dropout key.
    penalty_rng = jax.random.fold_in(jax.random.fold_in(rng, 1), device_index)
    # G's model state is updated in G's own update only; the pullback is dead
    # code that XLA drops unless G's update reuses this forward pass.
    fake, generator_pullback, generator_model_state = generator_forward(generator_rng, labels)
    fake = lax.stop_gradient(fake)

    def loss_fn(params):
      # Real and generated data go through D separately, so each batch is
      # normalized with its own statistics, as in the DCGAN reference code.
      real_outputs, model_state = _apply_train(
        discriminator, params, d.model_state, real, labels, dropout_rng
      )
      fake_outputs, model_state = _apply_train(
        discriminator, params, model_state, fake, labels, dropout_rng
      )
      (real_logits, real_classes), (fake_logits, fake_classes) = map(
        _split_discriminator_output, (real_outputs, fake_outputs)
      )
      terms = loss(real_logits, fake_logits)
      # The penalty's forward passes see D's model state of this update; their
      # updates of it are dropped, so only the loss's two passes move it.
      discriminator_fn = lambda penalty_params, images: _split_discriminator_output(
        _apply_train(discriminator, penalty_params, d.model_state, images, labels, dropout_rng)[0]
      )[0]
      penalty_value = penalty(discriminator_fn, params, real, fake, penalty_rng)
      total = terms.discriminator + penalty_weight * penalty_value
      classifier_loss = {}
      if real_classes is not None:
        classifier_loss['d_classifier_loss'] = losses.auxiliary_classifier_loss(
          real_classes, labels
        ) + losses.auxiliary_classifier_loss(fake_classes, labels)
        total += auxiliary_weight * classifier_loss['d_classifier_loss']
      return total, (terms, penalty_value, real_logits, fake_logits, classifier_loss, model_state)

    grads, aux = jax.grad(loss_fn, has_aux=True)(d.params)
    terms, penalty_value, real_logits, fake_logits, classifier_loss, model_state = aux
    grads = lax.pmean(grads, BATCH_AXIS)
    metrics = {
      'd_loss': terms.discriminator,
      'd_loss_real': terms.discriminator_real,
      'd_loss_fake': terms.discriminator_fake,
      'd_penalty': penalty_value,
      'd_real': jnp.mean(jax.nn.sigmoid(real_logits)),
      'd_fake': jnp.mean(jax.nn.sigmoid(fake_logits)),
      'd_grad_norm': optax.tree.norm(grads),
      **classifier_loss,
    }
    new_d = _update(d, grads, discriminator_optimizer, model_state)
    if clip_weights > 0:
      new_d = new_d.replace(params=penalties.clip_weights(new_d.params, clip_weights))
    return new_d, metrics, (fake, generator_pullback, generator_model_state)

  # A Python loop, not lax.scan: with D's state carried through a scan (even
  # an unrolled one) XLA:CPU computed a DCGAN step in 35 s instead of 1.1 s.
  # k is small, so tracing the update k times costs little.
  d, d_metrics = state.discriminator, []
  label_batches = [None] * discriminator_steps if real_labels is None else real_labels
  for real, labels, rng in zip(
    real_images, label_batches, jax.random.split(discriminator_rng, discriminator_steps)
  ):
    d, metrics, last_generator_forward = discriminator_update(d, real, labels, rng)
    d_metrics.append(metrics)

  # G's update: the gradient of its loss with respect to the generated images,
  # through the updated D, pulled back through G's forward pass. G draws for
  # the labels of the last real batch.
  labels = label_batches[-1]
  if reuse_noise_for_generator:
    fake, generator_pullback, g_model_state = last_generator_forward
  else:
    fake, generator_pullback, g_model_state = generator_forward(generator_rng, labels)
  dropout_rng = jax.random.fold_in(jax.random.fold_in(generator_rng, 1), device_index)

  def generator_loss_fn(fake):
    # D's running statistics are updated in D's own updates only. The real
    # logits matter only to losses whose G term compares with real data; for
    # the others XLA drops this forward pass as dead code.
    fake_logits, fake_classes = _split_discriminator_output(
      _apply_train(discriminator, d.params, d.model_state, fake, labels, dropout_rng)[0]
    )
    real_logits, _ = _split_discriminator_output(
      _apply_train(discriminator, d.params, d.model_state, real_images[-1], labels, dropout_rng)[0]
    )
    g_metrics = {'g_loss': loss(real_logits, fake_logits).generator}
    if fake_classes is None:
      return g_metrics['g_loss'], g_metrics
    g_metrics['g_classifier_loss'] = losses.auxiliary_classifier_loss(fake_classes, labels)
    return g_metrics['g_loss'] + auxiliary_weight * g_metrics['g_classifier_loss'], g_metrics

  fake_grads, g_metrics = jax.grad(generator_loss_fn, has_aux=True)(fake)
  (g_grads,) = generator_pullback(fake_grads)
  g_grads = lax.pmean(g_grads, BATCH_AXIS)
  metrics = {
    **jax.tree.map(lambda *values: jnp.mean(jnp.stack(values)), *d_metrics),
    **g_metrics,
    'g_grad_norm': optax.tree.norm(g_grads),
  }
  new_g = _update(g, g_grads, generator_optimizer, g_model_state)
  new_state = state.replace(step=state.step + 1, generator=new_g, discriminator=d)
  if generator_ema_decay > 0:
    new_state = new_state.replace(
      generator_ema=optax.incremental_update(
        new_g.params, state.generator_ema, 1.0 - generator_ema_decay
      )
    )
  return new_state, lax.pmean(metrics, BATCH_AXIS)


def _device_sharding() -> jax.sharding.NamedSharding:
  """How pmap lays out its per-device outputs: split over the local devices on BATCH_AXIS."""
  mesh = jax.sharding.Mesh(np.array(jax.local_devices()), (BATCH_AXIS,))
  return jax.NamedSharding(mesh, jax.P(BATCH_AXIS))


def replicate(tree):
  """A copy of `tree` on every local device, with a leading device axis.

  Laid out exactly as the step's outputs are (`flax.jax_utils.replicate` names
  its mesh axis differently), so that the first and later steps hit the same
  compiled program instead of compiling it twice.
  """
  num_devices = jax.local_device_count()
  return jax.device_put(
    jax.tree.map(lambda x: np.stack([np.asarray(x)] * num_devices), tree), _device_sharding()
  )


def compile_train_step(parts: dict[str, Any], state: GANState, batch: tuple[jax.Array, ...]):
  """`train_step` pmapped over the local devices and compiled for these arguments' shapes.

  Args:
    parts: from `build`.
    state: the replicated state (`replicate`); each call donates it.
    batch: one step's sharded (images,) or (images, labels), on the devices.

  Returns:
    The compiled step, (state, *batch) -> (state, metrics), built with
    `xla_options.compiler_options()`.
  """
  step = jax.pmap(functools.partial(train_step, **parts), axis_name=BATCH_AXIS, donate_argnums=(0,))
  return step.lower(state, *batch).compile(xla_options.compiler_options())


def generate(
  generator: nn.Module,
  generator_state: PlayerState,
  z: jax.Array,
  labels: Optional[jax.Array] = None,
) -> jax.Array:
  """G's samples in evaluation mode (running batch statistics): [N, H, W, C].

  z is [N, latent_dim]; labels int32 [N] for a class-conditional G.
  """
  return generator.apply(generator_state.variables(), z, labels, train=False)


def sample_grid_inputs(
  seed: int, num_images: int, latent_dim: int, num_classes: int = 0
) -> tuple[jax.Array, Optional[jax.Array], int]:
  """(z, labels, columns) of the sample grids, the same at every step so frames compare.

  Unconditional: num_images draws of z, labels None, a near-square grid
  (columns 0 = the default). Class-conditional (num_classes > 0): one row per
  class and num_images // num_classes columns (at least one); every column
  shares its z, so a row shows one class in the styles of the other rows.
  """
  rng = jax.random.fold_in(jax.random.PRNGKey(seed), 1)
  if not num_classes:
    return jax.random.normal(rng, (num_images, latent_dim)), None, 0
  columns = max(1, num_images // num_classes)
  z = jnp.tile(jax.random.normal(rng, (columns, latent_dim)), (num_classes, 1))
  return z, jnp.repeat(jnp.arange(num_classes, dtype=jnp.int32), columns), columns


class _StopRequest:
  """Turns SIGINT/SIGTERM into a flag the loop checks between steps.

  The loop then saves a checkpoint at the current step and stops, instead of
  dying mid-step with the work since the last checkpoint lost.
  """

  def __init__(self):
    self.signal_number: Optional[int] = None
    self._previous = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGINT, signal.SIGTERM):
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def _handle(self, signal_number, frame):
    del frame
    self.signal_number = signal_number

  def __exit__(self, *exc_info):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


def _check_finite(metrics: dict[str, float], step: int, last_checkpoint: Optional[int]) -> None:
  bad = sorted(name for name, value in metrics.items() if not np.isfinite(value))
  if bad:
    where = f'step {last_checkpoint}' if last_checkpoint is not None else 'none yet'
    raise errors.TrainingDivergedError(
      f'Training diverged at step {step}: {", ".join(f"{n}={metrics[n]}" for n in bad)}. '
      f'Last good checkpoint: {where}. Lower the learning rates or change the loss; '
      'no checkpoint was written for the diverged state.'
    )


class _Progress:
  """Steps/s and ETA between log steps, for the progress line and summaries."""

  def __init__(self, start_step: int, num_steps: int):
    self._num_steps = num_steps
    self._last_step, self._last_time = start_step, time.perf_counter()

  def update(self, step: int) -> tuple[float, float]:
    now = time.perf_counter()
    steps_per_sec = (step - self._last_step) / max(now - self._last_time, 1e-9)
    self._last_step, self._last_time = step, now
    return steps_per_sec, (self._num_steps - step) / max(steps_per_sec, 1e-9)


def _format_progress(step, num_steps, metrics, steps_per_sec, eta_seconds) -> str:
  eta = time.strftime('%H:%M:%S', time.gmtime(eta_seconds))
  return (
    f'step {step}/{num_steps} | d_loss {metrics["d_loss"]:.4f} g_loss {metrics["g_loss"]:.4f} '
    f'D(x) {metrics["d_real"]:.3f} D(G(z)) {metrics["d_fake"]:.3f} | '
    f'{steps_per_sec:.2f} steps/s | ETA {eta}'
  )


def train_config(**overrides) -> ml_collections.ConfigDict:
  """A config's `train` section with every field:

  num_steps:            train steps (each: k D updates, one G update).
  batch_size:           images per D update, over all devices and processes.
  discriminator_steps:  k of Algorithm 1 (the paper used k = 1).
  generator_ema_decay:  beta > 0 keeps an EMA of G's params (e.g. 0.999), used
                        for sample grids and sampling; 0 keeps none.
  reuse_noise_for_generator: G's update reuses the last D update's noise and
                        G forward pass (the DCGAN reference code) instead of
                        drawing fresh noise (Algorithm 1); see `train_step`.
  log_every:            steps between metrics (and the NaN check).
  sample_every:         steps between sample grids.
  checkpoint_every:     steps between checkpoints.
  checkpoints_to_keep:  the newest checkpoints kept.
  num_sample_images:    images in a sample grid.
  """
  config = ml_collections.ConfigDict(
    dict(
      num_steps=10_000,
      batch_size=64,
      discriminator_steps=1,
      reuse_noise_for_generator=False,
      generator_ema_decay=0.0,
      log_every=100,
      sample_every=1_000,
      checkpoint_every=5_000,
      checkpoints_to_keep=3,
      num_sample_images=64,
    )
  )
  config.update(overrides)
  return config


def build(config: ml_collections.ConfigDict, image_shape, num_classes: int = 0) -> dict[str, Any]:
  """The static parts of a run named by the config: models, loss, penalty, optimizers.

  Args:
    config: the whole config.
    image_shape: (height, width, channels) of the data.
    num_classes: classes of the data's labels (0: unlabeled).

  Raises:
    ConfigError: for an unknown name, an invalid value or combination.
  """
  if config.train.discriminator_steps < 1:
    raise errors.ConfigError(
      f'train.discriminator_steps must be >= 1 (k of Algorithm 1), got {config.train.discriminator_steps}.'
    )
  penalty = penalties.get_penalty(config.penalty.name)
  if config.penalty.weight < 0 or config.penalty.clip_weights < 0:
    raise errors.ConfigError(
      'penalty.weight and penalty.clip_weights must be >= 0, got '
      f'{config.penalty.weight} and {config.penalty.clip_weights}.'
    )
  if (
    config.penalty.name in penalties.INPUT_GRADIENT_PENALTIES
    and config.model.discriminator_normalization == 'batch'
  ):
    raise errors.ConfigError(
      f'penalty.name={config.penalty.name!r} penalizes per-example gradients of D, but batch '
      'norm couples the examples; use --config.model.discriminator_normalization=layer '
      "(or 'spectral', 'none')."
    )
  generator, discriminator = models.get_models(
    config.model, image_shape, batch_axis_name=BATCH_AXIS, num_classes=num_classes
  )
  auxiliary = config.model.get('conditioning', 'none') == 'auxiliary'
  return dict(
    generator=generator,
    discriminator=discriminator,
    loss=losses.get_loss(config.loss),
    generator_optimizer=optimizers.get_optimizer(config.optimizer.generator),
    discriminator_optimizer=optimizers.get_optimizer(config.optimizer.discriminator),
    latent_dim=config.model.latent_dim,
    reuse_noise_for_generator=config.train.reuse_noise_for_generator,
    penalty=penalty,
    penalty_weight=config.penalty.weight,
    clip_weights=config.penalty.clip_weights,
    generator_ema_decay=config.train.generator_ema_decay,
    auxiliary_weight=config.loss.get('auxiliary_weight', 1.0) if auxiliary else 0.0,
  )


def is_conditional(config: ml_collections.ConfigDict) -> bool:
  """Whether the config's models are class-conditional (and the step takes labels)."""
  return config.model.get('conditioning', 'none') != 'none'


def initial_state(
  config: ml_collections.ConfigDict, parts: dict[str, Any], image_shape
) -> GANState:
  """The state at step 0 for `config.seed`."""
  names = (
    'generator',
    'discriminator',
    'generator_optimizer',
    'discriminator_optimizer',
    'latent_dim',
    'generator_ema_decay',
  )
  return create_state(
    jax.random.PRNGKey(config.seed),
    image_shape=image_shape,
    **{name: parts[name] for name in names},
  )


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> GANState:
  """Trains the GAN of `config`, writing everything to `workdir`; resumes if it can.

  Writes config.json, metrics.jsonl, TensorBoard events, samples/step_*.png
  and checkpoints/; with `eval.every` > 0 also the metrics of
  `gan_jax.evaluation` every that many steps (as eval/<name> in metrics.jsonl
  and TensorBoard). Returns the final (unreplicated) state.

  Raises:
    GanJaxError: for a bad config or data, a diverged run, or an interruption
      by SIGINT/SIGTERM (after saving a checkpoint at the current step).
  """
  is_chief = jax.process_index() == 0
  source, info = input_pipeline.get_source(config.data)
  parts = build(config, info.image_shape, info.num_classes)
  input_pipeline.per_process_batch_size(config.train.batch_size)  # Fails early if uneven.
  workdirs.prepare(workdir, config, info, write=is_chief)
  logging.info('Data %s: %d images of shape %s.', info.name, info.num_examples, info.image_shape)

  manager = checkpoint.create_manager(workdir, config.train.checkpoints_to_keep)
  state = initial_state(config, parts, info.image_shape)
  state = checkpoint.restore_latest(manager, state) or state
  start_step, num_steps = int(state.step), config.train.num_steps
  if start_step:
    logging.info('Resuming from the checkpoint at step %d.', start_step)

  sample_fn = jax.jit(functools.partial(generate, parts['generator']))
  conditional = is_conditional(config)
  grid_z, grid_labels, grid_columns = sample_grid_inputs(
    config.seed,
    config.train.num_sample_images,
    config.model.latent_dim,
    info.num_classes if conditional else 0,
  )
  writer = summaries.SummaryWriter(workdir, start_step=start_step, enabled=is_chief)

  def write_samples(step: int, generator_state: PlayerState) -> None:
    if is_chief:
      samples = sample_fn(generator_state, grid_z, grid_labels)
      grid = images.image_grid(np.asarray(samples), num_columns=grid_columns or None)
      images.save_png(workdirs.sample_path(workdir, step), grid)
      writer.write_image(step, 'samples', grid)

  real_batches = input_pipeline.batches(
    source,
    seed=config.seed,
    global_batch_size=config.train.batch_size,
    discriminator_steps=config.train.discriminator_steps,
    start_step=start_step,
  )
  device_batches = flax.jax_utils.prefetch_to_device(
    # The step reads (images,) or, for a conditional model, (images, labels).
    (input_pipeline.shard(batch if conditional else batch[:1]) for batch in real_batches),
    size=2,
    axis_name=BATCH_AXIS,
  )
  if start_step == 0:
    write_samples(0, state.sampling_generator())
  evaluator = None
  if config.get('eval') and config.eval.every > 0:
    evaluator = evaluation.Evaluator(
      config,
      generate=sample_fn,
      latent_dim=config.model.latent_dim,
      image_shape=info.image_shape,
      num_classes=info.num_classes if conditional else 0,
    )

  replicated = replicate(state)
  first_batch = next(device_batches)
  step_fn = compile_train_step(parts, replicated, first_batch)
  device_batches = itertools.chain([first_batch], device_batches)
  progress = _Progress(start_step, num_steps)
  pending_metrics: list[Metrics] = []
  last_checkpoint = start_step if start_step else None

  def unreplicated() -> GANState:
    return jax.tree.map(lambda x: x[0], replicated)

  def check_pending(step: int) -> dict[str, float]:
    """Averages the metrics gathered since the last check; raises if any is not finite."""
    host = jax.device_get(pending_metrics)
    pending_metrics.clear()
    averaged = {name: float(np.mean([m[name][0] for m in host])) for name in host[0]}
    _check_finite(averaged, step, last_checkpoint)
    return averaged

  try:
    with _StopRequest() as stop:
      step = start_step
      while step < num_steps:
        replicated, metrics = step_fn(replicated, *next(device_batches))
        pending_metrics.append(metrics)
        step += 1
        finished = step == num_steps
        if step % config.train.log_every == 0 or finished:
          logged = check_pending(step)
          steps_per_sec, eta = progress.update(step)
          writer.write_scalars(step, {**logged, 'steps_per_sec': steps_per_sec})
          logging.info(_format_progress(step, num_steps, logged, steps_per_sec, eta))
        if step % config.train.sample_every == 0 or finished:
          write_samples(step, unreplicated().sampling_generator())
        if step % config.train.checkpoint_every == 0 or finished or stop.signal_number:
          if pending_metrics:  # Never checkpoint a state whose metrics were not checked.
            check_pending(step)
          checkpoint.save(manager, unreplicated())
          last_checkpoint = step
        if stop.signal_number:
          break
        if evaluator and (step % config.eval.every == 0 or finished):
          results = evaluator.evaluate(unreplicated().sampling_generator())
          writer.write_scalars(step, {f'eval/{name}': value for name, value in results.items()})
          logging.info(
            'step %d eval: %s', step, ', '.join(f'{k} {v:.4g}' for k, v in results.items())
          )
  finally:
    # Whatever ends the loop, checkpoints in flight are finished and summaries flushed.
    manager.wait_until_finished()
    writer.close()

  if stop.signal_number:
    name = signal.Signals(stop.signal_number).name
    raise errors.Interrupted(
      f'{name} at step {step}: checkpoint saved in {workdir}; run the same command to resume.',
      exit_code=128 + stop.signal_number,
    )
  return unreplicated()


def restore_for_sampling(
  config: ml_collections.ConfigDict, workdir: str
) -> tuple[Callable, GANState]:
  """(generate function bound to G, latest state) of a trained run in `workdir`.

  Raises:
    CheckpointError: if `workdir` has no checkpoint.
  """
  info = workdirs.read_data_info(workdir)
  # A run written before a field (or the penalty section) existed gets its default.
  config = ml_collections.ConfigDict(
    {
      **config.to_dict(),
      'loss': losses.loss_config(**config.loss),
      'train': train_config(**config.train),
      'penalty': penalties.penalty_config(**config.get('penalty', {})),
    }
  )
  parts = build(config, info.image_shape, info.num_classes)
  manager = checkpoint.create_manager(workdir, config.train.checkpoints_to_keep)
  state = checkpoint.restore_latest(manager, initial_state(config, parts, info.image_shape))
  if state is None:
    raise errors.CheckpointError(f'No checkpoint in {workdir}/checkpoints: train there first.')
  return jax.jit(functools.partial(generate, parts['generator'])), state
