"""What several test modules need to run the data-parallel train step directly."""

import functools

import jax
import numpy as np

from gan_jax import assembly
from gan_jax import distributed
from gan_jax import step as step_lib


class DataParallelStep:
  """`step.train_step` of a config over a mesh of `devices`, as training runs it.

  `step(state, images, labels=None)` takes a replicated state (`replicate`)
  and global batches [k, B, ...], and returns (state, metrics), all global
  arrays: replicated, so `np.asarray` reads them.
  """

  def __init__(self, config, image_shape, devices=None, num_classes=0):
    self.gan = assembly.build(config, image_shape, num_classes)
    self.mesh = distributed.data_mesh(devices)
    self._compiled = {}

  def replicate(self, state):
    return distributed.replicate(state, self.mesh)

  def __call__(self, state, *batch):
    if len(batch) not in self._compiled:
      batch_spec = distributed.batch_sharding(self.mesh).spec
      per_device = distributed.per_device(
        functools.partial(step_lib.train_step, gan=self.gan),
        self.mesh,
        (jax.P(), *[batch_spec] * len(batch)),
        (jax.P(), jax.P()),
      )
      self._compiled[len(batch)] = jax.jit(per_device)
    placed = [jax.device_put(x, distributed.batch_sharding(self.mesh)) for x in batch]
    return self._compiled[len(batch)](state, *placed)


def data_parallel_step(config, image_shape, devices=None, num_classes=0):
  """(initial state, `DataParallelStep`) of `config`, over `devices` (all by default)."""
  step = DataParallelStep(config, image_shape, devices, num_classes)
  return assembly.initial_state(config, step.gan, image_shape), step


def host(tree):
  """A replicated tree of global arrays as NumPy arrays."""
  return jax.tree.map(np.asarray, tree)


def random_batch(global_batch_size, image_shape, discriminator_steps=1, seed=0):
  """Uniform [-1, 1] images [k, B, ...]."""
  shape = (discriminator_steps, global_batch_size, *image_shape)
  return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


def random_labels(global_batch_size, num_classes, discriminator_steps=1, seed=0):
  """Uniform labels int32 [k, B]."""
  return np.random.default_rng(seed).integers(
    0, num_classes, (discriminator_steps, global_batch_size), dtype=np.int32
  )
