"""Times flax's convolutions against gan_jax's equivalents at DCGAN's layer shapes.

For every convolution of the 64x64 DCGAN (Radford et al. 2015), at batch 64,
prints the median wall time of the jitted forward pass, kernel gradient, input
gradient, and forward pass with both gradients, for the flax
layer ('flax') and the module `gan_jax.models` uses in its place ('gan_jax';
D's last layer is flax's in both). Every program is compiled with the CPU
options of `gan_jax.xla_options`, as the train step is; --xla_defaults
compiles them with XLA's defaults instead. --torch adds PyTorch's layer
('torch', eager, oneDNN), as `studies.torch_comparison` builds the step; its
gradient columns include the forward pass autograd records, so the last
column is the one to compare.

  python tools/bench_conv_transpose.py [--batch 64] [--repeats 9] [--xla_defaults] [--torch]

The timings are of whatever else shares the machine too: run it on a quiet one.
"""

import argparse
import time
from typing import Callable, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import xla_options
from gan_jax.models import layers


def _strided_conv_transpose(features: int) -> nn.Module:
  return nn.ConvTranspose(features, (4, 4), strides=(2, 2), padding='SAME', use_bias=False)


def _strided_conv(features: int) -> nn.Module:
  return nn.Conv(features, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)), use_bias=False)


# (layer, [(implementation, module, input shape without batch), ...]).
_LAYERS = (
  (
    'G z 100 -> 512, 1 -> 4',
    [
      ('flax', nn.ConvTranspose(512, (4, 4), padding='VALID', use_bias=False), (1, 1, 100)),
      ('gan_jax', layers.ConvTransposeFromVector(512, size=4), (100,)),
    ],
  ),
  *(
    (
      f'G {c_in} -> {c_out}, {size} -> {2 * size}',
      [
        ('flax', _strided_conv_transpose(c_out), (size, size, c_in)),
        ('gan_jax', layers.StridedConvTranspose(c_out), (size, size, c_in)),
      ],
    )
    for c_in, c_out, size in ((512, 256, 4), (256, 128, 8), (128, 64, 16), (64, 3, 32))
  ),
  *(
    (
      f'D {c_in} -> {c_out}, {size} -> {size // 2}',
      [
        ('flax', _strided_conv(c_out), (size, size, c_in)),
        ('gan_jax', layers.StridedConv(c_out), (size, size, c_in)),
      ],
    )
    for c_in, c_out, size in ((3, 64, 64), (64, 128, 32), (128, 256, 16), (256, 512, 8))
  ),
  (
    'D 512 -> 1, 4 -> 1',
    [('flax', nn.Conv(1, (4, 4), padding='VALID', use_bias=False), (4, 4, 512))],
  ),
)


def _median_ms(function: Callable, *args, repeats: int) -> float:
  jax.block_until_ready(function(*args))  # Compiles and warms up.
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(function(*args))
    times.append(time.perf_counter() - start)
  return 1e3 * float(np.median(times))


def _time_layer(module: nn.Module, x: jax.Array, repeats: int, jit: Callable) -> tuple[float, ...]:
  """Milliseconds for (forward, kernel gradient, input gradient, forward + both).

  The output's cotangent is an argument of each program: closed over, it would
  be a constant, and XLA would rearrange it at compile time, work a train step
  does at run time.
  """
  params = module.init(jax.random.key(0), x)
  output = module.apply(params, x)
  cotangent = jax.random.normal(jax.random.key(1), output.shape)

  def loss(params, x, cotangent):
    return jnp.vdot(module.apply(params, x), cotangent)

  forward = jit(module.apply)
  kernel_gradient = jit(jax.grad(loss, argnums=0))
  input_gradient = jit(jax.grad(loss, argnums=1))
  both = jit(jax.value_and_grad(loss, argnums=(0, 1)))
  return (_median_ms(forward, params, x, repeats=repeats),) + tuple(
    _median_ms(function, params, x, cotangent, repeats=repeats)
    for function in (kernel_gradient, input_gradient, both)
  )


def _torch_layer(name: str):
  """PyTorch's layer for `name` in _LAYERS, and its input shape without batch (NCHW)."""
  import torch  # pylint: disable=g-import-not-at-top

  if name.startswith('G z'):
    return torch.nn.ConvTranspose2d(100, 512, 4, 1, 0, bias=False), (100, 1, 1)
  if name == 'D 512 -> 1, 4 -> 1':
    return torch.nn.Conv2d(512, 1, 4, 1, 0, bias=False), (512, 4, 4)
  player, c_in, _, c_out, size, *_ = name.replace(',', '').split()
  c_in, c_out, size = int(c_in), int(c_out), int(size)
  layer = torch.nn.ConvTranspose2d if player == 'G' else torch.nn.Conv2d
  return layer(c_in, c_out, 4, 2, 1, bias=False), (c_in, size, size)


def _time_torch_layer(name: str, batch: int, repeats: int) -> tuple[float, ...]:
  """Milliseconds for (forward, kernel gradient, input gradient, forward + both) in PyTorch."""
  import torch  # pylint: disable=g-import-not-at-top

  layer, shape = _torch_layer(name)
  x = torch.randn(batch, *shape)
  cotangent = torch.randn_like(layer(x))

  def forward():
    with torch.no_grad():
      layer(x)

  def gradient(kernel: bool, inputs: bool):
    def run():
      layer.weight.requires_grad_(kernel)
      x_in = x.detach().requires_grad_(inputs)
      torch.autograd.backward(layer(x_in), cotangent)
      layer.weight.grad = None

    return run

  def median_ms(function):
    function()
    times = []
    for _ in range(repeats):
      start = time.perf_counter()
      function()
      times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))

  return tuple(
    median_ms(f)
    for f in (forward, gradient(True, False), gradient(False, True), gradient(True, True))
  )


def main(
  batch: int, repeats: int, only: Optional[str], xla_defaults: bool, with_torch: bool
) -> None:
  jit = jax.jit if xla_defaults else xla_options.jit
  options = 'defaults' if xla_defaults else xla_options.compiler_options() or 'defaults'
  print(f'batch {batch}, median of {repeats} runs, ms, on {jax.devices()[0].device_kind}')
  print(f'XLA compile options: {options}')
  print('| layer | impl | forward | kernel grad | input grad | fwd + both grads |')
  print('|---|---|---:|---:|---:|---:|')
  for name, implementations in _LAYERS:
    if only and only not in name:
      continue
    for implementation, module, shape in implementations:
      x = jax.random.normal(jax.random.key(2), (batch, *shape))
      timings = _time_layer(module, x, repeats, jit)
      print(
        f'| {name} | {implementation} | ' + ' | '.join(f'{t:.1f}' for t in timings) + ' |',
        flush=True,
      )
    if with_torch:
      timings = _time_torch_layer(name, batch, repeats)
      print(f'| {name} | torch | ' + ' | '.join(f'{t:.1f}' for t in timings) + ' |', flush=True)


if __name__ == '__main__':
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--batch', type=int, default=64)
  parser.add_argument('--repeats', type=int, default=9)
  parser.add_argument('--only', default=None, help='time only layers whose name contains this')
  parser.add_argument(
    '--xla_defaults', action='store_true', help='compile without gan_jax.xla_options'
  )
  parser.add_argument('--torch', action='store_true', help="time PyTorch's layers too")
  args = parser.parse_args()
  main(args.batch, args.repeats, args.only, args.xla_defaults, args.torch)
