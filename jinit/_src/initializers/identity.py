r"""Identity-like initializers: ``identity``/``eye`` for matrices, ``dirac`` for convolutions.

They are deterministic (the key is ignored). An identity layer passes its input through
unchanged, which is how residual-free deep networks can start as the identity map
(Le, Jaitly & Hinton, 2015, for IRNNs; Zagoruyko & Komodakis, 2017, for DiracNets).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.core.checks import (
    check_axes,
    check_real,
    check_representable,
    normalize_axes,
)
from jinit._src.core.errors import JinitTypeError, JinitValueError
from jinit._src.core.factories import initializer_factory
from jinit._src.core.sharding import place
from jinit._src.core.types import Axes, DTypeLike, KeyArray, OutSharding
from jinit._src.core.values import INEXACT, Draw

__all__ = ["dirac", "eye", "identity"]


@initializer_factory(kinds=INEXACT)
def identity(scale: float = 1.0, *, dtype: DTypeLike | None = None) -> Draw:
    r"""Build an initializer returning ``scale`` times the identity matrix (PyTorch ``eye_``).

    :math:`W_{ij} = \text{scale}\cdot\delta_{ij}` for a 2-D ``(in, out)`` shape; a non-square
    shape gets ones on its main diagonal (as ``eye_`` and ``jnp.eye``).

    Args:
      scale: the diagonal value (finite, may be any sign but not 0).
      dtype: default dtype (float or complex).

    Returns:
      An initializer for 2-D shapes.

    Raises:
      ValueError: ``scale`` 0 or not finite; at call time, a shape that is not 2-D.

    Example:
      >>> import jax, jinit
      >>> jinit.identity()(jax.random.key(0), (2, 3))
      Array([[1., 0., 0.],
             [0., 1., 0.]], dtype=float32)

    References:
      Le, Jaitly & Hinton (2015), https://arxiv.org/abs/1504.00941
    """
    scale = check_real("scale", scale)
    if scale == 0:
        raise JinitValueError("scale must be non-zero (use jinit.zeros), got 0.0.")
    del dtype  # held by the initializer

    def draw(
        key: KeyArray, dims: tuple[int, ...], resolved: np.dtype, out_sharding: OutSharding
    ) -> jax.Array:
        if len(dims) != 2:
            raise JinitValueError(
                f"needs a 2-D shape (in, out), got {dims}; for convolution kernels use jinit.dirac."
            )
        check_representable("|scale|", abs(scale), resolved)
        matrix = jnp.eye(dims[0], dims[1], dtype=resolved) * jnp.array(scale, resolved)
        return place(matrix, out_sharding)

    return draw


eye = identity


@initializer_factory(kinds=INEXACT)
def dirac(
    groups: int = 1,
    *,
    scale: float = 1.0,
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    dtype: DTypeLike | None = None,
) -> Draw:
    r"""Build a Dirac-delta initializer for convolution kernels (PyTorch ``dirac_``).

    The convolution with the resulting kernel copies input channel :math:`d` to output
    channel :math:`d` within each group, for :math:`d < \min(\text{in}, \text{out}/\text{groups})`:

    .. math:: W[c_1, \dots, c_k, d, g \cdot \tfrac{\text{out}}{\text{groups}} + d] = \text{scale},

    where :math:`c_i = (k_i - 1)//2` is the window centre and ``in`` is the per-group input
    size (Flax's grouped-conv kernel ``(*window, in/groups, out)``). All other entries are 0.
    The axes default to Flax's layout; pass ``in_axis=1, out_axis=0`` for PyTorch's
    ``(out, in, *window)``. The centre is :math:`(k-1)//2`, which makes a Flax ``"SAME"``
    convolution the exact identity for odd *and* even windows; PyTorch's ``dirac_`` uses
    :math:`k//2`, the same for odd windows but one step off for even ones.

    Args:
      groups: number of convolution groups; must divide the output size.
      scale: the value of the delta (finite, non-zero).
      in_axis: the input-channel axis (one int).
      out_axis: the output-channel axis (one int).
      dtype: default dtype.

    Returns:
      An initializer for kernels of rank >= 3 (a window of at least one axis).

    Raises:
      ValueError: ``groups < 1``, ``scale`` 0; at call time, a rank below 3, equal axes, or an
        output size not divisible by ``groups``.
      TypeError: ``groups`` or an axis not an int.

    Example:
      >>> import jax, jinit
      >>> w = jinit.dirac()(jax.random.key(0), (3, 3, 4, 4))
      >>> int(w.sum()), float(w[1, 1, 2, 2])
      (4, 1.0)

    References:
      Zagoruyko & Komodakis (2017), DiracNets, https://arxiv.org/abs/1706.00388
    """
    if isinstance(groups, bool) or not isinstance(groups, int | np.integer):
        raise JinitTypeError(f"groups must be an int, got {groups!r}.")
    groups = int(groups)
    if groups < 1:
        raise JinitValueError(f"groups must be >= 1, got {groups}.")
    scale = check_real("scale", scale)
    if scale == 0:
        raise JinitValueError("scale must be non-zero (use jinit.zeros), got 0.0.")
    axes = {}
    for name, value in (("in_axis", in_axis), ("out_axis", out_axis)):
        checked = check_axes(name, value)
        if not isinstance(checked, int):
            raise JinitTypeError(f"{name} must be a single int, got {value!r}.")
        axes[name] = checked
    del dtype  # held by the initializer

    def draw(
        key: KeyArray, dims: tuple[int, ...], resolved: np.dtype, out_sharding: OutSharding
    ) -> jax.Array:
        if len(dims) < 3:
            raise JinitValueError(
                f"needs a kernel of rank >= 3 (*window, in, out), got {dims}; for "
                "a matrix use jinit.identity."
            )
        (i_ax,) = normalize_axes("in_axis", axes["in_axis"], len(dims))
        (o_ax,) = normalize_axes("out_axis", axes["out_axis"], len(dims))
        if i_ax == o_ax:
            raise JinitValueError(f"in_axis and out_axis must differ, both are axis {i_ax}.")
        if dims[o_ax] % groups:
            raise JinitValueError(
                f"the output size {dims[o_ax]} (axis {o_ax}) must be divisible by groups={groups}."
            )
        check_representable("|scale|", abs(scale), resolved)
        per_group = dims[o_ax] // groups
        diagonal = min(per_group, dims[i_ax])
        window = [axis for axis in range(len(dims)) if axis not in (i_ax, o_ax)]
        channel = np.arange(diagonal)
        outs = (np.arange(groups)[:, None] * per_group + channel[None, :]).ravel()
        ins = np.tile(channel, groups)
        index: list[np.ndarray | int] = [0] * len(dims)
        for axis in window:
            index[axis] = (dims[axis] - 1) // 2
        index[i_ax], index[o_ax] = ins, outs
        kernel = jnp.zeros(dims, resolved)
        if math.prod(dims):
            kernel = kernel.at[tuple(index)].set(jnp.array(scale, resolved))
        return place(kernel, out_sharding)

    return draw
