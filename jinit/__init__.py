"""jinit: neural-network parameter initializers for JAX and Flax.

Every initializer is made by a factory and has the signature
``init(key, shape, dtype=None, out_sharding=None) -> jax.Array``, the one ``jax.nn.initializers``
and Flax use, so ``nn.Dense(128, kernel_init=jinit.glorot_normal())`` just works.

Example:
  >>> import jax, jinit
  >>> w = jinit.he_normal()(jax.random.key(0), (784, 256))
  >>> w.shape, w.dtype
  ((784, 256), dtype('float32'))
"""

from jinit._src.analysis.coord_check.run import CoordCheck as CoordCheck
from jinit._src.analysis.coord_check.run import coord_check as coord_check
from jinit._src.analysis.diagnose.flags import ActivationStats as ActivationStats
from jinit._src.analysis.diagnose.flags import DiagnosisFlag as DiagnosisFlag
from jinit._src.analysis.diagnose.flags import ParameterStats as ParameterStats
from jinit._src.analysis.diagnose.result import Diagnosis as Diagnosis
from jinit._src.analysis.diagnose.run import diagnose as diagnose
from jinit._src.analysis.gradinit.run import GradInitBlock as GradInitBlock
from jinit._src.analysis.gradinit.run import GradInitReport as GradInitReport
from jinit._src.analysis.gradinit.run import gradinit as gradinit
from jinit._src.analysis.jacobian.run import JacobianSpectrum as JacobianSpectrum
from jinit._src.analysis.jacobian.run import jacobian_spectrum as jacobian_spectrum
from jinit._src.analysis.lsuv.run import LSUVLayer as LSUVLayer
from jinit._src.analysis.lsuv.run import LSUVReport as LSUVReport
from jinit._src.analysis.lsuv.run import lsuv as lsuv
from jinit._src.analysis.mean_field.run import MeanField as MeanField
from jinit._src.analysis.mean_field.run import chi_1 as chi_1
from jinit._src.analysis.mean_field.run import critical_point as critical_point
from jinit._src.analysis.mean_field.run import mean_field as mean_field
from jinit._src.analysis.metainit.run import MetaInitArray as MetaInitArray
from jinit._src.analysis.metainit.run import MetaInitReport as MetaInitReport
from jinit._src.analysis.metainit.run import metainit as metainit
from jinit._src.analysis.recommend import Recommendation as Recommendation
from jinit._src.analysis.recommend import recommend as recommend
from jinit._src.core.fans import Fans as Fans
from jinit._src.core.fans import compute_fans as compute_fans
from jinit._src.core.gain import ACTIVATIONS as ACTIVATIONS
from jinit._src.core.gain import calculate_gain as calculate_gain
from jinit._src.core.gain import gain as gain
from jinit._src.core.philox import philox as philox
from jinit._src.core.philox import philox4x32_10 as philox4x32_10
from jinit._src.core.types import Initializer as Initializer
from jinit._src.core.types import KeyArray as KeyArray
from jinit._src.core.types import Shape as Shape
from jinit._src.core.values import to_config as to_config
from jinit._src.initializers.catalogue import Entry as Entry
from jinit._src.initializers.catalogue import catalogue as catalogue
from jinit._src.initializers.constant import constant as constant
from jinit._src.initializers.constant import ones as ones
from jinit._src.initializers.constant import ones_init as ones_init
from jinit._src.initializers.constant import zeros as zeros
from jinit._src.initializers.constant import zeros_init as zeros_init
from jinit._src.initializers.forms import random_normal as random_normal
from jinit._src.initializers.forms import random_uniform as random_uniform
from jinit._src.initializers.forms import trunc_normal as trunc_normal
from jinit._src.initializers.identity import dirac as dirac
from jinit._src.initializers.identity import eye as eye
from jinit._src.initializers.identity import identity as identity
from jinit._src.initializers.named import glorot_normal as glorot_normal
from jinit._src.initializers.named import glorot_uniform as glorot_uniform
from jinit._src.initializers.named import he_normal as he_normal
from jinit._src.initializers.named import he_uniform as he_uniform
from jinit._src.initializers.named import kaiming_normal as kaiming_normal
from jinit._src.initializers.named import kaiming_uniform as kaiming_uniform
from jinit._src.initializers.named import lecun_normal as lecun_normal
from jinit._src.initializers.named import lecun_uniform as lecun_uniform
from jinit._src.initializers.named import torch_kaiming_normal as torch_kaiming_normal
from jinit._src.initializers.named import torch_kaiming_uniform as torch_kaiming_uniform
from jinit._src.initializers.named import torch_xavier_normal as torch_xavier_normal
from jinit._src.initializers.named import torch_xavier_uniform as torch_xavier_uniform
from jinit._src.initializers.named import xavier_normal as xavier_normal
from jinit._src.initializers.named import xavier_uniform as xavier_uniform
from jinit._src.initializers.orthogonal import delta_orthogonal as delta_orthogonal
from jinit._src.initializers.orthogonal import orthogonal as orthogonal
from jinit._src.initializers.random import normal as normal
from jinit._src.initializers.random import truncated_normal as truncated_normal
from jinit._src.initializers.random import uniform as uniform
from jinit._src.initializers.registry import from_config as from_config
from jinit._src.initializers.registry import get as get
from jinit._src.initializers.variance_scaling import variance_scaling as variance_scaling
from jinit._src.initializers.zero import zero_hadamard as zero_hadamard
from jinit._src.model.ensemble import ensemble_init as ensemble_init
from jinit._src.model.init_params import init_params as init_params
from jinit._src.model.param_axes import ParamAxes as ParamAxes
from jinit._src.model.paths import path_key as path_key
from jinit._src.model.paths import path_string as path_string
from jinit._src.model.reinit import ReinitReport as ReinitReport
from jinit._src.model.reinit import layer_axes as layer_axes
from jinit._src.model.reinit import reinit as reinit
from jinit._src.model.reinit import reinit_with_report as reinit_with_report
from jinit._src.model.rules import by_role as by_role
from jinit._src.model.rulesets.depth import fixup_rules as fixup_rules
from jinit._src.model.rulesets.depth import gpt2_rules as gpt2_rules
from jinit._src.model.rulesets.depth import mup_learning_rates as mup_learning_rates
from jinit._src.model.rulesets.depth import mup_rules as mup_rules
from jinit._src.model.rulesets.depth import rezero_rules as rezero_rules
from jinit._src.model.rulesets.frameworks import flax_preset as flax_preset
from jinit._src.model.rulesets.frameworks import keras_preset as keras_preset
from jinit._src.model.rulesets.frameworks import preset as preset
from jinit._src.model.rulesets.frameworks import torch_bias as torch_bias
from jinit._src.model.rulesets.frameworks import torch_preset as torch_preset
from jinit._src.model.rulesets.frameworks import torchvision_preset as torchvision_preset
from jinit._src.model.trace.trace_axes import TracedAxes as TracedAxes
from jinit._src.model.trace.trace_axes import trace_axes as trace_axes

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "ActivationStats",
    "CoordCheck",
    "Diagnosis",
    "DiagnosisFlag",
    "Entry",
    "Fans",
    "GradInitBlock",
    "GradInitReport",
    "Initializer",
    "JacobianSpectrum",
    "KeyArray",
    "LSUVLayer",
    "LSUVReport",
    "MeanField",
    "MetaInitArray",
    "MetaInitReport",
    "ParamAxes",
    "ParameterStats",
    "Recommendation",
    "ReinitReport",
    "Shape",
    "TracedAxes",
    "by_role",
    "calculate_gain",
    "catalogue",
    "chi_1",
    "compute_fans",
    "constant",
    "coord_check",
    "critical_point",
    "delta_orthogonal",
    "diagnose",
    "dirac",
    "ensemble_init",
    "eye",
    "fixup_rules",
    "flax_preset",
    "from_config",
    "gain",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "gpt2_rules",
    "gradinit",
    "he_normal",
    "he_uniform",
    "identity",
    "init_params",
    "jacobian_spectrum",
    "kaiming_normal",
    "kaiming_uniform",
    "keras_preset",
    "layer_axes",
    "lecun_normal",
    "lecun_uniform",
    "lsuv",
    "mean_field",
    "metainit",
    "mup_learning_rates",
    "mup_rules",
    "normal",
    "ones",
    "ones_init",
    "orthogonal",
    "path_key",
    "path_string",
    "philox",
    "philox4x32_10",
    "preset",
    "random_normal",
    "random_uniform",
    "recommend",
    "reinit",
    "reinit_with_report",
    "rezero_rules",
    "to_config",
    "torch_bias",
    "torch_kaiming_normal",
    "torch_kaiming_uniform",
    "torch_preset",
    "torch_xavier_normal",
    "torch_xavier_uniform",
    "torchvision_preset",
    "trace_axes",
    "trunc_normal",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "xavier_normal",
    "xavier_uniform",
    "zero_hadamard",
    "zeros",
    "zeros_init",
]
