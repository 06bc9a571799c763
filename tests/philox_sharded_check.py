"""Philox draws on 8 simulated CPU devices; run by ``tests/core/test_philox_sharded.py``.

A separate process, because the number of simulated devices is fixed when JAX starts. Prints
one JSON object: whether each sharded draw equals the unsharded one, and XLA's per-device
memory account of each compiled draw (output and temporaries).
"""

from __future__ import annotations

import json
import os

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import jinit

SHAPE = (2048, 1024)


def main() -> None:
    mesh = jax.make_mesh((4, 2), ("data", "model"))
    out: dict[str, object] = {"devices": len(jax.devices()), "draws": {}}
    draws = {
        "bits": lambda k: jax.random.bits(k, SHAPE),
        "uniform": lambda k: jax.random.uniform(k, SHAPE),
        "normal": lambda k: jax.random.normal(k, SHAPE),
        "he_normal": lambda k: jinit.he_normal()(k, SHAPE),
        "glorot_uniform": lambda k: jinit.glorot_uniform()(k, SHAPE),
    }
    for spec in [P("data", "model"), P(None, "model"), P("data", None)]:
        sharding = NamedSharding(mesh, spec)
        for name, draw in draws.items():
            for impl in ("threefry2x32", jinit.philox):
                key = jax.random.key(3, impl=impl)
                whole = np.asarray(jax.jit(draw)(key))
                sharded_fn = jax.jit(draw, out_shardings=sharding)
                sharded = sharded_fn(key)
                compiled = sharded_fn.lower(key).compile()
                memory = compiled.memory_analysis()
                label = "philox" if impl is jinit.philox else "threefry"
                out["draws"][f"{name} {spec} {label}"] = {  # type: ignore[index]
                    "equal": bool(np.array_equal(np.asarray(sharded), whole)),
                    "shard_shape": list(sharded.addressable_shards[0].data.shape),
                    "output_bytes": memory.output_size_in_bytes,
                    "temp_bytes": memory.temp_size_in_bytes,
                    "full_bytes": int(np.prod(SHAPE)) * whole.dtype.itemsize,
                }
    # init_params with philox keys and out_shardings, against the unsharded reference
    abstract = {
        "a": {"kernel": jax.ShapeDtypeStruct((512, 256), jnp.float32)},
        "b": {"kernel": jax.ShapeDtypeStruct((256, 512), jnp.float32)},
    }
    rules = {"*kernel": jinit.he_normal}
    key = jax.random.key(9, impl=jinit.philox)
    reference = jinit.init_params(abstract, rules, key)
    shardings = jax.tree.map(lambda _: NamedSharding(mesh, P("data", "model")), abstract)
    params = jinit.init_params(abstract, rules, key, out_shardings=shardings)
    out["init_params_equal"] = all(
        bool(np.array_equal(np.asarray(x), np.asarray(y)))
        for x, y in zip(jax.tree.leaves(params), jax.tree.leaves(reference), strict=True)
    )
    out["init_params_sharded"] = all(
        x.sharding.is_equivalent_to(s, 2)
        for x, s in zip(jax.tree.leaves(params), jax.tree.leaves(shardings), strict=True)
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
