r"""Times train steps: one config, one config against PyTorch, every architecture, or the input pipeline.

  # One config: compile time, step time (median, p10-p90), images/s, FLOPs per
  # step (XLA's cost analysis), its fraction of a float32 matmul timed in the
  # same run, peak memory; then the FID Inception-v3's images/s
  # (--inception_batch_size=0 skips it).
  python -m experiments.benchmark --config=configs/dcgan_faces.py
  # The same step and its PyTorch equivalent (pip install -e '.[bench]'),
  # alternating, --rounds rounds of --timed_steps steps each:
  python -m experiments.benchmark --config=configs/dcgan_faces.py --compare=torch
  # Every architecture in one markdown table, each config in its own process:
  python -m experiments.benchmark --all --warmup_steps=1 --timed_steps=3
  python -m experiments.benchmark --configs=gan_mnist,dcgan_faces --timed_steps=3
  # The input pipeline alone against the step of --config:
  python -m experiments.benchmark --config=configs/dcgan_faces.py --pipeline

Writes the figures to --output as JSON. Config fields override as in
training, e.g. --config.train.batch_size=128.
"""

import dataclasses
import json
import os
import tempfile

from absl import flags
from ml_collections import config_flags

from configs import biggan_cifar10
from configs import dcgan_cifar10
from configs import dcgan_faces
from configs import dcgan_mnist
from configs import gan_mnist
from configs import sagan_cifar10
from configs import sngan_cifar10
from configs import stylegan2_cifar10
from experiments import app
from gan_jax import errors
from gan_jax import input_pipeline
from gan_jax.metrics import inception
from gan_jax.studies import benchmarking
from gan_jax.studies import pipeline_throughput
from gan_jax.studies import torch_comparison

# CIFAR-10 is not on every machine: the bundled digits padded to 32x32 stand in
# for it (one input channel instead of three), as in the README's Performance section.
_MNIST_AT_32 = dict(name='bundled_mnist', image_size=32, crop_size=32)

# The table of --all: every architecture the library has, name -> (config, data overrides).
# A test checks that every family with a config in configs/ is here.
TABLE = {
  'gan_mnist': (gan_mnist.get_config, {}),
  'dcgan_mnist': (dcgan_mnist.get_config, {}),
  'dcgan_cifar10': (dcgan_cifar10.get_config, _MNIST_AT_32),
  'dcgan_faces': (dcgan_faces.get_config, {}),
  'sngan_cifar10': (sngan_cifar10.get_config, _MNIST_AT_32),
  'sagan_cifar10': (sagan_cifar10.get_config, _MNIST_AT_32),
  'biggan_cifar10': (biggan_cifar10.get_config, _MNIST_AT_32),
  'stylegan2_cifar10': (stylegan2_cifar10.get_config, _MNIST_AT_32),
}

_CONFIG = config_flags.DEFINE_config_file(
  'config', None, 'Experiment config file.', lock_config=True
)
_ALL = flags.DEFINE_bool('all', False, f'Time every config of the table: {", ".join(TABLE)}.')
_CONFIGS = flags.DEFINE_list('configs', [], 'Time these configs of the table (names, as --all).')
_COMPARE = flags.DEFINE_enum(
  'compare', None, ['torch'], "Time --config's step beside its PyTorch equivalent."
)
_ROUNDS = flags.DEFINE_integer('rounds', 5, 'Alternating rounds of --compare.', lower_bound=1)
_PIPELINE = flags.DEFINE_bool(
  'pipeline', False, "Time the input pipeline alone against --config's step."
)
_ACCELERATOR_FACTOR = flags.DEFINE_float(
  'accelerator_factor',
  20.0,
  "With --pipeline: an accelerator's step is taken to consume this many times the CPU step's "
  'images/s (a stated assumption, not a measurement).',
)
_OUTPUT = flags.DEFINE_string('output', 'benchmark.json', 'Where to write the figures as JSON.')
_WARMUP_STEPS = flags.DEFINE_integer('warmup_steps', 3, 'Untimed steps after compilation.')
_TIMED_STEPS = flags.DEFINE_integer('timed_steps', 10, 'Timed steps (per round with --compare).')
_INCEPTION_BATCH_SIZE = flags.DEFINE_integer(
  'inception_batch_size', 32, 'Batch of the Inception throughput figure; 0 skips it.'
)


def table_configs(names: list[str]) -> dict:
  """name (with its stand-in data, if any) -> config, for names of `TABLE`."""
  configs = {}
  for name in names:
    if name not in TABLE:
      raise errors.unknown_name_error('--configs', name, TABLE)
    get_config, data = TABLE[name]
    config = get_config()
    config.data.update(data)
    stand_in = f' ({data["name"]} at {data["image_size"]}x{data["image_size"]})' if data else ''
    configs[name + stand_in] = config
  return configs


def _check_modes() -> None:
  table = _ALL.value or bool(_CONFIGS.value)
  if table == (_CONFIG.value is not None):
    raise errors.ConfigError(
      'Pass either --config=FILE (with --compare=torch or --pipeline, or neither) or --all / '
      '--configs=NAME,...; e.g. --config=configs/dcgan_faces.py.'
    )
  if table and (_COMPARE.value or _PIPELINE.value):
    raise errors.ConfigError(
      '--compare and --pipeline time the step of one --config, not a table; drop --all/--configs.'
    )
  if _COMPARE.value and _PIPELINE.value:
    raise errors.ConfigError('--compare and --pipeline are separate runs; pass one of them.')


def _single(config, config_name: str) -> dict:
  result = benchmarking.benchmark_train_step(
    config,
    config_name=config_name,
    warmup_steps=_WARMUP_STEPS.value,
    timed_steps=_TIMED_STEPS.value,
  )
  print(benchmarking.format_table(result))
  figures = dataclasses.asdict(result)
  if _INCEPTION_BATCH_SIZE.value:
    throughput = inception.inception_throughput(batch_size=_INCEPTION_BATCH_SIZE.value)
    print(
      f'FID Inception-v3 at batch {throughput.batch_size}: {throughput.images_per_second:.1f} '
      f'images/s ({throughput.batch_seconds_median:.2f} s per batch, compile '
      f'{throughput.compile_seconds:.1f} s)'
    )
    figures['inception'] = throughput._asdict()
  return figures


def _pipeline(config, config_name: str) -> dict:
  step = benchmarking.benchmark_train_step(
    config,
    config_name=config_name,
    warmup_steps=_WARMUP_STEPS.value,
    timed_steps=_TIMED_STEPS.value,
  )
  image_size = input_pipeline.get_source(config.data)[1].image_shape[0]
  with tempfile.TemporaryDirectory() as workdir:
    results = pipeline_throughput.measure_pipelines(
      workdir, image_size=image_size, batch_size=config.train.batch_size
    )
  print(
    f'{benchmarking.machine_description()}; the step of {config_name} at {image_size}x{image_size}:'
  )
  print(
    pipeline_throughput.format_pipelines(results, step.images_per_second, _ACCELERATOR_FACTOR.value)
  )
  return dict(step=dataclasses.asdict(step), pipelines=[dataclasses.asdict(r) for r in results])


def main(argv):
  del argv
  _check_modes()
  if _CONFIG.value is None:
    names = list(TABLE) if _ALL.value else _CONFIGS.value
    results = benchmarking.benchmark_configs(
      table_configs(names), warmup_steps=_WARMUP_STEPS.value, timed_steps=_TIMED_STEPS.value
    )
    print(benchmarking.machine_description())
    print(benchmarking.format_markdown(results))
    figures = dict(
      machine=benchmarking.machine_description(), configs=[dataclasses.asdict(r) for r in results]
    )
  else:
    config_name = os.path.basename(flags.FLAGS['config'].config_filename)
    if _COMPARE.value == 'torch':
      comparison = torch_comparison.compare_with_torch(
        _CONFIG.value,
        config_name=config_name,
        warmup_steps=_WARMUP_STEPS.value,
        timed_steps=_TIMED_STEPS.value,
        rounds=_ROUNDS.value,
      )
      print(torch_comparison.format_comparison(comparison))
      figures = dataclasses.asdict(comparison)
    elif _PIPELINE.value:
      figures = _pipeline(_CONFIG.value, config_name)
    else:
      figures = _single(_CONFIG.value, config_name)
  with open(_OUTPUT.value, 'w', encoding='utf-8') as f:
    json.dump(figures, f, indent=2)


if __name__ == '__main__':
  app.run(main)
