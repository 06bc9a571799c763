"""Initializers as values: the frozen record every initializer factory returns.

A factory such as ``jinit.he_normal`` (decorated in :mod:`jinit._src.core.factories`) validates
its arguments and returns an :class:`Init`: a small frozen callable with the JAX protocol
``init(key, shape, dtype=None, out_sharding=None)`` that knows the call that made it
(:class:`~jinit._src.core.calls.Call`). So

* ``repr(jinit.variance_scaling(2.0, "fan_in", "uniform"))`` is
  ``jinit.variance_scaling(2.0, 'fan_in', 'uniform')`` (only non-default arguments shown), and
  ``eval(repr(init)) == init``;
* ``==`` and ``hash`` go by (factory, arguments): two ``he_normal()`` are equal, so caches keyed
  on initializers (``jinit.init_params``' compiled draws, ``jax.jit`` static arguments) hit;
* ``pickle``/``cloudpickle`` round trips re-call the factory (so the arguments are validated
  again); ``init.replace(stddev=0.1)`` re-calls it with changed arguments;
* :func:`to_config` gives a plain JSON-able dict, which the registry's ``from_config`` reads;
* treescope and rich show the repr.

The shape is checked and the dtype resolved here, once for every initializer; refusals raised
while drawing are named after the factory (:mod:`jinit._src.core.errors`).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import jax
import numpy as np

from jinit._src.core.calls import Call, rebuild
from jinit._src.core.checks import resolve_dtype, resolve_shape
from jinit._src.core.errors import JinitError, claim, owned
from jinit._src.core.types import DTypeLike, KeyArray, OutSharding, Shape

__all__ = ["ANY", "FLOAT", "INEXACT", "Draw", "Init", "Kind", "to_config"]

#: The dtype kinds an initializer accepts (see :func:`jinit._src.core.checks.resolve_dtype`).
Kind: TypeAlias = Literal["float", "complex", "any"]
FLOAT: tuple[Kind, ...] = ("float",)
INEXACT: tuple[Kind, ...] = ("float", "complex")
ANY: tuple[Kind, ...] = ("any",)


#: What a factory body returns: the sampler ``draw(key, dims, dtype, out_sharding)``, given a
#: checked shape and a resolved dtype.
Draw: TypeAlias = Callable[[KeyArray, tuple[int, ...], np.dtype, OutSharding], jax.Array]


@dataclass(frozen=True, eq=False)
class Init:
    """An initializer made by a jinit factory: ``init(key, shape, dtype=None, out_sharding=None)``.

    The shape is checked and the dtype resolved (``None``: the factory's ``dtype``, else JAX's
    default float) here, once for every initializer; the factory's :class:`Draw` does the rest.

    Attributes:
      call: the factory call that made it (its repr, equality, hash and pickle).
      draw: the sampler.
      kinds: the dtype kinds it accepts.
      dtype: the factory's default dtype, or ``None``.
    """

    call: Call
    draw: Draw
    kinds: tuple[Kind, ...]
    dtype: np.dtype | None

    def __call__(
        self,
        key: KeyArray,
        shape: Shape,
        dtype: DTypeLike | None = None,
        out_sharding: OutSharding = None,
    ) -> jax.Array:
        """Create an array of ``shape`` and ``dtype`` from ``key``."""
        try:
            dims = resolve_shape(shape)
            resolved = resolve_dtype(self.dtype if dtype is None else dtype, kinds=self.kinds)
            return self.draw(key, dims, resolved, out_sharding)
        except JinitError as error:
            claim(error, self.call.info.name)
            raise

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Init) and self.call == other.call

    def __hash__(self) -> int:
        return hash(self.call)

    def __repr__(self) -> str:
        return repr(self.call)

    def __treescope_repr__(self, path: str | None, subtree_renderer: object) -> object:
        """Treescope (Flax's and Penzai's viewer) shows the repr, not the record's fields."""
        from treescope import rendering_parts  # only called when treescope is in use

        return rendering_parts.RenderableAndLineAnnotations(
            renderable=rendering_parts.text(repr(self)),
            annotations=rendering_parts.empty_part(),
        )

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[object, ...]]:
        return rebuild, (self.call.info.function, dict(self.call.arguments))

    def replace(self, **changes: object) -> Init:
        """The initializer its factory makes with ``changes`` to the arguments (validated).

        Example:
          >>> import jinit
          >>> jinit.normal(0.02).replace(stddev=0.1)
          jinit.normal(0.1)
        """
        with owned(self.call.info.name):
            unknown = sorted(set(changes) - set(self.call.info.parameters))
            if unknown:
                raise TypeError(
                    f"jinit.{self.call.info.name}: replace got unknown argument(s) "
                    f"{', '.join(unknown)}; the arguments are "
                    f"{', '.join(self.call.info.parameters)}."
                )
        rebuilt: Init = self.call.rebuild(**changes)
        return rebuilt


def _jsonable(owner: str, name: str, value: object) -> object:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, list | tuple):
        return [_jsonable(owner, name, item) for item in value]
    if isinstance(value, np.ndarray | jax.Array) and not isinstance(value, jax.core.Tracer):
        return np.asarray(value).tolist()
    raise TypeError(
        f"jinit.to_config: argument {name}={value!r} of {owner} has no JSON form; only "
        "numbers, strings, booleans, None, sequences and arrays of them do."
    )


def to_config(init: object) -> dict[str, object]:
    """A plain, JSON-able dict that :func:`jinit.from_config` turns back into ``init``.

    .. code-block:: python

       {"name": "variance_scaling", "args": {"scale": 2.0, "mode": "fan_in", ...}}

    Only the arguments that differ from the factory's defaults are stored.

    Args:
      init: an initializer made by a jinit factory (or ``jinit.zeros``/``jinit.ones``).

    Returns:
      ``{"name": ..., "args": {...}}``.

    Raises:
      TypeError: ``init`` was not made by a public jinit factory, or an argument has no JSON
        form (a traced value, a callable).

    Example:
      >>> import json, jinit
      >>> json.dumps(jinit.to_config(jinit.he_uniform(in_axis=1, out_axis=0)))
      '{"name": "he_uniform", "args": {"in_axis": 1, "out_axis": 0}}'
    """
    if not isinstance(init, Init) or not init.call.info.public:
        raise TypeError(
            f"jinit.to_config: expected an initializer made by a public jinit factory "
            f"(e.g. jinit.he_normal()), got {init!r}."
        )
    info = init.call.info
    args = {name: _jsonable(info.name, name, value) for name, value in init.call.arguments}
    name = info.shown_as if info.shown_as is not None and not args else info.name
    return {"name": name, "args": args}
