"""The CPU compile options reach XLA, and stay out where they do not apply."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import xla_options


@pytest.fixture(autouse=True)
def _fresh_options():
  xla_options.compiler_options.cache_clear()
  yield
  xla_options.compiler_options.cache_clear()


def _convolve(x, kernel):
  return jax.lax.conv_general_dilated(
    x, kernel, (2, 2), ((1, 1), (1, 1)), dimension_numbers=('NHWC', 'HWIO', 'NHWC')
  )


def _library_fusions(compiled_text: str) -> int:
  return len(re.findall(r'"kind":"__ynn_fusion"', compiled_text))


def test_cpu_options_take_convolutions_away_from_ynnpack():
  options = xla_options.compiler_options()
  if not options:
    pytest.skip('this XLA:CPU has no YNNPACK fusion types to choose')
  # Large enough for XLA to hand the default program to YNNPACK.
  args = (jnp.ones((8, 32, 32, 64)), jnp.ones((4, 4, 64, 128)))
  default = jax.jit(_convolve).lower(*args).compile().as_text()
  with_options = xla_options.jit(_convolve).lower(*args).compile().as_text()
  assert _library_fusions(default) == 1
  assert _library_fusions(with_options) == 0


def test_jit_computes_what_jax_jit_computes():
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 3))
  kernel = jax.random.normal(jax.random.key(1), (4, 4, 3, 5))
  np.testing.assert_allclose(
    xla_options.jit(_convolve)(x, kernel), jax.jit(_convolve)(x, kernel), rtol=1e-5, atol=1e-5
  )


def test_no_options_where_xla_flags_choose_the_fusion_types(monkeypatch):
  monkeypatch.setenv('XLA_FLAGS', '--xla_cpu_experimental_ynn_fusion_type=-individual_dot')
  assert xla_options.compiler_options() == {}


def test_no_options_on_other_backends(monkeypatch):
  monkeypatch.setattr(jax, 'default_backend', lambda: 'gpu')
  assert xla_options.compiler_options() == {}


def test_no_options_where_xla_does_not_know_them(monkeypatch):
  monkeypatch.setattr(xla_options, '_CPU_OPTIONS', {'xla_cpu_no_such_option': 'true'})
  assert xla_options.compiler_options() == {}
