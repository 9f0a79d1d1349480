"""Counts the parameters of BigGAN-PyTorch's G and D, the reference of tests/test_biggan.py.

Instantiates the authors' PyTorch code (ajbrock/BigGAN-PyTorch, `BigGAN.py`
and `layers.py`) at the layouts gan_jax's `biggan` family makes and prints
the number of elements of `model.parameters()` (the spectral norms' u and
sigma are buffers there, as they are 'batch_stats' here, so neither side
counts them):

  cifar32      resolution 32, G_ch = D_ch = 64, dim_z 128, 10 classes, no
               attention (scripts/launch_cifar_ema.sh), with the paper's
               shared embedding (shared_dim 128) and hierarchical z
               (--G_shared --hier; that script leaves both off);
  imagenet128  resolution 128, G_ch = D_ch = 96, dim_z 120, shared_dim 128,
               hierarchical z, 1000 classes, attention at 64
               (scripts/launch_BigGAN_bs256x8.sh).

Run it in a scratch environment with a CPU PyTorch, on a checkout of
BigGAN-PyTorch (git archive of commit 98459431a5d618d644d54cd1e9fceb1e5045648d
was used for the constants in the test):

  python3 -m venv /tmp/torchref && /tmp/torchref/bin/pip install torch==2.13.0 numpy
  /tmp/torchref/bin/python tools/count_biggan_reference_parameters.py --reference_dir=DIR
"""

import argparse
import contextlib
import io
import sys

LAYOUTS = {
  'cifar32': dict(
    generator=dict(G_ch=64, dim_z=128, resolution=32, G_attn='0', n_classes=10),
    discriminator=dict(D_ch=64, resolution=32, D_attn='0', n_classes=10),
  ),
  'imagenet128': dict(
    generator=dict(G_ch=96, dim_z=120, resolution=128, G_attn='64', n_classes=1000),
    discriminator=dict(D_ch=96, resolution=128, D_attn='64', n_classes=1000),
  ),
}
# The paper's conditioning of G (Brock et al. 2019, section 3).
SHARED_AND_HIERARCHICAL = dict(G_shared=True, shared_dim=128, hier=True)


def count_parameters(module) -> int:
  return sum(parameter.numel() for parameter in module.parameters())


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--reference_dir', required=True, help='a BigGAN-PyTorch checkout')
  args = parser.parse_args()
  sys.path.insert(0, args.reference_dir)
  import BigGAN  # noqa: PLC0415 (the reference is importable only once its path is known)

  for name, layout in LAYOUTS.items():
    with contextlib.redirect_stdout(io.StringIO()):  # The reference prints as it builds.
      generator = BigGAN.Generator(
        **layout['generator'], **SHARED_AND_HIERARCHICAL, skip_init=True, no_optim=True
      )
      discriminator = BigGAN.Discriminator(**layout['discriminator'], skip_init=True)
    print(
      f'{name}: G {count_parameters(generator):,} parameters, '
      f'D {count_parameters(discriminator):,} parameters'
    )


if __name__ == '__main__':
  main()
