"""Self-attention over the positions of a feature map (Zhang et al. 2019, SAGAN, section 3).

SAGAN's block lets every position of a map read every other: with x [batch,
H, W, C] and N = H * W positions,

  theta = x W_theta            [N, C/8]   (queries: a 1x1 convolution)
  phi   = maxpool2(x W_phi)    [N/4, C/8] (keys: 1x1 convolution, 2x2 max-pool)
  g     = maxpool2(x W_g)      [N/4, C/2] (values: 1x1 convolution, 2x2 max-pool)
  beta  = softmax(theta phi^T) over the N/4 keys          [N, N/4]
  y     = x + gamma * (beta g) W_o                        [N, C]

with gamma a learned scalar initialised to 0, so the block starts as the
identity and the network learns how much attention to mix in (Zhang et al.
2019, Eq. 3). The C/8 and C/2 widths and the max-pooled keys and values are
those of the authors' released code and of BigGAN-PyTorch's `Attention`
(Brock et al. 2019, whose `layers.py` notes that the paper's description
differs from the released code); the parameters are the four kernels,
without biases, and gamma: 1.25 C^2 + 1 in all.

Spectral normalization of the four 1x1 convolutions (Miyato et al. 2018) is
an option, on in SAGAN and BigGAN, for both players.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.typing import Dtype

from gan_jax.models import layers


class SelfAttention(nn.Module):
  """SAGAN's self-attention block: x + gamma * attention(x), gamma starting at 0.

  The 1x1 convolutions are dense layers over the channels (the same function
  and parameter count; kernels [C, C/8], [C, C/8], [C, C/2], [C/2, C] named
  theta, phi, g and output).

  Attributes:
    spectral_norm: divide each kernel by its largest singular value (Miyato
      et al. 2018; power iteration state in 'batch_stats').
    kernel_init: initializer of the four kernels; orthogonal by default, as
      BigGAN-PyTorch's default `init='ortho'` (Saxe et al. 2014).
    dtype: of the computation and the output (the parameters stay float32);
      the softmax is computed in float32, as it sums over many positions.
  """

  spectral_norm: bool = True
  kernel_init: nn.initializers.Initializer = nn.initializers.orthogonal()
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    """Maps x [batch, H, W, C] (H, W even; C divisible by 8) to [batch, H, W, C]."""
    batch, height, width, channels = x.shape
    if height % 2 or width % 2 or channels % 8:
      raise ValueError(
        f'SelfAttention needs even heights and widths (its keys are 2x2 max-pooled) and '
        f'channels divisible by 8; got a map of shape {x.shape[1:]}.'
      )
    normalization = 'spectral' if self.spectral_norm else 'none'

    def conv1x1(features: int, name: str):
      dense = nn.Dense(
        features, use_bias=False, kernel_init=self.kernel_init, dtype=self.dtype, name=name
      )
      return layers.spectrally_normalized(dense, normalization, train)

    def pooled(h: jax.Array) -> jax.Array:
      return nn.max_pool(h, (2, 2), strides=(2, 2)).reshape(batch, -1, h.shape[-1])

    queries = conv1x1(channels // 8, 'theta')(x).reshape(batch, height * width, channels // 8)
    keys = pooled(conv1x1(channels // 8, 'phi')(x))
    values = pooled(conv1x1(channels // 2, 'g')(x))
    scores = jnp.einsum('bqc,bkc->bqk', queries, keys).astype(jnp.float32)
    weights = jax.nn.softmax(scores, axis=-1).astype(values.dtype)
    attended = jnp.einsum('bqk,bkc->bqc', weights, values)
    attended = attended.reshape(batch, height, width, channels // 2)
    output = conv1x1(channels, 'output')(attended)
    gamma = self.param('gamma', nn.initializers.zeros, ())
    return (x + gamma * output).astype(self.dtype)
