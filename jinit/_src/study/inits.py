"""Initializers by name for the study's command line: ``NAME`` or ``NAME:SCALE``.

``normal`` alone is the fixed small-variance N(0, 0.01²) of many tutorials; ``normal:1`` is
N(0, 1); ``orthogonal:1.414`` is a gain-√2 orthogonal init. The presets take no argument.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from jinit._src import constant, distributions, orthogonal, presets
from jinit._src.base import Initializer

__all__ = ["INITIALIZERS", "resolve_init"]

_SCALED: dict[str, Callable[[float], Initializer]] = {
    "normal": lambda s: distributions.normal(s),
    "uniform": lambda s: distributions.random_uniform(-s, s),
    "truncated_normal": lambda s: distributions.truncated_normal(s),
    "orthogonal": lambda s: orthogonal.orthogonal(s),
}
_DEFAULT_SCALE = {"normal": 0.01, "uniform": 0.05, "truncated_normal": 0.01, "orthogonal": 1.0}
_PRESETS: dict[str, Callable[[], Initializer]] = {
    "glorot_normal": presets.glorot_normal,
    "glorot_uniform": presets.glorot_uniform,
    "he_normal": presets.he_normal,
    "he_uniform": presets.he_uniform,
    "lecun_normal": presets.lecun_normal,
    "lecun_uniform": presets.lecun_uniform,
    "xavier_normal": presets.xavier_normal,
    "xavier_uniform": presets.xavier_uniform,
    "kaiming_normal": presets.kaiming_normal,
    "kaiming_uniform": presets.kaiming_uniform,
}
#: Every accepted name; ``normal``, ``uniform`` (on [-s, s]), ``truncated_normal`` and
#: ``orthogonal`` also take ``:SCALE``.
INITIALIZERS = ("zeros", *_SCALED, *_PRESETS)


def resolve_init(spec: str) -> Initializer:
    """The initializer named by ``spec`` (``NAME`` or ``NAME:SCALE``).

    Raises:
      ValueError: unknown name, a scale on a preset, or a scale that is not a positive number;
        the message lists the accepted names.

    Example:
      >>> import jax
      >>> resolve_init("normal:0.5")(jax.random.key(0), (3, 2)).shape
      (3, 2)
    """
    name, _, scale_text = spec.partition(":")
    accepted = f"expected one of {', '.join(INITIALIZERS)} (the first four also as NAME:SCALE)"
    if name not in INITIALIZERS:
        raise ValueError(f"jinit.study: unknown initializer {spec!r}; {accepted}")
    if not scale_text:
        if name == "zeros":
            return constant.zeros
        if name in _PRESETS:
            return _PRESETS[name]()
        return _SCALED[name](_DEFAULT_SCALE[name])
    if name not in _SCALED:
        raise ValueError(
            f"jinit.study: initializer {spec!r}: {name} takes no scale; only "
            f"{', '.join(_SCALED)} accept NAME:SCALE"
        )
    try:
        scale = float(scale_text)
    except ValueError:
        scale = math.nan
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(
            f"jinit.study: initializer {spec!r}: scale {scale_text!r} must be a positive number"
        )
    return _SCALED[name](scale)
