"""DCGAN's strided and transposed convolutions, in forms XLA:CPU differentiates fast.

On XLA:CPU the kernel gradient of `nn.ConvTranspose(features, (4, 4),
strides=(2, 2))` is a convolution of an input dilated by 2 with an
output-sized window, which takes 1.3-1.9 s per DCGAN layer at batch 64 on two
cores against 50-100 ms for the forward pass (`tools/bench_conv_transpose.py`);
the input gradient of a stride-2 `nn.Conv` is a convolution of the output
gradient dilated by 2, which takes 1.5-4x the forward pass's time. The
modules here compute the same functions from the same parameter ('kernel',
with the shape and layout of the flax layer they replace, so checkpoints and
weights ported from other frameworks stay interchangeable) in forms whose
gradients avoid those dilated convolutions: D's strided convolution takes its
input gradient from a stride-1 convolution of the space-to-depth rearranged
map (a matrix product on the smallest maps), and G's transposed convolution is
the transpose of D's, so its three computations are D's three.

Every module computes in its `dtype` (bfloat16 for mixed precision; see
`gan_jax.models`) from float32 parameters, as flax's layers do with `dtype`
and `param_dtype`; the normalizations compute their statistics in float32.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.typing import Dtype
from jax import lax

from gan_jax.models.conv_transpose import adjoint_kernel


class StridedConv(nn.Module):
  """A 4x4, stride-2 convolution that halves height and width, DCGAN's D layer.

  Equals `nn.Conv(features, (4, 4), strides=(2, 2), padding=((1, 1), (1,
  1)), use_bias=False)`, PyTorch's `Conv2d(..., 4, stride=2, padding=1)` of
  Radford et al. 2015: the forward pass and the kernel gradient are XLA's
  strided convolution itself, the input gradient `_transpose_of_strided_conv`
  (see `strided_conv`).

  Attributes:
    features: output channels.
    kernel_init: initializer of the [4, 4, in, features] kernel (flax's
      convolution default unless given).
    dtype: of the computation and the output; the kernel is stored in float32.
  """

  features: int
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """Maps x [batch, H, W, in], H and W even, to [batch, H/2, W/2, features]."""
    if x.shape[1] % 2 or x.shape[2] % 2:
      raise ValueError(f'StridedConv halves even heights and widths; got a {x.shape[1:3]} map.')
    kernel = self.param('kernel', self.kernel_init, (4, 4, x.shape[-1], self.features))
    return strided_conv(*nn.dtypes.promote_dtype(x, kernel, dtype=self.dtype))


_NHWC = ('NHWC', 'HWIO', 'NHWC')


def _direct_strided_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
  return lax.conv_general_dilated(x, kernel, (2, 2), ((1, 1), (1, 1)), dimension_numbers=_NHWC)


def _block_kernel(kernel: jax.Array) -> jax.Array:
  """A [4, 4, in, out] kernel as the [2, 2, (s_h, s_w, in), out] kernel of the block form."""
  in_features = kernel.shape[2]
  return (
    kernel.reshape(2, 2, 2, 2, in_features, -1)  # (u_h, s_h, u_w, s_w, in, out)
    .transpose(0, 2, 1, 3, 4, 5)
    .reshape(2, 2, 4 * in_features, -1)
  )


@jax.custom_vjp
def strided_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """The 4x4, stride-2, padding-1 convolution of x [b, H, W, in] with kernel [4, 4, in, out].

  Returns [b, H/2, W/2, out]. Of two forms of the same function, each step
  takes the one XLA:CPU runs faster: the strided convolution for the output
  and the kernel gradient, `_transpose_of_strided_conv` for the input gradient.
  Its backward pass is made of JAX operations, so it differentiates again
  (gradient penalties); forward-mode differentiation is not defined.
  """
  return _direct_strided_conv(x, kernel)


def _strided_conv_forward(x, kernel):
  return _direct_strided_conv(x, kernel), (x, kernel)


def _strided_conv_backward(residuals, output_gradient):
  x, kernel = residuals
  _, kernel_vjp = jax.vjp(lambda kernel: _direct_strided_conv(x, kernel), kernel)
  return _transpose_of_strided_conv(output_gradient, kernel), kernel_vjp(output_gradient)[0]


strided_conv.defvjp(_strided_conv_forward, _strided_conv_backward)


class StridedConvTranspose(nn.Module):
  """A 4x4, stride-2 transposed convolution that doubles height and width, DCGAN's G layer.

  Equals `nn.ConvTranspose(features, (4, 4), strides=(2, 2), padding='SAME',
  use_bias=False)` (flax's 'SAME' is ((2, 2), (2, 2)) here), the equivalent
  of PyTorch's `ConvTranspose2d(..., 4, stride=2, padding=1)` of Radford et
  al. 2015, computed as the transpose of `strided_conv` (see
  `strided_conv_transpose`).

  Attributes:
    features: output channels.
    kernel_init: initializer of the [4, 4, in, features] kernel (flax's
      convolution default unless given).
    dtype: of the computation and the output; the kernel is stored in float32.
  """

  features: int
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """Maps x [batch, H, W, in] to [batch, 2H, 2W, features]."""
    kernel = self.param('kernel', self.kernel_init, (4, 4, x.shape[-1], self.features))
    return strided_conv_transpose(*nn.dtypes.promote_dtype(x, kernel, dtype=self.dtype))


@jax.custom_vjp
def strided_conv_transpose(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """The 4x4, stride-2 transposed convolution of x [b, H, W, in] with flax's kernel
  [4, 4, in, out]: [b, 2H, 2W, out].

  With S the stride-2 convolution `strided_conv` by K = `adjoint_kernel(kernel)`,
  mapping [b, 2H, 2W, out] to [b, H, W, in], this is its transpose S^T, and
  each of its three computations is one that D's layer already makes fast:
    output          S^T x, the input gradient of S (`_transpose_of_strided_conv`);
    input gradient  S g, S's forward pass;
    kernel gradient the kernel gradient of S at input g and output gradient x.
  This is how oneDNN and cuDNN compute a transposed convolution, as the data
  gradient of a convolution. XLA:CPU's own forms are slower: the kernel
  gradient of `nn.ConvTranspose` convolves the dilated input with an
  output-sized window, 1.3-1.9 s per DCGAN layer at batch 64 on two cores
  (`tools/bench_conv_transpose.py`). Its backward pass is made of JAX
  operations, so it differentiates again; forward-mode is not defined.
  """
  return _transpose_of_strided_conv(x, adjoint_kernel(kernel))


# The largest map (height x width of y) on which S^T y is computed as a matrix product.
_MATMUL_MAX_POSITIONS = 16


def _transpose_of_strided_conv(y: jax.Array, kernel: jax.Array) -> jax.Array:
  """S^T y: the transpose of the 4x4, stride-2, padding-1 convolution S by kernel
  [4, 4, in, out], at y [b, H, W, out]: [b, 2H, 2W, in]. It is S's input gradient.

  With xp the input of S zero-padded by one, output m of S reads xp[2m + t]
  for the taps t = 2u + s (u, s in {0, 1}): tap s of the 2x2 block m + u of
  xp. So S^T y is, in the space-to-depth blocks of xp, the sum over (u_h, u_w)
  of y shifted by u and multiplied by the kernel's taps (u_h, ., u_w, .),
  followed by depth to space and the removal of the padding. On maps of more
  than `_MATMUL_MAX_POSITIONS` positions that sum is one 'VALID' 2x2
  convolution of y padded by one (`_transpose_as_convolution`); on smaller
  maps it is one matrix product and four shifted additions
  (`_transpose_as_matmul`). At batch 64 on two AMD EPYC cores XLA:CPU
  computes the product form 1.9x faster on DCGAN's 8x8x256 <- 4x4x512 (31
  against 57 ms), 2.2x on 8x8x512 <- 4x4x1024 and 4.8x on 4x4x512 <-
  2x2x1024, and 1.3x slower on 16x16x128 <- 8x8x256.
  """
  if y.shape[1] * y.shape[2] <= _MATMUL_MAX_POSITIONS:
    blocks = _transpose_as_matmul(y, kernel)
  else:
    blocks = _transpose_as_convolution(y, kernel)
  batch, height, width, _ = y.shape
  padded = blocks.transpose(0, 1, 3, 2, 4, 5).reshape(  # (b, block_h, s_h, block_w, s_w, in)
    batch, 2 * height + 2, 2 * width + 2, kernel.shape[2]
  )
  return padded[:, 1:-1, 1:-1]


def _transpose_as_convolution(y: jax.Array, kernel: jax.Array) -> jax.Array:
  """The blocks of S^T y, [b, H + 1, W + 1, s_h, s_w, in], as a 'VALID' 2x2
  convolution of y padded by one with the block kernel flipped in space and
  its channels swapped."""
  batch, height, width, _ = y.shape
  blocks = lax.conv_general_dilated(
    jnp.pad(y, ((0, 0), (1, 1), (1, 1), (0, 0))),
    jnp.flip(_block_kernel(kernel), (0, 1)).swapaxes(2, 3),
    (1, 1),
    'VALID',
    dimension_numbers=_NHWC,
  )
  return blocks.reshape(batch, height + 1, width + 1, 2, 2, kernel.shape[2])


def _transpose_as_matmul(y: jax.Array, kernel: jax.Array) -> jax.Array:
  """The blocks of S^T y, [b, H + 1, W + 1, s_h, s_w, in], as one matrix product
  giving every position's 16 taps, each added into the block it falls in."""
  in_features = kernel.shape[2]
  taps = jnp.einsum('bhwo,tco->bhwtc', y, kernel.reshape(16, in_features, -1))
  taps = taps.reshape(*y.shape[:3], 2, 2, 2, 2, in_features)  # (u_h, s_h, u_w, s_w, in)
  return sum(
    jnp.pad(taps[:, :, :, u_h, :, u_w], ((0, 0), (u_h, 1 - u_h), (u_w, 1 - u_w)) + ((0, 0),) * 3)
    for u_h in (0, 1)
    for u_w in (0, 1)
  )


def _strided_conv_transpose_forward(x, kernel):
  return strided_conv_transpose(x, kernel), (x, kernel)


def _strided_conv_transpose_backward(residuals, output_gradient):
  x, kernel = residuals
  adjoint = adjoint_kernel(kernel)
  input_gradient = _direct_strided_conv(output_gradient, adjoint)
  _, kernel_vjp = jax.vjp(lambda k: _direct_strided_conv(output_gradient, k), adjoint)
  return input_gradient, adjoint_kernel(kernel_vjp(x)[0])


strided_conv_transpose.defvjp(_strided_conv_transpose_forward, _strided_conv_transpose_backward)


class ConvTransposeFromVector(nn.Module):
  """A VALID transposed convolution applied to a 1x1 map, as a dense layer.

  Equals `nn.ConvTranspose(features, (size, size), padding='VALID',
  use_bias=False)` on x[:, None, None, :], the first generator layer of DCGAN
  (Radford et al. 2015). On a single input pixel flax's transposed convolution
  reads the kernel back to front: y[i, j] = x @ kernel[size-1-i, size-1-j], so
  it is one matrix product with the spatially flipped kernel.

  Attributes:
    features: output channels.
    size: height and width of the output map (the kernel size).
    kernel_init: initializer of the [size, size, in, features] kernel (flax's
      convolution default unless given).
    dtype: of the computation and the output; the kernel is stored in float32.
  """

  features: int
  size: int
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """Maps x [batch, in] to [batch, size, size, features]."""
    kernel = self.param(
      'kernel', self.kernel_init, (self.size, self.size, x.shape[-1], self.features)
    )
    x, kernel = nn.dtypes.promote_dtype(x, kernel, dtype=self.dtype)
    return jnp.einsum('bi,hwio->bhwo', x, kernel[::-1, ::-1])


# How a discriminator may normalize its hidden layers.
NORMALIZATIONS = ('batch', 'layer', 'spectral', 'none')
# And a generator: virtual batch norm too (Salimans et al. 2016 use it in G only).
GENERATOR_NORMALIZATIONS = ('batch', 'virtual_batch', 'layer', 'spectral', 'none')


def spectrally_normalized(layer: nn.Module, normalization: str, train: bool):
  """`layer` as a function of its input, its weight divided by its largest
  singular value (Miyato et al. 2018, Eq. 7, estimated by one power iteration
  per training step) when `normalization` is 'spectral'; `layer` as is else.

  The power iteration's vector u and the estimate sigma live in the
  'batch_stats' collection, so they are updated in training, checkpointed and
  used as they are in evaluation, like batch-norm statistics.
  """
  if normalization != 'spectral':
    return layer
  return lambda x: nn.SpectralNorm(layer)(x, update_stats=train)


def feature_normalization(
  normalization: str, batch_norm, virtual_batch_norm=None, dtype: Dtype = jnp.float32
):
  """The normalization applied after a hidden layer: `batch_norm()` for
  'batch', `virtual_batch_norm()` for 'virtual_batch', a LayerNorm over the
  features for 'layer' (the WGAN-GP critic's choice: no coupling between
  examples, Gulrajani et al. 2017), identity for 'spectral' and 'none'
  (spectral normalization acts on the weights instead). The LayerNorm outputs
  `dtype` (its statistics are float32, as flax computes them).
  """
  if normalization == 'batch':
    return batch_norm()
  if normalization == 'virtual_batch':
    return virtual_batch_norm()
  if normalization == 'layer':
    return nn.LayerNorm(epsilon=1e-5, dtype=dtype)
  return lambda h: h


class VirtualBatchNorm(nn.Module):
  """Virtual batch normalization (Salimans et al. 2016, section 3.4).

  Batch norm makes an example's output depend on the other examples of its
  batch. VBN normalizes every example with the statistics of a fixed
  reference batch plus the example itself, so a generated image depends on
  its own z only. The caller runs the reference batch through the network
  ahead of the real one: the first `reference_size` rows of the input are the
  reference batch's activations, normalized with the reference statistics
  alone; every other row i with the weighted union (as in the authors' code)

    mean_i = (m_i + R m_ref) / (R + 1),  var_i = (s_i + R s_ref) / (R + 1) - mean_i^2,

  where m and s are means of h and h^2 over the batch and spatial axes (one
  example's spatial axes for m_i, s_i) and R = reference_size. Nothing is kept
  between calls, so training and evaluation compute the same function.

  Attributes:
    reference_size: R, the number of leading reference rows.
    epsilon: added to the variance.
    scale_init: initializer of the per-feature scale.
    dtype: of the output. The statistics and the normalization are computed
      in float32 whatever the input's dtype, as flax's BatchNorm does: the
      mean of squares minus the squared mean cancels digits bfloat16 lacks.
  """

  reference_size: int
  epsilon: float = 1e-5
  scale_init: nn.initializers.Initializer = nn.initializers.ones
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, h: jax.Array) -> jax.Array:
    """Normalizes h [R + batch, ..., features] per feature; same shape out, in `dtype`."""
    h = h.astype(jnp.float32)
    features = h.shape[-1]
    spatial_axes = tuple(range(1, h.ndim - 1))
    example_mean = jnp.mean(h, axis=spatial_axes, keepdims=True)
    example_mean_square = jnp.mean(jnp.square(h), axis=spatial_axes, keepdims=True)
    reference_mean = jnp.mean(example_mean[: self.reference_size], axis=0)
    reference_mean_square = jnp.mean(example_mean_square[: self.reference_size], axis=0)
    weight = 1.0 / (self.reference_size + 1)
    is_reference = (jnp.arange(h.shape[0]) < self.reference_size).reshape(
      (-1,) + (1,) * (h.ndim - 1)
    )
    mean = jnp.where(
      is_reference, reference_mean, weight * example_mean + (1 - weight) * reference_mean
    )
    mean_square = jnp.where(
      is_reference,
      reference_mean_square,
      weight * example_mean_square + (1 - weight) * reference_mean_square,
    )
    variance = jnp.maximum(mean_square - jnp.square(mean), 0.0)
    scale = self.param('scale', self.scale_init, (features,))
    bias = self.param('bias', nn.initializers.zeros, (features,))
    normalized = (h - mean) * jax.lax.rsqrt(variance + self.epsilon) * scale + bias
    return normalized.astype(self.dtype)


def with_reference_batch(
  z: jax.Array, labels: jax.Array | None, reference_size: int, num_classes: int
) -> tuple[jax.Array, jax.Array | None]:
  """[z_ref; z] and [y_ref; y]: G's inputs with VBN's fixed reference batch in front.

  z_ref [reference_size, latent_dim] is drawn from N(0, I) with a fixed key, so
  the reference batch is the same at every call, on every device and in every
  run; y_ref cycles through the classes 0, 1, ..., num_classes - 1. Labels
  stay None for an unconditional G.
  """
  z_ref = jax.random.normal(jax.random.PRNGKey(0), (reference_size, z.shape[-1]), z.dtype)
  if labels is None:
    return jnp.concatenate([z_ref, z]), None
  labels_ref = jnp.arange(reference_size, dtype=labels.dtype) % num_classes
  return jnp.concatenate([z_ref, z]), jnp.concatenate([labels_ref, labels])
