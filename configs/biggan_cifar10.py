r"""BigGAN (Brock et al. 2019) at 32x32, class-conditional, on CIFAR-10 (TFDS).

  python -m experiments.train --config=configs/biggan_cifar10.py
  python -m experiments.train --config=configs/biggan_cifar10.py:tiny   # offline, for tests

G and D are BigGAN-PyTorch's 32x32 networks (ch 64: 4.37M and 4.21M
parameters) with its shared class embedding, hierarchical z and the
projection D (`gan_jax/models/biggan.py`). Training follows the BigGAN CIFAR
settings StudioGAN and BigGAN-PyTorch use: the hinge loss, 4 D steps per G
step, Adam with learning rate 2e-4 for both players and (b1, b2) = (0, 0.999),
batch 64, and an EMA of G's weights (decay 0.9999) for sampling and
evaluation. No orthogonal regularization (BigGAN-PyTorch's CIFAR script runs
--G_ortho 0). Sample with the truncation trick: python -m experiments.sample
--workdir=runs/biggan_cifar10 --truncation=1.0. The tiny variant trains on
the bundled MNIST digits resized to 32x32, offline.
"""

import ml_collections

from gan_jax import config_sections


def get_config(variant: str = '') -> ml_collections.ConfigDict:
  """The config; `variant='tiny'` gives narrow layers, few steps and bundled MNIST, for tests."""
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.data = config_sections.data_config(name='cifar10')  # 32x32x3 as stored.
  config.model = config_sections.model_config('biggan', conditioning='projection')
  config.loss = config_sections.loss_config(name='hinge')
  config.penalty = config_sections.penalty_config()
  config.augment = config_sections.augment_config()  # 'diffaugment' or 'ada' for small data.
  adam = dict(name='adam', learning_rate=2e-4, b1=0.0, b2=0.999)
  config.optimizer = config_sections.optimizers_config(generator=adam, discriminator=adam)
  config.eval = config_sections.eval_config(metrics='fid,is,kid')
  config.train = config_sections.train_config(
    num_steps=100_000,
    batch_size=64,
    discriminator_steps=4,
    generator_ema_decay=0.9999,
    log_every=100,
    sample_every=1_000,
    checkpoint_every=5_000,
  )
  if variant == 'tiny':
    config.data = config_sections.data_config(name='bundled_mnist', image_size=32)
    config.model.update(latent_dim=16, base_width=4, shared_embedding_dim=8)
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
    raise ValueError(f"Unknown variant {variant!r} of biggan_cifar10; valid: 'tiny'.")
  return config
