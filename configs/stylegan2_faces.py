r"""StyleGAN2 (Karras et al. 2020b) at 64x64 on the bundled faces, or any folder of images.

  python -m experiments.train --config=configs/stylegan2_faces.py --workdir=runs/stylegan2_faces
  python -m experiments.train --config=configs/stylegan2_faces.py \
      --config.data.name=folder --config.data.path=/path/to/faces
  python -m experiments.sample --workdir=runs/stylegan2_faces --truncation=0.7   # psi in W
  python -m experiments.train --config=configs/stylegan2_faces.py:tiny            # for tests

G and D are StyleGAN2-ADA's (`gan_jax/models/stylegan2.py`): mapping network,
modulated convolutions with weight demodulation, noise inputs, skip G and
residual D. The settings are StyleGAN2-ADA's 'auto' config for 64x64 images
(Karras et al. 2020a, their train.py): channel_base 16384 (512 channels up to
32x32, 256 at 64x64), a 2-layer mapping network, batch 32, minibatch std groups
of 4, Adam at 0.0025 with (b1, b2) = (0, 0.99), lazy R1 with gamma =
0.0002 * 64^2 / 32 = 0.0256 every 16 D updates, the path length penalty (weight
2, every 4 G updates), style mixing 0.9, G's EMA with a half-life of 10k images
ramped up over the first 5% of the images, and ADA (target 0.6) since the
bundled set has 100 faces. The non-saturating logistic loss throughout.
"""

import ml_collections

from gan_jax import config_sections

# StyleGAN2's lazy intervals (Karras et al. 2020b, section 3.1): R1 every 16 D
# updates, the path length penalty every 4 G updates.
R1_INTERVAL = 16
PATH_LENGTH_INTERVAL = 4


def get_config(variant: str = '') -> ml_collections.ConfigDict:
  """The config; `variant='tiny'` gives narrow layers, 16x16 images and two steps, for tests."""
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.data = config_sections.data_config(name='bundled_faces', image_size=64)
  config.model = config_sections.model_config(
    'stylegan2', channel_base=16384, mapping_layers=2, minibatch_std_group_size=4
  )
  config.loss = config_sections.loss_config(name='non_saturating')
  # R1 = 1/2 E|grad D(x)|^2 in gan_jax.penalties, so its weight is StyleGAN2's gamma.
  config.penalty = config_sections.penalty_config(
    name='r1', weight=0.0256, every=R1_INTERVAL, path_length_weight=2.0
  )
  config.augment = config_sections.augment_config(name='ada')
  config.optimizer = config_sections.optimizers_config(
    generator=config_sections.lazy_adam(0.0025, PATH_LENGTH_INTERVAL),
    discriminator=config_sections.lazy_adam(0.0025, R1_INTERVAL),
  )
  config.eval = config_sections.eval_config(metrics='fid,is,kid')
  config.train = config_sections.train_config(
    num_steps=3_000,
    batch_size=32,
    generator_ema_half_life_kimg=10.0,
    generator_ema_rampup=0.05,
    log_every=10,
    sample_every=100,
    checkpoint_every=250,
  )
  if variant == 'tiny':
    config.data.image_size = 16
    config.model.update(
      latent_dim=16, w_dim=16, channel_base=256, channel_max=16, minibatch_std_group_size=2
    )
    config.train.update(
      num_steps=2,
      batch_size=8,
      log_every=1,
      sample_every=2,
      checkpoint_every=2,
      num_sample_images=4,
    )
  elif variant:
    raise ValueError(f"Unknown variant {variant!r} of stylegan2_faces; valid: 'tiny'.")
  return config
