#!/usr/bin/env python3
"""Remote snapshots (issue 19 item 6): on a real shared cluster, `kip up
--remote --from SNAPSHOT` (the snapshot streamed from the local engine into
the node Pod through `pods/exec`) against a fresh `kip up --remote`, in one
run, interleaved; and `kip snapshot save --remote` (the node streamed out).
Prints numbers; asserts nothing.

    python3 bench/remote_snapshot_up.py [--rounds N] [--kip target/release/kip]

Needs the images of test-stack/real-kind/build.sh. kip's own local cluster
(the real kind) plays the shared cluster (one node); kip's DinD image is
`kip load`ed into it. A first `kip up --remote` (it makes the outer node's
seed, so every later fresh `up` gets the kind node image from it, as a
user's second `up` there does), a ConfigMap in it, `kip snapshot save
--remote` of it (timed), then N rounds, each:

  1. a fresh `kip up --remote` (from the seed);
  2. `kip up --remote --from` the snapshot;

each timed until `kubectl wait --for=condition=Ready node --all` returns
after it (every inner node Ready); the restored cluster's ConfigMap is
checked there. kip's steps are printed as kip times them.
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


def run(cmd, env):
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def steps(stderr):
    for what, secs in re.findall(r"^ ✓ (.*) \((\d+(?:\.\d+)?)s\)$", stderr, re.M):
        print(f"    {float(secs):6.1f} s  {what[:100]}")


def up_to_ready(kip, env, inner, remote, extra):
    """kip up --remote (EXTRA), then the inner nodes Ready: seconds."""
    start = time.perf_counter()
    up = run([kip, "up", inner, *remote, "--wait", "15m", "--no-switch-context", *extra], env)
    run([KUBECTL, "--context", f"kip-{inner}", "wait", "--for=condition=Ready", "node", "--all",
         "--timeout=8m"], env)
    total = time.perf_counter() - start
    steps(up.stderr)
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--kip", default=None, help="default: a release build of this tree")
    args = ap.parse_args()
    # The outer cluster, the snapshot and a restored node's copy of it take
    # ~12 GB on this engine's disk; the shared machine keeps 20 GB free.
    free = shutil.disk_usage("/var/lib/docker" if os.path.isdir("/var/lib/docker") else "/").free
    if free < 32 << 30:
        sys.exit(f"{free >> 30} GiB free: this bench needs ~12 GiB beyond the 20 GiB to keep free")
    kip = args.kip
    if kip is None:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "kip"], cwd=ROOT, check=True)
        kip = os.path.join(ROOT, "target/release/kip")
    tmp = tempfile.mkdtemp(prefix="kip-remote-snapshot-bench-")
    env = dict(os.environ, KUBECONFIG=os.path.join(tmp, "kubeconfig"),
               KIP_STATE_DIR=os.path.join(tmp, "state"), KIP_DIND_IMAGE=DIND, KIP_IMAGE=NODE)
    pid = os.getpid()
    outer, source, inner = f"rsnap-outer-{pid}", f"rsnap-src-{pid}", f"rsnap-new-{pid}"
    snapshot = f"rsnap-bench-{pid}"
    remote = ["--remote", "--context", f"kip-{outer}"]
    fresh, restored = [], []
    try:
        start = time.perf_counter()
        run([kip, "up", outer, "--wait", "8m", "-q"], env)
        run([kip, "load", outer, DIND, "-q"], env)
        print(f"shared cluster (local kip up + kip load): {time.perf_counter() - start:.1f} s")
        first = up_to_ready(kip, env, source, remote, [])
        print(f"first kip up --remote (makes the seed): {first:.1f} s")
        run([KUBECTL, "--context", f"kip-{source}", "create", "configmap", "kept",
             "--from-literal=token=bench"], env)
        start = time.perf_counter()
        saved = run([kip, "snapshot", "save", source, snapshot, *remote], env)
        save = time.perf_counter() - start
        steps(saved.stderr)
        print(f"kip snapshot save --remote: {save:.1f} s")
        run([kip, "down", source, *remote, "-q"], env)
        for n in range(args.rounds):
            t = up_to_ready(kip, env, inner, remote, [])
            fresh.append(t)
            print(f"round {n + 1}: fresh kip up --remote      {t:6.1f} s to Ready")
            run([kip, "down", inner, *remote, "-q"], env)
            t = up_to_ready(kip, env, inner, remote, ["--from", snapshot])
            restored.append(t)
            token = run([KUBECTL, "--context", f"kip-{inner}", "get", "configmap", "kept",
                         "-o", "jsonpath={.data.token}"], env).stdout
            print(f"round {n + 1}: kip up --remote --from    {t:6.1f} s to Ready (ConfigMap: {token})")
            run([kip, "down", inner, *remote, "-q"], env)
            sys.stdout.flush()
        f, r = statistics.median(fresh), statistics.median(restored)
        print(f"\nmedians of {args.rounds} rounds, to every inner node Ready:")
        print(f"  fresh kip up --remote (kind node image from the seed)  {f:6.1f} s")
        print(f"  kip up --remote --from (snapshot streamed in)          {r:6.1f} s")
        print(f"  from / fresh: {r / f:.2f}x; save --remote: {save:.1f} s")
    finally:
        for cluster in (inner, source):
            subprocess.run([kip, "down", cluster, *remote, "-q"], env=env, capture_output=True)
        subprocess.run([kip, "down", outer, "-q"], env=env, capture_output=True)
        subprocess.run([kip, "snapshot", "rm", snapshot], env=env, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
