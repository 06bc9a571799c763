"""Evaluating a traced program while reading out the values of chosen equations.

:func:`jinit.lsuv` rescales each kernel by the variance of the output of the operation that
consumes it. :func:`run_recording` runs a ``jax.make_jaxpr`` program -- inside ``jax.jit`` or
not: it only binds JAX primitives -- and returns, beside the program's outputs, the first output
of each equation at the given *sites* (:mod:`jinit._src.model.trace.walk`: indices into the program
and
the ``jit``/``remat``/``custom_jvp``/``custom_vjp`` calls it makes). Calls that lead to a site
are evaluated equation by equation (a custom JVP or VJP rule is irrelevant for a forward pass);
everything else is bound as it is.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from jax.extend.core import ClosedJaxpr, Jaxpr, Literal

from jinit._src.model.trace.jaxpr_ops import call_jaxpr
from jinit._src.model.trace.walk import Site

__all__ = ["recordable", "run_recording"]


def recordable(site: Site) -> bool:
    """Whether a site can be read out: not inside a loop or branch body (a str entry)."""
    return all(isinstance(step, int) for step in site)


def run_recording(
    closed: ClosedJaxpr, args: Sequence[Any], sites: Collection[Site]
) -> tuple[list[Any], dict[Site, Any]]:
    """Run ``closed`` on ``args``; return its outputs and ``{site: that equation's output}``.

    Raises:
      ValueError: a site inside a loop or branch body (not :func:`recordable`).
    """
    wanted = set(sites)
    for site in wanted:
        if not recordable(site):
            raise ValueError(f"jinit.lsuv: site {site} is inside a loop or branch body")
    found: dict[Site, Any] = {}
    outs = _run(closed.jaxpr, list(closed.consts), list(args), (), wanted, found)
    return outs, found


def _run(
    jaxpr: Jaxpr,
    consts: list[Any],
    args: list[Any],
    prefix: Site,
    wanted: set[Site],
    found: dict[Site, Any],
) -> list[Any]:
    env: dict[Any, Any] = dict(
        zip((*jaxpr.constvars, *jaxpr.invars), (*consts, *args), strict=True)
    )

    def read(atom: Any) -> Any:
        return atom.val if isinstance(atom, Literal) else env[atom]

    for index, eqn in enumerate(jaxpr.eqns):
        site = (*prefix, index)
        values = [read(v) for v in eqn.invars]
        inner = call_jaxpr(eqn)
        below = inner is not None and any(w[: len(site)] == site and w != site for w in wanted)
        if below:
            assert inner is not None
            program, n_consts = inner
            param = next(p for p in eqn.params.values() if _is(p, program))
            inner_consts = list(param.consts) if isinstance(param, ClosedJaxpr) else []
            assert len(inner_consts) == n_consts
            outs = _run(program, inner_consts, values, site, wanted, found)
        else:
            params = eqn.primitive.get_bind_params(eqn.params)  # type: ignore[no-untyped-call]
            with eqn.ctx.manager:
                result = eqn.primitive.bind(*values, **params)  # type: ignore[no-untyped-call]
            outs = list(result) if eqn.primitive.multiple_results else [result]
        if site in wanted:
            found[site] = outs[0]
        for var, value in zip(eqn.outvars, outs, strict=True):
            env[var] = value
    return [read(v) for v in jaxpr.outvars]


def _is(param: Any, program: Jaxpr) -> bool:
    return (param.jaxpr if isinstance(param, ClosedJaxpr) else param) is program
