"""The documentation's benchmark pages, rendered from the result files so figures never drift.

Every JSON in ``benchmarks/results/`` was written by one script of ``benchmarks/``, and each
script has ``markdown(data)``: the table it writes next to the JSON, rendered from the parsed
JSON alone. :data:`PAGES` says, for every result file, which script produced it, a title and
what is measured and how; :func:`render` turns one JSON into a MyST page (title, description,
device and versions from the JSON, the command that regenerates it, the script's table) and
:func:`pages` does so for a whole folder.

Importing this module, or rendering, does no benchmark work: the scripts are loaded from their
files on first use (they import jinit and JAX, never Flax, Equinox or PyTorch at import).

Use: ``pages(Path("benchmarks/results"))`` maps each JSON's stem to its page text.
``python benchmarks/pages.py`` rewrites every ``results/*.md`` from its JSON (:func:`write_tables`,
after a change of a script's ``markdown``); it measures nothing.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.util
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["PAGES", "Page", "page_for", "pages", "render", "table", "write_tables"]

HERE = Path(__file__).resolve().parent
#: a placeholder, in regeneration commands, for a checkout of an older jinit
OLD_CHECKOUT = "OLD_CHECKOUT"


def _script_command(script: str, options: list[str], unrecorded: list[str]) -> str:
    command = " ".join([f"python benchmarks/{script}", *options])
    if unrecorded:
        command += f"  # not recorded in this file, left at the defaults: {', '.join(unrecorded)}"
    return command


def _bench_init(data: dict[str, Any]) -> str:
    from jinit._src.bench import cases  # here: only when a command is wanted

    meta = data["meta"]
    options = [f"--repeats {meta['repeats']}"]
    shapes = (tuple(meta["shape"]), tuple(meta["orthogonal_shape"]))
    if shapes == (cases.QUICK_SHAPE, cases.QUICK_ORTHOGONAL_SHAPE):
        options.insert(0, "--quick")
    elif shapes != (cases.FULL_SHAPE, cases.FULL_ORTHOGONAL_SHAPE):
        options.insert(0, "--shape " + ",".join(map(str, meta["shape"])))
    names = [r["name"] for r in data["results"]]
    # a chosen few were named with --only; a file with most cases ran them all (cases added
    # since are simply not in it)
    if len(names) < len(cases.CASES) / 2:
        options.append("--only " + ",".join(names))
    if meta["key_impl"] != "threefry2x32":
        options.append(f"--key-impl {meta['key_impl']}")
    if meta["torch"] is None:
        options.append("--no-torch")
    return _script_command("bench_init.py", options, [])


def _sizes(rows: list[dict[str, Any]]) -> str:
    return ",".join(str(size) for size in dict.fromkeys(row["shape"][0] for row in rows))


def _with_setup(script: str, options: list[str], data: dict[str, Any]) -> str:
    """The command with the model sizes the JSON's ``setup`` records (named when it has none)."""
    setup = data.get("setup")
    if setup is None:
        return _script_command(script, options, ["--depth", "--width", "--copies"])
    sizes = [f"--{name} {setup[name]}" for name in ("depth", "width", "copies")]
    return _script_command(script, [*options, *sizes], [])


def _key_impls(data: dict[str, Any]) -> str:
    options = [f"--shapes {_sizes(data['results'])}", f"--repeats {data['meta']['repeats']}"]
    return _with_setup("key_impls.py", options, data)


def _model_init(data: dict[str, Any]) -> str:
    return _with_setup("model_init.py", [f"--repeats {data['meta']['repeats']}"], data)


def _philox_fusion(data: dict[str, Any]) -> str:
    options = [f"--shapes {_sizes(data['rows'])}", f"--repeats {data['meta']['repeats']}"]
    return _script_command("philox_fusion.py", options, [])


def _philox_quality(data: dict[str, Any]) -> str:
    options = [f"--gigabytes {data['gigabytes']:g}", f"--tests {data['tests']}"]
    return _script_command("philox_quality.py", options, [])


def _fan_audit(data: dict[str, Any]) -> str:
    return _script_command("fan_audit.py", [], [])


def _fan_audit_before(data: dict[str, Any]) -> str:
    command = _script_command("fan_audit.py", ["--out fan_audit_before"], [])
    return f"PYTHONPATH={OLD_CHECKOUT} {command}  # {OLD_CHECKOUT}: a jinit without trace_axes"


def _import_time(data: dict[str, Any]) -> str:
    options = [f"--repeats {data['meta']['repeats']}"]
    if data["meta"].get("before"):
        options.append(f"--before {OLD_CHECKOUT}")
    command = _script_command("import_time.py", options, [])
    if data["meta"].get("before"):
        command += f"  # {OLD_CHECKOUT}: a checkout of the jinit to compare with"
    return command


def _study_batched(data: dict[str, Any]) -> str:
    options = ["--optimizers " + ",".join(data["optimizers"])]
    if "repeats" not in data:
        return _script_command("study_batched.py", options, ["--repeats"])
    return _script_command("study_batched.py", [*options, f"--repeats {data['repeats']}"], [])


@dataclass(frozen=True)
class Page:
    """One kind of result file and how its documentation page reads.

    Attributes:
      patterns: ``fnmatch`` patterns of the JSON file names this entry covers.
      script: the script in ``benchmarks/`` that writes them (and renders their table).
      title: the page's H1; for an entry with a wildcard pattern, followed by the file's stem
        less ``stem_prefix`` (the device) in parentheses.
      description: one paragraph: what is measured and how.
      command: the command line that regenerates a given file (from its parsed JSON).
      stem_prefix: what the script puts before the device in its file names.
    """

    patterns: tuple[str, ...]
    script: str
    title: str
    description: str
    command: Callable[[dict[str, Any]], str]
    stem_prefix: str = ""

    def matches(self, name: str) -> bool:
        """Whether the JSON file called ``name`` is one of this entry's."""
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.patterns)

    def heading(self, stem: str) -> str:
        """The page's title for the file ``<stem>.json``."""
        if any(any(c in pattern for c in "*?[") for pattern in self.patterns):
            return f"{self.title} ({stem.removeprefix(self.stem_prefix)})"
        return self.title


PAGES: tuple[Page, ...] = (
    Page(
        patterns=("cpu-*.json", "gpu-*.json", "tpu-*.json"),
        script="bench_init.py",
        title="Initializer benchmark",
        description=(
            "Every jinit initializer timed in one process on one device beside its "
            "`jax.nn.initializers` anchor and, where PyTorch is installed, the `torch.nn.init` "
            "function that plays the same role (the anchors are listed under the table). "
            "Compile time, the first call of a fresh `jax.jit` after `jax.clear_caches()`, is "
            "kept apart from the steady state: the median of the repeats, each ended by "
            "`block_until_ready()`, with jinit, jax and a plain fill of the same bytes "
            "interleaved call by call. The table gives throughput, the time as a multiple of "
            "the fill, the jinit/jax ratio and whether jinit's and jax's outputs are "
            "bit-identical for the same key. A file whose name ends in `-rbg` or `-unsafe_rbg` "
            "keys every initializer with that implementation instead of threefry."
        ),
        command=_bench_init,
    ),
    Page(
        patterns=("key_impls_*.json",),
        script="key_impls.py",
        title="Key implementations",
        description=(
            "Which PRNG key implementation draws initial weights fastest. `jax.random.bits`, "
            "`uniform`, `normal`, `truncated_normal` and jinit's `he_normal` and "
            "`glorot_uniform` are jitted once per key implementation (threefry2x32, rbg, "
            "unsafe_rbg, `jinit.philox`, and JAX's own philox4x32 where it has one) and timed "
            "in interleaved rounds beside torch's CPU generator, with a copy of the same bytes "
            "as the physical reference. Times are medians, each call ended by "
            "`block_until_ready()`; compile time (`lower().compile()` of a fresh jit) is "
            "reported apart. A second table times `jinit.init_params` of a deep Dense model and "
            "`jinit.ensemble_init` of a small one with each key implementation."
        ),
        command=_key_impls,
        stem_prefix="key_impls_",
    ),
    Page(
        patterns=("model_init_*.json",),
        script="model_init.py",
        title="Whole-model initialization",
        description=(
            "Initializing whole models end to end, each method beside its anchor in one "
            "process. A deep Flax Dense model: `jax.jit(model.init)` (the anchor) against "
            "`jax.eval_shape` plus grouped `jinit.init_params`, and what `jinit.trace_axes` "
            "adds to that. An ensemble of small MLPs: a Python loop over keys of one jitted "
            "`model.init` (the anchor) and `jax.jit(jax.vmap(model.init))` against "
            "`jinit.ensemble_init`. Every round clears JAX's caches and builds each method "
            "afresh; the figures are medians over the rounds, methods interleaved, of the "
            "first call (compile included) and of the warm calls."
        ),
        command=_model_init,
        stem_prefix="model_init_",
    ),
    Page(
        patterns=("philox_fusion_*.json",),
        script="philox_fusion.py",
        title="Philox on XLA's CPU backend",
        description=(
            "Where a `jinit.philox` draw spends its time on XLA's CPU backend: in the Philox "
            "block arithmetic or in the fusion that writes the words. The real draw is timed "
            "beside the blocks it needs each reduced to one word, one block per word (the "
            "arithmetic of JAX's own philox4x32), torch's `random_`, a copy of the same bytes "
            "and the four words of each block written in other layouts; rounds interleaved, "
            "medians. The compiled HLO of the draw is read to count the output elements for "
            "which its loop fusions evaluate the rounds (block evaluations), against the "
            "blocks the draw needs."
        ),
        command=_philox_fusion,
        stem_prefix="philox_fusion_",
    ),
    Page(
        patterns=("philox_quality.json",),
        script="philox_quality.py",
        title="Statistical quality of the bit streams",
        description=(
            "dieharder on the bit streams of `jinit.philox` and of threefry2x32. For each "
            "implementation a stream of `jax.random.bits` (64 MiB chunks drawn with keys "
            "folded from one key) is written to a file and tested with dieharder in its "
            "resolve-ambiguity mode (`-Y 1`), which re-runs a WEAK result with more p-samples "
            "until it passes or fails clearly. The table counts the final assessment of every "
            "test; the JSON keeps each p-value. Nothing is timed here; a run takes minutes to "
            "hours and needs Debian's `dieharder`."
        ),
        command=_philox_quality,
    ),
    Page(
        patterns=("fan_audit.json",),
        script="fan_audit.py",
        title="Fan audit on third-party models",
        description=(
            "Whether jinit finds the true fan-in of the weights of models it did not write: "
            "Equinox's MLP and Conv2d, a Gemma-layout einsum transformer, a ResNet-18-style "
            "CNN with BatchNorm, and `nn.scan` and `nnx.vmap` stacks (from "
            "`tests/third_party_models.py`). Every weight is initialized with `jinit.he_normal` "
            "(variance 2 / fan-in) through `jinit.reinit`, once with layouts read from names "
            "and types and once with `axes=jinit.trace_axes(...)`, and its sample variance "
            "times the fan-in written by hand from the architecture, over 2, is compared with "
            "1. The table gives each model's worst deviation beside a tolerance of five "
            "standard errors of the smallest weight's variance, or says that jinit refused. "
            "A correctness audit: nothing is timed."
        ),
        command=_fan_audit,
    ),
    Page(
        patterns=("fan_audit_before.json",),
        script="fan_audit.py",
        title="Fan audit before trace_axes",
        description=(
            "The fan audit of the third-party models (Equinox MLP and CNN, a Gemma-layout "
            "einsum transformer, a ResNet-18-style CNN, `nn.scan` and `nnx.vmap` stacks) run "
            "against a jinit from before `jinit.trace_axes`, which reads layouts from names "
            "and types only: the starting point that the traced layouts of the current audit "
            "are measured against. Each weight is drawn with `jinit.he_normal` and its sample "
            "variance times the true fan-in, over 2, is compared with 1; the table gives each "
            "model's worst deviation and the tolerance of five standard errors."
        ),
        command=_fan_audit_before,
    ),
    Page(
        patterns=("import_time.json",),
        script="import_time.py",
        title="Import time",
        description=(
            "How long `import jinit` takes next to `import jax`, its anchor, with "
            "`import flax.linen` for scale. Every sample is a fresh Python interpreter that "
            "times the import statement alone with `time.perf_counter`; the commands alternate "
            "so that drift on a shared machine hits all alike. The table gives the median and "
            "the minimum of the samples, the median over that of `import jax`, and the "
            "optional packages (Flax, Optax, SciPy, rich, Matplotlib) each import loads; a "
            "'before' row, where present, times an older checkout."
        ),
        command=_import_time,
    ),
    Page(
        patterns=("study_batched_*.json",),
        script="study_batched.py",
        title="Batched study training",
        description=(
            "The study's training of many runs at once against a Python loop: the runs of one "
            "optimizer's column of the study (initializers times seeds, the study's default "
            "model and steps) trained by one jitted `vmap` over all runs, or by calling the "
            "same compiled single-run code once per run. The first call (compile included) "
            "and the median of the warm repeats are reported apart, with the largest "
            "difference between the two paths' loss curves as the check that they compute the "
            "same thing."
        ),
        command=_study_batched,
        stem_prefix="study_batched_",
    ),
)


@functools.cache
def _script(name: str) -> ModuleType:
    """The benchmark script ``benchmarks/<name>``, loaded from its file (once)."""
    path = HERE / name
    module_name = f"_jinit_benchmarks_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"benchmarks/pages.py: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def page_for(path: Path) -> Page:
    """The entry of :data:`PAGES` that covers the result file ``path``.

    Raises:
      ValueError: no entry, or more than one, matches the file's name.
    """
    found = [page for page in PAGES if page.matches(path.name)]
    if len(found) != 1:
        known = ", ".join(pattern for page in PAGES for pattern in page.patterns)
        problem = "no renderer" if not found else "more than one renderer"
        raise ValueError(
            f"benchmarks/pages.py: {problem} for the result file {path.name!r} ({path}); "
            f"add or fix an entry of PAGES (its patterns: {known})"
        )
    return found[0]


_HEADING = re.compile(r"^( {0,3})(#{1,6})(?=[ \t]|$)")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def _headings(text: str) -> list[tuple[int, int]]:
    """``(line index, level)`` of the ATX headings of ``text`` outside fenced code."""
    found, fence = [], None
    for index, line in enumerate(text.splitlines()):
        opening = _FENCE.match(line)
        if opening and (fence is None or opening.group(1) == fence):
            fence = opening.group(1) if fence is None else None
        elif fence is None and (match := _HEADING.match(line)):
            found.append((index, len(match.group(2))))
    return found


def _under_h1(table: str) -> str:
    """``table`` with its headings shifted so that the highest is an H2 (under the page's H1).

    A table that does not open with a heading gets a ``## Results`` heading.
    """
    lines = table.splitlines()
    headings = _headings(table)
    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if not headings or headings[0][0] != first:
        return "## Results\n\n" + "\n".join(lines) + "\n"
    shift = 2 - min(level for _, level in headings)
    for index, level in headings:
        lines[index] = "#" * (level + shift) + lines[index].lstrip()[level:]
    return "\n".join(lines) + "\n"


#: the meta fields shown on a page, in order: (field, how it reads)
_DEVICE_FIELDS = (
    ("device", "`{}`"),
    ("device_kind", "kind {}"),
    ("platform", "platform {}"),
    ("machine", "machine {}"),
    ("cpu_count", "{} CPUs"),
)
_VERSION_FIELDS = (
    ("python", "Python {}"),
    ("jinit", "jinit {}"),
    ("jax", "jax {}"),
    ("jaxlib", "jaxlib {}"),
    ("flax", "flax {}"),
    ("numpy", "numpy {}"),
    ("torch", "torch {}"),
)


def _environment(data: dict[str, Any]) -> list[str]:
    """The device, versions and date the file records (in ``meta``, or at its top level)."""
    fields = {**data, **(data.get("meta") or {})}

    def shown(spec: tuple[tuple[str, str], ...]) -> str:
        values = [
            text.format(fields[key])
            for key, text in spec
            if isinstance(fields.get(key), str | int) and fields[key] != ""
        ]
        return ", ".join(values)

    lines = []
    if device := shown(_DEVICE_FIELDS):
        lines.append(f"- Device: {device}")
    if versions := shown(_VERSION_FIELDS):
        lines.append(f"- Versions: {versions}")
    if isinstance(fields.get("date"), str):
        lines.append(f"- Date: {fields['date']}")
    return lines or ["- This result file records neither the device nor the library versions."]


def render(path: Path) -> str:
    """The MyST page of one result file: title, description, setup, command, table.

    Args:
      path: a JSON file of ``benchmarks/results/``.

    Returns:
      Markdown with one H1 (the title) and the script's table below it, its headings demoted
      under the H1; paths are inline code, never links.

    Raises:
      ValueError: no entry of :data:`PAGES` covers the file.
    """
    path = Path(path)
    page = page_for(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    lines = [
        f"# {page.heading(path.stem)}",
        "",
        page.description,
        "",
        f"Result file `benchmarks/results/{path.name}`, written by `benchmarks/{page.script}`:",
        "",
        *_environment(data),
        "",
        "Regenerate it (and its table) from the repository root with:",
        "",
        "```bash",
        page.command(data),
        "```",
        "",
    ]
    return "\n".join(lines) + "\n" + _under_h1(_script(page.script).markdown(data))


def table(path: Path) -> str:
    """The table of one result file: its script's ``markdown`` of the parsed JSON.

    Raises:
      ValueError: no entry of :data:`PAGES` covers the file.
    """
    path = Path(path)
    script = _script(page_for(path).script)
    return script.markdown(json.loads(path.read_text(encoding="utf-8")))


def pages(results_dir: Path) -> dict[str, str]:
    """Every page of a results folder: the JSON's stem to its :func:`render` text, by name.

    Raises:
      ValueError: a JSON of the folder that no entry of :data:`PAGES` covers (named).
    """
    paths = sorted(Path(results_dir).glob("*.json"))
    for path in paths:  # every file checked before any is rendered
        page_for(path)
    return {path.stem: render(path) for path in paths}


def write_tables(results_dir: Path) -> list[Path]:
    """Rewrite each ``<stem>.md`` of a results folder as :func:`table` of ``<stem>.json``.

    Returns:
      The tables whose text changed.
    """
    paths = sorted(Path(results_dir).glob("*.json"))
    tables = {path.with_suffix(".md"): table(path) for path in paths}
    changed = []
    for md, text in tables.items():
        if not md.exists() or md.read_text(encoding="utf-8") != text:
            md.write_text(text, encoding="utf-8")
            changed.append(md)
    return changed


if __name__ == "__main__":
    for changed in write_tables(HERE / "results"):
        print(f"rewrote {changed}")
