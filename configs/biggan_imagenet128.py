r"""BigGAN (Brock et al. 2019) at 128x128 on ImageNet (TFDS imagenet2012, or imagenette).

  python -m experiments.train --config=configs/biggan_imagenet128.py
  python -m experiments.train --config=configs/biggan_imagenet128.py \
    --config.data.name=imagenette/full-size-v2           # 10 classes, downloads by itself
  python -m experiments.train --config=configs/biggan_imagenet128.py:tiny   # offline, tests

G and D are the paper's Table 4 networks at ch 96 (70.4M and 88.0M
parameters, equal to BigGAN-PyTorch's), hierarchical z of 120 = 6 x 20, the
shared class embedding of 128, self-attention at 64x64 and the projection D.
Training follows BigGAN-PyTorch's launch_BigGAN_bs256x8.sh: the hinge loss,
one D step, Adam with learning rates 1e-4 (G) and 4e-4 (D), (b1, b2) = (0,
0.999), an EMA of G's weights (decay 0.9999), and the paper's orthogonal
regularization of G (beta 1e-4, Eq. 3). The paper's batch is 2048; here the
global batch is 256 over every device of every process (raise it with
--config.train.batch_size on a pod). TFDS's imagenet2012 needs the archives
downloaded by hand (see its TFDS page); imagenette downloads by itself.
Images are centre-cropped to squares and resized to 128.
"""

import ml_collections

from gan_jax import config_sections


def get_config(variant: str = '') -> ml_collections.ConfigDict:
  """The config; `variant='tiny'` gives narrow layers, few steps and bundled faces, for tests."""
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.data = config_sections.data_config(name='imagenet2012', image_size=128)
  config.model = config_sections.model_config(
    'biggan', conditioning='projection', latent_dim=120, base_width=96, attention_resolution=64
  )
  config.loss = config_sections.loss_config(name='hinge')
  config.penalty = config_sections.penalty_config(generator_orthogonal=1e-4)
  config.augment = config_sections.augment_config()  # 'diffaugment' or 'ada' for small data.
  config.optimizer = config_sections.optimizers_config(
    generator=dict(name='adam', learning_rate=1e-4, b1=0.0, b2=0.999),
    discriminator=dict(name='adam', learning_rate=4e-4, b1=0.0, b2=0.999),
  )
  config.eval = config_sections.eval_config(metrics='fid,is', num_samples=50_000)
  config.train = config_sections.train_config(
    num_steps=250_000,
    batch_size=256,
    discriminator_steps=1,
    generator_ema_decay=0.9999,
    log_every=100,
    sample_every=2_000,
    checkpoint_every=2_000,
  )
  if variant == 'tiny':
    # 128x128 is what makes this config itself; the bundled faces are unlabeled, so the
    # tiny G and D are unconditional.
    config.data = config_sections.data_config(name='bundled_faces', image_size=128)
    config.model.update(
      conditioning='none',
      latent_dim=12,
      base_width=1,
      shared_embedding_dim=4,
      attention_resolution=8,
    )
    config.train.update(
      num_steps=2,
      batch_size=8,
      log_every=1,
      sample_every=2,
      checkpoint_every=2,
      num_sample_images=4,
    )
    config.eval.update(num_samples=16, num_reference=16, batch_size=8)
  elif variant:
    raise ValueError(f"Unknown variant {variant!r} of biggan_imagenet128; valid: 'tiny'.")
  return config
