"""``orthogonal(method="householder")``: orthogonal to float32 precision, Haar, never NaN.

The fast method multiplies random Householder reflectors instead of factoring a Gaussian matrix
(Stewart, 1980). It has other bits than the default ``"qr"`` (JAX's), so it is tested for what
it promises: orthogonality (``||QᵀQ - I||_inf <= 1e-5`` in float32), the Haar distribution (KS
tests against the exact Beta marginal, the trace moments of Diaconis & Shahshahani, the sign of
the determinant; p-value floor 1e-4 with fixed keys, as in ``tests/test_statistics.py``), a
must-fail counterpart without the sign correction, 16-bit outputs, no NaN over many keys, and
jit/vmap consistency.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import jinit
from jinit._src.initializers.orthogonal import householder_reflectors, upper_trapezoid_normal

KEY = jax.random.key(7)
P_FLOOR = 1e-4
N_HAAR = 4000
FAST = jinit.orthogonal(method="householder")


def _np(array: jax.Array) -> np.ndarray:
    dtype = np.complex128 if jnp.iscomplexobj(array) else np.float64
    return np.asarray(array, dtype=dtype)


def _gram_error(w: np.ndarray, column_axis: int, scale: float = 1.0) -> float:
    cols = w.shape[column_axis]
    matrix = np.moveaxis(w, column_axis, -1).reshape(-1, cols) / scale
    gram = matrix.conj().T @ matrix if matrix.shape[0] >= cols else matrix @ matrix.conj().T
    return float(np.abs(gram - np.eye(len(gram))).max())


# --- orthogonality ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "column_axis"),
    [((64, 64), -1), ((65, 65), 0), ((128, 32), -1), ((128, 32), 0), ((32, 128), -1),
     ((3, 3, 16, 32), -1), ((3, 3, 16, 32), 0), ((4, 5, 6), 1), ((1, 7), -1)],
    ids=str,
)
def test_orthogonality_f32(shape: tuple[int, ...], column_axis: int) -> None:
    init = jinit.orthogonal(2.5, column_axis, method="householder")
    w = jax.jit(init, static_argnums=1)(KEY, shape)
    assert w.shape == shape and w.dtype == jnp.float32
    assert _gram_error(_np(w), column_axis, 2.5) <= 1e-5


def test_orthogonality_large_square() -> None:
    """Square Gaussians are the worst-conditioned case (why Cholesky-QR is not used)."""
    assert _gram_error(_np(jax.jit(FAST, static_argnums=1)(KEY, (512, 512))), -1) <= 1e-5


def test_unitary_complex() -> None:
    w = _np(jax.jit(FAST, static_argnums=(1, 2))(KEY, (48, 32), jnp.complex64))
    assert _gram_error(w, -1) <= 1e-5
    assert np.abs(w.imag).max() > 0.1  # genuinely complex, not a real matrix cast


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_half_precision(dtype: object) -> None:
    w = FAST(KEY, (20, 12), dtype)  # eager, the shape of the eager test below: shared compiles
    assert w.dtype == dtype
    array = _np(w)
    assert np.all(np.isfinite(array))
    # Rounding each entry to 8 (bf16) or 11 (f16) bits: Gram error ~ sqrt(n) * eps.
    assert _gram_error(array, -1) < 8 * math.sqrt(12) * float(jnp.finfo(dtype).eps)


@jax.jit
def _reflect(x: jax.Array) -> jax.Array:
    v, taus, signs = householder_reflectors(x)
    return jax.lax.linalg.householder_product(v.mT, taus) * signs


@pytest.mark.parametrize("fill", [0.0, 1e-30, 1.0])
def test_degenerate_columns_give_no_nan(fill: float) -> None:
    """Zero rows (and ones whose norm underflows) get the identity reflector, not 0/0."""
    x = jnp.full((4, 6), fill, jnp.float32).at[1].set(0.0)
    q = _np(_reflect(x))
    assert np.all(np.isfinite(q))
    assert np.abs(q.T @ q - np.eye(4)).max() <= 1e-6


# --- jit, vmap, and relation to the default -------------------------------------------------


def test_jit_and_vmap_equal_eager_loop() -> None:
    keys = jax.random.split(KEY, 2)
    eager = jnp.stack([FAST(k, (20, 12)) for k in keys])
    jitted = jnp.stack([jax.jit(FAST, static_argnums=1)(k, (20, 12)) for k in keys])
    vmapped = jax.vmap(lambda k: FAST(k, (20, 12)))(keys)
    np.testing.assert_allclose(jitted, eager, atol=1e-6)
    np.testing.assert_allclose(vmapped, eager, atol=1e-6)


@functools.cache
def _sampler(method: str, shape: tuple[int, int]) -> Callable[[jax.Array], jax.Array]:
    init = jinit.orthogonal(method=method)
    return jax.jit(jax.vmap(lambda k: init(k, shape)))


@functools.cache
def _samples(method: str, shape: tuple[int, int], seed: int = 9) -> np.ndarray:
    """N_HAAR matrices of ``shape``, drawn once per argument tuple and shared by the tests."""
    return _np(_sampler(method, shape)(jax.random.split(jax.random.key(seed), N_HAAR)))


def _haar(method: str, n: int, seed: int = 9) -> np.ndarray:
    return _samples(method, (n, n), seed)


@pytest.mark.parametrize("shape", [(3, 3), (8, 8), (10, 3)], ids=str)
def test_never_nan_over_many_keys(shape: tuple[int, int]) -> None:
    """4000 keys per shape (the samples the Haar tests use): all finite and orthogonal."""
    q = _samples("householder", shape)
    assert np.all(np.isfinite(q))
    grams = np.einsum("bij,bik->bjk", q, q)
    assert np.abs(grams - np.eye(shape[1])).max() <= 1e-5


def test_same_distribution_as_qr_but_not_same_bits() -> None:
    # Other keys for qr: both methods read the same stream of normals from a key, so the same
    # keys would make the two samples dependent and the two-sample test too lenient.
    fast, qr = _haar("householder", 8), _haar("qr", 8, seed=10)
    assert not np.allclose(fast, _haar("qr", 8))
    for statistic in (lambda q: q[:, 0, 0], lambda q: q[:, 2, 4], np.linalg.det,
                      lambda q: np.trace(q, axis1=1, axis2=2)):
        assert stats.ks_2samp(statistic(fast), statistic(qr)).pvalue > P_FLOOR


# --- Haar measure ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [3, 8])
def test_haar_entries_follow_beta(n: int) -> None:
    """For Haar O(n) every entry satisfies (Q_ij + 1)/2 ~ Beta((n-1)/2, (n-1)/2). The first
    column comes from the first reflector, the last from all of them: both are checked."""
    q = _haar("householder", n)
    reference = stats.beta((n - 1) / 2, (n - 1) / 2)
    for i, j in [(0, 0), (n - 1, n - 1), (0, n - 1), (n - 1, 0)]:
        assert stats.kstest((q[:, i, j] + 1) / 2, reference.cdf).pvalue > P_FLOOR, (i, j)


def test_haar_trace_moments_and_determinant() -> None:
    """Haar O(8): E[tr Q] = 0, E[tr(Q)^2] = 1, E[tr(Q^2)] = 1 (Diaconis & Shahshahani 1994),
    and det Q = +1 or -1 with probability 1/2 each; 5 standard errors."""
    q = _haar("householder", 8)
    traces = np.trace(q, axis1=1, axis2=2)
    squares = np.trace(q @ q, axis1=1, axis2=2)
    for sample, mean in [(traces, 0.0), (traces**2, 1.0), (squares, 1.0)]:
        assert abs(sample.mean() - mean) < 5 * sample.std() / math.sqrt(N_HAAR)
    positive = float(np.mean(np.linalg.det(q) > 0))
    assert abs(positive - 0.5) < 5 * 0.5 / math.sqrt(N_HAAR)


def test_haar_tall_columns_uniform_on_sphere() -> None:
    """A (10, 3) Haar frame: each column is uniform on S^9, (Q_ij + 1)/2 ~ Beta(4.5, 4.5)."""
    q = _samples("householder", (10, 3))
    reference = stats.beta(4.5, 4.5)
    for i, j in [(0, 0), (9, 2), (4, 1)]:
        assert stats.kstest((q[:, i, j] + 1) / 2, reference.cdf).pvalue > P_FLOOR, (i, j)


def test_without_sign_correction_is_not_haar() -> None:
    """The Haar check has teeth: the same reflectors without diag(sign beta) fail it, since
    then Q_11 = -|x_1| / ||x|| is never positive."""
    keys = jax.random.split(jax.random.key(9), N_HAAR)

    def unsigned(key: jax.Array) -> jax.Array:
        x = upper_trapezoid_normal(key, 8, 8, np.dtype(np.float32))
        v, taus, _ = householder_reflectors(x)
        return jax.lax.linalg.householder_product(v.mT, taus)

    q = _np(jax.jit(jax.vmap(unsigned))(keys))
    reference = stats.beta(3.5, 3.5)
    assert stats.kstest((q[:, 0, 0] + 1) / 2, reference.cdf).pvalue < 1e-10


def test_packed_draw_uses_each_value_once() -> None:
    """The packed draw fills every position on and above the diagonal with its own value."""
    draw = jax.jit(upper_trapezoid_normal, static_argnums=(1, 2, 3))
    for rows, cols in [(6, 6), (7, 7), (9, 4), (1, 1)]:
        x = _np(draw(KEY, rows, cols, np.dtype(np.float32)))
        assert x.shape == (cols, rows)
        used = x[np.triu_indices(cols, 0, rows)]
        assert not np.tril(x, -1).any()
        assert len(np.unique(used)) == used.size and np.all(used != 0)


def test_packed_draw_is_standard_normal() -> None:
    draw = jax.jit(upper_trapezoid_normal, static_argnums=(1, 2, 3))
    x = _np(draw(KEY, 300, 200, np.dtype(np.float32)))
    assert stats.kstest(x[np.triu_indices(200, 0, 300)], stats.norm.cdf).pvalue > P_FLOOR


# --- argument checks -------------------------------------------------------------------------


def test_bad_method_is_rejected_when_the_factory_is_called() -> None:
    with pytest.raises(ValueError, match=r"jinit\.orthogonal: method must be one of 'qr', "
                                         r"'householder'; got 'housholder'\. Did you mean "
                                         r"'householder'\?"):
        jinit.orthogonal(method="housholder")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"method must be a string"):
        jinit.orthogonal(method=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        jinit.orthogonal(1.0, -1, None, "householder")  # type: ignore[misc]
