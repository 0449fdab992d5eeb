"""Re-train every demo model from scratch: ``python -m failwidgets.demo.train`` (``make retrain``).

Runs each model's own re-training command in turn, with fixed seeds, writing the weights
into ``failwidgets/demo/weights/``. On 2 CPU cores this takes tens of minutes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

STEPS = {
    "classifier": ["-m", "failwidgets.demo.classifier"],
    "robust": ["-m", "failwidgets.demo.robust"],
    "clip": ["-m", "failwidgets.demo.clip_model"],
    "vae": ["-m", "failwidgets.demo.vae_model"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help=f"some of {list(STEPS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.models) - set(STEPS))
    if unknown:
        parser.error(f"models: unknown {unknown}; choose from {list(STEPS)}")
    for name in args.models or list(STEPS):
        start = time.perf_counter()
        print(f"== training {name}", flush=True)
        subprocess.run([sys.executable, *STEPS[name]], check=True)
        print(f"== {name} done in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
