"""``import jinit`` imports JAX and NumPy only; optional packages come with the feature using them.

Each check runs in a fresh interpreter, since the test process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

HEAVY = ("flax", "optax", "scipy", "rich", "matplotlib", "equinox", "sklearn", "torch", "pandas")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def _heavy_after(code: str) -> list[str]:
    probe = f"""
    import json, sys
    {textwrap.indent(textwrap.dedent(code), "    ").strip()}
    heavy = {HEAVY!r}
    print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy))))
    """
    result = _run(probe)
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_import_jinit_loads_no_optional_package() -> None:
    assert _heavy_after("import jinit") == []


def test_initializers_and_plain_pytrees_need_no_optional_package() -> None:
    code = """
    import jax, jax.numpy as jnp, jinit
    key = jax.random.key(0)
    for init in (jinit.he_normal(), jinit.orthogonal(), jinit.trunc_normal(std=0.02),
                 jinit.get("normal:0.02"), jinit.constant(0.5)):
        init(key, (8, 4)).block_until_ready()
    params = {"dense": {"kernel": jnp.zeros((8, 4)), "bias": jnp.zeros(4)}}
    jinit.reinit(params, jinit.preset("torch"), key)
    jinit.init_params(jax.eval_shape(lambda: params), jinit.gpt2_rules(2, residual="*x"), key,
                      strict=False)
    jinit.recommend("relu")
    """
    # JAX's own CPU linear algebra (the QR of orthogonal) imports SciPy: what JAX alone loads
    # for the same draws is allowed, nothing more
    baseline = _heavy_after(
        "import jax; jax.nn.initializers.orthogonal()(jax.random.key(0), (8, 4))"
    )
    assert set(_heavy_after(code)) <= set(baseline), baseline


def test_flax_comes_with_a_flax_model() -> None:
    loaded = _heavy_after("import jinit, flax.linen as nn; nn.Dense(2)")
    assert "flax" in loaded and not {"optax", "matplotlib", "scipy"} & set(loaded), loaded


def test_a_missing_optional_package_names_its_extra() -> None:
    code = """
    import sys
    sys.modules["scipy"] = None  # as if scipy were not installed
    import jinit
    try:
        jinit.trunc_normal(std=0.02, a=-0.04, b=0.04, exact_std=True)
    except ImportError as error:
        print(error)
    """
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert (
        "jinit.trunc_normal: needs scipy, which is not installed; install it with pip install "
        "'jinit[scipy]'" in result.stdout
    ), result.stdout
    cli = _run("import sys; sys.modules['rich'] = None\nfrom jinit._src.cli.entry import main\n"
               "print(main(['list']))")
    assert "jinit.cli: needs rich" in cli.stdout and "'jinit[cli]'" in cli.stdout, cli.stdout
    assert cli.stdout.strip().endswith("2")
