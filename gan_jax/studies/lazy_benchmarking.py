"""The figures of a step with lazy regularizers, by the updates each step makes.

StyleGAN2 (Karras et al. 2020b, section 3.1) runs R1's D update at every 16th
D update and the path length's G update at every 4th step, each under a
`lax.cond` of the compiled step, or on CPU in the variant of the step compiled
for its pattern (`gan_jax.compiled_step`): most steps cost what a step without
the regularizers costs, and every few steps one costs much more. A benchmark of such a step therefore times whole cycles
of consecutive steps (`cycle_steps`), sorts the steps by the updates they
made (`lazy_regularization.due_regularizers`), and gives each kind of step its
median time, FLOPs and fraction of the matmul peak (`kind_figures`), and the
mean over a cycle: what a step of a run costs on average.

FLOPs of each kind: XLA counts a `lax.cond` as its costlier branch, so the
compiled step's count is that of a step making every update. The count of a
kind making fewer is that figure times the ratio of two counts of unoptimized
programs (`jax.stages.Lowered.cost_analysis`, no compilation): the step of the
config with the regularizers not due at that kind removed, over the step with
all of them. On stylegan2_faces:tiny this estimate was within 1% of the
compiled count of each variant (R1 only: 0.6%, path length only: 1.0%, neither:
0.4%); tests/test_lazy_benchmarking.py holds it to 2% on an MLP with lazy R1.
"""

import dataclasses
import statistics
from typing import Sequence

import jax
import ml_collections

from gan_jax import assembly
from gan_jax import compiled_step
from gan_jax import distributed
from gan_jax import input_pipeline
from gan_jax import lazy_regularization

# Regularizer name (`lazy_regularization.due_regularizers`) -> the config fields that remove it.
_REMOVALS = {
  'penalty': ('penalty', dict(name='none')),
  'path_length': ('penalty', dict(path_length_weight=0.0)),
}


@dataclasses.dataclass
class StepKind:
  """The timed steps that made the same lazy updates.

  Attributes:
    due: the regularizers whose updates these steps made; () for none.
    num_timed: how many of the timed steps were of this kind.
    seconds_median: their median time.
    flops: XLA's count of one such step, all devices (see the module docstring).
    fraction_of_matmul_peak: flops / seconds_median over the same-run matmul rate.
  """

  due: tuple[str, ...]
  num_timed: int
  seconds_median: float
  flops: float
  fraction_of_matmul_peak: float


def _gan(config: ml_collections.ConfigDict):
  _, info = input_pipeline.get_source(config.data)
  return assembly.build(config, info.image_shape, info.num_classes), info


def regularizers(config: ml_collections.ConfigDict) -> tuple[str, ...]:
  """The lazy regularizers of `config`: those some step makes but not every step."""
  gan, _ = _gan(config)
  return lazy_regularization.due_regularizers(gan, 0, config.train.discriminator_steps)


def cycle_steps(config: ml_collections.ConfigDict) -> int:
  """Steps after which the pattern of lazy updates repeats (`lazy_regularization.cycle_steps`)."""
  gan, _ = _gan(config)
  return lazy_regularization.cycle_steps(gan, config.train.discriminator_steps)


def due_at(config: ml_collections.ConfigDict, steps: Sequence[int]) -> list[tuple[str, ...]]:
  """The lazy updates that each of `steps` makes."""
  gan, _ = _gan(config)
  k = config.train.discriminator_steps
  return [lazy_regularization.due_regularizers(gan, step, k) for step in steps]


def _lowered_flops(config: ml_collections.ConfigDict) -> float:
  gan, info = _gan(config)
  state = assembly.initial_state(config, gan, info.image_shape)
  state = distributed.replicate(state, distributed.data_mesh())
  batch = _abstract_batch(config, info)
  return float(compiled_step.lower_train_step(gan, state, batch).cost_analysis()['flops'])


def _abstract_batch(config, info) -> tuple:
  """Shapes and shardings of one step's batch, as `benchmarking` places it (for lowering only)."""
  sharding = distributed.batch_sharding(distributed.data_mesh())
  shape = (config.train.discriminator_steps, config.train.batch_size)
  batch = (jax.ShapeDtypeStruct((*shape, *info.image_shape), 'float32', sharding=sharding),)
  if assembly.is_conditional(config):
    batch += (jax.ShapeDtypeStruct(shape, 'int32', sharding=sharding),)
  return batch


def flops_by_kind(
  config: ml_collections.ConfigDict, kinds: Sequence[tuple[str, ...]], compiled_flops: float
) -> dict[tuple[str, ...], float]:
  """XLA's FLOPs of a step of each kind, from the compiled step's count (every update made).

  Args:
    config: the config whose step was compiled.
    kinds: tuples of regularizer names (of `regularizers(config)`).
    compiled_flops: the compiled step's count, all devices.
  """
  every = regularizers(config)
  lowered_all = _lowered_flops(config)
  flops = {}
  for kind in kinds:
    variant = config.copy_and_resolve_references()
    for name in every:
      if name not in kind:
        section, fields = _REMOVALS[name]
        variant[section].update(fields)
    ratio = 1.0 if set(kind) == set(every) else _lowered_flops(variant) / lowered_all
    flops[kind] = compiled_flops * ratio
  return flops


def kind_figures(
  config: ml_collections.ConfigDict,
  first_step: int,
  seconds: Sequence[float],
  compiled_flops: float,
  matmul_flops_per_second: float,
) -> list[StepKind]:
  """The timed steps sorted by the lazy updates they made, with each kind's figures.

  Args:
    config: the config whose step was timed.
    first_step: the index of the first timed step (the warm-up steps before it).
    seconds: each timed step's time, in order.
    compiled_flops: XLA's count of the compiled step, all devices.
    matmul_flops_per_second: the same run's matmul rate.

  Returns:
    One `StepKind` per kind of step among the timed ones, fewest updates first.
  """
  dues = due_at(config, range(first_step, first_step + len(seconds)))
  kinds = sorted(set(dues), key=lambda kind: (len(kind), kind))
  flops = flops_by_kind(config, kinds, compiled_flops)
  figures = []
  for kind in kinds:
    times = [t for t, due in zip(seconds, dues) if due == kind]
    median = statistics.median(times)
    figures.append(
      StepKind(
        kind, len(times), median, flops[kind], flops[kind] / median / matmul_flops_per_second
      )
    )
  return figures


def describe(kind: StepKind) -> str:
  """What a kind of step makes: 'no lazy update', 'penalty update', 'penalty and path length updates'."""
  if not kind.due:
    return 'no lazy update'
  names = [name.replace('_', ' ') for name in kind.due]
  return ' and '.join(names) + (' update' if len(names) == 1 else ' updates')
