"""The finiteness check at the entry of every metric.

A NaN or Inf in its input does not make a metric fail, it makes it wrong:
KID returns nan, the k-NN metrics compare against NaN radii and count nothing
(precision 0, density 0), FID's eigensolver stops with "Eigenvalues did not
converge". Each metric therefore checks the arrays it is given, and the error
names the input and its non-finite rows.
"""

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax import errors

# Rows listed in the message; the count says how many there are in all.
_ROWS_LISTED = 5


def _is_all_finite(array):
  """Whether every entry is finite: one reduction, no [N, d] temporary on the host."""
  if isinstance(array, jax.Array):
    return not jnp.issubdtype(array.dtype, jnp.floating) or bool(jnp.all(jnp.isfinite(array)))
  if not np.issubdtype(array.dtype, np.floating):
    return True  # Integers and booleans are finite.
  # NaN and Inf survive a sum (Inf - Inf is NaN), so a finite float64 sum
  # proves every entry finite; one that overflows goes on to the exact count.
  with np.errstate(over='ignore'):
    return bool(np.isfinite(np.sum(array, dtype=np.float64)))


def check_finite_rows(array, what: str):
  """Raises `errors.NonFiniteError` unless every entry of `array` is finite.

  Args:
    array: [N, ...] numpy or JAX array, or anything np.asarray takes; rows are
      indexed by the first axis, e.g. [N, d] features or [N, K] class
      probabilities; a [d] vector counts entries.
    what: the input's name in the message, e.g. 'real' or 'probs'.

  Raises:
    errors.NonFiniteError: naming `what`, how many rows hold NaN or Inf and
      the first of them.
  """
  if not isinstance(array, jax.Array):
    array = np.asarray(array)
  if _is_all_finite(array):
    return
  array = np.asarray(array)
  rows = array.reshape(len(array), -1) if array.ndim else array.reshape(1, 1)
  bad_rows = np.flatnonzero(~np.isfinite(rows).all(axis=1))
  if not len(bad_rows):
    return  # The sum overflowed; every entry is finite.
  unit = 'rows' if array.ndim >= 2 else 'entries'
  listed = ', '.join(str(row) for row in bad_rows[:_ROWS_LISTED])
  more = ', ...' if len(bad_rows) > _ROWS_LISTED else ''
  raise errors.NonFiniteError(
    f'{what}: {len(bad_rows)} of {len(rows)} {unit} hold NaN or Inf ({unit} {listed}{more}); '
    'the generator or the feature network produced non-finite values, e.g. a diverged G: '
    "check the run's losses."
  )
