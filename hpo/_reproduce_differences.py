"""What differs between the environment a trial ran in and the current one, as warnings.

:func:`environment_differences` turns ``trackers.diff_environments`` into one
:class:`Difference` per thing that could change a result (code, data, packages, machine);
``hpo reproduce`` shows them before it reruns a trial.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trackers import diff_environments

# Keys of an environment snapshot that say nothing about the trial's result.
_IGNORED = frozenset({"argv", "git_error", "gpu_error"})


class DifferenceKind(str, enum.Enum):
    """What a difference between the recorded and the current run is about."""

    CODE = "code"
    PACKAGES = "packages"
    ENVIRONMENT = "environment"
    DATA = "data"


@dataclass(frozen=True, slots=True)
class Difference:
    """One way the rerun's circumstances differ from the original's."""

    kind: DifferenceKind
    text: str

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.text}"


def environment_differences(
    recorded: Mapping[str, Any], current: Mapping[str, Any]
) -> list[Difference]:
    """Every difference between the recorded and the current environment that could change a
    result: code (git commit, branch, uncommitted changes), packages, Python, machine."""
    diff = diff_environments(recorded, current)
    out: list[Difference] = []
    git = diff.pop("git", {})
    if "commit" in git:
        was, now = git["commit"]
        out.append(Difference(DifferenceKind.CODE, f"git commit {_short(was)} -> {_short(now)}"))
    if "branch" in git:
        was, now = git["branch"]
        out.append(Difference(DifferenceKind.CODE, f"git branch {was} -> {now}"))
    if "diff" in git:
        files = _changed_files(*git["diff"])
        out.append(
            Difference(
                DifferenceKind.CODE,
                "uncommitted changes differ from the recorded ones"
                + (f" in {', '.join(files)}" if files else ""),
            )
        )
    if "untracked" in git:
        was, now = (set(v or ()) for v in git["untracked"])
        if now - was:
            text = ", ".join(sorted(now - was))
            out.append(Difference(DifferenceKind.CODE, f"new untracked files: {text}"))
        if was - now:
            text = ", ".join(sorted(was - now))
            out.append(Difference(DifferenceKind.CODE, f"untracked files gone: {text}"))
        before, after = git["untracked"]
        if isinstance(before, Mapping) and isinstance(after, Mapping):  # content hashes recorded
            changed = sorted(p for p in was & now if before[p] != after[p])
            if changed:
                text = ", ".join(changed)
                out.append(Difference(DifferenceKind.CODE, f"untracked files changed: {text}"))
    out.extend(_data_differences(*diff.pop("inputs", (None, None))))
    packages = diff.pop("packages", {})
    for name, (was, now) in packages.get("changed", {}).items():
        out.append(Difference(DifferenceKind.PACKAGES, f"{name} {was} -> {now}"))
    for name, version in packages.get("added", {}).items():
        out.append(Difference(DifferenceKind.PACKAGES, f"{name} {version} installed since"))
    for name, version in packages.get("removed", {}).items():
        out.append(Difference(DifferenceKind.PACKAGES, f"{name} {version} no longer installed"))
    for key, (was, now) in diff.items():
        if key in _IGNORED:
            continue
        if isinstance(was, Mapping) and isinstance(now, Mapping):
            for sub in sorted(was.keys() | now.keys()):
                if was.get(sub) != now.get(sub):
                    text = f"{key}.{sub} {was.get(sub)!r} -> {now.get(sub)!r}"
                    out.append(Difference(DifferenceKind.ENVIRONMENT, text))
        else:
            out.append(Difference(DifferenceKind.ENVIRONMENT, f"{key} {was!r} -> {now!r}"))
    return out


def _data_differences(was: Any, now: Any) -> list[Difference]:
    """Inputs whose content changed, that are gone, or that are new since the recording."""
    old = dict((was or {}).get("entries") or {})
    new = dict((now or {}).get("entries") or {})
    out = []
    for name in sorted(old.keys() | new.keys()):
        a, b = old.get(name), new.get(name)
        if a is None:
            text = f"{name} is new (not among the recorded inputs)"
        elif b is None:
            text = f"{name} is missing (recorded sha256 {str(a.get('sha256'))[:12]})"
        elif a.get("sha256") != b.get("sha256"):
            was_sha, now_sha = str(a.get("sha256"))[:12], str(b.get("sha256"))[:12]
            text = f"{name} changed: sha256 {was_sha} -> {now_sha}"
            if a.get("size") != b.get("size"):
                text += f", {a.get('size')} -> {b.get('size')} bytes"
        else:
            continue
        out.append(Difference(DifferenceKind.DATA, text))
    for pattern in (now or {}).get("missing") or ():
        out.append(Difference(DifferenceKind.DATA, f"input {pattern!r} matches nothing now"))
    return out


def _short(commit: str | None) -> str:
    return commit[:12] if commit else "(none)"


_DIFF_HEADER = re.compile(r"^diff --git a/(.*?) b/", re.MULTILINE)


def _changed_files(was: str | None, now: str | None) -> list[str]:
    """Files whose uncommitted changes are not the same in the two ``git diff`` texts."""
    a, b = _per_file(was or ""), _per_file(now or "")
    return sorted(f for f in a.keys() | b.keys() if a.get(f) != b.get(f))


def _per_file(diff: str) -> dict[str, str]:
    starts = [(m.start(), m.group(1)) for m in _DIFF_HEADER.finditer(diff)]
    ends = [s for s, _ in starts[1:]] + [len(diff)] * bool(starts)
    return {name: diff[s:e] for (s, name), e in zip(starts, ends, strict=True)}
