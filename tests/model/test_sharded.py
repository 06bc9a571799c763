"""Sharded init on 8 simulated CPU devices: per-device shards, equal values on every mesh.

The measurement runs in a subprocess (``tests/sharded_check.py``) because the device count is
fixed when JAX starts. A 3-layer Flax model annotated with ``nn.with_partitioning`` is
initialized by ``jinit.init_params(..., out_shardings=...)`` on meshes of 1, 2, 4 and 8 devices.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CHECK = Path(__file__).resolve().parents[1] / "sharded_check.py"


@pytest.fixture(scope="module")
def report() -> dict:
    done = subprocess.run(
        [sys.executable, str(CHECK)], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_eight_devices_and_four_meshes(report: dict) -> None:
    assert report["devices"] == 8
    assert [m["mesh"] for m in report["meshes"]] == [[1, 1], [2, 1], [2, 2], [4, 2]]


def test_values_equal_unsharded_init_on_every_mesh(report: dict) -> None:
    for mesh in report["meshes"]:
        assert all(leaf["equal"] for leaf in mesh["leaves"]), mesh


def test_each_device_holds_only_its_shard(report: dict) -> None:
    for mesh in report["meshes"]:
        data, model = mesh["mesh"]
        splits = {"P('data', 'model')": data * model, "P(None, 'model')": model}
        splits["P('model', None)"] = model
        for leaf in mesh["leaves"]:
            if not leaf["path"].endswith("['kernel']"):
                continue
            assert leaf["devices"] == data * model
            assert leaf["shard_bytes"] == [leaf["bytes"] // splits[leaf["spec"]]], leaf


def test_nnx_reinit_keeps_the_module_shardings(report: dict) -> None:
    """Before: the new arrays came back on one device while the metadata said sharded."""
    nnx_report = report["nnx"]
    assert nnx_report["before"] == "P(None, 'model')"
    assert nnx_report["reinit"] == {
        "spec": "P(None, 'model')", "devices": 8, "equal": True
    }


@pytest.mark.parametrize("kind", ["callable", "tree"])
def test_nnx_init_params_honours_out_shardings(report: dict, kind: str) -> None:
    """Before: out_shardings were ignored for nnx modules (the arrays stayed on one device)."""
    assert report["nnx"][f"init_params_{kind}"] == {
        "spec": "P(None, 'model')", "devices": 8, "equal": True
    }


def test_peak_memory_per_device_scales_with_the_shard(report: dict) -> None:
    """XLA's per-device account of drawing a 256x256 f32 kernel sharded P('data', 'model').

    Measured: output = total / devices exactly; temporaries 3.0x the shard + 4 bytes (the
    random bits and the intermediate floats of the truncated normal) at every mesh size. The
    bound 4x the shard fails if any device materialized the whole kernel (the 8-device shard
    is 1/8 of it).
    """
    total = 256 * 256 * 4
    for mesh in report["meshes"]:
        devices = mesh["mesh"][0] * mesh["mesh"][1]
        shard = total // devices
        assert mesh["kernel_output_bytes"] == shard
        assert mesh["kernel_temp_bytes"] <= 4 * shard, mesh
