"""Timing the real train step of a config against the machine's matmul peak.

The step timed is the one training runs (`step.train_step`, data parallel over the
devices, state donated), on a batch of the data set's shape; the input
pipeline is left out so that the figures are the step's own. FLOPs come from
XLA's cost analysis of the compiled step, and the achieved FLOP/s is set
against a large float32 matmul timed in the same process: the practical peak
of this machine, measured under the same load.

A step with lazy regularizers (StyleGAN2's R1 every 16 D updates, its path
length every 4 steps) is timed over whole cycles of its regularization
schedule, and its figures are also given for each kind of step
(`lazy_benchmarking`).

`compare_steps` times two steps of the same model side by side (ours and
PyTorch's, `torch_comparison`); `benchmark_configs` times several configs,
each in a fresh process of its own, so that each peak memory figure (the
process's peak RSS) is that config's alone.
"""

import concurrent.futures
import dataclasses
import multiprocessing
import os
import platform
import statistics
import time
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan_jax import assembly
from gan_jax import compiled_step
from gan_jax import distributed
from gan_jax import input_pipeline
from gan_jax.studies import lazy_benchmarking

# Runs n train steps and returns the seconds of each.
StepRunner = Callable[[int], list[float]]


@dataclasses.dataclass
class StepBenchmark:
  """Figures of one benchmark run; times in seconds.

  Attributes:
    config_name: what was timed.
    device: kind and count of the devices.
    global_batch_size: images per D update, over all devices.
    discriminator_steps: D updates per step.
    compile_seconds: lowering plus compilation of the step (on CPU with lazy
      regularizers, of its variants, `compiled_step`).
    step_seconds_median, step_seconds_p10, step_seconds_p90: over the timed
      steps, after warm-up.
    images_per_second: real images consumed per second at the median step,
      discriminator_steps * global_batch_size / step time.
    flops_per_step: XLA's count for one step, all devices; with lazy
      regularizers, the mean over a cycle of their schedule.
    achieved_flops_per_second: flops_per_step / median step time; with lazy
      regularizers, / mean step time over the cycles timed.
    matmul_flops_per_second: float32 matmul throughput in the same run.
    fraction_of_matmul_peak: achieved / matmul.
    peak_rss_bytes: the process's peak resident memory (host memory; on CPU
      that is the device memory too).
    device_bytes_in_use: accelerator memory in use after the timed steps, or
      None where the backend does not report it (CPU).
    cycle_steps: the steps of one cycle of the lazy regularizers' schedule
      (`lazy_benchmarking.cycle_steps`); the timed steps are whole cycles. 1
      without lazy regularizers.
    step_kinds: with lazy regularizers, the figures of each kind of step
      (`lazy_benchmarking.StepKind`); else empty.
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
  cycle_steps: int = 1
  step_kinds: list[lazy_benchmarking.StepKind] = dataclasses.field(default_factory=list)


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


def machine_description() -> str:
  """The CPU model (from /proc/cpuinfo), the cores this process may use, Python and JAX.

  E.g. 'AMD EPYC, 2 cores; Python 3.11.7, jax 0.10.2 on 1 x cpu (cpu)'.
  """
  cpu = platform.processor() or platform.machine()
  if os.path.exists('/proc/cpuinfo'):
    with open('/proc/cpuinfo', encoding='utf-8') as f:
      models = [line.split(':', 1)[1].strip() for line in f if line.startswith('model name')]
    cpu = models[0] if models else cpu
  device = jax.local_devices()[0]
  return (
    f'{cpu}, {len(os.sched_getaffinity(0))} cores; Python {platform.python_version()}, jax '
    f'{jax.__version__} on {jax.local_device_count()} x {device.device_kind} ({device.platform})'
  )


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


class CompiledStep(NamedTuple):
  """The compiled train step of a config, ready to time.

  Attributes:
    run: run(n) runs n steps on a fixed random batch, the state carried over
      from call to call, and returns the seconds of each.
    compile_seconds: lowering plus compilation.
    flops_per_step: XLA's count of one step over all local devices.
    image_shape: (height, width, channels) of the data set's images.
  """

  run: StepRunner
  compile_seconds: float
  flops_per_step: float
  image_shape: tuple[int, int, int]


def compile_step(config: ml_collections.ConfigDict) -> CompiledStep:
  """Builds, places and compiles the train step of `config` on all local devices."""
  _, info = input_pipeline.get_source(config.data)
  gan = assembly.build(config, info.image_shape, info.num_classes)
  state = assembly.initial_state(config, gan, info.image_shape)
  state = distributed.replicate(state, distributed.data_mesh())
  batch = _placed_batch(config, info)
  start = time.perf_counter()
  compiled = compiled_step.step_function(gan, state, batch)
  compile_seconds = time.perf_counter() - start
  # XLA counts a lax.cond as its costlier branch, so the count of the step as
  # one program is that of a step making every lazy update; on CPU a lazy
  # step's variants are compiled separately (`compiled_step`).
  one_program = isinstance(compiled, jax.stages.Compiled)
  cost = (
    compiled if one_program else compiled_step.compile_train_step(gan, state, batch)
  ).cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  # The cost analysis is of one device's program.
  flops_per_step = float(cost.get('flops', 0.0)) * jax.device_count()
  # The last step's outputs stay referenced, so that device memory measured after a run counts them.
  carried = {'state': state}

  def run(num_steps: int) -> list[float]:
    seconds = []
    for _ in range(num_steps):
      start = time.perf_counter()
      carried['state'], metrics = compiled(carried['state'], *batch)
      jax.block_until_ready(metrics)
      seconds.append(time.perf_counter() - start)
    return seconds

  return CompiledStep(run, compile_seconds, flops_per_step, info.image_shape)


def benchmark_train_step(
  config: ml_collections.ConfigDict,
  *,
  config_name: str,
  warmup_steps: int = 3,
  timed_steps: int = 10,
) -> StepBenchmark:
  """Compiles and times the train step of `config` on all local devices.

  With lazy regularizers, timed_steps is rounded up to whole cycles of their
  schedule, and the figures of each kind of step are added.
  """
  step = compile_step(config)
  step.run(warmup_steps)
  cycle = lazy_benchmarking.cycle_steps(config)
  times = step.run(-(-timed_steps // cycle) * cycle)
  median = statistics.median(times)
  deciles = np.percentile(times, [10, 90])
  matmul = matmul_flops_per_second()
  flops, achieved, kinds = step.flops_per_step, step.flops_per_step / median, []
  if lazy_benchmarking.regularizers(config):
    kinds = lazy_benchmarking.kind_figures(config, warmup_steps, times, step.flops_per_step, matmul)
    flops = sum(kind.flops * kind.num_timed for kind in kinds) / len(times)
    achieved = flops / statistics.mean(times)
  device = jax.local_devices()[0]
  return StepBenchmark(
    config_name=config_name,
    device=f'{jax.local_device_count()} x {device.device_kind} ({device.platform})',
    global_batch_size=config.train.batch_size,
    discriminator_steps=config.train.discriminator_steps,
    compile_seconds=step.compile_seconds,
    step_seconds_median=median,
    step_seconds_p10=float(deciles[0]),
    step_seconds_p90=float(deciles[1]),
    images_per_second=config.train.discriminator_steps * config.train.batch_size / median,
    flops_per_step=flops,
    achieved_flops_per_second=achieved,
    matmul_flops_per_second=matmul,
    fraction_of_matmul_peak=achieved / matmul,
    peak_rss_bytes=_peak_rss_bytes(),
    device_bytes_in_use=_device_bytes_in_use(),
    cycle_steps=cycle,
    step_kinds=kinds,
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
  return _two_columns(rows + _kind_rows(result))


def _kind_rows(result: StepBenchmark) -> list[tuple[str, str]]:
  """A row per kind of step, and the cycle's mean, for a step with lazy regularizers."""
  if not result.step_kinds:
    return []
  rows = [
    (
      f'steps with {lazy_benchmarking.describe(kind)}',
      f'{format_duration(kind.seconds_median)} median of {kind.num_timed}, '
      f'{_si(kind.flops, "FLOP")}, {kind.fraction_of_matmul_peak:.1%} of matmul peak',
    )
    for kind in result.step_kinds
  ]
  mean_seconds = result.flops_per_step / result.achieved_flops_per_second
  rows.append(
    (
      f'mean over the {result.cycle_steps}-step cycle',
      f'{format_duration(mean_seconds)}, {_si(result.flops_per_step, "FLOP")}, '
      f'{result.fraction_of_matmul_peak:.1%} of matmul peak',
    )
  )
  return rows


def _two_columns(rows: Sequence[tuple[str, str]]) -> str:
  width = max(len(name) for name, _ in rows)
  return '\n'.join(f'{name:<{width}}  {value}' for name, value in rows)


def _benchmark_in_fresh_process(
  config: ml_collections.ConfigDict, config_name: str, warmup_steps: int, timed_steps: int
) -> StepBenchmark:
  # 'spawn': a new interpreter, so JAX, the compiled programs and the peak RSS start from nothing.
  context = multiprocessing.get_context('spawn')
  with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
    return pool.submit(
      benchmark_train_step,
      config,
      config_name=config_name,
      warmup_steps=warmup_steps,
      timed_steps=timed_steps,
    ).result()


def benchmark_configs(
  configs: dict[str, ml_collections.ConfigDict], *, warmup_steps: int = 1, timed_steps: int = 3
) -> list[StepBenchmark]:
  """`benchmark_train_step` of each config, one after the other, each in a process of its own.

  Args:
    configs: name -> config, in the order of the table.
    warmup_steps, timed_steps: of each config.

  Returns:
    The figures of each config, in order; the peak RSS is the config's own
    process's (the JAX runtime's few hundred MiB included).
  """
  return [
    _benchmark_in_fresh_process(config, name, warmup_steps, timed_steps)
    for name, config in configs.items()
  ]


def format_duration(seconds: float) -> str:
  """'1.23 s' from 1 s up, '456 ms' or '3.8 ms' below."""
  return f'{seconds:.2f} s' if seconds >= 1 else f'{seconds * 1e3:.3g} ms'


def _si(value: float, unit: str) -> str:
  """value with 3 significant figures and a k/M/G prefix: 1.23 G{unit}."""
  for factor, prefix in ((1e12, 'T'), (1e9, 'G'), (1e6, 'M'), (1e3, 'k')):
    if abs(value) >= factor:
      return f'{value / factor:.3g} {prefix}{unit}'
  return f'{value:.3g} {unit}'


def format_markdown(results: Sequence[StepBenchmark]) -> str:
  """A markdown table of several configs' figures, one row each.

  Step times are the median (p10-p90) of the timed steps; a config with lazy
  regularizers gets a line under the table with each kind of step and the
  mean over a cycle, whose FLOPs its row shows. The peak memory is
  each config's own process's peak RSS (host memory, which on CPU holds the
  device buffers too), and the device memory in use where the backend reports it.
  """
  gib = 2.0**30
  header = (
    '| config | batch x D steps | compile | step (median, p10-p90) | images/s | FLOPs/step '
    '| achieved | of f32 matmul peak | peak RSS | device memory |'
  )
  lines = [header, '|' + '---|' * header.count(' | ') + '---|']
  for result in results:
    device_memory = (
      '-' if result.device_bytes_in_use is None else f'{result.device_bytes_in_use / gib:.2f} GiB'
    )
    cells = [
      f'`{result.config_name}`',
      f'{result.global_batch_size} x {result.discriminator_steps}',
      f'{result.compile_seconds:.1f} s',
      f'{format_duration(result.step_seconds_median)} ({format_duration(result.step_seconds_p10)}-'
      f'{format_duration(result.step_seconds_p90)})',
      f'{result.images_per_second:,.0f}'
      if result.images_per_second >= 100
      else f'{result.images_per_second:.3g}',
      _si(result.flops_per_step, 'FLOP'),
      _si(result.achieved_flops_per_second, 'FLOP/s'),
      f'{result.fraction_of_matmul_peak:.1%} (of {_si(result.matmul_flops_per_second, "FLOP/s")})',
      f'{result.peak_rss_bytes / gib:.2f} GiB',
      device_memory,
    ]
    lines.append('| ' + ' | '.join(cells) + ' |')
  for result in results:
    if result.step_kinds:
      kinds = '; '.join(f'{name}: {value}' for name, value in _kind_rows(result))
      lines.append(f'\n`{result.config_name}`, lazily regularized: {kinds}.')
  return '\n'.join(lines)
