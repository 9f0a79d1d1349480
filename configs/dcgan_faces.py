r"""DCGAN (Radford et al. 2015) on 64x64 faces: the main job.

  python -m experiments.train --config=configs/dcgan_faces.py

trains the DCGAN of Aakash's GAN-variants analysis slides on the 100 LFW face crops that ship with
scikit-image, so it runs offline with no data to fetch. Other face data is one
flag away:

  # CelebA through TFDS (downloads on first use; crop 108x108, resize to 64):
  python -m experiments.train --config=configs/dcgan_faces.py --config.data.name=celeb_a
  # Any folder of JPEG/PNG images (e.g. the 683 face photos of Aakash's slides):
  python -m experiments.train --config=configs/dcgan_faces.py \
      --config.data.name=folder --config.data.path=/path/to/faces

`--config=configs/dcgan_faces.py:tiny` shrinks everything for tests.
"""

import ml_collections

from gan_jax import config_sections


def get_config(variant: str = '') -> ml_collections.ConfigDict:
  """The config; `variant='tiny'` gives narrow layers and a few steps, for tests."""
  config = ml_collections.ConfigDict()
  config.seed = 0

  # Centre-cropped to a square and resized to 64x64 (celeb_a: 108x108 crop first).
  config.data = config_sections.data_config(name='bundled_faces', image_size=64)

  # The fields and their choices: gan_jax/config_sections.py (MODEL_FIELDS).
  # As in the paper: z of 100 dimensions, batch norm in G and D;
  # base_width 64 gives G 512 -> 256 -> 128 -> 64 -> 3 channels, D mirrors it.
  # --config.model.conditioning=embedding|projection|auxiliary trains with
  # labels, on labeled data (gan_jax/models/conditioning.py).
  config.model = config_sections.model_config('dcgan')

  # --config.loss.real_label=0.9 for one-sided label smoothing.
  config.loss = config_sections.loss_config(name='non_saturating')

  # No penalty (the gradient penalties need a D without batch norm), no clipping.
  config.penalty = config_sections.penalty_config()

  # Differentiable augmentation of D's input for small data: --config.augment.name=diffaugment
  # (Zhao et al. 2020) or 'ada' (Karras et al. 2020a); gan_jax/augment/.
  config.augment = config_sections.augment_config()

  # The paper: Adam, learning rate 2e-4, beta1 0.5 for both players.
  adam = dict(name='adam', learning_rate=2e-4, b1=0.5)
  config.optimizer = config_sections.optimizers_config(generator=adam, discriminator=adam)

  # FID/IS/KID with the FID Inception-v3 (its weights file is needed): python -m
  # experiments.evaluate --workdir=DIR; --config.eval.every=N scores during training too.
  config.eval = config_sections.eval_config(metrics='fid,is,kid')

  config.train = config_sections.train_config(
    # G's update reuses the last D update's noise and G forward pass, as the
    # DCGAN reference code does (one G forward pass less per step).
    reuse_noise_for_generator=True,
    num_steps=3_000,
    batch_size=64,  # The paper used 128; 64 keeps a CPU step near a second.
    log_every=10,
    sample_every=100,
    checkpoint_every=250,
  )

  if variant == 'tiny':
    config.model.base_width = 4
    config.train.num_steps = 2
    config.train.batch_size = 8
    config.train.log_every = 1
    config.train.sample_every = 2
    config.train.checkpoint_every = 2
    config.train.num_sample_images = 4
  elif variant:
    raise ValueError(f"Unknown variant {variant!r} of dcgan_faces; valid: 'tiny'.")
  return config
