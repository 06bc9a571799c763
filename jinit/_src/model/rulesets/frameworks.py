r"""Whole-model initialization presets for :func:`jinit.reinit`: PyTorch, torchvision, Keras, Flax.

Each preset is an ordered :class:`~jinit._src.model.rules.RuleSet` ``{pattern: rule value}``
whose rules are alternatives for the layer types a model may or may not have (``strict``
checks that the preset matched something). Factories receive the parameter's layout (from
``axes=jinit.trace_axes(...)``, or the layer's type and Flax's names); :func:`jinit.by_role`
picks by role where one name serves several layers (PyTorch-style ``weight``); a factory with a
``fan_in`` parameter, such as :func:`torch_bias`, receives the fan-in of **the kernel the bias
is added to** -- the one thing no per-tensor initializer can know, and what PyTorch's default
bias needs.

===========  ================================  ======================  ============  ==========
preset       kernels / weights                 biases                  norm scale,   embeddings
                                                                       bias
===========  ================================  ======================  ============  ==========
torch        U(±1/√fan_in) (kaiming_uniform    U(±1/√fan_in of the     1, 0          N(0, 1)
             a=√5)                             kernel); 0 without one
torchvision  convs N(0, 2/fan_out) (kaiming_   conv 0; Linear U(±1/    1, 0          N(0, 1)
             normal_ fan_out, relu); Linear    √fan_in)
             as torch
keras        glorot_uniform; recurrent         0                       1, 0          U(±0.05)
             orthogonal
flax         lecun_normal; recurrent           0                       1, 0          N(0, 1/
             orthogonal                                                              features)
===========  ================================  ======================  ============  ==========

Every preset also sets linen's ``batch_stats`` (running mean 0, variance 1, as PyTorch, Keras
and Flax do), so an abstract ``jax.eval_shape`` tree is fully initialized. Recurrent kernels are
the hidden-to-hidden kernels of Flax's LSTM/GRU cells (``hi``, ``hf``, ``hg``, ``ho``, ``hr``,
``hz``, ``hn``). PyTorch's own recurrent layers use U(±1/√hidden) for every weight; port those
with an explicit rule.

References:
  PyTorch ``nn.Linear.reset_parameters``/``nn.Conv2d.reset_parameters`` (kaiming_uniform_ with
  a=√5, bias bound 1/√fan_in), ``nn.Embedding`` (normal_), ``_NormBase.reset_parameters``
  (ones, zeros); torchvision ``models/resnet.py`` (``ResNet.__init__``: kaiming_normal_ with
  mode="fan_out", nonlinearity="relu" for every Conv2d; BatchNorm2d/GroupNorm weight 1, bias 0;
  nn.Linear left at its default); Keras ``Dense``/``LSTM``/``Embedding`` defaults; Flax
  ``linen.Dense``/``LSTMCell``/``Embed`` defaults.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import Any

from jinit._src.core.calls import FactoryPartial
from jinit._src.core.checks import check_real
from jinit._src.core.errors import JinitValueError
from jinit._src.core.factories import initializer_factory, recorded_factory
from jinit._src.core.types import Initializer
from jinit._src.core.values import ANY, Draw
from jinit._src.initializers.constant import ones, zeros
from jinit._src.initializers.forms import random_uniform
from jinit._src.initializers.named import (
    glorot_uniform,
    lecun_normal,
    torch_kaiming_normal,
    torch_kaiming_uniform,
)
from jinit._src.initializers.orthogonal import orthogonal
from jinit._src.initializers.random import normal
from jinit._src.initializers.variance_scaling import variance_scaling
from jinit._src.model.rules import RuleSet, by_role

__all__ = [
    "PRESETS",
    "flax_preset",
    "keras_preset",
    "preset",
    "torch_bias",
    "torch_preset",
    "torchvision_preset",
]

_RECURRENT = re.compile(r".*/(hi|hf|hg|ho|hr|hz|hn)/kernel")
#: linen's running statistics of BatchNorm: mean 0, variance 1 in every framework.
_BATCH_STATS: dict[str | re.Pattern[str], Any] = {
    "batch_stats/*mean": zeros,
    "batch_stats/*var": ones,
}


@initializer_factory(kinds=ANY)
def torch_bias(*, fan_in: float | None = None) -> Draw:
    r"""PyTorch's default bias: :math:`U(-1/\sqrt{n}, 1/\sqrt{n})`, n = the kernel's fan-in.

    Used through :func:`jinit.reinit`, which passes the fan-in of the kernel whose output the
    bias is added to (traced, or the ``kernel``/``weight`` beside it). A bias that is added to
    no kernel's output -- a norm layer's -- gets ``fan_in=None`` and is 0, as in PyTorch
    (``_NormBase.reset_parameters``).

    Args:
      fan_in: fan-in of the kernel of the same layer (> 0), or ``None`` for a layer without one.

    Returns:
      The uniform initializer with bound ``1 / sqrt(fan_in)``, or :func:`jinit.zeros`.

    Raises:
      ValueError: ``fan_in`` not a positive number.

    Example:
      >>> import jax
      >>> b = torch_bias(fan_in=16)(jax.random.key(0), (8,))
      >>> bool((abs(b) <= 0.25).all())
      True
    """
    if fan_in is None:
        return zeros.draw
    check_real("fan_in", fan_in, positive=True)
    bound = 1.0 / math.sqrt(fan_in)
    return random_uniform(-bound, bound).draw


def _fresh_copies(build: Callable[[], RuleSet]) -> Callable[[], RuleSet]:
    """Build a preset's rule values once; hand out a new rule set of those same values.

    ``jinit.reinit`` keys its compiled draws by the rule values, so the same values on every
    call (``preset("torch")`` in a loop) compile nothing again; the dict itself is new, so a
    caller may extend it.
    """
    built = functools.cache(build)

    @functools.wraps(build)
    def copy() -> RuleSet:
        rules = built()
        return RuleSet(dict(rules), optional=rules.optional)

    return copy


def _torch_kernel() -> Callable[..., Initializer]:
    return FactoryPartial(torch_kaiming_uniform, math.sqrt(5.0))


@recorded_factory
@_fresh_copies
def torch_preset() -> RuleSet:
    """PyTorch's default initialization, for porting a model to Flax with the same statistics.

    Kernels (``kernel``, and ``weight`` of dense/conv layers) U(±1/√fan_in); biases
    U(±1/√fan_in of their kernel), 0 in layers without one (norms); norm scales 1;
    embeddings N(0, 1); running statistics 0 and 1.
    """
    kernel = _torch_kernel()
    return RuleSet(
        {
            "*embedding": normal(1.0),
            "*kernel": kernel,
            "*weight": by_role(kernel=kernel, embedding=normal(1.0), scale=ones),
            "*scale": ones,
            "*bias": torch_bias,
            **_BATCH_STATS,
        }
    )


@initializer_factory(kinds=ANY, name="torchvision_preset", public=False)
def torchvision_bias(*, fan_in: float | None = None, kernel_role: str | None = None) -> Draw:
    """Biases as torchvision sets them: a Linear's as PyTorch's default; others 0."""
    if kernel_role == "dense":
        return torch_bias(fan_in=fan_in).draw
    return zeros.draw


@recorded_factory
@_fresh_copies
def torchvision_preset() -> RuleSet:
    """The initialization of torchvision's ResNets: convs kaiming_normal_(fan_out, relu), norms 1/0.

    As ``torchvision.models.ResNet.__init__``: every convolution N(0, 2/fan_out) (untruncated;
    fan_out = out_channels · window), BatchNorm/GroupNorm weight 1 and bias 0, ``nn.Linear``
    left at PyTorch's default (U(±1/√fan_in) weight and bias). Convolution biases, which
    torchvision's ResNets do not have, are 0 as in its VGG and MobileNet. Telling convolutions
    from dense layers needs their roles: from ``axes=jinit.trace_axes(...)``, or from the
    layer's type or Flax's names (``Conv_0``; a user-named conv kernel is refused without a
    trace).
    """
    conv = FactoryPartial(torch_kaiming_normal, 0.0, "fan_out", "relu")
    dense = _torch_kernel()
    return RuleSet(
        {
            "*embedding": normal(1.0),
            "*kernel": by_role(conv=conv, dense=dense),
            "*weight": by_role(conv=conv, dense=dense, embedding=normal(1.0), scale=ones),
            "*scale": ones,
            "*bias": torchvision_bias,
            **_BATCH_STATS,
        }
    )


@recorded_factory
@_fresh_copies
def keras_preset() -> RuleSet:
    """Keras defaults: Glorot uniform kernels, orthogonal recurrent kernels, zero biases."""
    rules: dict[str | re.Pattern[str], Any] = {
        "*embedding": random_uniform(-0.05, 0.05),
        _RECURRENT: orthogonal(),
        "*kernel": glorot_uniform,
        "*scale": ones,
        "*bias": zeros,
        **_BATCH_STATS,
    }
    return RuleSet(rules)


@recorded_factory
@_fresh_copies
def flax_preset() -> RuleSet:
    """Flax defaults: LeCun normal kernels, orthogonal recurrent kernels, zero biases."""
    rules: dict[str | re.Pattern[str], Any] = {
        "*embedding": variance_scaling(1.0, "fan_in", "normal", out_axis=0),
        _RECURRENT: orthogonal(),
        "*kernel": lecun_normal,
        "*scale": ones,
        "*bias": zeros,
        **_BATCH_STATS,
    }
    return RuleSet(rules)


#: The presets by name.
PRESETS: dict[str, Callable[[], RuleSet]] = {
    "torch": torch_preset,
    "torchvision": torchvision_preset,
    "keras": keras_preset,
    "flax": flax_preset,
}


@recorded_factory
def preset(name: str) -> RuleSet:
    """The rule set of preset ``name`` (``torch``, ``torchvision``, ``keras`` or ``flax``).

    Raises:
      ValueError: an unknown name; the message lists the presets.

    Example:
      >>> list(preset("torch"))  # doctest: +NORMALIZE_WHITESPACE
      ['*embedding', '*kernel', '*weight', '*scale', '*bias', 'batch_stats/*mean',
       'batch_stats/*var']
    """
    if name not in PRESETS:
        raise JinitValueError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
    return PRESETS[name]()
