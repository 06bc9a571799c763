"""ZerO (Zhao et al. 2022): the deterministic identity / partial identity / Hadamard initializer."""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy.linalg import hadamard

import jinit
from jinit._src.study.data import load_dataset


def test_the_three_cases_of_algorithm_1() -> None:
    init = jinit.zero_hadamard()
    key = jax.random.key(0)
    np.testing.assert_array_equal(init(key, (5, 5)), np.eye(5))
    np.testing.assert_array_equal(init(key, (6, 4)), np.eye(6, 4))  # out < in: I*
    # out > in: c H_m on the first `in` rows, m = ceil(log2 out), c = 2^(-(m-1)/2), against
    # SciPy's Sylvester construction
    for fan_in, fan_out in ((3, 4), (64, 128), (64, 100), (1, 9)):
        m = math.ceil(math.log2(fan_out))
        expected = 2 ** (-(m - 1) / 2) * hadamard(2**m)[:fan_in, :fan_out]
        np.testing.assert_allclose(init(key, (fan_in, fan_out)), expected, rtol=1e-7)


def test_bit_identical_across_keys_and_jit() -> None:
    init = jinit.zero_hadamard()
    first = np.asarray(init(jax.random.key(0), (48, 96)))
    for seed in (1, 2, 12345):
        np.testing.assert_array_equal(init(jax.random.key(seed), (48, 96)), first)
    np.testing.assert_array_equal(
        jax.jit(init, static_argnums=1)(jax.random.key(3), (48, 96)), first
    )


def test_torch_layout_and_conv_kernels() -> None:
    key = jax.random.key(0)
    flax_kernel = jinit.zero_hadamard()(key, (8, 16))
    torch_weight = jinit.zero_hadamard(in_axis=1, out_axis=0)(key, (16, 8))
    np.testing.assert_array_equal(torch_weight, flax_kernel.T)
    conv = jinit.zero_hadamard()(key, (3, 3, 8, 16))
    np.testing.assert_array_equal(conv[1, 1], flax_kernel)  # the window centre
    assert float(jnp.abs(conv).sum()) == pytest.approx(float(jnp.abs(flax_kernel).sum()))


def test_stacked_layers_each_get_the_matrix() -> None:
    key = jax.random.key(0)
    single = jinit.zero_hadamard()(key, (8, 16))
    stacked = jinit.zero_hadamard(batch_axis=0)(key, (5, 8, 16))
    for layer in range(5):
        np.testing.assert_array_equal(stacked[layer], single)
    # without batch_axis the leading axis is read as a 1-D convolution window: centre only
    window = jinit.zero_hadamard()(key, (5, 8, 16))
    np.testing.assert_array_equal(window[2], single)
    assert float(jnp.abs(window[0]).sum()) == 0.0
    with pytest.raises(ValueError, match=r"^jinit\.zero_hadamard: batch_axis \(1,\) must not"):
        jinit.zero_hadamard(batch_axis=1)(key, (5, 8, 16))


def test_refusals() -> None:
    with pytest.raises(TypeError, match=r"^jinit\.zero_hadamard: in_axis must be a single int"):
        jinit.zero_hadamard(in_axis=(0, 1))
    with pytest.raises(ValueError, match=r"^jinit\.zero_hadamard: needs a kernel of rank >= 2"):
        jinit.zero_hadamard()(jax.random.key(0), (5,))


def _train(kernel_init: jinit.Initializer, steps: int = 300) -> tuple[float, list[jax.Array]]:
    """A ReLU MLP 64 -> 64 -> 128 -> 128 -> 10 on the digits, full-batch Adam; final loss."""
    data = load_dataset("digits")
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    sizes = (64, 64, 128, 128, 10)
    key = jax.random.key(0)
    params = [(kernel_init(key, (a, b)), jnp.zeros(b)) for a, b in itertools.pairwise(sizes)]

    def loss(params: list[tuple[jax.Array, jax.Array]]) -> jax.Array:
        h = x
        for index, (w, b) in enumerate(params):
            h = h @ w + b
            if index < len(params) - 1:
                h = jax.nn.relu(h)
        return optax.softmax_cross_entropy_with_integer_labels(h, y).mean()

    optimizer = optax.adam(1e-3)

    @jax.jit
    def step(state: tuple) -> tuple:
        params, opt = state
        grads = jax.grad(loss)(params)
        updates, opt = optimizer.update(grads, opt)
        return optax.apply_updates(params, updates), opt

    state = (params, optimizer.init(params))
    for _ in range(steps):
        state = step(state)
    return float(loss(state[0])), [w for w, _ in state[0]]


def _rank(matrix: jax.Array) -> int:
    s = np.linalg.svd(np.asarray(matrix, np.float64), compute_uv=False)
    return int(np.sum(s > 1e-3 * s[0]))  # float32 training noise sits far below 1e-3 of the top


def test_trains_on_digits_with_a_higher_rank_than_the_partial_identity() -> None:
    # Zhao et al.: widening with the partial identity I* leaves the new units at exactly 0
    # (ReLU'(0) = 0: no gradient ever reaches them), so the 128 x 128 layer's update W - I
    # has rank <= 64; the Hadamard block makes every unit distinct, so training uses all 128
    zero_loss, zero_weights = _train(jinit.zero_hadamard())
    identity_loss, identity_weights = _train(jinit.identity())
    assert zero_loss < 0.05 * math.log(10)  # trained: from ln 10 = 2.30 at chance
    zero_rank = _rank(zero_weights[2] - jnp.eye(128))
    identity_rank = _rank(identity_weights[2] - jnp.eye(128))
    assert identity_rank <= 64 < zero_rank, (zero_rank, identity_rank, zero_loss, identity_loss)
