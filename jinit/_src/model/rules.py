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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

from jinit._src.core.calls import Call, factory_info, rebuild
from jinit._src.core.types import Pattern, RuleValue
from jinit._src.core.values import Init

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


class RuleSet(dict[Pattern, RuleValue]):
    """An ordered rule dict some of whose rules are optional: alternatives for layer types.

    ``strict=True`` does not require an optional rule to match (a model without norm layers
    leaves the ``"*scale"`` rule of ``preset("torch")`` unused; a transformer without biases,
    the ``"*bias"`` rule of :func:`jinit.gpt2_rules`), but still requires every other rule to
    match -- a misspelt residual pattern is an error -- and the rule set to match something.
    Extended with ``|`` (``{"*gate": jinit.zeros} | jinit.preset("torch")`` puts the new rule
    first, ``jinit.preset("torch") | {...}`` last) it stays a rule set with the same optional
    rules; unpacked into a plain dict (``{**jinit.preset("torch"), ...}``) every rule counts.

    A rule set made by a jinit factory remembers the call (:class:`~jinit._src.core.values.Call`):
    it prints as that call (``jinit.gpt2_rules(12)``), pickles by calling it again, and equals
    another rule set made by the same call, or with the same rules.

    Args:
      rules: the rules, in order.
      optional: the patterns that may match nothing; ``None``: all of them.
      origin: the factory call that made it, if any.
    """

    def __init__(
        self,
        rules: Mapping[Pattern, RuleValue] | Iterable[tuple[Pattern, RuleValue]] = (),
        *,
        optional: Iterable[Pattern] | None = None,
        origin: Call | None = None,
    ) -> None:
        super().__init__(rules)
        self.optional = frozenset(self) if optional is None else frozenset(optional)
        self.origin = origin

    def recorded(self, call: Call) -> RuleSet:
        """This rule set, made by ``call`` (what the factory decorator attaches)."""
        return RuleSet(self, optional=self.optional, origin=call)

    def __or__(self, other: Mapping[Pattern, RuleValue]) -> RuleSet:  # type: ignore[override]
        return RuleSet({**self, **dict(other)}, optional=self.optional)

    def __ror__(self, other: Mapping[Pattern, RuleValue]) -> RuleSet:  # type: ignore[override]
        return RuleSet({**dict(other), **self}, optional=self.optional)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RuleSet) and self.origin is not None and self.origin == other.origin:
            return True
        same_rules = dict.__eq__(self, other)
        if same_rules is NotImplemented or not same_rules:
            return False
        return not isinstance(other, RuleSet) or self.optional == other.optional

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # a dict: mutable, so not hashable

    def __repr__(self) -> str:
        if self.origin is not None:
            return repr(self.origin)
        return f"RuleSet({dict.__repr__(self)}, optional={sorted(map(str, self.optional))})"

    def __reduce__(self) -> tuple[object, ...]:
        if self.origin is not None:
            return rebuild, (self.origin.info.function, dict(self.origin.arguments))
        return RuleSet, (dict(self),), {"optional": self.optional, "origin": None}


@dataclass(frozen=True)
class ByRole:
    """A rule value that picks an initializer (or factory) by the parameter's role.

    Attributes:
      choices: ``(role, initializer or factory)`` pairs, ``kernel`` expanded to dense and conv.
    """

    choices: tuple[tuple[str, RuleValue], ...]

    def for_role(self, role: str) -> RuleValue | None:
        """The entry for ``role``, or None."""
        return dict(self.choices).get(role)

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles this rule has an entry for."""
        return tuple(role for role, _ in self.choices)

    def __repr__(self) -> str:
        inner = ", ".join(f"{role}={value!r}" for role, value in self.choices)
        return f"jinit.by_role({inner})"


def by_role(**choices: RuleValue) -> ByRole:
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
    pairs: list[tuple[str, RuleValue]] = []
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


def _positional(signature: inspect.Signature) -> list[str]:
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [name for name, p in signature.parameters.items() if p.kind in kinds]


def _signature(value: object) -> inspect.Signature | None:
    """A factory's signature: recorded by jinit's decorator, else read (a callable of one's own).

    A jinit initializer (:class:`~jinit._src.core.values.Init`) has none: it is no factory.
    """
    if isinstance(value, Init):
        return None
    info = factory_info(value)
    if info is not None:
        return info.signature
    try:
        signature = inspect.signature(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if "key" in signature.parameters else signature


def _factory(value: object) -> tuple[inspect.Signature, set[str]] | None:
    """The factory behind ``value`` and the arguments a ``functools.partial`` fixes."""
    if isinstance(value, functools.partial):
        signature = _signature(value.func)
        if signature is None:
            return None
        return signature, set(value.keywords) | set(_positional(signature)[: len(value.args)])
    signature = _signature(value)
    return None if signature is None else (signature, set())


RuleKind: TypeAlias = Literal["by_role", "axes", "explicit", "fan_in", "initializer"]


def rule_kind(value: object) -> RuleKind:
    """``"by_role"``, ``"axes"``, ``"explicit"`` (axes given), ``"fan_in"`` or ``"initializer"``.

    Recognized by type: a :func:`by_role` value; a jinit initializer; a jinit factory (or a
    ``functools.partial`` of one) taking ``in_axis`` or ``fan_in``, by the signature its
    decorator recorded. A callable of one's own is read by its signature (a ``key`` argument
    makes it an initializer). Anything else is called as an initializer (a jinit factory
    taking neither, passed without ``()``, then says so).

    Example:
      >>> import functools, jinit
      >>> rule_kind(jinit.he_normal), rule_kind(jinit.he_normal()), rule_kind(jinit.torch_bias)
      ('axes', 'initializer', 'fan_in')
      >>> rule_kind(functools.partial(jinit.he_normal, in_axis=1, out_axis=0))
      'explicit'
    """
    if isinstance(value, ByRole):
        return "by_role"
    found = _factory(value)
    if found is None:
        return "initializer"
    signature, bound = found
    if "in_axis" in signature.parameters:
        return "explicit" if bound & set(AXIS_ARGUMENTS) else "axes"
    if "fan_in" in signature.parameters:
        return "fan_in"
    return "initializer"


def takes_kernel_role(value: object) -> bool:
    """Whether a ``fan_in`` factory also takes ``kernel_role`` (the role of that kernel)."""
    found = _factory(value)
    return found is not None and "kernel_role" in found[0].parameters


def accepts_no_fan_in(value: object) -> bool:
    """Whether a ``fan_in`` factory accepts ``fan_in=None`` (a parameter with no kernel)."""
    found = _factory(value)
    if found is None or "fan_in" not in found[0].parameters:
        return False
    return found[0].parameters["fan_in"].default is None
