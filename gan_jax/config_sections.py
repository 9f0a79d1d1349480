"""The sections of a config, each with every field and its one default.

Configs are data: a file under `configs/` builds its `ConfigDict` from these
factories and `ml_collections` alone, so loading one never imports JAX, Flax
or Optax (this module imports neither). Each factory takes overrides for its
own fields; an override of a field it does not have is an error, so a typo in
a config file fails where it is written.

`with_defaults` fills in the fields a stored config lacks (a run's
config.json written before a field existed), from the same factories.
"""

from typing import Any

import ml_collections

# The model families of `gan_jax.models.MODELS` and the fields each reads.
# Fields every family reads: conditioning (how class labels enter G and D:
# 'none', 'embedding', 'projection', 'auxiliary'; see models/conditioning.py),
# latent_dim (the size of z ~ N(0, I)) and discriminator_normalization.
# The image families also read dtype: one of `MODEL_DTYPES`, the precision of
# their activations, matrix products and convolutions; 'bfloat16' is mixed
# precision (parameters, optimizer state, batch-norm statistics and losses stay
# float32; Micikevicius et al. 2018; see gan_jax/models/__init__.py).
MODEL_DTYPES = ('float32', 'bfloat16')
_MLP_FIELDS = dict(
  latent_dim=64,
  # The MLPs of Aakash's GAN-variants slides: G 64 -> 256 -> 256 -> 784, D 784 -> 256 -> 256 -> 1.
  generator_hidden_sizes=(256, 256),
  discriminator_hidden_sizes=(256, 256),
  discriminator_dropout=0.0,  # After each of D's hidden layers, in training.
  discriminator_normalization='none',  # D's hidden layers: 'none', 'layer', 'spectral'.
  # G's hidden layers: 'none', 'batch', 'virtual_batch' (Salimans et al. 2016,
  # statistics of a fixed reference batch of reference_batch_size z's),
  # 'layer', 'spectral'.
  generator_normalization='none',
  reference_batch_size=64,
  dtype='float32',
)
_DCGAN_FIELDS = dict(
  latent_dim=100,  # As in Radford et al. 2015.
  base_width=64,  # At 64x64, G: 512 -> 256 -> 128 -> 64 -> 3 channels; D mirrors it.
  # 'batch' as in the paper; 'layer' (the WGAN-GP critic), 'spectral' (SNGAN), 'none'.
  discriminator_normalization='batch',
  generator_normalization='batch',  # Choices as for the MLP.
  reference_batch_size=64,
  dtype='float32',
)
# The ResNets of SNGAN (Miyato et al. 2018; gan_jax/models/resnet.py): 32, 48 or 64 pixels.
_RESNET_FIELDS = dict(
  latent_dim=128,  # As in Miyato et al. 2018.
  # Channels of G's first map and of D's last block; 0 = the paper's for the image size
  # (32: 256 and 128; 48: 512 and 1024; 64: 1024 and 1024).
  generator_width=0,
  discriminator_width=0,
  discriminator_normalization='spectral',  # SNGAN's; or 'none' (e.g. with a gradient penalty).
  generator_spectral_norm=False,  # True: SAGAN (Zhang et al. 2019) normalizes G's layers too.
  attention_resolution=0,  # Side of the maps after which SAGAN's self-attention goes; 0: none.
  dtype='float32',
)
# BigGAN (Brock et al. 2019; gan_jax/models/biggan.py): 32x32 or 128x128 images.
_BIGGAN_FIELDS = dict(
  # Split into equal chunks, one per G block plus one (hierarchical z): 128 = 4 x 32 at
  # 32x32; the paper's 120 = 6 x 20 at 128x128.
  latent_dim=128,
  base_width=64,  # ch: BigGAN-PyTorch's CIFAR runs 64, the paper 96 at 128x128.
  shared_embedding_dim=128,  # The class embedding shared by G's conditional batch norms.
  # Side of the block outputs followed by self-attention (Zhang et al. 2019): the paper
  # 64 at 128x128; 0 = none.
  attention_resolution=0,
  discriminator_normalization='spectral',  # 'spectral' (the paper) or 'none'.
  dtype='float32',
)
# StyleGAN2 (Karras et al. 2020b; gan_jax/models/stylegan2.py), as StyleGAN2-ADA's PyTorch
# code builds it (Karras et al. 2020a): G 'skip', square images of side 2^k >= 8.
_STYLEGAN2_FIELDS = dict(
  latent_dim=512,  # z_dim.
  w_dim=512,  # The intermediate latent space W.
  mapping_layers=8,  # Fully connected layers of the mapping network (ADA's CIFAR-10: 2).
  mapping_lr_multiplier=0.01,  # Learning-rate multiplier of the mapping network.
  # Channels at resolution r: min(channel_base // r, channel_max), in G and D
  # (ADA's cfgs: fmaps * 32768; config F and CIFAR-10: 32768).
  channel_base=32768,
  channel_max=512,
  # D: 'resnet' (residual blocks, config E/F) or 'orig' (plain blocks, ADA's CIFAR-10).
  discriminator_architecture='resnet',
  minibatch_std_group_size=4,  # Minibatch standard deviation layer (ADA's CIFAR-10: 32).
  minibatch_std_channels=1,
  conv_clamp=256.0,  # Clamp of the activations after bias and leaky ReLU; 0: none.
  style_mixing_probability=0.9,  # Style mixing regularization in training; 0: none.
  # 'none' only: StyleGAN2's D has no normalization layers (its weights are
  # equalized, Karras et al. 2018).
  discriminator_normalization='none',
  dtype='float32',
)
# The families whose G maps z to styles w by a mapping network (the truncation trick
# then moves w toward its running mean, Karras et al. 2019).
STYLE_FAMILIES = ('stylegan2',)
# The toy studies' generators on vectors (`gan_jax/models/toy.py`) and their
# MLP discriminator: three hidden layers, as in Strakhov's blog post (2018).
_TOY_FIELDS = dict(
  latent_dim=1,
  generator_hidden_sizes=(256, 256),  # Read by 'toy_mlp' only; 'toy_linear' is G(z) = a z + b.
  discriminator_hidden_sizes=(64, 64, 64),
  discriminator_dropout=0.0,
  discriminator_normalization='none',
)
MODEL_FIELDS: dict[str, dict[str, Any]] = {
  'biggan': _BIGGAN_FIELDS,
  'dcgan': _DCGAN_FIELDS,
  'mlp': _MLP_FIELDS,
  'resnet': _RESNET_FIELDS,
  'stylegan2': _STYLEGAN2_FIELDS,
  'toy_linear': _TOY_FIELDS,
  'toy_mlp': _TOY_FIELDS,
}


def _section(defaults: dict[str, Any], overrides: dict[str, Any], name: str):
  unknown = sorted(set(overrides) - set(defaults))
  if unknown:
    raise ValueError(
      f'The {name} section has no field {", ".join(unknown)}; its fields: '
      f'{", ".join(sorted(defaults))}.'
    )
  return ml_collections.ConfigDict({**defaults, **overrides})


def data_config(**overrides) -> ml_collections.ConfigDict:
  """The `data` section of an image run.

  name:          'bundled_mnist', 'bundled_faces' (offline), 'folder', or a
                 TFDS name ('mnist', 'cifar10', 'celeb_a', ...).
  split:         TFDS split ('train', 'test', 'train[:90%]', ...); the bundled
                 sets have one, 'train', sliceable the same way.
  tfds_data_dir: where TFDS keeps prepared sets; '' = $TFDS_DATA_DIR or
                 ~/tensorflow_datasets.
  path:          the image folder, for name='folder'.
  image_size:    side of the square images the model sees; 0 = as stored.
  crop_size:     side of the centred crop taken before resizing; 0 = the
                 data set's usual crop (e.g. 108 for CelebA, as in DCGAN),
                 else the largest centred square. Larger than the image, it
                 pads the image with black around the centre instead (MNIST
                 at image_size=32, crop_size=32: the 28x28 digit at [2:30, 2:30],
                 as LeNet-5 took it). Used only with image_size.
  cache_dir:     '' = decode, crop and resize each image of a folder on every
                 access; a directory = name='folder' only: the images after
                 decoding, crop and resize are written there once, as one
                 uint8 array named by a fingerprint of the files and the
                 preprocessing, and read back (memory-mapped) by every later
                 access and run (`gan_jax.image_cache`). Set for the bundled
                 or TFDS sets, it is a ConfigError.
  """
  defaults = dict(
    name='bundled_mnist',
    split='train',
    tfds_data_dir='',
    path='',
    image_size=0,
    crop_size=0,
    cache_dir='',
  )
  return _section(defaults, overrides, 'data')


def model_config(name: str = 'mlp', **overrides) -> ml_collections.ConfigDict:
  """The `model` section of the family `name` (a key of `MODEL_FIELDS`), with its fields.

  Every family has name, conditioning and the fields of `MODEL_FIELDS[name]`.
  """
  if name not in MODEL_FIELDS:
    raise ValueError(f'Unknown model {name!r}; valid names: {", ".join(sorted(MODEL_FIELDS))}.')
  defaults = dict(name=name, conditioning='none', **MODEL_FIELDS[name])
  return _section(defaults, overrides, f'{name} model')


def loss_config(**overrides) -> ml_collections.ConfigDict:
  """The `loss` section.

  name:        a key of `gan_jax.losses.LOSSES`: 'non_saturating' (Goodfellow
               et al. 2014, section 3), 'minimax' (their Eq. 1), 'wasserstein',
               'hinge', 'least_squares', 'relativistic_average'.
  real_label:  D's target on real data; 0.9 is one-sided label smoothing
               (Salimans et al. 2016; Rahmdel's GAN tutorial): real targets
               0.9, fake targets stay 0. Cross-entropy losses only.
  auxiliary_weight: weight of AC-GAN's class cross-entropy in both players'
               losses when model.conditioning='auxiliary' (Odena et al. 2017: 1).
  """
  defaults = dict(name='non_saturating', real_label=1.0, auxiliary_weight=1.0)
  return _section(defaults, overrides, 'loss')


def penalty_config(**overrides) -> ml_collections.ConfigDict:
  """The `penalty` section: a regularizer of D.

  name:          a key of `gan_jax.penalties.PENALTIES`; 'none' by default.
  weight:        lambda, D minimizes loss + weight * penalty. Typical values:
                 gradient_penalty and one_sided_gradient_penalty 10 (Gulrajani
                 et al. 2017), dragan 10 (Kodali et al. 2017), r1 and r2 0.1 to
                 10 (Mescheder et al. 2018 use 10 on CelebA-HQ, less on small
                 images), l2 1e-4 to 1e-3.
  clip_weights:  c > 0 clips every D parameter to [-c, c] after each D update
                 (WGAN, Arjovsky et al. 2017: c = 0.01); 0 turns clipping off.
  every:         N > 1 is lazy regularization (Karras et al. 2020b, section 3.1):
                 the penalty is computed at every N-th D update only, and
                 descended there in an update of its own with weight N * weight
                 (StyleGAN2: r1 every 16); 1 adds it to every D update's loss.
  generator_orthogonal: beta > 0 adds BigGAN's orthogonal regularization of G's
                 weights to G's loss (Brock et al. 2019, Eq. 3: beta = 1e-4);
                 0 turns it off. A regularizer of G, listed with D's.
  path_length_weight: w > 0 regularizes G's path lengths (Karras et al. 2020b,
                 Eq. 4: w = 2), lazily, in an update of G of its own every
                 path_length_every G updates, on batch / path_length_batch_shrink
                 samples, against a running mean of decay path_length_decay.
                 Families with a mapping network (stylegan2) only; 0 turns it off.
  """
  defaults = dict(
    name='none',
    weight=10.0,
    every=1,
    clip_weights=0.0,
    generator_orthogonal=0.0,
    path_length_weight=0.0,
    path_length_every=4,
    path_length_decay=0.01,
    path_length_batch_shrink=2,
  )
  return _section(defaults, overrides, 'penalty')


def optimizer_config(**overrides) -> ml_collections.ConfigDict:
  """One player's optimizer (`optimizer.generator`, `optimizer.discriminator`).

  name:          'adam', 'sgd' (with momentum) or 'rmsprop'.
  learning_rate: the step size; DCGAN's Adam: 2e-4.
  b1, b2:        Adam's decay rates; DCGAN's b1 = 0.5.
  momentum:      SGD's momentum (Goodfellow et al. 2014 used momentum SGD).
  decay:         RMSProp's decay of the squared-gradient average.
  """
  defaults = dict(name='adam', learning_rate=2e-4, b1=0.5, b2=0.999, momentum=0.0, decay=0.9)
  return _section(defaults, overrides, 'optimizer')


def lazy_adam(learning_rate: float, interval: int, b1: float = 0.0, b2: float = 0.99) -> dict:
  """Adam's fields for a player whose regularizer is lazy, every `interval` minibatches.

  StyleGAN2 (Karras et al. 2020b, Appendix B) keeps the optimizer's time scale
  over the main and the regularizer's updates: with c = interval / (interval +
  1), the learning rate is c * learning_rate and the decay rates are b1 ** c
  and b2 ** c. Its defaults are StyleGAN2-ADA's: (b1, b2) = (0, 0.99).
  """
  c = interval / (interval + 1)
  return dict(name='adam', learning_rate=learning_rate * c, b1=b1**c, b2=b2**c)


def optimizers_config(**players) -> ml_collections.ConfigDict:
  """The `optimizer` section: `optimizer_config(**players[name])` for G and D."""
  unknown = sorted(set(players) - {'generator', 'discriminator'})
  if unknown:
    raise ValueError(f'optimizers_config takes generator= and discriminator=, not {unknown}.')
  return ml_collections.ConfigDict(
    {name: optimizer_config(**players.get(name, {})) for name in ('generator', 'discriminator')}
  )


# The options of the train step (`gan_jax.step.GAN`), in the `train` section
# of image runs and toy studies alike:
#   discriminator_steps:  k of Algorithm 1 (Goodfellow et al. 2014 used k = 1).
#   reuse_noise_for_generator: G's update reuses the last D update's noise and
#                         G forward pass (the DCGAN reference code) instead of
#                         drawing fresh noise (Algorithm 1).
#   generator_ema_decay:  beta > 0 keeps an EMA of G's params (e.g. 0.999), used
#                         for samples; 0 keeps none.
#   generator_ema_half_life_kimg: h > 0 keeps the EMA with a half-life of h
#                         thousand images instead (StyleGAN2-ADA: beta =
#                         0.5 ** (batch / (1000 h)); CIFAR-10 500, config F 10).
#   generator_ema_rampup: r > 0 caps that half-life at r times the images seen so
#                         far (ADA: 0.05 on CIFAR-10); 0 does not.
_STEP_OPTIONS = dict(
  discriminator_steps=1,
  reuse_noise_for_generator=False,
  generator_ema_decay=0.0,
  generator_ema_half_life_kimg=0.0,
  generator_ema_rampup=0.0,
)


def train_config(**overrides) -> ml_collections.ConfigDict:
  """The `train` section of an image run: the step's options (`_STEP_OPTIONS`) and

  num_steps:            train steps (each: k D updates, one G update).
  batch_size:           images per D update, over all devices and processes.
  log_every:            steps between metrics (and the NaN check).
  sample_every:         steps between sample grids.
  checkpoint_every:     steps between checkpoints.
  checkpoints_to_keep:  the newest checkpoints kept.
  num_sample_images:    images in a sample grid.
  """
  defaults = dict(
    num_steps=10_000,
    batch_size=64,
    **_STEP_OPTIONS,
    log_every=100,
    sample_every=1_000,
    checkpoint_every=5_000,
    checkpoints_to_keep=3,
    num_sample_images=64,
  )
  return _section(defaults, overrides, 'train')


def toy_train_config(**overrides) -> ml_collections.ConfigDict:
  """The `train` section of a toy study (`experiments.toy`): the step's options and

  num_steps, batch_size: as in `train_config`.
  log_every:            steps run as one scan on the device; G and D are
                        evaluated and metrics written after each chunk.
  plot_every:           steps between snapshots (plots and GIF frames); a
                        multiple of log_every. The last step is always one.
  num_eval_samples:     G's samples (from fixed noise) and real samples used
                        for the statistics, metrics and plots.
  """
  defaults = dict(
    num_steps=2_000,
    batch_size=256,
    **_STEP_OPTIONS,
    log_every=100,
    plot_every=100,
    num_eval_samples=10_000,
  )
  return _section(defaults, overrides, 'toy train')


# ADA's default pipeline 'bgc' (Karras et al. 2020a, Appendix B): blits, general
# geometric transformations and color transformations.
ADA_TRANSFORMS = (
  'xflip,rotate90,xint,scale,rotate,aniso,xfrac,brightness,contrast,lumaflip,hue,saturation'
)


def augment_config(**overrides) -> ml_collections.ConfigDict:
  """The `augment` section: differentiable augmentation of every image D sees.

  name:        'none', 'diffaugment' (Zhao et al. 2020) or 'ada' (Karras et
               al. 2020a); real and generated images alike, in D's and G's
               updates and inside the penalties (`gan_jax.augment`).
  policy:      DiffAugment's comma-separated transformations: any of 'color',
               'translation', 'cutout' (the paper's 'color,translation,cutout').
  transforms:  ADA's comma-separated transformations (`ADA_TRANSFORMS`, the
               paper's 'bgc'), each applied with probability p.
  p:           ADA's probability at step 0, and throughout when target is 0.
  target:      ADA's target of r_t = E[sign(D(x_real))] (the paper: 0.6); p
               rises while r_t is above it and falls below; 0 holds p at `p`.
  interval:    steps between ADA's adjustments of p (the paper's code: 4).
  speed_kimg:  thousands of images in which p can move from 0 to 1 (the paper: 500).
  """
  defaults = dict(
    name='none',
    policy='color,translation,cutout',
    transforms=ADA_TRANSFORMS,
    p=0.0,
    target=0.6,
    interval=4,
    speed_kimg=500.0,
  )
  return _section(defaults, overrides, 'augment')


def eval_config(**overrides) -> ml_collections.ConfigDict:
  """The `eval` section: what `gan_jax.evaluation` computes.

  metrics:          comma-separated names of `gan_jax.scoring.METRICS`, e.g. 'fid,is,kid'.
  feature_network:  'auto' (the MNIST classifier for 28x28x1 data, else
                    Inception-v3), 'inception' or 'mnist_classifier'.
  inception_weights: path of pt_inception-2015-12-05-6726825d.pth; '' = the
                    environment variable GAN_JAX_INCEPTION_WEIGHTS or
                    ~/.cache/gan_jax/ (downloaded there on first use).
  resize:           the Inception input's resize to 299: 'tf1_bilinear' (TF1's bilinear, as
                    TTUR and torch-fidelity) or 'clean' (clean-fid's antialiased PIL bicubic,
                    Parmar et al. 2022); unused by the MNIST classifier.
  is_shuffle:       shuffle the samples before the Inception Score's 10 splits, as
                    torch-fidelity does (numpy RandomState(2020)); False = in sample order,
                    as Salimans et al.'s code.
  kid_subset_size:  points per KID subset (Binkowski et al. 2018 and torch-fidelity: 1000),
                    lowered to the smaller set's size when that has fewer.
  num_samples:      generated images per evaluation.
  num_reference:    real images (from the reference split), at most all.
  reference_split:  the data split the real images come from; '' = data.split,
                    the training split (TFDS sets: e.g. 'test').
  batch_size:       images per generator / feature-network call.
  every:            steps between evaluations during training; 0 = never.
  seed:             seed of the generated samples and of the reference draw.
  """
  defaults = dict(
    metrics='fid,is,kid',
    feature_network='auto',
    inception_weights='',
    resize='tf1_bilinear',
    is_shuffle=False,
    kid_subset_size=1000,
    num_samples=10_000,
    num_reference=10_000,
    reference_split='',
    batch_size=250,
    every=0,
    seed=0,
  )
  return _section(defaults, overrides, 'eval')


def with_defaults(stored: dict[str, Any]) -> ml_collections.ConfigDict:
  """An image run's config as stored in its config.json, every missing field at its default.

  A run written before a field or a section existed restores and samples as
  it was trained: the defaults are what the code did before the field.
  """
  model = stored.get('model', {})
  optimizer = stored.get('optimizer', {})
  sections = dict(
    data=data_config(),
    model=model_config(model['name']) if model.get('name') in MODEL_FIELDS else {},
    loss=loss_config(),
    penalty=penalty_config(),
    augment=augment_config(),
    train=train_config(),
    eval=eval_config(),
  )
  config = {**stored}
  for name, defaults in sections.items():
    config[name] = {**(defaults.to_dict() if defaults else {}), **stored.get(name, {})}
  config['optimizer'] = {
    player: {**optimizer_config().to_dict(), **optimizer.get(player, {})}
    for player in ('generator', 'discriminator')
  }
  return ml_collections.ConfigDict(config)
