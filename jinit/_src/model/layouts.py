r"""A parameter's layout from the layer that owns it, where that is certain; a refusal otherwise.

Without a trace (:func:`jinit.trace_axes`), :func:`jinit.reinit` reads a parameter's role and
axes from what it can be sure of, and refuses -- naming the parameter and saying what to pass --
where it would otherwise have to guess:

=====================================  ==========================  ==============================
owner                                  parameter                   layout
=====================================  ==========================  ==============================
Equinox ``Linear``, ``GRUCell``,       ``weight*`` ``(out, in)``   dense, in 1, out 0
``LSTMCell``
Equinox ``Conv*``, ``ConvTranspose*``  ``weight (out, in/g, *k)``  conv, in 1, out 0
Equinox ``Embedding``                  ``weight (vocab, dim)``     embedding, in 1, out 0
Equinox norms (Layer/RMS/Group/Batch)  ``weight``, ``bias``        scale, bias
nnx ``Linear``/``Conv*``/``Embed``,    (by the module's own        as the module builds it
``LinearGeneral``, norms               attributes)
Flax names: ``embedding``              ``(vocab, features)``       embedding, in 1, out 0
Flax names: 2-D ``kernel``             ``(in, out)``               dense
Flax names: attention ``query``/       ``(in, heads, dim)``,       dense
``key``/``value``, ``out``             ``(heads, dim, out)``
Flax names: ``Conv_i``,                ``(*window, in, out)``      conv
``ConvTranspose_i``, ``ConvLocal_i``
Flax names: ``DenseGeneral_i``         ``(*in, *out)``             dense, out = the bias's axes
``bias``, ``scale``                                                bias, scale
=====================================  ==========================  ==============================

JinitError: a kernel of rank >= 3 in a module it does not know by name (``params/proj/kernel`` of
shape ``(8, 4, 16)`` could be a 1-D convolution, a ``DenseGeneral`` or an einsum), any ``Einsum``
layer (its equation decides the layout), a ``weight`` of a module it does not know (PyTorch's
convention is ``(out, in)``, Flax's ``(in, out)``), and a known layer whose parameter has more
axes than the layer makes (stacked by ``nn.scan``/``vmap``; name it in ``stacked=``).

``stacked`` leading axes are batch axes. An embedding's ``in`` axis is its feature axis, as in a
tied read-out ``x @ table.T`` and Flax's ``Embed`` initializer (fan_in = features).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from jinit._src.core.optional import loaded
from jinit._src.core.types import Axes
from jinit._src.model.param_axes import ParamAxes

__all__ = ["TRACE_HINT", "infer_layout", "layer_axes"]

_ATTENTION_INPUTS = ("query", "key", "value", "qkv", "kv")
# Flax's automatic names; lifted transforms prefix the class name (nn.scan(nn.Conv): ScanConv_0)
_LIFTED = r"(Scan|Vmap|Checkpoint|Remat|Jit)*"
_FLAX_CONV = re.compile(_LIFTED + r"(Conv|ConvTranspose|ConvLocal)_\d+")
_FLAX_GENERAL = re.compile(_LIFTED + r"DenseGeneral_\d+")
_FLAX_DENSE = re.compile(_LIFTED + r"Dense_\d+")
_EINSUM = re.compile(r"Einsum(_\d+)?", re.IGNORECASE)

#: What to do when a layout cannot be known from names and types.
TRACE_HINT = (
    "Pass axes=jinit.trace_axes(apply_fn, params, x) to read the layout from the computation, "
    "or give the axes yourself: functools.partial(factory, in_axis=..., out_axis=...) or "
    "axes={path: {'in_axis': ..., 'out_axis': ..., 'batch_axis': ...}}."
)


def _shift(axis: Axes, by: int) -> Axes:
    if isinstance(axis, int):
        return axis + by if axis >= 0 else axis
    return tuple(a + by if a >= 0 else a for a in axis)


def _weight(
    path: str, shape: tuple[int, ...], role: str, in_axis: Axes, out_axis: Axes, stacked: int
) -> ParamAxes:
    return ParamAxes(
        path,
        shape,
        role,
        in_axis=_shift(in_axis, stacked),
        out_axis=_shift(out_axis, stacked),
        batch_axis=tuple(range(stacked)),
    )


def _unknown(path: str, shape: tuple[int, ...], why: str) -> ParamAxes:
    return ParamAxes(path, shape, "unknown", reason=why)


def _rank_mismatch(
    path: str, shape: tuple[int, ...], owner: str, rank: int, stacked: int
) -> ParamAxes | None:
    if len(shape) == rank + stacked:
        return None
    return _unknown(
        path,
        shape,
        f"it has rank {len(shape)}, but {owner} makes rank {rank}"
        + (f" (plus {stacked} stacked)" if stacked else "")
        + "; if the layer is stacked by nn.scan/vmap, name it in stacked=[...]",
    )


def _equinox(
    owner: Any, name: str, path: str, shape: tuple[int, ...], stacked: int
) -> ParamAxes | None:
    """The layout of a parameter of an Equinox layer, or None for a module not known here."""
    eqx = sys.modules.get("equinox")
    if eqx is None or not isinstance(owner, eqx.Module):
        return None
    nn = eqx.nn
    label = f"eqx.nn.{type(owner).__name__}"
    if isinstance(owner, nn.Linear | nn.GRUCell | nn.LSTMCell) and name.startswith("weight"):
        return _rank_mismatch(path, shape, label, 2, stacked) or _weight(
            path, shape, "dense", 1, 0, stacked
        )
    if isinstance(owner, nn.Conv | nn.ConvTranspose) and name == "weight":
        rank = 2 + owner.num_spatial_dims
        return _rank_mismatch(path, shape, label, rank, stacked) or _weight(
            path, shape, "conv", 1, 0, stacked
        )
    if isinstance(owner, nn.Embedding) and name == "weight":
        return _rank_mismatch(path, shape, label, 2, stacked) or _weight(
            path, shape, "embedding", 1, 0, stacked
        )
    norms = tuple(
        getattr(nn, n) for n in ("LayerNorm", "RMSNorm", "GroupNorm", "BatchNorm") if hasattr(nn, n)
    )
    if isinstance(owner, norms) and name in ("weight", "bias"):
        return ParamAxes(path, shape, "scale" if name == "weight" else "bias")
    if name.startswith("bias") and isinstance(
        owner, nn.Linear | nn.Conv | nn.ConvTranspose | nn.GRUCell | nn.LSTMCell
    ):
        kernel = path.rsplit("/", 1)[0] + "/weight" if "/" in path else "weight"
        if isinstance(owner, nn.GRUCell | nn.LSTMCell):
            kernel = kernel + "_ih"
        return ParamAxes(path, shape, "bias", kernels=(kernel,))
    return _unknown(path, shape, f"it belongs to {label}, whose layout jinit does not know")


def _nnx(
    owner: Any, name: str, path: str, shape: tuple[int, ...], stacked: int
) -> ParamAxes | None:
    """The layout of a parameter of an nnx layer, or None for a module not known here."""
    nnx = loaded("flax.nnx")  # an nnx layer means Flax is imported
    if nnx is None or not isinstance(owner, nnx.Module):
        return None
    label = f"nnx.{type(owner).__name__}"
    kernel_path = path.rsplit("/", 1)[0] + "/kernel" if "/" in path else "kernel"
    if isinstance(owner, nnx.Einsum):
        return _unknown(path, shape, f"it belongs to {label}, whose equation decides its layout")
    if name == "bias" and isinstance(
        owner, nnx.Linear | nnx.LinearGeneral | nnx.Conv | nnx.ConvTranspose
    ):
        return ParamAxes(path, shape, "bias", kernels=(kernel_path,))
    if name == "kernel" and isinstance(owner, nnx.Linear):
        return _rank_mismatch(path, shape, label, 2, stacked) or _weight(
            path, shape, "dense", 0, 1, stacked
        )
    if name == "kernel" and isinstance(owner, nnx.LinearGeneral):
        n_batch = len(owner.batch_axis)
        n_in, n_out = len(owner.in_features), len(owner.out_features)
        rank = n_batch + n_in + n_out
        bad = _rank_mismatch(path, shape, label, rank, stacked)
        if bad is not None:
            return bad
        ins = tuple(range(stacked + n_batch, stacked + n_batch + n_in))
        outs = tuple(range(stacked + n_batch + n_in, stacked + rank))
        return ParamAxes(
            path,
            shape,
            "dense",
            in_axis=ins[0] if len(ins) == 1 else ins,
            out_axis=outs[0] if len(outs) == 1 else outs,
            batch_axis=tuple(range(stacked + n_batch)),
        )
    if name == "kernel" and isinstance(owner, nnx.Conv | nnx.ConvTranspose):
        rank = 2 + len(owner.kernel_size)
        return _rank_mismatch(path, shape, label, rank, stacked) or _weight(
            path, shape, "conv", -2, -1, stacked
        )
    if name == "embedding" and isinstance(owner, nnx.Embed):
        return _rank_mismatch(path, shape, label, 2, stacked) or _weight(
            path, shape, "embedding", 1, 0, stacked
        )
    norms = tuple(
        getattr(nnx, n)
        for n in ("LayerNorm", "RMSNorm", "BatchNorm", "GroupNorm", "InstanceNorm")
        if hasattr(nnx, n)
    )
    if isinstance(owner, norms) and name in ("scale", "bias"):
        return ParamAxes(path, shape, name)
    return None  # an nnx module of the user's: Flax's naming conventions apply


def _flax_names(
    path: str,
    shape: tuple[int, ...],
    siblings: Mapping[str, tuple[int, ...]],
    stacked: int,
) -> ParamAxes:
    parts = path.split("/")
    name = parts[-1]
    parent = parts[-2] if len(parts) > 1 else ""
    core = shape[stacked:]
    prefix = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
    if name == "bias":
        kernel = next(
            (
                f"{prefix}{n}"
                for n in ("kernel", "weight")
                if n in siblings and len(siblings[n]) >= 2
            ),
            None,
        )
        return ParamAxes(path, shape, "bias", kernels=(kernel,) if kernel else ())
    if name == "scale":
        return ParamAxes(path, shape, "scale")
    if _EINSUM.fullmatch(parent):
        return _unknown(
            path,
            shape,
            f"it belongs to an Einsum layer ({parent!r}), whose equation decides its layout",
        )
    if name == "embedding" and len(core) == 2:
        return _weight(path, shape, "embedding", 1, 0, stacked)
    if name == "weight" and len(core) == 1:
        return ParamAxes(path, shape, "scale", reason="a 1-D weight (a norm's scale)")
    if name != "kernel":
        return _unknown(
            path,
            shape,
            f"jinit does not know the layout of a parameter named {name!r} in "
            f"{parent or 'the root'!r}"
            + (
                " (PyTorch's weights are (out, in), Flax's kernels (in, out))"
                if name == "weight"
                else ""
            ),
        )
    if len(core) == 2:
        return _weight(path, shape, "dense", 0, 1, stacked)
    if len(core) == 3 and parent in _ATTENTION_INPUTS:
        return _weight(path, shape, "dense", 0, (1, 2), stacked)
    if len(core) == 3 and parent == "out":
        return _weight(path, shape, "dense", (0, 1), 2, stacked)
    if len(core) >= 3 and _FLAX_CONV.fullmatch(parent):
        return _weight(path, shape, "conv", -2, -1, stacked)
    bias = siblings.get("bias")
    if len(core) >= 3 and _FLAX_GENERAL.fullmatch(parent) and bias:
        n_out = len(bias) - stacked
        if 0 < n_out < len(core) and tuple(core[-n_out:]) == tuple(bias[stacked:]):
            ins = tuple(range(len(core) - n_out))
            outs = tuple(range(len(core) - n_out, len(core)))
            return _weight(path, shape, "dense", ins, outs, stacked)
    if len(core) < 2:
        return _unknown(path, shape, f"a kernel of rank {len(core)} has no fans")
    if _FLAX_DENSE.fullmatch(parent):
        return _unknown(
            path,
            shape,
            f"a Dense kernel is (in, out), but this one has rank {len(shape)}; if the layer is "
            "stacked by nn.scan/vmap, name it in stacked=[...]",
        )
    return _unknown(
        path,
        shape,
        f"a rank-{len(shape)} kernel of {parent or 'the root'!r}, a module jinit does not know by "
        "name (a convolution? a DenseGeneral? an einsum? stacked layers?)",
    )


def infer_layout(
    path: str,
    shape: Sequence[int],
    *,
    owner: Any = None,
    siblings: Mapping[str, tuple[int, ...]] | None = None,
    stacked: int = 0,
) -> ParamAxes:
    """The role and axes of a parameter from its owner's type or Flax's names (module doc).

    Args:
      path: the parameter's path string.
      shape: its shape.
      owner: the module object that holds it (an Equinox or nnx module), if known.
      siblings: ``{name: shape}`` of the other parameters of the same module.
      stacked: leading stack axes (``nn.scan``/``vmap``), batch axes.

    Returns:
      A :class:`jinit.ParamAxes`; role ``"unknown"`` (with the reason and what to pass) where
      the layout cannot be known without tracing.

    Example:
      >>> infer_layout("params/Dense_0/kernel", (4, 8)).axes
      {'in_axis': 0, 'out_axis': 1, 'batch_axis': ()}
      >>> infer_layout("params/proj/kernel", (8, 4, 16)).role
      'unknown'
    """
    dims = tuple(int(d) for d in shape)
    name = path.rsplit("/", 1)[-1]
    for known in (_equinox, _nnx):
        found = known(owner, name, path, dims, stacked) if owner is not None else None
        if found is not None:
            return found
    return _flax_names(path, dims, dict(siblings or {}), stacked)


def layer_axes(
    path: str, shape: Sequence[int], *, bias_shape: Sequence[int] | None = None, stacked: int = 0
) -> dict[str, Axes]:
    """The ``in_axis``/``out_axis``/``batch_axis`` of a Flax parameter, from its path and shape.

    The name-based half of ``infer_layout`` (see the module docstring for the table), for a
    weight: a Flax ``Dense``/``Conv``/attention kernel, ``DenseGeneral`` with a bias, or an
    ``embedding``.

    Args:
      path: the parameter's path (``params/Conv_0/kernel``).
      shape: its shape.
      bias_shape: the shape of the ``bias`` beside it (splits a ``DenseGeneral`` kernel).
      stacked: leading stack axes (scanned or vmapped layers), returned as ``batch_axis``.

    Returns:
      ``{"in_axis", "out_axis", "batch_axis"}``.

    Raises:
      ValueError: where the layout cannot be known from the name and shape (the message says
        why, and what to pass instead).

    Example:
      >>> layer_axes("params/MultiHeadDotProductAttention_0/out/kernel", (4, 8, 32))
      {'in_axis': (0, 1), 'out_axis': 2, 'batch_axis': ()}
    """
    siblings = {"bias": tuple(bias_shape)} if bias_shape is not None else {}
    found = _flax_names(path, tuple(int(d) for d in shape), siblings, stacked)
    axes = found.axes
    if axes is None:
        why = found.reason or f"the model uses it as a {found.role}, which has no fans"
        raise ValueError(
            f"jinit.layer_axes: no layout for {path!r} of shape {tuple(shape)}: {why}. {TRACE_HINT}"
        )
    return axes
