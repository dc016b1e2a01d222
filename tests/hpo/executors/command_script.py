"""A command objective for the tests: ``python command_script.py MODE [ARGS...]``.

Standard library only, and written as any program in any language would: it follows the
protocol by hand (except the ``hpo_report`` mode, which uses ``hpo.report``).
"""

import json
import os
import signal
import subprocess
import sys
import time


def report(**fields):
    with open(os.environ["HPO_REPORT_FILE"], "a") as f:
        f.write(json.dumps(fields) + "\n")


def main() -> None:
    mode = sys.argv[1]
    args = sys.argv[2:]
    if "ARGV_OUT" in os.environ:
        with open(os.environ["ARGV_OUT"], "w") as f:
            json.dump(
                {
                    "argv": args,
                    "env": {k: v for k, v in os.environ.items() if k.startswith("HPO_")},
                },
                f,
            )
    if mode == "report":
        for step in range(3):
            report(step=step, loss=1.0 / (step + 1), acc=0.5)
        report(extra="nan")
    elif mode == "stdout":
        print("training...")
        print("epoch 1")
        print("0.125")
        print("")
    elif mode == "stdout_json":
        print("noise")
        print(json.dumps({"loss": 0.5, "acc": 0.75}))
    elif mode == "nothing":
        print("done")
    elif mode == "exit3":
        print("Traceback: something broke", file=sys.stderr)
        sys.exit(3)
    elif mode == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif mode == "malformed":
        report(step=0, loss=1.0)
        with open(os.environ["HPO_REPORT_FILE"], "a") as f:
            f.write('{"loss": oops}\n')
        time.sleep(30)
    elif mode == "sleep":
        # a grandchild too: the whole process group must go on a timeout
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        with open(args[0], "w") as f:
            f.write(f"{os.getpid()} {child.pid}")
        time.sleep(60)
    elif mode == "hpo_report":
        import hpo

        for step in range(2):
            hpo.report(step=step, loss=0.5 - step * 0.25)
    elif mode == "flood":
        for _ in range(20000):
            print("x" * 100)
            print("y" * 100, file=sys.stderr)
        print("1.5")
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
