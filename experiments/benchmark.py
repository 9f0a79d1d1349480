r"""Times the train step of a config: python -m experiments.benchmark --config=configs/gan_mnist.py.

Prints compile time, step time (median and spread), images/s, FLOPs per step
(XLA's cost analysis), achieved FLOP/s and its fraction of a float32 matmul
timed in the same run, and peak memory; then the throughput of the FID
Inception-v3 (images/s at --inception_batch_size, on random weights: the speed
does not depend on them; 0 skips it). Writes the figures to --output as JSON.
Config fields override as in training, e.g. --config.train.batch_size=128.
"""

import dataclasses
import json
import os

from absl import flags
from ml_collections import config_flags

from experiments import app
from gan_jax.metrics import inception
from gan_jax.studies import benchmarking

_CONFIG = config_flags.DEFINE_config_file(
  'config', None, 'Experiment config file.', lock_config=True
)
_OUTPUT = flags.DEFINE_string('output', 'benchmark.json', 'Where to write the figures as JSON.')
_WARMUP_STEPS = flags.DEFINE_integer('warmup_steps', 3, 'Untimed steps after compilation.')
_TIMED_STEPS = flags.DEFINE_integer('timed_steps', 10, 'Timed steps.')
_INCEPTION_BATCH_SIZE = flags.DEFINE_integer(
  'inception_batch_size', 32, 'Batch of the Inception throughput figure; 0 skips it.'
)
flags.mark_flags_as_required(['config'])


def main(argv):
  del argv
  config_path = flags.FLAGS['config'].config_filename
  result = benchmarking.benchmark_train_step(
    _CONFIG.value,
    config_name=os.path.basename(config_path),
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
  with open(_OUTPUT.value, 'w', encoding='utf-8') as f:
    json.dump(figures, f, indent=2)


if __name__ == '__main__':
  app.run(main)
