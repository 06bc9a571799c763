"""The table every contract test runs over: each public initializer with the shapes it accepts.

A case is (id, factory call, shapes, dtypes, random?). Shapes cover dense, conv, 3-D, stacked
(batch axis 0) and zero-size weights where the initializer accepts them.
"""

from __future__ import annotations

from collections.abc import Callable
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
    """One initializer configuration of the contract table."""

    name: str
    make: Callable[[], jinit.Initializer]
    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[object, ...]
    random: bool = True


ALL_SHAPES = (DENSE, CONV, THREE_D, STACKED, *EMPTY)

CASES: tuple[Case, ...] = (
    Case("zeros", lambda: jinit.zeros, ALL_SHAPES, INEXACT, random=False),
    Case("ones", lambda: jinit.ones, ALL_SHAPES, INEXACT, random=False),
    Case("zeros_init", jinit.zeros_init, ALL_SHAPES, INEXACT, random=False),
    Case("constant", lambda: jinit.constant(-0.5), ALL_SHAPES, INEXACT, random=False),
    Case("uniform", lambda: jinit.uniform(0.1), ALL_SHAPES, REAL),
    Case("normal", lambda: jinit.normal(0.02), ALL_SHAPES, INEXACT),
    Case("truncated_normal", lambda: jinit.truncated_normal(0.02), ALL_SHAPES, REAL),
    Case("random_uniform", lambda: jinit.random_uniform(-0.3, 0.7), ALL_SHAPES, REAL),
    Case("random_normal", lambda: jinit.random_normal(1.0, 0.1), ALL_SHAPES, REAL),
    Case("trunc_normal", lambda: jinit.trunc_normal(0.0, 0.02, -0.04, 0.04), ALL_SHAPES, REAL),
    Case("trunc_normal_exact",
         lambda: jinit.trunc_normal(0.0, 0.02, -0.04, 0.04, exact_std=True), ALL_SHAPES, REAL),
    *(
        Case(f"variance_scaling-{mode}-{dist}",
             lambda mode=mode, dist=dist: jinit.variance_scaling(1.5, mode, dist),
             ALL_SHAPES, INEXACT)
        for mode in ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
        for dist in ("truncated_normal", "normal", "uniform")
    ),
    Case("variance_scaling-stacked",
         lambda: jinit.variance_scaling(2.0, "fan_in", "normal", batch_axis=0), (STACKED,),
         INEXACT),
    *(
        Case(name, getattr(jinit, name), ALL_SHAPES, INEXACT)
        for name in ("glorot_normal", "glorot_uniform", "he_normal", "he_uniform",
                     "lecun_normal", "lecun_uniform", "xavier_normal", "xavier_uniform",
                     "kaiming_normal", "kaiming_uniform")
    ),
    Case("torch_kaiming_normal",
         lambda: jinit.torch_kaiming_normal(0.2, "fan_out", "leaky_relu"), ALL_SHAPES, INEXACT),
    Case("torch_kaiming_uniform", lambda: jinit.torch_kaiming_uniform(5**0.5), ALL_SHAPES,
         INEXACT),
    Case("torch_xavier_normal", lambda: jinit.torch_xavier_normal(5 / 3), ALL_SHAPES, INEXACT),
    Case("torch_xavier_uniform", lambda: jinit.torch_xavier_uniform(2**0.5), ALL_SHAPES,
         INEXACT),
    Case("orthogonal", lambda: jinit.orthogonal(1.3), ALL_SHAPES, INEXACT),
    Case("orthogonal-axis0", lambda: jinit.orthogonal(column_axis=0), ALL_SHAPES, INEXACT),
    Case("delta_orthogonal", jinit.delta_orthogonal, (CONV, (3, 8, 8), (3, 3, 3, 4, 4),
                                                      (3, 3, 0, 16)), INEXACT),
    Case("identity", jinit.identity, (DENSE, (8, 8), (0, 8)), INEXACT, random=False),
    Case("dirac", lambda: jinit.dirac(groups=2), (CONV, (3, 8, 6), (3, 3, 3, 4, 4),
                                                  (3, 3, 0, 16)), INEXACT, random=False),
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
