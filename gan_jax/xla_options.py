"""XLA compile options for the programs that convolve: the train step and the feature networks.

XLA:CPU (jaxlib 0.10) hands dots, convolutions and reductions to the YNNPACK
library by default. Its convolutions, and their kernel gradients most of all,
run slower than the Eigen convolutions XLA:CPU falls back to: on two Xeon
(AVX-512) cores the kernel gradient of DCGAN D's 32x32 64->128 layer at batch
64 takes 51 ms through YNNPACK and 20 ms through Eigen, the dcgan_faces train
step 0.90 s against 0.70-0.75 s, and the FID Inception-v3 runs 10 against
22-25 images/s (`python -m experiments.benchmark`). So on CPU these programs are
compiled with YNNPACK kept for dots and reductions only.

They are compile options of the programs that need them, not process-wide
XLA_FLAGS, so importing gan_jax changes nothing else. They are left out on
other backends, where the running XLA does not know the option (it is
experimental), and where XLA_FLAGS chooses the YNNPACK fusion types itself.
"""

import functools
import os
from collections.abc import Callable

import jax
import jax.numpy as jnp

_YNN_FUSION_TYPES = 'xla_cpu_experimental_ynn_fusion_type'
_CPU_OPTIONS = {
  _YNN_FUSION_TYPES: 'LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE',
}


@functools.cache
def compiler_options() -> dict[str, str]:
  """The options for the default backend: `_CPU_OPTIONS` on CPU where XLA takes them, else {}."""
  if jax.default_backend() != 'cpu' or _YNN_FUSION_TYPES in os.environ.get('XLA_FLAGS', ''):
    return {}
  try:
    jax.jit(jnp.negative).lower(jnp.zeros(())).compile(_CPU_OPTIONS)
  except jax.errors.JaxRuntimeError:  # An XLA without the option, or without these values.
    return {}
  return dict(_CPU_OPTIONS)


def jit(fun: Callable, **jit_kwargs) -> Callable:
  """`jax.jit(fun, **jit_kwargs)` compiled with `compiler_options()`.

  The options are looked up at the first call (or `.lower`), not when `jit`
  is applied, so that decorating a function at import time does not start the
  backend.
  """

  @functools.cache
  def jitted() -> Callable:
    return jax.jit(fun, compiler_options=compiler_options(), **jit_kwargs)

  @functools.wraps(fun)
  def call(*args, **kwargs):
    return jitted()(*args, **kwargs)

  call.lower = lambda *args, **kwargs: jitted().lower(*args, **kwargs)
  return call
