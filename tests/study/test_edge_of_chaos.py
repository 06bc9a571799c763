"""``jinit study --experiment edge-of-chaos``: gradient slopes = ln chi_1; trainability vs depth.

The quick variant (3 weight variances, depth 60; ~11 s on 2 cores). The full variant's figures
(6 weight variances, depths 60 and 100) are on docs/guide/theory.md and in the closing note of
issue 13.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import jinit
from jinit._src.study.experiments import EXPERIMENTS, run_experiment
from jinit._src.study.matrix import MatrixConfig


def test_quick_edge_of_chaos(tmp_path: Path) -> None:
    assert "edge-of-chaos" in EXPERIMENTS
    result = run_experiment("edge-of-chaos", tmp_path, config=MatrixConfig(), quick=True)
    failed = [check for check in result.checks if not check.passed]
    assert result.checks and not failed, failed
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["verdict"] == "reproduced"
    assert (tmp_path / "edge_of_chaos.png").read_bytes().startswith(b"\x89PNG")
    data = result.data
    # the measured slopes are compared with the theory of jinit.mean_field, so a wrong chi_1
    # fails here: measured at seed 0, |measured - theory| <= 0.015 (the check allows 0.02)
    for key, slope in data["gradient_slopes"].items():
        expected = math.log(float(jinit.mean_field("tanh", float(key), 0.05).chi_1))
        assert slope["theory"] == expected
        assert abs(slope["measured"] - expected) <= 0.02
    # ordered (vanishing gradients), critical (flat), chaotic (exploding): the signs
    slopes = {float(k): v["measured"] for k, v in data["gradient_slopes"].items()}
    assert slopes[1.0] < -0.2 and abs(slopes[1.76]) < 0.02 and slopes[4.0] > 0.2
    # trainability: the critical point trains (measured 0.07), the two far points whose
    # 6 xi_c (22 and 42) is below the depth 60 stay near chance (measured 2.0 and 2.4)
    losses = data["final_loss"]["60"]
    assert losses["1.76"] < math.log(10) / 2 <= min(losses["1.0"], losses["4.0"])
    assert data["critical_weight_var"] == float(jinit.critical_point("tanh", 0.05).weight_var)
