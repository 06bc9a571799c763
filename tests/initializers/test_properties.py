"""Property tests (hypothesis): valid finite input never gives NaN or Inf, in any dtype.

Over random shapes (rank 2-4, sizes 0-9), scales spanning 12 orders of magnitude, modes,
distributions and dtypes (float32, bfloat16, float16, complex64): an initializer either returns
a finite array of the right shape and dtype, or raises a ValueError that says the requested
scale over- or underflows the dtype (or that no value of the dtype lies in a requested
interval). Never a NaN, an Inf or another exception; bounded initializers stay in bounds.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import jinit

KEY = jax.random.key(123)
DTYPES = st.sampled_from([jnp.float32, jnp.bfloat16, jnp.float16, jnp.complex64])
REAL_DTYPES = st.sampled_from([jnp.float32, jnp.bfloat16, jnp.float16])
SHAPES = st.lists(st.integers(0, 9), min_size=2, max_size=4).map(tuple)
SCALES = st.floats(1e-6, 1e6, allow_nan=False, allow_infinity=False)


RANGE_ERRORS = ("overflows", "underflows", "value lies in")


def _finite_or_range_error(init: jinit.Initializer, shape: tuple[int, ...],
                           dtype: object) -> np.ndarray | None:
    """The result widened to float64/complex128, or None after an accepted range error."""
    try:
        out = init(KEY, shape, dtype)
    except ValueError as error:
        assert any(reason in str(error) for reason in RANGE_ERRORS), error
        return None
    assert out.shape == shape and out.dtype == jnp.dtype(dtype)
    wide = np.asarray(out, dtype=np.complex128 if jnp.iscomplexobj(out) else np.float64)
    assert np.all(np.isfinite(wide))
    return wide


@given(scale=SCALES, mode=st.sampled_from(["fan_in", "fan_out", "fan_avg", "fan_geo_avg"]),
       distribution=st.sampled_from(["truncated_normal", "normal", "uniform"]),
       shape=SHAPES, dtype=DTYPES)
def test_variance_scaling_never_nan(scale: float, mode: str, distribution: str,
                                    shape: tuple[int, ...], dtype: object) -> None:
    _finite_or_range_error(jinit.variance_scaling(scale, mode, distribution), shape, dtype)


@given(stddev=SCALES, shape=SHAPES, dtype=DTYPES)
def test_normal_never_nan(stddev: float, shape: tuple[int, ...], dtype: object) -> None:
    _finite_or_range_error(jinit.normal(stddev), shape, dtype)


@given(stddev=SCALES, shape=SHAPES, dtype=REAL_DTYPES,
       bounds=st.tuples(st.floats(-4, 4), st.floats(0.01, 4)))
def test_truncated_normal_never_nan(stddev: float, shape: tuple[int, ...], dtype: object,
                                    bounds: tuple[float, float]) -> None:
    lower, width = bounds
    _finite_or_range_error(jinit.truncated_normal(stddev, None, lower, lower + width), shape,
                           dtype)


@given(low=st.floats(-1e3, 1e3), width=st.floats(1e-3, 1e3), shape=SHAPES, dtype=REAL_DTYPES)
def test_random_uniform_never_nan_and_in_range(low: float, width: float,
                                               shape: tuple[int, ...], dtype: object) -> None:
    high = low + width
    out = _finite_or_range_error(jinit.random_uniform(low, high), shape, dtype)
    if out is not None:
        assert np.all(out >= low) and np.all(out < high)


@given(mean=st.floats(-10, 10), std=st.floats(1e-3, 10), low=st.floats(-10, 10),
       width=st.floats(1e-2, 10), shape=SHAPES, dtype=REAL_DTYPES)
def test_trunc_normal_never_nan_and_in_range(mean: float, std: float, low: float, width: float,
                                             shape: tuple[int, ...], dtype: object) -> None:
    out = _finite_or_range_error(jinit.trunc_normal(mean, std, low, low + width), shape, dtype)
    if out is not None:
        assert np.all(out >= low) and np.all(out <= low + width)


@given(scale=st.floats(1e-3, 1e3), shape=SHAPES, dtype=DTYPES, column_axis=st.integers(-2, 1))
def test_orthogonal_never_nan(scale: float, shape: tuple[int, ...], dtype: object,
                              column_axis: int) -> None:
    _finite_or_range_error(jinit.orthogonal(scale, column_axis), shape, dtype)


@given(name=st.sampled_from(["glorot_normal", "glorot_uniform", "he_normal", "he_uniform",
                             "lecun_normal", "lecun_uniform"]), shape=SHAPES, dtype=DTYPES)
def test_presets_never_nan(name: str, shape: tuple[int, ...], dtype: object) -> None:
    _finite_or_range_error(getattr(jinit, name)(), shape, dtype)
