"""The benchmark's figures: consistent with each other, with XLA, and with PyTorch's DCGAN."""

import functools
import glob
import importlib
import os
import sys

import jax
import numpy as np
import pytest
from PIL import Image

import configs
from configs import dcgan_faces
from configs import gan_mnist
from experiments import benchmark
from gan_jax import config_sections
from gan_jax import errors
from gan_jax import input_pipeline
from gan_jax import models
from gan_jax.models import dcgan
from gan_jax.studies import benchmarking
from gan_jax.studies import pipeline_throughput
from gan_jax.studies import torch_comparison


def _result(name, step_seconds, **fields) -> benchmarking.StepBenchmark:
  figures = dict(
    config_name=name,
    device='1 x cpu (cpu)',
    global_batch_size=64,
    discriminator_steps=1,
    compile_seconds=4.25,
    step_seconds_median=step_seconds,
    step_seconds_p10=step_seconds * 0.9,
    step_seconds_p90=step_seconds * 1.1,
    images_per_second=64 / step_seconds,
    flops_per_step=1.5e11,
    achieved_flops_per_second=1.5e11 / step_seconds,
    matmul_flops_per_second=3.0e11,
    fraction_of_matmul_peak=0.5 / step_seconds,
    peak_rss_bytes=3 * 2**29,
    device_bytes_in_use=None,
  )
  return benchmarking.StepBenchmark(**{**figures, **fields})


def test_markdown_table_has_a_row_per_config_with_its_figures():
  table = benchmarking.format_markdown(
    [_result('dcgan_faces', 1.0), _result('gan_mnist', 0.0038, device_bytes_in_use=2**30)]
  )
  header, rule, faces, mlp = table.split('\n')
  assert header.count('|') == rule.count('|') == faces.count('|') == mlp.count('|') == 11
  assert faces.startswith('| `dcgan_faces` | 64 x 1 | 4.2 s | 1.00 s (900 ms-1.10 s) | 64 |')
  assert '150 GFLOP' in faces and '50.0% (of 300 GFLOP/s)' in faces and '1.50 GiB' in faces
  assert '3.8 ms (3.42 ms-4.18 ms) | 16,842 |' in mlp and mlp.endswith('| 1.00 GiB |')


def test_configs_are_timed_in_processes_of_their_own_with_consistent_figures():
  config = gan_mnist.get_config('tiny')
  (result,) = benchmarking.benchmark_configs({'tiny mlp': config}, warmup_steps=1, timed_steps=3)
  assert result.config_name == 'tiny mlp'
  assert result.step_seconds_p10 <= result.step_seconds_median <= result.step_seconds_p90
  assert result.compile_seconds > 0 and result.matmul_flops_per_second > 1e8
  # The tiny MLP step: at least the 2 x batch x 784 x 16 MACs of D's first
  # layer on real and fake batches, forward; the full count is a few times that.
  assert result.flops_per_step > 2 * 2 * 16 * 784 * 16
  assert result.images_per_second == pytest.approx(16 / result.step_seconds_median, rel=1e-6)
  assert result.fraction_of_matmul_peak == pytest.approx(
    result.achieved_flops_per_second / result.matmul_flops_per_second, rel=1e-9
  )
  assert 'fraction of matmul peak' in benchmarking.format_table(result)
  # The child imported JAX and compiled on its own: its peak RSS is its own, not this process's.
  with open(f'/proc/{os.getpid()}/status', encoding='ascii') as f:
    own_peak = next(int(line.split()[1]) * 1024 for line in f if line.startswith('VmHWM:'))
  assert 0 < result.peak_rss_bytes != own_peak


def test_the_table_times_every_architecture_that_has_a_config():
  config_files = glob.glob(os.path.join(list(configs.__path__)[0], '*.py'))
  families = {
    importlib.import_module(f'configs.{os.path.basename(path)[:-3]}').get_config().model.name
    for path in config_files
    if not path.endswith('__init__.py')
  }
  image_families = {
    name for name in families if name in models.MODELS and not name.startswith('toy_')
  }
  assert {benchmark.TABLE[name][0]().model.name for name in benchmark.TABLE} == image_families
  assert list(benchmark.table_configs(['dcgan_cifar10'])) == [
    'dcgan_cifar10 (bundled_mnist at 32x32)'
  ]
  with pytest.raises(errors.ConfigError, match='vgg.*gan_mnist'):
    benchmark.table_configs(['vgg'])


def test_round_figures_on_known_numbers():
  figures = torch_comparison.summarize_rounds(
    ours_seconds=[2.0, 1.0, 4.0],
    torch_seconds=[1.0, 1.0, 2.0],
    matmul_flops_per_second=[10.0, 20.0, 10.0],
    flops_per_step=10.0,
  )
  assert figures.ours_step_seconds == torch_comparison.Spread(2.0, 1.0, 4.0)
  assert figures.time_ratio == torch_comparison.Spread(2.0, 1.0, 2.0)  # Round by round.
  assert figures.matmul_flops_per_second == torch_comparison.Spread(10.0, 10.0, 20.0)
  # 10 FLOP in 2, 1, 4 s against 10, 20, 10 FLOP/s; PyTorch in 1, 1, 2 s.
  assert figures.ours_fraction_of_matmul_peak == torch_comparison.Spread(0.5, 0.25, 0.5)
  assert figures.torch_fraction_of_matmul_peak == torch_comparison.Spread(0.5, 0.5, 1.0)


def test_only_the_plain_dcgan_configs_have_a_pytorch_step():
  torch_comparison.check_config(dcgan_faces.get_config())
  with pytest.raises(errors.ConfigError, match=r"model.name='mlp'.*without --compare"):
    torch_comparison.check_config(gan_mnist.get_config())
  config = dcgan_faces.get_config()
  config.train.reuse_noise_for_generator = False
  with pytest.raises(errors.ConfigError, match='reuse_noise_for_generator=False'):
    torch_comparison.check_config(config)


def test_without_pytorch_the_comparison_says_how_to_install_it(monkeypatch):
  monkeypatch.setitem(sys.modules, 'torch', None)  # What `import torch` meets when not installed.
  with pytest.raises(errors.ConfigError, match=r"not installed: pip install -e '\.\[bench\]'"):
    torch_comparison.compare_with_torch(dcgan_faces.get_config('tiny'), config_name='tiny')


def _flax_to_torch(torch, torch_module, params, kernel_layout):
  """Copies flax params into the torch Sequential, layer by layer in order."""
  kernels = [params[name]['kernel'] for name in params if 'Conv' in name]
  norms = [params[f'BatchNorm_{i}'] for i in range(sum('BatchNorm' in name for name in params))]
  with torch.no_grad():
    for layer in torch_module:
      if isinstance(layer, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
        layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel_layout(kernels.pop(0)))))
      elif isinstance(layer, torch.nn.BatchNorm2d):
        norm = norms.pop(0)
        layer.weight.copy_(torch.from_numpy(np.array(norm['scale'])))
        layer.bias.copy_(torch.from_numpy(np.array(norm['bias'])))
  assert not kernels and not norms


def _random_variables(module, inputs):
  """Variables of the module's shapes drawn in NumPy: flax's init would be one more compilation."""
  init = functools.partial(module.init, train=False)
  shapes = jax.eval_shape(init, jax.random.PRNGKey(0), inputs)
  rng = np.random.default_rng(0)
  return jax.tree.map(lambda leaf: rng.normal(0, 0.3, leaf.shape).astype(np.float32), shapes)


@pytest.mark.parametrize('image_size,channels', [(28, 1), (32, 3), (64, 3)])
def test_pytorch_models_compute_ours(image_size, channels):
  torch = pytest.importorskip('torch')
  image_shape = (image_size, image_size, channels)
  generator = dcgan.Generator(image_size=image_size, channels=channels, base_width=4)
  discriminator = dcgan.Discriminator(image_size=image_size, channels=channels, base_width=4)
  z = jax.random.normal(jax.random.PRNGKey(1), (4, 16))
  images = jax.random.uniform(jax.random.PRNGKey(2), (4, *image_shape), minval=-1, maxval=1)
  generator_variables = _random_variables(generator, z)
  discriminator_variables = _random_variables(discriminator, images)
  torch_generator, torch_discriminator = torch_comparison.build_models(image_shape, 4, 16)
  count = lambda tree: sum(leaf.size for leaf in jax.tree.leaves(tree))
  assert torch_comparison.parameter_count(torch_generator) == count(generator_variables['params'])
  assert torch_comparison.parameter_count(torch_discriminator) == count(
    discriminator_variables['params']
  )

  # Flax's transposed convolutions correlate with the unflipped [h, w, in, out]
  # kernel, PyTorch's are the adjoint of a correlation with [in, out, h, w]:
  # the same map with the kernel flipped in space.
  _flax_to_torch(
    torch,
    torch_generator,
    generator_variables['params'],
    lambda k: np.asarray(k)[::-1, ::-1].transpose(2, 3, 0, 1),
  )
  _flax_to_torch(
    torch,
    torch_discriminator,
    discriminator_variables['params'],
    lambda k: np.asarray(k).transpose(3, 2, 0, 1),
  )
  # In training mode (batch statistics), as the step runs them.
  train_mode = functools.partial(jax.jit, static_argnames=('train', 'mutable'))
  ours_images, _ = train_mode(generator.apply)(
    generator_variables, z, train=True, mutable=('batch_stats',)
  )
  ours_logits, _ = train_mode(discriminator.apply)(
    discriminator_variables, images, train=True, mutable=('batch_stats',)
  )
  torch_images = torch_generator(torch.from_numpy(np.array(z))[:, :, None, None])
  torch_logits = torch_discriminator(torch.from_numpy(np.array(images).transpose(0, 3, 1, 2)))
  np.testing.assert_allclose(
    torch_images.detach().numpy().transpose(0, 2, 3, 1), ours_images, atol=2e-5
  )
  np.testing.assert_allclose(
    torch_logits.detach().numpy().reshape(4), ours_logits.logits, rtol=1e-4, atol=1e-5
  )


def test_side_by_side_rounds_alternate_and_agree_with_their_figures():
  pytest.importorskip('torch')
  config = dcgan_faces.get_config('tiny')
  config.data.image_size = 32  # Fewer layers to compile than at 64.
  comparison = torch_comparison.compare_with_torch(
    config, config_name='tiny', warmup_steps=1, timed_steps=1, rounds=2
  )
  ours, theirs = zip(*comparison.round_seconds)
  assert comparison.figures.time_ratio.low == pytest.approx(min(np.divide(ours, theirs)))
  assert comparison.figures.ours_step_seconds.median == pytest.approx(np.median(ours))
  assert comparison.flops_per_step > 0 and 'ours / PyTorch time' in (
    torch_comparison.format_comparison(comparison)
  )
  assert 'torch 2.' in comparison.machine and 'cores' in comparison.machine


def test_pytorch_step_trains_both_players():
  torch = pytest.importorskip('torch')
  config = dcgan_faces.get_config('tiny')
  torch.manual_seed(0)
  run = torch_comparison.make_step_runner(config, (64, 64, 3))
  assert len(run(2)) == 2


def test_jpeg_folder_and_pipeline_throughput(tmp_path):
  folder = pipeline_throughput.write_jpeg_folder(str(tmp_path), num_images=6, size=40)
  names = sorted(os.listdir(folder))
  assert names == [f'0000{i}.jpg' for i in range(6)]
  assert Image.open(os.path.join(folder, names[0])).size == (40, 40)
  dataset, _ = input_pipeline.get_source(
    config_sections.data_config(name='folder', path=folder, image_size=32)
  )
  result = pipeline_throughput.time_pipeline('folder', dataset, batch_size=8, timed_batches=2)
  assert result.image_shape == (32, 32, 3) and result.images_per_second > 0


def test_a_folder_is_timed_decoding_and_through_its_cache_built_before_the_timing(tmp_path):
  folder = pipeline_throughput.write_jpeg_folder(str(tmp_path / 'jpegs'), num_images=6, size=40)
  cache_dir = str(tmp_path / 'cache')
  decoding, cached = pipeline_throughput.time_folder(
    'folder', folder, image_size=32, cache_dir=cache_dir, batch_size=8, timed_batches=2
  )
  assert (decoding.name, cached.name) == ('folder', 'folder, cached')
  assert decoding.image_shape == cached.image_shape == (32, 32, 3)
  assert decoding.images_per_second > 0 and cached.images_per_second > 0
  assert decoding.build_seconds == 0 < cached.build_seconds
  assert len(os.listdir(cache_dir)) == 1
  table = pipeline_throughput.format_pipelines([decoding, cached], step_images_per_second=100.0)
  assert '| folder, cached | 32x32x3 |' in table
  assert table.split('\n')[-2:] == [
    'Built once before its timing (listing, decoding, crop, resize, write):',
    f'- folder, cached: {cached.build_seconds:.1f} s',
  ]


def test_pipeline_table_says_which_step_each_pipeline_starves():
  results = [
    pipeline_throughput.PipelineThroughput(name, (64, 64, 3), rate, 64, 8)
    for name, rate in [('slow', 50.0), ('middle', 500.0), ('fast', 5000.0)]
  ]
  table = pipeline_throughput.format_pipelines(results, step_images_per_second=100.0)
  assert 'an accelerator at 20x would consume 2,000 images/s' in table
  rows = table.split('\n')[-3:]
  assert rows[0] == '| slow | 64x64x3 | 50 | 0.5 | 0.03 | the CPU step |'
  assert rows[1] == '| middle | 64x64x3 | 500 | 5.0 | 0.25 | the accelerator |'
  assert rows[2] == '| fast | 64x64x3 | 5,000 | 50.0 | 2.50 | neither |'
