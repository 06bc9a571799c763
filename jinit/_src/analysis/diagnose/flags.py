r"""The verdicts of :func:`jinit.diagnose`: the records it judges, the rules, the thresholds.

Most verdicts compare the two ends of the network. For activations the *propagation ratio* is
:math:`\sigma_\text{last} / \sigma_\text{first}` (standard deviations); for gradients, grouped by
parameter name (all ``kernel``-s, all ``bias``-es), it is
:math:`\|\nabla\|_\text{first layer} / \|\nabla\|_\text{last layer}` -- in both cases what
arrives at the far end of the propagation over what left. Two more look where the ends cannot:
the peak of the activations inside the network, and the loss against chance:

=====================  ======================================================================
flag                   rule
=====================  ======================================================================
``vanishing``          ratio :math:`< 10^{-3}`, or the quantity is zero at both ends
``exploding``          ratio :math:`> 10^{3}`, or a value is not finite (overflow); for the
                       activations also when any layer's std exceeds :math:`10^{3}` times the
                       first layer's (the *peak ratio*: ``end`` names the peak layer)
``shrinking``          ratio :math:`< 1/10` and a steady geometric trend: at least 4 layers and
                       the least-squares line through :math:`\log_{10}` of the values has
                       :math:`R^2 \ge 0.9` (not flagged when already ``vanishing``)
``growing``            the same with ratio :math:`> 10` (not flagged when already
                       ``exploding``, at the ends or inside)
``loss_above_chance``  with the default cross-entropy over :math:`C` classes: the loss
                       exceeds :math:`\ln C + \max(\ln C, 3)` -- twice chance, and at least
                       3 nats above it
=====================  ======================================================================

Why these numbers: a well-initialized network keeps its signal within about one decade from end
to end (measured, 30 layers of width 128 on digits: He on ReLU 0.6, Glorot on tanh 0.26), while a
mis-scaled one changes it by a constant factor per layer, which compounds to tens of decades
(fixed N(0, 0.01²) weights of width 128 multiply the std by :math:`0.01\sqrt{128} \approx 0.11`
per layer: :math:`5 \times 10^{-28}` after 30 layers; Glorot on ReLU loses :math:`\sqrt{2}` per
layer: :math:`3 \times 10^{-5}`). Three decades sit between the two with room on both sides,
hold at any depth, and mark where training is in practice lost: a layer whose gradients are a
thousand times smaller (or larger) than another's cannot learn at the same learning rate.
``shrinking``/``growing`` catch the same failure earlier: a decade lost at a steady rate per layer
becomes three decades at three times the depth. The :math:`R^2` condition keeps one odd layer or
the random walk of a finite-width network from counting as a trend.

Kernel gradients can hide a vanishing signal: in a plain stack whose layers all have the same
scale, :math:`\nabla W_l = h_{l-1}^\top \delta_l` multiplies a forward factor that shrinks with
depth by a backward one that grows towards the input, and the two cancel (Glorot & Bengio 2010,
section 4.2.2; measured: kernel-gradient ratio 0.65 where the activations vanish by
:math:`10^{-27}`). Bias gradients (:math:`\sum_\text{batch} \delta_l`) and activations do not
cancel, so every group is judged; saturation (tanh with large weights) breaks the cancellation
and shows in the kernels too.

**The peak inside.** A normalization resets the scale, so the ends can look fine while the
layers between explode. In a pre-norm transformer whose weights are all N(0, 1), each block
multiplies its LayerNorm's unit output by :math:`\sqrt{d}` in ``q``/``k``/``v`` and in the MLP's
first layer, and by :math:`\sqrt{4d \cdot d/2}` more in the MLP's output (std
:math:`\approx \sqrt2\, d`), and the final LayerNorm brings the head back to :math:`\sqrt d`.
The *peak ratio*, the largest std over the first layer's, sees this; only peaks count, never
dips, since zero-initialized branches (Fixup, zero residual projections) and GPT-2's scaled-down
projections are what healthy schemes do. Measured peak ratios: the study's MLPs at most 1.32 with
LeCun, Glorot, He, orthogonal or PyTorch's default, residual MLPs 2.1 (6.5 with He); the
pre-norm transformer of ``tests/test_diagnose.py`` (vocab 2000) 8.2 with Flax's defaults and 51
with GPT-2's init at width :math:`d = 64` (50 at 1024: the LayerNorms' unit outputs over the
N(0, 0.02²) embedding, 1/0.02 at any width), against 98 with N(0, 1) weights at :math:`d = 64`
and :math:`1.43 \times 10^3` at :math:`d = 1024` (the MLP output). The limit is the end-to-end
one, :math:`10^3`, 20 times GPT-2's peak. The N(0, 1) transformer's :math:`\sqrt2\, d` crosses
it only from :math:`d \approx 710`; narrower, its peak is within a factor 2 of GPT-2's own, no
activation-std rule can tell them apart, and the loss flags it instead.

**The loss against chance.** Logits :math:`z_c` of std :math:`s` that do not depend on the label
:math:`y` give an expected cross-entropy

.. math::

   E\Big[\log \sum_{c=1}^C e^{z_c}\Big] - E[z_y] \le \ln C + \frac{s^2}{2}
   \qquad \text{(Jensen; } \ln C + (1 - \tfrac1C)\tfrac{s^2}{2} \text{ to second order in } s).

As :math:`C` grows the bound becomes exact up to :math:`s = \sqrt{2 \ln C}`, where the loss is
:math:`2 \ln C`; beyond, the softmax collapses onto the largest logits and the loss grows as
:math:`s \sqrt{2 \ln C}` (the random energy model, Derrida 1981). Twice chance thus marks
logits large enough that the model starts out confidently wrong. Measured with independent
normal logits, the loss reaches :math:`2 \ln C` at :math:`s` = 4.3 for 2000 classes, 2.7 for
10 and 2.1 for 2, while unit logits (a LeCun head) add 0.55, 0.42 and 0.21 nats and He's
:math:`s = \sqrt 2` adds 1.07, 0.80 and 0.37. With few classes twice chance is too near:
:math:`\ln 2` is 0.69 nats, and a random net of a few input features is wrong over whole regions
of the input, which spreads its loss. Over 20 seeds, :math:`2 \ln C` alone flagged up to 7
of 20 healthy He-, LeCun- and Glorot-initialized ReLU MLPs and residual MLPs (4 hidden layers
of 64) on the study's 2- and 3-class data sets (the largest excess 2.0 nats, a loss of 3.1 on
wine; 2.4 on spirals, whose first 256 training samples are all of one class), hence the second
condition, 3 nats above chance (about logits of std :math:`\sqrt 6 \approx 2.4` at large
:math:`C`), which decides below :math:`C = e^3 \approx 20`.
With both, no healthy net measured is flagged: the study's MLPs (4×64 and 30×128), residual
MLPs and CNN on its 5 data sets with LeCun, Glorot, He, orthogonal and PyTorch's default (3 to
20 seeds each) start at most 2.4 nats above chance, at most 1.9·ln C on 10 classes; the
transformer starts at 1.0006·ln C with GPT-2's init (1.035 at :math:`d = 1024`) and
1.06·ln C with Flax's defaults. Broken ones start far above: N(0, 1) weights give the
transformer 3.6·ln C (27.2 at :math:`d = 64`) and 14·ln C (108 at :math:`d = 1024`), tanh MLPs
4.0 to 6.2·ln C on 10 classes, the CNN 160·ln C and ReLU MLPs 785·ln C (digits, breast cancer)
and more; He on residual MLPs, whose stream doubles its variance per block, 4.5 to 11·ln C on 10
classes. With 2 classes the loss says less: N(0, 1) tanh MLPs, whose logits have std 8, pass
the limit in 8 of 20 seeds on breast cancer and 10 of 20 on spirals (19 and 20 of 20 with 3 and
4 classes), and the gradient rules must speak for the others.

References:
  Glorot & Bengio, "Understanding the difficulty of training deep feedforward neural networks",
  AISTATS 2010, https://proceedings.mlr.press/v9/glorot10a.html.
  He et al., "Delving Deep into Rectifiers", ICCV 2015, https://arxiv.org/abs/1502.01852.
  Derrida, "Random-energy model: an exactly solvable model of disordered systems", Phys. Rev. B
  24, 2613 (1981), https://doi.org/10.1103/PhysRevB.24.2613.
  Radford et al., "Language Models are Unsupervised Multitask Learners" (GPT-2), 2019.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "EXPLODING_RATIO",
    "LOSS_CHANCE_RATIO",
    "LOSS_EXCESS_NATS",
    "TREND_MIN_LAYERS",
    "TREND_R2",
    "TREND_RATIO",
    "VANISHING_RATIO",
    "ActivationStats",
    "DiagnosisFlag",
    "ParameterStats",
    "flags_for",
    "groups",
]

#: Propagation ratio below which a quantity is ``vanishing``.
VANISHING_RATIO = 1e-3
#: Propagation ratio above which a quantity is ``exploding``; also the limit of the activations'
#: peak ratio (largest std over the first layer's).
EXPLODING_RATIO = 1e3
#: Multiple of chance (ln C) above which the initial cross-entropy is ``loss_above_chance``.
LOSS_CHANCE_RATIO = 2.0
#: Nats above chance the initial cross-entropy must also exceed to be ``loss_above_chance``.
LOSS_EXCESS_NATS = 3.0
#: Propagation ratio (or its inverse) beyond which a steady trend is ``growing``/``shrinking``.
TREND_RATIO = 10.0
#: Least R² of the log-linear fit for a trend to count as steady.
TREND_R2 = 0.9
#: Fewest layers for a trend.
TREND_MIN_LAYERS = 4


@dataclass(frozen=True)
class ActivationStats:
    """Mean and standard deviation of one layer's activations over the batch and features."""

    name: str
    shape: tuple[int, ...]
    mean: float
    std: float


@dataclass(frozen=True)
class ParameterStats:
    """Frobenius norms of one parameter, its gradient and its first optimizer update.

    ``update_ratio`` is ``update_norm / weight_norm``; NaN for a parameter that is all zeros (a
    freshly initialized bias), whose relative update is undefined.
    """

    path: str
    shape: tuple[int, ...]
    weight_norm: float
    grad_norm: float
    update_norm: float
    update_ratio: float


@dataclass(frozen=True)
class DiagnosisFlag:
    r"""One verdict: ``kind`` of ``quantity`` from layer ``start`` to layer ``end``.

    Attributes:
      kind: ``vanishing``, ``exploding``, ``shrinking``, ``growing`` or ``loss_above_chance``.
      quantity: ``activation std``, ``gradient norm (NAME)`` for the parameters named NAME, or
        ``loss``.
      ratio: the propagation ratio, the value at ``end`` over the value at ``start``; for a peak
        inside the network the peak over the first layer; for ``loss_above_chance`` the loss
        over chance :math:`\ln C`.
      factor: the fitted factor per layer (NaN with fewer than 4 layers, a zero value, a peak
        inside or the loss).
      start: where the propagation starts (the first layer forward, the last one backward);
        ``chance`` for the loss.
      end: where it ends: the last layer, the peak layer for a peak inside; ``loss`` for the
        loss.
      layers: how many layers the ratio spans (0 for the loss).
      message: one sentence for people.
    """

    kind: str
    quantity: str
    ratio: float
    factor: float
    start: str
    end: str
    layers: int
    message: str


def groups(parameters: Sequence[ParameterStats]) -> dict[str, list[ParameterStats]]:
    """Parameters by their name (the last path component), in layer order."""
    groups: dict[str, list[ParameterStats]] = {}
    for p in parameters:
        groups.setdefault(p.path.rsplit("/", 1)[-1], []).append(p)
    return groups


def _judge(quantity: str, names: Sequence[str], values: Sequence[float]) -> DiagnosisFlag | None:
    """The flag of ``values`` given in propagation order, or None."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    if n < 2:
        return None
    start, end = names[0], names[-1]

    def flag(kind: str, ratio: float, factor: float, detail: str) -> DiagnosisFlag:
        message = f"{quantity} {kind}: {detail}"
        return DiagnosisFlag(kind, quantity, ratio, factor, start, end, n, message)

    if not np.isfinite(v).all():
        bad = names[int(np.flatnonzero(~np.isfinite(v))[0])]
        return flag("exploding", math.inf, math.nan, f"not finite at {bad} (overflow)")
    if v[0] == 0:
        if v[-1] == 0:
            return flag("vanishing", 0.0, math.nan, f"zero at {start} and at {end}")
        return flag("exploding", math.inf, math.nan, f"zero at {start} but not at {end}")
    ratio = float(v[-1] / v[0])
    factor, r2 = math.nan, 0.0
    if n >= TREND_MIN_LAYERS and (v > 0).all():
        x, y = np.arange(n, dtype=float), np.log10(v)
        slope, intercept = np.polyfit(x, y, 1)
        total = float(((y - y.mean()) ** 2).sum())
        r2 = 1.0 - float(((y - slope * x - intercept) ** 2).sum()) / total if total > 0 else 0.0
        factor = float(10.0**slope)
    per_layer = f", ×{factor:.3g} per layer" if math.isfinite(factor) else ""
    detail = f"{end} / {start} = {ratio:.3g} over {n} layers{per_layer}"
    if ratio < VANISHING_RATIO:
        return flag("vanishing", ratio, factor, detail)
    if ratio > EXPLODING_RATIO:
        return flag("exploding", ratio, factor, detail)
    if r2 >= TREND_R2 and ratio < 1 / TREND_RATIO and factor < 1:
        return flag("shrinking", ratio, factor, f"{detail} (R² {r2:.2f})")
    if r2 >= TREND_R2 and ratio > TREND_RATIO and factor > 1:
        return flag("growing", ratio, factor, f"{detail} (R² {r2:.2f})")
    return None


def _peak(quantity: str, names: Sequence[str], values: Sequence[float]) -> DiagnosisFlag | None:
    """``exploding`` when a layer's value exceeds ``EXPLODING_RATIO`` times the first's, or None.

    Only peaks count, never dips (a zero-initialized branch is no fault); values that are not
    finite or a first value of zero are the end-to-end rule's to judge.
    """
    v = np.asarray(values, dtype=float)
    if len(v) < 3 or not np.isfinite(v).all() or not v[0] > 0:
        return None
    k = int(np.argmax(v))
    ratio = float(v[k] / v[0])
    if ratio <= EXPLODING_RATIO:
        return None
    message = (
        f"{quantity} exploding inside: {names[k]} / {names[0]} = {ratio:.3g} at layer {k + 1} "
        f"of {len(v)}, while the last layer {names[-1]} is {v[-1] / v[0]:.3g}× the first"
    )
    return DiagnosisFlag("exploding", quantity, ratio, math.nan, names[0], names[k], k + 1, message)


def _above_chance(loss: float, classes: int | None) -> DiagnosisFlag | None:
    r"""``loss_above_chance`` when the loss exceeds :math:`\ln C + \max(\ln C, 3)`, or None."""
    if classes is None or classes < 2 or math.isnan(loss):
        return None
    chance = math.log(classes)
    limit = max(LOSS_CHANCE_RATIO * chance, chance + LOSS_EXCESS_NATS)
    if not loss > limit:
        return None
    ratio = loss / chance
    message = (
        f"loss above chance: cross-entropy {loss:.4g} = {ratio:.3g} × ln {classes} "
        f"({chance:.3g}), above the limit {limit:.3g}: the logits are too large at "
        "initialization (scale the output layer down)"
    )
    return DiagnosisFlag("loss_above_chance", "loss", ratio, math.nan, "chance", "loss", 0, message)


def flags_for(
    activations: Sequence[ActivationStats],
    parameters: Sequence[ParameterStats],
    *,
    loss: float = math.nan,
    classes: int | None = None,
) -> tuple[DiagnosisFlag, ...]:
    r"""The verdicts on activation std (forward), each gradient group (backward) and the loss.

    Args:
      activations: per layer, in execution order.
      parameters: per parameter, in the order of the layers that own them.
      loss: the initial loss; judged only with ``classes``.
      classes: the number of classes :math:`C` of a cross-entropy ``loss``, or ``None``.

    Returns:
      The flags: activation std (end to end, then a peak inside), the gradient groups, the loss.

    Example:
      >>> acts = [ActivationStats(f"layer{i}", (8, 4), 0.0, 0.5**i) for i in range(6)]
      >>> [f.kind for f in flags_for(acts, [])]
      ['shrinking']
      >>> flags_for(acts, [])[0].factor
      0.5
      >>> inside = [ActivationStats(n, (8, 4), 0.0, s) for n, s in [("a", 1), ("b", 2e3), ("c", 1)]]
      >>> [(f.kind, f.end) for f in flags_for(inside, [], loss=27.2, classes=2000)]
      [('exploding', 'b'), ('loss_above_chance', 'loss')]
    """
    names, stds = [a.name for a in activations], [a.std for a in activations]
    end_to_end = _judge("activation std", names, stds)
    inside = None
    if end_to_end is None or end_to_end.kind != "exploding":
        inside = _peak("activation std", names, stds)
    if inside is not None and end_to_end is not None and end_to_end.kind == "growing":
        end_to_end = None  # exploding inside says more than growing at the end
    found = [end_to_end, inside]
    for name, group in groups(parameters).items():
        backward = group[::-1]  # the gradient starts at the last layer
        found.append(
            _judge(
                f"gradient norm ({name})",
                [p.path for p in backward],
                [p.grad_norm for p in backward],
            )
        )
    found.append(_above_chance(loss, classes))
    return tuple(f for f in found if f is not None)
