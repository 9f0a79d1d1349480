"""The optimal discriminator, measured on trained networks (Goodfellow et al. 2014).

Goodfellow et al. 2014, Proposition 1: for a fixed G, the D that maximizes
V(G, D) is D*(x) = p_data(x) / (p_data(x) + p_g(x)); Theorem 1: then
V(G, D*) = -log 4 + 2 JSD(p_data || p_g). Here both are checked on networks:
G is a 1-D linear generator frozen at p_g = N(m, s^2), so both densities are
known, and D is trained alone with the library's train step (G's optimizer
makes no update), then compared with D* on a grid:

  - max |D(x) - D*(x)| over the points where the densities have mass, where
    (p_data + p_g) / 2 is at least 1% of its peak: elsewhere no sample
    constrains D, and D* need not be defined (the proof of Proposition 1);
  - V(G, D) of the trained D, which cannot exceed V(G, D*), against
    V(G, D*) and -log 4 + 2 JSD(p_data || p_g), by quadrature;
  - at p_g = p_data: D* = 1/2 everywhere and V(G, D*) = -log 4.

Saturation (Goodfellow et al. 2014, section 3; Lima's GAN
lecture notes, section 4.2): D is
also fitted against a G far from the data, which it learns to reject
confidently; one more train step with the minimax loss and one with the
non-saturating loss then give G's gradient norm under each: the first
vanishes, the second does not.
"""

import dataclasses
import os
from typing import Any

import jax
import ml_collections
import numpy as np
import optax
from scipy import special

from gan_jax import assembly
from gan_jax import distributed
from gan_jax import errors
from gan_jax import losses
from gan_jax import step
from gan_jax import workdirs
from gan_jax.models import toy
from gan_jax.studies import theory
from gan_jax.studies import toy_data
from gan_jax.studies import toy_plots
from gan_jax.studies import toy_train

# D is compared with D* where (p_data + p_g) / 2 is at least this fraction of its peak.
REGION_FRACTION = 0.01
# Quadrature: points of the grid, which spans every mode +- 10 standard deviations.
_QUADRATURE_POINTS = 4001
_QUADRATURE_STDS = 10.0
# The losses whose G gradients are compared: same D loss, different G losses.
SATURATION_LOSSES = ('minimax', 'non_saturating')


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError unless D's loss is the cross-entropy of Eq. 1 and G is 1-D linear."""
  if config.loss.name not in SATURATION_LOSSES or config.loss.real_label != 1.0:
    raise errors.ConfigError(
      f'D* = p_data / (p_data + p_g) maximizes the value of Eq. 1, i.e. the D loss of '
      f'loss.name in {", ".join(SATURATION_LOSSES)} with loss.real_label=1, got '
      f'{config.loss.name!r} with real_label={config.loss.real_label}.'
    )
  if config.model.name != 'toy_linear' or config.model.latent_dim != 1:
    raise errors.ConfigError(
      'A fixed p_g = N(mean, std^2) needs model.name=toy_linear and model.latent_dim=1, got '
      f'{config.model.name!r} and {config.model.latent_dim}.'
    )


def fit_discriminator(
  config: ml_collections.ConfigDict, generator_mean: float, generator_std: float
) -> tuple[step.GAN, toy_train.ToyRun]:
  """Trains D alone against G frozen at p_g = N(generator_mean, generator_std^2), in 1-D.

  The toy run's train step, with G's optimizer replaced by one that updates
  nothing (`optax.set_to_zero`): D's updates are the inner loop of Algorithm 1
  for a fixed G.

  Returns:
    (what the step trained, the run).

  Raises:
    ConfigError: for a config `check_config` refuses, or data that is not 1-D.
  """
  check_config(config)
  toy_train.check_schedule(config)
  distribution = toy_data.get_distribution(config.data)
  if distribution.dim != 1:
    raise errors.ConfigError(
      f'The optimal discriminator study needs 1-D data, got {config.data.name!r}.'
    )
  gan = dataclasses.replace(assembly.build(config, (1,)), generator_optimizer=optax.set_to_zero())
  generator_params = toy.linear_generator_params(generator_mean, generator_std)
  return gan, toy_train.train_toy(config, gan, distribution, generator_params=generator_params)


def quadrature_grid(*distributions: toy_data.GaussianMixture) -> np.ndarray:
  """A grid [n] over every mode of `distributions` +- 10 standard deviations."""
  means = np.concatenate([np.asarray(d.means)[:, 0] for d in distributions])
  stds = np.concatenate([np.asarray(d.stds) for d in distributions])
  low, high = np.min(means - _QUADRATURE_STDS * stds), np.max(means + _QUADRATURE_STDS * stds)
  return np.linspace(low, high, _QUADRATURE_POINTS)


def compare_with_optimal(
  gan: step.GAN,
  state,
  data: toy_data.GaussianMixture,
  generator: toy_data.GaussianMixture,
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
  """The trained D of `state` against D* for p_data = `data`, p_g = `generator`.

  Returns:
    (numbers, curves). numbers: max_abs_error (of D against D*, over the
    region), region (its ends), value (V(G, D) of the trained D),
    optimal_value (V(G, D*)), minus_log_4_plus_2_jsd, jensen_shannon.
    curves: x [n], p_data, p_g, optimal (D*), trained (D), in_region (bool).
  """
  x = quadrature_grid(data, generator)
  outputs = gan.discriminator.apply(
    state.discriminator.variables(), x[:, None].astype(np.float32), train=False
  )
  logits = np.asarray(outputs.logits, np.float64)
  log_p_data, log_p_g = data.log_density(x[:, None]), generator.log_density(x[:, None])
  optimal_logits = theory.optimal_discriminator_logits(log_p_data, log_p_g)
  mixture = 0.5 * (np.exp(log_p_data) + np.exp(log_p_g))
  in_region = mixture >= REGION_FRACTION * np.max(mixture)
  optimal, trained = special.expit(optimal_logits), special.expit(logits)
  numbers = {
    'max_abs_error': float(np.max(np.abs(trained - optimal)[in_region])),
    'region': [float(x[in_region].min()), float(x[in_region].max())],
    'value': theory.value(logits, log_p_data, log_p_g, x),
    'optimal_value': theory.value(optimal_logits, log_p_data, log_p_g, x),
    'minus_log_4_plus_2_jsd': theory.optimal_value(log_p_data, log_p_g, x),
    'jensen_shannon': theory.jensen_shannon(log_p_data, log_p_g, x),
  }
  curves = dict(
    x=x,
    p_data=np.exp(log_p_data),
    p_g=np.exp(log_p_g),
    optimal=optimal,
    trained=trained,
    in_region=in_region,
  )
  return numbers, curves


def at_equal_densities(data: toy_data.GaussianMixture) -> dict[str, float]:
  """Theorem 1's minimum, by quadrature: p_g = p_data gives D* = 1/2, V(G, D*) = -log 4."""
  x = quadrature_grid(data)
  log_p = data.log_density(x[:, None])
  return {
    'max_abs_optimal_minus_half': float(
      np.max(np.abs(theory.optimal_discriminator(log_p, log_p) - 0.5))
    ),
    'optimal_value': theory.value(
      theory.optimal_discriminator_logits(log_p, log_p), log_p, log_p, x
    ),
    'minus_log_4': -theory.LOG_4,
  }


def generator_gradient_norms(
  config: ml_collections.ConfigDict, gan: step.GAN, state, data: toy_data.GaussianMixture
) -> dict[str, dict[str, float]]:
  """G's gradient norm in one more train step from `state`, under each of SATURATION_LOSSES.

  The steps make the same D update (the D losses are the same), so they
  differ only in G's loss. Returns {loss name: {g_grad_norm, d_fake}}.
  """
  real = data.sample(jax.random.PRNGKey(config.seed), config.train.batch_size)[None]

  def steps(state, real):
    # Both steps in one program: one compilation instead of two.
    return {
      name: step.train_step(state, real, gan=dataclasses.replace(gan, loss=losses.LOSSES[name]))[1]
      for name in SATURATION_LOSSES
    }

  mesh = toy_train.run_mesh()
  per_device = distributed.per_device(steps, mesh, (jax.P(), jax.P()), jax.P())
  metrics = jax.jit(per_device)(
    distributed.replicate(state, mesh), distributed.replicate(real, mesh)
  )
  return {
    name: {k: float(distributed.local_copy(metrics[name][k])) for k in ('g_grad_norm', 'd_fake')}
    for name in SATURATION_LOSSES
  }


def saturation_curves(num_points: int = 200) -> dict[str, np.ndarray]:
  """|d(G's loss)/d(logit)| per example against D(G(z)) in [1e-9, 1 - 1e-4], per loss.

  Returns {'d_fake': [num_points], loss name: [num_points] for SATURATION_LOSSES}.
  """
  d_fake = np.logspace(-9, np.log10(1 - 1e-4), num_points)
  logits = special.logit(d_fake)
  curves = {'d_fake': d_fake}
  for name in SATURATION_LOSSES:
    gradients = theory.generator_logit_gradients(losses.LOSSES[name], logits)
    curves[name] = np.abs(np.asarray(gradients, np.float64))
  return curves


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """The whole study: writes results.json and optimal_discriminator.png to `workdir`.

  Returns:
    The results: 'fixed_generator' (`compare_with_optimal`'s numbers),
    'equal_densities' (`at_equal_densities`), 'saturation' (mean D(G(z)) of
    the rejected G and `generator_gradient_norms`).
  """
  data = toy_data.get_distribution(config.data)
  fixed = config.fixed_generator
  gan, fixed_run = fit_discriminator(config, fixed.mean, fixed.std)
  p_g = toy_data.GaussianMixture(((fixed.mean,),), (fixed.std,))
  numbers, curves = compare_with_optimal(gan, fixed_run.state, data, p_g)

  rejected = config.saturated_generator
  gan, rejected_run = fit_discriminator(config, rejected.mean, rejected.std)
  norms = generator_gradient_norms(config, gan, rejected_run.state, data)
  results = {
    'fixed_generator': {'mean': fixed.mean, 'std': fixed.std, **numbers},
    'equal_densities': at_equal_densities(data),
    'saturation': {
      'mean': rejected.mean,
      'std': rejected.std,
      'd_fake': rejected_run.snapshots[-1].fake_probability,
      'generator_gradient_norm': {name: n['g_grad_norm'] for name, n in norms.items()},
    },
  }
  os.makedirs(workdir, exist_ok=True)
  workdirs.write_json(os.path.join(workdir, 'results.json'), results)
  toy_plots.write_optimal_discriminator_figure(
    os.path.join(workdir, 'optimal_discriminator.png'), curves, saturation_curves(), results
  )
  return results
