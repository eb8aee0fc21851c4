"""What ``verify`` says of a leaderboard entry: the verdicts, their JSON names, and the words the command prints.

An entry re-scored from its stored predictions is :data:`VERIFIED` (its claims and digests hold and no leak is
suspected), :data:`AT_FLOOR` (as verified, but no worse than the oracle or at label-level accuracy:
indistinguishable from a perfect classifier or a label leak), :data:`LEAK_SUSPECTED` (the leak check of
:mod:`ldmnist_hub.submissions.leak` flags it), :data:`OTHER_VERSION` (scored on another dataset version: kept,
never ranked) or :data:`FLAGGED` (a claim or digest does not hold, or it cannot be read or scored). Only the first
two are ``ok``: ``--accept`` moves them, and a push lists them on the card.

The card renders these entries from the manifest one layer below (:mod:`ldmnist_hub.hub.card`), so the words it
shows (:data:`VERIFIED`, :data:`AT_FLOOR` and :data:`AT_FLOOR_MEANING`) are defined there and named here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ldmnist_hub.hub.card import AT_FLOOR_MEANING, AT_FLOOR_VERDICT, VERIFIED_VERDICT

VERIFIED = VERIFIED_VERDICT
AT_FLOOR = AT_FLOOR_VERDICT
LEAK_SUSPECTED = "leak suspected"
FLAGGED = "flagged"
OTHER_VERSION = "other version"  # scored on another dataset version than the config's current one: never ranked
# The verdicts as `ldmnist leaderboard verify --json` names them.
JSON_VERDICTS = {VERIFIED: "verified", AT_FLOOR: "at-floor", LEAK_SUSPECTED: "leak-suspected", FLAGGED: "invalid",
                 OTHER_VERSION: "other-version"}
# The verdicts of an entry that may be accepted and listed on the card.
LISTED = (VERIFIED, AT_FLOOR)


@dataclass(frozen=True)
class VerifyResult:
    """One stored entry, re-scored.

    Attributes:
        name: the submission's name.
        status: ``accepted`` (under ``submissions/<name>/``), ``pending`` (a folder's pending area) or the
            revision it was read from (e.g. ``refs/pr/3``).
        ok: the claimed scores, data digest and predictions digest all hold, and no leak is suspected: the
            entry may be accepted and shown (as ``verdict`` says).
        why: what does not hold (empty when ``ok``).
        claimed: the entry's scores (None if the entry is unreadable).
        recomputed: the scores of the stored predictions (None if they could not be scored).
        entry: the entry as stored (None if unreadable).
        verdict: :data:`VERIFIED`, :data:`AT_FLOOR` (consistent, but no worse than the oracle: indistinguishable
            from a perfect classifier or a label leak), :data:`LEAK_SUSPECTED`, :data:`OTHER_VERSION` (scored on
            another dataset version: not re-scored, never ranked with this version's entries) or :data:`FLAGGED`
            (a claim or digest does not hold, or the entry cannot be read).
        leak_check: the leak check (:meth:`ldmnist_hub.submissions.leak.LeakCheck.as_dict`: the draws' seeds, MSEs
            and z-scores, the floors), None if the predictions could not be scored.
    """

    name: str
    status: str
    ok: bool
    why: str = ""
    claimed: dict[str, Any] | None = None
    recomputed: dict[str, Any] | None = None
    entry: dict[str, Any] | None = field(default=None, repr=False)
    verdict: str = FLAGGED
    leak_check: dict[str, Any] | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def mse(self) -> float | None:
        """The leaderboard's MSE: the mean over the secret posterior draws of the check (None if not scored)."""
        return self.leak_check["mse"] if self.leak_check else None

    @property
    def canonical_mse(self) -> float | None:
        """The MSE against the canonical test ``y`` (the published one; None if not scored)."""
        return self.leak_check["canonical_mse"] if self.leak_check else None

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)

    def in_words(self) -> str:
        """The check as ``ldmnist leaderboard verify`` prints it: the verdict, or what does not hold."""
        return label(self.verdict) if self.verdict in LISTED else self.why

    def summary(self) -> dict[str, Any]:
        """What ``ldmnist leaderboard verify --json`` prints of the entry.

        ``name``; ``verdict``, one of ``verified``, ``at-floor``, ``leak-suspected``, ``invalid`` (a claim or
        digest does not hold, or it cannot be read or scored) and ``other-version`` (scored on another dataset
        version: kept, not checked, never ranked); ``mse`` (the secret-draw mean the leaderboard ranks by) and
        ``canonical_mse``; ``reasons``; then ``status``, ``ok``, ``accuracy``, the secret draws' ``seeds``, the
        protocol the entry records (``family``, ``budget``, ``predicted_draws``: the published draws it predicts),
        ``mse_sd`` over those draws, ``excess_mse`` and ``excess_se``, and the whole ``leak_check``.
        """
        scored, entry = self.recomputed or {}, self.entry or {}
        return {"name": self.name, "verdict": JSON_VERDICTS.get(self.verdict, "invalid"), "mse": self.mse,
                "canonical_mse": self.canonical_mse,
                "reasons": list(self.reasons) or ([self.why] if self.why else []), "status": self.status,
                "ok": self.ok, "accuracy": scored.get("reconstructed_accuracy"),
                "seeds": (self.leak_check or {}).get("seeds"), "family": entry.get("family"),
                "budget": entry.get("budget"), "predicted_draws": scored.get("draws"),
                **{k: scored.get(k) for k in ("mse_sd", "excess_mse", "excess_se")}, "leak_check": self.leak_check}


def label(verdict: str) -> str:
    """A verdict (or a leak check's status) in words: :data:`AT_FLOOR` says what it means.

    Examples:
        >>> label("verified")
        'verified'
        >>> label(AT_FLOOR) == f"at the floor: {AT_FLOOR_MEANING}"
        True
    """
    return f"{AT_FLOOR}: {AT_FLOOR_MEANING}" if verdict == AT_FLOOR else verdict


def failed(results: Sequence[VerifyResult]) -> list[VerifyResult]:
    """The results that fail the check: not ``ok``, except an entry of another dataset version (kept and
    reported, never ranked with this version's entries)."""
    return [r for r in results if not r.ok and r.verdict != OTHER_VERSION]


def tally(results: Sequence[VerifyResult]) -> str:
    """The verdicts counted, as ``ldmnist leaderboard verify`` ends: ``"2 of 3 verified; 1 leak suspected"``.

    Examples:
        >>> tally([VerifyResult("a", "accepted", True, verdict=VERIFIED), VerifyResult("b", "pending", False)])
        '1 of 2 verified; 1 flagged'
    """
    count = {v: sum(r.verdict == v for r in results) for v in (VERIFIED, AT_FLOOR, LEAK_SUSPECTED, OTHER_VERSION)}
    flagged = len(failed(results)) - count[LEAK_SUSPECTED]
    parts = [f"{count[VERIFIED]} of {len(results)} verified"]
    parts += [f"{count[v]} {v}" for v in (AT_FLOOR, LEAK_SUSPECTED, OTHER_VERSION) if count[v]]
    parts += [f"{flagged} flagged"] if flagged else []
    return "; ".join(parts)


__all__ = ["AT_FLOOR", "AT_FLOOR_MEANING", "FLAGGED", "JSON_VERDICTS", "LEAK_SUSPECTED", "LISTED", "OTHER_VERSION",
           "VERIFIED", "VerifyResult", "failed", "label", "tally"]
