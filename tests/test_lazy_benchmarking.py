"""The benchmark of a step with lazy regularizers: its cycles, its kinds of steps and their FLOPs."""

import pytest

from configs import dcgan_faces
from configs import gan_mnist
from configs import stylegan2_cifar10
from configs import stylegan2_faces
from gan_jax import assembly
from gan_jax import compiled_step
from gan_jax import distributed
from gan_jax import input_pipeline
from gan_jax.studies import benchmarking
from gan_jax.studies import lazy_benchmarking


def _lazy_mlp(every: int):
  config = gan_mnist.get_config('tiny')
  config.penalty.update(name='r1', weight=1.0, every=every)
  return config


@pytest.mark.parametrize(
  'config_fn, changes, regularizers, cycle',
  [
    (stylegan2_faces.get_config, {}, ('penalty', 'path_length'), 16),
    (stylegan2_cifar10.get_config, {}, ('penalty',), 16),
    # R1 every 16 of 2 D updates a step: every 8 steps.
    (stylegan2_faces.get_config, {'train.discriminator_steps': 2}, ('penalty', 'path_length'), 8),
    # Every 3rd of 2 D updates: due at steps 0, 1, 3, 4, ...: a cycle of 3 steps.
    (stylegan2_cifar10.get_config, {'train.discriminator_steps': 2, 'penalty.every': 3}, None, 3),
    (stylegan2_faces.get_config, {'penalty.every': 2, 'penalty.path_length_every': 3}, None, 6),
    (dcgan_faces.get_config, {}, (), 1),
  ],
)
def test_cycles_of_the_lazy_schedules(config_fn, changes, regularizers, cycle):
  config = config_fn('tiny')
  for field, value in changes.items():
    section, name = field.split('.')
    config[section][name] = value
  if regularizers is not None:
    assert lazy_benchmarking.regularizers(config) == regularizers
  assert lazy_benchmarking.cycle_steps(config) == cycle
  dues = lazy_benchmarking.due_at(config, range(3 * cycle))
  assert dues[:cycle] == dues[cycle : 2 * cycle] == dues[2 * cycle :]
  if cycle > 1:
    assert len(set(dues[:cycle])) > 1


def test_steps_with_every_second_and_every_third_update_due():
  config = stylegan2_faces.get_config('tiny')
  config.penalty.update(every=2, path_length_every=3)
  both, penalty, path_length, none = ('penalty', 'path_length'), ('penalty',), ('path_length',), ()
  expected = [both, none, penalty, path_length, penalty, none]
  assert lazy_benchmarking.due_at(config, range(6)) == expected


def _compiled_flops(config) -> float:
  _, info = input_pipeline.get_source(config.data)
  gan = assembly.build(config, info.image_shape, info.num_classes)
  state = distributed.replicate(
    assembly.initial_state(config, gan, info.image_shape), distributed.data_mesh()
  )
  batch = benchmarking._placed_batch(config, info)
  return float(compiled_step.compile_train_step(gan, state, batch).cost_analysis()['flops'])


def test_flops_of_a_step_without_the_due_penalty_are_those_of_the_step_without_it():
  config = _lazy_mlp(every=3)
  plain = config.copy_and_resolve_references()
  plain.penalty.name = 'none'
  compiled, compiled_plain = _compiled_flops(config), _compiled_flops(plain)
  # XLA counts the cond's costlier branch: R1's double backpropagation is a
  # large part of the tiny MLP's step.
  assert compiled > 1.3 * compiled_plain
  flops = lazy_benchmarking.flops_by_kind(config, [(), ('penalty',)], compiled)
  assert flops[('penalty',)] == compiled
  assert flops[()] == pytest.approx(compiled_plain, rel=0.02)


def test_a_lazy_step_is_timed_over_whole_cycles_by_kind():
  config = _lazy_mlp(every=3)
  result = benchmarking.benchmark_train_step(
    config, config_name='lazy mlp', warmup_steps=1, timed_steps=4
  )
  # Four steps rounded up to two cycles of 3: steps 1-6, of which 3 and 6 make the R1 update.
  assert result.cycle_steps == 3
  none, penalty = result.step_kinds
  assert (none.due, none.num_timed, penalty.due, penalty.num_timed) == ((), 4, ('penalty',), 2)
  assert penalty.flops > none.flops
  assert result.flops_per_step == pytest.approx((4 * none.flops + 2 * penalty.flops) / 6)
  for kind in result.step_kinds:
    assert kind.fraction_of_matmul_peak == pytest.approx(
      kind.flops / kind.seconds_median / result.matmul_flops_per_second
    )
  table = benchmarking.format_table(result)
  assert 'steps with no lazy update' in table and 'steps with penalty update' in table
  assert 'mean over the 3-step cycle' in table
  markdown = benchmarking.format_markdown([result])
  assert '`lazy mlp`, lazily regularized: steps with no lazy update: ' in markdown


def test_a_step_without_lazy_regularizers_has_no_kinds():
  result = benchmarking.benchmark_train_step(
    gan_mnist.get_config('tiny'), config_name='mlp', warmup_steps=1, timed_steps=2
  )
  assert result.cycle_steps == 1 and result.step_kinds == []
  assert result.achieved_flops_per_second == result.flops_per_step / result.step_seconds_median
  assert 'cycle' not in benchmarking.format_table(result)
