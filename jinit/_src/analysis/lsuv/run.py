r"""Layer-sequential unit-variance (LSUV) initialization: orthogonal kernels rescaled on data.

LSUV (Mishkin & Matas, 2016) is a data-dependent initialization in two steps:

1. Every kernel is re-initialized with a Haar-random (semi-)orthogonal matrix
   (:func:`jinit.orthogonal`, through :func:`jinit.reinit`, so each kernel's key is derived
   from its path).
2. The layers are visited in forward order. For layer :math:`L` with pre-activation output
   :math:`B_L` -- the output of the operation that consumes the kernel, read from the traced
   program (:mod:`jinit._src.analysis.lsuv.trace`), plus the bias the trace links to it -- a
   mini-batch
   is run through the network and the kernel is rescaled,

   .. math:: W_L \leftarrow \frac{W_L}{\sqrt{\operatorname{Var}(B_L)}},

   with a fresh mini-batch each time, until :math:`|\operatorname{Var}(B_L) - 1| <
   \mathrm{tol}` or ``max_iters`` rescalings have been made. The variance is taken over all
   elements of :math:`B_L` (examples, positions and units together).

Earlier layers do not depend on later ones, so once a layer is done it stays done: a single
sweep suffices. The forward order is read from the traced computation (the order of the
operations that produce each layer's output), not from the parameter names, so
``Dense_10`` correctly comes after ``Dense_9`` and submodules declared in any order work.

Optionally the biases are initialized from the data too (``bias="center"``): each rescaling
also shifts the bias so that every output unit has zero mean on the batch,

.. math::
   m = \operatorname{mean}_{\text{batch}}(B_L), \quad
   v = \operatorname{mean}\big((B_L - m)^2\big), \quad
   W_L \leftarrow \frac{W_L}{\sqrt v}, \quad b_L \leftarrow \frac{b_L - m}{\sqrt v},

which, for an affine layer :math:`B_L = W_L x + b_L`, makes :math:`B_L` exactly zero-mean per
unit and unit-variance on that batch.

Deliberately *not* offered: data-dependent schemes that set weights to statistics of the
input data itself (for example every filter to the mean input patch). Such weights are all
alike (every unit computes the same feature, a symmetry gradient descent cannot break) and
are not orthogonal; LSUV changes only the scale of the orthogonal kernels (and, optionally,
the biases), never their direction.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeAlias, get_args

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.analysis.capture import execution_order
from jinit._src.analysis.lsuv.batches import batch_source
from jinit._src.analysis.lsuv.forward import Forward, setup
from jinit._src.analysis.lsuv.report import LSUVLayer, LSUVReport
from jinit._src.analysis.lsuv.trace import TracedForward
from jinit._src.core.checks import check_choice, check_int, check_real
from jinit._src.core.errors import named
from jinit._src.core.types import KeyArray, Pattern, PyTree
from jinit._src.initializers.orthogonal import orthogonal
from jinit._src.model.paths import path_string
from jinit._src.model.plan import matcher as reinit_matcher
from jinit._src.model.reinit import reinit
from jinit._src.model.trace.program import is_array

__all__ = ["BIAS_MODES", "LSUVLayer", "LSUVReport", "lsuv"]

#: Accepted values of ``lsuv(..., bias=...)``.
#: What :func:`lsuv` does with each kernel's linked bias (see its ``bias`` argument).
BiasMode: TypeAlias = Literal["keep", "zero", "center"]
BIAS_MODES: tuple[BiasMode, ...] = get_args(BiasMode)

#: A variance below this fraction of the output's second moment is rounding noise: constant.
_CONSTANT = 1e-10

# ----------------------------------------------------------------------------- statistics


def _statistics(
    forward: Forward, layers: Sequence[str], bias_shapes: Mapping[str, tuple[int, ...]]
) -> Callable[[Any, Any], dict[str, dict[str, jax.Array]]]:
    """``(params, batch) -> {layer: {"var", "mean"[, "unit_mean", "within"]}}``, in float32."""

    def statistics(params: PyTree, batch: PyTree) -> dict[str, dict[str, jax.Array]]:
        outputs = forward(params, batch)
        result = {}
        for layer in layers:
            arrays = [jnp.asarray(a, jnp.float32) for a in jax.tree.leaves(outputs[layer])]
            flat = jnp.concatenate([a.ravel() for a in arrays])
            entry = {"var": jnp.var(flat), "mean": jnp.mean(flat)}
            if layer in bias_shapes:
                shape = bias_shapes[layer]
                for a in arrays:
                    if a.ndim < len(shape) or a.shape[a.ndim - len(shape) :] != shape:
                        raise ValueError(
                            f"jinit.lsuv: bias='center' needs the output of {layer!r} to end "
                            f"with the bias shape {shape}, got output shape {a.shape}"
                        )
                rows = jnp.concatenate([a.reshape(-1, *shape) for a in arrays])
                unit_mean = jnp.mean(rows, axis=0)
                entry["unit_mean"] = unit_mean
                entry["within"] = jnp.mean((rows - unit_mean) ** 2)
            result[layer] = entry
        return result

    return statistics


# ----------------------------------------------------------------------------- lsuv


def _matcher(pattern: object) -> Callable[[str], bool]:
    return reinit_matcher(pattern, "jinit.lsuv: kernel_pattern")


@named
def lsuv(
    model: Any,
    variables: PyTree,
    batches: PyTree,
    key: KeyArray,
    *,
    tol: float = 0.1,
    max_iters: int = 10,
    kernel_pattern: Pattern = "*kernel",
    bias: BiasMode = "keep",
    orthogonal_init: bool = True,
    batch_size: int | None = 256,
    apply_kwargs: Mapping[str, Any] | None = None,
) -> tuple[Any, LSUVReport]:
    r"""Initialize a model by LSUV: orthogonal kernels, each rescaled to unit output variance.

    See the module docstring for the procedure. For each matched kernel :math:`W_L`, in
    forward order:

    .. math::
       \text{repeat: } W_L \leftarrow W_L / \sqrt{\operatorname{Var}(B_L)}
       \quad\text{until } |\operatorname{Var}(B_L) - 1| < \mathrm{tol}
       \text{ or } \mathrm{max\_iters} \text{ rescalings,}

    where :math:`B_L` is the layer's output (before the activation) on a fresh batch each
    time. A layer costs ``iterations + 1`` forward passes; the forward pass is compiled once
    (per batch shape) and reused.

    The model can be given four ways; ``variables`` and the first return value follow it:

    ====================================  ==========================  ========================
    ``model``                             ``variables``               returns
    ====================================  ==========================  ========================
    a ``flax.linen`` Module               ``model.init(...)``         new variables
    an ``nnx.Module``                     ``None``                    a new module
    an ``nnx.GraphDef``                   its ``nnx.State``           a new state
    ``apply(params, batch)``              the params pytree           new params
    ``fn(params, batch) -> {path: out}``  the params pytree           new params
    ====================================  ==========================  ========================

    A kernel's layer output is the output of the ``dot_general``/``conv_general_dilated``
    that consumes it, plus its bias where the trace links one (``x @ w + b``): the
    pre-activation, whatever module or method computes it. A module that owns several kernels
    (a gated MLP) has each rescaled on its own output; a kernel used by several operations (a
    layer called twice, a fused ``w[0]``/``w[1]``) pools exactly its own outputs. The params
    of ``apply`` may be any pytree, an Equinox module included (``lambda m, x:
    jax.vmap(m)(x)``). A function that returns a mapping names the outputs itself, keyed by
    kernel path (``jinit.path_string`` of the params tree). Kernels LSUV cannot measure --
    not consumed by a contraction, or consumed inside ``scan``/``while``/``cond`` (stacked
    layers) -- are refused with the reason: exclude them with ``kernel_pattern``. Every
    model must be jittable. The input model and variables are never modified.

    Args:
      model: the network (see the table).
      variables: its variables (see the table).
      batches: the data. An array (examples along axis 0): each forward pass uses
        ``batch_size`` rows drawn at random without replacement (keyed by ``key``), or the
        whole array when ``batch_size`` is ``None`` or at least the number of rows. A list or
        tuple of batches: used in turn, cycled. An iterator: one batch per forward pass; it
        must not run out (at most ``layers * (max_iters + 1)`` are drawn). A batch from a
        sequence or iterator is passed to the model as it is (any pytree).
      key: the base key; kernel ``p`` is re-initialized with ``path_key(key, p)``, exactly as
        ``jinit.reinit(variables, {kernel_pattern: jinit.orthogonal()}, key)`` would.
      tol: the tolerance on the output variance, > 0.
      max_iters: the most rescalings per layer, >= 1.
      kernel_pattern: a glob (``*`` crosses ``/``) or compiled ``re.Pattern`` that selects
        the kernels (rank >= 2), as in :func:`jinit.reinit`.
      bias: what to do with each matched layer's ``bias`` (the parameter beside the kernel):
        ``"keep"`` it, set it to ``"zero"`` first, or ``"center"`` it on the data (each
        rescaling then also sets it so every output unit has zero mean on the batch, and at
        least one rescaling is made). Layers without a bias are not affected.
      orthogonal_init: re-initialize the kernels orthogonally first (the paper's step 1);
        ``False`` rescales the kernels as they are.
      batch_size: rows per forward pass when ``batches`` is an array (>= 1), or ``None``.
      apply_kwargs: keyword arguments for every model call (``train=False``,
        ``deterministic=True``...).

    Returns:
      ``(new model/variables/params, report)``; the :class:`LSUVReport` lists, per layer in
      forward order, the rescalings made, the final output variance and mean, and whether it
      converged. Non-convergence is reported, not raised.

    Raises:
      TypeError: a bad ``model``/``variables`` combination, or a ``batches``,
        ``kernel_pattern``, ``tol``, ``max_iters``, ``batch_size`` or ``orthogonal_init`` of
        the wrong type.
      ValueError: ``tol`` not > 0, ``max_iters`` or ``batch_size`` < 1, unknown ``bias``,
        empty ``batches``, no kernel matched,
        a matched kernel of rank < 2 or that cannot be measured, a layer whose output
        variance is 0 or not finite (a dead layer cannot be rescaled), or an iterator that
        ran out.

    Example:
      >>> import flax.linen as nn
      >>> model = nn.Sequential([nn.Dense(64), nn.relu, nn.Dense(64), nn.relu, nn.Dense(10)])
      >>> x = jax.random.normal(jax.random.key(0), (512, 32))
      >>> variables = model.init(jax.random.key(1), x)
      >>> variables, report = lsuv(model, variables, x, jax.random.key(2))
      >>> report.converged, [layer.path for layer in report.layers]
      (True, ['params/layers_0/kernel', 'params/layers_2/kernel', 'params/layers_4/kernel'])

    References:
      Mishkin & Matas (2016), All you need is a good init, ICLR,
      https://arxiv.org/abs/1511.06422;
      Saxe, McClelland & Ganguli (2014), https://arxiv.org/abs/1312.6120
    """
    tol = check_real("tol", tol, positive=True)
    max_iters = check_int("max_iters", max_iters, 1)
    bias = check_choice("bias", bias, BIAS_MODES)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, 1)
    if not isinstance(orthogonal_init, bool):
        raise TypeError(f"jinit.lsuv: orthogonal_init must be a bool, got {orthogonal_init!r}")
    matches = _matcher(kernel_pattern)
    kwargs = dict(apply_kwargs or {})
    next_batch = batch_source(batches, key, batch_size)
    first = next_batch(0)
    model_setup = setup(model, variables, kwargs, first)
    params = model_setup.params

    flat, treedef = jax.tree_util.tree_flatten_with_path(params)
    paths = [path_string(path) for path, _ in flat]
    leaves = [leaf for _, leaf in flat]
    index = {path: i for i, path in enumerate(paths)}
    kernels = [path for path in paths if matches(path)]
    label = kernel_pattern.pattern if isinstance(kernel_pattern, re.Pattern) else kernel_pattern
    if not kernels:
        raise ValueError(
            f"jinit.lsuv: kernel_pattern {label!r} matched no parameter. Paths look like "
            f"{paths[:3]}{' ...' if len(paths) > 3 else ''}; start a glob with '*' to match at "
            "any depth"
        )
    for path in kernels:
        leaf = leaves[index[path]]
        if getattr(leaf, "ndim", 0) < 2:
            raise ValueError(
                f"jinit.lsuv: kernel_pattern {label!r} matches {path!r} of shape "
                f"{getattr(leaf, 'shape', None)}; LSUV needs kernels of rank >= 2 (Dense, Conv)"
            )

    forward = model_setup.forward(kernels, kwargs)
    if isinstance(forward, TracedForward):  # each kernel's own operation, from the trace
        measured = forward.measured(params, first)
        order, biases = list(measured.order), dict(measured.biases)
    else:  # the function names its layers' outputs; the bias is the one beside the kernel
        order = execution_order(forward, params, first)
        siblings = {k: f"{k.rsplit('/', 1)[0]}/bias" if "/" in k else "bias" for k in kernels}
        biases = {k: b for k, b in siblings.items() if b in index}

    if orthogonal_init:
        fresh = reinit(params, {kernel_pattern: orthogonal()}, key)
        fresh_leaves = jax.tree_util.tree_leaves(fresh)
        for path in kernels:
            leaves[index[path]] = fresh_leaves[index[path]]
    if bias == "zero":
        for b in biases.values():
            leaves[index[b]] = jnp.zeros_like(leaves[index[b]])

    step = 0
    centered = (
        {k: tuple(leaves[index[b]].shape) for k, b in biases.items()} if bias == "center" else {}
    )
    # only the array leaves are traced (an Equinox module also holds functions and flags)
    arrays = [i for i, leaf in enumerate(leaves) if is_array(leaf)]
    fixed = list(leaves)
    layer_statistics = _statistics(forward, order, centered)

    def on_arrays(values: list[jax.Array], batch: PyTree) -> dict[str, dict[str, jax.Array]]:
        full = list(fixed)
        for i, value in zip(arrays, values, strict=True):
            full[i] = value
        return layer_statistics(jax.tree_util.tree_unflatten(treedef, full), batch)

    jitted = jax.jit(on_arrays)

    def statistics(tree: PyTree, batch: PyTree) -> dict[str, dict[str, jax.Array]]:
        del tree
        found: dict[str, dict[str, jax.Array]] = jitted([leaves[i] for i in arrays], batch)
        return found

    def measure(layer: str) -> dict[str, np.ndarray]:
        nonlocal step
        batch = first if step == 0 else next_batch(step)
        step += 1
        stats = statistics(jax.tree_util.tree_unflatten(treedef, leaves), batch)[layer]
        values = {name: np.asarray(value) for name, value in stats.items()}
        # a variance at rounding level of the output's second moment counts as 0 (constant)
        floor = _CONSTANT * (float(values["var"]) + float(values["mean"]) ** 2)
        for name, what in (("var", "variance"), ("within", "variance within its units")):
            value = float(values.get(name, 1.0))
            if not (math.isfinite(value) and value > floor and value > 0):
                raise ValueError(
                    f"jinit.lsuv: the output of {layer!r} has {what} {value:.3g} on the batch "
                    "(constant up to rounding); "
                    "LSUV can only rescale a layer whose output varies (a dead or zero layer, "
                    "or constant inputs, cannot be fixed by scaling)"
                )
        return values

    def scaled(leaf: jax.Array, factor: float, shift: np.ndarray | None = None) -> jax.Array:
        value = jnp.asarray(leaf, jnp.float32)
        if shift is not None:
            value = value - shift
        return (value * factor).astype(leaf.dtype)

    records = []
    for layer in order:
        kernel_index = index[layer]
        bias_index = index[biases[layer]] if layer in centered else None
        total = 1.0
        iterations = 0
        stats = measure(layer)
        while iterations < max_iters and (
            abs(float(stats["var"]) - 1.0) >= tol or (bias_index is not None and iterations == 0)
        ):
            if bias_index is None:
                factor = 1.0 / math.sqrt(float(stats["var"]))
            else:
                factor = 1.0 / math.sqrt(float(stats["within"]))
                leaves[bias_index] = scaled(leaves[bias_index], factor, stats["unit_mean"])
            leaves[kernel_index] = scaled(leaves[kernel_index], factor)
            total *= factor
            iterations += 1
            stats = measure(layer)
        variance = float(stats["var"])
        records.append(
            LSUVLayer(
                path=layer,
                iterations=iterations,
                variance=variance,
                mean=float(stats["mean"]),
                scale=total,
                converged=abs(variance - 1.0) < tol,
            )
        )
    report = LSUVReport(tuple(records), tol, max_iters, step)
    return model_setup.finish(jax.tree_util.tree_unflatten(treedef, leaves)), report
