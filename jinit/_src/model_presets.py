r"""Whole-model initialization presets for :func:`jinit.reinit`: PyTorch, Keras and Flax defaults.

Each preset is an ordered rule set ``{pattern: initializer or factory}``. Factories receive the
layer's axes (see :func:`jinit.layer_axes`); a factory with a ``fan_in`` parameter, such as
:func:`torch_bias`, receives the fan-in of the **sibling kernel** of the same layer -- the one
thing no per-tensor initializer can know, and what PyTorch's default bias needs.

=========  ===================================  ====================  ======================
preset     kernels (Dense, Conv, attention)     biases                embeddings
=========  ===================================  ====================  ======================
torch      U(±1/√fan_in) (kaiming_uniform a=√5)  U(±1/√fan_in kernel)  N(0, 1)
keras      glorot_uniform; recurrent orthogonal  0                     U(±0.05)
flax       lecun_normal; recurrent orthogonal    0                     N(0, 1/features)
=========  ===================================  ====================  ======================

Recurrent kernels are the hidden-to-hidden kernels of Flax's LSTM/GRU cells (``hi``, ``hf``,
``hg``, ``ho``, ``hr``, ``hz``, ``hn``). PyTorch's own recurrent layers use U(±1/√hidden) for
every weight; port those with an explicit rule.

References:
  PyTorch ``nn.Linear.reset_parameters``/``nn.Conv2d.reset_parameters`` (kaiming_uniform_ with
  a=√5, bias bound 1/√fan_in) and ``nn.Embedding`` (normal_); Keras ``Dense``/``LSTM``/
  ``Embedding`` defaults; Flax ``linen.Dense``/``LSTMCell``/``Embed`` defaults.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import partial

from jinit._src.base import Initializer
from jinit._src.checks import check_real
from jinit._src.constant import zeros
from jinit._src.distribution_forms import random_uniform
from jinit._src.distributions import normal
from jinit._src.orthogonal import orthogonal
from jinit._src.presets import glorot_uniform, lecun_normal, torch_kaiming_uniform
from jinit._src.variance_scaling import variance_scaling

__all__ = ["PRESETS", "flax_preset", "keras_preset", "preset", "torch_bias", "torch_preset"]

Rules = dict[str | re.Pattern[str], Initializer | Callable[..., Initializer]]
_RECURRENT = re.compile(r".*/(hi|hf|hg|ho|hr|hz|hn)/kernel")


def torch_bias(*, fan_in: int) -> Initializer:
    r"""PyTorch's default bias: :math:`U(-1/\sqrt{n}, 1/\sqrt{n})`, n = the kernel's fan-in.

    Used through :func:`jinit.reinit`, which passes the fan-in of the layer's kernel.

    Args:
      fan_in: fan-in of the kernel of the same layer (> 0).

    Returns:
      The uniform initializer with bound ``1 / sqrt(fan_in)``.

    Raises:
      ValueError: ``fan_in`` not a positive number.

    Example:
      >>> import jax
      >>> b = torch_bias(fan_in=16)(jax.random.key(0), (8,))
      >>> bool((abs(b) <= 0.25).all())
      True
    """
    check_real("jinit.torch_bias", "fan_in", fan_in, positive=True)
    bound = 1.0 / math.sqrt(fan_in)
    return random_uniform(-bound, bound)


def torch_preset() -> Rules:
    """PyTorch's default initialization, for porting a model to Flax with the same statistics."""
    kernel: Callable[..., Initializer] = partial(torch_kaiming_uniform, math.sqrt(5.0))
    return {
        "*embedding": normal(1.0),
        "*kernel": kernel,
        "*bias": torch_bias,
    }


def keras_preset() -> Rules:
    """Keras defaults: Glorot uniform kernels, orthogonal recurrent kernels, zero biases."""
    return {
        "*embedding": random_uniform(-0.05, 0.05),
        _RECURRENT: orthogonal(),
        "*kernel": glorot_uniform,
        "*bias": zeros,
    }


def flax_preset() -> Rules:
    """Flax defaults: LeCun normal kernels, orthogonal recurrent kernels, zero biases."""
    return {
        "*embedding": variance_scaling(1.0, "fan_in", "normal", out_axis=0),
        _RECURRENT: orthogonal(),
        "*kernel": lecun_normal,
        "*bias": zeros,
    }


#: The presets by name.
PRESETS: dict[str, Callable[[], Rules]] = {
    "torch": torch_preset,
    "keras": keras_preset,
    "flax": flax_preset,
}


def preset(name: str) -> Rules:
    """The rule set of preset ``name`` (``torch``, ``keras`` or ``flax``).

    Raises:
      ValueError: an unknown name; the message lists the presets.

    Example:
      >>> sorted(preset("torch"))
      ['*bias', '*embedding', '*kernel']
    """
    if name not in PRESETS:
        raise ValueError(
            f"jinit.preset: unknown preset {name!r}; expected one of {', '.join(PRESETS)}"
        )
    return PRESETS[name]()
