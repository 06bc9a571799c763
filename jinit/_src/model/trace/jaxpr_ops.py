"""Families of JAX primitives, by what they do to a value's axes, and calls into nested programs.

Shared by :mod:`jinit._src.model.trace.walk` (following parameters),
:mod:`jinit._src.model.trace.output_axes`
(following a contraction's output axes) and :mod:`jinit._src.model.trace.jaxpr_eval` (reading
values out).
"""

from __future__ import annotations

from jax.extend.core import ClosedJaxpr, Jaxpr, JaxprEqn

__all__ = [
    "ADDITIVE",
    "ELEMENTWISE",
    "IDENTITY",
    "MULTIPLICATIVE",
    "RELAYOUTS",
    "TRANSFORMS",
    "call_jaxpr",
]

#: Primitives that are the identity on values (possibly n operands to n results).
IDENTITY = {
    "convert_element_type",
    "copy",
    "copy_p",
    "neg",
    "reduce_precision",
    "real",
    "conj",
    "optimization_barrier",
    "sharding_constraint",
    "reshard",
    "mesh_cast",
    "device_put",
    "pvary",
    "stop_gradient",
    "rev",
    "pad",
}
ADDITIVE = {"add", "sub", "add_any"}
MULTIPLICATIVE = {"mul", "div"}
#: Binary operations that keep a weight a weight when the other operand is data-free.
TRANSFORMS = ADDITIVE | MULTIPLICATIVE | {"max", "min"}
#: Re-layouts of one operand (besides the identities): they keep a kernel's output its output.
RELAYOUTS = {"reshape", "transpose", "broadcast_in_dim", "squeeze", "slice", "dynamic_slice"}
#: Elementwise operations of one or two operands of the same rank: they keep every axis.
ELEMENTWISE = (
    ADDITIVE
    | MULTIPLICATIVE
    | {
        "max",
        "min",
        "pow",
        "integer_pow",
        "exp",
        "exp2",
        "expm1",
        "log",
        "log1p",
        "tanh",
        "logistic",
        "erf",
        "erf_inv",
        "abs",
        "sign",
        "sqrt",
        "rsqrt",
        "square",
        "sin",
        "cos",
        "select_n",
        "clamp",
    }
)


def call_jaxpr(eqn: JaxprEqn) -> tuple[Jaxpr, int] | None:
    """The program a call-like equation runs on its operands (jit, remat, custom_jvp...)."""
    for param in eqn.params.values():
        inner = param.jaxpr if isinstance(param, ClosedJaxpr) else param
        if (
            isinstance(inner, Jaxpr)
            and len(inner.invars) == len(eqn.invars)
            and len(inner.outvars) == len(eqn.outvars)
        ):
            n_consts = len(param.consts) if isinstance(param, ClosedJaxpr) else 0
            return inner, n_consts
    return None
