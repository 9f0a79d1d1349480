"""A job's processes and devices: JAX's distributed runtime, the data-parallel mesh, global arrays.

A job is one or more processes (one per host on a TPU pod slice or a GPU
cluster, or several on one machine), each driving its local devices. They run
the same program on global arrays laid out over one `Mesh` of every device
of every process (`data_mesh`): the training state replicated on each device
(`replicate`), each batch split along its batch axis (`global_batch`), each
process holding the rows of its own devices, which it read itself. With one
process and no cluster around, all of this is the single-machine case:
`initialize` does nothing and the mesh holds the local devices.
"""

from typing import Callable, Optional

import jax
import numpy as np
from absl import logging
from jax.experimental import multihost_utils

from gan_jax import errors
from gan_jax.step import BATCH_AXIS


def initialize(
  coordinator_address: Optional[str] = None,
  num_processes: Optional[int] = None,
  process_id: Optional[int] = None,
  heartbeat_timeout_seconds: int = 100,
) -> None:
  """Starts JAX's distributed runtime if this process is one of several; before any device use.

  With all three arguments set, joins the job they describe (process 0 also
  runs the coordinator at `coordinator_address`). With none, asks JAX to
  detect a cluster (TPU pod slices, SLURM, Open MPI, Kubernetes), as
  `jax.distributed.initialize()` does, and stays a single process when there
  is none. On CPU, collectives between processes go through gloo.

  Args:
    coordinator_address: HOST:PORT of process 0, reachable from every process.
    num_processes: processes in the job.
    process_id: this process's index, 0 to num_processes - 1.
    heartbeat_timeout_seconds: a process silent for this long is taken for
      dead, and the runtime stops every other process of the job.

  Raises:
    ConfigError: for a partial or inconsistent set of arguments.
  """
  explicit = (coordinator_address, num_processes, process_id)
  if any(value is not None for value in explicit):
    if any(value is None for value in explicit):
      raise errors.ConfigError(
        '--coordinator_address, --num_processes and --process_id go together; set all three '
        '(e.g. --coordinator_address=localhost:12355 --num_processes=2 --process_id=0) or none.'
      )
    if not 0 <= process_id < num_processes:
      raise errors.ConfigError(
        f'--process_id={process_id} must be in [0, {num_processes - 1}] for '
        f'--num_processes={num_processes}.'
      )
    if num_processes == 1:
      return
  # JAX's default today; set so that a change of default cannot leave CPU
  # jobs without cross-process collectives.
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  try:
    jax.distributed.initialize(
      coordinator_address,
      num_processes,
      process_id,
      heartbeat_timeout_seconds=heartbeat_timeout_seconds,
    )
  except ValueError as e:
    # What JAX says when given nothing and finding no cluster: one process.
    if coordinator_address is None and 'coordinator_address' in str(e):
      return
    raise
  logging.info(
    'Process %d of %d; %d local and %d global devices.',
    jax.process_index(),
    jax.process_count(),
    jax.local_device_count(),
    jax.device_count(),
  )


def data_mesh(devices: Optional[list] = None) -> jax.sharding.Mesh:
  """The 1-D mesh over `devices` (default: every device of every process), axis `BATCH_AXIS`.

  Devices are ordered by process, then by id, so process p's devices hold one
  contiguous block of each batch: the rows it reads itself (`global_batch`).
  """
  devices = devices or jax.devices()
  ordered = sorted(devices, key=lambda d: (d.process_index, d.id))
  return jax.sharding.Mesh(np.array(ordered), (BATCH_AXIS,))


def per_device(fn: Callable, mesh: jax.sharding.Mesh, in_specs, out_specs) -> Callable:
  """`fn`, per-device code, mapped over `mesh` with pmap's semantics (`jax.shard_map`).

  Inside, each device sees its block of each argument and runs `fn` on it;
  values agree across devices only through the collectives `fn` calls. A
  gradient taken inside is this device's, which the train step averages
  with `lax.pmean` itself. (With replication checking on, `jax.shard_map`
  would instead sum gradients of replicated parameters over the devices, the
  transpose of their implicit broadcast, and the explicit mean would then
  count every device's share 8 times over on 8 devices.)
  """
  return jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_vma=False)


def replicate(tree, mesh: jax.sharding.Mesh):
  """`tree`, equal on every process, as global arrays with a copy on each device of `mesh`."""
  sharding = jax.NamedSharding(mesh, jax.P())

  def put(x):
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

  return jax.tree.map(put, tree)


def local_copy(tree):
  """This process's copy of a replicated `tree`, on its first device.

  What runs on one process alone (sample grids, evaluation, host metrics)
  computes on this copy: a program on the global arrays would wait for the
  other processes to run it too. Leaves that are not JAX arrays pass as they are.
  """
  return jax.tree.map(lambda x: x.addressable_data(0) if isinstance(x, jax.Array) else x, tree)


def batch_sharding(mesh: jax.sharding.Mesh) -> jax.NamedSharding:
  """Arrays [k, B, ...] split along B (axis 1) over the mesh."""
  return jax.NamedSharding(mesh, jax.P(None, BATCH_AXIS))


def global_batch(local_arrays, mesh: jax.sharding.Mesh):
  """Each array [k, B / processes, ...] of this process's share -> the global [k, B, ...]."""
  sharding = batch_sharding(mesh)

  def assemble(local):
    global_shape = (local.shape[0], local.shape[1] * jax.process_count(), *local.shape[2:])
    return jax.make_array_from_process_local_data(sharding, local, global_shape)

  return jax.tree.map(assemble, local_arrays)


def max_over_processes(value: int) -> int:
  """The largest of the processes' `value`s, on every process (a collective: all must call)."""
  if jax.process_count() == 1:
    return value
  return int(np.max(multihost_utils.process_allgather(np.int32(value))))


def _block_size(total: int, multiple: int) -> int:
  chunks = -(-total // multiple)
  return -(-chunks // jax.process_count()) * multiple


def row_block(total: int, multiple: int = 1) -> range:
  """The rows of range(total) this process handles: one contiguous block per process, in
  process order, each a multiple of `multiple` long (but the last)."""
  size = _block_size(total, multiple)
  start = min(jax.process_index() * size, total)
  return range(start, min(start + size, total))


def gather_rows(local: np.ndarray, total: int, multiple: int = 1) -> np.ndarray:
  """Every process's rows [len(row_block(total, multiple)), ...] -> all [total, ...], in
  order, on every process (a collective: all must call)."""
  if jax.process_count() == 1:
    return local
  padded = np.zeros((_block_size(total, multiple), *local.shape[1:]), local.dtype)
  padded[: len(local)] = local
  gathered = np.asarray(multihost_utils.process_allgather(padded))
  return gathered.reshape(-1, *local.shape[1:])[:total]


def on_process_0(fn: Callable):
  """`fn()` on process 0 alone, its result there (None elsewhere); if it raises, all raise.

  For the work one process does for the job (locking the workdir, writing
  its files) where the others must not go on to wait at a collective for a
  process that stopped.
  """
  result = error = None
  if jax.process_index() == 0:
    try:
      result = fn()
    except Exception as e:  # pylint: disable=broad-except
      error = e
  if max_over_processes(int(error is not None)):
    raise error or errors.GanJaxError('Process 0 of the job stopped; its output says why.')
  return result


def barrier(name: str) -> None:
  """Waits until every process reaches the barrier `name`."""
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(name)
