"""Distribution-level parity of jinit's PyTorch forms with ``torch.nn.init``.

jinit and PyTorch draw from different random number generators, so samples are never equal;
what must agree is the *distribution*. Each random case checks, with fixed keys and seeds:

* both samples' variance against the analytic target, 5 standard errors of the sample variance
  (``tests/stats_util.py``: ~3.5% for normal and ~2.6% for uniform at 3e4 samples);
* a two-sample Kolmogorov-Smirnov test between the jinit and the torch sample with a p-value
  floor of 1e-4 (a correct pair passes with probability 0.9999 for a random seed; seeds are
  fixed, so the outcome is deterministic);
* bounds where the distribution has them.

Each family also has a test that the same check *fails* for a wrong formula or layout, so the
checks have teeth. Deterministic initializers (``calculate_gain``, ``eye``, ``dirac``) are
compared exactly. Weights here are in PyTorch's layout ``(out, in, *window)``, which jinit reads
with ``in_axis=1, out_axis=0`` (``column_axis=0`` for :func:`jinit.orthogonal`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import jax
import numpy as np
import pytest
from scipy import stats

import jinit
from tests.stats_util import assert_variance, variance_tolerance

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

KEY = jax.random.key(2024)
SEED = 2024
P_FLOOR = 1e-4
#: float32 rounding of a bound computed in float64 (and of the product sample * bound).
EPS32 = float(np.finfo(np.float32).eps)

#: PyTorch-layout shapes and their fans (fan_in = in * window, fan_out = out * window).
#: fan_in != fan_out in both, so a mode or axis mix-up changes the variance by >= 1.33x.
DENSE = (256, 128)  # nn.Linear(128, 256).weight: 32,768 samples
CONV = (64, 48, 3, 3)  # nn.Conv2d(48, 64, 3).weight: 27,648 samples
FANS = {DENSE: (128, 256), CONV: (48 * 9, 64 * 9)}
SHAPES = pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])


@pytest.fixture(scope="module", autouse=True)
def _torch_single_thread() -> Iterator[None]:
    """One torch thread: the 2,000 tiny QRs of the Haar test take 0.4 s instead of 12 s when
    two threads contend on a 2-core machine. Restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _generator(seed: int = SEED) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _torch_sample(
    fill: Callable[..., object], shape: tuple[int, ...], **kwargs: object
) -> np.ndarray:
    """Fill a float32 tensor of ``shape`` in place with ``fill`` and return it as float64."""
    tensor = torch.empty(shape, dtype=torch.float32)
    fill(tensor, generator=_generator(), **kwargs)
    return tensor.numpy().astype(np.float64)


def _jinit_sample(
    init: jinit.Initializer, shape: tuple[int, ...], key: jax.Array = KEY
) -> np.ndarray:
    return np.asarray(init(key, shape), dtype=np.float64)


def _ks2(a: np.ndarray, b: np.ndarray) -> float:
    return float(stats.ks_2samp(a.ravel(), b.ravel()).pvalue)


# --- calculate_gain --------------------------------------------------------------------------

UNIT_NAMES = [
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
]


@pytest.mark.parametrize("name", [*UNIT_NAMES, "tanh", "relu", "selu", "leaky_relu"])
def test_calculate_gain_default_param(name: str) -> None:
    assert jinit.calculate_gain(name) == torch.nn.init.calculate_gain(name)


@pytest.mark.parametrize("param", [0, 0.0, 0.01, 0.2, 1.0, math.sqrt(5), 3, -0.5])
def test_calculate_gain_leaky_relu_param(param: float) -> None:
    ours = jinit.calculate_gain("leaky_relu", param)
    assert ours == torch.nn.init.calculate_gain("leaky_relu", param)
    assert ours == math.sqrt(2.0 / (1.0 + param**2))


@pytest.mark.parametrize("name", ["linear", "conv2d", "sigmoid", "tanh", "relu", "selu"])
def test_calculate_gain_ignores_param_like_torch(name: str) -> None:
    assert jinit.calculate_gain(name, 0.5) == torch.nn.init.calculate_gain(name, 0.5)


def test_calculate_gain_table_values() -> None:
    """The table itself, so a change on either side shows up as a named value."""
    expected = {
        "linear": 1.0,
        "sigmoid": 1.0,
        "tanh": 5.0 / 3.0,
        "relu": math.sqrt(2.0),
        "selu": 0.75,
        "leaky_relu": math.sqrt(2.0 / 1.0001),
    }
    for name, value in expected.items():
        assert jinit.calculate_gain(name) == torch.nn.init.calculate_gain(name) == value


# --- kaiming / xavier -------------------------------------------------------------------------

NONLINEARITIES = [
    ("relu", 0.0),
    ("leaky_relu", 0.0),
    ("leaky_relu", 0.2),
    ("linear", 0.0),
    ("tanh", 0.0),
]
NONLINEARITY_IDS = ["relu", "leaky_relu_0", "leaky_relu_0.2", "linear", "tanh"]
KAIMING = {
    "normal": (jinit.torch_kaiming_normal, torch.nn.init.kaiming_normal_),
    "uniform": (jinit.torch_kaiming_uniform, torch.nn.init.kaiming_uniform_),
}
XAVIER = {
    "normal": (jinit.torch_xavier_normal, torch.nn.init.xavier_normal_),
    "uniform": (jinit.torch_xavier_uniform, torch.nn.init.xavier_uniform_),
}


def _check_pair(ours: np.ndarray, theirs: np.ndarray, target: float, distribution: str) -> None:
    """Variance of both vs the target, two-sample KS, and for uniform the bound."""
    assert ours.shape == theirs.shape
    assert_variance(ours, target, distribution)
    assert_variance(theirs, target, distribution)
    # Two-sample KS at >= 2.7e4 samples each, p-value floor 1e-4 (see the module docstring).
    assert _ks2(ours, theirs) > P_FLOOR
    if distribution == "uniform":
        bound = math.sqrt(3.0 * target)
        for w in (ours, theirs):
            top = float(np.abs(w).max())
            # Never beyond the bound (up to float32 rounding of the bound and of the product).
            assert top <= bound * (1 + 2 * EPS32)
            # And reaching it: P(max |w| < 0.99 b) = 0.99^n < 1e-100 for n >= 2.7e4, while a
            # bound of sqrt(2) or sqrt(3) times too small/large fails one of the two checks.
            assert top > 0.99 * bound


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize(("nonlinearity", "a"), NONLINEARITIES, ids=NONLINEARITY_IDS)
@SHAPES
def test_kaiming_parity(
    distribution: str, mode: str, nonlinearity: str, a: float, shape: tuple[int, ...]
) -> None:
    ours_factory, theirs_fill = KAIMING[distribution]
    init = ours_factory(a, mode, nonlinearity, in_axis=1, out_axis=0)
    ours = _jinit_sample(init, shape)
    theirs = _torch_sample(theirs_fill, shape, a=a, mode=mode, nonlinearity=nonlinearity)
    fan_in, fan_out = FANS[shape]
    fan = fan_in if mode == "fan_in" else fan_out
    gain = torch.nn.init.calculate_gain(nonlinearity, a)
    _check_pair(ours, theirs, gain**2 / fan, distribution)


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
@pytest.mark.parametrize("gain", [1.0, 5.0 / 3.0], ids=["1", "5/3"])
@SHAPES
def test_xavier_parity(distribution: str, gain: float, shape: tuple[int, ...]) -> None:
    ours_factory, theirs_fill = XAVIER[distribution]
    ours = _jinit_sample(ours_factory(gain, in_axis=1, out_axis=0), shape)
    theirs = _torch_sample(theirs_fill, shape, gain=gain)
    fan_in, fan_out = FANS[shape]
    _check_pair(ours, theirs, gain**2 * 2.0 / (fan_in + fan_out), distribution)


def test_torch_default_linear_init_parity() -> None:
    """``nn.Linear``'s default: kaiming_uniform with a = sqrt(5), i.e. bound 1/sqrt(fan_in)."""
    a = math.sqrt(5)
    ours = _jinit_sample(jinit.torch_kaiming_uniform(a, in_axis=1, out_axis=0), DENSE)
    theirs = _torch_sample(torch.nn.init.kaiming_uniform_, DENSE, a=a)
    _check_pair(ours, theirs, 1.0 / (3.0 * FANS[DENSE][0]), "uniform")


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_variance_check_rejects_a_doubled_variance(distribution: str) -> None:
    """The variance check has teeth: the same samples fail against twice the target."""
    ours_factory, theirs_fill = KAIMING[distribution]
    ours = _jinit_sample(ours_factory(0.0, "fan_in", "relu", in_axis=1, out_axis=0), DENSE)
    theirs = _torch_sample(theirs_fill, DENSE, mode="fan_in", nonlinearity="relu")
    target = 2.0 / FANS[DENSE][0]
    for w in (ours, theirs):
        assert_variance(w, target, distribution)
        with pytest.raises(AssertionError):
            assert_variance(w, 2.0 * target, distribution)


def test_ks_rejects_a_swapped_mode() -> None:
    """The KS check has teeth: fan_out (variance 2/256) vs torch's fan_in (2/128)."""
    ours = _jinit_sample(
        jinit.torch_kaiming_normal(mode="fan_out", nonlinearity="relu", in_axis=1, out_axis=0),
        DENSE,
    )
    theirs = _torch_sample(torch.nn.init.kaiming_normal_, DENSE, mode="fan_in", nonlinearity="relu")
    assert _ks2(ours, theirs) < 1e-10


def test_default_axes_are_flax_layout_not_torch_layout() -> None:
    """On a torch-layout (out, in) weight the default (Flax) axes read fan_in as 256, not 128:
    the distributions differ by a factor 2 in variance, and both checks see it."""
    ours = _jinit_sample(jinit.torch_kaiming_normal(nonlinearity="relu"), DENSE)
    theirs = _torch_sample(torch.nn.init.kaiming_normal_, DENSE, nonlinearity="relu")
    assert _ks2(ours, theirs) < 1e-10
    with pytest.raises(AssertionError):
        assert_variance(ours, 2.0 / FANS[DENSE][0], "normal")
    # Transposed into Flax's (in, out) layout, the defaults agree with torch.
    flax = _jinit_sample(jinit.torch_kaiming_normal(nonlinearity="relu"), DENSE[::-1])
    assert _ks2(flax, theirs) > P_FLOOR


# --- trunc_normal -----------------------------------------------------------------------------

TRUNC_SHAPE = (200, 150)  # 30,000 samples
TRUNC_CASES = [(0.0, 1.0, -2.0, 2.0), (0.5, 0.2, 0.0, 1.0), (0.0, 1.0, 1.0, 3.0)]
# The last case keeps 16% of the mass, so torch takes its other (uniform-proposal) branch.
TRUNC_IDS = ["std_normal_2sigma", "mean0.5_std0.2_unit", "one_sided_tail"]


def _truncnorm(mean: float, std: float, a: float, b: float) -> stats.rv_continuous:
    return stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)


@pytest.mark.parametrize(("mean", "std", "a", "b"), TRUNC_CASES, ids=TRUNC_IDS)
def test_trunc_normal_parity(mean: float, std: float, a: float, b: float) -> None:
    ours = _jinit_sample(jinit.trunc_normal(mean, std, a, b), TRUNC_SHAPE)
    theirs = _torch_sample(torch.nn.init.trunc_normal_, TRUNC_SHAPE, mean=mean, std=std, a=a, b=b)
    # Absolute bounds, never exceeded (jinit clamps to the float32 values inside [a, b];
    # torch rejects samples outside the float32-rounded bounds, which are exact here).
    for w in (ours, theirs):
        assert w.min() >= a and w.max() <= b
    # KS two-sample and one-sample against scipy, 3e4 samples each, p floor 1e-4.
    assert _ks2(ours, theirs) > P_FLOOR
    reference = _truncnorm(mean, std, a, b)
    assert stats.kstest(ours.ravel(), reference.cdf).pvalue > P_FLOOR
    assert stats.kstest(theirs.ravel(), reference.cdf).pvalue > P_FLOOR


def test_trunc_normal_ks_rejects_a_wrong_std() -> None:
    """The KS checks have teeth: a 20% larger std is rejected against scipy and torch."""
    ours = _jinit_sample(jinit.trunc_normal(0.0, 1.2, -2.0, 2.0), TRUNC_SHAPE)
    theirs = _torch_sample(
        torch.nn.init.trunc_normal_, TRUNC_SHAPE, mean=0.0, std=1.0, a=-2.0, b=2.0
    )
    assert stats.kstest(ours.ravel(), _truncnorm(0.0, 1.0, -2.0, 2.0).cdf).pvalue < 1e-10
    assert _ks2(ours, theirs) < 1e-10


@pytest.mark.parametrize(
    ("mean", "std", "a", "b"),
    [(0.0, 1.0, -2.0, 2.0), (0.5, 0.2, 0.0, 1.0)],
    ids=["std_normal_2sigma", "mean0.5_std0.2_unit"],
)
def test_trunc_normal_exact_std_where_torch_is_smaller(
    mean: float, std: float, a: float, b: float
) -> None:
    """``exact_std=True`` realizes the requested std; torch's realizes the truncated one.

    Variance tolerance: 5 standard errors at 3e4 samples, using the kurtosis of N(0,1) cut at
    +-2 (2.37); the exact-std distributions are cut at +-1.45 sigma (kurtosis 2.10) and
    +-2.34 sigma, whose kurtoses are lower, so the tolerance (~3.4%) is conservative. Torch's
    variance ratio is 0.774 (std 0.880) for the +-2 sigma cut and 0.911 (std 0.955) for the
    +-2.5 sigma cut: both outside it.
    """
    ours = _jinit_sample(jinit.trunc_normal(mean, std, a, b, exact_std=True), TRUNC_SHAPE)
    theirs = _torch_sample(torch.nn.init.trunc_normal_, TRUNC_SHAPE, mean=mean, std=std, a=a, b=b)
    for w in (ours, theirs):
        assert w.min() >= a and w.max() <= b
    assert_variance(ours - mean, std**2, "truncated_normal")
    with pytest.raises(AssertionError):
        assert_variance(theirs - mean, std**2, "truncated_normal")
    # Torch's realized variance is the truncated normal's, within the same tolerance.
    truncated_var = _truncnorm(mean, std, a, b).var()
    ratio = float(np.var(theirs)) / truncated_var
    assert abs(ratio - 1.0) < variance_tolerance(theirs.size, "truncated_normal")
    # KS one-sample at 3e4 samples, p floor 1e-4: jinit follows the truncation of N(mean,
    # sigma^2) with the solved sigma, and rejects torch's sigma = std (p ~ 2e-8 for the
    # milder +-2.5 sigma case, ~1e-65 for +-2 sigma; asserted 100x below the floor).
    sigma = jinit._src.initializers.forms._sigma_for_exact_std(mean, std, a, b)
    assert math.isclose(_truncnorm(mean, sigma, a, b).std(), std, rel_tol=1e-9)
    assert stats.kstest(ours.ravel(), _truncnorm(mean, sigma, a, b).cdf).pvalue > P_FLOOR
    assert stats.kstest(ours.ravel(), _truncnorm(mean, std, a, b).cdf).pvalue < P_FLOOR / 100


def test_torch_trunc_normal_std_is_088_of_requested() -> None:
    theirs = _torch_sample(
        torch.nn.init.trunc_normal_, TRUNC_SHAPE, mean=0.0, std=1.0, a=-2.0, b=2.0
    )
    # sqrt(0.7737) = 0.8796; the sample std's relative standard error is ~0.4% at 3e4 samples.
    realized = float(np.std(theirs))
    assert realized < 0.9
    assert abs(realized - 0.8796) < 0.01


# --- orthogonal --------------------------------------------------------------------------------

ORTHO_SHAPES = [(64, 128), (128, 64), (32, 16, 3, 3)]
ORTHO_DRAWS = 5  # matrices per side: 40,960 pooled entries for the 2-D shapes, 23,040 for conv


def _as_torch_matrix(w: np.ndarray) -> np.ndarray:
    """PyTorch's matrix view of a weight: rows = axis 0, the other axes flattened."""
    return w.reshape(w.shape[0], -1)


def _orthogonality_error(w: np.ndarray) -> float:
    m = _as_torch_matrix(w)
    gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    return float(np.abs(gram - np.eye(min(m.shape))).max())


def _ortho_samples(shape: tuple[int, ...], draws: int) -> tuple[np.ndarray, np.ndarray]:
    init = jinit.orthogonal(column_axis=0)
    keys = jax.random.split(KEY, draws)
    ours = np.stack([_jinit_sample(init, shape, k) for k in keys])
    generator = _generator()
    theirs = np.empty((draws, *shape))
    for i in range(draws):
        tensor = torch.empty(shape, dtype=torch.float32)
        torch.nn.init.orthogonal_(tensor, generator=generator)
        theirs[i] = tensor.numpy()
    return ours, theirs


@pytest.mark.parametrize("shape", ORTHO_SHAPES, ids=str)
def test_orthogonal_parity(shape: tuple[int, ...]) -> None:
    ours, theirs = _ortho_samples(shape, ORTHO_DRAWS)
    for w in (*ours, *theirs):
        # float32 QR: Gram error ~ sqrt(n) * eps32 ~ 1e-6; 1e-5 leaves headroom.
        assert _orthogonality_error(w) <= 1e-5
    # Entries pooled over the draws. Each row (or column) of length m is uniform on the unit
    # sphere, so every entry x has (x + 1)/2 ~ Beta((m-1)/2, (m-1)/2). Entries of one matrix are
    # only weakly dependent (O(1/m) correlations of their squares); KS at p floor 1e-4.
    assert _ks2(ours, theirs) > P_FLOOR
    m = max(_as_torch_matrix(ours[0]).shape)
    reference = stats.beta((m - 1) / 2, (m - 1) / 2)
    assert stats.kstest((ours.ravel() + 1) / 2, reference.cdf).pvalue > P_FLOOR
    assert stats.kstest((theirs.ravel() + 1) / 2, reference.cdf).pvalue > P_FLOOR


def test_orthogonal_wrong_column_axis_is_not_torch_layout() -> None:
    """The checks have teeth: ``column_axis=-1`` on (32, 16, 3, 3) is orthogonal along the
    last axis (3 columns of length 1536), not torch's 32 x 144 with orthonormal rows."""
    shape = (32, 16, 3, 3)
    wrong = _jinit_sample(jinit.orthogonal(column_axis=-1), shape)
    assert _orthogonality_error(wrong) > 0.5
    _, theirs = _ortho_samples(shape, 1)
    assert _ks2(wrong, theirs) < 1e-10


N_HAAR = 2000
HAAR_N = 8


def _traces_jinit() -> np.ndarray:
    keys = jax.random.split(jax.random.key(7), N_HAAR)
    init = jinit.orthogonal(column_axis=0)
    qs = np.asarray(jax.vmap(lambda k: init(k, (HAAR_N, HAAR_N)))(keys), dtype=np.float64)
    return np.trace(qs, axis1=1, axis2=2)


def _traces_torch() -> np.ndarray:
    generator = _generator(7)
    traces = np.empty(N_HAAR)
    for i in range(N_HAAR):
        q = torch.nn.init.orthogonal_(torch.empty(HAAR_N, HAAR_N), generator=generator)
        traces[i] = float(torch.trace(q.double()))
    return traces


def _assert_haar_trace_moments(traces: np.ndarray) -> None:
    # Haar O(n): the moments of tr Q equal those of N(0, 1) up to order n/2 (Diaconis &
    # Shahshahani, 1994), so for n = 8: mean 0, E[tr^2] = 1, sd(tr) = 1, sd(tr^2) = sqrt(2).
    # Tolerance: 5 standard errors at N = 2000 draws: 0.112 for the mean, 0.158 for E[tr^2].
    se_mean = 1.0 / math.sqrt(traces.size)
    se_second = math.sqrt(2.0) / math.sqrt(traces.size)
    assert abs(traces.mean()) < 5 * se_mean
    assert abs(np.mean(traces**2) - 1.0) < 5 * se_second


def test_haar_trace_moments_jinit_and_torch() -> None:
    ours, theirs = _traces_jinit(), _traces_torch()
    _assert_haar_trace_moments(ours)
    _assert_haar_trace_moments(theirs)
    assert _ks2(ours, theirs) > P_FLOOR


def test_haar_trace_check_rejects_unsigned_qr() -> None:
    """The trace check has teeth: QR without the sign correction is not Haar (its trace has a
    mean far from 0 with LAPACK's Householder sign convention)."""
    generator = _generator(7)
    z = torch.randn(N_HAAR, HAAR_N, HAAR_N, generator=generator, dtype=torch.float64)
    q, _ = torch.linalg.qr(z)
    traces = torch.diagonal(q, dim1=-2, dim2=-1).sum(-1).numpy()
    with pytest.raises(AssertionError):
        _assert_haar_trace_moments(traces)


# --- eye / identity ---------------------------------------------------------------------------

EYE_SHAPES = [(5, 5), (3, 7), (7, 3), (1, 4), (128, 64)]


@pytest.mark.parametrize("shape", EYE_SHAPES, ids=str)
@pytest.mark.parametrize("factory", [jinit.eye, jinit.identity], ids=["eye", "identity"])
def test_eye_exact(shape: tuple[int, int], factory: Callable[..., jinit.Initializer]) -> None:
    theirs = torch.nn.init.eye_(torch.empty(shape)).numpy()
    # Same shape: both are ones on the main diagonal.
    ours = np.asarray(factory()(KEY, shape))
    assert ours.dtype == theirs.dtype == np.float32
    np.testing.assert_array_equal(ours, theirs)
    # Layouts: jinit (in, out) is torch (out, in) transposed; the identity map is the same.
    ours_flax = np.asarray(factory()(KEY, shape[::-1]))
    np.testing.assert_array_equal(ours_flax, theirs.T)


# --- dirac ------------------------------------------------------------------------------------

ODD_WINDOWS = [(3,), (5,), (3, 3), (5, 5), (3, 5), (3, 3, 3), (5, 5, 5), (1, 3, 5)]
CHANNELS = [(8, 4), (6, 4), (4, 6)]  # (out, in per group)


@pytest.mark.parametrize("window", ODD_WINDOWS, ids=str)
@pytest.mark.parametrize("channels", CHANNELS, ids=str)
@pytest.mark.parametrize("groups", [1, 2])
def test_dirac_exact_for_odd_windows(
    window: tuple[int, ...], channels: tuple[int, int], groups: int
) -> None:
    shape = (*channels, *window)
    theirs = torch.nn.init.dirac_(torch.empty(shape), groups=groups).numpy()
    ours = np.asarray(jinit.dirac(groups, in_axis=1, out_axis=0)(KEY, shape))
    assert ours.dtype == theirs.dtype == np.float32
    np.testing.assert_array_equal(ours, theirs)
    per_group = channels[0] // groups
    assert ours.sum() == groups * min(per_group, channels[1])


@pytest.mark.parametrize("window", [(2,), (4,), (2, 4), (4, 4), (2, 3, 6)], ids=str)
def test_dirac_even_window_centre_differs_by_design(window: tuple[int, ...]) -> None:
    """Documented difference: jinit's centre is (k-1)//2 (exact identity for a Flax "SAME"
    convolution), torch's is k//2. Channels agree; even window axes are one step apart."""
    shape = (6, 4, *window)
    theirs = torch.nn.init.dirac_(torch.empty(shape)).numpy()
    ours = np.asarray(jinit.dirac(in_axis=1, out_axis=0)(KEY, shape))
    ours_at, theirs_at = np.nonzero(ours), np.nonzero(theirs)
    assert len(ours_at[0]) == len(theirs_at[0]) == 4
    np.testing.assert_array_equal(ours_at[0], theirs_at[0])  # out channel
    np.testing.assert_array_equal(ours_at[1], theirs_at[1])  # in channel
    for axis, k in enumerate(window, start=2):
        assert set(ours_at[axis]) == {(k - 1) // 2}
        assert set(theirs_at[axis]) == {k // 2}
    assert not np.array_equal(ours, theirs)
