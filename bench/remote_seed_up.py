#!/usr/bin/env python3
"""Remote seeds (issue 18): on a real shared cluster, the second node Pod on
an outer node gets the kind node image from the seed the first one made
there, instead of a stream through `pods/exec`. Prints numbers; asserts
nothing.

    python3 bench/remote_seed_up.py [--rounds N] [--kip target/release/kip]

Needs the images of test-stack/real-kind/build.sh. kip's own local cluster
(the real kind) plays the shared cluster (one node); kip's DinD image is
`kip load`ed into it. Then N rounds, in one run, each:

  1. the outer node's seed store emptied (no node Pod uses it then), then
     `kip up --remote`: the first node Pod there, which makes the seed (the
     kind node image streamed into it through the real API server);
  2. `kip down`, then `kip up --remote` again: the second node Pod, which
     gets the image from the seed.

Each `up` is timed until `kubectl wait --for=condition=Ready node --all`
returns after it (the inner cluster's nodes Ready), and its image phase is
kip's kind node image step as it prints it (seeding, or from seed); each
up's steps are printed as kip times them.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIND = os.environ.get("KIP_TEST_REAL_DIND_IMAGE", "kip-test-node:real-kind")
NODE = os.environ.get("KIP_TEST_KIND_IMAGE", "kip-test-kind-node:latest")
KUBECTL = os.environ.get("KIP_TEST_KUBECTL", "kubectl")
SEEDS = "/var/lib/kip/seeds"


def run(cmd, env):
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def up_to_ready(kip, env, inner, remote):
    """kip up --remote, then the inner nodes Ready: (seconds, the kind node
    image step's line and seconds)."""
    start = time.perf_counter()
    up = subprocess.run([kip, "up", inner, *remote, "--wait", "15m", "--keep-on-failure"],
                        env=env, capture_output=True, text=True)
    if up.returncode != 0:
        # The node is kept: its bootstrap's word and its dockerds' logs.
        pod = [KUBECTL, "--context", remote[-1]]
        logs = subprocess.run(pod + ["logs", f"kip-{inner}"], env=env, capture_output=True, text=True)
        tails = subprocess.run(pod + ["exec", f"kip-{inner}", "--", "sh", "-c",
                                      "tail -n 30 /var/log/kip/dockerd*.log"],
                               env=env, capture_output=True, text=True)
        sys.exit(f"kip up failed ({up.returncode}):\n{up.stderr}\n--- node log\n{logs.stdout}"
                 f"\n--- dockerd logs\n{tails.stdout}{tails.stderr}")
    run([KUBECTL, "--context", f"kip-{inner}", "wait", "--for=condition=Ready", "node", "--all",
         "--timeout=8m"], env)
    total = time.perf_counter() - start
    image = re.search(r"^ ✓ (Kind node image .*|Seed of the kind node image .*) \((\d+(?:\.\d+)?)s\)$",
                      up.stderr, re.M)
    if image is None:
        sys.exit("no kind node image step in kip up's output:\n" + up.stderr)
    for what, secs in re.findall(r"^ ✓ (.*) \((\d+(?:\.\d+)?)s\)$", up.stderr, re.M):
        print(f"    {float(secs):6.1f} s  {what[:100]}")
    return total, image.group(1), float(image.group(2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--kip", default=None, help="default: a release build of this tree")
    args = ap.parse_args()
    kip = args.kip
    if kip is None:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "kip"], cwd=ROOT, check=True)
        kip = os.path.join(ROOT, "target/release/kip")
    tmp = tempfile.mkdtemp(prefix="kip-remote-seed-bench-")
    env = dict(os.environ, KUBECONFIG=os.path.join(tmp, "kubeconfig"),
               KIP_STATE_DIR=os.path.join(tmp, "state"), KIP_DIND_IMAGE=DIND, KIP_IMAGE=NODE)
    outer, inner = f"bench-outer-{os.getpid()}", f"bench-inner-{os.getpid()}"
    remote = ["--remote", "--context", f"kip-{outer}"]
    on_outer_node = [kip, "exec", outer, "--", "docker", "exec", f"{outer}-control-plane"]
    first, second = [], []
    try:
        start = time.perf_counter()
        run([kip, "up", outer, "--wait", "8m", "-q"], env)
        run([kip, "load", outer, DIND, "-q"], env)
        print(f"shared cluster (local kip up + kip load): {time.perf_counter() - start:.1f} s")
        for n in range(args.rounds):
            run(on_outer_node + ["rm", "-rf", SEEDS], env)
            total, step, secs = up_to_ready(kip, env, inner, remote)
            first.append((total, secs))
            print(f"round {n + 1}: first node Pod   {total:6.1f} s to Ready; {step} ({secs:.1f} s)")
            run([kip, "down", inner, *remote, "-q"], env)
            total, step, secs = up_to_ready(kip, env, inner, remote)
            second.append((total, secs))
            print(f"round {n + 1}: second node Pod  {total:6.1f} s to Ready; {step} ({secs:.1f} s)")
            run([kip, "down", inner, *remote, "-q"], env)
            sys.stdout.flush()
        f = statistics.median(t for t, _ in first)
        s = statistics.median(t for t, _ in second)
        fi = statistics.median(i for _, i in first)
        si = statistics.median(i for _, i in second)
        print(f"\nmedians of {args.rounds} rounds, kip up --remote to every inner node Ready:")
        print(f"  first node Pod on the outer node (makes the seed)  {f:6.1f} s  image {fi:5.1f} s")
        print(f"  second node Pod there (from the seed)             {s:6.1f} s  image {si:5.1f} s")
        print(f"  second / first: {s / f:.2f}x")
    finally:
        subprocess.run([kip, "down", inner, *remote, "-q"], env=env, capture_output=True)
        subprocess.run([kip, "down", outer, "-q"], env=env, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
