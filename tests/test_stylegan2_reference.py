"""Our StyleGAN2 against the official code: NVlabs/stylegan2-ada-pytorch's weights, our outputs.

tests/fixtures/stylegan2_reference.npz holds the official G's and D's
state_dict, inputs and outputs for two tiny 16x16 cases (written by
tools/make_stylegan2_reference_fixture.py, whose docstring describes them):
conditional G with truncation psi 0.7 and a 'resnet' D with projection;
unconditional G and an 'orig' D with 2 minibatch std channels. Biases, noise
strengths and w_avg are random and a fifth of the activations sit at the
clamp, so a misplaced tensor or a wrong detail shows in the outputs.
"""

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan_jax import errors
from gan_jax.models import stylegan2
from gan_jax.models import stylegan2_weights

FIXTURE = os.path.join(os.path.dirname(__file__), 'fixtures', 'stylegan2_reference.npz')
CASES = ('conditional', 'unconditional')
# float32 through a dozen layers: ours agrees to 1e-6 (8e-7 on the images when measured).
TOLERANCE = 1e-5
WIDTHS = dict(image_size=16, channels=3, channel_base=128, channel_max=32, conv_clamp=1.0)
LABELS = {
  'conditional': dict(num_classes=4, conditioning='projection'),
  'unconditional': dict(num_classes=0, conditioning='none'),
}
DISCRIMINATORS = {
  'conditional': dict(architecture='resnet', minibatch_std_group_size=2),
  'unconditional': dict(architecture='orig', minibatch_std_group_size=4, minibatch_std_channels=2),
}


@functools.lru_cache(maxsize=None)
def reference(case: str) -> dict:
  """The fixture's arrays of one case, without the case's prefix."""
  with np.load(FIXTURE) as arrays:
    prefix = f'{case}.'
    return {key[len(prefix) :]: arrays[key] for key in arrays.files if key.startswith(prefix)}


def state_dict(case: str, player: str) -> dict:
  """The official `player` ('G' or 'D')'s state_dict of `case`, as numpy arrays."""
  prefix = f'{player}.'
  return {key[len(prefix) :]: v for key, v in reference(case).items() if key.startswith(prefix)}


def generator(case: str) -> stylegan2.Generator:
  return stylegan2.Generator(
    **WIDTHS,
    w_dim=16,
    mapping_layers=2,
    truncation_psi=float(reference(case)['truncation_psi']),
    **LABELS[case],
  )


def discriminator(case: str) -> stylegan2.Discriminator:
  return stylegan2.Discriminator(**WIDTHS, **LABELS[case], **DISCRIMINATORS[case])


def nhwc(images: np.ndarray) -> np.ndarray:
  return images.transpose(0, 2, 3, 1)


def generate(model: stylegan2.Generator, variables: dict, z: np.ndarray, labels: np.ndarray):
  """Our ws [B, num_ws, w_dim] and images [B, side, side, C] outside training, in one jit."""

  def styles_and_images(variables, z, labels):
    ws = model.apply(variables, z, labels, train=False, method='styles')
    return ws, model.apply(variables, ws, train=False, method='synthesis')

  return jax.jit(styles_and_images)(variables, jnp.asarray(z), jnp.asarray(labels))


# The reference runs its modulated convolutions fused outside training, ours by default
# around a shared convolution; tests/test_stylegan2.py checks our two forms against each other.
@pytest.mark.parametrize('case', CASES)
def test_generator_matches_the_reference(case):
  arrays = reference(case)
  model = generator(case)
  variables = stylegan2_weights.generator_variables(state_dict(case, 'G'), model, latent_dim=12)
  ws, images = generate(model, variables, arrays['z'], arrays['labels'])
  np.testing.assert_allclose(np.asarray(ws), arrays['ws'], rtol=0, atol=TOLERANCE)
  expected = nhwc(arrays['images'])
  assert np.std(expected) > 0.1  # Images, not a constant the clamp made.
  np.testing.assert_allclose(np.asarray(images), expected, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize('case', CASES)
def test_discriminator_matches_the_reference(case):
  arrays = reference(case)
  model = discriminator(case)
  variables = stylegan2_weights.discriminator_variables(state_dict(case, 'D'), model)
  images, labels = jnp.asarray(nhwc(arrays['real_images'])), jnp.asarray(arrays['real_labels'])
  logits = jax.jit(lambda v, x, y: model.apply(v, x, y, train=False).logits)(
    variables, images, labels
  )
  assert np.std(arrays['logits']) > 0.01  # Each example its own logit.
  np.testing.assert_allclose(np.asarray(logits), arrays['logits'], rtol=0, atol=TOLERANCE)


def _reshaped(weights: dict) -> dict:
  weights = dict(weights)
  weights['synthesis.b8.conv0.weight'] = weights['synthesis.b8.conv0.weight'][:, :-1]
  return weights


def _without(weights: dict) -> dict:
  return {key: v for key, v in weights.items() if key != 'mapping.w_avg'}


def _with_extra(weights: dict) -> dict:
  return {**weights, 'synthesis.b16.skip.weight': np.zeros((8, 16, 1, 1), np.float32)}


def _other_filter(weights: dict) -> dict:
  box = np.full((4, 4), 1 / 16, np.float32)
  return {**weights, 'synthesis.b8.resample_filter': box}


@pytest.mark.parametrize(
  'edit, message',
  [
    (_reshaped, r"'synthesis.b8.conv0.weight' has shape \(16, 31, 3, 3\), ours needs \(16, 32, "),
    (_without, r"no tensor 'mapping.w_avg' for our w_average/latent_average/w_avg;"),
    (_with_extra, r"'synthesis.b16.skip.weight' has no place in ours;"),
    (_other_filter, r"'synthesis.b8.resample_filter' is not the \[1, 3, 3, 1\] filter"),
  ],
)
def test_a_mismatched_state_dict_is_one_line_naming_the_tensor(edit, message):
  weights = edit(state_dict('unconditional', 'G'))
  with pytest.raises(errors.ConfigError, match=message) as raised:
    stylegan2_weights.generator_variables(weights, generator('unconditional'), latent_dim=12)
  assert '\n' not in str(raised.value)


def test_a_resnet_discriminator_does_not_load_into_an_orig_one():
  model = stylegan2.Discriminator(**WIDTHS, **LABELS['conditional'], architecture='orig')
  with pytest.raises(errors.ConfigError, match=r"'b16.skip.weight' has no place in ours"):
    stylegan2_weights.discriminator_variables(state_dict('conditional', 'D'), model)
