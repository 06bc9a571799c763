"""The one registry of initializers by name: :func:`get`, :func:`from_config`, :func:`names`.

Every name the command line, the study, the benchmark and the tests accept resolves here:

* a catalogue name or alias (:mod:`jinit._src.initializers.catalogue`): ``"he_normal"``,
  ``"kaiming_normal"``, ``"zeros"``: the factory called with its defaults;
* ``"name:arg,arg,..."``: the factory called with these positional arguments, each read as a
  Python literal (``"normal:0.02"`` is ``jinit.normal(0.02)``, ``"uniform:0.5"`` is
  ``jinit.uniform(0.5)`` = U[0, 0.5), ``"variance_scaling:2,fan_in,uniform"``; a bare word is
  a string);
* a named configuration (:data:`CONFIGURATIONS`): ``"torch_linear_default"``
  (``torch_kaiming_uniform(a=√5)``, PyTorch's ``nn.Linear`` weight) and
  ``"symmetric_uniform:s"`` (``random_uniform(-s, s)``, U[-s, s); ``s`` defaults to 0.05);
* a config dict from :func:`jinit.to_config` (``{"name": ..., "args": {...}}``);
* an initializer, passed through.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

from jinit._src.core.calls import factory_info
from jinit._src.core.errors import JinitTypeError, JinitValueError, named
from jinit._src.core.types import Initializer
from jinit._src.core.values import Init
from jinit._src.initializers.catalogue import CATALOGUE
from jinit._src.initializers.forms import random_uniform
from jinit._src.initializers.named import torch_kaiming_uniform

__all__ = ["CONFIGURATIONS", "factory", "from_config", "get", "names"]


def _symmetric_uniform(scale: float = 0.05) -> Initializer:
    return random_uniform(-scale, scale)


def _torch_linear_default() -> Initializer:
    return torch_kaiming_uniform(a=math.sqrt(5.0))


#: Named configurations of catalogue factories: name -> (what it is, builder).
CONFIGURATIONS: dict[str, tuple[str, Callable[..., Initializer]]] = {
    "torch_linear_default": (
        "torch_kaiming_uniform(a=√5): PyTorch's nn.Linear/Conv weight, U(±1/√fan_in)",
        _torch_linear_default,
    ),
    "symmetric_uniform": (
        "random_uniform(-s, s): U[-s, s), s = 0.05 unless given as symmetric_uniform:s",
        _symmetric_uniform,
    ),
}

_FACTORIES: dict[str, Callable[..., Any]] = {}
for _entry in CATALOGUE:
    for _name in (_entry.name, *_entry.aliases):
        _FACTORIES[_name.removesuffix("()")] = _entry.factory


def names() -> tuple[str, ...]:
    """Every name :func:`get` accepts: catalogue names, aliases and named configurations."""
    return (*_FACTORIES, *CONFIGURATIONS)


def _unknown(name: str) -> JinitValueError:
    close = difflib.get_close_matches(name, names(), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return JinitValueError(
        f"unknown initializer {name!r}; the names are {', '.join(names())}.{hint}"
    )


def factory(name: str) -> Callable[..., Any]:
    """The public object registered as ``name``: a factory, or ``zeros``/``ones`` themselves."""
    if name not in _FACTORIES:
        raise _unknown(name)
    return _FACTORIES[name]


def _literal(text: str) -> object:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    try:
        return float(text)  # nan, inf: refused by the factory, as numbers
    except ValueError:
        return text  # a bare word: a string (``fan_in``)


#: Arguments ``"name:args"`` never binds by position: ``"he_normal:2"`` is not ``in_axis=2``.
_OPTIONS = ("in_axis", "out_axis", "batch_axis", "column_axis", "dtype")


def _check_positional(name: str, target: Callable[..., Any], count: int) -> None:
    info = factory_info(target)
    if info is None or count == 0:
        return
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    leading = []
    for parameter in info.signature.parameters.values():
        if parameter.kind not in kinds or parameter.name in _OPTIONS:
            break
        leading.append(parameter.name)
    if count > len(leading):
        takes = (
            f"takes at most {len(leading)} positional arguments ({', '.join(leading)})"
            if leading
            else "takes no positional arguments"
        )
        raise JinitValueError(
            f"{name} {takes} in '{name}:...', got {count}; layout and dtype options go by "
            f"name, in a config dict ({{'name': {name!r}, 'args': {{'in_axis': ...}}}})."
        )


def _build(name: str, args: tuple[object, ...], kwargs: Mapping[str, object]) -> Initializer:
    if name in CONFIGURATIONS:
        builder = CONFIGURATIONS[name][1]
        try:
            inspect.signature(builder).bind(*args, **kwargs)
        except TypeError:
            takes = "one argument (the scale)" if name == "symmetric_uniform" else "no arguments"
            raise JinitValueError(f"{name} takes {takes}, got {args or dict(kwargs)!r}.") from None
        built: Initializer = builder(*args, **kwargs)
        return built
    target = factory(name)
    _check_positional(name, target, len(args))
    if isinstance(target, Init):
        if args or kwargs:  # jinit.zeros and jinit.ones are initializers, not factories
            raise JinitValueError(f"{name} takes no arguments, got {args or dict(kwargs)!r}.")
        return target
    result: Initializer = target(*args, **kwargs)
    return result


@named
def get(spec: object) -> Initializer:
    """The initializer ``spec`` names (see the module docstring for the forms).

    Args:
      spec: a name, ``"name:arg,..."``, a config dict (``{"name": ..., "args": {...}}``), or an
        initializer (returned as it is).

    Returns:
      The initializer, made by its factory (so its arguments are checked as usual).

    Raises:
      ValueError: an unknown name (the message lists the names), or arguments the factory
        refuses (named by that factory).
      TypeError: a ``spec`` of another type, or a config dict without ``name``.

    Example:
      >>> import jinit
      >>> jinit.get("he_normal"), jinit.get("normal:0.02"), jinit.get("symmetric_uniform:0.1")
      (jinit.he_normal(), jinit.normal(0.02), jinit.random_uniform(-0.1, 0.1))
      >>> jinit.get({"name": "variance_scaling", "args": {"scale": 2.0, "mode": "fan_in",
      ...                                                 "distribution": "uniform"}})
      jinit.variance_scaling(2.0, 'fan_in', 'uniform')
    """
    if isinstance(spec, str):
        name, colon, text = spec.strip().partition(":")
        args = tuple(_literal(part.strip()) for part in text.split(",")) if colon and text else ()
        return _build(name, args, {})
    if isinstance(spec, Mapping):
        return from_config(spec)
    if callable(spec):
        return spec
    raise JinitTypeError(
        f"spec must be a name ('he_normal', 'normal:0.02'), a config dict or an initializer, "
        f"got {spec!r} of type {type(spec).__name__}."
    )


@named
def from_config(config: Mapping[str, object]) -> Initializer:
    """The initializer a :func:`jinit.to_config` dict describes: its factory called again.

    Args:
      config: ``{"name": <registry name>, "args": {<argument>: <value>, ...}}``.

    Returns:
      The initializer (equal to the one the config was made from).

    Raises:
      TypeError: ``config`` is not such a dict.
      ValueError: an unknown name, or arguments the factory refuses.

    Example:
      >>> import jinit
      >>> init = jinit.torch_kaiming_uniform(a=5 ** 0.5, mode="fan_out")
      >>> jinit.from_config(jinit.to_config(init)) == init
      True
    """
    if not isinstance(config, Mapping) or not isinstance(config.get("name"), str):
        raise JinitTypeError(
            f"config must be a dict with a 'name' (and 'args'), as jinit.to_config gives, got "
            f"{config!r}."
        )
    args = config.get("args", {})
    if not isinstance(args, Mapping):
        raise JinitTypeError(f"config['args'] must be a dict, got {args!r}.")
    unknown = sorted(set(config) - {"name", "args"})
    if unknown:
        raise JinitValueError(f"config has unknown keys {unknown}; only 'name' and 'args'.")
    return _build(str(config["name"]), (), {str(k): v for k, v in args.items()})
