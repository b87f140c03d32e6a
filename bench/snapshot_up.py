#!/usr/bin/env python3
"""Snapshots (issue 19): `kip up --from SNAPSHOT` to the node and the
workload Ready, against a fresh `kip up` plus installing the same workload
(`kip load` of its image, `kubectl apply`), in the same run, rounds
interleaved; each restore's `--progress json` phases and when the node,
the rollout and the workload's exec answered. Also the save: its time and
how long the source was frozen; the export and the import: their times and
the archive's size.
Prints numbers; asserts nothing.

    python3 bench/snapshot_up.py [--runs N] [--kip target/release/kip]
        [--dind-image kip-test-node:real-kind] [--image kip-test-kind-node:latest]
        [--no-export]

The workload: a ConfigMap, a local-path claim, and a Deployment of an image
only `kip load` brings in (the node image's kube-proxy under another name)
whose pod writes a file in the claim. "Ready" is: every node Ready, the
Deployment rolled out, the claim's file readable through `kubectl exec`.
Every cluster (and the snapshot) is removed at the end.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

KUBECTL = os.environ.get("KIP_TEST_KUBECTL", "kubectl")


def sh(*args, env=None, stdin=None):
    out = subprocess.run(args, capture_output=True, text=True, env=env, input=stdin)
    if out.returncode != 0:
        sys.exit(f"{' '.join(args)} failed: {out.stderr}")
    return out


def workload(image):
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "loaded"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "loaded"}},
                 "template": {"metadata": {"labels": {"app": "loaded"}}, "spec": {
                     "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": image, "imagePullPolicy": "Never",
                                     "command": ["sh", "-c", "test -f /data/probe || echo ok >/data/probe; exec sleep infinity"],
                                     "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                     "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}}}}
    items = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bench"}, "data": {"a": "b"}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Mi"}}}},
        deployment,
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def ready(env, name, start=None):
    """Every node Ready, the Deployment rolled out, and its container
    answering `kubectl exec` (a restored cluster's statuses are the
    snapshot's until its kubelet reports: the exec is what proves the pod
    runs again), polled every 0.2 s. The time (since `start`) each was
    reached."""
    ctx = ["--context", f"kip-{name}"]
    start = start or time.time()
    marks = []
    sh(KUBECTL, *ctx, "wait", "--for=condition=Ready", "node", "--all", "--timeout=8m", env=env)
    marks.append(("node Ready", time.time() - start))
    sh(KUBECTL, *ctx, "rollout", "status", "deploy/loaded", "--timeout=8m", env=env)
    marks.append(("rolled out", time.time() - start))
    deadline = time.time() + 480
    while True:
        probe = subprocess.run([KUBECTL, *ctx, "exec", "deploy/loaded", "--", "cat", "/data/probe"],
                               capture_output=True, text=True, env=env)
        if probe.returncode == 0:
            marks.append(("exec answered", time.time() - start))
            return marks
        if time.time() > deadline:
            sys.exit(f"the workload of {name} never answered: {probe.stderr}")
        time.sleep(0.2)


def phases(progress):
    """`--progress json`'s phases, as `name seconds`."""
    done = []
    for line in progress.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "phase" and "elapsedSeconds" in event:
            done.append(f"{event['phase']} {event['elapsedSeconds']:.1f}")
    return ", ".join(done)


def install(kip, env, name, image):
    sh(kip, "load", name, image, env=env)
    sh(KUBECTL, "--context", f"kip-{name}", "apply", "-f", "-", env=env, stdin=workload(image))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kip", default="target/release/kip")
    parser.add_argument("--dind-image", default="kip-test-node:real-kind")
    parser.add_argument("--image", default="kip-test-kind-node:latest")
    parser.add_argument("--no-export", action="store_true",
                        help="skip the export and import (about 2 minutes)")
    args = parser.parse_args()
    kip = os.path.abspath(args.kip)
    tmp = tempfile.mkdtemp(prefix="kip-bench-snap-")
    env = dict(os.environ, KUBECONFIG=os.path.join(tmp, "kubeconfig"),
               KIP_DIND_IMAGE=args.dind_image, KIP_IMAGE=args.image)
    pid = os.getpid()
    version = sh("docker", "run", "--rm", "--entrypoint", "cat", args.image, "/kind/version").stdout.strip()
    image = f"kip.local/bench-snap:{pid}"
    sh("docker", "tag", f"registry.k8s.io/kube-proxy:{version}", image)
    source, snap = f"bench-snap-src-{pid}", f"bench-snap-{pid}"
    made = [source]
    try:
        sh(kip, "up", source, "--no-switch-context", env=env)
        install(kip, env, source, image)
        ready(env, source)
        start = time.time()
        saved = sh(kip, "snapshot", "save", source, snap, env=env)
        save_s = time.time() - start
        meta = json.loads(sh(kip, "snapshot", "list", "-o", "json", env=env).stdout)
        meta = next(s["metadata"] for s in meta["items"] if s["name"] == snap)
        sh(kip, "down", source, env=env)
        made.remove(source)
        export_s = None
        if not args.no_export:
            archive = os.path.join(tmp, "snap.tgz")
            start = time.time()
            sh(kip, "snapshot", "export", snap, archive, env=env)
            export_s, archive_bytes = time.time() - start, os.path.getsize(archive)
            start = time.time()
            sh(kip, "snapshot", "import", archive, f"{snap}-i", env=env)
            import_s = time.time() - start
            os.remove(archive)
            sh(kip, "snapshot", "rm", f"{snap}-i", env=env)
        restored, fresh = [], []
        for i in range(args.runs):
            name = f"bench-snap-r{i}-{pid}"
            made.append(name)
            start = time.time()
            up = sh(kip, "up", name, "--from", snap, "--no-switch-context", "--progress", "json", env=env)
            up_s = time.time() - start
            marks = ready(env, name, start)
            restored.append(time.time() - start)
            print(f"round {i + 1} --from, phases: {phases(up.stderr)}; kip up returned {up_s:.1f} s; "
                  f"then {', '.join(f'{k} {v:.1f} s' for k, v in marks)}", file=sys.stderr)
            sh(kip, "down", name, env=env)
            made.remove(name)
            name = f"bench-snap-f{i}-{pid}"
            made.append(name)
            start = time.time()
            sh(kip, "up", name, "--no-switch-context", env=env)
            install(kip, env, name, image)
            ready(env, name)
            fresh.append(time.time() - start)
            sh(kip, "down", name, env=env)
            made.remove(name)
            print(f"round {i + 1}: --from {restored[-1]:.1f} s, fresh + install {fresh[-1]:.1f} s",
                  file=sys.stderr)
    finally:
        for name in made:
            subprocess.run([kip, "down", name], env=env, capture_output=True)
        for name in (snap, f"{snap}-i"):
            subprocess.run([kip, "snapshot", "rm", name], env=env, capture_output=True)
        subprocess.run(["rm", "-rf", tmp])
        subprocess.run(["docker", "rmi", image], capture_output=True)
    r, f = statistics.median(restored), statistics.median(fresh)
    print(f"snapshot: {meta['sizeBytes'] / 2**30:.2f} GiB, save {save_s:.1f} s, "
          f"source frozen {meta['frozenMs'] / 1000:.1f} s")
    if export_s is not None:
        print(f"export: {export_s:.1f} s, archive {archive_bytes / 2**30:.2f} GiB; import: {import_s:.1f} s")
    print(f"kip up --from, to node + workload Ready: median {r:.1f} s "
          f"({', '.join(f'{x:.1f}' for x in restored)})")
    print(f"fresh kip up + load + apply, to the same: median {f:.1f} s "
          f"({', '.join(f'{x:.1f}' for x in fresh)})")
    print(f"ratio --from / fresh: {r / f:.2f}x (goal <= 0.5x; <= 15 s)")
    print(saved.stderr.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
