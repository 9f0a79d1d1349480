"""Counts the parameters of StyleGAN2-ADA's G and D, the reference of tests/test_stylegan2.py.

Instantiates the official PyTorch code (NVlabs/stylegan2-ada-pytorch,
`training/networks.py`; on a CPU its torch_utils ops run their reference
implementations, no CUDA build) with the arguments its `train.py` gives for
two `--cfg`s, and prints the number of elements of `module.parameters()`
(parameters only: the noise_const, w_avg and resample_filter buffers are not
counted, as 'noise_const' and 'w_average' are not 'params' here):

  cifar      --cfg=cifar --cond=1: 32x32, 3 channels, 10 classes, z and w 512,
             mapping 2 layers, channel_base 32768 (fmaps 1), channel_max 512,
             conv_clamp 256, D architecture 'orig', mbstd group 32;
  stylegan2  --cfg=stylegan2 (config F) at 256x256, unconditional: mapping 8
             layers, channel_base 32768, channel_max 512, conv_clamp 256, D
             'resnet', mbstd group 4.

num_fp16_res and the mbstd group change no parameter; they are set as train.py
sets them. Run it in a scratch environment with a CPU PyTorch, on a checkout of
the reference (`git archive` of commit d72cc7d041b42ec8e806021a205ed9349f87c6a4
was used for the constants in the test):

  python3 -m venv /tmp/torchref && /tmp/torchref/bin/pip install torch==2.13.0 numpy requests
  /tmp/torchref/bin/python tools/count_stylegan2_reference_parameters.py --reference_dir=DIR
"""

import argparse
import sys

# train.py: G_kwargs and D_kwargs for all cfgs, then each cfg's spec.
_COMMON = dict(channel_base=32768, channel_max=512, num_fp16_res=4, conv_clamp=256)
CONFIGS = {
  'cifar': dict(
    resolution=32,
    c_dim=10,
    mapping_layers=2,
    discriminator=dict(architecture='orig', epilogue_kwargs=dict(mbstd_group_size=32)),
  ),
  'stylegan2': dict(
    resolution=256,
    c_dim=0,
    mapping_layers=8,
    discriminator=dict(architecture='resnet', epilogue_kwargs=dict(mbstd_group_size=4)),
  ),
}


def count_parameters(module) -> int:
  return sum(parameter.numel() for parameter in module.parameters())


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--reference_dir', required=True, help='a stylegan2-ada-pytorch checkout')
  args = parser.parse_args()
  sys.path.insert(0, args.reference_dir)
  from training import networks  # noqa: PLC0415 (importable only once its path is known)

  for name, config in CONFIGS.items():
    shape = dict(c_dim=config['c_dim'], img_resolution=config['resolution'], img_channels=3)
    generator = networks.Generator(
      z_dim=512,
      w_dim=512,
      **shape,
      mapping_kwargs=dict(num_layers=config['mapping_layers']),
      synthesis_kwargs=_COMMON,
    )
    discriminator = networks.Discriminator(**shape, **_COMMON, **config['discriminator'])
    print(
      f'{name}: G {count_parameters(generator):,} parameters, '
      f'D {count_parameters(discriminator):,} parameters'
    )


if __name__ == '__main__':
  main()
