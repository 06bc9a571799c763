r"""Fan-in and fan-out of a weight array, for every layer layout.

For a weight array of shape ``shape`` with input axes :math:`I`, output axes :math:`O` and
batch (stacking) axes :math:`B`, every remaining axis is part of the receptive field:

.. math::

   r = \frac{\prod_k s_k}{\prod_{i \in I} s_i \,\prod_{o \in O} s_o \,\prod_{b \in B} s_b},
   \qquad
   \mathrm{fan\_in} = r \prod_{i \in I} s_i, \qquad
   \mathrm{fan\_out} = r \prod_{o \in O} s_o.

Layouts (the defaults are Flax's):

===============================  ==========================  ===========================
layer                            shape                       axes
===============================  ==========================  ===========================
Dense                            ``(in, out)``               defaults
Conv (Flax)                      ``(*window, in, out)``      defaults: fan_in includes the window
grouped / depthwise Conv (Flax)  ``(*window, in/g, out)``    defaults: fan_in = window·in/g
Flax DenseGeneral (flattened)    ``(prod(in), prod(out))``   defaults
full-rank q,k,v (Einsum, param)  ``(in, heads, head_dim)``   ``in_axis=0, out_axis=(1, 2)``
full-rank attention output       ``(heads, head_dim, out)``  ``in_axis=(0, 1), out_axis=2``
stacked (scanned) layers         ``(L, in, out)``            ``batch_axis=0``
PyTorch Linear / Conv            ``(out, in, *window)``      ``in_axis=1, out_axis=0``
===============================  ==========================  ===========================

Flax's ``DenseGeneral`` and nnx's ``LinearGeneral`` reshape their kernel to 2-D before calling
``kernel_init``, so the default axes are right there and tuple axes are out of range; tuple axes
are for kernels created at full rank (``nn.Einsum``, ``nnx.Einsum``, ``self.param``).

The arithmetic is exactly that of ``jax.nn.initializers`` (same operations in the same order,
in Python floats), so fans -- and therefore the variances built on them -- are identical.
When an axis is in both ``in_axis`` and ``out_axis`` the formula is applied as written; Flax's
``Embed`` relies on this (``in_axis=-2, out_axis=0`` on ``(vocab, features)`` gives
``fan_in = features``).
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from typing import NamedTuple

from jinit._src.core.checks import check_axes, normalize_axes, resolve_shape
from jinit._src.core.errors import JinitValueError, owned
from jinit._src.core.types import Axes, Shape

__all__ = ["Fans", "compute_fans"]


class Fans(NamedTuple):
    """Effective input and output sizes of a weight array.

    Attributes:
      fan_in: number of inputs feeding each output unit (receptive field included).
      fan_out: number of outputs each input unit feeds.
      receptive_field: size of the receptive field (1 for a Dense kernel).
    """

    fan_in: float
    fan_out: float
    receptive_field: float


def _size(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    return math.prod(shape[axis] for axis in axes)


def compute_fans(
    shape: Shape,
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    *,
    owner: str | None = "compute_fans",
) -> Fans:
    r"""Compute fan-in, fan-out and receptive field of a weight array.

    See the module docstring for the formula and the axis conventions of every layer type.

    Args:
      shape: the weight array's shape.
      in_axis: axis or axes holding the layer's inputs.
      out_axis: axis or axes holding the layer's outputs.
      batch_axis: axis or axes to ignore (layers stacked by ``nn.scan`` or ``vmap``).
      owner: the public name errors are named after; ``None`` leaves naming to the caller's
        boundary (an initializer calling this names its own errors).

    Returns:
      ``Fans(fan_in, fan_out, receptive_field)`` as floats. An empty shape (a zero-size
      dimension) has all three equal to 0.

    Raises:
      ValueError: a dimension is negative, an axis is out of range, or the shape has rank < 2
        while the default ``in_axis=-2`` is used.
      TypeError: a dimension or axis is not an int.

    Example:
      >>> import jinit
      >>> jinit.compute_fans((3, 3, 64, 128))  # Flax Conv: 3x3 window, 64 -> 128 channels
      Fans(fan_in=576.0, fan_out=1152.0, receptive_field=9.0)
      >>> jinit.compute_fans((128, 64, 3, 3), in_axis=1, out_axis=0)  # PyTorch layout
      Fans(fan_in=576.0, fan_out=1152.0, receptive_field=9.0)
    """
    with owned(owner) if owner is not None else nullcontext():
        return _fans(shape, in_axis, out_axis, batch_axis)


def _fans(shape: Shape, in_axis: Axes, out_axis: Axes, batch_axis: Axes) -> Fans:
    dims = resolve_shape(shape)
    in_axes = check_axes("in_axis", in_axis)
    out_axes = check_axes("out_axis", out_axis)
    batch_axes = check_axes("batch_axis", batch_axis)
    if in_axes == -2 and len(dims) < 2:
        raise JinitValueError(
            f"a weight of rank {len(dims)} (shape {dims}) has no default input "
            "axis; fans need a shape of rank >= 2 (e.g. (fan_in, fan_out)), or pass in_axis "
            "and out_axis explicitly."
        )
    in_size = _size(dims, normalize_axes("in_axis", in_axes, len(dims)))
    out_size = _size(dims, normalize_axes("out_axis", out_axes, len(dims)))
    batch_size = _size(dims, normalize_axes("batch_axis", batch_axes, len(dims)))
    if 0 in dims:
        return Fans(0.0, 0.0, 0.0)
    # Same operations, same order as jax.nn.initializers, so the floats agree bit for bit.
    receptive_field = math.prod(dims) / in_size / out_size / batch_size
    return Fans(in_size * receptive_field, out_size * receptive_field, receptive_field)
