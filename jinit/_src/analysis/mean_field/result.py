r"""What :func:`jinit.mean_field` returns: :class:`MeanField`, a printable pytree."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import jax

from jinit._src.analysis.mean_field.maps import CRITICAL, Phase
from jinit._src.core.types import Initializer
from jinit._src.initializers.constant import zeros_init
from jinit._src.initializers.random import normal
from jinit._src.initializers.variance_scaling import variance_scaling

__all__ = ["MeanField"]


# ----------------------------------------------------------------------------- the result


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class MeanField:
    r"""Mean-field fixed points, slopes and depth scales of :math:`(\phi, \sigma_w^2, \sigma_b^2)`.

    A pytree (the activation's name is static), so :func:`mean_field` can be vmapped over
    ``weight_var``/``bias_var``; :attr:`phase` and :attr:`trainable_depth` need
    concrete values.

    Attributes:
      activation: the activation's name (``ACTIVATIONS`` key, or the callable's name).
      weight_var: :math:`\sigma_w^2` (weights :math:`\mathcal N(0, \sigma_w^2/\text{fan\_in})`).
      bias_var: :math:`\sigma_b^2`.
      q_star: the stable fixed point of the length map.
      chi_1: :math:`\sigma_w^2 E[\phi'(\sqrt{q^*}z)^2]`.
      c_star: the stable fixed point of the correlation map (1 unless chaotic).
      chi_c: the slope of the correlation map at :math:`c^*` (:math:`\chi_1` unless chaotic).
      xi_q: the depth scale of the length's convergence to :math:`q^*` (``inf`` when the
        length map is marginal, as for ReLU without bias).
      xi_c: the depth scale of correlations (``inf`` at the edge of chaos).
    """

    activation: str = field(metadata={"static": True})
    weight_var: jax.Array = field()
    bias_var: jax.Array = field()
    q_star: jax.Array = field()
    chi_1: jax.Array = field()
    c_star: jax.Array = field()
    chi_c: jax.Array = field()
    xi_q: jax.Array = field()
    xi_c: jax.Array = field()

    @property
    def phase(self) -> Phase:
        r"""``"ordered"`` (:math:`\chi_1 < 1`), ``"critical"`` (within 1e-4) or ``"chaotic"``."""
        chi = float(self.chi_1)
        if abs(chi - 1.0) <= CRITICAL:
            return "critical"
        return "ordered" if chi < 1.0 else "chaotic"

    @property
    def trainable_depth(self) -> float:
        r""":math:`6\xi_c`, the depth to which Schoenholz et al. find such networks trainable."""
        return 6.0 * float(self.xi_c)

    def initializers(self, distribution: str = "normal") -> tuple[Initializer, Initializer]:
        r"""The ``(kernel_init, bias_init)`` pair of this point, for ``(fan_in, ...)`` kernels.

        Kernels :math:`\operatorname{Var} = \sigma_w^2/\text{fan\_in}` (``variance_scaling``
        with ``distribution``), biases :math:`\mathcal N(0, \sigma_b^2)` (zeros when
        :math:`\sigma_b^2 = 0`).
        """
        kernel = variance_scaling(float(self.weight_var), "fan_in", distribution)  # type: ignore[arg-type]
        bias_var = float(self.bias_var)
        bias = normal(math.sqrt(bias_var)) if bias_var > 0 else zeros_init()
        return kernel, bias

    def __str__(self) -> str:
        values = ", ".join(f"{f.name}={float(getattr(self, f.name)):.6g}" for f in fields(self)[1:])
        return (
            f"MeanField({self.activation}: {values}; {self.phase}, trainable depth "
            f"{self.trainable_depth:.4g})"
        )
