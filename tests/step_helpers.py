"""What several test modules need to run the pmapped train step directly."""

import functools

import jax
import numpy as np

from gan_jax import assembly
from gan_jax import step as step_lib


def pmapped_step(config, image_shape, devices=None, num_classes=0):
  """(initial state, the pmapped train step) of `config`, over `devices` (all by default)."""
  gan = assembly.build(config, image_shape, num_classes)
  state = assembly.initial_state(config, gan, image_shape)
  step = jax.pmap(
    functools.partial(step_lib.train_step, gan=gan), axis_name=step_lib.BATCH_AXIS, devices=devices
  )
  return state, step


def split(batch, num_devices):
  """[k, B, ...] -> [devices, k, B / devices, ...]."""
  k, b = batch.shape[:2]
  return np.swapaxes(batch.reshape(k, num_devices, b // num_devices, *batch.shape[2:]), 0, 1)


def random_device_batch(global_batch_size, image_shape, discriminator_steps=1, seed=0):
  """Uniform [-1, 1] images split over all local devices: [devices, k, B / devices, ...]."""
  shape = (discriminator_steps, global_batch_size, *image_shape)
  batch = np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)
  return split(batch, jax.local_device_count())


def random_device_labels(global_batch_size, num_classes, discriminator_steps=1, seed=0):
  """Uniform labels int32 split over all local devices: [devices, k, B / devices]."""
  labels = np.random.default_rng(seed).integers(
    0, num_classes, (discriminator_steps, global_batch_size), dtype=np.int32
  )
  return split(labels, jax.local_device_count())
