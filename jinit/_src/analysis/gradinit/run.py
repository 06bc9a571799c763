r"""GradInit (Zhu et al. 2021): learn one scale per parameter block for a good first step.

Each parameter block (array) :math:`\theta_i^0` becomes :math:`\theta_i = \alpha_i
\theta_i^0`, and the scales :math:`\alpha` (all 1 at first) are learned so that *one step* of
the base optimizer :math:`A` (SGD or Adam, learning rate :math:`\eta`) taken on a mini-batch
:math:`\tilde S_1` lowers the loss on a mini-batch :math:`\tilde S_2` the most, while the
gradient stays bounded (the paper's Eq. 1):

.. math::
   \min_\alpha\; L\big(\theta - \eta A[g(\theta; \tilde S_1)]; \tilde S_2\big)
   \quad\text{s.t.}\quad \lVert g(\theta; \tilde S_1) \rVert_{p_A} \le \gamma,
   \qquad \alpha_i \ge \alpha_{\min},

with :math:`p_A = 2` for SGD (:math:`A(g) = g`, first-order decrease :math:`\eta \lVert g
\rVert_2^2`) and :math:`p_A = 1` for Adam (whose first step is :math:`\operatorname{sign}(g)`
up to :math:`\epsilon`, first-order decrease :math:`\eta \lVert g \rVert_1`). Each iteration
draws fresh mini-batches; when the constraint is violated the scales take a step that lowers
:math:`\lVert g \rVert_{p_A}` instead of the objective (the paper's Algorithm 1). The scales are
updated by Adam and clamped at :math:`\alpha_{\min}`; see
:mod:`jinit._src.analysis.gradinit.objective` for the update and
:mod:`jinit._src.analysis.gradinit.batches` for the mini-batches.

As in the authors' code (https://github.com/zhuchen03/gradinit): the objective is divided by
:math:`\eta` (the minimizer is unchanged), :math:`\tilde S_1` and :math:`\tilde S_2` are each two
draws of ``batch_size`` examples and share one of them (``overlap=False`` makes them disjoint,
their ``--batch-no-overlap``), and the defaults are theirs (:math:`\eta = 0.1`, :math:`\gamma =
1`, :math:`\alpha_{\min} = 0.01`, Adam on the scales). Where this departs from their code:

* the gradient of the objective is exact, through :math:`g` (a Hessian-vector product); their
  SGD branch detaches :math:`g` in the step, keeping only the path through :math:`\theta`;
* Adam's first step is :math:`g / (\lvert g \rvert + \epsilon)`, Adam's actual first update,
  rather than :math:`\operatorname{sign}(g)`; the two differ only where :math:`\lvert g \rvert
  \lesssim \epsilon = 10^{-8}`;
* one Optax Adam state serves both branches (they keep a separate first moment for the
  constraint steps), the scales' gradients are not clipped (they clip each at 1), and every
  block, biases included, is clamped at :math:`\alpha_{\min}` (they let biases go to 0).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.analysis.gradinit.batches import draw_source, is_dataset, pair_up
from jinit._src.analysis.gradinit.objective import (
    BASE_OPTIMIZERS,
    NORM_ORDER,
    BaseOptimizer,
    Loss,
    make_objective,
    make_update,
)
from jinit._src.analysis.gradinit.report import GradInitBlock, GradInitReport
from jinit._src.analysis.gradinit.setup import check_default_loss, cross_entropy, model_functions
from jinit._src.core.checks import check_choice, check_int, check_real
from jinit._src.core.errors import JinitTypeError, JinitValueError, named
from jinit._src.core.factory_guard import is_prng_key
from jinit._src.core.optional import require
from jinit._src.core.progress import progress_bar
from jinit._src.core.types import KeyArray, Pattern, PyTree
from jinit._src.model.paths import path_string
from jinit._src.model.plan import matcher
from jinit._src.model.trace.program import is_array

__all__ = ["GradInitBlock", "GradInitReport", "gradinit"]


@named
def gradinit(
    model: Any,
    variables: PyTree,
    batches: object,
    key: KeyArray,
    *,
    loss: Loss | None = None,
    optimizer: BaseOptimizer = "sgd",
    lr: float = 0.1,
    gamma: float = 1.0,
    min_scale: float = 0.01,
    scale_lr: float = 0.01,
    steps: int = 200,
    batch_size: int | None = 128,
    overlap: bool = True,
    param_pattern: Pattern = "*",
    apply_kwargs: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> tuple[Any, GradInitReport]:
    r"""Rescale every parameter block so that one ``optimizer`` step lowers the loss most.

    See the module docstring for the method. For each matched block
    :math:`\theta_i^0` it learns :math:`\alpha_i \ge \alpha_{\min}` in ``steps`` Adam steps of
    learning rate ``scale_lr`` on

    .. math::
       J(\alpha) = \begin{cases}
         \lVert g(\theta; \tilde S_1) \rVert_{p_A} & \text{if it exceeds } \gamma,\\
         L(\theta - \eta A[g(\theta; \tilde S_1)]; \tilde S_2) / \eta & \text{otherwise,}
       \end{cases}
       \qquad \theta_i = \alpha_i \theta_i^0,

    and returns the blocks :math:`\alpha_i \theta_i^0`: only their norms change, never their
    directions. The gradient :math:`g` and the step :math:`A(g)` run over every floating-point
    leaf of the parameters (the blocks :math:`\theta` the base optimizer would train), scaled or
    not. One update is compiled once and reused (per mini-batch shape).

    ===================================  ==========================  ========================
    ``model``                            ``variables``               returns
    ===================================  ==========================  ========================
    a ``flax.linen`` Module              ``model.init(...)``         new variables
    ``apply(params, inputs)``            the params pytree           new params
    ===================================  ==========================  ========================

    For a linen Module only the ``params`` collection is scaled and differentiated; the other
    collections (``batch_stats``...) are passed to ``apply`` unchanged and not updated.

    Args:
      model: the network (see the table); it must be jittable and differentiable.
      variables: its variables (see the table). Never modified.
      batches: the data, as ``(inputs, targets)`` pairs. Each step takes three *draws*
        :math:`b_0, b_1, b_2` and uses :math:`\tilde S_1 = b_0 \cup b_1`, :math:`\tilde S_2 =
        b_0 \cup b_2` (four, :math:`\tilde S_2 = b_2 \cup b_3`, without ``overlap``); the
        draws are concatenated along axis 0 of every leaf. The draws come from: a dataset
        ``(x, y)`` (a *tuple* of two arrays, examples along axis 0): ``batch_size`` distinct
        rows each, at random (from ``key`` and the step; all the rows of a step distinct), or
        all the rows dealt into the draws in turn when ``batch_size`` is ``None`` or the draws
        would need more rows than there are; a list of ``(inputs, targets)`` pairs: taken in
        turn, cycled; an iterator of pairs: three (four) per step, so it must hold ``3 *
        steps`` (``4 * steps``). Inputs go to the model as they are (any pytree whose leaves
        have the examples along axis 0).
      key: the key the dataset rows are drawn with (nothing else is random).
      loss: ``loss(outputs, targets) -> scalar``; default: the mean softmax cross-entropy of
        logits ``outputs`` (``(..., classes)``) against integer labels ``targets``.
      optimizer: the base optimizer to prepare for: ``"sgd"`` (step :math:`g`, constraint on
        :math:`\lVert g \rVert_2`) or ``"adam"`` (step :math:`g/(|g|+\epsilon)`, constraint on
        :math:`\lVert g \rVert_1`).
      lr: the base optimizer's learning rate :math:`\eta` (> 0; the authors' 0.1).
      gamma: the gradient-norm bound :math:`\gamma` (> 0; the authors' 1).
      min_scale: the lower bound :math:`\alpha_{\min}` of every scale, in (0, 1] (the authors'
        0.01).
      scale_lr: Adam's learning rate for the scales (> 0).
      steps: GradInit iterations (>= 1).
      batch_size: rows per draw from a dataset (>= 1), or ``None``; :math:`\tilde S_1` and
        :math:`\tilde S_2` have twice as many (the authors' ``--gradinit-bsize``).
      overlap: whether :math:`\tilde S_2` shares half its examples with :math:`\tilde S_1`
        (the authors' default) or none.
      param_pattern: a glob (``*`` crosses ``/``) or compiled ``re.Pattern`` matched against
        the parameter paths (``params/Dense_0/kernel`` for linen) that selects the blocks to
        scale; the default scales every floating-point block. A block of zeros (a zero bias)
        keeps scale 1: no factor changes it.
      apply_kwargs: keyword arguments for every model call (``train=False``...).
      progress: show a progress bar (needs rich, the ``cli`` extra).

    Returns:
      ``(new variables or params, report)``; the :class:`GradInitReport` lists each block's
      learned scale and summarizes the loss and gradient-norm trajectory.

    Raises:
      TypeError: a bad ``model``/``variables`` combination; ``batches``, ``key``, ``loss``,
        ``param_pattern``, ``steps``, ``batch_size``, ``overlap``, ``progress`` or
        ``apply_kwargs`` of the wrong type; or
        targets the default loss cannot use.
      ValueError: ``lr``, ``gamma`` or ``scale_lr`` not > 0, ``min_scale`` not in (0, 1],
        ``steps`` or ``batch_size`` < 1, an unknown ``optimizer``, unusable ``batches``, no
        block matched or a non-floating one, a loss that is not a scalar, or a run whose
        loss, gradient norm or scales became non-finite.

    Example:
      >>> import flax.linen as nn
      >>> model = nn.Sequential([nn.Dense(32), nn.relu, nn.Dense(3)])
      >>> x = jax.random.normal(jax.random.key(0), (64, 4))
      >>> y = jnp.arange(64) % 3
      >>> variables = model.init(jax.random.key(1), x)
      >>> variables, report = gradinit(model, variables, (x, y), jax.random.key(2), steps=5)
      >>> report.steps, [block.path for block in report.blocks][:2]
      (5, ['params/layers_0/bias', 'params/layers_0/kernel'])

    References:
      Zhu, Ni, Xu, Kong, Huang & Goldstein (2021), GradInit: Learning to Initialize Neural
      Networks for Stable and Efficient Training, NeurIPS, https://arxiv.org/abs/2102.08098
    """
    if not is_prng_key(key):
        raise JinitTypeError(
            f"key must be a JAX PRNG key (jax.random.key(0)), got {type(key).__name__}"
        )
    if loss is not None and not callable(loss):
        raise JinitTypeError(f"loss must be a function (outputs, targets) -> scalar, got {loss!r}")
    optimizer = check_choice("optimizer", optimizer, BASE_OPTIMIZERS)
    lr = check_real("lr", lr, positive=True)
    gamma = check_real("gamma", gamma, positive=True)
    scale_lr = check_real("scale_lr", scale_lr, positive=True)
    min_scale = check_real("min_scale", min_scale, positive=True)
    if min_scale > 1:
        raise JinitValueError(
            f"min_scale must lie in (0, 1] (the scales start at 1), got {min_scale!r}"
        )
    steps = check_int("steps", steps, 1)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, 1)
    for name, flag in (("overlap", overlap), ("progress", progress)):
        if not isinstance(flag, bool):
            raise JinitTypeError(f"{name} must be a bool, got {flag!r}")
    if apply_kwargs is not None and not isinstance(apply_kwargs, Mapping):
        raise JinitTypeError(f"apply_kwargs must be a mapping, got {type(apply_kwargs).__name__}")
    if not isinstance(param_pattern, str | re.Pattern):
        raise JinitTypeError(
            "param_pattern must be a glob str or a compiled re.Pattern, got "
            f"{param_pattern!r} of type {type(param_pattern).__name__}"
        )
    matches = matcher(param_pattern, "param_pattern")
    optax = require("optax", "gradinit")
    params, apply, finish = model_functions(model, variables, dict(apply_kwargs or {}))

    flat, treedef = jax.tree_util.tree_flatten_with_path(params)
    paths = [path_string(path) for path, _ in flat]
    leaves = [leaf for _, leaf in flat]
    floating = [
        i
        for i, leaf in enumerate(leaves)
        if is_array(leaf) and jnp.issubdtype(leaf.dtype, jnp.floating)
    ]
    label = param_pattern.pattern if isinstance(param_pattern, re.Pattern) else param_pattern
    chosen = [i for i, path in enumerate(paths) if matches(path) and is_array(leaves[i])]
    odd = [paths[i] for i in chosen if i not in floating]
    if odd and label != "*":
        raise JinitValueError(
            f"param_pattern {label!r} matches {odd[:3]}, which are not floating-point arrays; "
            "only floating-point blocks can be scaled"
        )
    scaled = [i for i in chosen if i in floating]
    if not scaled:
        raise JinitValueError(
            f"param_pattern {label!r} matched no floating-point parameter. Paths look like "
            f"{paths[:3]}{' ...' if len(paths) > 3 else ''}; start a glob with '*' to match at "
            "any depth"
        )

    draw = draw_source(batches, key, batch_size, overlap)
    first = draw(0)
    try:
        s1, _ = jax.eval_shape(pair_up, first)
    except (TypeError, ValueError) as error:
        raise JinitValueError(
            "batches: the draws of a step cannot be joined into one mini-batch (every leaf "
            "of the inputs and targets is concatenated along axis 0, so the pairs need the "
            f"same structure and shapes apart from axis 0): {error}"
        ) from None
    fixed = list(leaves)

    def rebuild(values: Any) -> PyTree:
        full = list(fixed)
        for i, value in zip(floating, values, strict=True):
            full[i] = value
        return jax.tree_util.tree_unflatten(treedef, full)

    inputs, targets = s1
    outputs = jax.eval_shape(apply, params, inputs)
    loss_fn: Loss = cross_entropy if loss is None else loss
    if loss is None:

        def labels() -> np.ndarray:  # all of a dataset's, else those of the first step
            if is_dataset(batches):
                return np.asarray(batches[1])  # type: ignore[index]
            return np.concatenate([np.asarray(d[1]).ravel() for d in first])

        check_default_loss(outputs, targets, labels)
    value = jax.eval_shape(loss_fn, outputs, targets)
    if not is_array(value) or value.shape != ():
        raise JinitValueError(
            f"loss must return a scalar, got {getattr(value, 'shape', type(value).__name__)}"
        )

    objective = make_objective(
        apply, loss_fn, rebuild, [floating.index(i) for i in scaled], optimizer=optimizer
    )
    update = make_update(objective, optax.adam, pair_up)
    settings = {
        name: jnp.asarray(value, jnp.float32)
        for name, value in (
            ("lr", lr),
            ("gamma", gamma),
            ("min_scale", min_scale),
            ("scale_lr", scale_lr),
        )
    }
    theta0 = [leaves[i] for i in floating]
    alpha = jnp.ones(len(scaled), jnp.float32)
    state = optax.adam(scale_lr).init(alpha)
    records = []
    with progress_bar("gradinit", steps, "GradInit", progress) as advance:
        for step in range(steps):
            draws = first if step == 0 else draw(step)
            alpha, state, metrics = update(alpha, state, theta0, draws, settings)
            records.append(metrics)
            if progress:
                advance(note=f"objective {float(metrics['objective']):.4g}")

    found = {name: np.asarray([r[name] for r in records]) for name in records[0]}
    scales = np.asarray(alpha, np.float64)
    for name, values in (("loss", found["loss"]), ("gradient norm", found["grad_norm"])):
        if not np.all(np.isfinite(values)):
            bad = int(np.flatnonzero(~np.isfinite(values))[0])
            raise JinitValueError(
                f"the {name} became non-finite at step {bad}; lower lr or scale_lr, or pass a "
                "smaller gamma"
            )
    if not np.all(np.isfinite(scales)) or not np.all(np.isfinite(found["objective"])):
        raise JinitValueError("the objective or the scales became non-finite; lower lr or scale_lr")

    new = list(leaves)
    for j, i in enumerate(scaled):  # exactly the blocks the objective measured
        new[i] = leaves[i] * alpha[j].astype(leaves[i].dtype)
    blocks = tuple(
        GradInitBlock(
            path=paths[i],
            shape=tuple(leaves[i].shape),
            scale=float(scales[j]),
            norm=float(jnp.linalg.norm(jnp.asarray(leaves[i], jnp.float32).ravel())),
        )
        for j, i in enumerate(scaled)
    )
    constrained = found["constrained"]
    report = GradInitReport(
        blocks=blocks,
        optimizer=optimizer,
        norm_order=NORM_ORDER[optimizer],
        lr=lr,
        gamma=gamma,
        min_scale=min_scale,
        loss=tuple(float(v) for v in found["loss"]),
        grad_norm=tuple(float(v) for v in found["grad_norm"]),
        loss_after=tuple(
            None if c else float(v) * lr
            for c, v in zip(constrained, found["objective"], strict=True)
        ),
    )
    return finish(jax.tree_util.tree_unflatten(treedef, new)), report
