r"""Layer-sequential unit-variance (LSUV) initialization: orthogonal kernels rescaled on data.

LSUV (Mishkin & Matas, 2016) is a data-dependent initialization in two steps:

1. Every kernel is re-initialized with a Haar-random (semi-)orthogonal matrix
   (:func:`jinit.orthogonal`, through :func:`jinit.reinit`, so each kernel's key is derived
   from its path).
2. The layers are visited in forward order. For layer :math:`L` with pre-activation output
   :math:`B_L` (the output of the Dense/Conv module, before the nonlinearity), a mini-batch is
   run through the network and the kernel is rescaled,

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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import ClosedJaxpr, Jaxpr, Var

from jinit._src.base import KeyArray
from jinit._src.checks import check_choice, check_real
from jinit._src.orthogonal import orthogonal
from jinit._src.paths import path_string
from jinit._src.reinit import _matcher as reinit_matcher
from jinit._src.reinit import reinit

__all__ = ["BIAS_MODES", "LSUVLayer", "LSUVReport", "lsuv"]

#: Accepted values of ``lsuv(..., bias=...)``.
BIAS_MODES = ("keep", "zero", "center")
#: Folded into the key for the random sub-batches, keeping them apart from the kernels' keys.
_DATA_STREAM = 0x4C535556  # "LSUV"

#: A variance below this fraction of the output's second moment is rounding noise: constant.
_CONSTANT = 1e-10

Pattern = str | re.Pattern[str]
#: ``(params, batch) -> {kernel path: the layer's output(s)}``.
Forward = Callable[[Any, Any], Mapping[str, Any]]


@dataclass(frozen=True)
class LSUVLayer:
    """What LSUV did to one layer.

    Attributes:
      path: the kernel's path (``params/Dense_0/kernel``, ``layers/0/kernel`` for nnx).
      iterations: rescalings made (0 when the orthogonal kernel was already within ``tol``).
      variance: variance of the layer's output on the last batch measured (after the last
        rescaling).
      mean: mean of the layer's output on that batch.
      scale: the factor the kernel was multiplied by in all.
      converged: whether ``|variance - 1| < tol``.
    """

    path: str
    iterations: int
    variance: float
    mean: float
    scale: float
    converged: bool


@dataclass(frozen=True)
class LSUVReport:
    """Per-layer outcome of :func:`lsuv`, in forward order.

    Attributes:
      layers: one :class:`LSUVLayer` per kernel, in the order they were processed.
      tol: the variance tolerance used.
      max_iters: the iteration limit used.
      passes: forward passes run (one per measurement).
    """

    layers: tuple[LSUVLayer, ...]
    tol: float
    max_iters: int
    passes: int

    @property
    def converged(self) -> bool:
        """Whether every layer reached ``|Var - 1| < tol``."""
        return all(layer.converged for layer in self.layers)

    def __str__(self) -> str:
        failed = [layer.path for layer in self.layers if not layer.converged]
        verdict = (
            f"all within |Var - 1| < {self.tol:g}"
            if not failed
            else f"{len(failed)} NOT within |Var - 1| < {self.tol:g} after {self.max_iters} "
            "iterations"
        )
        width = max([len("layer"), *(len(layer.path) for layer in self.layers)])
        lines = [
            f"LSUV: {len(self.layers)} layer(s), {self.passes} forward passes, {verdict}",
            f"  {'layer':<{width}}  iters  variance     mean     scale",
        ]
        for layer in self.layers:
            flag = "" if layer.converged else "  <- not converged"
            lines.append(
                f"  {layer.path:<{width}}  {layer.iterations:>5}  {layer.variance:>8.4f}  "
                f"{layer.mean:>7.4f}  {layer.scale:>8.4g}{flag}"
            )
        return "\n".join(lines)


# ----------------------------------------------------------------------------- forward passes


def _call_outputs(intermediates: Any) -> dict[str, list[jax.Array]]:
    """Group captured ``__call__`` outputs by module path (``Dense_0``, ``layers/0``, ``''``)."""
    grouped: dict[str, list[jax.Array]] = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(intermediates)[0]:
        parts = path_string(path).split("/")
        if "__call__" not in parts:
            continue
        module = "/".join(parts[: parts.index("__call__")])
        grouped.setdefault(module, []).append(leaf)
    return grouped


def _select(
    outputs: dict[str, list[jax.Array]], modules: Mapping[str, str]
) -> dict[str, list[jax.Array]]:
    """``{kernel path: outputs of the module owning it}``; raise naming kernels without one."""
    missing = [kernel for kernel, module in modules.items() if module not in outputs]
    if missing:
        raise ValueError(
            f"jinit.lsuv: no output was captured for the module(s) owning {missing}. LSUV needs "
            "the output of the module whose parameter the kernel is (a Dense/Conv layer called "
            "directly, not inside nn.scan/vmap); exclude such kernels with kernel_pattern"
        )
    return {kernel: outputs[module] for kernel, module in modules.items()}


def _linen_forward(model: Any, kernels: Sequence[str], apply_kwargs: Mapping[str, Any]) -> Forward:
    # a kernel at "params/Block_0/Dense_1/kernel" belongs to the module "Block_0/Dense_1"
    modules = {kernel: "/".join(kernel.split("/")[1:-1]) for kernel in kernels}

    def forward(variables: Any, batch: Any) -> Mapping[str, Any]:
        inputs = {name: tree for name, tree in variables.items() if name != "intermediates"}
        _, state = model.apply(
            inputs, batch, capture_intermediates=True, mutable=["intermediates"], **apply_kwargs
        )
        return _select(_call_outputs(state["intermediates"]), modules)

    return forward


def _nnx_forward(graphdef: Any, kernels: Sequence[str], apply_kwargs: Mapping[str, Any]) -> Forward:
    from flax import nnx

    modules = {kernel: kernel.rsplit("/", 1)[0] if "/" in kernel else "" for kernel in kernels}

    def forward(state: Any, batch: Any) -> Mapping[str, Any]:
        module = nnx.merge(graphdef, state)
        capture = nnx.capture(module, nnx.Intermediate, method_outputs=nnx.Intermediate)
        _, intermediates = capture(batch, **apply_kwargs)  # type: ignore[no-untyped-call]
        return _select(_call_outputs(intermediates), modules)

    return forward


def _user_forward(
    fn: Callable[..., Any], kernels: Sequence[str], apply_kwargs: Mapping[str, Any]
) -> Forward:
    def forward(params: Any, batch: Any) -> Mapping[str, Any]:
        outputs = fn(params, batch, **apply_kwargs)
        if not isinstance(outputs, Mapping):
            raise TypeError(
                "jinit.lsuv: a function model must return a mapping {kernel path: that layer's "
                f"output}}, got {type(outputs).__name__}"
            )
        unknown = [path for path in outputs if path not in kernels]
        if unknown:
            raise ValueError(
                f"jinit.lsuv: the function returned outputs for {unknown}, which are not kernel "
                f"paths matched by kernel_pattern; the kernels are {list(kernels)[:4]}"
                f"{' ...' if len(kernels) > 4 else ''}"
            )
        missing = [path for path in kernels if path not in outputs]
        if missing:
            raise ValueError(
                f"jinit.lsuv: the function returned no output for the kernel(s) {missing}; "
                "return every kernel kernel_pattern matches, or narrow kernel_pattern"
            )
        return {path: outputs[path] for path in kernels}

    return forward


# ----------------------------------------------------------------------------- forward order


def _producer(jaxpr: Jaxpr, var: object) -> tuple[int, ...]:
    """Position of the equation computing ``var``, refined inside nested jaxprs (jit, remat)."""
    if not isinstance(var, Var):
        return (-1,)
    for index, eqn in enumerate(jaxpr.eqns):
        for position, out in enumerate(eqn.outvars):
            if out is not var:
                continue
            for param in eqn.params.values():
                inner = param.jaxpr if isinstance(param, ClosedJaxpr) else param
                if isinstance(inner, Jaxpr) and len(inner.outvars) == len(eqn.outvars):
                    return (index, *_producer(inner, inner.outvars[position]))
            return (index,)
    return (-1,)


def _forward_order(forward: Forward, params: Any, batch: Any) -> list[str]:
    """The layers in the order the traced forward pass computes their outputs."""
    closed, shapes = jax.make_jaxpr(forward, return_shape=True)(params, batch)
    first: dict[str, tuple[int, ...]] = {}
    out_paths = jax.tree_util.tree_flatten_with_path(shapes)[0]
    for (path, _), var in zip(out_paths, closed.jaxpr.outvars, strict=True):
        layer = str(path[0].key)  # a DictKey of the returned mapping
        position = _producer(closed.jaxpr, var)
        first[layer] = min(first.get(layer, position), position)
    return sorted(first, key=lambda layer: first[layer])  # stable: ties keep capture order


# ----------------------------------------------------------------------------- batches


def _batch_source(batches: Any, key: KeyArray, batch_size: int | None) -> Callable[[int], Any]:
    """``step -> batch``: random rows of an array, a cycled sequence, or an iterator's next."""
    if hasattr(batches, "shape") and hasattr(batches, "dtype"):
        data = batches
        if data.ndim < 1 or data.shape[0] < 1:
            raise ValueError(
                "jinit.lsuv: batches must have at least one example along axis 0, got shape "
                f"{tuple(data.shape)}"
            )
        n = int(data.shape[0])
        if batch_size is None or batch_size >= n:
            whole = jnp.asarray(data)  # on the device once, not at every pass
            return lambda step: whole
        # Row numbers come from NumPy seeded by the key: nothing to compile, and a function of
        # (key, step) only. (jax.random.choice without replacement compiles a sort: ~1 s.)
        words = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
        seed = [*np.asarray(words, np.uint32).ravel().tolist(), _DATA_STREAM]
        size = batch_size

        def sample(step: int) -> Any:
            rows = np.random.default_rng([*seed, step]).choice(n, size, replace=False)
            return data[np.sort(rows)]

        return sample
    if isinstance(batches, Sequence) and not isinstance(batches, str | bytes):
        if not batches:
            raise ValueError("jinit.lsuv: batches is an empty sequence; pass at least one batch")
        items = batches
        return lambda step: items[step % len(items)]
    if isinstance(batches, Iterable) and not isinstance(batches, str | bytes):
        iterator: Iterator[Any] = iter(batches)
        count = 0

        def draw(step: int) -> Any:
            nonlocal count
            try:
                batch = next(iterator)
            except StopIteration:
                raise ValueError(
                    f"jinit.lsuv: the batches iterator ran out after {count} batch(es); LSUV "
                    "draws one per forward pass (at most layers x (max_iters + 1)). Pass an "
                    "array, a list (cycled), or itertools.cycle(...)"
                ) from None
            count += 1
            return batch

        return draw
    raise TypeError(
        "jinit.lsuv: batches must be an array (examples along axis 0), a sequence of batches "
        f"or an iterator of batches, got {type(batches).__name__}"
    )


# ----------------------------------------------------------------------------- statistics


def _statistics(
    forward: Forward, layers: Sequence[str], bias_shapes: Mapping[str, tuple[int, ...]]
) -> Callable[[Any, Any], dict[str, dict[str, jax.Array]]]:
    """``(params, batch) -> {layer: {"var", "mean"[, "unit_mean", "within"]}}``, in float32."""

    def statistics(params: Any, batch: Any) -> dict[str, dict[str, jax.Array]]:
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


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"jinit.lsuv: {name} must be an int >= {low}, got {value!r}")
    if value < low:
        raise ValueError(f"jinit.lsuv: {name} must be an int >= {low}, got {value!r}")
    return int(value)


def _matcher(pattern: object) -> Callable[[str], bool]:
    return reinit_matcher(pattern, "jinit.lsuv: kernel_pattern")


def _setup(
    model: Any, variables: Any, apply_kwargs: Mapping[str, Any]
) -> tuple[Any, Callable[[list[str]], Forward], Callable[[Any], Any]]:
    """``(params tree, kernels -> forward, params tree -> what lsuv returns)`` for ``model``."""
    import flax.linen as nn
    from flax import nnx

    if isinstance(model, nn.Module):
        if variables is None or not isinstance(variables, Mapping):
            raise TypeError(
                "jinit.lsuv: a linen Module needs its variables, e.g. "
                f"lsuv(model, model.init(key, x), ...); got {type(variables).__name__}"
            )
        return (
            variables,
            lambda kernels: _linen_forward(model, kernels, apply_kwargs),
            lambda tree: tree,
        )
    if isinstance(model, nnx.Module):
        if variables is not None:
            raise TypeError(
                "jinit.lsuv: an nnx Module holds its own variables; pass variables=None "
                "(a new module is returned), or pass nnx.split(model) as (graphdef, state)"
            )
        graphdef, state = nnx.split(model)
        return (
            state,
            lambda kernels: _nnx_forward(graphdef, kernels, apply_kwargs),
            lambda tree: nnx.merge(graphdef, tree),
        )
    if isinstance(model, nnx.GraphDef):
        if not isinstance(variables, nnx.State):
            raise TypeError(
                "jinit.lsuv: an nnx GraphDef needs its nnx.State (graphdef, state = "
                f"nnx.split(model)); got {type(variables).__name__}"
            )
        return (
            variables,
            lambda kernels: _nnx_forward(model, kernels, apply_kwargs),
            lambda tree: tree,
        )
    if callable(model):
        if variables is None:
            raise TypeError("jinit.lsuv: a function model needs the params it is applied to")
        return (
            variables,
            lambda kernels: _user_forward(model, kernels, apply_kwargs),
            lambda tree: tree,
        )
    raise TypeError(
        "jinit.lsuv: model must be a flax.linen Module, an nnx Module or GraphDef, or a "
        f"function (params, batch) -> {{kernel path: output}}; got {type(model).__name__}"
    )


def lsuv(
    model: Any,
    variables: Any,
    batches: Any,
    key: KeyArray,
    *,
    tol: float = 0.1,
    max_iters: int = 10,
    kernel_pattern: Pattern = "*kernel",
    bias: str = "keep",
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

    ===================================  ==========================  ========================
    ``model``                            ``variables``               returns
    ===================================  ==========================  ========================
    a ``flax.linen`` Module              ``model.init(...)``         new variables
    an ``nnx.Module``                    ``None``                    a new module
    an ``nnx.GraphDef``                  its ``nnx.State``           a new state
    ``fn(params, batch) -> {path: out}`` the params pytree           new params
    ===================================  ==========================  ========================

    A layer's output is the output of the module that owns the kernel (linen:
    ``capture_intermediates``; nnx: ``nnx.capture``), so this is the pre-activation for
    ``Dense``/``Conv``/``Linear`` and for any module whose ``__call__`` returns its
    pre-activation. A function model returns those outputs itself, keyed by kernel path
    (``jinit.path_string`` of the params tree); it must be jittable. Parameters inside
    ``nn.scan``/``vmap`` (stacked kernels) are not supported: exclude them with
    ``kernel_pattern``. The input model and variables are never modified.

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
        a matched kernel of rank < 2 or without a captured output, a layer whose output
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
    tol = check_real("lsuv", "tol", tol, positive=True)
    max_iters = _check_int("max_iters", max_iters, 1)
    bias = check_choice("lsuv", "bias", bias, BIAS_MODES)
    if batch_size is not None:
        batch_size = _check_int("batch_size", batch_size, 1)
    if not isinstance(orthogonal_init, bool):
        raise TypeError(f"jinit.lsuv: orthogonal_init must be a bool, got {orthogonal_init!r}")
    matches = _matcher(kernel_pattern)
    kwargs = dict(apply_kwargs or {})
    params, make_forward, finish = _setup(model, variables, kwargs)
    next_batch = _batch_source(batches, key, batch_size)

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
    biases = {path: f"{path.rsplit('/', 1)[0]}/bias" if "/" in path else "bias" for path in kernels}
    biases = {kernel: b for kernel, b in biases.items() if b in index}

    if orthogonal_init:
        fresh = reinit(params, {kernel_pattern: orthogonal()}, key)
        fresh_leaves = jax.tree_util.tree_leaves(fresh)
        for path in kernels:
            leaves[index[path]] = fresh_leaves[index[path]]
    if bias == "zero":
        for b in biases.values():
            leaves[index[b]] = jnp.zeros_like(leaves[index[b]])

    forward = make_forward(kernels)
    step = 0
    first = next_batch(step)
    order = _forward_order(forward, jax.tree_util.tree_unflatten(treedef, leaves), first)
    centered = (
        {k: tuple(leaves[index[b]].shape) for k, b in biases.items()} if bias == "center" else {}
    )
    statistics = jax.jit(_statistics(forward, order, centered))

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
    return finish(jax.tree_util.tree_unflatten(treedef, leaves)), report
