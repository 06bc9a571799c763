"""Initializers by name for the study's command line: the registry's ``NAME`` or ``NAME:ARGS``.

Names resolve through :func:`jinit.get`, so they mean what they mean everywhere in jinit:
``normal`` is ``jinit.normal()`` (the fixed N(0, 0.01²) of many tutorials), ``normal:1`` is
N(0, 1), ``orthogonal:1.414`` a gain-√2 orthogonal init, ``uniform:0.05`` is ``jinit.uniform``'s
U[0, 0.05), and ``symmetric_uniform:0.05`` is U[-0.05, 0.05) (which the study called
``uniform:0.05`` before the registry was unified). The study offers the names whose initializer
fits any weight; ``identity``/``eye`` need square kernels and ``dirac``/``delta_orthogonal``
convolution kernels.
"""

from __future__ import annotations

import inspect

from jinit._src.core.calls import factory_info
from jinit._src.core.types import Initializer
from jinit._src.initializers.catalogue import CATALOGUE
from jinit._src.initializers.registry import CONFIGURATIONS, factory, get

__all__ = ["INITIALIZERS", "resolve_init"]


def _needs_arguments(name: str) -> bool:
    info = factory_info(factory(name))
    return info is not None and any(
        p.default is inspect.Parameter.empty for p in info.signature.parameters.values()
    )


_FITTING = tuple(
    name.removesuffix("()")
    for entry in CATALOGUE
    if entry.shapes == "any"
    for name in (entry.name, *entry.aliases)
)
#: Every name the study accepts alone (each also as ``NAME:ARGS``, the factory's arguments).
INITIALIZERS: tuple[str, ...] = (
    *(name for name in _FITTING if not _needs_arguments(name)),
    *CONFIGURATIONS,
)
#: Names the study accepts only with their arguments (``constant:0.5``,
#: ``variance_scaling:2,fan_in,uniform``).
WITH_ARGUMENTS: tuple[str, ...] = tuple(name for name in _FITTING if _needs_arguments(name))


def resolve_init(spec: str) -> Initializer:
    """The initializer named by ``spec`` (``NAME`` or ``NAME:ARGS``), made by the registry.

    Raises:
      ValueError: a name the study does not offer (the message lists them), or arguments the
        initializer's factory refuses (named by that factory).

    Example:
      >>> import jax
      >>> resolve_init("normal:0.5")(jax.random.key(0), (3, 2)).shape
      (3, 2)
    """
    name, colon, _ = spec.partition(":")
    if name.strip() not in INITIALIZERS and not (colon and name.strip() in WITH_ARGUMENTS):
        raise ValueError(
            f"jinit.study: unknown initializer {spec!r}; expected one of "
            f"{', '.join(INITIALIZERS)}, each also as NAME:ARGS (e.g. normal:0.02), or "
            f"{', '.join(f'{n}:ARGS' for n in WITH_ARGUMENTS)}"
        )
    return get(spec)
