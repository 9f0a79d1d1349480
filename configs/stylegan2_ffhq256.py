r"""StyleGAN2 config F (Karras et al. 2020b) at 256x256, on a folder of images (e.g. FFHQ).

  python -m experiments.train --config=configs/stylegan2_ffhq256.py \
      --config.data.path=/path/to/ffhq256 --workdir=runs/stylegan2_ffhq256
  python -m experiments.train --config=configs/stylegan2_ffhq256.py:tiny   # offline, for tests

Config F's networks and settings as StyleGAN2-ADA's train.py writes them
(cfg 'stylegan2'): channel_base 32768 and channel_max 512 (512 channels up to
64x64, 256 at 128, 128 at 256), an 8-layer mapping network with learning-rate
multiplier 0.01, a residual D with minibatch std groups of 4, batch 32, Adam at
0.002 with (b1, b2) = (0, 0.99), lazy R1 with gamma 10 every 16 D updates, the
path length penalty (weight 2, every 4 G updates, on half batches), style
mixing 0.9, and G's EMA with a half-life of 10k images. No augmentation (the
paper's); --config.augment.name=ada is StyleGAN2-ADA's default. The images
are centre-cropped and resized to 256x256 when they are not already.
"""

import ml_collections

from configs import stylegan2_faces
from gan_jax import config_sections


def get_config(variant: str = '') -> ml_collections.ConfigDict:
  """The config; `variant='tiny'`: narrow layers, 16x16 bundled faces, two steps, for tests."""
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.data = config_sections.data_config(name='folder', image_size=256)
  config.model = config_sections.model_config('stylegan2')  # The fields' defaults are config F's.
  config.loss = config_sections.loss_config(name='non_saturating')
  config.penalty = config_sections.penalty_config(
    name='r1', weight=10.0, every=stylegan2_faces.R1_INTERVAL, path_length_weight=2.0
  )
  config.augment = config_sections.augment_config()
  config.optimizer = config_sections.optimizers_config(
    generator=config_sections.lazy_adam(0.002, stylegan2_faces.PATH_LENGTH_INTERVAL),
    discriminator=config_sections.lazy_adam(0.002, stylegan2_faces.R1_INTERVAL),
  )
  config.eval = config_sections.eval_config(metrics='fid,is,kid')
  config.train = config_sections.train_config(
    num_steps=781_250,  # 25M images, the paper's FFHQ run.
    batch_size=32,
    generator_ema_half_life_kimg=10.0,
    log_every=100,
    sample_every=5_000,
    checkpoint_every=10_000,
  )
  if variant == 'tiny':
    config.data = config_sections.data_config(name='bundled_faces', image_size=16)
    config.model.update(latent_dim=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=16)
    config.train.update(
      num_steps=2,
      batch_size=8,
      log_every=1,
      sample_every=2,
      checkpoint_every=2,
      num_sample_images=4,
    )
  elif variant:
    raise ValueError(f"Unknown variant {variant!r} of stylegan2_ffhq256; valid: 'tiny'.")
  return config
