"""Parameter paths and keys derived from them.

A parameter's *path* is the ``/``-joined chain of dictionary keys, attribute names and sequence
indices that leads to it in a pytree (``params/Dense_0/kernel``; nnx's trailing ``.value`` is
dropped). :func:`path_key` derives the parameter's random key from the base key and that
string alone, so adding, removing or reordering *other* parameters never changes it -- unlike
splitting one key over the leaves in flattening order, which shifts every key after the change.

The derivation folds the first 8 bytes of the path's SHA-256 digest into the key as two
32-bit words: stable across processes, platforms and Python versions (``hash()`` is not).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import jax

from jinit._src.core.types import KeyArray

__all__ = ["key_name", "path_key", "path_string"]


def key_name(entry: Any) -> str:
    """One entry of a JAX key path as a name: a dict key, an attribute or a sequence index.

    Example:
      >>> key_name(jax.tree_util.DictKey("kernel")), key_name(jax.tree_util.SequenceKey(3))
      ('kernel', '3')
    """
    if isinstance(entry, jax.tree_util.DictKey):
        return str(entry.key)
    if isinstance(entry, jax.tree_util.GetAttrKey):
        return str(entry.name)
    if isinstance(entry, jax.tree_util.SequenceKey):
        return str(entry.idx)
    if isinstance(entry, jax.tree_util.FlattenedIndexKey):
        return str(entry.key)
    return str(entry)


def path_string(path: Sequence[Any]) -> str:
    """The ``/``-joined form of a JAX key path (``jax.tree_util`` ``DictKey``, ``GetAttrKey``...).

    Example:
      >>> leaves = jax.tree_util.tree_flatten_with_path({"params": {"Dense_0": {"kernel": 1}}})
      >>> path_string(leaves[0][0][0])
      'params/Dense_0/kernel'
    """
    parts = [key_name(entry) for entry in path]
    while parts and parts[-1] == "value":  # nnx.Variable's payload attribute
        parts.pop()
    return "/".join(parts)


def path_key(key: KeyArray, path: str) -> KeyArray:
    """The key of the parameter at ``path``: ``key`` folded with a 64-bit digest of ``path``.

    Args:
      key: the base key (typed or raw ``uint32[2]``).
      path: the parameter's path string (see :func:`path_string`).

    Returns:
      A key of the same kind as ``key``, a function of ``(key, path)`` only.

    Example:
      >>> k = path_key(jax.random.key(0), "params/Dense_0/kernel")
      >>> bool((jax.random.key_data(k) == jax.random.key_data(
      ...     path_key(jax.random.key(0), "params/Dense_0/kernel"))).all())
      True
    """
    if not isinstance(path, str):
        raise TypeError(f"jinit.path_key: path must be a str, got {type(path).__name__}")
    high, low = path_words(path)
    return jax.random.fold_in(jax.random.fold_in(key, high), low)


def path_words(path: str) -> tuple[int, int]:
    """The two 32-bit words :func:`path_key` folds into the key.

    They are the first 8 bytes of the path's SHA-256, little-endian; batched initialization
    (:func:`jinit.init_params`) folds them in on device.
    """
    digest = hashlib.sha256(path.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:8], "little")
