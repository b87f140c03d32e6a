#!/usr/bin/env python3
"""Warm pools (issue 20): `kip up NAME --pool POOL` against a fresh
`kip up NAME` of the same plan, in the same run. Prints numbers; asserts
nothing.

    python3 bench/pool_claim.py [--claims 20] [--fresh 4] [--size 2]
        [--kip target/debug/kip] [--dind-image kip-test-node:latest]
        [--image kip-test-stand-in-node:latest] [--paused] [--idle SECONDS]
        [--kind-config FILE]

Each measured operation is timed from the start of `kip up` until the
kubeconfig it wrote reaches the cluster: `kubectl --context kip-NAME get
--raw /readyz` answers "ok". A claim is also taken apart: each phase's
seconds as `kip --progress json` reports them, kip's own elapsedSeconds
(start to kubeconfig written), the process's exit, and the kubectl run. A claim is timed only when the pool has a
ready member (the bench waits for the refill between claims, untimed); a
claim that found none and made the cluster fresh is counted apart. The
fresh ups are interleaved with the claims (one after every claims/fresh
claims) so that both see the same load. Every cluster is deleted after
it is timed; the pool is removed at the end.

With the defaults the members are the stand-in's (kip's own overhead:
the stand-in kind answers at once); `--dind-image kip-test-node:real-kind
--image kip-test-kind-node:latest` makes real kind members (each refill
is then a whole cluster creation: use few claims on a shared machine).
`--paused` makes the pool's members frozen while they wait (`kip pool
create --paused`): a claim then thaws one and waits for its kubelet to
renew its lease, which the claim's time includes. `--idle S` lets each
ready member wait S seconds (untimed) before it is claimed, as a member
in a pool does between jobs (a kubelet frozen past its lease renewal
interval, 10 s, renews at once when thawed).

`--remote` (with `--dind-image kip-test-node:real-kind --image
kip-test-kind-node:latest`): the pool is on a shared cluster. kip's own
local cluster (the real kind) plays it, with kip's DinD image `kip load`ed
into it; a first `kip up --remote` (untimed) leaves its outer node the seed
of the kind node image that members use; then every `kip` command of the
bench gets `--remote --context kip-OUTER`, and each fresh up is a seeded
remote `up`. A claimed cluster is reached through kip's port-forward, as
from a laptop.
"""

import argparse
import fcntl
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

KUBECTL = os.environ.get("KIP_TEST_KUBECTL", "kubectl")


REMOTE = []


def run(cmd, env, check=True):
    if cmd and cmd[0] != KUBECTL and REMOTE and cmd[1] in ("up", "down", "pool", "--progress"):
        cmd = cmd + REMOTE
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def timed_up(kip, env, name, extra, phases=None):
    """Seconds from `kip up` to /readyz answering through its kubeconfig,
    and the member it claimed (None: made fresh). With `phases` (a dict),
    each phase's seconds (`--progress json`), kip's own `elapsedSeconds`
    and the process's wall time are appended there."""
    start = time.monotonic()
    proc = run([kip, "--progress", "json", "up", name, "-o", "json", *extra], env)
    exited = time.monotonic() - start
    result = json.loads(proc.stdout)
    ready = run([KUBECTL, "--context", f"kip-{name}", "get", "--raw", "/readyz"], env)
    took = time.monotonic() - start
    if ready.stdout.strip() != "ok":
        sys.exit(f"/readyz of {name}: {ready.stdout}")
    if phases is not None and result.get("member"):
        for line in proc.stderr.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "phase" and event.get("status") == "done":
                phases.setdefault(event["phase"], []).append(event["elapsedSeconds"])
        phases.setdefault("kip up: elapsedSeconds", []).append(result["elapsedSeconds"])
        phases.setdefault("kip up: process exited", []).append(exited)
        phases.setdefault("kubectl get --raw /readyz", []).append(took - exited)
    return took, result.get("member")


def ready_members(kip, env, pool):
    listed = json.loads(run([kip, "pool", "list", pool, "-o", "json"], env).stdout)
    return listed["items"][0]["ready"]


def wait_ready(kip, env, pool, limit=600):
    deadline = time.monotonic() + limit
    while ready_members(kip, env, pool) < 1:
        if time.monotonic() > deadline:
            sys.exit(f"pool {pool} had no ready member within {limit}s")
        time.sleep(0.2)


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def describe(label, values):
    print(f"{label}: n={len(values)} p50={statistics.median(values):.3f}s "
          f"p99={percentile(values, 99):.3f}s min={min(values):.3f}s max={max(values):.3f}s")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--claims", type=int, default=20)
    p.add_argument("--fresh", type=int, default=4)
    p.add_argument("--size", type=int, default=2)
    p.add_argument("--kip", default="target/debug/kip")
    p.add_argument("--dind-image", default="kip-test-node:latest")
    p.add_argument("--image", default="kip-test-stand-in-node:latest")
    p.add_argument("--paused", action="store_true")
    p.add_argument("--idle", type=float, default=0.0)
    p.add_argument("--kind-config", help="for the pool's members and the fresh ups alike")
    p.add_argument("--remote", action="store_true", help="the pool on a shared cluster (above)")
    args = p.parse_args()

    work = tempfile.mkdtemp(prefix="poolbench-")
    env = dict(os.environ, KUBECONFIG=os.path.join(work, "kubeconfig"),
               KIP_STATE_DIR=os.path.join(work, "state"), KIP_DIND_IMAGE=args.dind_image,
               KIP_IMAGE=args.image, KIP_ACCEPT_WARNINGS="inotify,disk,cgroup")
    pool = f"poolbench-{os.getpid()}"
    kip = args.kip
    paused = ["--paused"] if args.paused else []
    config = ["--kind-config", args.kind_config] if args.kind_config else []
    outer = f"poolbench-outer-{os.getpid()}"
    if args.remote:
        run([kip, "up", outer, "--wait", "8m", "-q"], env)
        run([kip, "load", outer, args.dind_image, "-q"], env)
        REMOTE.extend(["--remote", "--context", f"kip-{outer}"])
        # The one outer node has 2 CPUs: a claimed member, its refill and a
        # fresh up at once need small requests.
        config = config + ["--cpu", "100m"]
        run([kip, "up", f"{pool}-seed", "--wait", "10m", "-q", *config], env)
        run([kip, "down", f"{pool}-seed", "-q"], env)
    run([kip, "pool", "create", pool, "--size", str(args.size), *paused, *config], env)
    claims, fresh, made_fresh, phases = [], [], 0, {}
    every = max(1, args.claims // max(1, args.fresh))
    try:
        for i in range(args.claims):
            wait_ready(kip, env, pool)
            time.sleep(args.idle)
            name = f"{pool}-c{i}"
            took, member = timed_up(kip, env, name, ["--pool", pool], phases)
            if member:
                claims.append(took)
            else:
                made_fresh += 1
            run([kip, "down", name], env)
            if (i + 1) % every == 0 and len(fresh) < args.fresh:
                name = f"{pool}-f{len(fresh)}"
                took, _ = timed_up(kip, env, name, config)
                fresh.append(took)
                run([kip, "down", name], env)
    finally:
        run([kip, "pool", "rm", pool], env, check=False)
        if REMOTE:
            REMOTE.clear()
            run([kip, "down", outer, "-q"], env, check=False)
        lock = os.path.join(work, "state", "pools", f"{pool}@default.lock")
        for path in (lock + ".next", lock):
            if os.path.exists(path):
                with open(path, "a") as f:
                    fcntl.flock(f, fcntl.LOCK_EX)  # the fillers ended
        shutil.rmtree(work, ignore_errors=True)  # its kubeconfig and state

    how = f", paused, idle {args.idle:.0f}s before a claim" if args.paused else ""
    how += f", kind config {args.kind_config}" if args.kind_config else ""
    how += ", remote (a shared cluster: kip's local real-kind cluster)" if args.remote else ""
    print(f"members: {args.image} in {args.dind_image}; pool size {args.size}{how}")
    describe("claim (up --pool) to /readyz", claims)
    print("a claim taken apart (p50 of each part, seconds):")
    for phase, values in phases.items():
        print(f"  {phase}: {statistics.median(values):.3f}")
    if made_fresh:
        print(f"claims that found no ready member and made the cluster fresh: {made_fresh}")
    describe("fresh up to /readyz", fresh)
    print(f"fresh p50 / claim p50 = {statistics.median(fresh) / statistics.median(claims):.0f}x")


if __name__ == "__main__":
    main()
