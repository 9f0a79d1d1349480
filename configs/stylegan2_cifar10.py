r"""StyleGAN2-ADA on CIFAR-10 (Karras et al. 2020a): class-conditional, 32x32, TFDS.

  python -m experiments.train --config=configs/stylegan2_cifar10.py --workdir=runs/sg2_cifar10
  python -m experiments.train --config=configs/stylegan2_cifar10.py:tiny   # offline, for tests

The ADA paper's CIFAR-10 settings (its train.py, cfg 'cifar', with --cond=1):
G and D conditional through G's mapping network and D's projection, 512
channels at every resolution (channel_base 32768), a 2-layer mapping network,
D without residual connections ('orig'), minibatch std groups of 32, batch 64,
Adam at 0.0025 with (b1, b2) = (0, 0.99), lazy R1 with gamma 0.01 every 16 D
updates, no path length penalty and no style mixing, G's EMA with a half-life
of 500k images ramped up over the first 5% of the images, and ADA (target
0.6). The paper trains 100M images (1.56M steps of 64): a job for
accelerators. StudioGAN reports FID 3.78 for this recipe
(`python -m experiments.evaluate --workdir=...`).
"""

import ml_collections

from configs import stylegan2_faces
from gan_jax import config_sections


def get_config(variant: str = '') -> ml_collections.ConfigDict:
  """The config; `variant='tiny'`: narrow layers and bundled MNIST padded to 32x32, for tests."""
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.data = config_sections.data_config(name='cifar10')  # 32x32x3 as stored, 10 classes.
  config.model = config_sections.model_config(
    'stylegan2',
    conditioning='projection',
    mapping_layers=2,
    discriminator_architecture='orig',
    minibatch_std_group_size=32,
    style_mixing_probability=0.0,
  )
  config.loss = config_sections.loss_config(name='non_saturating')
  config.penalty = config_sections.penalty_config(
    name='r1', weight=0.01, every=stylegan2_faces.R1_INTERVAL, path_length_weight=0.0
  )
  config.augment = config_sections.augment_config(name='ada')
  # StyleGAN2-ADA scales G's Adam for its G regularization interval of 4 even
  # when, as here, the path length penalty is off.
  config.optimizer = config_sections.optimizers_config(
    generator=config_sections.lazy_adam(0.0025, stylegan2_faces.PATH_LENGTH_INTERVAL),
    discriminator=config_sections.lazy_adam(0.0025, stylegan2_faces.R1_INTERVAL),
  )
  config.eval = config_sections.eval_config(metrics='fid,is,kid')
  config.train = config_sections.train_config(
    num_steps=1_562_500,
    batch_size=64,
    generator_ema_half_life_kimg=500.0,
    generator_ema_rampup=0.05,
    log_every=100,
    sample_every=5_000,
    checkpoint_every=10_000,
  )
  if variant == 'tiny':
    config.data = config_sections.data_config(name='bundled_mnist', image_size=32, crop_size=32)
    config.model.update(
      latent_dim=16, w_dim=16, channel_base=256, channel_max=16, minibatch_std_group_size=4
    )
    config.train.update(
      num_steps=2,
      batch_size=8,
      log_every=1,
      sample_every=2,
      checkpoint_every=2,
      num_sample_images=4,
    )
    config.eval.update(num_samples=32, num_reference=32, batch_size=16)
  elif variant:
    raise ValueError(f"Unknown variant {variant!r} of stylegan2_cifar10; valid: 'tiny'.")
  return config
