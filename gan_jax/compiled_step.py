"""Compiling the train step: data parallel over the mesh, and on CPU one program per pattern
of lazy updates.

`step.train_step` is per-device code (its collectives average over
`step.BATCH_AXIS`) mapped over the mesh with `jax.shard_map` under `jax.jit`
(`distributed.per_device`), the state replicated and donated, each array
[k, B, ...] of the batch split along B.

A step with lazy regularizers (`lazy_regularization`) decides inside the
program, under `lax.cond`, whether each is due. XLA:CPU brings convolutions
into the form its Eigen kernels take only in a program's entry computation, so
inside a `lax.cond` branch they fall to a naive loop, ~100x slower
(jax-ml/jax#12868: StyleGAN2's R1 step took 721 s instead of tens). On CPU
`step_function` therefore compiles one program per pattern of due updates
(`lazy_regularization.Due`), and the host picks each step's.
"""

import functools
from typing import Callable, Optional

import jax

from gan_jax import distributed
from gan_jax import lazy_regularization
from gan_jax import step as step_lib
from gan_jax import xla_options
from gan_jax.state import GANState


def lower_train_step(
  gan: step_lib.GAN,
  state: GANState,
  batch: tuple[jax.Array, ...],
  due: Optional[lazy_regularization.Due] = None,
):
  """`step.train_step`, data parallel over the mesh of `batch`, lowered for these arguments.

  Args:
    gan: from `assembly.build`.
    state: the replicated state (`distributed.replicate`); each call donates it.
    batch: one step's global (images,) or (images, labels) (`distributed.global_batch`).
    due: the lazy updates fixed at compilation (`step.train_step`), or None.

  Returns:
    The `jax.stages.Lowered` step: compile it (`compile_train_step`), or count
    its FLOPs without compiling (`cost_analysis()`).
  """
  mesh = batch[0].sharding.mesh
  batch_spec = distributed.batch_sharding(mesh).spec
  per_device_step = distributed.per_device(
    functools.partial(step_lib.train_step, gan=gan, due=due),
    mesh,
    (jax.P(), *[batch_spec] * len(batch)),
    (jax.P(), jax.P()),
  )
  return jax.jit(per_device_step, donate_argnums=(0,)).lower(state, *batch)


def compile_train_step(
  gan: step_lib.GAN,
  state: GANState,
  batch: tuple[jax.Array, ...],
  due: Optional[lazy_regularization.Due] = None,
):
  """`lower_train_step`, compiled with `xla_options.compiler_options()`.

  Returns:
    The compiled step, (state, *batch) -> (state, metrics); the metrics are
    replicated scalars.
  """
  return lower_train_step(gan, state, batch, due).compile(xla_options.compiler_options())


def step_function(gan: step_lib.GAN, state: GANState, batch: tuple[jax.Array, ...]) -> Callable:
  """The compiled step that training runs from `state`: (state, *batch) -> (state, metrics).

  One program, whose lazy regularizers run under `lax.cond`; but on CPU, with
  lazy regularizers, one program per pattern of lazy updates in a cycle of
  their schedule (`lazy_regularization.Due`, 2-4 of them), all compiled here,
  the host choosing each step's from its count (see the module docstring).
  Calls must follow one another from `state`'s step on, as training and the
  benchmark make them.
  """
  lazy = gan.lazy_penalty or gan.path_length_weight > 0
  if jax.default_backend() != 'cpu' or not lazy:
    return compile_train_step(gan, state, batch)
  k, next_step = batch[0].shape[0], int(state.step)
  cycle = lazy_regularization.cycle_steps(gan, k)
  dues = {lazy_regularization.due_at(gan, s, k) for s in range(next_step, next_step + cycle)}
  compiled = {due: compile_train_step(gan, state, batch, due) for due in dues}

  def run(state, *batch):
    nonlocal next_step
    due = lazy_regularization.due_at(gan, next_step, k)
    next_step += 1
    return compiled[due](state, *batch)

  return run
