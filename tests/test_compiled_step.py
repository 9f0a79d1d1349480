"""The compiled step: on CPU a lazily regularized step is one program per pattern of updates,
and it computes what the single program with `lax.cond` computes."""

import jax
import numpy as np
import pytest

from configs import gan_mnist
from gan_jax import assembly
from gan_jax import compiled_step
from gan_jax import distributed
from gan_jax import input_pipeline
from gan_jax import lazy_regularization
from gan_jax import step as step_lib
from gan_jax.studies import benchmarking


def _lazy_mlp(every: int, discriminator_steps: int = 1):
  config = gan_mnist.get_config('tiny')  # An MLP D without normalization: R1 applies.
  config.penalty.update(name='r1', weight=1.0, every=every)
  config.train.discriminator_steps = discriminator_steps
  return config


def _start(config):
  _, info = input_pipeline.get_source(config.data)
  gan = assembly.build(config, info.image_shape, info.num_classes)
  state = assembly.initial_state(config, gan, info.image_shape)
  state = distributed.replicate(state, distributed.data_mesh())
  return gan, state, benchmarking._placed_batch(config, info)


def _run(step_fn, state, batch, num_steps):
  penalties = []
  for _ in range(num_steps):
    state, metrics = step_fn(state, *batch)
    penalties.append(float(metrics['d_penalty']))
  return jax.tree.map(np.asarray, state), penalties


def test_the_variants_compute_what_the_program_with_cond_computes(monkeypatch):
  # R1 every 3rd of 2 D updates a step: due at steps 0, 1, 3, 4 (a 3-step cycle).
  config = _lazy_mlp(every=3, discriminator_steps=2)
  gan, state, batch = _start(config)
  traces, original = [], step_lib.train_step

  def counting_step(*args, **kwargs):
    traces.append(kwargs['due'])
    return original(*args, **kwargs)

  monkeypatch.setattr(step_lib, 'train_step', counting_step)
  variants = compiled_step.step_function(gan, state, batch)
  assert not isinstance(variants, jax.stages.Compiled)
  # Patterns over the cycle: (update 0 due, update 1 not), (not, due), (not, not).
  assert {due.penalty for due in traces} == {(True, False), (False, True), (False, False)}
  cond = compiled_step.compile_train_step(gan, state, batch)
  assert traces[-1] is None
  ours, our_penalties = _run(variants, state, batch, 5)
  _, state, _ = _start(config)
  reference, reference_penalties = _run(cond, state, batch, 5)
  assert [p > 0 for p in our_penalties] == [True, True, False, True, True]
  np.testing.assert_allclose(our_penalties, reference_penalties, rtol=1e-5)
  for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(reference)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_step_without_lazy_regularizers_is_one_program():
  gan, state, batch = _start(gan_mnist.get_config('tiny'))
  assert isinstance(compiled_step.step_function(gan, state, batch), jax.stages.Compiled)


@pytest.mark.parametrize('step', [0, 1, 5, 16, 33])
def test_a_traced_due_is_the_fixed_one(step):
  gan, _, _ = _start(_lazy_mlp(every=4, discriminator_steps=3))
  fixed = lazy_regularization.due_at(gan, step, 3)
  traced = jax.jit(lambda s: lazy_regularization.due_at(gan, s, 3))(step)
  assert tuple(bool(d) for d in traced.penalty) == fixed.penalty
  assert fixed.path_length is False and not traced.path_length
