"""Our DCGAN train step against the same step in PyTorch, timed side by side.

`gan_jax.models.dcgan` at a config's image size, channels and widths, built
from PyTorch's own layers as in the PyTorch reference (pytorch/examples
`dcgan`, after Radford et al. 2015, section 3-4):
  G: z -> ConvTranspose2d(first map size, stride 1, no padding), then 4x4
     stride-2 ConvTranspose2d (padding 1) stages; BatchNorm2d and ReLU after
     every layer but the last, tanh output.
  D: 4x4 stride-2 Conv2d (padding 1) stages, BatchNorm2d after all but the
     first, LeakyReLU(0.2) after each, and a VALID conv to one logit.
No layer has a bias; the parameter count equals ours (`parameter_count`). The
initialization is PyTorch's default: the step's time does not depend on it.

The step (`make_step_runner`) is the one `gan_jax.step` runs for the DCGAN
configs: one D update on a real batch and G's fake batch (each normalized by
its own batch statistics), then one G update through D's fake batch reused
(`train.reuse_noise_for_generator=True`), the non-saturating loss (Goodfellow
et al. 2014, section 3), Adam for both players. D's parameters are frozen
during G's backward pass, so PyTorch computes the gradients ours does and no
others (the reference's loop also computes D's weight gradients there, and
discards them).

`compare_with_torch` times the two in the same process, alternating them
round by round (which goes first alternates too) so that both meet the same
load, and sets each against the float32 matmul peak of the same rounds, with
one FLOP count for both: XLA's count of our step.

PyTorch is an optional extra (`pip install -e '.[bench]'`): it is imported
inside the functions that need it, never at import time, and nothing in the
library requires it.
"""

import dataclasses
import math
import statistics
import time
from typing import Any, Callable, Sequence

import ml_collections
import numpy as np

from gan_jax import errors
from gan_jax.studies import benchmarking

_INSTALL_HINT = (
  "pip install -e '.[bench]' (or the CPU wheel alone: pip install torch "
  '--index-url https://download.pytorch.org/whl/cpu)'
)

# Image size -> side of G's first feature map, as in `gan_jax.models.dcgan` (the tests
# check the two models equal at each size).
_FIRST_MAP_SIZES = {28: 7, 32: 4, 64: 4}


def import_torch() -> Any:
  """The torch module; ConfigError naming the install command if PyTorch is not installed."""
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise errors.ConfigError(
      f'--compare=torch needs PyTorch, which is not installed: {_INSTALL_HINT}.'
    ) from e
  return torch


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError unless the PyTorch step here is the step `config` trains.

  It mirrors the plain DCGAN configs only: an unconditional DCGAN with batch
  norm in both players, in float32, the non-saturating loss without label
  smoothing, no penalty, Adam for both, G's update reusing D's fake batch,
  one D update per step, no EMA of G.
  """
  expected = {
    'model.name': (config.model.name, 'dcgan'),
    'model.conditioning': (config.model.conditioning, 'none'),
    'model.generator_normalization': (config.model.generator_normalization, 'batch'),
    'model.discriminator_normalization': (config.model.discriminator_normalization, 'batch'),
    'model.dtype': (config.model.dtype, 'float32'),
    'loss.name': (config.loss.name, 'non_saturating'),
    'loss.real_label': (config.loss.real_label, 1.0),
    'penalty.name': (config.penalty.name, 'none'),
    'optimizer.generator.name': (config.optimizer.generator.name, 'adam'),
    'optimizer.discriminator.name': (config.optimizer.discriminator.name, 'adam'),
    'train.reuse_noise_for_generator': (config.train.reuse_noise_for_generator, True),
    'train.discriminator_steps': (config.train.discriminator_steps, 1),
    'train.generator_ema_decay': (config.train.generator_ema_decay, 0.0),
  }
  for field, (value, mirrored) in expected.items():
    if value != mirrored:
      raise errors.ConfigError(
        f'--compare=torch mirrors the DCGAN configs (configs/dcgan_*.py) only: {field}={value!r}, '
        f'the PyTorch step has {mirrored!r}; time this config without --compare.'
      )


def _stages(image_size: int) -> tuple[int, int]:
  """(first map size, number of stride-2 stages), as `gan_jax.models.dcgan._stages`."""
  if image_size not in _FIRST_MAP_SIZES:
    raise errors.ConfigError(
      f'DCGAN makes images of size {sorted(_FIRST_MAP_SIZES)}, not {image_size}; '
      'set --config.data.image_size to one of them.'
    )
  first_map_size = _FIRST_MAP_SIZES[image_size]
  return first_map_size, int(math.log2(image_size // first_map_size))


def build_models(
  image_shape: tuple[int, int, int], base_width: int, latent_dim: int
) -> tuple[Any, Any]:
  """PyTorch G and D of the DCGAN that `gan_jax.models.dcgan` makes for these sizes.

  Args:
    image_shape: (size, size, channels) of the images, size one of 28, 32, 64.
    base_width: channels of G's last hidden map and D's first.
    latent_dim: size of z.

  Returns:
    (generator, discriminator), `torch.nn.Sequential`s: G maps z [batch,
    latent_dim, 1, 1] to images [batch, channels, size, size] in [-1, 1], D
    maps images to logits [batch, 1, 1, 1].
  """
  torch = import_torch()
  nn = torch.nn
  size, _, channels = image_shape
  first_map_size, num_stages = _stages(size)
  widths = [base_width * 2**stage for stage in range(num_stages)]  # Full resolution first.

  generator_layers = [nn.ConvTranspose2d(latent_dim, widths[-1], first_map_size, bias=False)]
  for in_width, out_width in zip(widths[:0:-1], widths[-2::-1]):
    generator_layers += [
      nn.BatchNorm2d(in_width),
      nn.ReLU(),
      nn.ConvTranspose2d(in_width, out_width, 4, 2, 1, bias=False),
    ]
  generator_layers += [
    nn.BatchNorm2d(widths[0]),
    nn.ReLU(),
    nn.ConvTranspose2d(widths[0], channels, 4, 2, 1, bias=False),
    nn.Tanh(),
  ]

  discriminator_layers = []
  for stage, (in_width, out_width) in enumerate(zip([channels, *widths[:-1]], widths)):
    discriminator_layers.append(nn.Conv2d(in_width, out_width, 4, 2, 1, bias=False))
    if stage > 0:  # As ours and the paper: no normalization of D's input layer.
      discriminator_layers.append(nn.BatchNorm2d(out_width))
    discriminator_layers.append(nn.LeakyReLU(0.2))
  discriminator_layers.append(nn.Conv2d(widths[-1], 1, first_map_size, bias=False))
  return nn.Sequential(*generator_layers), nn.Sequential(*discriminator_layers)


def parameter_count(module: Any) -> int:
  """Trainable parameters of a torch module (batch norm's running statistics are buffers)."""
  return sum(parameter.numel() for parameter in module.parameters())


def _adam(parameters, config: ml_collections.ConfigDict) -> Any:
  torch = import_torch()
  return torch.optim.Adam(parameters, lr=config.learning_rate, betas=(config.b1, config.b2))


def make_step_runner(
  config: ml_collections.ConfigDict, image_shape: tuple[int, int, int]
) -> Callable[[int], list[float]]:
  """The PyTorch DCGAN step of `config` on a fixed random batch, ready to time.

  Args:
    config: a DCGAN config (`check_config`).
    image_shape: (size, size, channels) of the data set's images.

  Returns:
    run(num_steps) -> the seconds of each of `num_steps` train steps, each
    one D and one G Adam update on a batch of `config.train.batch_size`; the
    models and optimizer states carry over from call to call.
  """
  check_config(config)
  torch = import_torch()
  torch.manual_seed(config.seed)
  generator, discriminator = build_models(
    image_shape, config.model.base_width, config.model.latent_dim
  )
  generator_optimizer = _adam(generator.parameters(), config.optimizer.generator)
  discriminator_optimizer = _adam(discriminator.parameters(), config.optimizer.discriminator)
  batch_size, latent_dim = config.train.batch_size, config.model.latent_dim
  size, _, channels = image_shape
  real = torch.from_numpy(
    np.random.default_rng(config.seed).uniform(-1, 1, (batch_size, channels, size, size))
  ).float()
  softplus = torch.nn.functional.softplus

  def train_step() -> None:
    # D: -log D(x) - log(1 - D(G(z))) = softplus(-real logits) + softplus(fake logits).
    fake = generator(torch.randn(batch_size, latent_dim, 1, 1))
    discriminator_optimizer.zero_grad(set_to_none=True)
    real_logits = discriminator(real)
    fake_logits = discriminator(fake.detach())
    (softplus(-real_logits).mean() + softplus(fake_logits).mean()).backward()
    discriminator_optimizer.step()
    # G, non-saturating: -log D(G(z)) = softplus(-logits), through the same fake batch.
    generator_optimizer.zero_grad(set_to_none=True)
    discriminator.requires_grad_(False)
    softplus(-discriminator(fake)).mean().backward()
    discriminator.requires_grad_(True)
    generator_optimizer.step()

  def run(num_steps: int) -> list[float]:
    seconds = []
    for _ in range(num_steps):
      start = time.perf_counter()
      train_step()
      seconds.append(time.perf_counter() - start)
    return seconds

  return run


def describe() -> str:
  """PyTorch's version and intra-op threads, e.g. 'torch 2.13.0+cpu, 2 threads'."""
  torch = import_torch()
  return f'torch {torch.__version__}, {torch.get_num_threads()} threads'


@dataclasses.dataclass(frozen=True)
class Spread:
  """Median and range of a few figures (one per round: too few for deciles)."""

  median: float
  low: float
  high: float

  @classmethod
  def of(cls, values: Sequence[float]) -> 'Spread':
    return cls(float(statistics.median(values)), float(min(values)), float(max(values)))


@dataclasses.dataclass(frozen=True)
class RoundFigures:
  """What the rounds of a side-by-side timing show; times in seconds.

  Attributes:
    ours_step_seconds, torch_step_seconds: each round's median step.
    time_ratio: ours / torch, round by round (> 1: ours is slower).
    matmul_flops_per_second: the float32 matmul peak, measured in each round.
    ours_fraction_of_matmul_peak, torch_fraction_of_matmul_peak: FLOPs per
      step / step time / that round's matmul peak, round by round.
  """

  ours_step_seconds: Spread
  torch_step_seconds: Spread
  time_ratio: Spread
  matmul_flops_per_second: Spread
  ours_fraction_of_matmul_peak: Spread
  torch_fraction_of_matmul_peak: Spread


def summarize_rounds(
  ours_seconds: Sequence[float],
  torch_seconds: Sequence[float],
  matmul_flops_per_second: Sequence[float],
  flops_per_step: float,
) -> RoundFigures:
  """The spreads of the rounds' figures; each argument holds one number per round."""
  ours, theirs, peak = (
    np.asarray(x, np.float64) for x in (ours_seconds, torch_seconds, matmul_flops_per_second)
  )
  return RoundFigures(
    ours_step_seconds=Spread.of(ours),
    torch_step_seconds=Spread.of(theirs),
    time_ratio=Spread.of(ours / theirs),
    matmul_flops_per_second=Spread.of(peak),
    ours_fraction_of_matmul_peak=Spread.of(flops_per_step / ours / peak),
    torch_fraction_of_matmul_peak=Spread.of(flops_per_step / theirs / peak),
  )


@dataclasses.dataclass(frozen=True)
class Comparison:
  """A side-by-side timing of our step and PyTorch's.

  Attributes:
    config_name: what was timed.
    machine: CPU, cores, versions (`benchmarking.machine_description`, `describe`).
    global_batch_size: images per step (one D update).
    flops_per_step: XLA's count of our step, used for both.
    compile_seconds: of our step.
    rounds, timed_steps: rounds of `timed_steps` steps of each side.
    round_seconds: (ours, torch) median step of each round.
    figures: their spreads.
  """

  config_name: str
  machine: str
  global_batch_size: int
  flops_per_step: float
  compile_seconds: float
  rounds: int
  timed_steps: int
  round_seconds: list[tuple[float, float]]
  figures: RoundFigures


def compare_with_torch(
  config: ml_collections.ConfigDict,
  *,
  config_name: str,
  warmup_steps: int = 2,
  timed_steps: int = 5,
  rounds: int = 5,
) -> Comparison:
  """Times our train step of a DCGAN config and PyTorch's, alternating, in `rounds` rounds.

  Each round times `timed_steps` steps of one side, then of the other (ours
  first in even rounds, PyTorch first in odd ones), then the matmul peak.
  """
  check_config(config)
  import_torch()  # Before the compilation: a missing PyTorch fails at once.
  ours = benchmarking.compile_step(config)
  theirs = make_step_runner(config, ours.image_shape)
  ours.run(warmup_steps)
  theirs(warmup_steps)
  round_seconds, matmul = [], []
  for round_index in range(rounds):
    runners = [ours.run, theirs] if round_index % 2 == 0 else [theirs, ours.run]
    medians = {runner: statistics.median(runner(timed_steps)) for runner in runners}
    round_seconds.append((medians[ours.run], medians[theirs]))
    matmul.append(benchmarking.matmul_flops_per_second(repeats=5))
  ours_seconds, torch_seconds = zip(*round_seconds)
  return Comparison(
    config_name=config_name,
    machine=f'{benchmarking.machine_description()}; {describe()}',
    global_batch_size=config.train.batch_size,
    flops_per_step=ours.flops_per_step,
    compile_seconds=ours.compile_seconds,
    rounds=rounds,
    timed_steps=timed_steps,
    round_seconds=round_seconds,
    figures=summarize_rounds(ours_seconds, torch_seconds, matmul, ours.flops_per_step),
  )


def format_comparison(comparison: Comparison) -> str:
  """The comparison as an aligned two-column table: median (min-max) over the rounds."""
  figures = comparison.figures

  def seconds(spread: Spread) -> str:
    low, high = benchmarking.format_duration(spread.low), benchmarking.format_duration(spread.high)
    return f'{benchmarking.format_duration(spread.median)} ({low}-{high})'

  def percent(spread: Spread) -> str:
    return f'{spread.median:.1%} ({spread.low:.1%}-{spread.high:.1%})'

  gflops = figures.matmul_flops_per_second
  ratio = figures.time_ratio
  rows = [
    ('config', comparison.config_name),
    ('machine', comparison.machine),
    ('batch', str(comparison.global_batch_size)),
    ('rounds x timed steps', f'{comparison.rounds} x {comparison.timed_steps}, alternating'),
    ('FLOPs per step (XLA, both)', f'{comparison.flops_per_step / 1e9:.2f} GFLOP'),
    ('compile (ours)', f'{comparison.compile_seconds:.2f} s'),
    ('step, ours (median, min-max)', seconds(figures.ours_step_seconds)),
    ('step, PyTorch', seconds(figures.torch_step_seconds)),
    ('ours / PyTorch time', f'{ratio.median:.3f} ({ratio.low:.3f}-{ratio.high:.3f})'),
    (
      'f32 matmul peak (same rounds)',
      f'{gflops.median / 1e9:.1f} GFLOP/s ({gflops.low / 1e9:.1f}-{gflops.high / 1e9:.1f})',
    ),
    ('ours, of matmul peak', percent(figures.ours_fraction_of_matmul_peak)),
    ('PyTorch, of matmul peak', percent(figures.torch_fraction_of_matmul_peak)),
  ]
  width = max(len(name) for name, _ in rows)
  return '\n'.join(f'{name:<{width}}  {value}' for name, value in rows)
