"""What a rule of :func:`jinit.reinit` can map a pattern to, and how each kind is recognized.

=====================================  ========================================================
rule value                             what reinit does with it
=====================================  ========================================================
an initializer (``jinit.zeros``,       called as it is: ``init(key, shape, dtype)``
``jinit.he_normal()``)
a factory taking ``in_axis``           called with the parameter's layout (its role must be a
(``jinit.he_normal``)                  weight: dense, conv or embedding), then drawn
a factory with its axes given          called as it is (``functools.partial(jinit.he_normal,
                                       in_axis=1, out_axis=0)``): explicit axes are never
                                       overridden
a factory taking ``fan_in``            called with the fan-in of the kernel the parameter is
(:func:`jinit.torch_bias`)             added to; with ``fan_in=None`` where there is none, if
                                       its ``fan_in`` defaults to ``None``; and with
                                       ``kernel_role`` (dense, conv...) if it takes one
:func:`jinit.by_role`                  the entry for the parameter's role
=====================================  ========================================================
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AXIS_ARGUMENTS",
    "ROLE_KEYS",
    "ByRole",
    "RuleSet",
    "accepts_no_fan_in",
    "by_role",
    "rule_kind",
    "takes_kernel_role",
]

#: The factory arguments that carry a layout.
AXIS_ARGUMENTS = ("in_axis", "out_axis", "batch_axis")
#: The roles :func:`by_role` accepts (``kernel`` stands for both ``dense`` and ``conv``).
ROLE_KEYS = ("dense", "conv", "kernel", "embedding", "bias", "scale", "other")


class RuleSet(dict[Any, Any]):
    """An ordered rule dict some of whose rules are optional: alternatives for layer types.

    ``strict=True`` does not require an optional rule to match (a model without norm layers
    leaves the ``"*scale"`` rule of ``preset("torch")`` unused; a transformer without biases,
    the ``"*bias"`` rule of :func:`jinit.gpt2_rules`), but still requires every other rule to
    match -- a misspelt residual pattern is an error -- and the rule set to match something.
    Extended with ``|`` (``{"*gate": jinit.zeros} | jinit.preset("torch")`` puts the new rule
    first, ``jinit.preset("torch") | {...}`` last) it stays a rule set with the same optional
    rules; unpacked into a plain dict (``{**jinit.preset("torch"), ...}``) every rule counts.

    Args:
      rules: the rules, in order.
      optional: the patterns that may match nothing; ``None``: all of them.
    """

    def __init__(self, rules: Any = (), *, optional: Any = None) -> None:
        super().__init__(rules)
        self.optional = frozenset(self) if optional is None else frozenset(optional)

    def __or__(self, other: Any) -> RuleSet:
        return RuleSet({**self, **dict(other)}, optional=self.optional)

    def __ror__(self, other: Any) -> RuleSet:
        return RuleSet({**dict(other), **self}, optional=self.optional)

    def __repr__(self) -> str:
        return f"RuleSet({dict.__repr__(self)}, optional={sorted(map(str, self.optional))})"


@dataclass(frozen=True)
class ByRole:
    """A rule value that picks an initializer (or factory) by the parameter's role.

    Attributes:
      choices: ``(role, initializer or factory)`` pairs, ``kernel`` expanded to dense and conv.
    """

    choices: tuple[tuple[str, Any], ...]

    def for_role(self, role: str) -> Any:
        """The entry for ``role``, or None."""
        return dict(self.choices).get(role)

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles this rule has an entry for."""
        return tuple(role for role, _ in self.choices)

    def __repr__(self) -> str:
        inner = ", ".join(f"{role}={value!r}" for role, value in self.choices)
        return f"jinit.by_role({inner})"


def by_role(**choices: Any) -> ByRole:
    """A rule value for :func:`jinit.reinit` that picks the initializer by the parameter's role.

    The role is what :func:`jinit.trace_axes` reads from the computation (with ``axes=``), or
    what ``reinit`` knows from the layer's type or Flax's names: ``dense``, ``conv``,
    ``embedding``, ``bias``, ``scale`` or ``other``; ``kernel=`` sets ``dense`` and ``conv``
    at once. One pattern (``"*weight"``, ``"*kernel"``) can then serve the layers of a model
    that share a parameter name but not a role: PyTorch-style names put a ``weight`` in every
    ``Linear``, ``Conv`` and norm layer.

    Args:
      **choices: ``role=initializer or factory``; a matched parameter whose role has no entry
        is an error.

    Returns:
      The rule value.

    Raises:
      TypeError: an unknown role, or a value that is not callable.

    Example:
      >>> import jinit
      >>> rule = jinit.by_role(kernel=jinit.he_normal, scale=jinit.ones, bias=jinit.zeros)
      >>> rule.roles
      ('dense', 'conv', 'scale', 'bias')
    """
    pairs: list[tuple[str, Any]] = []
    for role, value in choices.items():
        if role not in ROLE_KEYS:
            raise TypeError(
                f"jinit.by_role: unknown role {role!r}; the roles are {', '.join(ROLE_KEYS)}"
            )
        if not callable(value) or isinstance(value, ByRole):
            raise TypeError(
                f"jinit.by_role: {role}= must be an initializer or a factory, got {value!r}"
            )
        for expanded in ("dense", "conv") if role == "kernel" else (role,):
            pairs = [(r, v) for r, v in pairs if r != expanded]
            pairs.append((expanded, value))
    if not pairs:
        raise TypeError("jinit.by_role: give at least one role=initializer")
    return ByRole(tuple(pairs))


def _bound_arguments(value: functools.partial[Any]) -> set[str]:
    """Names of the arguments a ``functools.partial`` fixes (keywords and positionals)."""
    bound = set(value.keywords)
    try:
        parameters = list(inspect.signature(value.func).parameters.values())
    except (TypeError, ValueError):
        return bound
    positional = [
        p.name
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    bound.update(positional[: len(value.args)])
    return bound


def rule_kind(value: Any) -> str:
    """``"by_role"``, ``"axes"``, ``"explicit"`` (axes given), ``"fan_in"`` or ``"initializer"``.

    Example:
      >>> import functools, jinit
      >>> rule_kind(jinit.he_normal), rule_kind(jinit.he_normal()), rule_kind(jinit.torch_bias)
      ('axes', 'initializer', 'fan_in')
      >>> rule_kind(functools.partial(jinit.he_normal, in_axis=1, out_axis=0))
      'explicit'
    """
    if isinstance(value, ByRole):
        return "by_role"
    try:
        parameters = inspect.signature(value).parameters
    except (TypeError, ValueError):
        return "initializer"
    if "key" in parameters:
        return "initializer"
    if "in_axis" in parameters:
        if isinstance(value, functools.partial) and _bound_arguments(value) & set(AXIS_ARGUMENTS):
            return "explicit"
        return "axes"
    if "fan_in" in parameters:
        return "fan_in"
    return "initializer"


def takes_kernel_role(value: Callable[..., Any]) -> bool:
    """Whether a ``fan_in`` factory also takes ``kernel_role`` (the role of that kernel)."""
    try:
        return "kernel_role" in inspect.signature(value).parameters
    except (TypeError, ValueError):
        return False


def accepts_no_fan_in(value: Callable[..., Any]) -> bool:
    """Whether a ``fan_in`` factory accepts ``fan_in=None`` (a parameter with no kernel)."""
    try:
        parameter = inspect.signature(value).parameters["fan_in"]
    except (TypeError, ValueError, KeyError):
        return False
    return parameter.default is None
