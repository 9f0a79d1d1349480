"""The benchmark's figures are consistent with each other and with XLA."""

from configs import gan_mnist
from gan_jax.studies import benchmarking


def test_benchmark_figures_are_consistent():
  config = gan_mnist.get_config('tiny')
  result = benchmarking.benchmark_train_step(
    config, config_name='tiny', warmup_steps=1, timed_steps=3
  )
  assert result.step_seconds_p10 <= result.step_seconds_median <= result.step_seconds_p90
  assert result.compile_seconds > 0 and result.matmul_flops_per_second > 1e8
  # The tiny MLP step: at least the 2 x batch x 784 x 16 MACs of D's first
  # layer on real and fake batches, forward; the full count is a few times that.
  assert result.flops_per_step > 2 * 2 * 16 * 784 * 16
  assert (
    abs(result.images_per_second - 16 / result.step_seconds_median)
    < 1e-6 * result.images_per_second
  )
  assert (
    abs(
      result.fraction_of_matmul_peak
      - result.achieved_flops_per_second / result.matmul_flops_per_second
    )
    < 1e-9
  )
  assert 'fraction of matmul peak' in benchmarking.format_table(result)
