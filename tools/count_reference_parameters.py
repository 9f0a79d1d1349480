"""Counts the parameters of public PyTorch implementations that gan_jax's architectures follow.

Each reference has one function, `<reference>(source) -> {network: count}`,
which instantiates the reference's own modules from its source tree and counts
their parameters (`sum(p.numel() for p in module.parameters())`: spectral
norm's u and v vectors are buffers, not parameters, as gan_jax keeps them in
'batch_stats'). `tests/test_resnet.py` holds the printed counts as constants
and checks gan_jax's networks against them without PyTorch.

References:
  mimicry   torch_mimicry (Lee & Town 2020, github.com/kwotsin/mimicry, commit
            a7fda06c4aff1e6af8dc4c4a35ed6636e434c766): SNGAN at 32, 48 and 64,
            cGAN-PD (SNGAN with projection D and conditional BN) and SAGAN at
            32, with 10 classes.

Run it from the repository root in a scratch environment with a CPU PyTorch
(exactly this version: a plain `torch` pulls several GB of CUDA packages) and
a checkout of the reference (it needs neither JAX nor gan_jax):

  python3 -m venv /tmp/torchref && /tmp/torchref/bin/pip install torch==2.13.0 numpy
  git clone https://github.com/kwotsin/mimicry /tmp/mimicry
  /tmp/torchref/bin/python tools/count_reference_parameters.py --mimicry=/tmp/mimicry
"""

import argparse
import importlib
import os
import sys
import types

import torch

NUM_CLASSES = 10  # CIFAR-10's, for the class-conditional networks.


def count_parameters(module: torch.nn.Module) -> int:
  """The number of trainable parameters of `module`."""
  return sum(parameter.numel() for parameter in module.parameters())


def _import_without_package_init(package: str, source: str, module: str):
  """`package.module` from the tree `source`/`package`, skipping package/__init__.py.

  torch_mimicry's top-level __init__ imports its training and metrics code
  (TensorFlow, SciPy, ...); the networks need only torch.
  """
  for name in (package, f'{package}.nets'):
    if name not in sys.modules:
      stub = types.ModuleType(name)
      stub.__path__ = [os.path.join(source, *name.split('.'))]
      sys.modules[name] = stub
  return importlib.import_module(f'{package}.{module}')


def mimicry(source: str) -> dict[str, int]:
  """Parameter counts of torch_mimicry's ResNet GANs at 32x32 (and SNGAN's at 48 and 64)."""
  sngan = {
    size: _import_without_package_init('torch_mimicry', source, f'nets.sngan.sngan_{size}')
    for size in (32, 48, 64)
  }
  cgan_pd = _import_without_package_init('torch_mimicry', source, 'nets.cgan_pd.cgan_pd_32')
  sagan = _import_without_package_init('torch_mimicry', source, 'nets.sagan.sagan_32')
  networks = {}
  for size, module in sngan.items():
    networks[f'SNGANGenerator{size}'] = getattr(module, f'SNGANGenerator{size}')()
    networks[f'SNGANDiscriminator{size}'] = getattr(module, f'SNGANDiscriminator{size}')()
  networks['CGANPDGenerator32'] = cgan_pd.CGANPDGenerator32(num_classes=NUM_CLASSES)
  networks['CGANPDDiscriminator32'] = cgan_pd.CGANPDDiscriminator32(num_classes=NUM_CLASSES)
  networks['SAGANGenerator32'] = sagan.SAGANGenerator32(num_classes=NUM_CLASSES)
  networks['SAGANDiscriminator32'] = sagan.SAGANDiscriminator32(num_classes=NUM_CLASSES)
  return {name: count_parameters(network) for name, network in networks.items()}


REFERENCES = {'mimicry': mimicry}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  for name in REFERENCES:
    parser.add_argument(f'--{name}', metavar='PATH', help=f'a checkout of the {name} reference')
  args = parser.parse_args()
  given = {name: getattr(args, name) for name in REFERENCES if getattr(args, name)}
  if not given:
    parser.error(f'give at least one reference checkout: {", ".join("--" + n for n in REFERENCES)}')
  print(f'torch {torch.__version__}')
  for name, source in given.items():
    for network, count in REFERENCES[name](os.path.abspath(source)).items():
      print(f'{name} {network}: {count:,}')


if __name__ == '__main__':
  main()
