#!/usr/bin/env python3
"""Seeds (issue 18): `kip up` whose node gets the kind node image from the
engine's seed, against `kind create cluster --wait` on a host engine with
the real kind, the same node image and the same kind config, both to the
same point: every node Ready. Prints numbers; asserts nothing.

    python3 bench/seed_up.py [--runs N] [--kip target/release/kip]
        [--dind-image kip-test-node:real-kind] [--image kip-test-kind-node:latest]

Both images come from test-stack/real-kind/build.sh. In one run, on this
machine, in this order:

  1. the seed of IMAGE removed (`kip seed rm`), then one `kip up`: the
     first up, which makes the seed (the stream goes into the seed);
  2. N rounds, interleaved so that each sees the same load: `kip up` from
     the seed; `kip up --no-seed` (the image streamed into the node, as
     before seeds); `kind create cluster --wait 8m` against a second dockerd
     on this host that has IMAGE (bench/real_kind_up.py's baseline).

Every `kip up` is timed until `kubectl wait --for=condition=Ready node
--all` returns after it (kind's --wait waits for the same). The image
phase of an up is its "Docker running inside the node" step plus its kind
node image step (from seed, or streamed), as kip prints them; the node's
own seed setup (copy of the metadata, bind mounts) is the time it reports.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from real_kind_up import BenchEngine, sh  # noqa: E402

KUBECTL = os.environ.get("KIP_TEST_KUBECTL", "kubectl")


def run_kip_up(kip, env, name, extra):
    """kip up: its ✓ lines as (what, the step's own seconds)."""
    proc = subprocess.run([kip, "up", name, *extra], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit("kip up failed:\n" + proc.stderr)
    steps = re.findall(r"^ ✓ (.*) \((\d+(?:\.\d+)?)s\)$", proc.stderr, re.M)
    return [(what, float(secs)) for what, secs in steps]


def kip_up_to_ready(kip, env, name, extra):
    """kip up, then every node Ready: (seconds to Ready, kip up's steps)."""
    start = time.time()
    phases = run_kip_up(kip, env, name, extra)
    sh(KUBECTL, "--context", f"kip-{name}", "wait", "--for=condition=Ready", "node", "--all",
       "--timeout=8m", env=env)
    return time.time() - start, phases


def image_phase(phases):
    """(dockerd start + the kind node image step, the image step alone, the
    node's own seed setup in ms or None)."""
    dockerd = next((s for p, s in phases if p.startswith("Docker running")), 0.0)
    image = next(((p, s) for p, s in phases if "ind node image" in p or "Seed of" in p), ("", 0.0))
    setup = re.search(r"in (\d+)ms\)", image[0])
    return dockerd + image[1], image[1], int(setup.group(1)) if setup else None


def remove_seed(kip, env, image):
    listed = json.loads(sh(kip, "seed", "list", "-o", "json", env=env) or "{}")
    for seed in listed.get("items", []):
        if seed.get("image") == image:
            sh(kip, "seed", "rm", seed["key"], env=env)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--kip", default="target/release/kip")
    p.add_argument("--dind-image", default="kip-test-node:real-kind")
    p.add_argument("--image", default="kip-test-kind-node:latest")
    args = p.parse_args()
    kip = os.path.abspath(args.kip)
    tmp = tempfile.mkdtemp()
    env = dict(os.environ, KUBECONFIG=os.path.join(tmp, "kubeconfig"), NO_COLOR="1",
               KIP_DIND_IMAGE=args.dind_image,
               KIP_ACCEPT_WARNINGS="inotify,lib-modules,cgroup")
    kind = shutil.which("kind") or os.path.join(tmp, "kind")
    if not shutil.which("kind"):
        cid = sh("docker", "create", "--entrypoint", "kind", args.dind_image).strip()
        sh("docker", "cp", f"{cid}:/usr/local/bin/kind", kind)
        sh("docker", "rm", cid)
    up_args = ["--image", args.image, "--wait", "8m", "--no-switch-context"]
    rows = {"first": [], "seed": [], "stream": [], "kind": []}
    phases_of = {"first": [], "seed": [], "stream": []}
    config = None

    def kip_run(kind_of_run, name, extra=()):
        nonlocal config
        total, phases = kip_up_to_ready(kip, env, name, up_args + list(extra))
        rows[kind_of_run].append(total)
        phases_of[kind_of_run].append(phases)
        if config is None:
            config = sh(kip, "exec", name, "--", "cat", "/etc/kip/kind.yaml", env=env)
        sh(kip, "down", name, env=env)

    def kind_run(i):
        cfg = os.path.join(tmp, "kind.yaml")
        with open(cfg, "w") as f:
            f.write(config)
        start = time.time()
        out = subprocess.run([kind, "create", "cluster", "--name", f"s{i}", "--image", args.image,
                              "--config", cfg, "--wait", "8m", "--kubeconfig",
                              os.path.join(tmp, "kind-kc")],
                             env=engine.env, capture_output=True, text=True)
        rows["kind"].append(time.time() - start)
        subprocess.run([kind, "delete", "cluster", "--name", f"s{i}"], env=engine.env,
                       capture_output=True)
        if out.returncode != 0:
            sys.exit(f"kind create cluster failed on the bench engine:\n{out.stderr}")

    pid = os.getpid()
    engine = BenchEngine(tmp)
    try:
        engine.load(args.image)
        remove_seed(kip, env, args.image)
        kip_run("first", f"bench-seed-{pid}-first")
        # Interleaved, so that each kind of run sees the same load.
        for i in range(args.runs):
            kip_run("seed", f"bench-seed-{pid}-{i}")
            kip_run("stream", f"bench-stream-{pid}-{i}", ["--no-seed"])
            kind_run(i)
    finally:
        engine.close()

    med = statistics.median
    print(f"runs: {args.runs}; node image {args.image}; kip's DinD image {args.dind_image}")
    print(f"{'to every node Ready, seconds':62} {'median':>8}  runs")
    labels = {
        "first": "kip up, first use (makes the seed)",
        "seed": "kip up from the seed",
        "stream": "kip up --no-seed (image streamed into the node)",
        "kind": "kind create cluster --wait on a host engine (baseline)",
    }
    for key, label in labels.items():
        values = rows[key]
        print(f"  {label:60} {med(values):8.1f}  {' '.join(f'{v:.1f}' for v in values)}")
    print(f"{'image phase (Docker start + kind node image step), seconds':62}")
    for key in ("first", "seed", "stream"):
        phase = [image_phase(p) for p in phases_of[key]]
        setups = [s for _, _, s in phase if s is not None]
        setup = f"; the node's seed setup {med(setups)} ms" if setups else ""
        print(f"  {labels[key]:60} {med(t for t, _, _ in phase):8.1f}  "
              f"(image step alone {med(i for _, i, _ in phase):.1f}{setup})")
    rounds = " ".join(f"{s / k:.2f}" for s, k in zip(rows["seed"], rows["kind"]))
    print(f"{'ratio kip up from the seed / kind, round by round':62} {rounds}")
    kind_med = med(rows["kind"])
    print(f"{'ratio kip up from the seed / kind':62} {med(rows['seed']) / kind_med:8.2f}x")
    print(f"{'ratio kip up --no-seed / kind':62} {med(rows['stream']) / kind_med:8.2f}x")
    print(f"{'ratio first kip up (seeding) / kind':62} {med(rows['first']) / kind_med:8.2f}x")


if __name__ == "__main__":
    main()
