"""A command objective for the early-stop tests: ``python stop_script.py MODE OUT``.

- ``hpo``: reports every few milliseconds and exits once ``hpo.should_stop()`` is True;
- ``stdlib``: the same, checking for ``$HPO_STOP_FILE`` by hand.

Either writes to OUT whether the stop file existed at start and at the end. A guard ends it
after 30 s if it is never stopped (the test then fails on its metrics).
"""

import json
import os
import sys
import time


def main() -> None:
    mode, out = sys.argv[1], sys.argv[2]
    stop_file = os.environ["HPO_STOP_FILE"]
    if mode == "hpo":
        import hpo

        stopping = hpo.should_stop
    else:

        def stopping() -> bool:
            return os.path.exists(stop_file)

    at_start = stopping()
    step = 0
    deadline = time.monotonic() + 30
    while not stopping() and time.monotonic() < deadline:
        with open(os.environ["HPO_REPORT_FILE"], "a") as f:
            f.write(json.dumps({"step": step, "loss": 1.0 / (step + 1)}) + "\n")
        step += 1
        time.sleep(0.01)
    with open(out, "w") as f:
        json.dump({"at_start": at_start, "at_end": stopping(), "stop_file": stop_file}, f)


if __name__ == "__main__":
    main()
