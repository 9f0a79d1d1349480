r"""Reproduces a published table: python -m experiments.reproduce --table=NAME.

  --table=parzen_mnist        Goodfellow et al. 2014, Table 1 (Parzen-window log-likelihood)
  --table=mmd_1nn_mnist       Aakash's GAN-variants slides (MMD and 1-NN accuracy of GAN and WGAN)
  --table=dcgan_faces_epochs  Aakash's GAN-variants slides (DCGAN faces across epochs)
  --table=architectures_mnist MLP GAN, DCGAN, SNGAN and BigGAN on MNIST, --budget_minutes each
  --table=limited_data_mnist  DCGAN on 100, 500 and 4,000 digits: no augmentation, DiffAugment,
                              ADA (200 steps each unless --num_steps=dcgan_mnist=N)
  --table=architectures_faces DCGAN and StyleGAN2 (CPU width) on the 100 bundled faces,
                              --budget_minutes each

Trains what the table needs under --workdir (reusing runs already there),
evaluates, and writes results/NAME.md with the published numbers, the protocol
and figures. The MNIST tables run on the bundled 5,000 digits; on a machine
with internet, --data=mnist runs them on full MNIST. For example

  python -m experiments.reproduce --table=mmd_1nn_mnist --seeds=3 --num_steps=wgan_mnist=10000
  python -m experiments.reproduce --table=architectures_mnist --seeds=1 --budget_minutes=10
"""

import ml_collections
from absl import flags

from configs import biggan_cifar10
from configs import dcgan_faces
from configs import dcgan_mnist
from configs import gan_mnist
from configs import sngan_cifar10
from configs import stylegan2_faces
from configs import wgan_mnist
from experiments import app
from gan_jax import config_sections
from gan_jax import errors
from gan_jax.studies import reproduction
from gan_jax.studies.reproduction import architectures_faces
from gan_jax.studies.reproduction import architectures_mnist
from gan_jax.studies.reproduction import budgets
from gan_jax.studies.reproduction import runs


def _dcgan_mnist(variant: str = '') -> ml_collections.ConfigDict:
  """configs/dcgan_mnist.py; its get_config has no variant, so 'tiny' is dcgan_faces:tiny on
  the digits, as dcgan_mnist is dcgan_faces on the digits."""
  if not variant:
    return dcgan_mnist.get_config()
  config = dcgan_faces.get_config(variant)
  config.data = config_sections.data_config(name='bundled_mnist')
  return config


CONFIGS = {
  'biggan_cifar10': biggan_cifar10.get_config,
  'dcgan_faces': dcgan_faces.get_config,
  'dcgan_mnist': _dcgan_mnist,
  'gan_mnist': gan_mnist.get_config,
  'sngan_cifar10': sngan_cifar10.get_config,
  'stylegan2_faces': stylegan2_faces.get_config,
  'wgan_mnist': wgan_mnist.get_config,
}

_TABLE = flags.DEFINE_string('table', None, f'One of: {", ".join(reproduction.TABLES)}.')
_DATA = flags.DEFINE_string(
  'data', None, "Data set; default the table's: bundled_mnist (or mnist), bundled_faces."
)
_SEEDS = flags.DEFINE_integer('seeds', 3, 'Training runs per config, with seeds 0, ..., N-1.')
_WORKDIR = flags.DEFINE_string(
  'workdir', 'runs/reproduce', 'Root of the training runs; runs already there are reused.'
)
_RESULTS_DIR = flags.DEFINE_string('results_dir', 'results', 'Where the table and figures go.')
_NUM_STEPS = flags.DEFINE_list(
  'num_steps', [], "Training steps per config, e.g. 'wgan_mnist=10000'; default the config's."
)
_TINY = flags.DEFINE_bool('tiny', False, 'Tiny configs and sample counts, for tests.')
# The tables trained to a budget of train-step time per model.
_BUDGET_TABLES = (architectures_mnist.NAME, architectures_faces.NAME)
_BUDGET_MINUTES = flags.DEFINE_float(
  'budget_minutes',
  budgets.DEFAULT_BUDGET_MINUTES,
  f'--table={" or ".join(_BUDGET_TABLES)} only: minutes of train-step time per model, turned into '
  'steps by timing each config on this machine.',
)
flags.mark_flags_as_required(['table'])


def main(argv):
  del argv
  table = reproduction.get_table(_TABLE.value)
  if _SEEDS.value < 1:
    raise errors.ConfigError(f'--seeds must be >= 1; got {_SEEDS.value}.')
  fields = dict(
    data=_DATA.value or table.default_data,
    seeds=tuple(range(_SEEDS.value)),
    workdir_root=_WORKDIR.value,
    results_dir=_RESULTS_DIR.value,
    num_steps=runs.parse_num_steps(_NUM_STEPS.value, valid_names=CONFIGS),
    tiny=_TINY.value,
  )
  if _TABLE.value in _BUDGET_TABLES:
    if _BUDGET_MINUTES.value <= 0:
      raise errors.ConfigError(f'--budget_minutes must be > 0; got {_BUDGET_MINUTES.value}.')
    options = budgets.BudgetOptions(**fields, budget_minutes=_BUDGET_MINUTES.value)
  elif flags.FLAGS['budget_minutes'].present:
    raise errors.ConfigError(
      f'--budget_minutes applies to --table={" or ".join(_BUDGET_TABLES)} only; drop it.'
    )
  else:
    options = runs.Options(**fields)
  variant = 'tiny' if _TINY.value else ''
  configs = {name: CONFIGS[name](variant) for name in table.config_names}
  print(f'Wrote {table.reproduce(configs, options)}')


if __name__ == '__main__':
  app.run(main)
