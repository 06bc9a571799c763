"""A factory used as an initializer (``kernel_init=jinit.he_normal``) gets a clear TypeError.

Flax calls ``kernel_init(key, shape, dtype)``. Without the guard a forgotten ``()`` surfaced as
``in_axis must be an int ... got Array(key<fry>)`` or Python's "takes from 0 to 2 positional
arguments but 3 were given". The guard must not change the factories' signatures (``reinit``
reads them), names or docstrings.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit

# (public name, the name the message may give instead: the canonical function of an alias)
FACTORIES = [
    ("constant", "constant"),
    ("zeros_init", "zeros_init"),
    ("ones_init", "ones_init"),
    ("uniform", "uniform"),
    ("normal", "normal"),
    ("truncated_normal", "truncated_normal"),
    ("random_uniform", "random_uniform"),
    ("random_normal", "random_normal"),
    ("trunc_normal", "trunc_normal"),
    ("variance_scaling", "variance_scaling"),
    ("glorot_normal", "glorot_normal"),
    ("glorot_uniform", "glorot_uniform"),
    ("he_normal", "he_normal"),
    ("he_uniform", "he_uniform"),
    ("lecun_normal", "lecun_normal"),
    ("lecun_uniform", "lecun_uniform"),
    ("xavier_normal", "glorot_normal"),
    ("xavier_uniform", "glorot_uniform"),
    ("kaiming_normal", "he_normal"),
    ("kaiming_uniform", "he_uniform"),
    ("torch_kaiming_normal", "torch_kaiming_normal"),
    ("torch_kaiming_uniform", "torch_kaiming_uniform"),
    ("torch_xavier_normal", "torch_xavier_normal"),
    ("torch_xavier_uniform", "torch_xavier_uniform"),
    ("orthogonal", "orthogonal"),
    ("delta_orthogonal", "delta_orthogonal"),
    ("identity", "identity"),
    ("eye", "identity"),
    ("dirac", "dirac"),
]
NAMES = [name for name, _ in FACTORIES]

#: Arguments that build a working initializer (the rest take all defaults).
ARGUMENTS: dict[str, tuple[object, ...]] = {
    "constant": (0.5,),
    "variance_scaling": (1.0, "fan_in", "normal"),
}
#: A shape each initializer accepts.
SHAPES = {"delta_orthogonal": (3, 3, 4, 4), "dirac": (3, 3, 4, 4)}


def _pattern(name: str, canonical: str) -> str:
    names = name if name == canonical else f"(?:{name}|{canonical})"
    return (
        rf"^jinit\.{names}: .*PRNG key.*used as an initializer.*"
        rf"jinit\.{names}\(\)"
    )


def _factory(name: str) -> Callable[..., jinit.Initializer]:
    factory: Callable[..., jinit.Initializer] = getattr(jinit, name)
    return factory


@pytest.mark.parametrize(("name", "canonical"), FACTORIES, ids=NAMES)
def test_factory_called_with_a_key_says_add_parentheses(name: str, canonical: str) -> None:
    with pytest.raises(TypeError, match=_pattern(name, canonical)):
        _factory(name)(jax.random.key(0), (4, 4), jnp.float32)


@pytest.mark.parametrize(("name", "canonical"), FACTORIES, ids=NAMES)
def test_factory_called_with_a_legacy_key_says_add_parentheses(name: str, canonical: str) -> None:
    with pytest.raises(TypeError, match=_pattern(name, canonical)):
        _factory(name)(jax.random.PRNGKey(0), (4, 4), jnp.float32)


def test_flax_dense_with_a_factory_instead_of_an_initializer() -> None:
    layer = nn.Dense(4, kernel_init=jinit.he_normal)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^jinit\.he_normal: .*kernel_init=jinit\.he_normal\(\)"):
        layer.init(jax.random.key(0), jnp.ones((1, 3)))


def test_flax_dense_with_a_legacy_key_and_a_factory() -> None:
    layer = nn.Dense(4, kernel_init=jinit.normal)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^jinit\.normal: .*jinit\.normal\(\)"):
        layer.init(jax.random.PRNGKey(0), jnp.ones((1, 3)))


def test_factory_called_with_a_key_under_jit() -> None:
    def build(key: jax.Array) -> jax.Array:
        return jinit.glorot_uniform(key, (4, 4), jnp.float32)  # type: ignore[arg-type]

    with pytest.raises(TypeError, match=r"^jinit\.glorot_uniform: .*jinit\.glorot_uniform\(\)"):
        jax.jit(build)(jax.random.key(0))


@pytest.mark.parametrize("name", NAMES)
def test_factories_still_build_working_initializers(name: str) -> None:
    init = _factory(name)(*ARGUMENTS.get(name, ()))
    shape = SHAPES.get(name, (4, 4))
    w = init(jax.random.key(0), shape, jnp.float32)
    assert w.shape == shape and w.dtype == jnp.float32


@pytest.mark.parametrize("name", NAMES)
def test_guard_keeps_signature_name_and_docstring(name: str) -> None:
    factory = _factory(name)
    original = factory.__wrapped__  # type: ignore[attr-defined]
    assert inspect.signature(factory) == inspect.signature(original)
    assert factory.__name__ == original.__name__
    assert factory.__doc__ == original.__doc__ and factory.__doc__
    assert factory.__module__ == original.__module__


def test_signature_sniffing_still_sees_the_factory_parameters() -> None:
    """``jinit.reinit`` tells an uncalled factory from an initializer by these parameters."""
    for factory in (jinit.he_normal, jinit.torch_kaiming_uniform, jinit.variance_scaling):
        parameters = inspect.signature(factory).parameters
        assert "in_axis" in parameters and "key" not in parameters
        assert "args" not in parameters and "kwargs" not in parameters


def test_uint32_pair_is_still_a_constant_value() -> None:
    """A raw key is only recognised when a shape follows it, as in ``init(key, shape, dtype)``."""
    pair = jnp.array([1, 2], jnp.uint32)
    assert jinit.constant(pair)(jax.random.key(0), (3, 2), jnp.uint32).tolist() == [[1, 2]] * 3
    assert jinit.constant(pair, jnp.uint32)(jax.random.key(0), (2,)).dtype == jnp.uint32
    assert jinit.constant(np.array([1, 2], np.uint32))(jax.random.key(0), (2,)).shape == (2,)
