"""What the report tests share: payloads, the demo objective, the ``hpo`` command.

Each payload sets the page title to its own marker (``PWNED-...``) if it ever runs.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]

#: Payloads, each naming its own marker; the page title becomes the marker if one runs.
NAME_PAYLOAD = "<script>document.title='PWNED-name'</script>"
IMG_PAYLOAD = "<img src=x onerror=\"document.title='PWNED-img'\">"
BREAKOUT_PAYLOAD = "</script><script>document.title='PWNED-breakout'</script>"
SVG_PAYLOAD = "<svg onload=\"document.title='PWNED-svg'\"></svg>"
ERROR_PAYLOAD = "<script>document.title='PWNED-error'</script><b>bold?</b>"
TAG_PAYLOAD = "<iframe src=\"javascript:document.title='PWNED-tag'\"></iframe>"
PARAM_NAME_PAYLOAD = "<i onmouseover=\"document.title='PWNED-param'\">knob</i>"
PAYLOADS = (
    NAME_PAYLOAD,
    IMG_PAYLOAD,
    BREAKOUT_PAYLOAD,
    SVG_PAYLOAD,
    ERROR_PAYLOAD,
    TAG_PAYLOAD,
    PARAM_NAME_PAYLOAD,
)
XSS_SWEEP = "xss" + NAME_PAYLOAD


def hpo_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The ``hpo`` command as a user runs it, in a fresh process."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "hpo.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=env,
        timeout=300,
    )


DEMO_SPACE: dict[str, Any] = {
    "lr": {"min": 1e-4, "max": 1e-1, "distribution": "log_uniform_values"},
    "opt": {"values": ["sgd", "adam", "broken|pipe"]},
    "layers": {"min": 1, "max": 4},
    "momentum": {"min": 0.0, "max": 0.9, "when": {"opt": "sgd"}},
}
DEMO_TRIALS = 40


def demo_objective(
    lr: float, opt: str, layers: int, momentum: float | None = None, trial: Any = None
) -> dict[str, float]:
    if opt == "broken|pipe":
        raise RuntimeError("optimizer | exploded\nsecond line")
    base = (math.log10(lr) + 2.5) ** 2 + 0.1 * layers + (momentum or 0.0)
    for step in range(5):
        trial.report(step=step, loss=base + 1.0 / (step + 1), acc=1.0 - base / 10)
    return {"loss": base, "acc": 1.0 - base / 10}


@dataclass(frozen=True)
class RecordedSweep:
    store: Path
    name: str
    trials: int


XSS_OBJECTIVE = f"""
def objective(params, trial):
    if params["opt"] == {IMG_PAYLOAD!r}:
        raise RuntimeError({ERROR_PAYLOAD!r} + " " + {IMG_PAYLOAD!r})
    x = params["x"] + (0.5 if params["opt"] == {BREAKOUT_PAYLOAD!r} else 0.0)
    x += params[{PARAM_NAME_PAYLOAD!r}] * 0.1
    for step in range(3):
        trial.report(step=step, loss=x * x + 1.0 / (step + 1))
    return {{"loss": x * x}}
"""
