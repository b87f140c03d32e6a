#!/usr/bin/env python3
"""Remote mode on a real cluster (kip-in-kind-in-kip). Prints numbers;
asserts nothing.

    python3 bench/real_remote.py [--runs 3] [--kubectl PATH] [--load-image IMAGE]

Needs the images of test-stack/real-kind/build.sh and kip-test-node:latest.
kip's own local cluster (the real kind) plays the shared cluster; the DinD
image is `kip load`ed into it. Then, in the same run:

  1. `kip up --remote --progress json`: each phase's time, and the total;
  2. an image streamed into the node Pod's Docker through the real API
     server: `kip load NAME IMAGE --remote` (its streaming phase) against
     `docker save IMAGE | kubectl exec -i kip-NAME -- docker load`, the image
     removed from the node before each run, alternating, --runs times each;
  3. bench/portforward.py against the same real API server (a byte source
     Pod `kip-bench`): kip's forwarder against `kubectl port-forward`.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIND = os.environ.get("KIP_TEST_REAL_DIND_IMAGE", "kip-test-node:real-kind")
NODE = os.environ.get("KIP_TEST_KIND_IMAGE", "kip-test-kind-node:latest")


def phases(stderr):
    """(phase, seconds) of each finished phase in `--progress json` output."""
    out = []
    for line in stderr.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "phase" and "elapsedSeconds" in event:
            out.append((event["phase"], event["elapsedSeconds"], event["status"]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--kubectl", default=os.environ.get("KIP_TEST_KUBECTL", "kubectl"))
    ap.add_argument("--load-image", default="kip-test-node:latest")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "kip"], cwd=ROOT, check=True)
    kip = os.path.join(ROOT, "target/release/kip")
    tmp = tempfile.mkdtemp(prefix="kip-real-remote-bench-")
    env = dict(os.environ, KUBECONFIG=os.path.join(tmp, "kubeconfig"),
               KIP_STATE_DIR=os.path.join(tmp, "state"), KIP_DIND_IMAGE=DIND, KIP_IMAGE=NODE)
    outer, inner = f"bench-outer-{os.getpid()}", f"bench-inner-{os.getpid()}"
    remote = ["--remote", "--context", f"kip-{outer}"]
    kubectl = [args.kubectl, "--context", f"kip-{outer}"]

    def run(cmd, **kw):
        return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, **kw)

    try:
        start = time.perf_counter()
        run([kip, "up", outer, "--wait", "8m", "-q"])
        run([kip, "load", outer, DIND, args.load_image, "-q"])
        print(f"shared cluster (local kip up + kip load): {time.perf_counter() - start:.1f} s")

        start = time.perf_counter()
        up = run([kip, "up", inner, *remote, "--wait", "15m", "--progress", "json"])
        total = time.perf_counter() - start
        print(f"\nkip up --remote on the real cluster: {total:.1f} s in all")
        for phase, seconds, status in phases(up.stderr):
            print(f"  {phase:24} {seconds:8.1f} s  {status}")

        image = args.load_image
        size = int(subprocess.run(["docker", "image", "inspect", "-f", "{{.Size}}", image],
                                  check=True, capture_output=True, text=True).stdout)
        pod = f"kip-{inner}"
        kip_times, kubectl_times = [], []
        for _ in range(args.runs):
            run(kubectl + ["exec", pod, "--", "sh", "-c", f"docker rmi -f {image} || true"])
            load = run([kip, "load", inner, image, *remote, "--progress", "json"])
            kip_times += [s for p, s, st in phases(load.stderr) if p == "images-loaded"]
            run(kubectl + ["exec", pod, "--", "docker", "rmi", "-f", image])
            start = time.perf_counter()
            save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
            subprocess.run(kubectl + ["exec", "-i", pod, "--", "docker", "load"], env=env,
                           stdin=save.stdout, check=True, capture_output=True)
            save.wait()
            kubectl_times.append(time.perf_counter() - start)
        mib = size / (1 << 20)
        k, c = statistics.median(kip_times), statistics.median(kubectl_times)
        print(f"\n{image} ({mib:.0f} MiB) into the node Pod's Docker, median of {args.runs}:")
        print(f"  kubectl exec -i … docker load   {c:7.2f} s  {mib / c:7.1f} MiB/s  1.00x")
        print(f"  kip load --remote (streaming)    {k:7.2f} s  {mib / k:7.1f} MiB/s  {c / k:.2f}x")
        sys.stdout.flush()

        print()
        subprocess.run([sys.executable, os.path.join(ROOT, "bench/portforward.py"),
                        "--kubectl", args.kubectl, "--runs", str(args.runs),
                        "--kubeconfig", env["KUBECONFIG"], "--context", f"kip-{outer}"],
                       env=env, check=True)
    finally:
        subprocess.run([kip, "down", inner, *remote, "-q"], env=env, capture_output=True)
        subprocess.run([kip, "down", outer, "-q"], env=env, capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
