"""Fans for every layer layout, hand-computed, and equal to JAX's arithmetic."""

from __future__ import annotations

import pytest
from jax._src.nn.initializers import _compute_fans as jax_compute_fans

import jinit

CASES = [
    # (layer, shape, axes, fan_in, fan_out, receptive field)
    ("dense", (784, 256), {}, 784, 256, 1),
    ("conv1d", (5, 16, 32), {}, 80, 160, 5),
    ("conv2d", (3, 3, 64, 128), {}, 576, 1152, 9),
    ("conv3d", (3, 3, 3, 8, 16), {}, 216, 432, 27),
    # grouped conv, Flax kernel (*window, in/groups, out): 64 in, 4 groups -> 16 per group
    ("grouped_conv", (3, 3, 16, 128), {}, 144, 1152, 9),
    # depthwise conv: in/groups = 1, out = channels x multiplier
    ("depthwise_conv", (3, 3, 1, 64), {}, 9, 576, 9),
    # DenseGeneral / attention q,k,v: (in, heads, head_dim)
    ("attention_qkv", (512, 8, 64), {"in_axis": 0, "out_axis": (1, 2)}, 512, 512, 1),
    # attention output: (heads, head_dim, out)
    ("attention_out", (8, 64, 512), {"in_axis": (0, 1), "out_axis": 2}, 512, 512, 1),
    # scanned/stacked layers: (L, in, out), the stack excluded
    ("stacked_dense", (12, 300, 100), {"batch_axis": 0}, 300, 100, 1),
    ("stacked_conv", (4, 3, 3, 8, 16), {"batch_axis": 0}, 72, 144, 9),
    # PyTorch layout (out, in, *window)
    ("torch_linear", (256, 784), {"in_axis": 1, "out_axis": 0}, 784, 256, 1),
    ("torch_conv2d", (128, 64, 3, 3), {"in_axis": 1, "out_axis": 0}, 576, 1152, 9),
    # Flax Embed default: in_axis=-2 and out_axis=0 on (vocab, features) overlap
    ("flax_embed", (1000, 64), {"out_axis": 0}, 64, 64, 0.064),
    # a bias with both axes 0: r = 10/10/10 = 0.1, fans 10 * 0.1 = 1 (as JAX computes)
    ("bias_explicit", (10,), {"in_axis": 0, "out_axis": 0}, 1, 1, 0.1),
]


@pytest.mark.parametrize(("layer", "shape", "axes", "fan_in", "fan_out", "field"), CASES,
                         ids=[c[0] for c in CASES])
def test_fans(layer: str, shape: tuple[int, ...], axes: dict[str, object], fan_in: float,
              fan_out: float, field: float) -> None:
    fans = jinit.compute_fans(shape, **axes)  # type: ignore[arg-type]
    assert fans == pytest.approx((fan_in, fan_out, field), rel=1e-12)
    assert (fans.fan_in, fans.fan_out) == jax_compute_fans(shape, **axes)  # exact floats


def test_negative_and_positive_axes_agree() -> None:
    assert jinit.compute_fans((3, 3, 8, 16), in_axis=2, out_axis=3) == jinit.compute_fans(
        (3, 3, 8, 16))


def test_fans_drive_the_variance() -> None:
    """Same fans, same variance: PyTorch layout with explicit axes equals Flax layout."""
    import jax
    import numpy as np

    key = jax.random.key(0)
    flax_layout = jinit.he_normal()(key, (3, 3, 64, 128))
    torch_layout = jinit.he_normal(in_axis=1, out_axis=0)(key, (128, 64, 3, 3))
    assert np.isclose(float(flax_layout.var()), float(torch_layout.var()), rtol=0.05)
    assert np.isclose(float(flax_layout.var()) * 576, 2.0, rtol=0.05)
