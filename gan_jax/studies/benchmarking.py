"""Timing the real train step of a config against the machine's matmul peak.

The step timed is the one training runs (`step.train_step`, data parallel over the
devices, state donated), on a batch of the data set's shape; the input
pipeline is left out so that the figures are the step's own. FLOPs come from
XLA's cost analysis of the compiled step, and the achieved FLOP/s is set
against a large float32 matmul timed in the same process: the practical peak
of this machine, measured under the same load.
"""

import dataclasses
import os
import statistics
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan_jax import assembly
from gan_jax import distributed
from gan_jax import input_pipeline
from gan_jax import train


@dataclasses.dataclass
class StepBenchmark:
  """Figures of one benchmark run; times in seconds.

  Attributes:
    config_name: what was timed.
    device: kind and count of the devices.
    global_batch_size: images per D update, over all devices.
    discriminator_steps: D updates per step.
    compile_seconds: lowering plus compilation of the step.
    step_seconds_median, step_seconds_p10, step_seconds_p90: over the timed
      steps, after warm-up.
    images_per_second: real images consumed per second at the median step,
      discriminator_steps * global_batch_size / step time.
    flops_per_step: XLA's count for one step, all devices.
    achieved_flops_per_second: flops_per_step / median step time.
    matmul_flops_per_second: float32 matmul throughput in the same run.
    fraction_of_matmul_peak: achieved / matmul.
    peak_rss_bytes: the process's peak resident memory (host memory; on CPU
      that is the device memory too).
    device_bytes_in_use: accelerator memory in use after the timed steps, or
      None where the backend does not report it (CPU).
  """

  config_name: str
  device: str
  global_batch_size: int
  discriminator_steps: int
  compile_seconds: float
  step_seconds_median: float
  step_seconds_p10: float
  step_seconds_p90: float
  images_per_second: float
  flops_per_step: float
  achieved_flops_per_second: float
  matmul_flops_per_second: float
  fraction_of_matmul_peak: float
  peak_rss_bytes: int
  device_bytes_in_use: int | None


def matmul_flops_per_second(size: int = 2048, repeats: int = 10) -> float:
  """Best float32 [size, size] @ [size, size] throughput on device 0, FLOP/s."""
  key = jax.random.PRNGKey(0)
  a = jax.random.normal(key, (size, size), jnp.float32)
  b = jax.random.normal(jax.random.fold_in(key, 1), (size, size), jnp.float32)
  matmul = jax.jit(jnp.matmul)
  matmul(a, b).block_until_ready()
  best = float('inf')
  for _ in range(repeats):
    start = time.perf_counter()
    matmul(a, b).block_until_ready()
    best = min(best, time.perf_counter() - start)
  return 2 * size**3 / best


def _peak_rss_bytes() -> int:
  with open(f'/proc/{os.getpid()}/status', encoding='ascii') as f:
    for line in f:
      if line.startswith('VmHWM:'):
        return int(line.split()[1]) * 1024
  return 0


def _device_bytes_in_use() -> int | None:
  stats = jax.local_devices()[0].memory_stats()
  return None if not stats else int(stats.get('bytes_in_use', 0))


def _placed_batch(config: ml_collections.ConfigDict, info) -> tuple:
  """A random batch of the data set's shape, placed on the devices as training places its batches.

  Images in [-1, 1], and class labels if `config` is conditional; one
  per-process batch for each of the step's D updates.
  """
  input_pipeline.check_batch_size(config.train.batch_size)
  per_process = config.train.batch_size // jax.process_count()
  rng = np.random.default_rng(0)
  batch_shape = (config.train.discriminator_steps, per_process)
  batch = (rng.uniform(-1, 1, (*batch_shape, *info.image_shape)).astype(np.float32),)
  if assembly.is_conditional(config):
    batch += (rng.integers(0, info.num_classes, batch_shape, dtype=np.int32),)
  return distributed.global_batch(batch, distributed.data_mesh())


def _compile_step(gan, state, batch) -> tuple:
  """Compiles the train step for `state` and `batch`.

  Returns:
    the compiled step, the seconds that lowering and compiling took, and
    XLA's FLOP count of one step over all local devices.
  """
  start = time.perf_counter()
  compiled = train.compile_train_step(gan, state, batch)
  compile_seconds = time.perf_counter() - start
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  # The cost analysis is of one device's program.
  flops_per_step = float(cost.get('flops', 0.0)) * jax.device_count()
  return compiled, compile_seconds, flops_per_step


def _time_steps(compiled, state, batch, warmup_steps: int, timed_steps: int) -> tuple:
  """Runs the compiled step `warmup_steps` times untimed, then `timed_steps` times timed.

  Returns:
    the last step's state and metrics, and the seconds of each timed step.
  """
  for _ in range(warmup_steps):
    state, metrics = compiled(state, *batch)
  jax.block_until_ready(metrics)
  times = []
  for _ in range(timed_steps):
    begin = time.perf_counter()
    state, metrics = compiled(state, *batch)
    jax.block_until_ready(metrics)
    times.append(time.perf_counter() - begin)
  return state, metrics, times


def benchmark_train_step(
  config: ml_collections.ConfigDict,
  *,
  config_name: str,
  warmup_steps: int = 3,
  timed_steps: int = 10,
) -> StepBenchmark:
  """Compiles and times the train step of `config` on all local devices."""
  _, info = input_pipeline.get_source(config.data)
  gan = assembly.build(config, info.image_shape, info.num_classes)
  state = assembly.initial_state(config, gan, info.image_shape)
  state = distributed.replicate(state, distributed.data_mesh())
  batch = _placed_batch(config, info)
  compiled, compile_seconds, flops_per_step = _compile_step(gan, state, batch)
  # The last step's outputs stay referenced, so that the device memory measured below counts them.
  state, _metrics, times = _time_steps(compiled, state, batch, warmup_steps, timed_steps)

  median = statistics.median(times)
  deciles = np.percentile(times, [10, 90])
  matmul = matmul_flops_per_second()
  achieved = flops_per_step / median
  device = jax.local_devices()[0]
  return StepBenchmark(
    config_name=config_name,
    device=f'{jax.local_device_count()} x {device.device_kind} ({device.platform})',
    global_batch_size=config.train.batch_size,
    discriminator_steps=config.train.discriminator_steps,
    compile_seconds=compile_seconds,
    step_seconds_median=median,
    step_seconds_p10=float(deciles[0]),
    step_seconds_p90=float(deciles[1]),
    images_per_second=config.train.discriminator_steps * config.train.batch_size / median,
    flops_per_step=flops_per_step,
    achieved_flops_per_second=achieved,
    matmul_flops_per_second=matmul,
    fraction_of_matmul_peak=achieved / matmul,
    peak_rss_bytes=_peak_rss_bytes(),
    device_bytes_in_use=_device_bytes_in_use(),
  )


def format_table(result: StepBenchmark) -> str:
  """The figures as an aligned two-column table."""
  gib = 2.0**30
  rows = [
    ('config', result.config_name),
    ('device', result.device),
    ('global batch x D steps', f'{result.global_batch_size} x {result.discriminator_steps}'),
    ('compile', f'{result.compile_seconds:.2f} s'),
    (
      'step time (median, p10-p90)',
      f'{result.step_seconds_median * 1e3:.1f} ms ({result.step_seconds_p10 * 1e3:.1f}-'
      f'{result.step_seconds_p90 * 1e3:.1f})',
    ),
    ('steps/s', f'{1.0 / result.step_seconds_median:.2f}'),
    ('images/s', f'{result.images_per_second:.1f}'),
    ('FLOPs per step', f'{result.flops_per_step / 1e9:.2f} GFLOP'),
    ('achieved', f'{result.achieved_flops_per_second / 1e9:.1f} GFLOP/s'),
    ('f32 matmul peak (same run)', f'{result.matmul_flops_per_second / 1e9:.1f} GFLOP/s'),
    ('fraction of matmul peak', f'{result.fraction_of_matmul_peak:.1%}'),
    ('peak host memory (RSS)', f'{result.peak_rss_bytes / gib:.2f} GiB'),
  ]
  if result.device_bytes_in_use is not None:
    rows.append(('device memory in use', f'{result.device_bytes_in_use / gib:.2f} GiB'))
  width = max(len(name) for name, _ in rows)
  return '\n'.join(f'{name:<{width}}  {value}' for name, value in rows)
