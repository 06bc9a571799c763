"""Every public factory names itself in its errors, exactly once: the decorator records it.

The name comes from the decorator on the factory (``jinit._src.core.values``), never from a
string passed by hand, so an error can neither name the wrong function (a shared builder) nor
name it twice (``jinit.jinit.gpt2_rules:``, the bug this replaced).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import jax
import jax.numpy as jnp
import pytest

import jinit
from jinit._src.core.calls import factory_info

#: For every public factory: a call with one bad argument, at factory time where the check needs
#: no shape, else at call time.
BAD: dict[str, Callable[[], object]] = {
    "constant": lambda: jinit.constant(float("inf")),
    "zeros_init": lambda: jinit.zeros_init(1),
    "ones_init": lambda: jinit.ones_init(dtype="float32"),
    "uniform": lambda: jinit.uniform(-1.0),
    "normal": lambda: jinit.normal(0.0),
    "truncated_normal": lambda: jinit.truncated_normal(lower=1.0, upper=0.0),
    "random_uniform": lambda: jinit.random_uniform(1.0, 0.0),
    "random_normal": lambda: jinit.random_normal(stddev=-1.0),
    "trunc_normal": lambda: jinit.trunc_normal(a=1.0, b=0.0),
    "variance_scaling": lambda: jinit.variance_scaling(1.0, "fan_inn", "normal"),
    "glorot_normal": lambda: jinit.glorot_normal(in_axis="0"),
    "glorot_uniform": lambda: jinit.glorot_uniform()(jax.random.key(0), (4,)),
    "he_normal": lambda: jinit.he_normal(batch_axis=(0, 0)),
    "he_uniform": lambda: jinit.he_uniform(dtype="not-a-dtype"),
    "lecun_normal": lambda: jinit.lecun_normal()(jax.random.key(0), (4, 4), jnp.int32),
    "lecun_uniform": lambda: jinit.lecun_uniform(out_axis=5)(jax.random.key(0), (4, 4)),
    "xavier_normal": lambda: jinit.xavier_normal(in_axis=1.5),
    "xavier_uniform": lambda: jinit.xavier_uniform()(jax.random.key(0), (-1, 4)),
    "kaiming_normal": lambda: jinit.kaiming_normal(out_axis=None),
    "kaiming_uniform": lambda: jinit.kaiming_uniform()(jax.random.key(0), "4x4"),
    "torch_kaiming_normal": lambda: jinit.torch_kaiming_normal(mode="fan_avg"),
    "torch_kaiming_uniform": lambda: jinit.torch_kaiming_uniform(nonlinearity="swish"),
    "torch_xavier_normal": lambda: jinit.torch_xavier_normal(gain=0.0),
    "torch_xavier_uniform": lambda: jinit.torch_xavier_uniform(gain=float("nan")),
    "orthogonal": lambda: jinit.orthogonal(method="svd"),
    "delta_orthogonal": lambda: jinit.delta_orthogonal()(jax.random.key(0), (3, 3, 8, 4)),
    "identity": lambda: jinit.identity(0.0),
    "eye": lambda: jinit.eye()(jax.random.key(0), (2, 2, 2)),
    "dirac": lambda: jinit.dirac(groups=0),
    "zero_hadamard": lambda: jinit.zero_hadamard(in_axis=(0, 1)),
    "torch_bias": lambda: jinit.torch_bias(fan_in=0),
    "preset": lambda: jinit.preset("pytorch"),
    "torch_preset": lambda: jinit.torch_preset(1),
    "torchvision_preset": lambda: jinit.torchvision_preset(1),
    "keras_preset": lambda: jinit.keras_preset(1),
    "flax_preset": lambda: jinit.flax_preset(1),
    "gpt2_rules": lambda: jinit.gpt2_rules(12, std=-0.02),
    "fixup_rules": lambda: jinit.fixup_rules(4, 1, last="*a", branch="*b"),
    "mup_rules": lambda: jinit.mup_rules(base_fan_in=0, input="*i", output="*o"),
    "rezero_rules": lambda: jinit.rezero_rules(1, 2),
}

FACTORIES = sorted(name for name in jinit.__all__ if factory_info(getattr(jinit, name)))


def test_every_public_factory_has_a_bad_call() -> None:
    assert set(FACTORIES) <= set(BAD), sorted(set(FACTORIES) - set(BAD))
    assert set(BAD) <= set(FACTORIES), sorted(set(BAD) - set(FACTORIES))


@pytest.mark.parametrize("name", FACTORIES)
def test_error_names_the_factory_exactly_once(name: str) -> None:
    canonical = factory_info(getattr(jinit, name)).name  # type: ignore[union-attr]
    with pytest.raises((ValueError, TypeError)) as caught:
        BAD[name]()
    message = str(caught.value)
    assert message.startswith(f"jinit.{canonical}: "), message
    assert len(re.findall(r"jinit\.", message.split(":")[0] + ":")) == 1, message
    assert not message.startswith(f"jinit.{canonical}: jinit."), message
    assert message.count(f"jinit.{canonical}: ") == 1, message


def test_a_shared_builder_names_the_factory_called() -> None:
    # glorot, he, lecun and the torch forms share variance scaling's checks and draw
    for name in ("glorot_normal", "he_uniform", "torch_kaiming_normal", "variance_scaling"):
        factory = getattr(jinit, name)
        args = (1.0, "fan_in", "normal") if name == "variance_scaling" else ()
        with pytest.raises(ValueError, match=rf"^jinit\.{name}: a weight of rank 1"):
            factory(*args)(jax.random.key(0), (8,))
