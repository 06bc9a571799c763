r"""The singular-value spectrum of a network's input-output Jacobian: dynamical isometry.

For a map :math:`f: \mathbb R^n \to \mathbb R^m` at an input :math:`x`, the Jacobian
:math:`J = \partial f(x) / \partial x` (input and output flattened) has
:math:`k = \min(m, n)` singular values :math:`s_i`; their squares are the non-trivial
eigenvalues of :math:`J J^\top` (and of :math:`J^\top J`). A network is *dynamically
isometric* when they all sit near 1 (Saxe et al., 2014; Pennington et al., 2017), measured by
the moments of the spectrum and its normalized spread

.. math::

   E[s^2] = \frac1k \operatorname{tr}(J^\top J), \qquad
   E[s^4] = \frac1k \operatorname{tr}\big((J^\top J)^2\big), \qquad
   \text{spread} = \frac{\operatorname{Var}(s^2)}{E[s^2]^2} = \frac{E[s^4]}{E[s^2]^2} - 1,

0 for an isometry (every :math:`s^2` equal) whatever its scale. Two methods compute them:

* ``"exact"``: :math:`J` materialized (``jax.jacfwd`` when :math:`n \le m`, else
  ``jax.jacrev``: :math:`\min(m, n)` passes) and ``jnp.linalg.svd`` in float32 (float64 with
  ``jax_enable_x64``); the moments are taken on the host in float64, the spread as
  :math:`\operatorname{mean}((s^2 - E[s^2])^2)/E[s^2]^2`, which does not cancel.
* ``"randomized"``: Hutchinson's estimator with Rademacher probes :math:`v \in \{\pm1\}^n`
  (:math:`E[vv^\top] = I`), one ``jax.linearize`` and its transpose per example,

  .. math::

     E\big[\|Jv\|^2\big] = \operatorname{tr}(J^\top J), \qquad
     E\big[\|J^\top J v\|^2\big] = \operatorname{tr}\big((J^\top J)^2\big),

  so the probe means of :math:`\|Jv\|^2/k` and :math:`\|J^\top Jv\|^2/k` are unbiased for
  :math:`E[s^2]` and :math:`E[s^4]`; their standard errors come from the probes' sample
  (co)variance, and the spread's by the delta method (a ratio: consistent, its bias
  :math:`O(1/\text{probes})` is below its standard error).

What to expect at initialization (free probability, Pennington et al., 2017): for
:math:`J = \prod_l D_l W_l` with :math:`D_l = \operatorname{diag}\phi'(h_l)` the normalized
variances of free factors add, :math:`\text{spread} = \sum_l [v(D_l^2) + v(W_l^\top W_l)]`,
with :math:`v = m_2/m_1^2 - 1`: 1 for a Gaussian :math:`W` (Marchenko-Pastur), 0 for an
orthogonal one, 1 for ReLU's :math:`D^2` (a Bernoulli(1/2)), 0 for a linear net. Over
:math:`L` layers: linear orthogonal 0, linear Gaussian :math:`L`, ReLU Gaussian (He)
:math:`2L`, ReLU orthogonal (:math:`\times\sqrt2`) :math:`L`. At finite width :math:`N` the
measured spread is a little larger (``tests/analysis/test_jacobian.py``: width 400, 32
layers, ReLU with He Gaussian weights averages 71.4 over 4 networks against :math:`2L = 64`).

References:
  Saxe, McClelland & Ganguli (2014), Exact solutions to the nonlinear dynamics of learning in
  deep linear neural networks, https://arxiv.org/abs/1312.6120.
  Pennington, Schoenholz & Ganguli (2017), Resurrecting the sigmoid in deep learning through
  dynamical isometry: theory and practice, https://arxiv.org/abs/1711.04735.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, get_args

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.analysis.jacobian.compute import (
    compiled,
    exact,
    exact_cached,
    randomized,
    randomized_cached,
)
from jinit._src.analysis.jacobian.result import JacobianSpectrum, from_probes, from_values
from jinit._src.core.checks import check_choice
from jinit._src.core.errors import JinitTypeError, JinitValueError, named
from jinit._src.core.factory_guard import is_prng_key
from jinit._src.core.types import KeyArray, PyTree

__all__ = ["METHODS", "JacobianSpectrum", "jacobian_spectrum", "spectrum"]

#: The ways :func:`jacobian_spectrum` can compute the spectrum.
Method: TypeAlias = Literal["auto", "exact", "randomized"]
METHODS: tuple[Method, ...] = get_args(Method)

_NO_PARAMS = object()


# ----------------------------------------------------------------------------- checks


def _count(name: str, value: object, low: int) -> int:
    if isinstance(value, bool | np.bool_):
        raise JinitTypeError(f"{name} must be an int >= {low}, got {value!r}.")
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise JinitTypeError(f"{name} must be an int >= {low}, got {value!r}.") from None
    if number < low:
        raise JinitValueError(f"{name} must be an int >= {low}, got {number}.")
    return number


def _one_key(key: object) -> bool:
    """Whether ``key`` is one PRNG key: a typed key of shape ``()`` or a raw ``uint32`` key."""
    return getattr(key, "shape", None) == () if is_prng_key(key, raw=False) else is_prng_key(key)


def _input(x: object, batched: bool) -> jax.Array:
    """``x`` as a real floating array in the working dtype, or a refusal."""
    try:
        array = jnp.asarray(x)
    except TypeError as error:
        raise JinitTypeError(f"x must be an array, got {type(x).__name__}: {error}") from None
    if not jnp.issubdtype(array.dtype, jnp.floating):
        raise JinitTypeError(
            f"x must be a real floating-point array, got dtype {array.dtype}; an input "
            "Jacobian needs continuous inputs (for token ids, differentiate with respect to "
            "the embeddings instead)."
        )
    if batched and (array.ndim == 0 or array.shape[0] == 0):
        raise JinitValueError(
            f"batched=True needs x with a leading axis of at least one example, got shape "
            f"{array.shape}."
        )
    if array.size == 0:
        raise JinitValueError(f"x must have at least one element, got shape {array.shape}.")
    if not bool(jnp.isfinite(array).all()):
        raise JinitValueError("x has NaN or infinite values.")
    work = jax.dtypes.canonicalize_dtype(jnp.float64)  # float32 unless x64 is enabled
    return array.astype(work)


def _outputs(f: Any, params: Any, x: jax.Array, batched: bool) -> int:
    """The number of outputs :math:`m` of one example, checked to be one floating array."""
    example = x[0] if batched else x
    try:
        out = jax.eval_shape(lambda p, e: f(p, e[None] if batched else e), params, example)
    except Exception as error:
        error.add_note("jinit.jacobian_spectrum: raised while applying fn to one example")
        raise
    if not (isinstance(out, jax.ShapeDtypeStruct) and jnp.issubdtype(out.dtype, jnp.floating)):
        raise JinitTypeError(f"fn must return one real floating-point array, got {out}.")
    if out.size == 0:
        raise JinitValueError(f"fn returns an empty array of shape {out.shape}.")
    return int(out.size)


def spectrum(
    fn: Callable[..., Any],
    x: object,
    *,
    params: object = _NO_PARAMS,
    batched: bool = False,
    key: KeyArray | None = None,
    method: Method = "auto",
    probes: int = 64,
    exact_max: int = 1024,
) -> JacobianSpectrum:
    """:func:`jacobian_spectrum` whose refusals are bare messages (for other analyses)."""
    if not callable(fn):
        raise JinitTypeError(f"fn must be callable, got {fn!r:.80}.")
    method = check_choice("method", method, METHODS)
    probes = _count("probes", probes, 2)
    exact_max = _count("exact_max", exact_max, 1)
    if not isinstance(batched, bool):
        raise JinitTypeError(f"batched must be True or False, got {batched!r}.")
    if key is not None and not _one_key(key):
        raise JinitTypeError(f"key must be one PRNG key (jax.random.key(0)), got {key!r:.80}.")
    if method == "randomized" and key is None:
        raise JinitValueError(
            "method='randomized' draws random probes: pass key=jax.random.key(0), say."
        )
    f, state = (_Unary(fn), None) if params is _NO_PARAMS else (fn, params)
    array = _input(x, batched)
    m = _outputs(f, state, array, batched)
    n = math.prod(array.shape[1:] if batched else array.shape)
    shape = (m, n)
    chosen = method if method != "auto" else "exact" if min(m, n) <= exact_max else "randomized"
    if chosen == "randomized" and key is None:
        raise JinitValueError(
            f"method='auto' chose 'randomized' for a Jacobian of shape {shape}, as min{shape} > "
            f"exact_max={exact_max}; pass key=jax.random.key(0), say, or method='exact'."
        )
    if chosen == "exact":
        values, finite = compiled(exact_cached, exact, f, batched)(state, array)
        if not bool(np.all(jax.device_get(finite))):
            raise JinitValueError(
                "the Jacobian at x has NaN or infinite entries: fn overflows or is not "
                "differentiable there; check fn(x) and its parameters."
            )
        return from_values(np.asarray(jax.device_get(values)), shape)
    raw = compiled(randomized_cached, randomized, f, batched, probes)(state, array, key)
    raw = np.asarray(jax.device_get(raw))
    if not np.isfinite(raw).all():
        raise JinitValueError(
            "Jv or JᵀJv has NaN or infinite entries: fn overflows or is not differentiable at "
            "x; check fn(x) and its parameters."
        )
    return from_probes(raw, shape)


@dataclass(frozen=True)
class _Unary:
    """``fn(x)`` as ``f(params, x)``: hashable by ``fn``, so one compilation serves each ``fn``."""

    fn: Callable[[jax.Array], Any]

    def __call__(self, params: PyTree, x: jax.Array) -> Any:
        return self.fn(x)


@named
def jacobian_spectrum(
    fn: Callable[..., Any],
    x: jax.typing.ArrayLike,
    *,
    params: object = _NO_PARAMS,
    batched: bool = False,
    key: KeyArray | None = None,
    method: Method = "auto",
    probes: int = 64,
    exact_max: int = 1024,
) -> JacobianSpectrum:
    r"""The spectrum of the input-output Jacobian :math:`J = \partial\,\text{fn}(x)/\partial x`.

    Returns the moments of the squared singular values and the spread

    .. math::

       \frac{\operatorname{Var}(s^2)}{E[s^2]^2} = \frac{E[s^4]}{E[s^2]^2} - 1
       \quad\text{over the } \min(m, n) \text{ singular values,}

    0 for a dynamical isometry; see the module documentation for the two methods, their
    formulas and the values theory predicts at initialization.

    Input and output are flattened: :math:`n` = ``x.size``, :math:`m` = the output's size. With
    ``batched=True`` the leading axis of ``x`` lists examples and ``fn`` maps a batch to a batch:
    each example's Jacobian is that of ``fn`` applied to it alone, as a batch of one
    (``fn(x[i:i+1])``, vmapped), so examples never mix (a train-mode BatchNorm, which mixes
    them, gives the Jacobian of that batch of one), and the spectrum pools every example's
    singular values (:math:`E[s^2]`, :math:`E[s^4]` average over examples). ``x`` is cast to
    float32 (float64 with ``jax_enable_x64``).

    Args:
      fn: ``fn(x) -> array``, or ``fn(params, x) -> array`` when ``params`` is given.
      x: one input (or, with ``batched``, a batch of them), a real floating-point array.
      params: a pytree passed to ``fn`` as its first argument. Passing the parameters here,
        rather than closing over them, lets calls with new parameters reuse one compilation
        (the compilation is cached on ``fn``).
      batched: whether the leading axis of ``x`` lists examples (see above).
      key: the key of the random probes; required by ``"randomized"``.
      method: ``"exact"``, ``"randomized"``, or ``"auto"`` (default): exact when
        :math:`\min(m, n) \le` ``exact_max``.
      probes: Rademacher probes per example for ``"randomized"``, >= 2 (two at least, for a
        standard error); the standard errors shrink as :math:`1/\sqrt{\text{probes}}`.
      exact_max: the largest :math:`\min(m, n)` that ``"auto"`` computes exactly, >= 1.

    Returns:
      A :class:`JacobianSpectrum`.

    Raises:
      TypeError: ``fn`` not callable; ``x`` not a real floating-point array; ``fn`` not
        returning one; a bad ``key``, ``probes``, ``exact_max`` or ``batched``.
      ValueError: an unknown ``method``; ``probes < 2``, ``exact_max < 1``; ``x`` empty or
        not finite; no ``key`` for randomized probes; a Jacobian with NaN or infinite
        entries, or one that is zero (its spread is undefined).

    Example:
      >>> import jinit
      >>> w = jinit.orthogonal()(jax.random.key(0), (64, 64))
      >>> x = jax.random.normal(jax.random.key(1), (64,))
      >>> exact = jacobian_spectrum(lambda x: x @ w @ w, x)
      >>> exact.method, exact.shape, exact.squared_singular_values.shape, exact.spread < 1e-6
      ('exact', (64, 64), (1, 64), True)
      >>> est = jacobian_spectrum(lambda x: x @ w, x, method="randomized", key=jax.random.key(2))
      >>> est.method, est.probes, est.max, round(est.mean, 4), est.mean_stderr < 1e-4
      ('randomized', 64, None, 1.0, True)

    References:
      Saxe, McClelland & Ganguli (2014), https://arxiv.org/abs/1312.6120;
      Pennington, Schoenholz & Ganguli (2017), https://arxiv.org/abs/1711.04735.
    """
    return spectrum(
        fn, x, params=params, batched=batched, key=key, method=method, probes=probes,
        exact_max=exact_max,
    )  # fmt: skip
