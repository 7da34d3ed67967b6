"""Long fuzz run of the engine: `python tools/fuzz.py --examples 10000 [--seed N]`.

Generates mutated Python sources, odd encodings, deep nesting, huge lines, binary noise
and malformed notebooks (tests/fuzz/inputs.py), checks each through the real engine and
every report format (tests/fuzz/harness.py), and prints the count of inputs and of
failures (TRN999 or any uncaught exception), each failing input saved for replay.
Exit status 1 if anything failed.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import seed as hypothesis_seed  # noqa: E402

from tests.fuzz.harness import check_input  # noqa: E402
from tests.fuzz.inputs import inputs  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default="fuzz-failures", help="directory for failing inputs")
    args = parser.parse_args()
    counts: collections.Counter = collections.Counter()
    failures: list[tuple[str, str]] = []
    started = time.perf_counter()

    with tempfile.TemporaryDirectory() as directory:
        @hypothesis_seed(args.seed)
        @settings(max_examples=args.examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(inputs())
        def run(case):
            name, data = case
            counts["inputs"] += 1
            counts[os.path.splitext(name)[1]] += 1
            problem = check_input(directory, name, data)
            if problem is not None:
                failures.append((problem, name))
                os.makedirs(args.save, exist_ok=True)
                with open(os.path.join(args.save, f"{len(failures):05d}-{name}"), "wb") as out:
                    out.write(data)
            if counts["inputs"] % 1000 == 0:
                print(f"{counts['inputs']} inputs, {len(failures)} failures, "
                      f"{time.perf_counter() - started:.0f} s", flush=True)

        run()

    print(f"inputs: {counts['inputs']} (.py/.pyi {counts['.py'] + counts['.pyi']}, .ipynb {counts['.ipynb']}); "
          f"failures: {len(failures)}; {time.perf_counter() - started:.0f} s")
    for problem, count in collections.Counter(p for p, _ in failures).most_common(20):
        print(f"  {count} x {problem}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
