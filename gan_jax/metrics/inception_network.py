"""The FID Inception-v3 network in Flax.

This is the network of TensorFlow's 2015-12-05 Inception graph
(`classify_image_graph_def.pb`) that the FID paper's code (TTUR, Heusel et
al. 2017), pytorch-fid and torch-fidelity use, ported layer for layer from
torch-fidelity's `FeatureExtractorInceptionV3`. It is an Inception-v3
(Szegedy et al. 2016) that differs from torchvision's in ways that change
every FID value, and all of which are kept, here and in `inception`:

  * images are resized to 299x299 with TF1's bilinear resize (no half-pixel
    centres; `inception.resize_like_tensorflow1`), then mapped to [-1, 1] by
    (x - 128) / 128, from uint8 values;
  * the average pools of Mixed_5b-5d, 6b-6e and 7b do not count the zero
    padding (TF's avg_pool);
  * the pool branch of Mixed_7c is a 3x3 max pool, not an average pool;
  * batch norm uses eps = 1e-3, and the classifier has the 2015 graph's 1008
    outputs (torchvision's has 1000).

The outputs are the 2048-d pool3 features that FID and KID compare and the
1008 logits. The Inception Score of Salimans et al.'s code takes the softmax
of the logits *without* the classifier's bias (it reads the MatMul op of the
graph), which torch-fidelity calls 'logits_unbiased'; both are returned.

Its variables come from `inception_weights`; `inception.compute_inception_features`
runs it on uint8 images.
"""

import functools
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

INPUT_SIZE = 299
NUM_LOGITS = 1008
POOL_FEATURES = 2048

# Float32 throughout: 'highest' stops GPUs from running float32 convolutions
# in TF32, which would move the features by ~1e-3 relative. CPUs ignore it.
_PRECISION = jax.lax.Precision.HIGHEST


class InceptionOutputs(NamedTuple):
  """What the network computes for a batch of N images.

  Attributes:
    pool: [N, 2048] pool3 features (the mean of Mixed_7c over space), for
      FID, KID and precision/recall.
    logits_unbiased: [N, 1008] pool @ W, without the bias: the logits whose
      softmax gives the Inception Score of Salimans et al. and torch-fidelity.
    logits: [N, 1008] pool @ W + b, the classifier's full logits.
  """

  pool: jax.Array
  logits_unbiased: jax.Array
  logits: jax.Array


class BasicConv(nn.Module):
  """Convolution without bias, batch norm (eps 1e-3, running statistics), ReLU.

  Attributes:
    features: output channels.
    kernel_size: (kh, kw).
    strides: (sh, sw).
    padding: (ph, pw) zeros on each side; (0, 0) is VALID.
  """

  features: int
  kernel_size: tuple[int, int] = (1, 1)
  strides: tuple[int, int] = (1, 1)
  padding: tuple[int, int] = (0, 0)

  @nn.compact
  def __call__(self, x):
    x = nn.Conv(
      self.features,
      self.kernel_size,
      self.strides,
      padding=[(p, p) for p in self.padding],
      use_bias=False,
      precision=_PRECISION,
      name='conv',
    )(x)
    x = nn.BatchNorm(use_running_average=True, epsilon=1e-3, name='bn')(x)
    return nn.relu(x)


def _avg_pool_3x3_same(x):
  # TF's avg_pool divides by the number of real pixels in the window.
  return nn.avg_pool(x, (3, 3), (1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)


def _max_pool_3x3_stride2(x):
  return nn.max_pool(x, (3, 3), (2, 2))


class InceptionA(nn.Module):
  """Mixed_5b-5d at 35x35: 1x1, 5x5, double 3x3 and pool branches."""

  pool_features: int

  @nn.compact
  def __call__(self, x):
    branch1x1 = BasicConv(64, name='branch1x1')(x)
    branch5x5 = BasicConv(48, name='branch5x5_1')(x)
    branch5x5 = BasicConv(64, (5, 5), padding=(2, 2), name='branch5x5_2')(branch5x5)
    branch3x3dbl = BasicConv(64, name='branch3x3dbl_1')(x)
    branch3x3dbl = BasicConv(96, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(branch3x3dbl)
    branch3x3dbl = BasicConv(96, (3, 3), padding=(1, 1), name='branch3x3dbl_3')(branch3x3dbl)
    branch_pool = BasicConv(self.pool_features, name='branch_pool')(_avg_pool_3x3_same(x))
    return jnp.concatenate([branch1x1, branch5x5, branch3x3dbl, branch_pool], axis=-1)


class InceptionB(nn.Module):
  """Mixed_6a: 35x35 -> 17x17 by strided 3x3 convolutions and a max pool."""

  @nn.compact
  def __call__(self, x):
    branch3x3 = BasicConv(384, (3, 3), strides=(2, 2), name='branch3x3')(x)
    branch3x3dbl = BasicConv(64, name='branch3x3dbl_1')(x)
    branch3x3dbl = BasicConv(96, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(branch3x3dbl)
    branch3x3dbl = BasicConv(96, (3, 3), strides=(2, 2), name='branch3x3dbl_3')(branch3x3dbl)
    return jnp.concatenate([branch3x3, branch3x3dbl, _max_pool_3x3_stride2(x)], axis=-1)


class InceptionC(nn.Module):
  """Mixed_6b-6e at 17x17: 7x7 convolutions factorized into 1x7 and 7x1."""

  channels_7x7: int

  @nn.compact
  def __call__(self, x):
    c7 = self.channels_7x7
    conv_1x7 = functools.partial(BasicConv, kernel_size=(1, 7), padding=(0, 3))
    conv_7x1 = functools.partial(BasicConv, kernel_size=(7, 1), padding=(3, 0))
    branch1x1 = BasicConv(192, name='branch1x1')(x)
    branch7x7 = BasicConv(c7, name='branch7x7_1')(x)
    branch7x7 = conv_1x7(c7, name='branch7x7_2')(branch7x7)
    branch7x7 = conv_7x1(192, name='branch7x7_3')(branch7x7)
    branch7x7dbl = BasicConv(c7, name='branch7x7dbl_1')(x)
    branch7x7dbl = conv_7x1(c7, name='branch7x7dbl_2')(branch7x7dbl)
    branch7x7dbl = conv_1x7(c7, name='branch7x7dbl_3')(branch7x7dbl)
    branch7x7dbl = conv_7x1(c7, name='branch7x7dbl_4')(branch7x7dbl)
    branch7x7dbl = conv_1x7(192, name='branch7x7dbl_5')(branch7x7dbl)
    branch_pool = BasicConv(192, name='branch_pool')(_avg_pool_3x3_same(x))
    return jnp.concatenate([branch1x1, branch7x7, branch7x7dbl, branch_pool], axis=-1)


class InceptionD(nn.Module):
  """Mixed_7a: 17x17 -> 8x8 by strided convolutions and a max pool."""

  @nn.compact
  def __call__(self, x):
    branch3x3 = BasicConv(192, name='branch3x3_1')(x)
    branch3x3 = BasicConv(320, (3, 3), strides=(2, 2), name='branch3x3_2')(branch3x3)
    branch7x7x3 = BasicConv(192, name='branch7x7x3_1')(x)
    branch7x7x3 = BasicConv(192, (1, 7), padding=(0, 3), name='branch7x7x3_2')(branch7x7x3)
    branch7x7x3 = BasicConv(192, (7, 1), padding=(3, 0), name='branch7x7x3_3')(branch7x7x3)
    branch7x7x3 = BasicConv(192, (3, 3), strides=(2, 2), name='branch7x7x3_4')(branch7x7x3)
    return jnp.concatenate([branch3x3, branch7x7x3, _max_pool_3x3_stride2(x)], axis=-1)


class InceptionE(nn.Module):
  """Mixed_7b and 7c at 8x8: 3x3 convolutions split into parallel 1x3 and 3x1.

  Attributes:
    max_pool: the pool branch max-pools (Mixed_7c in the TF graph, torch-fidelity's
      FIDInceptionE_2) instead of average-pooling without padding (Mixed_7b).
  """

  max_pool: bool

  @nn.compact
  def __call__(self, x):
    conv_1x3 = functools.partial(BasicConv, kernel_size=(1, 3), padding=(0, 1))
    conv_3x1 = functools.partial(BasicConv, kernel_size=(3, 1), padding=(1, 0))
    branch1x1 = BasicConv(320, name='branch1x1')(x)
    branch3x3 = BasicConv(384, name='branch3x3_1')(x)
    branch3x3 = jnp.concatenate(
      [
        conv_1x3(384, name='branch3x3_2a')(branch3x3),
        conv_3x1(384, name='branch3x3_2b')(branch3x3),
      ],
      axis=-1,
    )
    branch3x3dbl = BasicConv(448, name='branch3x3dbl_1')(x)
    branch3x3dbl = BasicConv(384, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(branch3x3dbl)
    branch3x3dbl = jnp.concatenate(
      [
        conv_1x3(384, name='branch3x3dbl_3a')(branch3x3dbl),
        conv_3x1(384, name='branch3x3dbl_3b')(branch3x3dbl),
      ],
      axis=-1,
    )
    if self.max_pool:
      pooled = nn.max_pool(x, (3, 3), (1, 1), padding=((1, 1), (1, 1)))
    else:
      pooled = _avg_pool_3x3_same(x)
    branch_pool = BasicConv(192, name='branch_pool')(pooled)
    return jnp.concatenate([branch1x1, branch3x3, branch3x3dbl, branch_pool], axis=-1)


class Logits(nn.Module):
  """The 2048 -> 1008 classifier, returning its logits without and with the bias."""

  @nn.compact
  def __call__(self, pool):
    kernel = self.param('kernel', nn.initializers.lecun_normal(), (pool.shape[-1], NUM_LOGITS))
    bias = self.param('bias', nn.initializers.zeros, (NUM_LOGITS,))
    logits_unbiased = jnp.dot(pool, kernel, precision=_PRECISION)
    return logits_unbiased, logits_unbiased + bias


class InceptionV3(nn.Module):
  """The FID Inception-v3 (see the module docstring for how it differs).

  Submodule names are torch-fidelity's, so that weight names map one to one.
  Variables: 'params' and 'batch_stats' (the batch norms' running statistics,
  never updated: the network only runs in inference mode).
  """

  @nn.compact
  def __call__(self, images) -> InceptionOutputs:
    """Features of images already resized and normalized.

    Args:
      images: [N, 299, 299, 3] float32 in [-1, 1], i.e. (x - 128) / 128 of
        RGB values in [0, 255] resized with `resize_like_tensorflow1`.

    Returns:
      InceptionOutputs with pool [N, 2048] and logits [N, 1008].
    """
    x = BasicConv(32, (3, 3), strides=(2, 2), name='Conv2d_1a_3x3')(images)  # 149x149x32
    x = BasicConv(32, (3, 3), name='Conv2d_2a_3x3')(x)  # 147x147x32
    x = BasicConv(64, (3, 3), padding=(1, 1), name='Conv2d_2b_3x3')(x)  # 147x147x64
    x = _max_pool_3x3_stride2(x)  # 73x73x64
    x = BasicConv(80, name='Conv2d_3b_1x1')(x)  # 73x73x80
    x = BasicConv(192, (3, 3), name='Conv2d_4a_3x3')(x)  # 71x71x192
    x = _max_pool_3x3_stride2(x)  # 35x35x192
    x = InceptionA(32, name='Mixed_5b')(x)  # 35x35x256
    x = InceptionA(64, name='Mixed_5c')(x)  # 35x35x288
    x = InceptionA(64, name='Mixed_5d')(x)  # 35x35x288
    x = InceptionB(name='Mixed_6a')(x)  # 17x17x768
    x = InceptionC(128, name='Mixed_6b')(x)
    x = InceptionC(160, name='Mixed_6c')(x)
    x = InceptionC(160, name='Mixed_6d')(x)
    x = InceptionC(192, name='Mixed_6e')(x)  # 17x17x768
    x = InceptionD(name='Mixed_7a')(x)  # 8x8x1280
    x = InceptionE(max_pool=False, name='Mixed_7b')(x)  # 8x8x2048
    x = InceptionE(max_pool=True, name='Mixed_7c')(x)  # 8x8x2048
    pool = jnp.mean(x, axis=(1, 2))
    logits_unbiased, logits = Logits(name='fc')(pool)
    return InceptionOutputs(pool, logits_unbiased, logits)
