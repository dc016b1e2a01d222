#!/usr/bin/env python3
"""A command-line training program that knows nothing of hpo's Python API.

It takes its hyperparameters as arguments and reports metrics with hpo's protocol: one JSON
object per line appended to the file named by $HPO_REPORT_FILE (see docs/protocol.md). Any
language can do the same. Run on its own, it just prints.
"""

import argparse
import json
import math
import os
import random


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--momentum", type=float, default=0.0)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    random.seed(int(os.environ.get("HPO_TRIAL_SEED", "0")))

    # A toy learning curve: converges fastest near lr=0.05, momentum=0.9.
    speed = math.exp(-((math.log10(args.lr) + 1.3) ** 2)) * (0.5 + args.momentum / 2)
    report_file = os.environ.get("HPO_REPORT_FILE")
    loss = 1.0
    for epoch in range(args.epochs):
        loss = math.exp(-speed * (epoch + 1) / 4) + 0.02 * random.random()
        line = json.dumps({"step": epoch, "val_loss": loss})
        if report_file:
            with open(report_file, "a") as f:
                f.write(line + "\n")
        else:
            print(line)


if __name__ == "__main__":
    main()
