"""Checks the Flax FID Inception against torch-fidelity and writes the golden fixtures.

Both networks get the same seeded random weights
(`inception_weights.random_state_dict`, numpy only), written as `.pth` files by
`torch.save` in both of its formats and read back by gan_jax's PyTorch-free
loader (`load_inception_params`) and by torch-fidelity. Both run on the same
seeded random uint8 images of sizes 28 (grey, repeated to RGB), 32 and 64, so
the TF1 resize is covered too. The script fails unless the pool features and
both kinds of logits agree to 1e-4 relative (max |flax - torch| / max |torch|
per output), and writes

  tests/fixtures/inception_golden.npz   the images, the seeds and torch-fidelity's
                                        outputs (no weights: the test regenerates
                                        them from the seed)
  tests/fixtures/tiny_state_dict_zip.pth, tiny_state_dict_legacy.pth
                                        small state dicts of known values in
                                        both torch.save formats, for the reader's test

Run it from the repository root in a scratch environment with a CPU PyTorch
(exactly this version: a plain `torch` pulls several GB of CUDA packages),
torch-fidelity without its dependencies (its Inception module is imported on
its own, without torchvision) and the project's JAX:

  python3 -m venv /tmp/torchenv
  /tmp/torchenv/bin/pip install torch==2.13.0 jax==0.10.2 flax==0.12.8 absl-py
  /tmp/torchenv/bin/pip install --no-deps torch-fidelity
  PYTHONPATH=. /tmp/torchenv/bin/python tools/compare_inception_with_torch_fidelity.py
"""

import argparse
import collections
import importlib
import importlib.util
import os
import sys
import tempfile
import types
from importlib import metadata

import jax
import numpy as np
import torch

from gan_jax.metrics import inception
from gan_jax.metrics import inception_weights

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'tests', 'fixtures')
# (name, shape) of the golden images: grey MNIST-sized, CIFAR-sized, and 64x64.
IMAGE_GROUPS = (
  ('images_28_grey', (2, 28, 28, 1)),
  ('images_32', (2, 32, 32, 3)),
  ('images_64', (2, 64, 64, 3)),
)
OUTPUTS = ('pool', 'logits_unbiased', 'logits')
TORCH_FIDELITY_FEATURES = ('2048', 'logits_unbiased', 'logits')  # torch-fidelity's names
TOLERANCE = 1e-4


def import_torch_fidelity_inception():
  """torch-fidelity's Inception module, without running its package __init__ (which needs torchvision)."""
  spec = importlib.util.find_spec('torch_fidelity')
  package = types.ModuleType('torch_fidelity')
  package.__path__ = list(spec.submodule_search_locations)
  sys.modules['torch_fidelity'] = package
  return importlib.import_module('torch_fidelity.feature_extractor_inceptionv3')


def write_random_weights(seed, directory):
  """The seeded random weights as .pth files in torch.save's zip and legacy formats."""
  state_dict = collections.OrderedDict(
    (name, torch.from_numpy(array))
    for name, array in inception_weights.random_state_dict(seed).items()
  )
  for name in [n for n in state_dict if n.endswith('bn.running_var')]:
    # Batch norm's update counter: torch-fidelity's strict load wants it.
    state_dict[name.replace('running_var', 'num_batches_tracked')] = torch.tensor(0)
  paths = {
    'zip': os.path.join(directory, 'random_inception_zip.pth'),
    'legacy': os.path.join(directory, 'random_inception_legacy.pth'),
  }
  torch.save(state_dict, paths['zip'])
  torch.save(state_dict, paths['legacy'], _use_new_zipfile_serialization=False)
  return paths


def tiny_state_dict():
  """Known values covering what the reader must handle (see tests/test_inception.py)."""
  state_dict = torch.nn.BatchNorm1d(2).state_dict()  # An OrderedDict with _metadata.
  shared = torch.arange(10, dtype=torch.int32)
  state_dict.update(
    {
      'conv.weight': torch.arange(24, dtype=torch.float32).reshape(2, 3, 2, 2),
      'transposed': torch.arange(6, dtype=torch.float64).reshape(2, 3).t(),
      'tail': shared[4:],  # Offset into a storage shared with the next.
      'every_third': shared[::3],
      'half': torch.tensor([0.5, -2.0], dtype=torch.float16),
      'bfloat16': torch.tensor([1.5, -3.0], dtype=torch.bfloat16),
      'mask': torch.tensor([True, False]),
      'count': torch.tensor(7),
    }
  )
  return state_dict


def activation_summary(network, images):
  """Mean, std and fraction > 0 of each block's output: checks that the random weights keep O(1) activations."""
  rows = []
  hooks = [
    getattr(network, name).register_forward_hook(
      lambda module, inputs, output, name=name: rows.append(
        f'  {name:14s} mean {output.mean():7.3f}  std {output.std():7.3f}  '
        f'positive {(output > 0).float().mean():.2f}'
      )
    )
    for name, _ in network.named_children()
    if name.startswith(('Conv2d', 'Mixed'))
  ]
  network(images)
  for hook in hooks:
    hook.remove()
  return '\n'.join(rows)


def relative_error(actual, reference):
  return float(np.max(np.abs(actual - reference)) / np.max(np.abs(reference)))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--weights_seed', type=int, default=0)
  parser.add_argument('--images_seed', type=int, default=1)
  parser.add_argument('--fixtures', default=FIXTURES)
  args = parser.parse_args()

  torch_fidelity_inception = import_torch_fidelity_inception()
  rng = np.random.default_rng(args.images_seed)
  images = {name: rng.integers(0, 256, shape, dtype=np.uint8) for name, shape in IMAGE_GROUPS}
  expected_variables = inception_weights.state_dict_to_variables(
    inception_weights.random_state_dict(args.weights_seed)
  )

  with tempfile.TemporaryDirectory() as directory:
    paths = write_random_weights(args.weights_seed, directory)
    network = torch_fidelity_inception.FeatureExtractorInceptionV3(
      'inception-v3-compat',
      list(TORCH_FIDELITY_FEATURES),
      feature_extractor_weights_path=paths['legacy'],
    )
    torch_outputs = {}
    with torch.no_grad():
      for name, group in images.items():
        rgb = np.broadcast_to(group, (*group.shape[:3], 3))
        nchw = torch.from_numpy(np.ascontiguousarray(rgb.transpose(0, 3, 1, 2)))
        torch_outputs[name] = dict(zip(OUTPUTS, (t.numpy() for t in network(nchw))))
      print('torch-fidelity activations on', IMAGE_GROUPS[1][0])
      print(
        activation_summary(network, torch.from_numpy(images['images_32'].transpose(0, 3, 1, 2)))
      )

    worst = 0.0
    for file_format, path in paths.items():
      for attempt in ('converted', 'from cache'):
        variables = inception_weights.load_inception_params(path, cache_dir=directory)
        jax.tree.map(np.testing.assert_array_equal, variables, expected_variables)
        print(f'{file_format} .pth, {attempt}: variables equal the seeded ones')
      for name, group in images.items():
        flax_outputs = inception.compute_inception_features(variables, group, batch_size=2)
        errors = {
          output: relative_error(getattr(flax_outputs, output), torch_outputs[name][output])
          for output in OUTPUTS
        }
        worst = max(worst, *errors.values())
        print(
          f'{file_format:6s} {name:15s} max relative error: '
          + ', '.join(f'{k} {v:.2e}' for k, v in errors.items())
        )
  if worst > TOLERANCE:
    sys.exit(f'FAILED: the Flax port differs from torch-fidelity by {worst:.2e} > {TOLERANCE:.0e}.')
  print(f'OK: worst relative error {worst:.2e} <= {TOLERANCE:.0e}')

  os.makedirs(args.fixtures, exist_ok=True)
  golden = {'weights_seed': args.weights_seed, 'images_seed': args.images_seed}
  golden['versions'] = (
    f'torch {torch.__version__}, torch-fidelity {metadata.version("torch-fidelity")}'
  )
  for name, group in images.items():
    golden[name] = group
    for output in OUTPUTS:
      golden[f'{name}/{output}'] = torch_outputs[name][output]
  golden_path = os.path.join(args.fixtures, 'inception_golden.npz')
  np.savez_compressed(golden_path, **golden)
  torch.save(tiny_state_dict(), os.path.join(args.fixtures, 'tiny_state_dict_zip.pth'))
  torch.save(
    tiny_state_dict(),
    os.path.join(args.fixtures, 'tiny_state_dict_legacy.pth'),
    _use_new_zipfile_serialization=False,
  )
  print(f'wrote {os.path.normpath(golden_path)} ({os.path.getsize(golden_path)} bytes)')


if __name__ == '__main__':
  main()
