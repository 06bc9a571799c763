"""Shared fixtures and helpers for the jinit test suite.

Statistical tests use fixed keys; their tolerances are derived from the sample size in the
test itself (see ``tests/stats_util.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

# JAX's persistent compilation cache, shared by the pytest workers and the processes they start
# (notebook kernels, CLI subprocesses): identical XLA programs -- the same model compiled by a
# test and by a notebook, or by both workers -- compile once per run instead of once per
# process. Set through the environment, before JAX is imported, so the children inherit it.
# An existing JAX_COMPILATION_CACHE_DIR is respected.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _CACHE = Path(__file__).resolve().parent.parent / ".pytest_cache" / "jax-compilation"
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(_CACHE)
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import hypothesis
import jax
import jax.numpy as jnp
import numpy as np
import pytest

# CI: 30 fixed (derandomized) examples per property. Each example is a new shape, so it pays for
# compiling every primitive eagerly: at 60 examples the property file was the largest cost of
# the suite (195 of 618 s of test time with a warm compilation cache, more when cold).
hypothesis.settings.register_profile(
    "ci", max_examples=30, deadline=None, derandomize=True, print_blob=True
)
hypothesis.settings.register_profile("dev", max_examples=25, deadline=None)
hypothesis.settings.load_profile("ci" if os.environ.get("CI") else "dev")

#: Real float dtypes every random initializer must support.
REAL_DTYPES = (jnp.float32, jnp.bfloat16, jnp.float16)
#: Real dtypes plus complex64, for initializers that support complex numbers.
INEXACT_DTYPES = (*REAL_DTYPES, jnp.complex64)


def bits(array: jax.Array) -> np.ndarray:
    """The raw bytes of ``array``, so equality means bit-identical (NaN-safe, -0 != +0)."""
    return np.ascontiguousarray(np.asarray(array)).view(np.uint8)


def assert_bit_identical(a: jax.Array, b: jax.Array) -> None:
    """Assert equal shape, dtype and bytes."""
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    np.testing.assert_array_equal(bits(a), bits(b))


@pytest.fixture
def key() -> jax.Array:
    """A fixed typed key."""
    return jax.random.key(20261122)


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace: dict[str, object]) -> None:
    doctest_namespace["jax"] = jax
    doctest_namespace["jnp"] = jnp
