r"""Orthogonal initializers: Haar-random (semi-)orthogonal matrices and delta-orthogonal kernels.

:func:`orthogonal` reshapes the weight to a matrix with ``shape[column_axis]`` columns and
:math:`n = \prod(\text{shape}) / \text{shape[column\_axis]}` rows and fills it with
:math:`\text{scale}\cdot Q`, where :math:`Q` has orthonormal columns (:math:`Q^\top Q = I`)
if :math:`n \ge m` and orthonormal rows otherwise. :math:`Q` comes from the QR factorization of
a standard normal matrix, :math:`Z = QR`, with the sign correction
:math:`Q \leftarrow Q\,\operatorname{diag}(\operatorname{sign} R_{ii})` that makes :math:`Q`
Haar-distributed (Mezzadri, 2007); without it QR's sign convention biases the distribution.
Every singular value is ``scale``, so the map preserves norms exactly (Saxe et al., 2014).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.base import DTypeLike, Initializer, KeyArray, OutSharding, Shape
from jinit._src.checks import (
    check_axes,
    check_factory_dtype,
    check_real,
    check_representable,
    normalize_axes,
    resolve_dtype,
    resolve_shape,
)
from jinit._src.sharding import place

__all__ = ["delta_orthogonal", "haar_orthogonal_matrix", "orthogonal"]


def haar_orthogonal_matrix(key: KeyArray, rows: int, cols: int, dtype: np.dtype) -> jax.Array:
    """A Haar-random ``(rows, cols)`` matrix with orthonormal columns or rows, in ``dtype``.

    Bit-identical to ``jax.random.orthogonal(key, rows, (), dtype, cols)`` for float32/64 and
    complex dtypes. 16-bit floats are computed in float32 and rounded once (LAPACK has no
    bfloat16/float16 QR). A diagonal entry of ``R`` that is exactly 0 (probability 0 in exact
    arithmetic) gets sign +1 instead of 0, so no column is ever zeroed.
    """
    work = np.dtype(np.float32) if dtype.itemsize < 4 else dtype
    z = jax.random.normal(key, (max(rows, cols), min(rows, cols)), work)
    q, r = jnp.linalg.qr(z)
    d = jnp.linalg.diagonal(r)
    signs = jnp.where(d == 0, jnp.ones_like(d), jnp.sign(d))
    q = q * jnp.expand_dims(signs, -2)
    if rows < cols:
        q = q.mT
    return q.astype(dtype)


def orthogonal(
    scale: float = 1.0,
    column_axis: int = -1,
    dtype: DTypeLike | None = None,
) -> Initializer:
    r"""Build an initializer of Haar-random (semi-)orthogonal matrices times ``scale``.

    See the module docstring for the construction. Same signature as
    ``jax.nn.initializers.orthogonal`` and bit-identical output for float32 and complex64;
    unlike JAX it also works for bfloat16/float16 (computed in float32, then rounded), for
    ``out_sharding``, and for zero-size shapes.

    Args:
      scale: the multiplier (every singular value equals ``scale``), > 0. Use the activation's
        gain, e.g. ``calculate_gain("relu")``.
      column_axis: the axis whose slices are the orthonormal columns.
      dtype: default dtype (float or complex).

    Returns:
      An initializer for shapes of rank >= 2.

    Raises:
      ValueError: ``scale`` not > 0 or not finite; at call time, a rank below 2 or
        ``column_axis`` out of range.
      TypeError: ``column_axis`` not an int; at call time, an integer dtype.

    Example:
      >>> import jax, jax.numpy as jnp, jinit
      >>> q = jinit.orthogonal()(jax.random.key(0), (64, 64))
      >>> bool(jnp.allclose(q.T @ q, jnp.eye(64), atol=1e-5))
      True

    References:
      Saxe, McClelland & Ganguli (2014), https://arxiv.org/abs/1312.6120;
      Mezzadri (2007), https://arxiv.org/abs/math-ph/0609050
    """
    scale = check_real("orthogonal", "scale", scale, positive=True)
    axis = check_axes("orthogonal", "column_axis", column_axis)
    if not isinstance(axis, int):
        raise TypeError(f"jinit.orthogonal: column_axis must be an int, got {column_axis!r}.")
    default = check_factory_dtype("orthogonal", dtype)

    def init(
        key: KeyArray,
        shape: Shape,
        dtype: DTypeLike | None = default,
        out_sharding: OutSharding = None,
    ) -> jax.Array:
        dims = resolve_shape("orthogonal", shape)
        resolved = resolve_dtype("orthogonal", dtype)
        if len(dims) < 2:
            raise ValueError(
                f"jinit.orthogonal: needs a shape of rank >= 2, got {dims} (rank {len(dims)})."
            )
        (col,) = normalize_axes("orthogonal", "column_axis", axis, len(dims))
        check_representable("orthogonal", "scale", scale, resolved)
        if 0 in dims:
            return jnp.zeros(dims, resolved, out_sharding=out_sharding)
        cols = dims[col]
        rows = math.prod(dims) // cols
        q = haar_orthogonal_matrix(key, rows, cols, resolved)
        q = jnp.reshape(q, (*(d for i, d in enumerate(dims) if i != col), cols))
        q = jnp.moveaxis(q, -1, col)
        return place(jnp.array(scale, resolved) * q, out_sharding)

    return init


def delta_orthogonal(
    scale: float = 1.0,
    column_axis: int = -1,
    dtype: DTypeLike | None = None,
) -> Initializer:
    r"""Build a delta-orthogonal initializer for convolution kernels ``(*window, in, out)``.

    The kernel is zero except at the spatial centre :math:`((k_i-1)//2)_i`, which holds a
    ``scale``-times orthogonal ``(in, out)`` matrix. The convolution then acts as an orthogonal
    map at initialization, which lets very deep CNNs (10,000 layers of tanh) train without
    shortcuts (Xiao et al., 2018). Bit-identical to ``jax.nn.initializers.delta_orthogonal``.

    Args:
      scale: the multiplier of the orthogonal matrix, > 0.
      column_axis: passed to :func:`orthogonal` for the ``(in, out)`` matrix.
      dtype: default dtype.

    Returns:
      An initializer for 3-D, 4-D or 5-D kernels with ``in <= out``.

    Raises:
      ValueError: ``scale`` not > 0; at call time, a rank other than 3, 4 or 5, or
        ``in > out``.

    Example:
      >>> import jax, jinit
      >>> w = jinit.delta_orthogonal()(jax.random.key(0), (3, 3, 16, 16))
      >>> float(abs(w[0, 0]).max()), w[1, 1].shape
      (0.0, (16, 16))

    References:
      Xiao, Bahri, Sohl-Dickstein, Schoenholz & Pennington (2018),
      https://arxiv.org/abs/1806.05393
    """
    scale = check_real("delta_orthogonal", "scale", scale, positive=True)
    if not isinstance(check_axes("delta_orthogonal", "column_axis", column_axis), int):
        raise TypeError(f"jinit.delta_orthogonal: column_axis must be an int, got {column_axis!r}.")
    default = check_factory_dtype("delta_orthogonal", dtype)
    matrix_init = orthogonal(scale, column_axis, default)

    def init(
        key: KeyArray,
        shape: Shape,
        dtype: DTypeLike | None = default,
        out_sharding: OutSharding = None,
    ) -> jax.Array:
        dims = resolve_shape("delta_orthogonal", shape)
        resolved = resolve_dtype("delta_orthogonal", dtype)
        if len(dims) not in (3, 4, 5):
            raise ValueError(
                "jinit.delta_orthogonal: needs a 3-D, 4-D or 5-D kernel (*window, in, out), "
                f"got shape {dims}."
            )
        if dims[-1] < dims[-2]:
            raise ValueError(
                "jinit.delta_orthogonal: needs in <= out (shape[-2] <= shape[-1]) so the "
                f"centre can be orthogonal, got in={dims[-2]}, out={dims[-1]}."
            )
        if 0 in dims:
            return jnp.zeros(dims, resolved, out_sharding=out_sharding)
        matrix = matrix_init(key, dims[-2:], resolved)
        centre = tuple((k - 1) // 2 for k in dims[:-2])
        kernel = jnp.zeros(dims, dtype=resolved).at[(*centre, ...)].set(matrix)
        return place(kernel, out_sharding)

    return init
