"""``jinit.study``: verify initializers by training Flax models with Optax.

The library behind ``jinit study`` on the command line, for notebooks and scripts::

    from jinit import study

    data = study.load_dataset("digits")
    config = study.MatrixConfig(inits=("zeros", "he_normal"), optimizers=("adam",), steps=100)
    cells = study.run_matrix(config)              # one dict per (initializer, optimizer) cell
    result = study.run_signal(quick=True)         # claim, checks, verdict, per-layer data

Imported on demand (``import jinit`` does not load Flax, Optax or matplotlib).
"""

from jinit._src.study.data import DATASETS as DATASETS
from jinit._src.study.data import Dataset as Dataset
from jinit._src.study.data import load_dataset as load_dataset
from jinit._src.study.depth import run_deep_linear as run_deep_linear
from jinit._src.study.depth import run_deep_relu as run_deep_relu
from jinit._src.study.experiments import EXPERIMENTS as EXPERIMENTS
from jinit._src.study.experiments import quick_config as quick_config
from jinit._src.study.experiments import run_experiment as run_experiment
from jinit._src.study.experiments import run_optimizers as run_optimizers
from jinit._src.study.inits import INITIALIZERS as INITIALIZERS
from jinit._src.study.inits import resolve_init as resolve_init
from jinit._src.study.matrix import DEFAULT_INITS as DEFAULT_INITS
from jinit._src.study.matrix import MatrixConfig as MatrixConfig
from jinit._src.study.matrix import run_matrix as run_matrix
from jinit._src.study.models import MODELS as MODELS
from jinit._src.study.models import ModelSpec as ModelSpec
from jinit._src.study.optimizers import OPTIMIZERS as OPTIMIZERS
from jinit._src.study.optimizers import OptimizerSpec as OptimizerSpec
from jinit._src.study.report import Check as Check
from jinit._src.study.report import ExperimentResult as ExperimentResult
from jinit._src.study.signal import layer_statistics as layer_statistics
from jinit._src.study.signal import run_selu as run_selu
from jinit._src.study.signal import run_signal as run_signal
from jinit._src.study.training import Curves as Curves
from jinit._src.study.training import steps_to_target as steps_to_target
from jinit._src.study.training import train_runs as train_runs

__all__ = [
    "DATASETS",
    "DEFAULT_INITS",
    "EXPERIMENTS",
    "INITIALIZERS",
    "MODELS",
    "OPTIMIZERS",
    "Check",
    "Curves",
    "Dataset",
    "ExperimentResult",
    "MatrixConfig",
    "ModelSpec",
    "OptimizerSpec",
    "layer_statistics",
    "load_dataset",
    "quick_config",
    "resolve_init",
    "run_deep_linear",
    "run_deep_relu",
    "run_experiment",
    "run_matrix",
    "run_optimizers",
    "run_selu",
    "run_signal",
    "steps_to_target",
    "train_runs",
]
