#!/usr/bin/env python3
"""`kip list` cost (issue 22 item 3): since `list` asks every running node
which kind nodes in it are stopped (one exec each, all at once), how long
it takes against a `kip list` that does not (an older binary), in the same
run. Prints numbers; asserts nothing.

    python3 bench/list_cost.py --before OLD_KIP --after target/debug/kip
        [--clusters 3] [--rounds 15] [--dind-image kip-test-node:latest]
        [--image kip-test-stand-in-node:latest]

Makes `--clusters` stand-in clusters named `bench-list-N`, then runs
`kip list` with each binary in turn, `--rounds` times each (interleaved,
so both see the same load), and deletes the clusters. The engine's other
kip clusters are listed too: the count printed is what each list showed.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def run(cmd, env):
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def timed_list(kip, env):
    start = time.monotonic()
    out = run([kip, "list"], env).stdout
    return time.monotonic() - start, len(out.splitlines()) - 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True)
    parser.add_argument("--after", required=True)
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--dind-image", default="kip-test-node:latest")
    parser.add_argument("--image", default="kip-test-stand-in-node:latest")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="bench-list-")
    env = dict(
        os.environ,
        KUBECONFIG=os.path.join(workdir, "kubeconfig"),
        KIP_DIND_IMAGE=args.dind_image,
        KIP_IMAGE=args.image,
    )
    names = [f"bench-list-{i}" for i in range(args.clusters)]
    try:
        for name in names:
            run([args.after, "up", name, "-q"], env)
        times = {"before": [], "after": []}
        listed = set()
        for _ in range(args.rounds):
            for which in ("before", "after"):
                seconds, rows = timed_list(getattr(args, which), env)
                times[which].append(seconds)
                listed.add(rows)
        for which, values in times.items():
            print(
                f"{which}: median {statistics.median(values):.3f} s, "
                f"min {min(values):.3f} s, max {max(values):.3f} s"
            )
        ratio = statistics.median(times["after"]) / statistics.median(times["before"])
        print(f"clusters listed: {sorted(listed)}; after/before (medians): {ratio:.1f}x")
    finally:
        subprocess.run([args.after, "down", *names], env=env, capture_output=True)


if __name__ == "__main__":
    main()
