r"""Depth- and width-aware rule sets for :func:`jinit.reinit`: GPT-2, Fixup, ReZero/SkipInit, μP.

Residual networks add a branch to the signal in every block: with branches initialized for unit
gain (He), the variance of the residual stream grows with every block, about 2^L for L plain
ReLU blocks, and deep nets diverge at the first steps. Each scheme below controls that growth
at initialization; they differ in how.

==========  ===========================================================  =====================
scheme      initialization                                               reference
==========  ===========================================================  =====================
GPT-2       all weights N(0, 0.02²); residual projections (the last      Radford et al. 2019
            layer of each branch) N(0, (0.02/√(2L))²), biases 0
Fixup       last layer of each branch 0; the other m-1 branch layers     Zhang et al. 2019,
            He-normal scaled by L^(-1/(2m-2)); classifier 0              arXiv:1901.09321
ReZero /    a scalar gate α on each branch, x + α·F(x), α = 0            Bachlechner et al.
SkipInit                                                                 2020, arXiv:2003.04887;
                                                                         De & Smith 2020,
                                                                         arXiv:2002.10444
μP          hidden weights Var 1/fan_in, output weights                  Yang et al. 2022,
            Var base_fan_in/fan_in²; Adam learning rates of hidden and   arXiv:2203.03466
            output weights scaled by base_fan_in/fan_in                  (Table 3)
==========  ===========================================================  =====================

All return ordered rule dicts (first match wins): put model-specific patterns first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import jax
import numpy as np

from jinit._src.core.calls import FactoryPartial
from jinit._src.core.checks import check_real
from jinit._src.core.errors import JinitTypeError, JinitValueError, named
from jinit._src.core.factories import initializer_factory, recorded_factory
from jinit._src.core.fans import compute_fans
from jinit._src.core.optional import require
from jinit._src.core.types import Axes, KeyArray, OutSharding, Pattern, PyTree, RuleValue
from jinit._src.core.values import Draw
from jinit._src.initializers.constant import zeros
from jinit._src.initializers.random import normal
from jinit._src.initializers.variance_scaling import variance_scaling, variance_scaling_draw
from jinit._src.model.layouts import layer_axes
from jinit._src.model.paths import path_string
from jinit._src.model.rules import RuleSet

if TYPE_CHECKING:
    import optax

__all__ = ["fixup_rules", "gpt2_rules", "mup_learning_rates", "mup_rules", "rezero_rules"]


def _count(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise JinitValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


@recorded_factory
def gpt2_rules(
    n_layers: int,
    *,
    residual: Pattern | Sequence[Pattern] = "*c_proj/kernel",
    std: float = 0.02,
) -> RuleSet:
    r"""GPT-2's initialization: N(0, std²) weights, residual projections scaled by 1/√(2L).

    Each of the L transformer blocks adds two branches (attention, MLP) to the residual stream,
    so the projections that write into it get :math:`\sigma = \text{std}/\sqrt{2L}`, keeping the
    stream's variance growth independent of depth.

    Args:
      n_layers: number of blocks L (>= 1).
      residual: the pattern, or several patterns, of the residual output projections (GPT-2
        names them ``c_proj``; a Gemma-style block has two, e.g.
        ``["*attn_vec_einsum/w", "*mlp/linear"]``).
      std: the base standard deviation (0.02).

    Returns:
      Rules (a :class:`~jinit._src.model.rules.RuleSet`): residual projections, then every
      kernel and embedding N(0, std²), biases 0; with ``strict`` the residual patterns must
      match, the generic ones may not (a model without biases). Add
      rules for weights with other names (and norm scales) before or after as needed: an
      abstract parameter no rule matches is an error, not left abstract.

    Raises:
      ValueError: ``n_layers`` not an integer >= 1, ``std`` not > 0, no residual pattern.
      TypeError: a residual pattern that is neither a str nor a compiled ``re.Pattern``.

    Example:
      >>> rules = gpt2_rules(12, residual=["*attn_vec_einsum/w", "*mlp/linear"])
      >>> list(rules)[:2]
      ['*attn_vec_einsum/w', '*mlp/linear']

    References:
      Radford et al. 2019, "Language Models are Unsupervised Multitask Learners" (GPT-2).
    """
    layers = _count("n_layers", n_layers, 1)
    sigma = check_real("std", std, positive=True)
    patterns = [residual] if isinstance(residual, str | re.Pattern) else list(residual)
    if not patterns:
        raise JinitValueError("residual must name at least one pattern, got []")
    for pattern in patterns:
        if not isinstance(pattern, str | re.Pattern):
            raise JinitTypeError(
                f"residual patterns must be glob strs or compiled re.Patterns, got {pattern!r}"
            )
    scaled = normal(sigma / math.sqrt(2 * layers))
    rules: dict[Pattern, RuleValue] = {pattern: scaled for pattern in patterns}
    generic: dict[Pattern, RuleValue] = {
        "*kernel": normal(sigma),
        "*embedding": normal(sigma),
        "*bias": zeros,
    }
    rules.update(generic)
    return RuleSet(rules, optional=generic)


@recorded_factory
def fixup_rules(
    n_branches: int,
    branch_depth: int,
    *,
    last: Pattern,
    branch: Pattern,
    classifier: Pattern | None = None,
) -> RuleSet:
    r"""Fixup: residual branches start as zero maps, inner branch layers He-scaled down.

    With L branches of m layers each, the last layer of every branch is 0 and the other
    m - 1 kernels are He normal scaled by :math:`L^{-1/(2m-2)}` (variance
    :math:`\frac{2}{\text{fan\_in}} L^{-1/(m-1)}`); the classifier is 0; biases 0. The network
    is the identity map plus the input layer at initialization, and the first update of every
    branch is bounded independently of L.

    Args:
      n_branches: number of residual branches L (>= 1).
      branch_depth: layers per branch m (>= 2).
      last: pattern of the last kernel of each branch.
      branch: pattern of the other branch kernels.
      classifier: pattern of the final classification kernel (zeroed), or None.

    Returns:
      Rules: ``last`` -> 0, ``branch`` -> scaled He normal (a factory, so fans come from the
      layer), ``classifier`` -> 0, biases 0.

    References:
      Zhang, Dauphin, Ma 2019, "Fixup Initialization: Residual Learning Without
      Normalization", arXiv:1901.09321.
    """
    count = _count("n_branches", n_branches, 1)
    depth = _count("branch_depth", branch_depth, 2)
    scale = 2.0 * count ** (-1.0 / (depth - 1))

    scaled_he = FactoryPartial(variance_scaling, scale, "fan_in", "normal")
    rules: dict[Pattern, RuleValue] = {last: zeros, branch: scaled_he}
    if classifier is not None:
        rules[classifier] = zeros
    rules["*bias"] = zeros
    return RuleSet(rules, optional=())


@recorded_factory
def rezero_rules(gate: Pattern = "*alpha") -> RuleSet:
    r"""ReZero / SkipInit: every residual gate α in ``x + α·F(x)`` starts at 0.

    The network is the identity at initialization whatever F's weights are; α learns how much
    of each branch to admit.

    Args:
      gate: pattern of the scalar gates (``*alpha``).

    Returns:
      Rules: gates -> 0. Combine with the model's usual kernel rules.

    References:
      Bachlechner et al. 2020, "ReZero is All You Need", arXiv:2003.04887; De & Smith 2020,
      "Batch Normalization Biases Residual Blocks Towards the Identity Function in Deep
      Networks" (SkipInit), arXiv:2002.10444.
    """
    return RuleSet({gate: zeros}, optional=())


def _mup_role(path: str, input_pattern: Pattern, output_pattern: Pattern) -> str:
    def hit(pattern: Pattern) -> bool:
        if isinstance(pattern, re.Pattern):
            return pattern.fullmatch(path) is not None
        import fnmatch

        return fnmatch.fnmatchcase(path, pattern)

    if path.endswith("bias") or hit(input_pattern):
        return "input"
    if hit(output_pattern):
        return "output"
    return "hidden"


@recorded_factory
def mup_rules(*, base_fan_in: int, input: Pattern, output: Pattern) -> RuleSet:
    r"""μP initialization for Adam (Tensor Programs V, Table 3), relative to a base width.

    Input weights: variance 1/fan_in. Hidden weights: 1/fan_in. Output weights:
    :math:`\text{base\_fan\_in}/\text{fan\_in}^2`, which equals standard parametrization at the
    base width and shrinks faster as the model widens. Biases 0. Pair with
    :func:`mup_learning_rates`.

    Args:
      base_fan_in: fan-in of the hidden/output layers of the base (tuned) model.
      input: pattern of the input (embedding) kernels.
      output: pattern of the output (read-out) kernel.

    References:
      Yang et al. 2022, "Tensor Programs V: Tuning Large Neural Networks via Zero-Shot
      Hyperparameter Transfer", arXiv:2203.03466.
    """
    base = _count("base_fan_in", base_fan_in, 1)

    fan_in_normal = FactoryPartial(variance_scaling, 1.0, "fan_in", "normal")
    rules: dict[Pattern, RuleValue] = {
        output: FactoryPartial(mup_output, base),
        input: fan_in_normal,
        "*kernel": fan_in_normal,
        "*bias": zeros,
    }
    return RuleSet(rules, optional=())


@initializer_factory(name="mup_rules", public=False)
def mup_output(
    base_fan_in: int, *, in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = ()
) -> Draw:
    r"""μP's output weights: normal with variance :math:`\text{base\_fan\_in}/\text{fan\_in}^2`."""
    base = _count("base_fan_in", base_fan_in, 1)

    def draw(
        key: KeyArray, dims: tuple[int, ...], dtype: np.dtype, out_sharding: OutSharding
    ) -> jax.Array:
        fan_in = float(compute_fans(dims, in_axis, out_axis, batch_axis, owner=None).fan_in)
        return variance_scaling_draw(
            base / fan_in, "fan_in", "normal", in_axis, out_axis, batch_axis
        )(key, dims, dtype, out_sharding)

    return draw


@named
def mup_learning_rates(
    params: PyTree,
    learning_rate: float,
    *,
    base_fan_in: int,
    input: Pattern,
    output: Pattern,
    optimizer: Callable[[float], optax.GradientTransformation] | None = None,
) -> optax.GradientTransformation:
    r"""Per-parameter Adam learning rates of μP, as one ``optax.multi_transform``.

    Input weights and all biases: ``learning_rate``; hidden and output weights:
    ``learning_rate · base_fan_in / fan_in`` (fan_in from the parameter's layer, see
    :func:`jinit.layer_axes`).

    Args:
      params: the parameter tree (arrays or ShapeDtypeStructs).
      learning_rate: the base model's tuned learning rate.
      base_fan_in: fan-in of the base model's hidden layers.
      input: pattern of the input kernels.
      output: pattern of the read-out kernel.
      optimizer: the Optax optimizer factory taking a learning rate; ``None``: ``optax.adam``.

    Returns:
      An ``optax.multi_transform`` with one optimizer per distinct learning rate.
    """
    optimizer = require("optax", "mup_learning_rates").adam if optimizer is None else optimizer
    base = _count("base_fan_in", base_fan_in, 1)
    rate = check_real("learning_rate", learning_rate, positive=True)
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    rates: dict[str, float] = {}
    labels_by_path: dict[str, str] = {}
    for path_entries, leaf in leaves:
        path = path_string(path_entries)
        role = _mup_role(path, input, output)
        if role == "input":
            lr = rate
        else:
            axes = layer_axes(path, leaf.shape)
            fans = compute_fans(leaf.shape, axes["in_axis"], axes["out_axis"], axes["batch_axis"])
            fan_in = float(fans.fan_in)
            lr = rate * base / fan_in
        label = f"lr={lr:.6g}"
        rates[label] = lr
        labels_by_path[path] = label
    labels = jax.tree_util.tree_map_with_path(lambda p, _: labels_by_path[path_string(p)], params)
    transforms: Mapping[str, optax.GradientTransformation] = {
        label: optimizer(lr) for label, lr in rates.items()
    }
    multi: optax.GradientTransformation = require("optax", "mup_learning_rates").multi_transform(
        dict(transforms), labels
    )
    return multi
