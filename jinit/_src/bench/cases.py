"""The benchmark's cases and settings: what ``jinit bench`` times, at which shapes.

Holds the :class:`Case` table (every initializer with its ``jax.nn.initializers`` and
``torch.nn.init`` anchors), the mapping of initializer names and catalogue aliases to cases
(:func:`resolve_names`, :func:`parse_names`), the checked run settings (:class:`BenchConfig`,
:func:`bench_config`, :func:`parse_shape`) and the shape each case runs at
(:func:`case_shape`). The measurement lives in :mod:`jinit._src.bench.run`, the tables and files
in :mod:`jinit._src.bench.report`.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeAlias, cast

import jax

from jinit._src.core.checks import check_choice
from jinit._src.core.errors import owned
from jinit._src.core.philox import KEY_IMPLS
from jinit._src.initializers.catalogue import CATALOGUE
from jinit._src.initializers.registry import factory

__all__ = [
    "CASES",
    "FULL_ORTHOGONAL_SHAPE",
    "FULL_REPEATS",
    "FULL_SHAPE",
    "KEY_IMPLS",
    "NAME_GROUPS",
    "QUICK_ORTHOGONAL_SHAPE",
    "QUICK_REPEATS",
    "QUICK_SHAPE",
    "BenchConfig",
    "Case",
    "InitFn",
    "Layout",
    "bench_config",
    "case_shape",
    "parse_names",
    "parse_shape",
    "resolve_names",
]

#: PRNG implementations a benchmark can key every initializer with.
#: Default sizes: 16.8 M float32 elements (64 MiB); orthogonal's QR at a quarter of that.
FULL_SHAPE: tuple[int, int] = (4096, 4096)
FULL_ORTHOGONAL_SHAPE: tuple[int, int] = (2048, 2048)
FULL_REPEATS = 20
#: ``--quick`` sizes.
QUICK_SHAPE: tuple[int, int] = (1024, 1024)
QUICK_ORTHOGONAL_SHAPE: tuple[int, int] = (512, 512)
QUICK_REPEATS = 5

_DTYPE = "float32"
_STD = 1e-2  # jax.nn.initializers' default scale of uniform/normal/truncated_normal
_FILL_VALUE = 0.5
_WINDOW = (3, 3)  # the window of the convolution-kernel cases

#: What every initializer and anchor is called as: ``init(key, shape, dtype)``.
InitFn: TypeAlias = Callable[..., jax.Array]
#: Which base shape a case uses: the dense 2-D shape, the orthogonal one, or a 3x3
#: convolution kernel with the element count of the dense (``conv``) or orthogonal
#: (``conv_orthogonal``) shape.
Layout: TypeAlias = Literal["dense", "orthogonal", "conv", "conv_orthogonal"]


@dataclass(frozen=True)
class Case:
    """One benchmarked initializer and its anchors.

    Attributes:
      name: the case name (``--only`` selects it).
      args: the factory's positional arguments, the same for jinit and jax; ``None`` where
        the catalogue object is itself the initializer (``zeros``, ``ones``).
      torch_op: the ``torch.nn.init`` function in the same role, or ``None``.
      torch_kwargs: its keyword arguments.
      entry: the catalogue name of the factory (default: ``name``).
      anchored: ``jax.nn.initializers`` has the factory under the same name.
      layout: which shape the case runs at (see :data:`Layout`).
      jinit_kwargs: keyword arguments of the jinit factory only (``method="householder"``).
      same_bits: jinit promises jax's bits for this case (checked by the benchmark); ``False``
        for a faster algorithm that draws the same distribution from other bits.
    """

    name: str
    args: tuple[float | str, ...] | None
    torch_op: str | None
    torch_kwargs: Mapping[str, float | str] = field(default_factory=dict)
    entry: str = ""
    anchored: bool = True
    layout: Layout = "dense"
    jinit_kwargs: Mapping[str, str] = field(default_factory=dict)
    same_bits: bool = True

    def __post_init__(self) -> None:
        """Default the catalogue name to the case name."""
        object.__setattr__(self, "entry", self.entry or self.name)

    def _build(self, factory: Callable[..., object], **kwargs: str) -> InitFn:
        init = factory if self.args is None else factory(*self.args, **kwargs)
        return cast(InitFn, init)

    def jinit_init(self) -> InitFn:
        """The jinit initializer."""
        return self._build(factory(self.entry), **self.jinit_kwargs)

    def jax_init(self) -> InitFn | None:
        """The ``jax.nn.initializers`` counterpart, or ``None`` for jinit-only initializers."""
        return self._build(getattr(jax.nn.initializers, self.entry)) if self.anchored else None

    @property
    def jax_call(self) -> str | None:
        """The jax anchor, e.g. ``jax.nn.initializers.normal(0.01)``."""
        if not self.anchored:
            return None
        call = "" if self.args is None else f"({', '.join(map(repr, self.args))})"
        return f"jax.nn.initializers.{self.entry}{call}"

    @property
    def torch_call(self) -> str | None:
        """The PyTorch anchor, e.g. ``torch.nn.init.normal_(mean=0.0, std=0.01)``."""
        if self.torch_op is None:
            return None
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.torch_kwargs.items())
        return f"torch.nn.init.{self.torch_op}({arguments})"


_TRUNC = {"mean": 0.0, "std": _STD, "a": -2 * _STD, "b": 2 * _STD}
_FAN_OUT = {"mode": "fan_out", "nonlinearity": "linear"}  # Var = 1/fan_out, as jax's below
_VS = "variance_scaling"
_VS_FORMS = (
    ("truncated_normal", "kaiming_normal_"),  # torch has no truncated form
    ("normal", "kaiming_normal_"),
    ("uniform", "kaiming_uniform_"),
)

#: Every benchmarked initializer: those shared with ``jax.nn.initializers`` first (the
#: variance-scaling cases use ``fan_out`` mode, which no preset covers), then jinit-only ones.
CASES: tuple[Case, ...] = (
    Case("zeros", None, "zeros_"),
    Case("ones", None, "ones_"),
    Case("constant", (_FILL_VALUE,), "constant_", {"val": _FILL_VALUE}),
    Case("uniform", (_STD,), "uniform_", {"a": 0.0, "b": _STD}),
    Case("normal", (_STD,), "normal_", {"mean": 0.0, "std": _STD}),
    Case("truncated_normal", (_STD,), "trunc_normal_", _TRUNC),
    *(Case(f"{_VS}_{d}", (1.0, "fan_out", d), op, _FAN_OUT, _VS) for d, op in _VS_FORMS),
    Case("glorot_normal", (), "xavier_normal_"),
    Case("glorot_uniform", (), "xavier_uniform_"),
    Case("he_normal", (), "kaiming_normal_", {"nonlinearity": "relu"}),
    Case("he_uniform", (), "kaiming_uniform_", {"nonlinearity": "relu"}),
    Case("lecun_normal", (), "kaiming_normal_", {"nonlinearity": "linear"}),
    Case("lecun_uniform", (), "kaiming_uniform_", {"nonlinearity": "linear"}),
    Case("orthogonal", (), "orthogonal_", layout="orthogonal"),
    Case(
        "orthogonal_householder",
        (),
        "orthogonal_",
        entry="orthogonal",
        layout="orthogonal",
        jinit_kwargs={"method": "householder"},
        same_bits=False,
    ),
    Case("delta_orthogonal", (), None, layout="conv_orthogonal"),
    Case("trunc_normal", tuple(_TRUNC.values()), "trunc_normal_", _TRUNC, anchored=False),
    Case("random_uniform", (), "uniform_", {"a": -0.05, "b": 0.05}, anchored=False),
    Case("random_normal", (), "normal_", {"mean": 0.0, "std": 0.05}, anchored=False),
    Case("torch_kaiming_normal", (), "kaiming_normal_", anchored=False),
    Case("torch_kaiming_uniform", (), "kaiming_uniform_", anchored=False),
    Case("torch_xavier_normal", (), "xavier_normal_", anchored=False),
    Case("torch_xavier_uniform", (), "xavier_uniform_", anchored=False),
    Case("identity", (), "eye_", anchored=False),
    Case("dirac", (), "dirac_", anchored=False, layout="conv"),
    Case("zero_hadamard", (), None, anchored=False),
)

_CASE_BY_NAME = {case.name: case for case in CASES}


def _group_names() -> dict[str, tuple[str, ...]]:
    groups: dict[str, tuple[str, ...]] = {}
    for entry in CATALOGUE:
        members = tuple(case.name for case in CASES if case.entry == entry.name)
        for name in (entry.name, *entry.aliases):
            if name.isidentifier() and name not in _CASE_BY_NAME and members:
                groups[name] = members
    return groups


#: Catalogue names and aliases that are not case names, and the cases each selects
#: (``variance_scaling``: its three distributions; ``xavier_normal``: ``glorot_normal``).
NAME_GROUPS: Mapping[str, tuple[str, ...]] = _group_names()


def resolve_names(names: Iterable[str]) -> tuple[str, ...]:
    """Map initializer names to case names, in :data:`CASES` order, without duplicates.

    A name is a case name (``normal``, ``variance_scaling_uniform``), a catalogue name that
    covers several cases (``variance_scaling``) or a catalogue alias (``xavier_normal``,
    ``eye``). An empty selection means every case.

    Args:
      names: the names to select.

    Returns:
      The selected case names.

    Raises:
      ValueError: an unknown name; the message lists the valid ones.

    Example:
      >>> resolve_names(["orthogonal", "variance_scaling", "xavier_normal"])
      ('variance_scaling_truncated_normal', 'variance_scaling_normal',
       'variance_scaling_uniform', 'glorot_normal', 'orthogonal')
    """
    wanted: set[str] = set()
    unknown = []
    for name in names:
        if name in _CASE_BY_NAME:
            wanted.add(name)
        elif name in NAME_GROUPS:
            wanted.update(NAME_GROUPS[name])
        else:
            unknown.append(name)
    if unknown:
        valid = [*_CASE_BY_NAME, *NAME_GROUPS]
        hints = [difflib.get_close_matches(name, valid, n=1) for name in unknown]
        hint = "".join(f" Did you mean {h[0]!r}?" for h in hints if h)
        raise ValueError(
            f"jinit.bench: unknown initializer name(s) {', '.join(map(repr, unknown))}.{hint} "
            f"Valid names: {', '.join(_CASE_BY_NAME)}; also the catalogue names and aliases "
            f"{', '.join(NAME_GROUPS)}."
        )
    if not wanted:
        return tuple(_CASE_BY_NAME)
    return tuple(case.name for case in CASES if case.name in wanted)


def parse_names(text: str) -> tuple[str, ...]:
    """Split a comma-separated ``--only`` value into names (blanks dropped).

    Example:
      >>> parse_names("normal, he_normal,")
      ('normal', 'he_normal')
    """
    return tuple(name.strip() for name in text.split(",") if name.strip())


def parse_shape(text: str) -> tuple[int, int]:
    """Parse a 2-D shape written ``ROWS,COLS`` (or ``ROWSxCOLS``).

    Raises:
      ValueError: not two positive integers.

    Example:
      >>> parse_shape("64,32"), parse_shape("1024x1024")
      ((64, 32), (1024, 1024))
    """
    parts = [part.strip() for part in re.split(r"[,x]", text.strip())]
    if len(parts) != 2 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise ValueError(
            f"jinit.bench: shape must be two positive integers ROWS,COLS (e.g. 4096,4096), "
            f"got {text!r}."
        )
    return int(parts[0]), int(parts[1])


def _check_shape(name: str, shape: Sequence[int]) -> tuple[int, int]:
    dims = tuple(shape)
    if len(dims) != 2 or not all(
        isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in dims
    ):
        raise ValueError(f"jinit.bench: {name} must be two positive ints, got {shape!r}.")
    return dims[0], dims[1]


@dataclass(frozen=True)
class BenchConfig:
    """What to benchmark and how; checked when built.

    Attributes:
      shape: the 2-D shape of every case but the orthogonal ones.
      orthogonal_shape: the shape of ``orthogonal`` (a QR of this size);
        ``delta_orthogonal`` uses a ``(3, 3, m, m)`` kernel of about as many elements.
      repeats: steady-state calls per side; the median is reported.
      names: the case names to run (see :func:`resolve_names`); empty for all.
      key_impl: the PRNG implementation of the typed key, one of :data:`KEY_IMPLS`.
      torch: time ``torch.nn.init`` too when PyTorch is importable.
      seed: the key's seed.
    """

    shape: tuple[int, int] = FULL_SHAPE
    orthogonal_shape: tuple[int, int] = FULL_ORTHOGONAL_SHAPE
    repeats: int = FULL_REPEATS
    names: tuple[str, ...] = ()
    key_impl: str = "threefry2x32"
    torch: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        """Check every field; the selection is normalized to case names."""
        _check_shape("shape", self.shape)
        _check_shape("orthogonal_shape", self.orthogonal_shape)
        if isinstance(self.repeats, bool) or not isinstance(self.repeats, int):
            raise TypeError(f"jinit.bench: repeats must be an int, got {self.repeats!r}.")
        if self.repeats < 1:
            raise ValueError(f"jinit.bench: repeats must be >= 1, got {self.repeats}.")
        with owned("bench"):
            check_choice("key_impl", self.key_impl, KEY_IMPLS)
        object.__setattr__(self, "names", resolve_names(self.names))


def bench_config(
    *,
    quick: bool = False,
    shape: Sequence[int] | None = None,
    repeats: int | None = None,
    only: Iterable[str] = (),
    key_impl: str = "threefry2x32",
    torch: bool = True,
) -> BenchConfig:
    """Build a :class:`BenchConfig` from command-line style options.

    Args:
      quick: the quick sizes and repeats (:data:`QUICK_SHAPE`, :data:`QUICK_ORTHOGONAL_SHAPE`,
        :data:`QUICK_REPEATS`) instead of the full ones.
      shape: one 2-D shape for every case, orthogonal included (overrides ``quick``'s sizes).
      repeats: steady-state calls per side (default 20, 5 with ``quick``).
      only: initializer names to run (see :func:`resolve_names`); empty for all.
      key_impl: one of :data:`KEY_IMPLS`.
      torch: time ``torch.nn.init`` too when PyTorch is importable.

    Returns:
      The checked configuration.

    Raises:
      ValueError: a bad shape, ``repeats < 1``, an unknown name or key implementation.

    Example:
      >>> c = bench_config(quick=True, only=["he_normal"])
      >>> c.shape, c.orthogonal_shape, c.repeats, c.names
      ((1024, 1024), (512, 512), 5, ('he_normal',))
    """
    base = QUICK_SHAPE if quick else FULL_SHAPE
    ortho = QUICK_ORTHOGONAL_SHAPE if quick else FULL_ORTHOGONAL_SHAPE
    if shape is not None:
        base = ortho = _check_shape("shape", shape)
    return BenchConfig(
        shape=base,
        orthogonal_shape=ortho,
        repeats=(QUICK_REPEATS if quick else FULL_REPEATS) if repeats is None else repeats,
        names=tuple(only),
        key_impl=key_impl,
        torch=torch,
    )


def _conv_shape(rows: int, cols: int) -> tuple[int, int, int, int]:
    """A ``(3, 3, m, m)`` kernel with about ``rows * cols`` elements."""
    m = max(1, round(math.sqrt(rows * cols / (_WINDOW[0] * _WINDOW[1]))))
    return (*_WINDOW, m, m)


def case_shape(case: Case, config: BenchConfig) -> tuple[int, ...]:
    """The jax-layout shape ``case`` runs at under ``config``."""
    if case.layout == "dense":
        return config.shape
    if case.layout == "orthogonal":
        return config.orthogonal_shape
    if case.layout == "conv":
        return _conv_shape(*config.shape)
    return _conv_shape(*config.orthogonal_shape)
