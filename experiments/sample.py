r"""Draws pictures from a trained run: sample grids, interpolations, latent walks, class grids.

  python -m experiments.sample --workdir=DIR                          # grid of 64 samples
  python -m experiments.sample --workdir=DIR --truncation=0.7         # z (BigGAN) or w (StyleGAN2)
  python -m experiments.sample --workdir=DIR --mode=interpolation     # 8 rows of 8, slerp
  python -m experiments.sample --workdir=DIR --mode=interpolation --interpolation=linear
  python -m experiments.sample --workdir=DIR --mode=walk              # looping GIF, 4 latents
  python -m experiments.sample --workdir=DIR --mode=walk --video=mp4  # and an MP4 (imageio-ffmpeg)
  python -m experiments.sample --workdir=DIR --mode=classes           # class-conditional G

Loads the latest checkpoint in DIR (G's EMA params if the run kept them) and
writes to DIR/samples (or --out_dir=FOLDER), every picture atomically:

  --mode=grid (default): sample_grid.png and samples.npz (samples: float32
    [N, H, W, C] in [-1, 1]; labels: int32 [N] for a class-conditional G,
    whose grid has one row per class and N // num_classes columns). With
    --seed other than 0 or --truncation, the names carry them:
    sample_grid_seed1_t0.7.png, samples_seed1_t0.7.npz.
  --mode=interpolation: interpolation_slerp_seed0.png, --num_latents rows
    (default 8), each --num_steps images (default 8) from one random latent
    to another, ends included.
  --mode=walk: walk_slerp_seed0.gif (and .mp4 with --video=mp4), a loop
    through --num_latents random latents (default 4), --num_steps frames
    (default 16) from each to the next, at --fps frames per second.
  --mode=classes: classes_seed0.png, one row per class, each of the
    --num_latents columns (default 8) one z shared by every class.

--truncation=T (every mode) draws z from N(0, I) truncated to [-T, T] (Brock
et al. 2019), or for a G with a mapping network (stylegan2) moves its styles
toward their running mean, w_avg + T (w - w_avg) (the truncation trick of
Karras et al. 2019, psi = T), and adds _tT to the name. In the interpolation and walk modes a
class-conditional G draws row r in class r mod num_classes (the walk: class
0), or every image in class --label=K (_classK in the name).
"""

import os
from typing import Callable, NamedTuple, Optional

import jax
import numpy as np
from absl import flags
from absl import logging

from experiments import app
from gan_jax import assembly
from gan_jax import config_sections
from gan_jax import errors
from gan_jax import images
from gan_jax import sampling
from gan_jax import train
from gan_jax import workdirs

_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory of a training run.')
_MODE = flags.DEFINE_enum(
  'mode',
  'grid',
  ['grid', 'interpolation', 'walk', 'classes'],
  'What to draw: a grid of samples, rows interpolating between random latents, an animated walk '
  'through random latents, or one row per class of a class-conditional G.',
)
_NUM_SAMPLES = flags.DEFINE_integer(
  'num_samples', 64, 'grid: how many samples to draw.', lower_bound=1
)
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the noise.')
_OUT_DIR = flags.DEFINE_string('out_dir', None, 'Folder for the samples; default WORKDIR/samples.')
_TRUNCATION = flags.DEFINE_float(
  'truncation',
  None,
  "Every mode: BigGAN's truncation trick (Brock et al. 2019), z's components outside [-T, T] "
  'redrawn; smaller T, less variety and cleaner images. For a G with a mapping network '
  "(stylegan2), StyleGAN's psi instead: w moved toward the mean w, w_avg + T (w - w_avg) "
  '(Karras et al. 2019); T in (0, 1], 1 changes nothing, 0 gives G(w_avg).',
)
_NUM_LATENTS = flags.DEFINE_integer(
  'num_latents',
  None,
  'interpolation: rows, each between two random latents (default 8); walk: random latents the '
  'loop passes through (default 4, at least 2); classes: columns, one z each (default 8).',
  lower_bound=1,
)
_NUM_STEPS = flags.DEFINE_integer(
  'num_steps',
  None,
  'interpolation: images per row, both ends included (default 8); walk: frames from one latent '
  'to the next (default 16).',
  lower_bound=2,
)
_INTERPOLATION = flags.DEFINE_enum(
  'interpolation',
  'slerp',
  sorted(sampling.INTERPOLATIONS),
  'interpolation and walk: the path between latents, spherical (White 2016) or a straight line.',
)
_LABEL = flags.DEFINE_integer(
  'label',
  None,
  'interpolation and walk, class-conditional G: the class of every image (default: row r in '
  'class r mod num_classes, the walk in class 0).',
  lower_bound=0,
)
_VIDEO = flags.DEFINE_enum(
  'video', 'gif', ['gif', 'mp4'], 'walk: gif, or mp4 for an MP4 beside the GIF (imageio-ffmpeg).'
)
_FPS = flags.DEFINE_integer('fps', 12, 'walk: frames per second.', lower_bound=1)
flags.mark_flags_as_required(['workdir'])
flags.register_validator(
  'truncation',
  lambda truncation: truncation is None or truncation > 0,
  message='must be positive (z truncated to [-T, T]); leave it out for no truncation.',
)

# The flags each mode reads besides --workdir, --seed, --out_dir and --truncation.
MODE_FLAGS = {
  'grid': ('num_samples',),
  'interpolation': ('num_latents', 'num_steps', 'interpolation', 'label'),
  'walk': ('num_latents', 'num_steps', 'interpolation', 'label', 'video', 'fps'),
  'classes': ('num_latents',),
}
_DEFAULT_NUM_LATENTS = {'interpolation': 8, 'walk': 4, 'classes': 8}
_DEFAULT_NUM_STEPS = {'interpolation': 8, 'walk': 16}


def check_flags_apply(mode: str, given: set[str]) -> None:
  """Raises ConfigError for a flag of MODE_FLAGS in `given` (names set on the command line)
  that `mode` would ignore, naming the modes that read it."""
  for name in sorted(given - set(MODE_FLAGS[mode])):
    users = [other for other, names in MODE_FLAGS.items() if name in names]
    raise errors.ConfigError(
      f'--{name} does not apply to --mode={mode}; it is read by --mode={" or ".join(users)}.'
    )


def check_classes(mode: str, label: Optional[int], num_classes: int, workdir: str) -> None:
  """Raises ConfigError if `mode` or `label` needs a class-conditional G and the run's G is
  unconditional (num_classes 0), or if `label` is not one of its classes."""
  if num_classes == 0 and (mode == 'classes' or label is not None):
    wanted = '--mode=classes' if mode == 'classes' else '--label'
    raise errors.ConfigError(
      f'{wanted} needs a class-conditional G, but the run in {workdir} is unconditional '
      "(model.conditioning='none'); draw it with --mode=grid, interpolation or walk instead."
    )
  if label is not None and label >= num_classes:
    raise errors.ConfigError(
      f'--label={label} is not a class of the run in {workdir}: its classes are 0 to '
      f'{num_classes - 1}.'
    )


def settings_suffix(seed: int, truncation: Optional[float], label: Optional[int] = None) -> str:
  """'_seed{seed}', then '_t{truncation}' and '_class{label}' where set: e.g. '_seed0_t0.7'."""
  suffix = f'_seed{seed}'
  suffix += f'_t{truncation:g}' if truncation else ''
  return suffix + (f'_class{label}' if label is not None else '')


class Picture(NamedTuple):
  """What a mode draws: G's inputs, and how to write G's samples [N, H, W, C] to a folder."""

  z: jax.Array  # [N, latent_dim]
  labels: Optional[jax.Array]  # int32 [N] for a class-conditional G, else None
  write: Callable[[str, np.ndarray], list[str]]  # (out_dir, samples) -> the files' names


def _grid(latent_dim: int, num_classes: int, z_truncation: Optional[float]) -> Picture:
  seed, truncation = _SEED.value, _TRUNCATION.value
  z, labels, columns = sampling.sample_grid_inputs(
    seed, _NUM_SAMPLES.value, latent_dim, num_classes, z_truncation
  )
  # The default draw keeps the names other tools read; any other says what it is.
  suffix = '' if seed == 0 and truncation is None else settings_suffix(seed, truncation)

  def write(out_dir, samples):
    names = [f'sample_grid{suffix}.png', f'samples{suffix}.npz']
    images.save_png(
      os.path.join(out_dir, names[0]), images.image_grid(samples, num_columns=columns or None)
    )
    arrays = {'samples': samples} if labels is None else {'samples': samples, 'labels': labels}
    images.save_arrays(os.path.join(out_dir, names[1]), **arrays)
    return names

  return Picture(z, labels, write)


def _interpolation(latent_dim: int, num_classes: int, z_truncation: Optional[float]) -> Picture:
  rows = _NUM_LATENTS.value or _DEFAULT_NUM_LATENTS['interpolation']
  steps = _NUM_STEPS.value or _DEFAULT_NUM_STEPS['interpolation']
  z = sampling.interpolation_inputs(
    _SEED.value, rows, steps, latent_dim, _INTERPOLATION.value, z_truncation
  )
  labels = sampling.row_labels(rows, steps, num_classes, _LABEL.value) if num_classes else None
  name = (
    f'interpolation_{_INTERPOLATION.value}'
    f'{settings_suffix(_SEED.value, _TRUNCATION.value, _LABEL.value)}.png'
  )

  def write(out_dir, samples):
    images.save_png(os.path.join(out_dir, name), images.image_grid(samples, num_columns=steps))
    return [name]

  return Picture(z, labels, write)


def _walk(latent_dim: int, num_classes: int, z_truncation: Optional[float]) -> Picture:
  waypoints = _NUM_LATENTS.value or _DEFAULT_NUM_LATENTS['walk']
  if waypoints < 2:
    raise errors.ConfigError(
      f'--mode=walk needs --num_latents of at least 2 (a walk through {waypoints} latent stands '
      'still).'
    )
  steps = _NUM_STEPS.value or _DEFAULT_NUM_STEPS['walk']
  z = sampling.walk_inputs(
    _SEED.value, waypoints, steps, latent_dim, _INTERPOLATION.value, z_truncation
  )
  labels = sampling.row_labels(1, len(z), num_classes, _LABEL.value or 0) if num_classes else None
  stem = (
    f'walk_{_INTERPOLATION.value}{settings_suffix(_SEED.value, _TRUNCATION.value, _LABEL.value)}'
  )
  extensions = ['gif', 'mp4'] if _VIDEO.value == 'mp4' else ['gif']
  savers = {'gif': images.save_gif, 'mp4': images.save_mp4}

  def write(out_dir, samples):
    frames = images.to_uint8(samples)
    for extension in extensions:
      savers[extension](os.path.join(out_dir, f'{stem}.{extension}'), frames, _FPS.value)
    return [f'{stem}.{extension}' for extension in extensions]

  return Picture(z, labels, write)


def _classes(latent_dim: int, num_classes: int, z_truncation: Optional[float]) -> Picture:
  columns = _NUM_LATENTS.value or _DEFAULT_NUM_LATENTS['classes']
  z, labels, _ = sampling.sample_grid_inputs(
    _SEED.value, columns * num_classes, latent_dim, num_classes, z_truncation
  )
  name = f'classes{settings_suffix(_SEED.value, _TRUNCATION.value)}.png'

  def write(out_dir, samples):
    images.save_png(os.path.join(out_dir, name), images.image_grid(samples, num_columns=columns))
    return [name]

  return Picture(z, labels, write)


PICTURES = {'grid': _grid, 'interpolation': _interpolation, 'walk': _walk, 'classes': _classes}


def _unwritable(out_dir: str, error: OSError) -> errors.ConfigError:
  reason = 'not a directory' if os.path.isfile(out_dir) else error.strerror
  return errors.ConfigError(
    f'Cannot write samples to {out_dir!r} ({reason}); make it a writable folder or write them '
    'elsewhere with --out_dir=DIR.'
  )


def main(argv):
  del argv
  mode, workdir = _MODE.value, _WORKDIR.value
  mode_flags = {name for names in MODE_FLAGS.values() for name in names}
  check_flags_apply(mode, {name for name in mode_flags if flags.FLAGS[name].present})
  if mode == 'walk' and _VIDEO.value == 'mp4':
    images.check_mp4_support()  # Before G runs, so that a missing plugin fails at once.
  config = workdirs.read_config(workdir)
  num_classes = (
    workdirs.read_data_info(workdir).num_classes if assembly.is_conditional(config) else 0
  )
  check_classes(mode, _LABEL.value, num_classes, workdir)
  # A G with a mapping network truncates its styles w toward their mean (psi); others, z.
  truncates_styles = config.model.name in config_sections.STYLE_FAMILIES
  z_truncation = None if truncates_styles else _TRUNCATION.value
  picture = PICTURES[mode](config.model.latent_dim, num_classes, z_truncation)
  out_dir = _OUT_DIR.value or os.path.join(workdir, 'samples')
  try:
    # Before the checkpoint is loaded and G runs, so that a bad folder fails at once.
    os.makedirs(out_dir, exist_ok=True)
  except OSError as e:
    raise _unwritable(out_dir, e) from e
  style_truncation = _TRUNCATION.value if truncates_styles else None
  generate, state = train.restore_for_sampling(config, workdir, style_truncation)
  if jax.process_index() != 0:
    return  # Every process reads the checkpoint (Orbax's restore is collective); one writes.
  # In [-1, 1], as samples.npz promises: StyleGAN2's G has no output tanh.
  samples = np.clip(
    np.asarray(generate(state.sampling_generator(), picture.z, picture.labels)), -1, 1
  )
  try:
    names = picture.write(out_dir, samples)
  except OSError as e:
    raise _unwritable(out_dir, e) from e
  logging.info(
    'Wrote %s (%d images from step %d) to %s.',
    ', '.join(names),
    len(samples),
    int(state.step),
    out_dir,
  )


if __name__ == '__main__':
  app.run(main)
