#!/usr/bin/env python3
"""How soon a remote node on a REAL cluster is known Ready: kip against the
2020 write-up's probe settings on the same node Pod. Prints numbers; asserts
nothing.

    python3 bench/real_remote_ready.py [--kubectl PATH]

Needs the images of test-stack/real-kind/build.sh. kip's own local cluster
(the real kind) plays the shared cluster, with the DinD image `kip load`ed
into it. The outer pod network is inside kip's node, out of the host's
reach, so the bench polls each node's `/readyz` through the real API
server's pod proxy (`kubectl proxy`, then
`/api/v1/namespaces/default/pods/https:POD:6443/proxy/readyz`) every 10 ms,
and the Pod's phase and Ready condition through the same proxy:

  1. `kip up --remote --progress json`: Pod Running, the API server first
     answering inside the Pod, kip's `api-ready` line, the Pod's Ready
     condition (kip's probes: startup + readiness, 1 s period);
  2. the same node objects (`kip up --remote --dry-run`) with the 2020
     readiness probe instead (initialDelaySeconds 120, periodSeconds 20, no
     startup probe). Nobody streams the kind node image into that Pod but the
     bench (`docker save | kubectl exec -i … docker load`, as fast as kip's
     stream: BENCHMARKS.md), since kip is not running; then the same times.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIND = os.environ.get("KIP_TEST_REAL_DIND_IMAGE", "kip-test-node:real-kind")
NODE = os.environ.get("KIP_TEST_KIND_IMAGE", "kip-test-kind-node:latest")


def get(url, timeout=1.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""
    except Exception:  # noqa: BLE001 - not answering yet
        return None, b""


class Watch:
    """Polls one node Pod through the API server's proxy: when it is first
    Running, when its API server first answers /readyz, when it is Ready."""

    def __init__(self, proxy, pod):
        self.pod_url = f"{proxy}/api/v1/namespaces/default/pods/{pod}"
        self.readyz = f"{proxy}/api/v1/namespaces/default/pods/https:{pod}:6443/proxy/readyz"
        self.running_at = self.api_at = self.ready_at = None
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def status(self):
        code, body = get(self.pod_url)
        if code != 200:
            return
        status = json.loads(body).get("status", {})
        now = time.monotonic()
        if status.get("phase") == "Running" and self.running_at is None:
            self.running_at = now
        for c in status.get("conditions", []):
            if c["type"] == "Ready" and c["status"] == "True" and self.ready_at is None:
                self.ready_at = now

    def run(self):
        last = 0.0
        while not self.stop and self.ready_at is None:
            if time.monotonic() - last > 0.1:
                self.status()
                last = time.monotonic()
            if self.running_at is not None and self.api_at is None:
                code, body = get(self.readyz, timeout=0.5)
                if code == 200 and body.strip() == b"ok":
                    self.api_at = time.monotonic()
            time.sleep(0.01)


def proxy(kubectl, env):
    """`kubectl proxy` on a free port, and its base URL."""
    p = subprocess.Popen(kubectl + ["proxy", "--port", "0"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, env=env)
    line = p.stdout.readline()
    port = re.search(r":(\d+)", line).group(1)
    return p, f"http://127.0.0.1:{port}"


def slow_manifest(dry):
    """kip's node objects (`--dry-run -o json`: one List) with the 2020
    write-up's readiness probe, and told to wait for the kind node image the
    bench streams in (kip tells its own Pods so when it will stream)."""
    objects = json.loads(dry)
    pods = [o for o in objects["items"] if o["kind"] == "Pod"]
    assert len(pods) == 1, "one node Pod"
    node = pods[0]["spec"]["containers"][0]
    assert "startupProbe" in node and "readinessProbe" in node, "kip's probes"
    del node["startupProbe"]
    node["readinessProbe"] = {
        "httpGet": {"path": "/healthz", "port": 6443, "scheme": "HTTPS"},
        "initialDelaySeconds": 120, "periodSeconds": 20, "timeoutSeconds": 1,
        "successThreshold": 1, "failureThreshold": 15,
    }
    node["env"].append({"name": "KIP_AWAIT_IMAGE", "value": "1"})
    return json.dumps(objects)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubectl", default=os.environ.get("KIP_TEST_KUBECTL", "kubectl"))
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "kip"], cwd=ROOT, check=True)
    kip = os.path.join(ROOT, "target/release/kip")
    tmp = tempfile.mkdtemp(prefix="kip-real-ready-bench-")
    env = dict(os.environ, KUBECONFIG=os.path.join(tmp, "kubeconfig"),
               KIP_STATE_DIR=os.path.join(tmp, "state"), KIP_DIND_IMAGE=DIND, KIP_IMAGE=NODE)
    outer, fast, slow = (f"bench-{w}-{os.getpid()}" for w in ("outer", "fast", "slow"))
    remote = ["--remote", "--context", f"kip-{outer}"]
    kubectl = [args.kubectl, "--context", f"kip-{outer}"]
    server = None

    def run(cmd, **kw):
        return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, **kw)

    try:
        run([kip, "up", outer, "--wait", "8m", "-q"])
        run([kip, "load", outer, DIND, "-q"])
        server, base = proxy(kubectl, env)

        # 1. kip.
        watch = Watch(base, f"kip-{fast}")
        up = subprocess.Popen([kip, "up", fast, *remote, "--no-switch-context", "--wait", "15m",
                               "--progress", "json"], stderr=subprocess.PIPE, text=True, env=env)
        kip_ready_at = None
        for line in up.stderr:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("phase") == "api-ready" and event.get("status") == "done":
                kip_ready_at = time.monotonic()
        up.wait()
        deadline = time.monotonic() + 60
        while watch.ready_at is None and time.monotonic() < deadline:
            time.sleep(0.05)
        watch.stop = True
        run([kip, "down", fast, *remote, "-q"])

        def gap(a, b):
            return "     n/a" if a is None or b is None else f"{b - a:8.1f} s"

        print("kip's node Pod on the real cluster (kip up --remote):")
        print(f"  Pod Running -> API server answers inside:  {gap(watch.running_at, watch.api_at)}")
        print(f"  Pod Running -> kip's 'API server ready':    {gap(watch.running_at, kip_ready_at)}")
        print(f"  Pod Running -> Ready condition (kip probe): {gap(watch.running_at, watch.ready_at)}")
        print(f"  API answers -> kip's 'API server ready':    {gap(watch.api_at, kip_ready_at)}")
        print(f"  API answers -> Ready condition (kip probe): {gap(watch.api_at, watch.ready_at)}")
        sys.stdout.flush()

        # 2. The 2020 probe on the same node objects; the bench streams the image.
        dry = run([kip, "up", slow, *remote, "--dry-run", "-o", "json"]).stdout
        slow_watch = Watch(base, f"kip-{slow}")
        run(kubectl + ["apply", "-f", "-"], input=slow_manifest(dry))
        deadline = time.monotonic() + 300
        while slow_watch.running_at is None and time.monotonic() < deadline:
            time.sleep(0.05)
        while subprocess.run(kubectl + ["exec", f"kip-{slow}", "--", "docker", "info"], env=env,
                             capture_output=True).returncode != 0:
            time.sleep(0.2)
        save = subprocess.Popen(["docker", "save", NODE], stdout=subprocess.PIPE)
        subprocess.run(kubectl + ["exec", "-i", f"kip-{slow}", "--", "docker", "load"], env=env,
                       stdin=save.stdout, check=True, capture_output=True)
        save.wait()
        deadline = time.monotonic() + 600
        while slow_watch.ready_at is None and time.monotonic() < deadline:
            time.sleep(0.2)
        slow_watch.stop = True

        print("the same objects with the 2020 probe (120 s delay, 20 s period):")
        print(f"  Pod Running -> API server answers inside:  {gap(slow_watch.running_at, slow_watch.api_at)}")
        print(f"  Pod Running -> Ready condition:             {gap(slow_watch.running_at, slow_watch.ready_at)}")
        print(f"  API answers -> Ready condition:             {gap(slow_watch.api_at, slow_watch.ready_at)}")
    finally:
        if server:
            server.terminate()
        subprocess.run(kubectl + ["delete", "pod,configmap,service", "-l", f"dev.kip.cluster={slow}",
                                  "--wait=false"], env=env, capture_output=True)
        subprocess.run([kip, "down", fast, *remote, "-q"], env=env, capture_output=True)
        subprocess.run([kip, "down", outer, "-q"], env=env, capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
