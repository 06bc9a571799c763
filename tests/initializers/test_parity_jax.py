"""Bit-identical output with ``jax.nn.initializers`` for every shared name, in real dtypes.

Swapping ``jax.nn.initializers.X`` for ``jinit.X`` must change nothing: same key, shape and dtype
give the same bytes, eager and jitted, for legacy and typed keys. The one deliberate difference
(complex truncated variance scaling) is tested as a difference.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import pytest

import jinit
from tests.conftest import assert_bit_identical

JNI = jax.nn.initializers

SHAPES = [(64, 32), (5, 7, 9)]
REAL = [jnp.float32, jnp.bfloat16, jnp.float16]

FACTORIES: list[tuple[str, tuple[object, ...], dict[str, object]]] = [
    ("uniform", (0.3,), {}),
    ("normal", (0.3,), {}),
    ("truncated_normal", (0.3,), {}),
    ("truncated_normal", (0.3, None, -1.0, 3.0), {}),
    ("constant", (-2.5,), {}),
    *[
        ("variance_scaling", (1.3, mode, dist), {})
        for mode in ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
        for dist in ("truncated_normal", "normal", "uniform")
    ],
    ("variance_scaling", (2.0, "fan_in", "normal"), {"in_axis": 0, "out_axis": (1, 2)}),
    ("variance_scaling", (1.0, "fan_in", "normal"), {"out_axis": 0}),  # Flax's Embed default
    ("variance_scaling", (2.0, "fan_avg", "uniform"), {"batch_axis": 0}),
    *[
        (name, (), {})
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
    ],
    ("he_normal", (), {"in_axis": 1, "out_axis": 0}),
]


def _id(item: tuple[str, tuple[object, ...], dict[str, object]]) -> str:
    name, args, kwargs = item
    return "-".join([name, *map(str, args), *(f"{k}={v}" for k, v in kwargs.items())])


# Every factory in float32, eager and jit; the 16-bit dtypes for one factory per code path
# (plain samplers, every variance-scaling distribution, the presets' truncated normal), eager
# and jit: each new shape/dtype costs XLA compiles of seconds on a 2-core CPU (CI time).
_JIT_16BIT = {
    "uniform-0.3",
    "truncated_normal-0.3",
    "variance_scaling-1.3-fan_avg-truncated_normal",
    "variance_scaling-1.3-fan_avg-normal",
    "variance_scaling-1.3-fan_avg-uniform",
    "he_normal",
}
CASES = [
    pytest.param(
        factory,
        dtype,
        jit,
        id=f"{_id(factory)}-{jnp.dtype(dtype).name}-{'jit' if jit else 'eager'}",
    )
    for factory in FACTORIES
    for dtype in REAL
    for jit in (False, True)
    if dtype == jnp.float32 or _id(factory) in _JIT_16BIT
]


@pytest.mark.parametrize(("factory", "dtype", "jit"), CASES)
def test_bit_identical_to_jax(
    factory: tuple[str, tuple[object, ...], dict[str, object]], dtype: object, jit: bool
) -> None:
    name, args, kwargs = factory
    ours = getattr(jinit, name)(*args, **kwargs)
    theirs = getattr(JNI, name)(*args, **kwargs)
    needs_rank3 = kwargs.get("out_axis") == (1, 2)
    shapes = [s for s in SHAPES if len(s) >= 3 or not needs_rank3]
    # One shape per path (CI time): eager the rank-3 shape, jit the dense one (rank 3 when the
    # axes need it). A rank-4 draw costs ~5 s of XLA compile per program on a 2-core CPU, so
    # conv kernels get their own test below, one factory per distribution.
    if jit:
        ours, theirs = (jax.jit(f, static_argnums=(1, 2)) for f in (ours, theirs))
        shapes = shapes[:1]
    else:
        shapes = [s for s in shapes if len(s) == 3]
    for seed, shape in enumerate(shapes):
        keys = [jax.random.key(seed)]
        if not jit and seed == 0:
            keys.append(jax.random.PRNGKey(seed))  # legacy raw key
        for key in keys:
            assert_bit_identical(ours(key, shape, dtype), theirs(key, shape, dtype))


@pytest.mark.parametrize("distribution", ["truncated_normal", "normal", "uniform"])
def test_conv_kernel_bit_identical(distribution: str) -> None:
    """A 3x3 conv kernel (rank 4), once per distribution."""
    key = jax.random.key(9)
    assert_bit_identical(
        jinit.variance_scaling(2.0, "fan_in", distribution)(key, (3, 3, 8, 16), jnp.float32),
        JNI.variance_scaling(2.0, "fan_in", distribution)(key, (3, 3, 8, 16), jnp.float32),
    )


@pytest.mark.parametrize("name", ["zeros", "ones"])
def test_constant_initializers_bit_identical(name: str) -> None:
    key = jax.random.key(0)
    for dtype in (*REAL, jnp.int32, jnp.complex64):
        assert_bit_identical(
            getattr(jinit, name)(key, (3, 4), dtype), getattr(JNI, name)(key, (3, 4), dtype)
        )


@pytest.mark.parametrize("shape", [(64, 64), (64, 32), (32, 64), (3, 3, 8, 16), (4, 5, 6)], ids=str)
@pytest.mark.parametrize("column_axis", [-1, 0, 1])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.complex64], ids=lambda d: jnp.dtype(d).name)
def test_orthogonal_bit_identical(shape: tuple[int, ...], column_axis: int, dtype: object) -> None:
    key = jax.random.key(5)
    assert_bit_identical(
        jinit.orthogonal(1.5, column_axis)(key, shape, dtype),
        JNI.orthogonal(1.5, column_axis)(key, shape, dtype),
    )


@pytest.mark.parametrize(
    "shape", [(3, 8, 8), (3, 3, 8, 16), (3, 3, 3, 4, 4), (4, 4, 2, 6)], ids=str
)
def test_delta_orthogonal_bit_identical(shape: tuple[int, ...]) -> None:
    key = jax.random.key(6)
    assert_bit_identical(
        jinit.delta_orthogonal(0.7)(key, shape), JNI.delta_orthogonal(0.7)(key, shape)
    )


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_complex_normal_and_uniform_bit_identical(distribution: str) -> None:
    key = jax.random.key(8)
    ours = jinit.variance_scaling(1.0, "fan_avg", distribution)(key, (40, 30), jnp.complex64)
    theirs = JNI.variance_scaling(1.0, "fan_avg", distribution)(key, (40, 30), jnp.complex64)
    assert_bit_identical(ours, theirs)


def test_complex_truncated_differs_only_by_the_corrected_constant() -> None:
    """Same samples as JAX, rescaled by 0.95311164 / 0.96196183 (the variance fix)."""
    key = jax.random.key(8)
    ours = jinit.variance_scaling(1.0, "fan_in", "truncated_normal")(key, (40, 30), jnp.complex64)
    theirs = JNI.variance_scaling(1.0, "fan_in", "truncated_normal")(key, (40, 30), jnp.complex64)
    ratio = jinit._src.initializers.variance_scaling.COMPLEX_TRUNCATED_STD / 0.95311164380491208
    assert jnp.allclose(theirs, ours * ratio, rtol=1e-6)
    assert not jnp.array_equal(ours, theirs)


@pytest.mark.parametrize(
    "name",
    [
        "uniform",
        "normal",
        "truncated_normal",
        "constant",
        "variance_scaling",
        "glorot_normal",
        "glorot_uniform",
        "he_normal",
        "he_uniform",
        "lecun_normal",
        "lecun_uniform",
        "orthogonal",
        "delta_orthogonal",
        "xavier_normal",
        "xavier_uniform",
        "kaiming_normal",
        "kaiming_uniform",
    ],
)
def test_same_signature_as_jax(name: str) -> None:
    ours = inspect.signature(getattr(jinit, name))
    theirs = inspect.signature(getattr(JNI, name))
    shared = list(ours.parameters.values())[: len(theirs.parameters)]
    extra = list(ours.parameters.values())[len(theirs.parameters) :]
    assert [param.name for param in shared] == list(theirs.parameters)
    for param, reference in zip(shared, theirs.parameters.values(), strict=True):
        assert param.kind == reference.kind, param
        assert param.default == reference.default, param
    # jinit-only options (e.g. orthogonal's method) come after JAX's and are keyword-only with
    # defaults, so every call written for JAX means the same thing.
    for param in extra:
        assert param.kind is inspect.Parameter.KEYWORD_ONLY, param
        assert param.default is not inspect.Parameter.empty, param


def test_initializer_signature_matches_jax() -> None:
    ours = inspect.signature(jinit.he_normal())
    theirs = inspect.signature(JNI.he_normal())
    assert (
        list(ours.parameters)
        == list(theirs.parameters)
        == ["key", "shape", "dtype", "out_sharding"]
    )
