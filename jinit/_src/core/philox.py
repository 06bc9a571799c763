r"""Philox4x32-10: a counter-based key implementation for every ``jax.random`` draw.

Philox4x32-10 (Salmon, Moraes, Dror & Shaw 2011) maps a 128-bit counter
:math:`(c_0, c_1, c_2, c_3)` and a 64-bit key :math:`(k_0, k_1)` to 128 random bits by ten
rounds of

.. math::

   (c_0, c_1, c_2, c_3) \leftarrow
   (\mathrm{hi}(M_1 c_2) \oplus c_1 \oplus k_0,\;
    \mathrm{lo}(M_1 c_2),\;
    \mathrm{hi}(M_0 c_0) \oplus c_3 \oplus k_1,\;
    \mathrm{lo}(M_0 c_0)),
   \qquad (k_0, k_1) \leftarrow (k_0 + W_0, k_1 + W_1),

with the 32x32 -> 64-bit products split into high and low words, :math:`M_0 =
\mathtt{0xD2511F53}`, :math:`M_1 = \mathtt{0xCD9E8D57}` and the Weyl increments
:math:`W_0 = \mathtt{0x9E3779B9}`, :math:`W_1 = \mathtt{0xBB67AE85}`. It passes TestU01's
BigCrush and is cuRAND's and PyTorch CUDA's default generator. Ten rounds of two multiplies
per four words are far cheaper than Threefry-2x32's twenty rounds per two words.

The stream of a key is indexed by flat position: element :math:`p` of a 32-bit draw is word
:math:`p \bmod 4` of the block at counter :math:`(\lfloor p/4 \rfloor \bmod 2^{32},
\lfloor p/4 \rfloor \div 2^{32}, 0, 0)`; a 64-bit element :math:`p` takes words
:math:`2(p \bmod 2)` (high) and :math:`2(p \bmod 2) + 1` (low) of block :math:`\lfloor p/2
\rfloor`; 8- and 16-bit elements are the low bits of the 32-bit element. The counters are
``iota``\ s over the output shape, so the values are the same whatever the sharding, ``jit``
or ``vmap``, and each device computes only the blocks of its shard. ``split`` and ``fold_in``
draw new keys from counters with :math:`c_3 = 1` and :math:`c_3 = 2`, a domain the bit stream
(:math:`c_3 = 0`) never reaches.

Use it by passing ``impl=jinit.philox`` to ``jax.random.key``; every ``jax.random`` function,
every jinit and ``jax.nn.initializers`` initializer, Flax's ``init`` and dropout then draw
from it. The bits differ from Threefry's by design; the distributions are the same.

References:
  J. K. Salmon, M. A. Moraes, R. O. Dror, D. E. Shaw (2011). Parallel random numbers: as easy
  as 1, 2, 3. SC '11. https://doi.org/10.1145/2063384.2063405 (Random123).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.extend.random import define_prng_impl

from jinit._src.core.errors import named
from jinit._src.core.optional import enable_x64 as _x64

__all__ = ["KEY_IMPLS", "key_impl", "philox", "philox4x32_10"]

_M0 = np.uint32(0xD2511F53)
_M1 = np.uint32(0xCD9E8D57)
_W0 = np.uint32(0x9E3779B9)
_W1 = np.uint32(0xBB67AE85)
_ROUNDS = 10
_SPLIT, _FOLD_IN = 1, 2  # the c3 of the counters that make new keys


def _mulhilo(a: np.uint32, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """High and low 32-bit words of the 64-bit product ``a * b``.

    Computed as one ``uint64`` product, with 64-bit types enabled for these three operations
    only (JAX has no 64-bit integers without x64; the result is ``uint32`` again). Measured on
    a 2-core CPU (4096² words, ``benchmarks/key_impls.py``): 1.9x faster than 16-bit limb
    products in 32-bit arithmetic. Not ``lax.mulhi`` (JAX 0.10): it lowers to ``chlo.mulhi``,
    which XLA's SPMD partitioner cannot lower (``failed to legalize operation
    'mhlo.unknown'``), so a sharded draw would fail to compile; a widening multiply is plain
    StableHLO and partitions like any elementwise operation.
    """
    with _x64(True):
        product = b.astype(jnp.uint64) * np.uint64(a)
        return (product >> np.uint64(32)).astype(jnp.uint32), product.astype(jnp.uint32)


def _rounds(
    counters: tuple[jax.Array, jax.Array, jax.Array, jax.Array], key: tuple[jax.Array, jax.Array]
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    c0, c1, c2, c3 = counters
    k0, k1 = key
    for index in range(_ROUNDS):
        if index:
            k0, k1 = k0 + _W0, k1 + _W1
        hi0, lo0 = _mulhilo(_M0, c0)
        hi1, lo1 = _mulhilo(_M1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return c0, c1, c2, c3


@named
def philox4x32_10(counters: jax.typing.ArrayLike, key: jax.typing.ArrayLike) -> jax.Array:
    """The Philox4x32-10 block function: 128 random bits per 128-bit counter.

    Args:
      counters: ``uint32`` array of shape ``(..., 4)``: the counter words ``c0..c3``.
      key: ``uint32`` array of shape ``(2,)`` (broadcast against the counters' batch shape).

    Returns:
      ``uint32`` array of the counters' shape: the four output words of each block.

    Raises:
      ValueError: the last axis of ``counters`` is not 4, or ``key``'s is not 2.

    Example (a known-answer vector of Random123):
      >>> import numpy as np, jinit
      >>> out = jinit.philox4x32_10(np.zeros(4, np.uint32), np.zeros(2, np.uint32))
      >>> [f"{int(word):08x}" for word in out]
      ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']
    """
    c = jnp.asarray(counters, jnp.uint32)
    k = jnp.asarray(key, jnp.uint32)
    if c.shape[-1:] != (4,) or k.shape[-1:] != (2,):
        from jinit._src.core.errors import JinitValueError

        raise JinitValueError(
            f"counters must have shape (..., 4) and key (..., 2), got {c.shape} and {k.shape}."
        )
    words = _rounds((c[..., 0], c[..., 1], c[..., 2], c[..., 3]), (k[..., 0], k[..., 1]))
    return jnp.stack(words, axis=-1)


def _block_index(
    shape: tuple[int, ...], per_block: int, *, wide: bool = False
) -> tuple[jax.Array, jax.Array] | None:
    """Low and high words of the flat block index over ``(*shape[:-1], last // per_block)``.

    ``None`` when the last axis is not a multiple of ``per_block`` (blocks would straddle rows).
    ``wide`` forces the two-word arithmetic that indices of 2^32 blocks and more need.
    """
    if not shape or shape[-1] % per_block:
        return None
    blocks = (*shape[:-1], shape[-1] // per_block)
    if math.prod(blocks) < 2**32 and not wide:
        # every block index fits one word (draws of up to 2^34 values): plain uint32 arithmetic,
        # exact since no partial sum exceeds the last index; the high word is 0
        low = lax.broadcasted_iota(jnp.uint32, blocks, len(blocks) - 1)
        stride = blocks[-1]
        for axis in reversed(range(len(blocks) - 1)):
            low = low + lax.broadcasted_iota(jnp.uint32, blocks, axis) * np.uint32(stride)
            stride *= blocks[axis]
        return low, jnp.zeros(blocks, jnp.uint32)
    low = jnp.zeros(blocks, jnp.uint32)
    high = jnp.zeros(blocks, jnp.uint32)
    stride = 1
    for axis in reversed(range(len(blocks))):
        # block index = sum(index_d * stride_d): carried in two 32-bit words
        index = lax.broadcasted_iota(jnp.uint32, blocks, axis)
        low, high = _add_product(low, high, index, stride)
        stride *= blocks[axis]
    return low, high


def _add_product(
    low: jax.Array, high: jax.Array, index: jax.Array, stride: int
) -> tuple[jax.Array, jax.Array]:
    """``(high, low) + index * stride`` as a 64-bit number in two words (stride < 2^64)."""
    stride_low, stride_high = np.uint32(stride & 0xFFFFFFFF), np.uint32(stride >> 32)
    part_high, part_low = _mulhilo(stride_low, index)
    part_high = part_high + index * stride_high
    total = low + part_low
    carry = (total < low).astype(jnp.uint32)
    return total, high + part_high + carry


#: Blocks per row of the grid a flat or narrow draw is computed on. XLA's CPU backend runs the
#: rounds about 30x slower over a 1-D array than over a 2-D one of the same size (measured:
#: 289 ms against 8.4 ms for 2^18 blocks), so blocks are always laid out in rows; the values
#: are the same, since they depend only on the flat block index.
_ROW = 512


def _blocks(key: jax.Array, shape: tuple[int, ...], per_block: int) -> jax.Array:
    """The words of the blocks that cover ``shape`` (``per_block`` elements a block), in order.

    Returns ``(*shape[:-1], last // per_block, 4)`` words when the last axis holds whole rows of
    blocks (so the draw partitions as the output does), else ``(rows, _ROW, 4)`` words whose
    flat order is the blocks' (the caller drops those past the end).
    """
    natural = len(shape) >= 2 and shape[-1] % per_block == 0 and shape[-1] >= 32 * per_block
    if natural:
        grid = shape
    else:
        count = -(-math.prod(shape) // per_block)
        width = min(_ROW, count)
        grid = (-(-count // width), width * per_block)
    indices = _block_index(grid, per_block)
    assert indices is not None
    low, high = indices
    zero = jnp.zeros_like(low)
    words = _rounds((low, high, zero, zero), (key[0], key[1]))
    return jnp.stack(words, axis=-1)


def _random_bits(key: jax.Array, bit_width: int, shape: tuple[int, ...]) -> jax.Array:
    if bit_width not in (8, 16, 32, 64):
        raise TypeError("jinit.philox: random bits need an 8-, 16-, 32- or 64-bit width.")
    shape = tuple(int(d) for d in shape)
    size = math.prod(shape)
    dtype = {8: jnp.uint8, 16: jnp.uint16, 32: jnp.uint32, 64: jnp.uint64}[bit_width]
    if size == 0:
        return jnp.zeros(shape, dtype)
    if bit_width == 64:
        words = _blocks(key, shape, 2).reshape(-1, 2, 2)  # (block pair) -> (hi, lo) each
        high = words[..., 0].astype(dtype)
        low = words[..., 1].astype(dtype)
        bits = (high << jnp.asarray(32, dtype)) | low
    else:
        bits = _blocks(key, shape, 4)
        if bit_width < 32:
            bits = bits.astype(dtype)  # the low bits of each 32-bit element
    return bits.reshape(-1)[:size].reshape(shape)


def _seed(seed: jax.Array) -> jax.Array:
    if seed.shape:
        raise TypeError(f"jinit.philox: a seed must be a scalar, got shape {seed.shape}.")
    if not jnp.issubdtype(seed.dtype, jnp.integer):
        raise TypeError(f"jinit.philox: a seed must be an integer, got {seed.dtype}.")
    low = lax.convert_element_type(seed, jnp.uint32)
    if seed.dtype.itemsize == 8:
        high = lax.convert_element_type(
            lax.shift_right_logical(seed, jnp.asarray(32, seed.dtype)), jnp.uint32
        )
    else:
        # a negative 32-bit seed extends its sign, as its 64-bit value would
        high = jnp.where(seed < 0, jnp.uint32(0xFFFFFFFF), jnp.uint32(0))
    return jnp.stack([low, high])


def _new_keys(key: jax.Array, low: jax.Array, high: jax.Array, domain: int) -> jax.Array:
    tag = jnp.full_like(low, domain)
    words = _rounds((low, high, jnp.zeros_like(low), tag), (key[0], key[1]))
    return jnp.stack(words[:2], axis=-1)


def _split(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    shape = tuple(int(d) for d in shape)
    count = math.prod(shape)
    index = lax.iota(jnp.uint32, count)
    keys = _new_keys(key, index, jnp.zeros_like(index), _SPLIT)
    return keys.reshape((*shape, 2))


def _fold_in(key: jax.Array, data: int) -> jax.Array:
    value = jnp.asarray(data, jnp.uint32).reshape(())
    return _new_keys(key, value, jnp.uint32(0), _FOLD_IN)


#: The Philox4x32-10 key implementation: ``jax.random.key(seed, impl=jinit.philox)``.
philox = define_prng_impl(
    key_shape=(2,),
    seed=_seed,
    split=_split,
    random_bits=_random_bits,
    fold_in=_fold_in,
    name="philox4x32_10",
    tag="plx",
)

#: Key implementations by the names the command line takes (``--key-impl``).
KEY_IMPLS: tuple[str, ...] = ("threefry2x32", "rbg", "unsafe_rbg", "philox")


def key_impl(name: str) -> object:
    """The ``impl`` argument of ``jax.random.key`` for a ``--key-impl`` name.

    ``"philox"`` is :data:`philox`; JAX's own implementations pass through by name.
    """
    return philox if name == "philox" else name
