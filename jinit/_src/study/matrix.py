"""The ``optimizers`` experiment: an initializer x optimizer matrix of training runs.

For every optimizer, all missing cells (initializers) and all seeds (and, with a sweep, all
learning rates) train together in one compiled ``vmap`` of a ``lax.scan`` (see
:mod:`jinit._src.study.training`). Initial parameters are made once per initializer and reused
by every optimizer; the batch order depends only on the seed, so cells differ by nothing but
initializer and optimizer (common random numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.core.philox import key_impl
from jinit._src.model.ensemble import ensemble_init
from jinit._src.study.data import Dataset, load_dataset
from jinit._src.study.inits import resolve_init
from jinit._src.study.models import ModelSpec, init_params
from jinit._src.study.optimizers import OPTIMIZERS
from jinit._src.study.store import fingerprint, load_cell, write_cell
from jinit._src.study.training import steps_to_target, train_runs

__all__ = ["DEFAULT_INITS", "MatrixConfig", "run_matrix"]

#: The initializers of the default study: the symmetric failure, the fixed small normal, and
#: the variance-scaling and orthogonal families.
DEFAULT_INITS = ("zeros", "normal", "lecun_normal", "glorot_uniform", "he_normal", "orthogonal")
#: Learning-rate factors tried by ``--lr-sweep`` around each optimizer's learning rate.
SWEEP_FACTORS = (1 / 3, 1.0, 3.0)


@dataclass(frozen=True)
class MatrixConfig:
    """Settings of an initializer x optimizer study.

    Attributes:
      dataset: data set name or ``.npz`` path.
      model: the model to train.
      inits: registry names (``NAME`` or ``NAME:ARGS``, see :func:`jinit.get`).
      optimizers: optimizer names from :data:`OPTIMIZERS`.
      steps: optimizer steps per run.
      eval_every: steps between full-training-loss evaluations.
      seeds: independent runs per cell.
      seed: base seed; everything random derives from it.
      learning_rates: per-optimizer overrides, ``(name, lr)`` pairs.
      lr_sweep: also try each learning rate times 1/3 and 3, keep the best per cell.
      target_loss: the training loss whose first crossing is reported as steps-to-target.
      key_impl: the PRNG implementation of every key (``"philox"``: :data:`jinit.philox`).
    """

    dataset: str = "digits"
    model: ModelSpec = field(default_factory=lambda: ModelSpec("mlp", 4, 64, "relu"))
    inits: tuple[str, ...] = DEFAULT_INITS
    optimizers: tuple[str, ...] = tuple(OPTIMIZERS)
    steps: int = 400
    eval_every: int = 20
    seeds: int = 3
    seed: int = 0
    learning_rates: tuple[tuple[str, float], ...] = ()
    lr_sweep: bool = False
    target_loss: float = 0.1
    key_impl: str = "threefry2x32"

    def learning_rate(self, optimizer: str) -> float:
        """The learning rate used for ``optimizer`` (override or default)."""
        return dict(self.learning_rates).get(optimizer, OPTIMIZERS[optimizer].learning_rate)

    def cell_settings(self, init: str, optimizer: str) -> dict[str, Any]:
        """Everything that changes one cell's numbers (its fingerprint's input)."""
        return {
            "dataset": self.dataset,
            "model": asdict(self.model),
            "init": init,
            "optimizer": optimizer,
            "learning_rate": self.learning_rate(optimizer),
            "lr_sweep": self.lr_sweep,
            "steps": self.steps,
            "eval_every": self.eval_every,
            "seeds": self.seeds,
            "seed": self.seed,
            "target_loss": self.target_loss,
            # only when not the default, so cells stored before the option stay valid
            **({} if self.key_impl == "threefry2x32" else {"key_impl": self.key_impl}),
        }


def _stack(trees: list[Any]) -> Any:
    return jax.tree.map(lambda *leaves: np.concatenate(leaves), *trees)


def _cell_payload(
    config: MatrixConfig,
    init: str,
    optimizer: str,
    learning_rates: np.ndarray,
    curves: Any,
    rows: np.ndarray,
) -> dict[str, Any]:
    """Summarize one cell from its runs ``rows`` (lrs x seeds) of a training call."""
    n_seeds = config.seeds
    final = curves.train_loss[rows, -1].reshape(-1, n_seeds)
    score = np.where(np.isfinite(final), final, np.inf).mean(axis=1)
    best = int(np.argmin(score))
    chosen = rows.reshape(-1, n_seeds)[best]
    loss = curves.train_loss[chosen]
    return {
        "init": init,
        "optimizer": optimizer,
        "learning_rate": float(learning_rates[best]),
        "sweep": {f"{lr:.4g}": [float(v) for v in final[i]] for i, lr in enumerate(learning_rates)},
        "steps": [int(s) for s in curves.steps],
        "train_loss": [[float(v) for v in run] for run in loss],
        "final_train_loss": [float(v) for v in loss[:, -1]],
        "train_accuracy": [float(v) for v in curves.train_accuracy[chosen]],
        "test_accuracy": [float(v) for v in curves.test_accuracy[chosen]],
        "test_loss": [float(v) for v in curves.test_loss[chosen]],
        "steps_to_target": [steps_to_target(curves.steps, run, config.target_loss) for run in loss],
    }


def run_matrix(
    config: MatrixConfig,
    out: Path | None = None,
    *,
    data: Dataset | None = None,
    on_cells: Callable[[int, str], None] | None = None,
) -> list[dict[str, Any]]:
    """Train every (initializer, optimizer) cell and return one summary dict per cell.

    Args:
      config: the study settings (names already validated by :class:`MatrixConfig` users).
      out: results directory; finished cells are stored there and reused on the next run.
      data: the loaded data set (loaded from ``config.dataset`` if omitted).
      on_cells: called with ``(number_of_cells_finished, optimizer)`` after each optimizer's
        batch, for progress bars.

    Returns:
      The cells in ``optimizers x inits`` order; each has the per-seed final losses,
      accuracies, steps-to-target and loss curves.
    """
    data = load_dataset(config.dataset) if data is None else data
    arrays = (data.x_train, data.y_train, data.x_test, data.y_test)
    base = jax.random.key(config.seed, impl=key_impl(config.key_impl))
    batch_keys = jax.random.split(jax.random.fold_in(base, 1), config.seeds)
    apply_module = config.model.build(resolve_init("zeros"), data.n_classes, data.image_shape)
    params_cache: dict[str, Any] = {}

    def initial_params(init: str) -> Any:
        if init not in params_cache:
            module = config.model.build(resolve_init(init), data.n_classes, data.image_shape)
            # seed i: init_params(module, split(fold_in(base, 0), seeds)[i]), one compiled call
            params = ensemble_init(
                lambda key: init_params(module, key, data.n_features),
                jax.random.fold_in(base, 0),
                config.seeds,
            )
            params_cache[init] = jax.tree.map(np.asarray, params)
        return params_cache[init]

    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for optimizer in config.optimizers:
        keys = {init: fingerprint(config.cell_settings(init, optimizer)) for init in config.inits}
        missing = []
        for init in config.inits:
            stored = load_cell(out, f"{init}__{optimizer}", keys[init]) if out else None
            if stored is None:
                missing.append(init)
            else:
                cells[init, optimizer] = _from_store(stored)
        if missing:
            lr = config.learning_rate(optimizer)
            factors = SWEEP_FACTORS if config.lr_sweep else (1.0,)
            learning_rates = np.array([lr * f for f in factors])
            per_init = len(factors) * config.seeds
            params = _stack([initial_params(init) for init in missing for _ in factors])
            curves = train_runs(
                apply_module,
                OPTIMIZERS[optimizer],
                params,
                np.tile(np.repeat(learning_rates, config.seeds), len(missing)),
                _tile_keys(batch_keys, len(missing) * len(factors)),
                arrays,
                steps=config.steps,
                eval_every=config.eval_every,
            )
            for i, init in enumerate(missing):
                rows = np.arange(i * per_init, (i + 1) * per_init)
                payload = _cell_payload(config, init, optimizer, learning_rates, curves, rows)
                if out is not None:
                    write_cell(out, f"{init}__{optimizer}", keys[init], payload)
                cells[init, optimizer] = payload
        if on_cells is not None:
            on_cells(len(config.inits), optimizer)
    return [cells[init, opt] for opt in config.optimizers for init in config.inits]


def _from_store(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored cell as training makes it: no fingerprint, and NaN where JSON holds null."""

    def restore(value: Any) -> Any:
        if value is None:  # write_json stores NaN and Inf (diverged runs) as null
            return float("nan")
        if isinstance(value, list):
            return [restore(v) for v in value]
        if isinstance(value, dict):
            return {k: restore(v) for k, v in value.items()}
        return value

    return {k: restore(v) for k, v in stored.items() if k != "fingerprint"}


def _tile_keys(keys: jax.Array, copies: int) -> jax.Array:
    """``keys`` repeated ``copies`` times along the first axis (typed keys kept typed)."""
    tiled = jnp.tile(jax.random.key_data(keys), (copies, 1))
    result: jax.Array = jax.random.wrap_key_data(tiled, impl=jax.random.key_impl(keys))
    return result
