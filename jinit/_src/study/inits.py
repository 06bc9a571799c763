"""Initializers by name for the study's command line: ``NAME`` or ``NAME:SCALE``.

``normal`` alone is the fixed small-variance N(0, 0.01²) of many tutorials; ``normal:1`` is
N(0, 1); ``orthogonal:1.414`` is a gain-√2 orthogonal init. The presets take no argument.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from jinit._src.core.types import Initializer
from jinit._src.initializers import constant, orthogonal
from jinit._src.initializers import forms as distribution_forms
from jinit._src.initializers import named as presets
from jinit._src.initializers import random as distributions

__all__ = ["INITIALIZERS", "resolve_init"]

_SCALED: dict[str, Callable[[float], Initializer]] = {
    "normal": lambda s: distributions.normal(s),
    "uniform": lambda s: distribution_forms.random_uniform(-s, s),
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
    # PyTorch's forms with PyTorch's defaults, in Flax's (in, out) layout; torch_kaiming_uniform
    # with a = sqrt(5) is nn.Linear's default weight init
    "torch_kaiming_normal": presets.torch_kaiming_normal,
    "torch_kaiming_uniform": presets.torch_kaiming_uniform,
    "torch_linear_default": lambda: presets.torch_kaiming_uniform(a=math.sqrt(5.0)),
    "torch_xavier_normal": presets.torch_xavier_normal,
    "torch_xavier_uniform": presets.torch_xavier_uniform,
}
#: Every accepted name; ``normal``, ``uniform`` (on [-s, s]), ``truncated_normal`` and
#: ``orthogonal`` also take ``:SCALE``.
#: ``ones`` is offered to show the symmetry failure of any constant, like ``zeros``.
#: (``identity``/``eye`` need square kernels and ``dirac``/``delta_orthogonal`` convolution
#: kernels, so they are not offered for the study's models.)
INITIALIZERS = ("zeros", "ones", *_SCALED, *_PRESETS)


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
    accepted = (
        f"expected one of {', '.join(INITIALIZERS)} ({', '.join(_SCALED)} also as NAME:SCALE)"
    )
    if name not in INITIALIZERS:
        raise ValueError(f"jinit.study: unknown initializer {spec!r}; {accepted}")
    if not scale_text:
        if name == "zeros":
            return constant.zeros
        if name == "ones":
            return constant.ones
        if name in _PRESETS:
            return _PRESETS[name]()
        return _SCALED[name](_DEFAULT_SCALE[name])
    if name not in _SCALED:  # zeros, ones and the presets take no scale
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
