#!/usr/bin/env python3
"""The pull-through cache (`kip registry create --proxy`, `kip up --mirror`):
a second cluster's pull of an image the first pulled, against the first's.
Prints numbers; asserts nothing.

    python3 bench/mirror_pull.py [--kip target/release/kip] [--size-mb 100]
        [--image kip-test-kind-node:latest] [--dind-image kip-test-node:real-kind]
        [--registry-image kip-test-registry:latest] [--rate 50mbit]

No registry on the internet is reachable here, so a kip registry plays
Docker Hub ("the upstream") and a second one caches it. In one run:

  1. an image of SIZE MB of random (incompressible) bytes is pushed to the
     upstream, twice under two names;
  2. two clusters are made with `--mirror CACHE` (the real kind, one node);
  3. image A: `crictl pull docker.io/...` in cluster 1 (the cache fetches it
     from the upstream), then in cluster 2 (the cache has it);
  4. image B, the same, with the upstream's answers limited to RATE (Linux
     tbf in its network namespace), as an upstream across the internet is:
     the upstream on this machine answers far faster than Docker Hub does.

The ratio first / second is the saving; the issue's goal is >= 5x.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def sh(*args, check=True, env=None, stdin=None):
    out = subprocess.run(args, capture_output=True, env=env, input=stdin)
    if check and out.returncode != 0:
        sys.exit(f"{' '.join(args)} failed: {out.stderr.decode()}")
    return out.stdout.decode()


def big_image(tag, size_mb, tmp):
    """An image of size_mb MB of random bytes (no compression helps)."""
    ctx = os.path.join(tmp, tag.replace("/", "_").replace(":", "_"))
    os.makedirs(ctx)
    with open(os.path.join(ctx, "blob"), "wb") as f:
        for _ in range(size_mb):
            f.write(os.urandom(1 << 20))
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write("FROM scratch\nCOPY blob /blob\n")
    sh("docker", "build", "-q", "-t", tag, ctx, env=dict(os.environ, DOCKER_BUILDKIT="0"))


def timed_pull(cluster, ref):
    node = f"kip-{cluster}"
    start = time.time()
    sh("docker", "exec", node, "docker", "exec", f"{cluster}-control-plane", "crictl", "pull", ref)
    return time.time() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kip", default="target/release/kip")
    p.add_argument("--image", default="kip-test-kind-node:latest")
    p.add_argument("--dind-image", default="kip-test-node:real-kind")
    p.add_argument("--registry-image", default="kip-test-registry:latest")
    p.add_argument("--size-mb", type=int, default=100)
    p.add_argument("--rate", default="50mbit")
    a = p.parse_args()
    pid = os.getpid()
    hub, cache = f"bench-hub-{pid}", f"bench-cache-{pid}"
    clusters = [f"bench-mirror-{pid}-1", f"bench-mirror-{pid}-2"]
    tmp = tempfile.mkdtemp()
    env = dict(os.environ, KUBECONFIG=os.path.join(tmp, "kubeconfig"))
    kip = lambda *args: sh(a.kip, *args, env=env)  # noqa: E731
    try:
        made = json.loads(kip("registry", "create", hub, "--image", a.registry_image, "-o", "json"))
        # Published on 127.0.0.1 and the engine's bridge gateway, where the
        # cache (a container) reaches it.
        hub_port, gateway = made["port"], made["addresses"][-1]
        kip("registry", "create", cache, "--image", a.registry_image,
            "--proxy", f"http://{gateway}:{hub_port}", "--proxy-for", "docker.io")
        refs = {}
        for name in ("a", "b"):
            local = f"kip-bench/big-{name}:{pid}"
            big_image(local, a.size_mb, tmp)
            pushed = f"127.0.0.1:{hub_port}/{local}"
            sh("docker", "tag", local, pushed)
            sh("docker", "push", pushed)
            sh("docker", "rmi", local, pushed)
            refs[name] = f"docker.io/{local}"
        for cluster in clusters:
            start = time.time()
            kip("up", cluster, "--image", a.image, "--dind-image", a.dind_image,
                "--mirror", cache, "--wait", "8m")
            print(f"kip up {cluster} --mirror: {time.time() - start:.0f}s", flush=True)

        results = []
        a_first, a_second = (timed_pull(c, refs["a"]) for c in clusters)
        results.append(("upstream on this machine", a_first, a_second))
        hub_pid = sh("docker", "inspect", "-f", "{{.State.Pid}}", f"kip-registry-{hub}").strip()
        sh("nsenter", "-t", hub_pid, "-n", "tc", "qdisc", "add", "dev", "eth0", "root", "tbf",
           "rate", a.rate, "burst", "64kb", "latency", "400ms")
        b_first, b_second = (timed_pull(c, refs["b"]) for c in clusters)
        results.append((f"upstream limited to {a.rate}", b_first, b_second))

        print(f"\n{a.size_mb} MB image, crictl pull in the kind node, through the cache:\n")
        print("| upstream | cluster 1 (cache fetches it) | cluster 2 (cache has it) | ratio |")
        print("|---|---|---|---|")
        for what, first, second in results:
            print(f"| {what} | {first:.1f} s | {second:.1f} s | **{first / second:.1f}x** |")
    finally:
        for cluster in clusters:
            subprocess.run([a.kip, "down", cluster], env=env, capture_output=True)
        subprocess.run([a.kip, "registry", "rm", hub, cache], env=env, capture_output=True)


if __name__ == "__main__":
    main()
