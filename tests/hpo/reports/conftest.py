"""Real sweeps, recorded in real SQLite files, for the report tests (see report_sweeps.py).

``demo_sweep`` is run through ``hpo.sweep``: a log-scale float, an int, a categorical, a
conditional float, a step series per trial and a choice that always fails. ``xss_sweep`` is
run through the ``hpo sweep`` command from a config whose name, description, tags, categorical
values, a parameter name and the error messages hold HTML and script payloads; each payload
sets the page title to its own marker if it ever runs.
"""

from __future__ import annotations

import json
import textwrap

import pytest
from report_sweeps import (
    BREAKOUT_PAYLOAD,
    DEMO_SPACE,
    DEMO_TRIALS,
    IMG_PAYLOAD,
    PARAM_NAME_PAYLOAD,
    SVG_PAYLOAD,
    TAG_PAYLOAD,
    XSS_OBJECTIVE,
    XSS_SWEEP,
    RecordedSweep,
    demo_objective,
    hpo_cli,
)

import hpo


@pytest.fixture(scope="session")
def demo_sweep(tmp_path_factory: pytest.TempPathFactory) -> RecordedSweep:
    db = tmp_path_factory.mktemp("demo") / "hpo.db"
    result = hpo.sweep(
        demo_objective,
        DEMO_SPACE,
        metric="loss",
        trials=DEMO_TRIALS,
        seed=3,
        store=db,
        name="demo",
    )
    return RecordedSweep(db, result.name, len(result.trials))


@pytest.fixture(scope="session")
def xss_sweep(tmp_path_factory: pytest.TempPathFactory) -> RecordedSweep:
    where = tmp_path_factory.mktemp("xss")
    (where / "payload_objective.py").write_text(textwrap.dedent(XSS_OBJECTIVE))
    config = {
        "name": XSS_SWEEP,
        "description": IMG_PAYLOAD,
        "tags": [BREAKOUT_PAYLOAD, TAG_PAYLOAD],
        "objective": "payload_objective.py:objective",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {
            "x": {"min": -2.0, "max": 2.0},
            "opt": {"values": ["plain", IMG_PAYLOAD, BREAKOUT_PAYLOAD, SVG_PAYLOAD]},
            PARAM_NAME_PAYLOAD: {"min": 0, "max": 3},
        },
        "trials": 30,
        "executor": "inline",
        "seed": 5,
    }
    # JSON is YAML: every payload stays one quoted string.
    (where / "sweep.yaml").write_text(json.dumps(config, indent=2))
    db = where / "hpo.db"
    run = hpo_cli("sweep", str(where / "sweep.yaml"), "--store", str(db), cwd=where)
    assert run.returncode in (0, 1), run.stderr  # 1 would mean no trial completed
    return RecordedSweep(db, XSS_SWEEP, 30)
