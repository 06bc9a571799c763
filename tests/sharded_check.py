"""Sharded initialization on simulated CPU devices; run by ``tests/test_sharded.py``.

A separate process, because the number of simulated devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=8``) is fixed when JAX starts. Prints one
JSON object with what the test asserts.
"""

from __future__ import annotations

import json
import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import jinit

WIDTH = 256


class Sharded(nn.Module):
    """Three Dense layers whose kernels carry partitioning annotations, as in Flax's docs."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        dense = lambda spec: nn.Dense(  # noqa: E731
            WIDTH, kernel_init=nn.with_partitioning(nn.initializers.zeros, spec)
        )
        x = nn.relu(dense(("data", "model"))(x))
        x = nn.relu(dense((None, "model"))(x))
        return dense(("model", None))(x)


RULES = {"*kernel": jinit.he_normal, "*bias": jinit.torch_bias}


def main() -> None:
    model = Sharded()
    boxed = jax.eval_shape(model.init, jax.random.key(0), jnp.ones((1, WIDTH)))
    abstract = nn.unbox(boxed)
    specs = nn.get_partition_spec(boxed)
    reference = jinit.init_params(abstract, RULES, jax.random.key(1))
    ref_leaves = jax.tree_util.tree_leaves_with_path(reference)
    out: dict[str, object] = {"devices": len(jax.devices()), "meshes": []}
    for shape in [(1, 1), (2, 1), (2, 2), (4, 2)]:
        mesh = jax.make_mesh(shape, ("data", "model"))
        shardings = jax.tree.map(
            lambda spec, mesh=mesh: NamedSharding(mesh, spec),
            specs,
            is_leaf=lambda x: isinstance(x, P),
        )
        params = jinit.init_params(abstract, RULES, jax.random.key(1), out_shardings=shardings)
        record: dict[str, object] = {"mesh": list(shape), "leaves": []}
        for (path, ref), leaf in zip(ref_leaves, jax.tree.leaves(params), strict=True):
            name = jax.tree_util.keystr(path)
            shards = leaf.addressable_shards
            record["leaves"].append(  # type: ignore[attr-defined]
                {
                    "path": name,
                    "equal": bool(np.array_equal(np.asarray(leaf), np.asarray(ref))),
                    "spec": str(leaf.sharding.spec),
                    "bytes": leaf.nbytes,
                    "shard_bytes": sorted({s.data.nbytes for s in shards}),
                    "devices": len({s.device for s in shards}),
                }
            )
        # Peak per-device memory of drawing the largest kernel alone, from XLA's own account
        # of the compiled SPMD program (per device): output plus temporaries.
        sharding = NamedSharding(mesh, P("data", "model"))
        init = jinit.he_normal()
        with jax.set_mesh(mesh):
            compiled = (
                jax.jit(
                    lambda k, init=init, sharding=sharding: init(
                        k, (WIDTH, WIDTH), jnp.float32, out_sharding=sharding
                    )
                )
                .lower(jax.random.key(0))
                .compile()
            )
        memory = compiled.memory_analysis()
        record["kernel_output_bytes"] = memory.output_size_in_bytes
        record["kernel_temp_bytes"] = memory.temp_size_in_bytes
        out["meshes"].append(record)  # type: ignore[attr-defined]
    out["nnx"] = nnx_checks()
    json.dump(out, sys.stdout)


class NnxNet(nnx.Module):
    """Two nnx Linear layers; with ``spec``, kernels annotated as Flax's sharding guide shows."""

    def __init__(self, rngs: nnx.Rngs, spec: tuple[str | None, ...] | None) -> None:
        init = nnx.initializers.lecun_normal()
        kernel_init = init if spec is None else nnx.with_partitioning(init, spec)
        self.a = nnx.Linear(64, 128, kernel_init=kernel_init, rngs=rngs)
        self.b = nnx.Linear(128, 32, kernel_init=kernel_init, rngs=rngs)


def nnx_checks() -> dict[str, object]:
    """reinit keeps an nnx module's shardings; init_params honours out_shardings for nnx."""
    mesh = jax.make_mesh((2, 4), ("data", "model"))
    spec = P(None, "model")
    with jax.set_mesh(mesh):
        sharded = NnxNet(nnx.Rngs(0), (None, "model"))
    plain = NnxNet(nnx.Rngs(0), None)
    reference = jinit.reinit(plain, RULES, jax.random.key(3))
    new = jinit.reinit(sharded, RULES, jax.random.key(3))
    by_path = lambda path, shape: NamedSharding(mesh, spec) if path.endswith("kernel") else None  # noqa: E731
    tree = jax.tree.map(lambda leaf: NamedSharding(mesh, spec) if leaf.ndim == 2 else None,
                        nnx.state(plain))
    placed = {
        "callable": jinit.init_params(plain, RULES, jax.random.key(3), out_shardings=by_path),
        "tree": jinit.init_params(plain, RULES, jax.random.key(3), out_shardings=tree),
    }

    def describe(module: NnxNet) -> dict[str, object]:
        kernel = module.a.kernel[...]
        return {
            "spec": str(getattr(kernel.sharding, "spec", None)),
            "devices": len({s.device for s in kernel.addressable_shards}),
            "equal": all(
                bool(np.array_equal(np.asarray(x), np.asarray(y)))
                for x, y in zip(
                    jax.tree.leaves(nnx.state(module)), jax.tree.leaves(nnx.state(reference)),
                    strict=True,
                )
            ),
        }

    return {
        "before": str(sharded.a.kernel[...].sharding.spec),
        "reinit": describe(new),
        **{f"init_params_{kind}": describe(module) for kind, module in placed.items()},
    }


if __name__ == "__main__":
    main()
