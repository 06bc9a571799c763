"""Optional dependencies: imported where a feature needs them, so ``import jinit`` stays light.

``import jinit`` imports JAX and NumPy only. Flax, Optax, SciPy, rich and matplotlib come in when
a feature uses them; :func:`require` imports one or says which extra installs it.
:func:`loaded` answers "is this a Flax module?" without importing Flax: an object can only be an
instance of a class whose module is already imported, so a plain pytree never pulls Flax in.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

__all__ = ["EXTRAS", "enable_x64", "loaded", "require"]

try:  # JAX >= 0.7.1 has the context manager at the top level
    from jax import enable_x64
except ImportError:  # pragma: no cover - older JAX
    from jax.experimental import enable_x64  # type: ignore[no-redef,attr-defined]

#: Which extra of ``pip install 'jinit[...]'`` brings each optional dependency.
EXTRAS = {
    "flax": "flax",
    "optax": "flax",
    "scipy": "scipy",
    "rich": "cli",
    "matplotlib": "plots",
}


def loaded(name: str) -> ModuleType | None:
    """The module ``name`` if some code has imported it already, else ``None`` (no import)."""
    return sys.modules.get(name)


def require(name: str, owner: str) -> ModuleType:
    """Import ``name`` for the feature ``jinit.<owner>``, or say which extra installs it.

    Raises:
      ImportError: the package is not installed; the message names the extra.
    """
    try:
        return importlib.import_module(name)
    except ImportError as error:
        package = name.split(".")[0]
        extra = EXTRAS.get(package, package)
        raise ImportError(
            f"jinit.{owner}: needs {package}, which is not installed; install it with "
            f"pip install 'jinit[{extra}]' (or pip install {package})."
        ) from error
