r"""ZerO: deterministic initialization with only zeros, ones and a Hadamard matrix.

ZerO (Zhao, Schäfer & Anandkumar 2022) starts every layer as (a piece of) the identity, and
widens with a scaled Hadamard matrix, so no randomness is needed. For a layer
:math:`y = W x` with :math:`W \in \mathbb R^{P_{out} \times P_{in}}` (Algorithm 1 of the paper):

.. math::

   W = \begin{cases}
     I & P_{out} = P_{in} \\
     I^* & P_{out} < P_{in} \quad (\text{the first } P_{out} \text{ inputs pass through}) \\
     c\, I^*_{P_{out} \times 2^m}\, H_m\, I^*_{2^m \times P_{in}} & P_{out} > P_{in},
       \quad m = \lceil \log_2 P_{out} \rceil, \; c = 2^{-(m-1)/2}
   \end{cases}

where :math:`I^*` is the partial identity (ones on the main diagonal of a rectangle) and
:math:`H_m` the Sylvester–Hadamard matrix of order :math:`2^m`, :math:`(H_m)_{ij} =
(-1)^{\operatorname{popcount}(i \wedge j)}`. The Hadamard block breaks the symmetry an
identity-only widening would keep (copies of the same units). jinit's kernels are ``(in,
out)`` (Flax: :math:`y = x K`), so :math:`K = W^\top`; :math:`H_m` is symmetric.

References:
  J. Zhao, F. Schäfer, A. Anandkumar (2022). ZerO initialization: initializing neural
  networks with only zeros and ones. TMLR. https://arxiv.org/abs/2110.12661
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jinit._src.core.checks import check_axes, normalize_axes
from jinit._src.core.errors import JinitTypeError, JinitValueError
from jinit._src.core.factories import initializer_factory
from jinit._src.core.sharding import place
from jinit._src.core.types import Axes, DTypeLike, KeyArray, OutSharding
from jinit._src.core.values import FLOAT, Draw

__all__ = ["zero_hadamard", "zero_matrix"]


def zero_matrix(fan_in: int, fan_out: int, dtype: DTypeLike = jnp.float32) -> jax.Array:
    r"""The ZerO ``(in, out)`` matrix :math:`W^\top` for a layer of ``fan_in`` -> ``fan_out``."""
    rows = lax.broadcasted_iota(jnp.uint32, (fan_in, fan_out), 0)
    cols = lax.broadcasted_iota(jnp.uint32, (fan_in, fan_out), 1)
    if fan_out <= fan_in:
        return (rows == cols).astype(dtype)
    m = math.ceil(math.log2(fan_out))
    scale = 2.0 ** (-(m - 1) / 2)
    odd = lax.population_count(rows & cols) & np.uint32(1)
    return (jnp.where(odd == 1, -scale, scale)).astype(dtype)


@initializer_factory(kinds=FLOAT)
def zero_hadamard(
    *,
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Draw:
    r"""Build the ZerO initializer (Zhao et al. 2022): identity, partial identity or Hadamard.

    Deterministic: the key is ignored, so every key gives the same bits. For an ``(in, out)``
    kernel: the identity when ``in == out``; the partial identity (the first ``out`` inputs
    pass through) when ``out < in``; when ``out > in``, :math:`c H_m` restricted to the
    first ``in`` rows and ``out`` columns, :math:`m = \lceil\log_2 \text{out}\rceil`,
    :math:`c = 2^{-(m-1)/2}` (see the module docstring). A convolution kernel ``(*window, in,
    out)`` gets that matrix at the window centre :math:`(k-1)//2` and zeros elsewhere (as
    :func:`jinit.dirac`), so a ``"SAME"`` convolution starts as the same channel map. A
    stacked kernel ``(layers, in, out)`` (``nn.scan``, ``vmap``-ed layers) looks like a 1-D
    convolution: pass ``batch_axis=0`` so every layer gets the full matrix.

    Args:
      in_axis: the input axis (one int); ``in_axis=1, out_axis=0`` for PyTorch's
        ``(out, in, *window)``.
      out_axis: the output axis (one int).
      batch_axis: axes of independent layers (an int or a tuple); each gets the same matrix.
      dtype: default dtype (float).

    Returns:
      An initializer for kernels of rank >= 2.

    Raises:
      TypeError: an axis that is not one int.
      ValueError: at call time, a rank below 2 or equal axes.

    Example:
      >>> import jax, jinit
      >>> jinit.zero_hadamard()(jax.random.key(0), (2, 4))
      Array([[ 0.70710677,  0.70710677,  0.70710677,  0.70710677],
             [ 0.70710677, -0.70710677,  0.70710677, -0.70710677]], dtype=float32)

    References:
      Zhao, Schäfer & Anandkumar (2022), https://arxiv.org/abs/2110.12661
    """
    axes = {}
    for name, value in (("in_axis", in_axis), ("out_axis", out_axis)):
        checked = check_axes(name, value)
        if not isinstance(checked, int):
            raise JinitTypeError(f"{name} must be a single int, got {value!r}.")
        axes[name] = checked
    batch = check_axes("batch_axis", batch_axis)
    del dtype  # held by the initializer

    def draw(
        key: KeyArray, dims: tuple[int, ...], resolved: np.dtype, out_sharding: OutSharding
    ) -> jax.Array:
        if len(dims) < 2:
            raise JinitValueError(f"needs a kernel of rank >= 2 (..., in, out), got {dims}.")
        (i_ax,) = normalize_axes("in_axis", axes["in_axis"], len(dims))
        (o_ax,) = normalize_axes("out_axis", axes["out_axis"], len(dims))
        stacked = normalize_axes("batch_axis", batch, len(dims))
        if i_ax == o_ax:
            raise JinitValueError(f"in_axis and out_axis must differ, both are axis {i_ax}.")
        if {i_ax, o_ax} & set(stacked):
            raise JinitValueError(
                f"batch_axis {tuple(stacked)} must not contain in_axis {i_ax} or out_axis {o_ax}."
            )
        if stacked:  # one layer's kernel, repeated along the batch axes
            inner = tuple(d for axis, d in enumerate(dims) if axis not in stacked)
            i_in, o_in = (axis - sum(b < axis for b in stacked) for axis in (i_ax, o_ax))
            layer = zero_hadamard(in_axis=i_in, out_axis=o_in)(key, inner, resolved)
            layer = jnp.expand_dims(layer, tuple(sorted(stacked)))
            return place(jnp.broadcast_to(layer, dims), out_sharding)
        matrix = zero_matrix(dims[i_ax], dims[o_ax], resolved)
        if i_ax > o_ax:
            matrix = matrix.T
        window = [axis for axis in range(len(dims)) if axis not in (i_ax, o_ax)]
        if not window:
            return place(matrix, out_sharding)
        index: list[slice | int] = [slice(None)] * len(dims)
        for axis in window:
            index[axis] = (dims[axis] - 1) // 2
        kernel = jnp.zeros(dims, resolved)
        if math.prod(dims):
            kernel = kernel.at[tuple(index)].set(matrix)
        return place(kernel, out_sharding)

    return draw
