"""Writes tests/fixtures/stylegan2_reference.npz, the official StyleGAN2-ADA outputs our G and D match.

Builds NVlabs/stylegan2-ada-pytorch's G and D (`training/networks.py`; on a
CPU its torch_utils ops run their reference implementations, no CUDA build)
at 16x16 with tiny widths (channels min(128 // side, 32): 32, 16, 8), a small
conv_clamp (1) at which a fifth of the activations sit, and two cases:

  conditional    4 classes, G with truncation psi 0.7, D 'resnet' with the
                 projection of its label mapping, minibatch std groups of 2;
  unconditional  G with psi 1, D 'orig', minibatch std groups of 4 with 2
                 channels.

The networks are in eval mode with float32 everywhere (num_fp16_res=0), G with
noise_mode='const' (each layer's noise_const buffer) and the reference's
fused modulated convolutions. Biases, noise strengths and w_avg, zero or one
at init, are drawn at random first, so that each one matters. For each case
`CASE.` prefixes:

  CASE.G.NAME, CASE.D.NAME   every tensor of G's and D's state_dict(), as is
                             ([out, in, kh, kw] convolutions, [out, in] dense);
  CASE.z [4, 12], CASE.labels [4] (int), CASE.truncation_psi;
  CASE.ws [4, 6, 16]         G.mapping(z, one_hot(labels), truncation_psi);
  CASE.images [4, 3, 16, 16] G(z, one_hot(labels)), NCHW;
  CASE.real_images [8, 3, 16, 16], CASE.real_labels [8]: D's inputs (`real_images`);
  CASE.logits [8]            D(real_images, one_hot(real_labels)).

tests/test_stylegan2_reference.py loads the tensors into our modules with
`gan_jax.models.stylegan2_weights` and compares. The file is committed; this
script regenerates it (deterministically, for one torch version). Run it in a
scratch environment with a CPU PyTorch on a checkout of the reference (commit
d72cc7d041b42ec8e806021a205ed9349f87c6a4 made the committed file, with torch
2.13.0+cpu):

  python3 -m venv /tmp/torchref && /tmp/torchref/bin/pip install torch==2.13.0 numpy requests
  /tmp/torchref/bin/python tools/make_stylegan2_reference_fixture.py --reference_dir=DIR
"""

import argparse
import sys

import numpy as np

LATENT_DIM = 12
W_DIM = 16
NUM_CLASSES = 4
IMAGE_SIZE = 16
GENERATOR_BATCH = 4
DISCRIMINATOR_BATCH = 8
# Small enough that about a fifth of the outputs of the layers sit at the clamp (printed below).
CONV_CLAMP = 1.0
WIDTHS = dict(channel_base=128, channel_max=32, num_fp16_res=0, conv_clamp=CONV_CLAMP)
CASES = {
  'conditional': dict(
    num_classes=NUM_CLASSES,
    truncation_psi=0.7,
    discriminator=dict(architecture='resnet', epilogue_kwargs=dict(mbstd_group_size=2)),
  ),
  'unconditional': dict(
    num_classes=0,
    truncation_psi=1.0,
    discriminator=dict(
      architecture='orig', epilogue_kwargs=dict(mbstd_group_size=4, mbstd_num_channels=2)
    ),
  ),
}


def randomize_defaults(torch, *modules) -> None:
  """Draws every bias, noise strength and w_avg from N(0, 0.25): at init they are all 0 or 1,
  which would hide a bias read from the wrong layer or a missing noise strength."""
  with torch.no_grad():
    for module in modules:
      for name, tensor in module.state_dict().items():
        if name.endswith(('bias', 'noise_strength', 'w_avg')):
          tensor.copy_(torch.randn_like(tensor) * 0.5)


def count_clamped(torch, module) -> list:
  """Hooks every clamping layer of `module`; the returned [clamped, total] grows with each
  forward pass by the outputs that sit at the layer's clamp."""
  counts = [0, 0]

  def hook(layer, args, kwargs, output):
    clamp = layer.conv_clamp * kwargs.get('gain', 1)
    counts[0] += int((output.abs() >= clamp * (1 - 1e-6)).sum())
    counts[1] += output.numel()

  for layer in module.modules():
    if getattr(layer, 'conv_clamp', None) is not None:
      layer.register_forward_hook(hook, with_kwargs=True)
  return counts


def real_images(draws: np.random.RandomState) -> np.ndarray:
  """D's inputs [B, 3, side, side]: blocks of 4x4 pixels of N(0, 1) plus N(0, 0.09) pixel noise,
  so that each example gets a logit of its own (D's FIR down-sampling averages i.i.d. pixel
  noise away, and the examples of a noise image would all look alike to its last layers)."""
  blocks = draws.randn(DISCRIMINATOR_BATCH, 3, IMAGE_SIZE // 4, IMAGE_SIZE // 4)
  pixels = draws.randn(DISCRIMINATOR_BATCH, 3, IMAGE_SIZE, IMAGE_SIZE)
  return (np.kron(blocks, np.ones((4, 4))) + 0.3 * pixels).astype(np.float32)


def run_case(torch, networks, name: str, case: dict, seed: int) -> dict:
  """The arrays of one case, keyed without the case prefix."""
  torch.manual_seed(seed)
  shape = dict(c_dim=case['num_classes'], img_resolution=IMAGE_SIZE, img_channels=3)
  generator = networks.Generator(
    z_dim=LATENT_DIM,
    w_dim=W_DIM,
    **shape,
    mapping_kwargs=dict(num_layers=2),
    synthesis_kwargs=WIDTHS,
  ).eval()
  discriminator = networks.Discriminator(**shape, **WIDTHS, **case['discriminator']).eval()
  randomize_defaults(torch, generator, discriminator)
  generator_clamped = count_clamped(torch, generator)
  discriminator_clamped = count_clamped(torch, discriminator)

  draws = np.random.RandomState(seed)
  one_hot = lambda labels: torch.as_tensor(
    np.eye(case['num_classes'], dtype=np.float32)[labels]
    if case['num_classes']
    else np.zeros((len(labels), 0), np.float32)
  )
  arrays = dict(
    z=draws.randn(GENERATOR_BATCH, LATENT_DIM).astype(np.float32),
    labels=draws.randint(max(case['num_classes'], 1), size=GENERATOR_BATCH),
    real_images=real_images(draws),
    real_labels=draws.randint(max(case['num_classes'], 1), size=DISCRIMINATOR_BATCH),
    truncation_psi=np.float32(case['truncation_psi']),
  )
  with torch.no_grad():
    z, c = torch.as_tensor(arrays['z']), one_hot(arrays['labels'])
    arrays['ws'] = generator.mapping(z, c, truncation_psi=case['truncation_psi']).numpy()
    arrays['images'] = generator(
      z, c, truncation_psi=case['truncation_psi'], noise_mode='const'
    ).numpy()
    real = torch.as_tensor(arrays['real_images'])
    arrays['logits'] = discriminator(real, one_hot(arrays['real_labels']))[:, 0].numpy()
  for player, module in (('G', generator), ('D', discriminator)):
    arrays.update({f'{player}.{key}': v.numpy() for key, v in module.state_dict().items()})
  for player, (clamped, total) in (('G', generator_clamped), ('D', discriminator_clamped)):
    print(f'{name}: {player} outputs at the clamp: {clamped} of {total} ({clamped / total:.0%})')
  return arrays


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--reference_dir', required=True, help='a stylegan2-ada-pytorch checkout')
  parser.add_argument('--out', default='tests/fixtures/stylegan2_reference.npz')
  args = parser.parse_args()
  sys.path.insert(0, args.reference_dir)
  import torch  # noqa: PLC0415 (the scratch environment's; the library never imports it)
  from training import networks  # noqa: PLC0415 (importable only once its path is known)

  arrays = {}
  for seed, (name, case) in enumerate(CASES.items()):
    case_arrays = run_case(torch, networks, name, case, seed)
    arrays.update({f'{name}.{key}': value for key, value in case_arrays.items()})
  np.savez_compressed(args.out, **arrays)
  print(f'{args.out}: {len(arrays)} arrays, {sum(a.nbytes for a in arrays.values()):,} bytes')


if __name__ == '__main__':
  main()
