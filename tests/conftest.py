"""Test set-up: eight CPU devices, so that the data-parallel step runs on a mesh of 8.

The flag must be set before JAX initializes its backend, i.e. before any test
module imports jax.
"""

import os

os.environ['XLA_FLAGS'] = (
  os.environ.get('XLA_FLAGS', '') + ' --xla_force_host_platform_device_count=8'
).strip()
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
