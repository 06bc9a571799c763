r"""The μP coordinate check: how each layer's activation scale changes with width in training.

A parametrization (initialization plus per-layer learning rates) is *width-stable* when every
activation coordinate stays :math:`\Theta(1)` as the width :math:`n` grows, at initialization
and after any fixed number of optimizer steps. The coordinate check of Tensor Programs V
(Appendix "coordinate check") tests this directly: train a family of models of several widths
for a few steps on the same data and record, at every step :math:`t` and for every layer
:math:`\ell`, the mean absolute value of the layer's output (the :math:`\ell_1` norm per
coordinate),

.. math::
   s_{n,t,\ell} = \frac{1}{|h|}\sum_i |h^{(\ell)}_i(\theta_t)|
   \quad\text{over every example and unit of the batch,}

then plot :math:`s` against :math:`n` on log-log axes, one panel per step. The slope of the
least-squares line through :math:`(\log n, \log s_{n,t,\ell})` is the exponent :math:`a` in
:math:`s \propto n^a`:

.. math::
   a_{t,\ell} = \frac{\sum_n (x_n - \bar x)(y_n - \bar y)}{\sum_n (x_n - \bar x)^2},
   \qquad x_n = \log n,\; y_n = \log s_{n,t,\ell}.

Under μP every slope is 0 (flat curves, up to finite-width corrections). Under standard
parametrization (fan-in init, one global learning rate) with Adam, each hidden weight moves by
about the learning rate :math:`\eta` per step in a direction aligned with its input, so the
change of a hidden pre-activation is :math:`\sum_j \Delta W_{ij} h_j \approx \eta\, n\,
\mathbb{E}|h|`: it grows like :math:`n` and the slope tends to 1 once the update term dominates
the :math:`\Theta(1)` initial value.

References:
  Yang, Hu, Babuschkin, Sidor, Liu, Farhi, Ryder, Pachocki, Chen, Gao (2022), "Tensor Programs
  V: Tuning Large Neural Networks via Zero-Shot Hyperparameter Transfer",
  https://arxiv.org/abs/2203.03466.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.analysis.capture import execution_order, module_outputs
from jinit._src.analysis.coord_check.checks import (
    Loss,
    check_batches,
    check_int,
    check_widths,
    default_loss,
    is_transformation,
)
from jinit._src.analysis.coord_check.result import CoordCheck
from jinit._src.core.errors import JinitTypeError, JinitValueError, named
from jinit._src.core.optional import require
from jinit._src.core.progress import progress_bar
from jinit._src.core.types import KeyArray, Pattern, PyTree
from jinit._src.model.reinit import reinit

if TYPE_CHECKING:
    import flax.linen as nn
    import optax

__all__ = ["CoordCheck", "coord_check"]


@named
def coord_check(
    make_model: Callable[[int], nn.Module],
    widths: Sequence[int],
    batches: Sequence[tuple[Any, Any]],
    key: KeyArray,
    *,
    optimizer: optax.GradientTransformation | Callable[[PyTree], optax.GradientTransformation],
    rules: Mapping[Pattern, Any] | None = None,
    steps: int = 4,
    loss: Loss | None = None,
    apply_kwargs: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> CoordCheck:
    r"""Train a model family a few steps at several widths; record each layer's activation scale.

    See the module docstring for the method. For each width :math:`n` the model
    ``make_model(n)`` is initialized on the first batch's inputs (``model.init``, then
    :func:`jinit.reinit` with ``rules`` when given) and trained for ``steps`` updates of
    ``optimizer`` on the batches in turn; at each step (on that step's batch, before its
    update), and once more after the last update, the mean absolute value of every
    submodule's output (linen ``capture_intermediates``: a ``Dense`` layer's pre-activations)
    is recorded. Only the ``params`` collection is trained; other collections are passed to
    every ``apply`` as initialized. Initialization, steps (``jax.lax.scan``) and measurements
    of one width are one compiled program, so each width compiles once.

    Args:
      make_model: ``width -> flax.linen.Module``, the family (the layers must have the same
        names at every width).
      widths: at least 2 distinct widths >= 1 (sorted ascending in the result).
      batches: a list of ``(inputs, targets)`` pairs, alike in shapes and dtypes; step
        :math:`t` uses ``batches[t % len(batches)]``. ``inputs`` is what the model is applied
        to (an array or a pytree).
      key: the base key: ``init_key, rules_key = jax.random.split(key)``; ``model.init``
        gets ``init_key`` and :func:`jinit.reinit` ``rules_key``, the same at every width.
      optimizer: an Optax transformation (``optax.adam(1e-2)``: one global learning rate), or
        ``params -> transformation``, called at each width with that width's ``params``
        collection as ``jax.ShapeDtypeStruct`` leaves (shapes only: nothing is computed
        before the compiled run), for per-layer rates: ``lambda p:
        jinit.mup_learning_rates(p, 1e-2, base_fan_in=64, input=..., output=...)``.
      rules: a jinit rule set (``jinit.mup_rules(...)``, ``{"*kernel": jinit.he_normal}``)
        applied to the variables; ``None`` keeps the model's own initializers.
      steps: the number of optimizer updates, >= 1 (``steps + 1`` measurements).
      loss: ``loss(output, targets) -> scalar``; by default the mean softmax cross-entropy for
        integer class labels, the mean squared error for float targets of the output's shape.
      apply_kwargs: keyword arguments of every ``init``/``apply`` (``train=True``...). No
        ``rngs`` are passed to ``apply``: turn dropout off (``deterministic=True``).
      progress: show a progress bar (one tick per width; needs rich).

    Returns:
      A :class:`CoordCheck` with ``widths``, ``steps``, ``layers``, ``scales`` (width x step x
      layer), ``losses``, ``slopes()`` and ``plot(path)``; ``print`` shows the slopes. The
      layers are the submodules, by path, in execution order; the top-level module's own
      output (usually the last layer's) is not listed again.

    Raises:
      TypeError: ``make_model`` not callable or not returning a linen Module, ``widths`` or
        ``batches`` of the wrong kind, an ``optimizer`` that is neither a transformation nor
        callable (or a callable that returns no transformation), ``rules`` or
        ``apply_kwargs`` not a mapping, ``loss`` not callable, ``progress`` not a bool.
      ValueError: widths not >= 1, repeated or fewer than 2; ``steps`` < 1; batches unlike
        each other or with NaN/inf; targets that fit no default loss; a loss that does not
        return a scalar; layers that differ between widths; a model without submodule
        outputs; a scale or loss that is NaN or infinite (training diverged: the message
        names the width, the step and the layer). Everything but divergence is found before
        anything is compiled.

    Example:
      >>> import flax.linen as nn, optax
      >>> class MLP(nn.Module):
      ...     width: int
      ...     @nn.compact
      ...     def __call__(self, x):
      ...         x = nn.relu(nn.Dense(self.width, name="input")(x))
      ...         return nn.Dense(3, name="readout")(x)
      >>> x = jax.random.normal(jax.random.key(0), (16, 8))
      >>> y = jnp.arange(16) % 3
      >>> check = coord_check(MLP, [16, 32], [(x, y)], jax.random.key(1),
      ...                     optimizer=optax.adam(1e-2), steps=2)
      >>> check.layers, check.steps, check.scales.shape
      (('input', 'readout'), (0, 1, 2), (2, 3, 2))

    References:
      Yang et al. (2022), "Tensor Programs V: Tuning Large Neural Networks via Zero-Shot
      Hyperparameter Transfer", https://arxiv.org/abs/2203.03466 (coordinate check).
    """
    if not callable(make_model):
        raise JinitTypeError(f"make_model must be callable width -> Module, got {make_model!r}")
    sizes = check_widths(widths)
    pairs = check_batches(batches)
    count = check_int("steps", steps, 1)
    if not (is_transformation(optimizer) or callable(optimizer)):
        raise JinitTypeError(
            "optimizer must be an optax.GradientTransformation or params -> "
            f"GradientTransformation, got {optimizer!r:.80}"
        )
    if rules is not None and not isinstance(rules, Mapping):
        raise JinitTypeError(f"rules must be a mapping {{pattern: rule}} or None, got {rules!r}")
    if loss is not None and not callable(loss):
        raise JinitTypeError(f"loss must be callable (output, targets) -> scalar, got {loss!r}")
    if apply_kwargs is not None and not isinstance(apply_kwargs, Mapping):
        raise JinitTypeError(f"apply_kwargs must be a mapping or None, got {apply_kwargs!r}")
    if not isinstance(progress, bool):
        raise JinitTypeError(f"progress must be a bool, got {progress!r}")
    nn_module = require("flax.linen", "coord_check")
    optax_module = require("optax", "coord_check")
    kwargs = dict(apply_kwargs or {})
    order = [pairs[t % len(pairs)] for t in range(count + 1)]
    xs, ys = jax.tree.map(lambda *a: jnp.stack([jnp.asarray(b) for b in a]), *order)
    x0, y0 = order[0]
    init_key, rules_key = jax.random.split(key)

    # first every width's model, optimizer, layers and loss (traced, not compiled), so that a
    # family that cannot be checked is refused before anything is compiled
    runs, names = [], None
    for width in sizes:
        model = make_model(width)
        if not isinstance(model, nn_module.Module):
            raise JinitTypeError(
                f"make_model({width}) must return a flax.linen Module, got {type(model).__name__}"
            )
        init, forward = _functions(model, rules, kwargs)
        abstract = jax.eval_shape(init, init_key, rules_key, x0)
        if not jax.tree.leaves(abstract.get("params", {})):
            raise JinitValueError(
                f"make_model({width}) has no parameters (no 'params' collection) to train"
            )
        tx = optimizer if is_transformation(optimizer) else optimizer(abstract["params"])
        if not is_transformation(tx):
            raise JinitTypeError(
                f"optimizer(params) must return an optax.GradientTransformation, got {tx!r:.80}"
            )
        layers = execution_order(lambda v, x, f=forward: f(v, x)[1], abstract, x0)
        if not layers:
            raise JinitValueError(
                f"make_model({width}) has no submodule outputs to measure; build the model "
                "from submodules (nn.Dense, ...)"
            )
        if names is not None and layers != names:
            raise JinitValueError(
                f"the layers differ between widths: {names} at width {sizes[0]}, {layers} "
                f"at width {width}; make_model must give the same layer names at every width"
            )
        names = layers
        output = jax.eval_shape(forward, abstract, x0)[0]
        loss_fn = loss or default_loss(output, y0)
        value = jax.eval_shape(loss_fn, output, y0)
        if getattr(value, "shape", None) != ():
            raise JinitValueError(
                f"loss must return a scalar, got {value} for the output {output} at width {width}"
            )
        runs.append(_compile(init, forward, loss_fn, tx, optax_module.apply_updates, layers))
    assert names is not None

    scales, losses = [], []
    with progress_bar("coord_check", len(sizes), "coordinate check", progress) as advance:
        for width, run in zip(sizes, runs, strict=True):
            values, measured = jax.device_get(run(init_key, rules_key, xs, ys))
            scales.append(np.asarray(measured, np.float64))
            losses.append(np.asarray(values, np.float64))
            _check_finite(width, names, scales[-1], losses[-1])
            advance(note=f"width {width}")
    scale_array, loss_array = np.stack(scales), np.stack(losses)
    scale_array.flags.writeable = loss_array.flags.writeable = False
    return CoordCheck(sizes, tuple(range(count + 1)), tuple(names), scale_array, loss_array)


#: ``init(init_key, rules_key, inputs) -> variables``.
Init = Callable[[KeyArray, KeyArray, Any], PyTree]
#: ``forward(variables, inputs) -> (output, {module path: [its output arrays]})``.
Forward = Callable[[PyTree, Any], tuple[Any, dict[str, list[jax.Array]]]]


def _functions(
    model: nn.Module, rules: Mapping[Pattern, Any] | None, kwargs: Mapping[str, Any]
) -> tuple[Init, Forward]:
    """The model's initialization (``model.init``, then ``rules``) and its capturing forward."""

    def init(init_key: KeyArray, rules_key: KeyArray, x: Any) -> PyTree:
        variables = model.init(init_key, x, **kwargs)
        return variables if rules is None else reinit(variables, rules, rules_key)

    def forward(variables: PyTree, x: Any) -> tuple[Any, dict[str, list[jax.Array]]]:
        out, state = model.apply(
            variables, x, capture_intermediates=True, mutable=["intermediates"], **kwargs
        )
        found = module_outputs(state["intermediates"])
        return out, {path: arrays for path, arrays in found.items() if path}

    return init, forward


def _mean_abs(arrays: Sequence[jax.Array]) -> jax.Array:
    """The mean absolute value over every element of ``arrays``, in float32."""
    total = sum(jnp.sum(jnp.abs(a).astype(jnp.float32)) for a in arrays)
    return jnp.asarray(total) / sum(a.size for a in arrays)


def _compile(
    init: Init,
    forward: Forward,
    loss_fn: Loss,
    tx: optax.GradientTransformation,
    apply_updates: Callable[[PyTree, PyTree], PyTree],
    layers: Sequence[str],
) -> Callable[[KeyArray, KeyArray, Any, Any], tuple[jax.Array, jax.Array]]:
    """``run(keys..., xs, ys) -> (losses (steps + 1,), scales (steps + 1, layers))``, jitted.

    Initialization, the ``steps`` updates (a ``scan``) and the last measurement are one
    program: one compilation per width.
    """

    def measure(
        p: PyTree, fixed: PyTree, x: Any, y: Any
    ) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        out, found = forward({**fixed, "params": p}, x)
        value = jnp.asarray(loss_fn(out, y), jnp.float32)
        return value, (value, jnp.stack([_mean_abs(found[k]) for k in layers]))

    @jax.jit
    def run(init_key: KeyArray, rules_key: KeyArray, xs: Any, ys: Any) -> Any:
        variables = init(init_key, rules_key, jax.tree.map(lambda a: a[0], xs))
        fixed = {k: v for k, v in variables.items() if k != "params"}

        def step(carry: tuple[PyTree, PyTree], batch: tuple[Any, Any]) -> tuple[Any, Any]:
            p, state = carry
            grads, record = jax.grad(measure, has_aux=True)(p, fixed, *batch)
            updates, state = tx.update(grads, state, p)
            return (apply_updates(p, updates), state), record

        params = variables["params"]
        head = jax.tree.map(lambda a: a[:-1], (xs, ys))
        (final, _), (values, scales) = jax.lax.scan(step, (params, tx.init(params)), head)
        _, (value, scale) = measure(final, fixed, *jax.tree.map(lambda a: a[-1], (xs, ys)))
        return jnp.append(values, value), jnp.concatenate([scales, scale[None]])

    return run


def _check_finite(
    width: int, layers: Sequence[str], scales: np.ndarray, losses: np.ndarray
) -> None:
    bad = np.argwhere(~np.isfinite(scales))
    if bad.size:
        t, k = (int(i) for i in bad[0])
        raise JinitValueError(
            f"training diverged at width {width}: the output of {layers[k]!r} is "
            f"{scales[t, k]} after {t} update(s); lower the learning rate or the steps"
        )
    bad = np.argwhere(~np.isfinite(losses))
    if bad.size:
        t = int(bad[0][0])
        raise JinitValueError(
            f"training diverged at width {width}: the loss is {losses[t]} after {t} update(s); "
            "lower the learning rate or the steps"
        )
