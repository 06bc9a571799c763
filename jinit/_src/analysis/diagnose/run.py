r"""Diagnose a model at initialization: activations, gradients and the first optimizer step.

:func:`diagnose` applies a model once to a batch -- forward, backward and one optimizer update in
one jitted function -- and measures:

* **forward**: the mean and standard deviation of every layer's activations -- the values the
  model ``sow``-s (linen ``Module.sow("intermediates", ...)``, nnx
  ``Module.sow(nnx.Intermediate, ...)``), or, when it sows nothing, the output of every module
  that owns parameters (linen ``capture_intermediates``, nnx ``nnx.capture(method_outputs=...)``);
* **backward**: the norm :math:`\|\nabla_\theta L\|` of the gradient of a loss, per parameter;
* **one step**: :math:`\|\Delta\theta\| / \|\theta\|`, the size of the first update of an Optax
  optimizer relative to the parameter (about :math:`10^{-3}` is the usual healthy order);
* **the input-output Jacobian** :math:`J = \partial y / \partial x` on the first few examples:
  :math:`E[s^2]` and the spread :math:`\operatorname{Var}(s^2)/E[s^2]^2` of its squared singular
  values, 0 for dynamical isometry (``jinit._src.analysis.diagnose.input_jacobian``), or the
  reason it is not available (token ids have no input Jacobian).

Layers are in execution order -- the position of their output in the traced program, not their
names -- so ``Dense_10`` comes after ``Dense_9`` and an nnx ``head`` after its ``layers``; a
parameter takes the place of the module that owns it. Modules inside lifted transforms
(``nn.scan``) report no outputs of their own; their parameters come after the others, by name.
The verdicts and their thresholds are those of ``jinit._src.analysis.diagnose.result``.

The compiled measurement is cached on the model object, the loss and the optimizer: diagnosing
one model again with other parameters (``jinit.reinit`` with other initializers, say) compiles
nothing.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import jax
import jax.numpy as jnp

from jinit._src.analysis.capture import Captured, key_parts, outvar_positions
from jinit._src.analysis.diagnose.flags import ActivationStats, ParameterStats, flags_for
from jinit._src.analysis.diagnose.input_jacobian import EXAMPLES, input_jacobian
from jinit._src.analysis.diagnose.math import Loss, default_loss
from jinit._src.analysis.diagnose.math import moments as _moments
from jinit._src.analysis.diagnose.math import norms as _norms
from jinit._src.analysis.diagnose.models import Setup, Spec, adapt, forward
from jinit._src.analysis.diagnose.result import Diagnosis
from jinit._src.core.types import PyTree

if TYPE_CHECKING:
    import optax

__all__ = ["diagnose"]

_SOURCES = ("auto", "sown", "layers")


# ----------------------------------------------------------------------------- the plan


def _natural(text: str) -> tuple[tuple[int, str], ...]:
    """Sort key that puts ``Dense_2`` before ``Dense_10``."""
    return tuple((int(t), "") if t.isdigit() else (-1, t) for t in re.split(r"(\d+)", text))


@dataclass(frozen=True)
class _Plan:
    """What one abstract trace of the forward pass tells: which arrays to measure, in order."""

    selected: tuple[int, ...]  # indices into the captured list, in execution order
    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    source: str
    module_rank: dict[str, int]  # module path -> rank of its first output
    output: Any  # ShapeDtypeStruct(s) of the model's output


def _plan(setup: Setup, params: PyTree, context: Any, batch: PyTree, source: str) -> _Plan:
    owners = {"/".join(key_parts(p)[:-1]) for p, _ in jax.tree_util.tree_leaves_with_path(params)}
    record: list[Captured[Spec]] = []

    def probe(p: Any, b: Any) -> tuple[Any, list[jax.Array]]:
        out, found = forward(setup, p, context, b)
        record.extend(Captured(k, m, n, Spec(tuple(a.shape), a.dtype)) for k, m, n, a in found)
        return out, [c.value for c in found]

    try:
        closed, (output, _) = jax.make_jaxpr(probe, return_shape=True)(params, batch)
    except Exception as error:
        error.add_note("jinit.diagnose: raised while applying the model to the batch")
        raise
    # execution order: where the traced program computes each captured array
    n_out = len(jax.tree_util.tree_leaves(output))
    position = outvar_positions(closed)[n_out:]
    order = sorted(range(len(record)), key=lambda i: position[i])
    module_rank: dict[str, int] = {}
    for i in order:
        if record[i][0] == "module":
            module_rank.setdefault(record[i][1], len(module_rank))
    real = [i for i in order if jnp.issubdtype(record[i][3].dtype, jnp.floating)]
    sown = [i for i in real if record[i][0] == "sown"]
    layers = [i for i in real if record[i][0] == "module" and record[i][1] in owners]
    if source == "sown" and not sown:
        raise ValueError(
            "jinit.diagnose: activations='sown' but the model sows no floating-point values; "
            "use activations='layers' (outputs of the modules that own parameters) or 'auto'"
        )
    if source == "layers" or not sown:
        chosen, selected = ("layers", layers) if layers else ("none", [])
    else:
        chosen, selected = "sown", sown
    calls: dict[str, int] = {}
    for i in layers:
        calls[record[i][1]] = calls.get(record[i][1], 0) + 1
    names = []
    for i in selected:
        _, module, parts, _ = record[i]
        if chosen == "layers":  # parts: (call index, *path in the output); one call: no index
            names.append("/".join((module or "(model)", *parts[calls[module] == 1 :])))
        else:
            names.append("/".join(parts))
    shapes = tuple(tuple(record[i][3].shape) for i in selected)
    return _Plan(tuple(selected), tuple(names), shapes, chosen, module_rank, output)


@functools.cache
def _default_optimizer() -> optax.GradientTransformation:
    import optax

    return optax.sgd(1e-2)


# ----------------------------------------------------------------------------- measurement


def _measure(setup: Setup, params: PyTree, context: Any, batch: PyTree, labels: PyTree) -> Any:
    """The loss, the selected activations, the gradients and the optimizer's first updates."""

    def objective(p: Any) -> tuple[jax.Array, list[jax.Array]]:
        out, captured = forward(setup, p, context, batch)
        value = jnp.asarray(setup.loss(out, labels))  # type: ignore[misc]
        if value.shape != () or not jnp.issubdtype(value.dtype, jnp.floating):
            raise TypeError(
                "jinit.diagnose: the loss must be a real scalar, got shape "
                f"{value.shape} and dtype {value.dtype}"
            )
        return value, [captured[i].value for i in setup.selected]

    (value, acts), grads = jax.value_and_grad(objective, has_aux=True)(params)
    updates, _ = setup.optimizer.update(grads, setup.optimizer.init(params), params)
    return value, acts, grads, updates


_measure_cached = jax.jit(_measure, static_argnums=0)


def _check_tree(name: str, tree: PyTree, *, finite: bool) -> None:
    leaves = jax.tree_util.tree_leaves_with_path(tree)
    if not leaves:
        raise ValueError(f"jinit.diagnose: {name} holds no arrays")
    for path, leaf in leaves:
        where = "/".join(key_parts(path)) or "(root)"
        if not hasattr(leaf, "dtype"):
            raise TypeError(
                f"jinit.diagnose: {name} {where!r} is a {type(leaf).__name__}, not an array"
            )
        if name == "params" and not jnp.issubdtype(leaf.dtype, jnp.inexact):
            raise TypeError(
                f"jinit.diagnose: parameter {where!r} has dtype {leaf.dtype}; only "
                "floating-point parameters can be differentiated"
            )
        inexact = jnp.issubdtype(leaf.dtype, jnp.inexact)
        if finite and inexact and not bool(jnp.isfinite(leaf).all()):
            raise ValueError(f"jinit.diagnose: {name} {where!r} has NaN or infinite values")


def diagnose(
    model: Any,
    params: PyTree,
    batch: PyTree,
    *,
    loss_fn: Loss | None = None,
    labels: jax.typing.ArrayLike | None = None,
    optimizer: optax.GradientTransformation | None = None,
    activations: Literal["auto", "sown", "layers"] = "auto",
    jacobian_examples: int = EXAMPLES,
) -> Diagnosis:
    r"""Measure activations, gradients and the first update of ``model`` on ``batch``.

    One forward and backward pass and one optimizer step, jitted, at the parameters given:
    per layer the activations' mean and std, per parameter :math:`\|\theta\|`,
    :math:`\|\nabla_\theta L\|` and :math:`\|\Delta\theta\| / \|\theta\|`. Then the verdicts,
    from the *propagation ratio* -- activation std last/first layer, gradient norm first/last
    layer per parameter name: ``vanishing`` below :math:`10^{-3}`, ``exploding`` above
    :math:`10^{3}` (or not finite), ``shrinking``/``growing`` beyond a factor 10 with a steady
    geometric trend (:math:`R^2 \ge 0.9` of a line through the log values, 4 layers or more).
    Healthy initializations keep the ratio within a decade at any depth and bad ones lose a
    constant factor per layer, tens of decades over 30 layers; three decades sits between with
    margin on both sides. Two verdicts look where the ends cannot, as when a final LayerNorm
    resets the scale: ``exploding`` also when any layer's activation std exceeds :math:`10^{3}`
    times the first layer's (``end`` names the peak), and, with the default cross-entropy over
    :math:`C` classes, ``loss_above_chance`` when the loss exceeds
    :math:`\ln C + \max(\ln C, 3)` (logits of std :math:`s` independent of the labels give
    about :math:`\ln C + s^2/2`). ``jinit._src.analysis.diagnose.result`` gives the measured
    figures behind
    these thresholds.

    Args:
      model: a linen ``Module``, its ``apply`` (or a ``functools.partial`` of it that fixes
        keyword arguments such as ``train=False``); an nnx ``Module``; or any function
        ``apply_fn(params, batch) -> output`` (then no activations are measured).
      params: for linen, the variables from ``Module.init`` (``{"params": ..., ...}``; other
        collections such as ``batch_stats`` are passed along, not differentiated) or the
        ``params`` collection alone; for nnx, ``None``; for a function, its parameter pytree.
      batch: the model's input (an array or a pytree of arrays), the leading axis the batch.
      loss_fn: ``loss_fn(output, labels) -> scalar`` (``labels`` may be ``None``). By default:
        with integer ``labels``, the mean softmax cross-entropy; with float ``labels`` of the
        output's shape, the mean squared error; without labels, a fixed random projection
        :math:`\frac1B\sum_b \langle y_b, u_b\rangle`, :math:`u \sim N(0, 1)` (key 0), whose
        gradient at the output is :math:`u/B` whatever the output's scale, so the gradients
        measure the backward pass alone and do not underflow when the output vanishes.
      labels: the targets of the loss, or ``None``.
      optimizer: the Optax transformation of the one step; default ``optax.sgd(1e-2)``.
      activations: ``"sown"`` for the values the model sows, ``"layers"`` for the outputs of
        the modules that own parameters (a ``Dense`` layer's pre-activations), ``"auto"``
        (default) for sown values when there are any, else layers.
      jacobian_examples: how many examples of the batch (the first ones, default 4) the input
        Jacobian's spectrum is measured on, each applied alone; 0 skips it. Exact (an SVD per
        example) when the Jacobian's smaller side is at most 256, else 32 Rademacher probes
        per example (key 0) estimate it, with standard errors. Not a verdict: no flag uses it.

    Returns:
      A :class:`Diagnosis` with ``activations``, ``parameters``, ``flags``, ``loss`` (and
      ``classes``, ``chance_loss`` for the default cross-entropy), ``jacobian`` (a
      :class:`~jinit._src.analysis.jacobian.result.JacobianSpectrum`, or ``None`` with the reason in
      ``jacobian_note``), ``table()``, ``plot(path)`` and ``to_dict()``.

    Raises:
      TypeError: a model of another kind, parameters or a batch that are not arrays, integer
        parameters, an nnx model with ``params``, an optimizer without ``init``/``update``, a
        model output the default losses cannot take, a loss that is not a real scalar.
      ValueError: an unknown ``activations``, a batch or labels with NaN or inf, labels that fit
        no default loss (shape, class range), ``activations="sown"`` for a model that sows
        nothing, a negative ``jacobian_examples``.

    Example:
      >>> import flax.linen as nn, jinit
      >>> class Net(nn.Module):  # N(0, 0.01²) weights: ×0.01·√16 = 0.04 per layer
      ...     @nn.compact
      ...     def __call__(self, x):
      ...         for _ in range(4):
      ...             x = jnp.tanh(nn.Dense(16, kernel_init=jinit.normal(0.01))(x))
      ...         return nn.Dense(3)(x)
      >>> x = jax.random.normal(jax.random.key(0), (8, 16))
      >>> net = Net()
      >>> d = diagnose(net, net.init(jax.random.key(0), x), x)
      >>> d.activation_source, len(d.activations), len(d.parameters)
      ('layers', 5, 10)
      >>> [(f.kind, f.quantity) for f in d.flags]
      [('vanishing', 'activation std'), ('vanishing', 'gradient norm (bias)')]
      >>> d.parameters[0].path, d.parameters[0].grad_norm > 0
      ('Dense_0/bias', True)
      >>> d.jacobian.method, d.jacobian.shape, d.jacobian.examples
      ('exact', (3, 16), 4)
    """
    if activations not in _SOURCES:
        raise ValueError(
            f"jinit.diagnose: activations={activations!r}; expected one of {', '.join(_SOURCES)}"
        )
    if isinstance(jacobian_examples, bool) or not isinstance(jacobian_examples, int):
        raise TypeError(
            f"jinit.diagnose: jacobian_examples must be an int >= 0, got {jacobian_examples!r}"
        )
    if jacobian_examples < 0:
        raise ValueError(
            f"jinit.diagnose: jacobian_examples must be an int >= 0, got {jacobian_examples}"
        )
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"jinit.diagnose: loss_fn must be callable, got {loss_fn!r:.80}")
    optimizer = _default_optimizer() if optimizer is None else optimizer
    if not all(callable(getattr(optimizer, name, None)) for name in ("init", "update")):
        raise TypeError(
            "jinit.diagnose: optimizer must be an optax.GradientTransformation (with init and "
            f"update), got {optimizer!r:.80}"
        )
    setup, trainable, context = adapt(model, params)
    _check_tree("params", trainable, finite=False)
    batch = jax.tree.map(jnp.asarray, batch)
    _check_tree("batch", batch, finite=True)
    targets = None if labels is None else jnp.asarray(labels)
    if targets is not None:
        _check_tree("labels", targets, finite=True)

    plan = _plan(setup, trainable, context, batch, activations)
    loss_name, loss = ("custom loss", loss_fn) if loss_fn else default_loss(plan.output, targets)
    jacobian, jacobian_note = input_jacobian(setup, trainable, context, batch, jacobian_examples)
    setup = replace(setup, selected=plan.selected, loss=loss, optimizer=optimizer)
    try:
        hash(setup)
        measure: Callable[..., Any] = functools.partial(_measure_cached, setup)
    except TypeError:  # an unhashable model or loss: compile for this call only
        measure = jax.jit(functools.partial(_measure, setup))
    value, acts, grads, updates = measure(trainable, context, batch, targets)
    # the statistics are small jitted functions of their own, compiled once per shape
    leaves = jax.tree_util.tree_leaves
    norms = jax.device_get(
        [
            _norms(w, g, u)
            for w, g, u in zip(leaves(trainable), leaves(grads), leaves(updates), strict=True)
        ]
    )
    moments = jax.device_get([_moments(a) for a in acts])

    with_paths = jax.tree_util.tree_leaves_with_path(trainable)
    paths = ["/".join(key_parts(p)) for p, _ in with_paths]

    def rank(i: int) -> tuple[int, tuple[tuple[int, str], ...]]:
        owner = paths[i].rpartition("/")[0]
        return plan.module_rank.get(owner, len(plan.module_rank)), _natural(paths[i])

    parameters = []
    for i in sorted(range(len(paths)), key=rank):
        w, g, u = (float(v) for v in norms[i])
        ratio = u / w if w > 0 else math.nan
        shape = tuple(with_paths[i][1].shape)
        parameters.append(ParameterStats(paths[i], shape, w, g, u, ratio))
    stats = tuple(
        ActivationStats(name, shape, float(m[0]), float(m[1]))
        for name, shape, m in zip(plan.names, plan.shapes, moments, strict=True)
    )
    loss_value = float(jax.device_get(value))
    classes = plan.output.shape[-1] if loss_name == "cross-entropy" else None
    return Diagnosis(
        activations=stats,
        parameters=tuple(parameters),
        flags=flags_for(stats, parameters, loss=loss_value, classes=classes),
        loss=loss_value,
        loss_name=loss_name,
        activation_source=plan.source,
        classes=classes,
        jacobian=jacobian,
        jacobian_note=jacobian_note,
    )
