"""Philox draws sharded over 8 simulated CPU devices equal the unsharded draws, shard by shard.

The measurement runs in a subprocess (``tests/philox_sharded_check.py``): the device count is
fixed when JAX starts. Each draw is jitted with ``out_shardings`` on a 4x2 mesh, for three
partition specs; XLA's memory account of the compiled per-device program shows that a device
computes only its shard (no temporaries beyond a few bytes for the bit draws).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CHECK = Path(__file__).resolve().parents[1] / "philox_sharded_check.py"


@pytest.fixture(scope="module")
def report() -> dict:
    done = subprocess.run(
        [sys.executable, str(CHECK)], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_sharded_draws_equal_unsharded(report: dict) -> None:
    assert report["devices"] == 8
    unequal = [name for name, draw in report["draws"].items() if not draw["equal"]]
    assert not unequal


def test_each_device_computes_only_its_shard(report: dict) -> None:
    for name, draw in report["draws"].items():
        if "philox" not in name or name.split()[0] not in ("bits", "uniform", "normal"):
            continue
        # the output is the shard, and the program needs no buffer of the full array
        assert draw["output_bytes"] * 8 <= draw["full_bytes"] * 4, name
        assert draw["temp_bytes"] < 4096, (name, draw)


def test_init_params_with_philox_keys_and_out_shardings(report: dict) -> None:
    assert report["init_params_equal"] and report["init_params_sharded"]
