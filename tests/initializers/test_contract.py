"""The calling contract, for every initializer x shape x dtype, eager and jitted.

`init(key, shape, dtype=None, out_sharding=None)`: right shape and dtype, finite, deterministic
for a key, different for another key (random ones), the same under jit, and under vmap over
keys bit-identical to a Python loop. Typed keys of every implementation and legacy keys work.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit
from tests.cases import CASES, DENSE, Case, ident, table
from tests.conftest import assert_bit_identical

TABLE = table()


def _wide(array: jax.Array) -> np.ndarray:
    return np.asarray(array, dtype=np.complex128 if jnp.iscomplexobj(array) else np.float64)


@pytest.mark.parametrize(("case", "shape", "dtype"), TABLE, ids=ident)
def test_shape_dtype_finite_deterministic_eager_and_jit(
    case: Case, shape: tuple[int, ...], dtype: object, key: jax.Array
) -> None:
    init = case.make()
    first = init(key, shape, dtype)
    assert first.shape == shape
    assert first.dtype == jnp.dtype(dtype)
    assert np.all(np.isfinite(_wide(first)))
    assert_bit_identical(first, init(key, shape, dtype))
    if case.random and first.size > 8:
        other = init(jax.random.key(1), shape, dtype)
        assert not np.array_equal(_wide(first), _wide(other))
    jitted = jax.jit(init, static_argnums=(1, 2))(key, shape, dtype)
    assert jitted.shape == shape and jitted.dtype == jnp.dtype(dtype)
    # XLA may fuse differently under jit; values agree to a few ulps of the dtype.
    eps = float(jnp.finfo(dtype).eps)
    np.testing.assert_allclose(_wide(jitted), _wide(first), rtol=4 * eps, atol=4 * eps)


@pytest.mark.parametrize("case", [c for c in CASES if c.random], ids=ident)
def test_vmap_over_keys_equals_loop(case: Case) -> None:
    init = case.make()
    shape = case.shapes[0]
    keys = jax.random.split(jax.random.key(3), 4)
    batched = jax.vmap(lambda k: init(k, shape, jnp.float32))(keys)
    looped = jnp.stack([init(k, shape, jnp.float32) for k in keys])
    assert_bit_identical(batched, looped)


@pytest.mark.parametrize("case", [c for c in CASES if c.random], ids=ident)
@pytest.mark.parametrize("impl", ["threefry2x32", "rbg", "unsafe_rbg"])
def test_typed_keys_of_every_impl(case: Case, impl: str) -> None:
    init = case.make()
    shape = case.shapes[0]
    typed = jax.random.key(7, impl=impl)
    out = init(typed, shape, jnp.float32)
    assert out.shape == shape and bool(jnp.all(jnp.isfinite(out)))
    # The raw key data of the same impl gives the same values as the typed key.
    raw = jax.random.key_data(typed)
    with jax.default_prng_impl(impl):
        assert_bit_identical(out, init(raw, shape, jnp.float32))


@pytest.mark.parametrize("case", [c for c in CASES if c.random], ids=ident)
def test_legacy_prngkey_equals_typed_threefry(case: Case) -> None:
    init = case.make()
    shape = case.shapes[0]
    assert_bit_identical(init(jax.random.PRNGKey(11), shape), init(jax.random.key(11), shape))


@pytest.mark.parametrize("case", CASES, ids=ident)
def test_default_dtype_and_factory_dtype(case: Case, key: jax.Array) -> None:
    shape = case.shapes[0]
    assert case.make()(key, shape).dtype == jnp.float32  # JAX's default float (x64 off)


@pytest.mark.parametrize(
    "factory",
    [jinit.normal, jinit.uniform, jinit.truncated_normal, jinit.orthogonal],
)
def test_factory_dtype_is_the_default(factory: object, key: jax.Array) -> None:
    init = factory(dtype=jnp.bfloat16)  # type: ignore[operator]
    assert init(key, DENSE).dtype == jnp.bfloat16
    assert init(key, DENSE, jnp.float16).dtype == jnp.float16  # the call's dtype wins


@pytest.mark.parametrize(
    "factory",
    [
        lambda: jinit.glorot_normal(dtype=jnp.bfloat16),
        lambda: jinit.random_normal(dtype=jnp.float16),
        lambda: jinit.trunc_normal(dtype=jnp.bfloat16),
        lambda: jinit.identity(dtype=jnp.float16),
    ],
)
def test_keyword_factory_dtype(factory: object, key: jax.Array) -> None:
    init = factory()  # type: ignore[operator]
    assert init(key, DENSE).dtype in (jnp.bfloat16, jnp.float16)


@pytest.mark.parametrize("case", CASES, ids=ident)
def test_satisfies_jax_initializer_protocol(case: Case) -> None:
    init = case.make()
    assert isinstance(init, jax.nn.initializers.Initializer)
    assert isinstance(init, jinit.Initializer)


def test_constant_allows_integer_dtypes(key: jax.Array) -> None:
    assert jinit.constant(3)(key, (2,), jnp.int32).tolist() == [3, 3]
    assert jinit.zeros(key, (2,), jnp.int8).dtype == jnp.int8


@pytest.mark.parametrize("shape", [[4, 5], np.array([4, 5]), (np.int64(4), 5)], ids=str)
def test_shape_may_be_any_int_sequence(shape: object, key: jax.Array) -> None:
    assert jinit.he_normal()(key, shape).shape == (4, 5)  # type: ignore[arg-type]


def test_out_sharding_on_a_single_device_mesh(key: jax.Array) -> None:
    mesh = jax.make_mesh((1,), ("x",), axis_types=(jax.sharding.AxisType.Explicit,))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("x", None))
    for case in CASES:
        out = case.make()(key, case.shapes[0], jnp.float32, sharding)
        assert out.sharding.is_equivalent_to(sharding, out.ndim), case.name
        assert_bit_identical(out, case.make()(key, case.shapes[0], jnp.float32))
