r"""The ``edge-of-chaos`` experiment: deep tanh networks train only near :math:`\chi_1 = 1`.

Schoenholz et al. (2017) predict from mean-field theory (:func:`jinit.mean_field`) that a deep
tanh network with weights :math:`\mathcal N(0, \sigma_w^2/n)` and biases
:math:`\mathcal N(0, \sigma_b^2)` is trainable only to a depth of about :math:`6\xi_c`, and
that :math:`\xi_c` diverges at the edge of chaos :math:`\chi_1 = 1` (:math:`\sigma_w^2 \approx
1.76` for :math:`\sigma_b^2 = 0.05`). Two measurements, at :math:`\sigma_b^2 = 0.05`:

1. **Gradients.** In a wide random network (width 1000, depth 60), the backpropagated
   pre-activation gradient :math:`\delta_l = \partial E/\partial h_l` obeys
   :math:`E\lVert\delta_l\rVert^2 = \chi_1 E\lVert\delta_{l+1}\rVert^2`, so the slope of
   :math:`\ln\lVert\delta_l\rVert^2` against the layer index is :math:`-\ln\chi_1`: vanishing
   gradients in the ordered phase, exploding ones in the chaotic phase, flat at the critical
   point. The slope is fitted over layers 10-49 (past the length's transient, :math:`\xi_q
   < 2`), averaged over 8 inputs, and compared with :math:`\ln\chi_1` from theory.
2. **Training.** Tanh MLPs of depth 60 and 100 (width 128) are trained on the digits with Adam
   (learning rate 1e-4, batches of 128, 2000 steps) from each :math:`\sigma_w^2`; the final
   training loss is compared with the theory's trainable depth :math:`6\xi_c`.

References:
  S. S. Schoenholz, J. Gilmer, S. Ganguli, J. Sohl-Dickstein (2017). Deep information
  propagation. ICLR. https://arxiv.org/abs/1611.01232
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jinit._src.analysis.mean_field.run import critical_point, mean_field
from jinit._src.study.data import load_dataset
from jinit._src.study.report import ExperimentResult

__all__ = ["plot_edge_of_chaos", "run_edge_of_chaos"]

BIAS_VAR = 0.05
#: sigma_w^2 from deep in the ordered phase to deep in the chaotic one (critical ~ 1.76).
WEIGHT_VARS = (1.0, 1.5, 1.76, 2.0, 2.5, 4.0)
_QUICK_WEIGHT_VARS = (1.0, 1.76, 4.0)
#: A cell "trains" when its final training loss is below half of chance (ln 10 / 2).
_TRAINED = math.log(10.0) / 2
#: |measured - theory| allowed for ln chi_1: the fit's noise at width 1000 over 40 layers is
#: ~0.007 (per-layer relative fluctuation sqrt(2/n) accumulating like a random walk), and the
#: 1/n finite-width bias measured ~0.01.
_SLOPE_TOL = 0.02


def _gradient_log_norms(
    key: jax.Array, weight_var: jax.Array, depth: int, width: int, batch: int
) -> jax.Array:
    r""":math:`\ln\lVert\delta_l\rVert^2` per layer (rows) and input (columns), at init."""
    k_w, k_b, k_x, k_u = jax.random.split(key, 4)
    weights = jax.random.normal(k_w, (depth, width, width)) * jnp.sqrt(weight_var / width)
    biases = jax.random.normal(k_b, (depth, width)) * math.sqrt(BIAS_VAR)
    x = jax.random.normal(k_x, (batch, width))
    readout = jax.random.normal(k_u, (batch, width))

    def output(shifts: jax.Array) -> jax.Array:
        def layer(h: jax.Array, params: tuple[jax.Array, ...]) -> tuple[jax.Array, None]:
            w, b, shift, first = params
            a = jnp.where(first, h, jnp.tanh(h))
            return a @ w.T + b + shift, None

        first = jnp.arange(depth) == 0
        h, _ = jax.lax.scan(layer, x, (weights, biases, shifts, first))
        return jnp.sum(readout * h)

    deltas = jax.grad(output)(jnp.zeros((depth, batch, width)))
    return jnp.log(jnp.sum(deltas**2, axis=-1))


def _train(
    key: jax.Array, weight_var: jax.Array, depth: int, width: int, steps: int, data: Any
) -> jax.Array:
    """Final full training-set loss of a depth-``depth`` tanh MLP trained with Adam."""
    x, y = data
    keys = jax.random.split(key, 6)
    scale = jnp.sqrt(weight_var)
    params = {
        "w_in": jax.random.normal(keys[0], (x.shape[1], width)) * scale / math.sqrt(x.shape[1]),
        "b_in": jax.random.normal(keys[1], (width,)) * math.sqrt(BIAS_VAR),
        "w": jax.random.normal(keys[2], (depth - 1, width, width)) * scale / math.sqrt(width),
        "b": jax.random.normal(keys[3], (depth - 1, width)) * math.sqrt(BIAS_VAR),
        "w_out": jax.random.normal(keys[4], (width, 10)) * scale / math.sqrt(width),
        "b_out": jnp.zeros(10),
    }

    def loss(p: dict[str, jax.Array], xb: jax.Array, yb: jax.Array) -> jax.Array:
        h = xb @ p["w_in"] + p["b_in"]
        h, _ = jax.lax.scan(lambda h, wb: (jnp.tanh(h) @ wb[0] + wb[1], None), h, (p["w"], p["b"]))
        logits = jnp.tanh(h) @ p["w_out"] + p["b_out"]
        value: jax.Array = optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()
        return value

    optimizer = optax.adam(1e-4)

    def step(carry: Any, k: jax.Array) -> tuple[Any, None]:
        p, state = carry
        rows = jax.random.choice(k, x.shape[0], (128,), replace=False)
        grads = jax.grad(loss)(p, x[rows], y[rows])
        updates, state = optimizer.update(grads, state, p)
        return (optax.apply_updates(p, updates), state), None

    (params, _), _ = jax.lax.scan(
        step, (params, optimizer.init(params)), jax.random.split(keys[5], steps)
    )
    return loss(params, x, y)


def run_edge_of_chaos(
    *,
    quick: bool = False,
    seed: int = 0,
    on_progress: Callable[[int, str], None] | None = None,
) -> ExperimentResult:
    """Reproduce Schoenholz et al. (2017): gradient slopes ln chi_1 and trainability vs depth.

    ``quick``: three weight variances, depth 60 only, width 400 for the gradients, width 64
    and 600 steps for training.
    """
    weight_vars = _QUICK_WEIGHT_VARS if quick else WEIGHT_VARS
    depths = (60,) if quick else (60, 100)
    width = 400 if quick else 1000
    train_width, steps = (64, 600) if quick else (128, 2000)
    theory = {w: mean_field("tanh", w, BIAS_VAR) for w in weight_vars}
    critical = float(critical_point("tanh", BIAS_VAR).weight_var)
    result = ExperimentResult(
        "edge-of-chaos",
        "Schoenholz et al. 2017 (arXiv:1611.01232): deep tanh networks are trainable to about "
        "6 xi_c layers; xi_c diverges at the edge of chaos chi_1 = 1 (sigma_w^2 = "
        f"{critical:.3f} for sigma_b^2 = {BIAS_VAR}), and gradients scale by chi_1 per layer.",
    )
    grid = jnp.asarray(weight_vars, jnp.float32)
    log_norms = jax.jit(
        jax.vmap(lambda w: _gradient_log_norms(jax.random.key(seed), w, 60, width, 8))
    )(grid)
    if on_progress is not None:
        on_progress(1, "gradients")
    layers = np.arange(60)
    fit = (layers >= 10) & (layers < 50)
    slopes = {}
    for index, w in enumerate(weight_vars):
        mean_log = np.asarray(log_norms[index]).mean(axis=1)
        measured = -float(np.polyfit(layers[fit], mean_log[fit], 1)[0])
        expected = math.log(float(theory[w].chi_1))
        slopes[w] = {"measured": measured, "theory": expected, "log_norms": mean_log.tolist()}
        result.check(
            f"ln chi_1 from the gradient slope, sigma_w^2 = {w:g} ({theory[w].phase})",
            f"{measured:+.4f}",
            f"{expected:+.4f} ± {_SLOPE_TOL}",
            abs(measured - expected) <= _SLOPE_TOL,
        )
    digits = load_dataset("digits")
    data = (jnp.asarray(digits.x_train), jnp.asarray(digits.y_train))
    losses: dict[int, dict[float, float]] = {}
    for depth in depths:
        train = jax.jit(
            jax.vmap(
                lambda w, d=depth: _train(jax.random.key(seed), w, d, train_width, steps, data)
            )
        )
        final = np.asarray(train(grid))
        losses[depth] = {w: float(v) for w, v in zip(weight_vars, final, strict=True)}
        if on_progress is not None:
            on_progress(1, f"depth {depth}")
        near = min(weight_vars, key=lambda w: abs(w - critical))
        far = [w for w in weight_vars if theory[w].trainable_depth < depth]
        result.check(
            f"depth {depth}: the critical sigma_w^2 = {near:g} trains",
            f"final loss {losses[depth][near]:.3f}",
            f"< ln 10 / 2 = {_TRAINED:.3f}",
            losses[depth][near] < _TRAINED,
        )
        for w in far:
            result.check(
                f"depth {depth}: sigma_w^2 = {w:g} (6 xi_c = {theory[w].trainable_depth:.0f} "
                f"< {depth}) does not",
                f"final loss {losses[depth][w]:.3f}",
                f">= {_TRAINED:.3f}",
                losses[depth][w] >= _TRAINED,
            )
    result.data = {
        "bias_var": BIAS_VAR,
        "critical_weight_var": critical,
        "weight_vars": list(weight_vars),
        "theory": {
            str(w): {
                "chi_1": float(p.chi_1),
                "xi_c": float(p.xi_c),
                "trainable_depth": p.trainable_depth,
                "phase": p.phase,
            }
            for w, p in theory.items()
        },
        "gradient_slopes": {str(w): s for w, s in slopes.items()},
        "final_loss": {str(d): {str(w): v for w, v in row.items()} for d, row in losses.items()},
        "trained_vs_theory": {
            str(d): {
                str(w): {
                    "trained": row[w] < _TRAINED,
                    "predicted": d < theory[w].trainable_depth,
                }
                for w in weight_vars
            }
            for d, row in losses.items()
        },
        "setup": {
            "gradient_width": width,
            "train_width": train_width,
            "steps": steps,
            "seed": seed,
        },
    }
    return result


def plot_edge_of_chaos(data: dict[str, Any], path: Path) -> None:
    """Left: ln||delta_l||^2 per layer with the theory's slopes; right: final loss vs sigma_w^2."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6))
    left, right = fig.subplots(1, 2)
    for key, slope in data["gradient_slopes"].items():
        values = np.array(slope["log_norms"])
        layers = np.arange(len(values))
        (line,) = left.plot(layers, values - values[-1], label=f"σ_w² = {key}")
        left.plot(
            layers, -(layers - layers[-1]) * slope["theory"], ":", color=line.get_color(), lw=1
        )
    left.set_xlabel("layer l")
    left.set_ylabel("ln ||δ_l||² (relative to the last layer)")
    left.set_title("gradients: measured (solid), ln χ₁ per layer (dotted)")
    left.legend(fontsize=7)
    weight_vars = data["weight_vars"]
    for depth, row in data["final_loss"].items():
        right.plot(weight_vars, [row[str(w)] for w in weight_vars], "o-", label=f"depth {depth}")
    right.axvline(data["critical_weight_var"], color="grey", ls="--", lw=1, label="χ₁ = 1")
    right.axhline(math.log(10), color="grey", ls=":", lw=1, label="chance (ln 10)")
    right.set_xlabel("σ_w²")
    right.set_ylabel("final training loss")
    right.set_title("tanh MLP on digits, σ_b² = 0.05")
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
