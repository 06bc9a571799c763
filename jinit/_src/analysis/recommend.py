r"""Recommend an initializer for an activation function, with the reason and the paper.

Every recommendation is a :func:`jinit.variance_scaling` initializer, weight variance
:math:`\text{scale}/n(\text{mode})`:

======================================  =========================  ==========  ===========
activation                              family                     scale       mode
======================================  =========================  ==========  ===========
relu, relu6                             He                         2           fan_in
leaky_relu (slope :math:`a`)            He                         2/(1+a²)    fan_in
tanh, sigmoid, linear                   Glorot                     1           fan_avg
selu                                    LeCun                      1           fan_in
anything else (gelu, silu, elu, ...)    computed gain              gain(f)²    fan_in
======================================  =========================  ==========  ===========

The last row uses the gain :math:`g(f) = 1/\sqrt{E[f(z)^2]}`, :math:`z\sim\mathcal N(0,1)`,
computed by :func:`jinit.gain`: it is the He derivation applied to :math:`f` itself, and
reproduces He's 2 for ReLU and :math:`2/(1+a^2)` for leaky ReLU exactly, so the named
families are the special cases their papers derived.

The gain makes :math:`q = 1` a fixed point of the variance map
:math:`q \mapsto g^2 E[f(\sqrt q\, z)^2]`; the reason also says whether it is a stable one.
For GELU (slope 1.14), SiLU (1.17), Mish (1.08) and hard swish (1.22) it is unstable: the
second moment is right on average, but finite-width fluctuations grow with depth (measured
over 20 layers of width 256: GELU ends at 0.6-4x, SiLU at 5-28x its first layer's), so deep
plain stacks of them need normalization or residual connections; no scale fixes that. For
tanh, Glorot's 1/fan_in is the critical point, where the variance decays like
1/(2 depth) while gradients are preserved.

Data-dependent initialization is :func:`jinit.lsuv`. Weights set from statistics of the input
data (such as the data mean) are deliberately not offered: they make every unit compute the
same feature.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias, get_args

import jax

from jinit._src.analysis.mean_field.run import Phase, mean_field
from jinit._src.core.checks import check_choice, check_real
from jinit._src.core.errors import JinitValueError, named
from jinit._src.core.gain import ACTIVATIONS, gain, second_moment
from jinit._src.core.types import Initializer, Mode
from jinit._src.initializers.variance_scaling import variance_scaling

__all__ = ["Recommendation", "recommend"]

Activation = Callable[[jax.Array], jax.Array]

_HE = "He, Zhang, Ren & Sun (2015), https://arxiv.org/abs/1502.01852"
_GLOROT = "Glorot & Bengio (2010), https://proceedings.mlr.press/v9/glorot10a.html"
_LECUN = (
    "Klambauer, Unterthiner, Mayr & Hochreiter (2017), https://arxiv.org/abs/1706.02515; "
    "LeCun, Bottou, Orr & Müller (1998), Efficient BackProp"
)
_POOLE = "Poole et al. (2016), https://arxiv.org/abs/1606.05340"
_SCHOENHOLZ = "Schoenholz et al. (2017), https://arxiv.org/abs/1611.01232"
#: Slopes within this distance of 1 count as neutral (ReLU's is exactly 1).
_NEUTRAL = 0.02
#: The distributions :func:`recommend` draws from.
RecommendedDistribution: TypeAlias = Literal["normal", "truncated_normal", "uniform"]
_DISTRIBUTIONS: tuple[RecommendedDistribution, ...] = get_args(RecommendedDistribution)
#: The preset each (scale, mode, distribution) equals, for the recommendation's ``name``.
_PRESETS = {
    (2.0, "fan_in", "truncated_normal"): "jinit.he_normal()",
    (2.0, "fan_in", "uniform"): "jinit.he_uniform()",
    (1.0, "fan_avg", "truncated_normal"): "jinit.glorot_normal()",
    (1.0, "fan_avg", "uniform"): "jinit.glorot_uniform()",
    (1.0, "fan_in", "truncated_normal"): "jinit.lecun_normal()",
    (1.0, "fan_in", "uniform"): "jinit.lecun_uniform()",
}


@dataclass(frozen=True)
class Recommendation:
    r"""An initializer for an activation, and why.

    Attributes:
      initializer: the initializer (Flax's ``(in, out)``/``(..., in, out)`` kernel layout).
      name: the jinit call that builds the same initializer, e.g. ``"jinit.he_normal()"``,
        ``"jinit.variance_scaling(2.0, 'fan_in', 'normal')"`` or
        ``"jinit.variance_scaling(jinit.gain('gelu') ** 2, 'fan_in', 'normal')"``.
      reason: the family, the argument and the paper.
      scale: the ``variance_scaling`` scale (:math:`g^2`).
      mode: the ``variance_scaling`` mode.
      distribution: the ``variance_scaling`` distribution.
      phase: the mean-field phase of a deep network of this activation with weight variance
        ``scale``/fan_in and no bias (:func:`jinit.mean_field`): ``"ordered"``,
        ``"critical"`` or ``"chaotic"``; ``None`` when the pre-activation variance has no
        stable finite fixed point from unit-variance inputs (then it drifts with depth).
      trainable_depth: :math:`6 \xi_c` of that point (``inf`` at the critical point), or
        ``None`` with ``phase``.
    """

    initializer: Initializer
    name: str
    reason: str
    scale: float
    mode: Mode
    distribution: str
    phase: Phase | None = None
    trainable_depth: float | None = None

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


def _fixed_point_slope(fn: Activation, g: float, step: float = 1e-3) -> float:
    r"""Slope at :math:`q = 1` of the variance map :math:`q \mapsto g^2 E[f(\sqrt q z)^2]`."""
    up = second_moment(lambda x: fn(math.sqrt(1.0 + step) * x))
    down = second_moment(lambda x: fn(math.sqrt(1.0 - step) * x))
    return g * g * (up - down) / (2.0 * step)


def _family(
    key: str | None, fn: Activation, negative_slope: float | None
) -> tuple[float, str, Mode, str]:
    """``(scale, its expression, mode, reason)`` for activation ``key`` (None: a callable)."""
    if key in ("relu", "relu6"):
        extra = (
            " relu6 equals relu below 6, where all but 1e-9 of a unit normal lies."
            if key == "relu6"
            else ""
        )
        return (
            2.0,
            "2.0",
            "fan_in",
            "He (Kaiming) initialization: ReLU zeroes half of a symmetric input, halving its "
            "second moment; weight variance 2/fan_in restores it, so the signal keeps its scale "
            f"through any depth.{extra} See {_HE}.",
        )
    if key == "leaky_relu":
        slope = 0.01 if negative_slope is None else negative_slope
        return (
            2.0 / (1.0 + slope**2),
            f"2 / (1 + {slope!r} ** 2)",
            "fan_in",
            f"He initialization for leaky ReLU with negative slope {slope:g}: the second moment "
            "is multiplied by (1 + a²)/2, so the weight variance is 2/((1 + a²) fan_in) "
            f"(PyTorch's gain sqrt(2/(1 + a²))). See {_HE}.",
        )
    if key in ("tanh", "sigmoid", "linear"):
        notes = {
            "tanh": " With variance 1/fan_in tanh sits at its critical point: gradients neither "
            "explode nor vanish, and the pre-activation variance decays only polynomially "
            f"(about 1/(2 depth)), not exponentially ({_SCHOENHOLZ}).",
            "sigmoid": " Sigmoid's mean of 1/2 is outside the derivation; Glorot & Bengio found "
            "deep sigmoid nets saturate, so prefer tanh.",
            "linear": "",
        }
        return (
            1.0,
            "1.0",
            "fan_avg",
            "Glorot (Xavier) initialization, derived for linear units and for symmetric "
            "activations in their linear regime around 0: weight variance "
            "2/(fan_in + fan_out) balances the variances of the forward signal and of the "
            f"backward gradient.{notes[key]} See {_GLOROT}.",
        )
    if key == "selu":
        return (
            1.0,
            "1.0",
            "fan_in",
            "LeCun normal initialization: SELU's constants make mean 0, variance 1 a fixed point "
            "of the layer map exactly when the weights have variance 1/fan_in (self-normalizing "
            f"networks). See {_LECUN}.",
        )
    g = gain(fn)
    slope = _fixed_point_slope(fn, g)
    if slope > 1.0 + _NEUTRAL:
        stability = (
            " Caveat: q = 1 is an unstable fixed point of the variance map "
            f"q -> g² E[f(sqrt(q) z)^2] (slope {slope:.3f} > 1), so finite-width fluctuations "
            "grow with depth; deep nets with it need normalization or residual connections "
            f"({_POOLE})."
        )
    elif slope < 1.0 - _NEUTRAL:
        stability = (
            " q = 1 is a stable fixed point of the variance map q -> g² E[f(sqrt(q) z)^2] "
            f"(slope {slope:.3f} < 1): deviations shrink with depth ({_POOLE})."
        )
    else:
        stability = ""
    name = str(getattr(fn, "__name__", ""))
    label = repr(key) if key is not None else (name if name.isidentifier() else "fn")
    return (
        g * g,
        f"jinit.gain({label}) ** 2",
        "fan_in",
        f"variance scaling with the computed gain of {label}: g = 1/sqrt(E[f(z)^2]) = {g:.5f} "
        "for z ~ N(0, 1) (jinit.gain); weight variance g²/fan_in keeps the pre-activation "
        f"second moment at 1 from layer to layer, the He derivation applied to f.{stability} "
        f"See {_HE}.",
    )


@named
def recommend(
    activation: str | Activation,
    *,
    distribution: RecommendedDistribution = "normal",
    negative_slope: float | None = None,
) -> Recommendation:
    r"""Recommend an initializer for ``activation``, with the reason and the paper.

    See the module docstring for the table: He for the ReLU family, Glorot for tanh, sigmoid
    and linear, LeCun for SELU, and for everything else (GELU, SiLU/swish, Mish, softplus,
    ELU, any callable) :math:`\operatorname{Var}(w) = g(f)^2/\mathrm{fan\_in}` with the gain
    :math:`g(f) = 1/\sqrt{E[f(z)^2]}` of :func:`jinit.gain`. A callable that *is* one of the
    named ``jax.nn`` functions (``jax.nn.relu``, ``jnp.tanh``, ``jax.nn.selu``...) gets its
    name's family.

    Args:
      activation: a name in :data:`jinit.ACTIVATIONS` or an elementwise callable.
      distribution: ``"normal"``, ``"truncated_normal"`` (then He/Glorot/LeCun equal
        ``jinit.he_normal()`` etc. exactly) or ``"uniform"``.
      negative_slope: the slope of ``"leaky_relu"`` for x < 0 (default 0.01, as
        ``jax.nn.leaky_relu`` and PyTorch); only for ``"leaky_relu"``. For another slope
        given as a callable, ``functools.partial(jax.nn.leaky_relu, negative_slope=a)``
        gives the same scale through the computed gain.

    Returns:
      A :class:`Recommendation` (``initializer``, ``name``, ``reason``, and the
      ``scale``/``mode``/``distribution`` to rebuild it with other axes).

    Raises:
      ValueError: an unknown name (the message lists the valid ones), an unknown
        ``distribution``, ``negative_slope`` for another activation or not finite, or an
        activation whose second moment is 0 or not finite.
      TypeError: ``activation`` neither a string nor callable, ``negative_slope`` not a real.

    Example:
      >>> rec = recommend("relu", distribution="truncated_normal")
      >>> rec.name
      'jinit.he_normal()'
      >>> recommend("gelu").name
      "jinit.variance_scaling(jinit.gain('gelu') ** 2, 'fan_in', 'normal')"
      >>> rec.initializer(jax.random.key(0), (256, 128)).shape
      (256, 128)

    References:
      He et al. (2015), https://arxiv.org/abs/1502.01852; Glorot & Bengio (2010),
      https://proceedings.mlr.press/v9/glorot10a.html; Klambauer et al. (2017),
      https://arxiv.org/abs/1706.02515.
    """
    distribution = check_choice("distribution", distribution, _DISTRIBUTIONS)
    if isinstance(activation, str):
        key: str | None = check_choice("activation", activation, ACTIVATIONS)
        fn = ACTIVATIONS[activation]
    elif callable(activation):
        fn = activation
        key = next((name for name, known in ACTIVATIONS.items() if known is activation), None)
    else:
        raise TypeError(
            "jinit.recommend: activation must be a name in jinit.ACTIVATIONS or a callable, got "
            f"{activation!r}"
        )
    if negative_slope is not None:
        if key != "leaky_relu":
            raise ValueError(
                "jinit.recommend: negative_slope applies only to 'leaky_relu', got it with "
                f"{activation!r}"
            )
        negative_slope = check_real("negative_slope", negative_slope)
    scale, expression, mode, reason = _family(key, fn, negative_slope)
    name = _PRESETS.get(
        (scale, mode, distribution),
        f"jinit.variance_scaling({expression}, {mode!r}, {distribution!r})",
    )
    phase, depth, propagation = _propagation(fn, scale)
    return Recommendation(
        initializer=variance_scaling(scale, mode, distribution),
        name=name,
        reason=f"{reason} {propagation}",
        scale=scale,
        mode=mode,
        distribution=distribution,
        phase=phase,
        trainable_depth=depth,
    )


def _propagation(fn: Activation, scale: float) -> tuple[Phase | None, float | None, str]:
    """The mean-field phase and trainable depth at weight variance ``scale``, bias 0."""
    try:
        point = mean_field(fn, scale, 0.0)
    except JinitValueError:
        return (
            None,
            None,
            f"Mean field (sigma_w² = {scale:.4g}, sigma_b² = 0): from unit-variance inputs the "
            "pre-activation variance reaches no stable fixed point, so it drifts with depth "
            f"({_SCHOENHOLZ}).",
        )
    depth = point.trainable_depth
    # at the critical point xi_c diverges (|chi_1 - 1| <= 1e-4 leaves it >= 1e4 in float32)
    critical = point.phase == "critical" or math.isinf(depth)
    shown = "any depth" if critical else f"about {depth:.3g} layers"
    return (
        point.phase,
        depth,
        f"Mean field (sigma_w² = {scale:.4g}, sigma_b² = 0): {point.phase} phase, chi_1 = "
        f"{float(point.chi_1):.4g}, trainable to {shown} (6 xi_c, {_SCHOENHOLZ}).",
    )
