"""Toy studies (Strakhov 2018): data, models, the scanned train loop, outcomes, the app."""

import json
import math
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from PIL import Image
from scipy import stats

from configs import toy_gaussian
from configs import toy_mixture
from configs import toy_mixture_far
from configs import toy_mixture_mlp
from gan_jax import errors
from gan_jax import models
from gan_jax.models import toy
from gan_jax.studies import toy_data
from gan_jax.studies import toy_evaluation
from gan_jax.studies import toy_plots
from gan_jax.studies import toy_train

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIMODAL = toy_data.GaussianMixture(((-2.0,), (2.0,)), (0.5, 0.5))
RING = toy_data.get_distribution(
  ml_collections.ConfigDict(dict(name='ring_2d', num_modes=8, radius=2.0, std=0.02))
)
# P(|N(0, 1)| <= 3) and P(||N(0, I_2)|| <= 3) = 1 - exp(-9 / 2).
WITHIN_3_STD_1D, WITHIN_3_STD_2D = 0.99730020, 1 - math.exp(-4.5)


def test_mixture_density_matches_scipy_and_integrates_to_one():
  x = np.linspace(-6, 6, 2001)[:, None]
  expected = 0.5 * stats.norm.pdf(x[:, 0], -2, 0.5) + 0.5 * stats.norm.pdf(x[:, 0], 2, 0.5)
  np.testing.assert_allclose(BIMODAL.density(x), expected, rtol=1e-10)
  assert np.trapezoid(BIMODAL.density(x), x[:, 0]) == pytest.approx(1.0, abs=1e-8)
  point = np.array([[2.0, 0.01]])
  ring_expected = np.mean(
    [stats.multivariate_normal.pdf(point[0], mean, 0.02**2) for mean in RING.means]
  )
  assert RING.density(point)[0] == pytest.approx(ring_expected, rel=1e-10)


def test_samples_have_the_mixture_moments():
  samples = np.asarray(BIMODAL.sample(jax.random.PRNGKey(0), 200_000))
  # Law of total variance: Var = 0.5^2 + 2^2.
  assert BIMODAL.std()[0] == pytest.approx(math.sqrt(4.25))
  assert np.mean(samples) == pytest.approx(0.0, abs=0.02)
  assert np.std(samples) == pytest.approx(math.sqrt(4.25), rel=0.01)


def test_ring_and_grid_modes():
  np.testing.assert_allclose(np.linalg.norm(RING.means, axis=1), 2.0)
  grid = toy_data.get_distribution(
    ml_collections.ConfigDict(dict(name='grid_2d', modes_per_side=5, spacing=2.0, std=0.05))
  )
  assert sorted({x for x, _ in grid.means}) == [-4.0, -2.0, 0.0, 2.0, 4.0]
  assert grid.num_modes == 25


def test_mode_metrics_on_the_data_itself_and_on_a_collapsed_generator():
  ring_samples = np.asarray(RING.sample(jax.random.PRNGKey(1), 80_000))
  np.testing.assert_allclose(
    toy_data.mass_near_modes(RING, ring_samples), WITHIN_3_STD_2D / 8, atol=0.004
  )
  assert toy_data.modes_covered(RING, ring_samples) == 8
  bimodal_samples = np.asarray(BIMODAL.sample(jax.random.PRNGKey(2), 80_000))
  np.testing.assert_allclose(
    toy_data.mass_near_modes(BIMODAL, bimodal_samples), WITHIN_3_STD_1D / 2, atol=0.005
  )
  # Three modes hit exactly and a fifth of the samples far from any mode.
  collapsed = np.concatenate([np.repeat(RING.means[:3], 100, axis=0), np.full((75, 2), 10.0)])
  assert toy_data.modes_covered(RING, collapsed) == 3
  assert toy_data.high_quality_fraction(RING, collapsed) == pytest.approx(300 / 375)


@pytest.mark.parametrize(
  'fields, message',
  [
    (dict(name='spiral'), "Unknown toy distribution 'spiral'"),
    (dict(name='gaussian_mixture_1d', means=(0.0, 1.0), stds=(1.0,)), 'one std per mean'),
    (dict(name='gaussian_mixture_1d', means=(0.0,), stds=(0.0,)), 'must be positive'),
  ],
)
def test_bad_toy_data_is_a_config_error(fields, message):
  with pytest.raises(errors.ConfigError, match=message):
    toy_data.get_distribution(ml_collections.ConfigDict(fields))


def test_linear_generator_is_a_z_plus_b():
  generator = toy.LinearGenerator(example_shape=(1,))
  z = jnp.array([[-1.0], [0.0], [2.0]])
  initial = generator.init(jax.random.PRNGKey(0), z, train=False)
  np.testing.assert_array_equal(generator.apply(initial, z, train=False), z)  # N(0, 1) at init.
  params = {'params': toy.linear_generator_params(mean=4.0, std=1.5)}
  np.testing.assert_allclose(generator.apply(params, z, train=False), 1.5 * z + 4.0)


def test_toy_models_are_registered():
  config = toy_gaussian.get_config('dropout').model
  generator, discriminator = models.get_models(config, (1,))
  assert isinstance(generator, toy.LinearGenerator) and discriminator.dropout_rate > 0
  config.name = 'toy_mlp'
  generator, discriminator = models.get_models(config, (2,))
  x = generator.apply(
    generator.init(jax.random.PRNGKey(0), jnp.zeros((3, 1)), train=False),
    jnp.ones((3, 1)),
    train=False,
  )
  assert x.shape == (3, 2)
  d_variables = discriminator.init(jax.random.PRNGKey(0), x, train=False)
  assert discriminator.apply(d_variables, x, train=False).logits.shape == (3,)


@pytest.mark.parametrize('variant', ['', 'l2', 'dropout', 'l2_dropout'])
def test_discriminator_variants(variant):
  config = toy_gaussian.get_config(variant)
  assert (config.penalty.name == 'l2') == ('l2' in variant)
  assert (config.model.discriminator_dropout > 0) == ('dropout' in variant)


def test_unknown_variant_is_refused():
  with pytest.raises(ValueError, match="Unknown variant 'l1'"):
    toy_gaussian.get_config('l1')


def test_schedule_must_divide_into_chunks():
  config = toy_gaussian.get_config()
  config.train.num_steps = 130
  with pytest.raises(errors.ConfigError, match='multiples of train.log_every'):
    toy_train.train_and_evaluate(config, None)


def test_toy_gaussian_recovers_mu_and_sigma():
  # The defaults, as `python -m experiments.toy --config=configs/toy_gaussian.py` runs them.
  results = toy_train.train_and_evaluate(toy_gaussian.get_config(), None)
  assert results['generator']['mean'] == pytest.approx(4.0, rel=0.05)
  assert results['generator']['std'] == pytest.approx(1.5, rel=0.05)
  # At the equilibrium D cannot tell: D(x) = 1/2 on both.
  assert results['d_real'] == pytest.approx(0.5, abs=0.05)
  assert results['d_fake'] == pytest.approx(0.5, abs=0.05)


def test_linear_generator_averages_the_modes_of_a_mixture():
  config = toy_mixture.get_config()
  config.train.num_steps = 600
  results = toy_train.train_and_evaluate(config, None)
  # One bell curve between the modes, wider than either (Strakhov 2018, Fig. 10-14).
  assert abs(results['generator']['mean']) < 0.5
  assert results['generator']['std'] > 2 * 0.5
  assert (
    results['generator']['high_quality_fraction'] < 0.9
  )  # Much of its mass falls between the modes.
  assert results['d_real'] > 0.55 and results['d_fake'] < 0.45  # D is not fooled.


def test_linear_generator_collapses_onto_the_near_mode():
  config = toy_mixture_far.get_config()
  config.train.num_steps = 600
  results = toy_train.train_and_evaluate(config, None)
  left, right = results['generator']['mass_near_modes']
  assert left > 0.9 and right < 0.01
  assert results['generator']['mean'] == pytest.approx(-2.0, abs=0.3)


def test_mlp_generator_puts_mass_near_both_modes():
  config = toy_mixture_mlp.get_config()
  config.train.num_steps = 800
  results = toy_train.train_and_evaluate(config, None)
  assert min(results['generator']['mass_near_modes']) > 0.3
  assert results['generator']['modes_covered'] == 2


def _snapshot(step, samples, grid):
  return toy_evaluation.Evaluation(step, samples, np.linspace(-3, 3, len(grid)), 0.6, 0.4)


@pytest.mark.parametrize('distribution', [BIMODAL, RING])
def test_run_figures_are_written(tmp_path, distribution):
  grid = toy_evaluation.evaluation_grid(distribution)
  samples = np.asarray(distribution.sample(jax.random.PRNGKey(0), 500))
  snapshots = [_snapshot(0, samples, grid), _snapshot(10, samples, grid)]
  statistics = dict(mean=0.5, std=1.2, modes_covered=2, high_quality_fraction=0.2)
  history = [
    {'step': 0, **{f'generator_{k}': 0.5 * v for k, v in statistics.items()}},
    {
      'step': 10,
      'd_real': 0.6,
      'd_fake': 0.4,
      **{f'generator_{k}': v for k, v in statistics.items()},
    },
  ]
  toy_plots.write_run_figures(str(tmp_path), distribution, grid, snapshots, history, statistics)
  assert sorted(os.listdir(tmp_path / 'plots')) == ['step_0000000.png', 'step_0000010.png']
  gif = Image.open(tmp_path / 'training.gif')
  assert gif.n_frames == 2
  assert (tmp_path / 'summary.png').exists() and (tmp_path / 'curves.png').exists()


def _run_app(*args):
  return subprocess.run(
    [sys.executable, '-m', 'experiments.toy', *args],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=300,
  )


def test_app_writes_results_plots_and_gif(tmp_path):
  result = _run_app(
    '--config=configs/toy_ring2d.py',
    f'--workdir={tmp_path}',
    '--config.train.num_steps=20',
    '--config.train.log_every=10',
    '--config.train.plot_every=10',
    '--config.model.generator_hidden_sizes=(16, 16)',
    '--config.model.discriminator_hidden_sizes=(16, 16, 16)',
    '--config.train.num_eval_samples=500',
  )
  assert result.returncode == 0, result.stderr[-3000:]
  with open(tmp_path / 'results.json') as f:
    results = json.load(f)
  assert results['num_modes'] == 8 and results['num_steps'] == 20
  generator = results['generator']
  assert 0 <= generator['modes_covered'] <= 8 and 0 <= generator['high_quality_fraction'] <= 1
  assert len(generator['mass_near_modes']) == 8
  assert results['data']['modes_covered'] == 8
  assert sorted(os.listdir(tmp_path / 'plots')) == [f'step_{s:07d}.png' for s in (0, 10, 20)]
  records = [json.loads(line) for line in open(tmp_path / 'metrics.jsonl')]
  assert [r['step'] for r in records] == [10, 20]
  assert Image.open(tmp_path / 'training.gif').n_frames == 3


def test_app_bad_input_is_one_line(tmp_path):
  result = _run_app(
    '--config=configs/toy_gaussian.py', f'--workdir={tmp_path}', '--config.data.name=spiral'
  )
  assert result.returncode == 1
  assert (
    "Error: Unknown toy distribution 'spiral'; valid names: gaussian_mixture_1d" in result.stderr
  )
  assert 'Traceback' not in result.stderr
