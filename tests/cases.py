"""The table every contract test runs over: each public initializer with the shapes it accepts.

A case is (id, factory call, shapes, dtypes, random?). Shapes cover dense, conv, 3-D, stacked
(batch axis 0) and zero-size weights where the initializer accepts them.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp

import jinit

DENSE = (64, 32)
CONV = (3, 3, 8, 16)
THREE_D = (4, 8, 6)
STACKED = (5, 16, 8)
EMPTY = ((0, 8), (3, 3, 0, 16))

REAL = (jnp.float32, jnp.bfloat16, jnp.float16)
INEXACT = (*REAL, jnp.complex64)


@dataclass(frozen=True)
class Case:
    """One initializer configuration of the contract table, named as the registry names it.

    ``spec`` is what :func:`jinit.get` takes (a name, ``"name:args"`` or a config dict), so the
    table covers the registry: ``test_every_registry_name_has_a_case`` fails when a name has
    no case.
    """

    name: str
    spec: str | dict[str, object]
    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[object, ...]
    random: bool = True

    def make(self) -> jinit.Initializer:
        """The initializer, from the registry."""
        return jinit.get(self.spec)

    @property
    def registry_name(self) -> str:
        """The registry name the case exercises."""
        if isinstance(self.spec, dict):
            return str(self.spec["name"])
        return self.spec.partition(":")[0]


def _vs(scale: float, mode: str, distribution: str, **kwargs: object) -> dict[str, object]:
    args = {"scale": scale, "mode": mode, "distribution": distribution, **kwargs}
    return {"name": "variance_scaling", "args": args}


ALL_SHAPES = (DENSE, CONV, THREE_D, STACKED, *EMPTY)

CASES: tuple[Case, ...] = (
    Case("zeros", "zeros", ALL_SHAPES, INEXACT, random=False),
    Case("ones", "ones", ALL_SHAPES, INEXACT, random=False),
    Case("zeros_init", "zeros_init", ALL_SHAPES, INEXACT, random=False),
    Case("ones_init", "ones_init", ALL_SHAPES, INEXACT, random=False),
    Case("constant", "constant:-0.5", ALL_SHAPES, INEXACT, random=False),
    Case("uniform", "uniform:0.1", ALL_SHAPES, REAL),
    Case("normal", "normal:0.02", ALL_SHAPES, INEXACT),
    Case("truncated_normal", "truncated_normal:0.02", ALL_SHAPES, REAL),
    Case("random_uniform", "random_uniform:-0.3,0.7", ALL_SHAPES, REAL),
    Case("random_normal", "random_normal:1.0,0.1", ALL_SHAPES, REAL),
    Case("trunc_normal", "trunc_normal:0.0,0.02,-0.04,0.04", ALL_SHAPES, REAL),
    Case(
        "trunc_normal_exact",
        {
            "name": "trunc_normal",
            "args": {"mean": 0.0, "std": 0.02, "a": -0.04, "b": 0.04, "exact_std": True},
        },
        ALL_SHAPES,
        REAL,
    ),
    *(
        Case(f"variance_scaling-{mode}-{dist}", _vs(1.5, mode, dist), ALL_SHAPES, INEXACT)
        for mode in ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
        for dist in ("truncated_normal", "normal", "uniform")
    ),
    Case(
        "variance_scaling-stacked", _vs(2.0, "fan_in", "normal", batch_axis=0), (STACKED,), INEXACT
    ),
    *(
        Case(name, name, ALL_SHAPES, INEXACT)
        for name in (
            "glorot_normal",
            "glorot_uniform",
            "he_normal",
            "he_uniform",
            "lecun_normal",
            "lecun_uniform",
            "xavier_normal",
            "xavier_uniform",
            "kaiming_normal",
            "kaiming_uniform",
        )
    ),
    Case(
        "torch_kaiming_normal", "torch_kaiming_normal:0.2,fan_out,leaky_relu", ALL_SHAPES, INEXACT
    ),
    Case("torch_kaiming_uniform", "torch_kaiming_uniform:2.23606797749979", ALL_SHAPES, INEXACT),
    Case("torch_xavier_normal", f"torch_xavier_normal:{5 / 3!r}", ALL_SHAPES, INEXACT),
    Case("torch_xavier_uniform", f"torch_xavier_uniform:{2**0.5!r}", ALL_SHAPES, INEXACT),
    Case("orthogonal", "orthogonal:1.3", ALL_SHAPES, INEXACT),
    Case(
        "orthogonal-axis0", {"name": "orthogonal", "args": {"column_axis": 0}}, ALL_SHAPES, INEXACT
    ),
    Case(
        "delta_orthogonal",
        "delta_orthogonal",
        (CONV, (3, 8, 8), (3, 3, 3, 4, 4), (3, 3, 0, 16)),
        INEXACT,
    ),
    Case("identity", "identity", (DENSE, (8, 8), (0, 8)), INEXACT, random=False),
    Case(
        "dirac", "dirac:2", (CONV, (3, 8, 6), (3, 3, 3, 4, 4), (3, 3, 0, 16)), INEXACT, random=False
    ),
    Case(
        "zero_hadamard",
        "zero_hadamard",
        (DENSE, (8, 8), (16, 4), (4, 16), CONV, (0, 8)),
        REAL,
        random=False,
    ),
)


def table() -> list[tuple[Case, tuple[int, ...], object]]:
    """The (case, shape, dtype) triples for ``pytest.mark.parametrize``.

    Every shape of every case in float32; every other dtype on the first shape (dense or
    conv) and on a zero-size shape, which exercise the dtype-dependent code paths.
    """
    triples = []
    for case in CASES:
        for dtype in case.dtypes:
            if jnp.dtype(dtype) == jnp.float32:
                shapes = case.shapes
            else:
                shapes = tuple(dict.fromkeys((case.shapes[0], case.shapes[-1])))
            triples.extend((case, shape, dtype) for shape in shapes)
    return triples


def ident(value: object) -> str:
    """Readable pytest ids."""
    if isinstance(value, Case):
        return value.name
    if isinstance(value, tuple):
        return "x".join(map(str, value))
    return jnp.dtype(value).name  # type: ignore[arg-type]
