"""The catalogue: every public initializer with its formula, its family and its reference."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from jinit._src.initializers import (
    constant,
    forms,
    identity,
    named,
    orthogonal,
    random,
    variance_scaling,
    zero,
)

__all__ = ["CATALOGUE", "Entry", "catalogue", "markdown_table"]

_GLOROT = "Glorot & Bengio 2010, proceedings.mlr.press/v9/glorot10a"
_HE = "He et al. 2015, arXiv:1502.01852"
_LECUN = "LeCun et al. 1998 (Efficient BackProp); Klambauer et al. 2017, arXiv:1706.02515"
_SAXE = "Saxe et al. 2014, arXiv:1312.6120; Mezzadri 2007, arXiv:math-ph/0609050"


@dataclass(frozen=True)
class Entry:
    """One row of the catalogue.

    Attributes:
      name: the public name in ``jinit``.
      factory: the public object (a factory, or an initializer for ``zeros``/``ones``).
      family: constant, random, variance scaling, structured.
      distribution: what is sampled.
      formula: variance, bound or value, with ``n`` the fan the mode selects.
      reference: the paper or the API it reproduces.
      aliases: other public names for the same object.
      jax_parity: whether the output is bit-identical to ``jax.nn.initializers``.
      shapes: the weights it initializes: ``"any"`` rank (dense, conv, stacked), ``"matrix"``
        (2-D only) or ``"conv"`` (kernels with a window).
    """

    name: str
    factory: Callable[..., object]
    family: str
    distribution: str
    formula: str
    reference: str
    aliases: tuple[str, ...] = ()
    jax_parity: bool = False
    shapes: Literal["any", "matrix", "conv"] = "any"


CATALOGUE: tuple[Entry, ...] = (
    Entry(
        "zeros",
        constant.zeros,
        "constant",
        "0",
        "W = 0",
        "jax.nn.initializers.zeros",
        ("zeros_init()",),
        True,
    ),
    Entry(
        "ones",
        constant.ones,
        "constant",
        "1",
        "W = 1",
        "jax.nn.initializers.ones",
        ("ones_init()",),
        True,
    ),
    Entry(
        "constant",
        constant.constant,
        "constant",
        "value",
        "W = value",
        "jax.nn.initializers.constant",
        (),
        True,
    ),
    Entry(
        "uniform",
        random.uniform,
        "random",
        "U[0, scale)",
        "mean scale/2, Var = scale²/12",
        "jax.nn.initializers.uniform",
        (),
        True,
    ),
    Entry(
        "normal",
        random.normal,
        "random",
        "N(0, stddev²)",
        "Var = stddev²",
        "jax.nn.initializers.normal",
        (),
        True,
    ),
    Entry(
        "truncated_normal",
        random.truncated_normal,
        "random",
        "N(0, stddev²) on (lower·stddev, upper·stddev)",
        "Var = 0.7737·stddev² at ±2σ",
        "jax.nn.initializers.truncated_normal",
        (),
        True,
    ),
    Entry(
        "random_uniform",
        forms.random_uniform,
        "random",
        "U[minval, maxval)",
        "Var = (maxval − minval)²/12",
        "Keras RandomUniform, torch uniform_",
    ),
    Entry(
        "random_normal",
        forms.random_normal,
        "random",
        "N(mean, stddev²)",
        "Var = stddev²",
        "Keras RandomNormal, torch normal_",
    ),
    Entry(
        "trunc_normal",
        forms.trunc_normal,
        "random",
        "N(mean, σ²) on [a, b]",
        "σ = std, or solved so Var = std² (exact_std)",
        "torch trunc_normal_",
    ),
    Entry(
        "variance_scaling",
        variance_scaling.variance_scaling,
        "variance scaling",
        "trunc. normal / normal / uniform",
        "Var = scale / n(mode)",
        "jax.nn.initializers.variance_scaling",
        (),
        True,
    ),
    Entry(
        "glorot_normal",
        named.glorot_normal,
        "variance scaling",
        "truncated normal",
        "Var = 2/(fan_in + fan_out)",
        _GLOROT,
        ("xavier_normal",),
        True,
    ),
    Entry(
        "glorot_uniform",
        named.glorot_uniform,
        "variance scaling",
        "uniform",
        "bound √(6/(fan_in + fan_out)), Var = 2/(fan_in + fan_out)",
        _GLOROT,
        ("xavier_uniform",),
        True,
    ),
    Entry(
        "he_normal",
        named.he_normal,
        "variance scaling",
        "truncated normal",
        "Var = 2/fan_in",
        _HE,
        ("kaiming_normal",),
        True,
    ),
    Entry(
        "he_uniform",
        named.he_uniform,
        "variance scaling",
        "uniform",
        "bound √(6/fan_in), Var = 2/fan_in",
        _HE,
        ("kaiming_uniform",),
        True,
    ),
    Entry(
        "lecun_normal",
        named.lecun_normal,
        "variance scaling",
        "truncated normal",
        "Var = 1/fan_in",
        _LECUN,
        (),
        True,
    ),
    Entry(
        "lecun_uniform",
        named.lecun_uniform,
        "variance scaling",
        "uniform",
        "bound √(3/fan_in), Var = 1/fan_in",
        _LECUN,
        (),
        True,
    ),
    Entry(
        "torch_kaiming_normal",
        named.torch_kaiming_normal,
        "variance scaling",
        "normal",
        "Var = gain(nonlinearity, a)²/fan(mode)",
        f"{_HE}; torch kaiming_normal_",
    ),
    Entry(
        "torch_kaiming_uniform",
        named.torch_kaiming_uniform,
        "variance scaling",
        "uniform",
        "bound gain·√(3/fan(mode))",
        f"{_HE}; torch kaiming_uniform_",
    ),
    Entry(
        "torch_xavier_normal",
        named.torch_xavier_normal,
        "variance scaling",
        "normal",
        "Var = gain²·2/(fan_in + fan_out)",
        f"{_GLOROT}; torch xavier_normal_",
    ),
    Entry(
        "torch_xavier_uniform",
        named.torch_xavier_uniform,
        "variance scaling",
        "uniform",
        "bound gain·√(6/(fan_in + fan_out))",
        f"{_GLOROT}; torch xavier_uniform_",
    ),
    Entry(
        "orthogonal",
        orthogonal.orthogonal,
        "structured",
        "Haar (semi-)orthogonal",
        "QᵀQ = scale²·I (or QQᵀ)",
        _SAXE,
        (),
        True,
    ),
    Entry(
        "delta_orthogonal",
        orthogonal.delta_orthogonal,
        "structured",
        "orthogonal at the window centre",
        "centre QᵀQ = scale²·I, else 0",
        "Xiao et al. 2018, arXiv:1806.05393",
        (),
        True,
        "conv",
    ),
    Entry(
        "identity",
        identity.identity,
        "structured",
        "scale·I",
        "W_ij = scale·δ_ij",
        "Le et al. 2015, arXiv:1504.00941; torch eye_",
        ("eye",),
        False,
        "matrix",
    ),
    Entry(
        "dirac",
        identity.dirac,
        "structured",
        "Dirac delta per group",
        "W[centre, d, g·out/groups + d] = scale",
        "Zagoruyko & Komodakis 2017, arXiv:1706.00388; torch dirac_",
        (),
        False,
        "conv",
    ),
    Entry(
        "zero_hadamard",
        zero.zero_hadamard,
        "structured",
        "ZerO: I, partial I, or c·Hadamard",
        "in ≥ out: W_ij = δ_ij; in < out: c·(−1)^popcount(i∧j), c = 2^(−(m−1)/2), m = ⌈log₂ out⌉",
        "Zhao et al. 2022, arXiv:2110.12661",
        (),
        False,
        "matrix",
    ),
)


def catalogue() -> tuple[Entry, ...]:
    """Return every public initializer with its formula and reference.

    Example:
      >>> import jinit
      >>> entry = {e.name: e for e in jinit.catalogue()}["he_normal"]
      >>> entry.formula, entry.aliases
      ('Var = 2/fan_in', ('kaiming_normal',))
    """
    return CATALOGUE


def markdown_table() -> str:
    """The catalogue as a Markdown table (the table on docs/catalogue.md is this output)."""
    rows = [
        "| initializer | distribution | variance / bound | reference | bit-identical to jax |",
        "|---|---|---|---|---|",
    ]
    for entry in CATALOGUE:
        names = ", ".join(f"`{name}`" for name in (entry.name, *entry.aliases))
        parity = "yes" if entry.jax_parity else "—"
        rows.append(
            f"| {names} | {entry.distribution} | {entry.formula} | {entry.reference} | {parity} |"
        )
    return "\n".join(rows)
