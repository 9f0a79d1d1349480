r"""SNGAN (Miyato et al. 2018): the ResNet G and D, spectral norm in D, on CIFAR-10 (TFDS).

  python -m experiments.train --config=configs/sngan_cifar10.py
  python -m experiments.train --config=configs/sngan_cifar10.py:tiny   # offline, for tests

G and D are the paper's 32x32 ResNets (appendix B.4: G 4x4 x 256 and three up
blocks of 256, D an optimized block and three blocks of 128; 4.28M and 1.05M
parameters, equal to torch_mimicry's SNGANGenerator32/Discriminator32),
`gan_jax/models/resnet.py`. Training follows the paper's ResNet setting and
torch_mimicry's: the hinge loss, n_dis = 5 D steps per G step, Adam with
learning rate 2e-4 and (b1, b2) = (0, 0.9), batch 64, 100k G steps (the
published runs also decay the learning rate linearly to 0; not done here).
--config.model.conditioning=projection trains the cGAN of Miyato & Koyama
2018 on the labels. The tiny variant trains on the bundled MNIST digits padded
to 32x32, offline.
"""

import ml_collections

from gan_jax import config_sections


def get_config(variant: str = '') -> ml_collections.ConfigDict:
  """The config; `variant='tiny'` gives narrow layers, few steps and bundled MNIST, for tests."""
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.data = config_sections.data_config(name='cifar10')  # 32x32x3 as stored.
  config.model = config_sections.model_config('resnet')
  config.loss = config_sections.loss_config(name='hinge')
  config.penalty = config_sections.penalty_config()
  config.augment = config_sections.augment_config()  # 'diffaugment' or 'ada' for small data.
  adam = dict(name='adam', learning_rate=2e-4, b1=0.0, b2=0.9)
  config.optimizer = config_sections.optimizers_config(generator=adam, discriminator=adam)
  config.eval = config_sections.eval_config(metrics='fid,is,kid')
  config.train = config_sections.train_config(
    num_steps=100_000,
    batch_size=64,
    discriminator_steps=5,
    log_every=100,
    sample_every=1_000,
    checkpoint_every=5_000,
  )
  if variant == 'tiny':
    # MNIST padded with black to 32x32 (a crop larger than the image pads it).
    config.data = config_sections.data_config(name='bundled_mnist', image_size=32, crop_size=32)
    config.model.update(latent_dim=16, generator_width=16, discriminator_width=16)
    config.train.update(
      num_steps=2,
      batch_size=8,
      discriminator_steps=2,
      log_every=1,
      sample_every=2,
      checkpoint_every=2,
      num_sample_images=4,
    )
    config.eval.update(num_samples=32, num_reference=32, batch_size=16)
  elif variant:
    raise ValueError(f"Unknown variant {variant!r} of sngan_cifar10; valid: 'tiny'.")
  return config
