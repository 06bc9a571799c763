r"""The input-output Jacobian spectrum :func:`jinit.diagnose` reports, or why it has none.

On the first ``examples`` examples of the batch, each applied alone (a batch of one), the model's
input-output Jacobian :math:`J = \partial y / \partial x` at the parameters given, by
:func:`jinit._src.analysis.jacobian.run.spectrum`: :math:`E[s^2]` and the spread
:math:`\operatorname{Var}(s^2)/E[s^2]^2` of its squared singular values, pooled over the
examples. Exact (an SVD) when :math:`\min(m, n) \le` :data:`EXACT_MAX`, else
:data:`PROBES` Rademacher probes per example with key 0. The compilation is cached on the model,
like the rest of ``diagnose``.

It is not available -- ``None``, with the reason -- when the batch is not one floating-point
array (token ids have no input Jacobian), when the model fails on one example alone, or when
the Jacobian is zero or not finite there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from jinit._src.analysis.diagnose.models import Setup, forward
from jinit._src.analysis.jacobian.run import JacobianSpectrum, spectrum
from jinit._src.core.errors import JinitError
from jinit._src.core.types import PyTree

__all__ = ["EXACT_MAX", "EXAMPLES", "PROBES", "input_jacobian"]

#: Examples of the batch (the first ones) the Jacobian is measured on, by default.
EXAMPLES = 4
#: The largest :math:`\min(m, n)` computed exactly (an SVD per example).
EXACT_MAX = 256
#: Rademacher probes per example above :data:`EXACT_MAX`.
PROBES = 32


@dataclass(frozen=True)
class _Output:
    """The model's output as ``f((params, context), x)``; hashable, so compiled once per model."""

    setup: Setup

    def __call__(self, state: tuple[PyTree, Any], x: jax.Array) -> Any:
        params, context = state
        return forward(self.setup, params, context, x)[0]


def _first_line(error: Exception, limit: int = 200) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def input_jacobian(
    setup: Setup, params: PyTree, context: Any, batch: PyTree, examples: int
) -> tuple[JacobianSpectrum | None, str]:
    """The spectrum of the first ``examples`` examples, and ``""``; or ``None`` and the reason."""
    if examples == 0:
        return None, "not measured (jacobian_examples=0)"
    leaves = jax.tree_util.tree_leaves(batch)
    if not isinstance(batch, jax.Array):
        return None, (
            f"not available: the batch is a pytree of {len(leaves)} arrays, and an input "
            "Jacobian needs one floating-point input array"
        )
    if not jnp.issubdtype(batch.dtype, jnp.floating):
        return None, (
            f"not available: the model's input has dtype {batch.dtype} (token ids, say), which "
            "has no input Jacobian"
        )
    if batch.ndim == 0:
        return None, "not available: the batch has no leading example axis"
    x = batch[:examples]
    try:
        found = spectrum(
            _Output(setup), x, params=(params, context), batched=True, key=jax.random.key(0),
            probes=PROBES, exact_max=EXACT_MAX,
        )  # fmt: skip
    except JinitError as error:
        return None, f"not available: {error}"
    except Exception as error:  # the model's own failure on a batch of one
        return None, (
            f"not available: the model raised {type(error).__name__} on one example alone: "
            f"{_first_line(error)}"
        )
    return found, ""
