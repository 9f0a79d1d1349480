"""Training to a wall-clock budget, reproducibly: calibrated step times.

A table that gives every config the same budget of training time does not
train until the clock runs out: the steps would then differ from run to run,
and a rerun could not reuse the runs. Instead each config's train step is
compiled and timed once (`benchmarking.benchmark_train_step`: the median of a
few steps after warm-up, the input pipeline left out), the config trains
num_steps = floor(budget / step time) steps (`budget_steps`), and the
calibration is stored beside its runs (`calibrate`), so that a rerun trains
the same steps. `calibrated_runs` does both for the configs of a table.
"""

import dataclasses
import json
import math
import os
from typing import Mapping, NamedTuple

import ml_collections

from gan_jax import workdirs
from gan_jax.studies import benchmarking
from gan_jax.studies.reproduction import report
from gan_jax.studies.reproduction import runs

DEFAULT_BUDGET_MINUTES = 10.0
_CALIBRATION_FILE = 'calibration.json'


@dataclasses.dataclass(frozen=True)
class BudgetOptions(runs.Options):
  """`runs.Options` and the minutes of train-step time each config gets (`--budget_minutes`)."""

  budget_minutes: float = DEFAULT_BUDGET_MINUTES

  def command(self, table: str, default_data: str) -> str:
    command = super().command(table, default_data)
    if self.budget_minutes != DEFAULT_BUDGET_MINUTES:
      command += f' --budget_minutes={self.budget_minutes:g}'
    return command


class Calibration(NamedTuple):
  """A config's train step as timed: median seconds a step, compile seconds, and on what."""

  step_seconds: float
  compile_seconds: float
  hardware: str


def calibrate(
  config: ml_collections.ConfigDict, path: str, *, warmup_steps: int, timed_steps: int
) -> Calibration:
  """The step time of `config`: as stored in the JSON file `path` for this very config, else
  timed (`timed_steps` after `warmup_steps`) and stored there."""
  key = json.loads(config.to_json_best_effort(sort_keys=True))
  if os.path.exists(path):
    with open(path, encoding='utf-8') as f:
      stored = json.load(f)
    if stored['config'] == key:
      return Calibration(**stored['calibration'])
  result = benchmarking.benchmark_train_step(
    config,
    config_name=os.path.basename(os.path.dirname(path)),
    warmup_steps=warmup_steps,
    timed_steps=timed_steps,
  )
  calibration = Calibration(result.step_seconds_median, result.compile_seconds, report.hardware())
  os.makedirs(os.path.dirname(path), exist_ok=True)
  workdirs.write_json(path, {'config': key, 'calibration': calibration._asdict()})
  return calibration


def budget_steps(budget_minutes: float, step_seconds: float) -> int:
  """floor(budget / step time): the steps that fill the budget, at least 1."""
  return max(1, math.floor(budget_minutes * 60.0 / step_seconds))


def budget_runs(
  table: str, name: str, config: ml_collections.ConfigDict, num_steps: int, options: BudgetOptions
) -> list[runs.Run]:
  """One run of `config` per seed under workdir_root/table, evaluated at its last step.

  Checkpoints and sample grids every tenth of the steps, so that an
  interrupted run resumes close to where it stopped.
  """
  every = max(1, math.ceil(num_steps / 10))
  config = config.copy_and_resolve_references()
  config.train.update(sample_every=every, log_every=min(config.train.log_every, every))
  return [
    runs.make_run(
      name,
      config,
      seed=seed,
      data={},
      evaluation_steps=(num_steps,),
      workdir_root=os.path.join(options.workdir_root, table),
      checkpoint_every=every,
    )
    for seed in options.seeds
  ]


def calibrated_runs(
  table: str,
  configs: Mapping[str, ml_collections.ConfigDict],
  options: BudgetOptions,
  *,
  warmup_steps: int,
  timed_steps: int,
) -> tuple[dict[str, Calibration], dict[str, list[runs.Run]]]:
  """Each config's calibration and runs (`budget_runs`): --num_steps steps, else the budget's.

  The calibration of config NAME is stored in
  workdir_root/table/data/NAME/calibration.json, beside its runs.
  """
  root = os.path.join(options.workdir_root, table, options.data)
  calibrations, model_runs = {}, {}
  for name, config in configs.items():
    path = os.path.join(root, name, _CALIBRATION_FILE)
    calibrations[name] = calibrate(config, path, warmup_steps=warmup_steps, timed_steps=timed_steps)
    steps = options.num_steps.get(name) or budget_steps(
      options.budget_minutes, calibrations[name].step_seconds
    )
    model_runs[name] = budget_runs(table, name, config, steps, options)
  return calibrations, model_runs
