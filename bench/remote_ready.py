#!/usr/bin/env python3
"""How soon Ready is reported once the API server answers inside a remote
node Pod, kip against the 2020 write-up's probe settings, on one emulator
run. Prints numbers; asserts nothing.

    python3 bench/remote_ready.py [--kubectl PATH]

One emulator (release build, pods on, a node root with /lib/modules) and the
test node image. The bench polls each node's `/readyz` on its pod IP every
10 ms itself, so "the API server answers inside the Pod" is measured the
same way for both:

  1. `kip up --remote --endpoint pod-ip --progress json`: from the API
     answering to kip's `api-ready` line, and to the Pod's Ready condition
     (kip's readiness probe: every second);
  2. the same node objects (from `kip up --remote --dry-run`) with the 2020
     readiness probe instead (initialDelaySeconds 120, periodSeconds 20, no
     startup probe): from the API answering to the Pod's Ready condition.
"""

import argparse
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = "kip-test-node:latest"


def answers(ip):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(f"https://{ip}:6443/readyz", context=ctx, timeout=0.5) as r:
            return r.status == 200
    except Exception:  # noqa: BLE001 - not answering yet
        return False


class Watch:
    """Polls a pod: its IP, when /readyz first answers, when it is Ready."""

    def __init__(self, kubectl, pod):
        self.kubectl, self.pod = kubectl, pod
        self.api_at = self.ready_at = None
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        ip = None
        while not self.stop and (self.api_at is None or self.ready_at is None):
            if ip is None or self.ready_at is None:
                out = subprocess.run(self.kubectl + ["get", "pod", self.pod, "-o", "json"],
                                     capture_output=True, text=True)
                if out.returncode == 0:
                    status = json.loads(out.stdout).get("status", {})
                    ip = status.get("podIP") or ip
                    for c in status.get("conditions", []):
                        if c["type"] == "Ready" and c["status"] == "True" and self.ready_at is None:
                            self.ready_at = time.monotonic()
            if ip and self.api_at is None and answers(ip):
                self.api_at = time.monotonic()
            time.sleep(0.01 if self.api_at is None else 0.1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubectl", default=os.environ.get("KIP_TEST_KUBECTL", "kubectl"))
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "kip-test-kube-emulator", "-p", "kip"],
                   cwd=ROOT, check=True)
    tmp = tempfile.mkdtemp(prefix="kip-ready-bench-")
    os.makedirs(os.path.join(tmp, "node/lib/modules"))
    kubeconfig = os.path.join(tmp, "kubeconfig")
    env = dict(os.environ, KIP_STATE_DIR=os.path.join(tmp, "state"), KUBECONFIG=kubeconfig)
    emulator = subprocess.Popen(
        [os.path.join(ROOT, "target/release/kube-emulator"), kubeconfig, "--pods",
         "--node-root", os.path.join(tmp, "node")], stderr=subprocess.DEVNULL)
    kip = os.path.join(ROOT, "target/release/kip")
    try:
        for _ in range(100):
            if os.path.exists(kubeconfig):
                break
            time.sleep(0.05)
        kubectl = [args.kubectl, "--kubeconfig", kubeconfig, "--context", "kube-emulator"]

        # 1. kip.
        watch = Watch(kubectl, "kip-fast")
        up = subprocess.Popen([kip, "up", "fast", "--remote", "--dind-image", IMAGE, "--endpoint", "pod-ip",
                               "--no-switch-context", "--progress", "json"],
                              stderr=subprocess.PIPE, text=True, env=env)
        kip_ready_at = None
        for line in up.stderr:
            event = json.loads(line)
            if event.get("phase") == "api-ready" and event.get("status") == "done":
                kip_ready_at = time.monotonic()
        up.wait()
        deadline = time.monotonic() + 30
        while watch.ready_at is None and time.monotonic() < deadline:
            time.sleep(0.05)
        watch.stop = True

        # 2. The 2020 probe on the same node objects.
        dry = subprocess.run([kip, "up", "slow", "--remote", "--dind-image", IMAGE, "--endpoint", "pod-ip",
                              "--dry-run"], capture_output=True, text=True, env=env, check=True).stdout
        manifest = dry.replace(
            "    readinessProbe:\n      failureThreshold: 3\n      httpGet:\n        path: /readyz\n"
            "        port: 6443\n        scheme: HTTPS\n      periodSeconds: 1\n      timeoutSeconds: 1\n",
            "    readinessProbe:\n      failureThreshold: 15\n      httpGet:\n        path: /healthz\n"
            "        port: 6443\n        scheme: HTTPS\n      initialDelaySeconds: 120\n"
            "      periodSeconds: 20\n      successThreshold: 1\n      timeoutSeconds: 1\n")
        start = manifest.index("    startupProbe:\n")
        end = manifest.index("    volumeMounts:\n", start)
        manifest = manifest[:start] + manifest[end:]
        assert "initialDelaySeconds: 120" in manifest
        slow = Watch(kubectl, "kip-slow")
        subprocess.run(kubectl + ["apply", "-f", "-"], input=manifest, text=True, check=True,
                       capture_output=True)
        deadline = time.monotonic() + 200
        while slow.ready_at is None and time.monotonic() < deadline:
            time.sleep(0.2)
        slow.stop = True

        def gap(a, b):
            return "n/a" if a is None or b is None else f"{b - a:8.3f} s"

        print("from the API server answering /readyz inside the Pod to ...")
        print(f"  kip's 'API server ready' line (kip up --remote):     {gap(watch.api_at, kip_ready_at)}")
        print(f"  Ready condition, kip's probes (1 s period):          {gap(watch.api_at, watch.ready_at)}")
        print(f"  Ready condition, the 2020 probe (120 s delay, 20 s): {gap(slow.api_at, slow.ready_at)}")
    finally:
        subprocess.run([kip, "down", "fast", "--remote"], env=env, capture_output=True)
        subprocess.run(kubectl + ["delete", "pod,configmap", "kip-slow", "--wait=false"], capture_output=True)
        emulator.terminate()
        emulator.wait()


if __name__ == "__main__":
    sys.exit(main())
