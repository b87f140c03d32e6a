#!/usr/bin/env python3
"""`kip up` with the real kind against `kind create cluster` run directly on a
host engine, with the same node image and kind config. Prints numbers;
asserts nothing.

    python3 bench/real_kind_up.py [--runs N] [--kip target/release/kip]
        [--dind-image kip-test-node:real-kind] [--image kip-test-kind-node:latest]

Both images come from test-stack/real-kind/build.sh. In one run, on this
machine:

  1. `kip up NAME --image IMAGE --wait 8m`, phase by phase (the arrival time of
     each ✓ line), the image stream-in step on its own line;
  2. the baseline: `kind create cluster --image IMAGE --config K --wait 8m`
     against a second dockerd on this host, where K is the kind config kip's
     node used (read back from the node, so both clusters get the same
     patches) and IMAGE is already in that engine. This host withholds
     CAP_SYS_RESOURCE, so that dockerd gets the same capability-clamping
     runtime kip's node uses (written by kip's own bootstrap, in its
     setup-only mode), or kind could not run there at all;
  3. the ratio kip / kind, total and without the stream-in.
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


def sh(*args, env=None, check=True, stdin=None):
    out = subprocess.run(args, capture_output=True, text=stdin is None, env=env, stdin=stdin)
    if check and out.returncode != 0:
        sys.exit(f"{' '.join(args)} failed: {out.stderr}")
    return out.stdout


def run_kip_up(kip, env, name, extra):
    """kip up; (total seconds, [(phase, seconds since the previous ✓)])."""
    start = time.time()
    proc = subprocess.Popen([kip, "up", name, *extra], env=env, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)
    lines = [(time.time(), line.rstrip("\n")) for line in proc.stderr]
    code = proc.wait()
    total = time.time() - start
    if code != 0:
        sys.exit("kip up failed:\n" + "\n".join(l for _, l in lines))
    phases, prev = [], start
    for t, line in lines:
        m = re.match(r" ✓ (.*?) \(", line)
        if m:
            phases.append((m.group(1), t - prev))
            prev = t
    return total, phases


class BenchEngine:
    """A second dockerd on this host with kip's capability-clamping runtime."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "engine")
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "docker.sock")
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}")
        # kip's bootstrap writes the wrapper for the capabilities this
        # process lacks (setup-only: nothing else is touched).
        rt = os.path.join(self.dir, "runtime")
        setup = dict(os.environ, KIP_SETUP_ONLY="1", KIP_RUNTIME_DIR=rt, KIP_CONF_DIR=self.dir,
                     KIP_KMSG=os.path.join(self.dir, "kmsg"), KIP_KMSG_CREATE="false",
                     KIP_IPTABLES_SHIM_DIR=os.path.join(self.dir, "shim"),
                     KIP_CGROUP_ROOT=os.path.join(self.dir, "cgroup"), KIP_CLUSTER="bench",
                     KIP_KIND_CONFIG="kind: Cluster\n")
        os.makedirs(setup["KIP_CGROUP_ROOT"])
        out = sh("sh", os.path.join(ROOT, "src/node/bootstrap.sh"), env=setup)
        runtime = [] if "runtime=runc-clamp" not in out else [
            f"--add-runtime=kip-runc-clamp={rt}/runc-clamp", "--default-runtime=kip-runc-clamp"]
        # A bridge of its own: `--bridge none` would make this dockerd delete
        # the main engine's docker0.
        self.bridge = f"kipbench{os.getpid() % 10000}"
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", "10.214.0.1/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        self.log = open(os.path.join(self.dir, "dockerd.log"), "w")
        self.proc = subprocess.Popen(
            ["dockerd", "--host", f"unix://{self.sock}", "--data-root", os.path.join(self.dir, "data"),
             "--exec-root", os.path.join(self.dir, "exec"), "--pidfile", os.path.join(self.dir, "pid"),
             "--bridge", self.bridge, "--iptables=false", "--ip-masq=false", *runtime],
            stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while subprocess.run(["docker", "version"], env=self.env, capture_output=True).returncode != 0:
            if time.time() > deadline or self.proc.poll() is not None:
                sys.exit(f"the bench dockerd did not start; see {self.log.name}")
            time.sleep(0.2)

    def load(self, image):
        save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
        sh("docker", "load", env=self.env, stdin=save.stdout)
        save.wait()

    def close(self):
        self.proc.terminate()
        self.proc.wait()
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--kip", default="target/release/kip")
    p.add_argument("--dind-image", default="kip-test-node:real-kind")
    p.add_argument("--image", default="kip-test-kind-node:latest")
    args = p.parse_args()
    kip = os.path.abspath(args.kip)
    tmp = tempfile.mkdtemp()
    env = dict(os.environ, KUBECONFIG=os.path.join(tmp, "kubeconfig"), NO_COLOR="1")
    kind = shutil.which("kind") or os.path.join(tmp, "kind")
    if not shutil.which("kind"):
        # The real kind binary the DinD test image carries.
        cid = sh("docker", "create", "--entrypoint", "kind", args.dind_image).strip()
        sh("docker", "cp", f"{cid}:/usr/local/bin/kind", kind)
        sh("docker", "rm", cid)

    engine = BenchEngine(tmp)
    kip_totals, kind_totals, streams, phase_rows = [], [], [], {}
    try:
        engine.load(args.image)
        for i in range(args.runs):
            name = f"bench-real-{os.getpid()}-{i}"
            total, phases = run_kip_up(kip, env, name, [
                "--dind-image", args.dind_image, "--image", args.image, "--wait", "8m", "--no-switch-context"])
            kip_totals.append(total)
            for phase, secs in phases:
                key = re.sub(r"kip-\S+|https://\S+|\d+(\.\d+)?s", "", phase).split("(")[0].strip()
                phase_rows.setdefault(key, []).append(secs)
                if "image" in phase.lower() and "stream" in phase.lower():
                    streams.append(secs)
            config = sh(kip, "exec", name, "--", "cat", "/etc/kip/kind.yaml", env=env)
            sh(kip, "down", name, env=env)

            cfg = os.path.join(tmp, f"kind-{i}.yaml")
            with open(cfg, "w") as f:
                f.write(config)
            start = time.time()
            out = subprocess.run([kind, "create", "cluster", "--name", f"b{i}", "--image", args.image,
                                  "--config", cfg, "--wait", "8m", "--kubeconfig", os.path.join(tmp, "kind-kc")],
                                 env=engine.env, capture_output=True, text=True)
            kind_totals.append(time.time() - start)
            subprocess.run([kind, "delete", "cluster", "--name", f"b{i}"], env=engine.env, capture_output=True)
            if out.returncode != 0:
                sys.exit(f"kind create cluster failed on the bench engine:\n{out.stderr}")
    finally:
        engine.close()

    med = statistics.median
    print(f"runs: {args.runs}; node image {args.image}; kip's DinD image {args.dind_image}")
    print(f"{'kip up phase':56} {'median s':>9}")
    for key, values in phase_rows.items():
        print(f"  {key[:54]:54} {med(values):9.1f}")
    print(f"{'kip up, total':58} {med(kip_totals):9.1f}")
    if streams:
        print(f"{'  of which: node image streamed into the node':58} {med(streams):9.1f}")
    print(f"{'kind create cluster --wait on a host engine (baseline)':58} {med(kind_totals):9.1f}")
    print(f"{'ratio kip / kind':58} {med(kip_totals) / med(kind_totals):9.2f}x")
    if streams:
        print(f"{'ratio kip / kind, without the stream-in':58} "
              f"{(med(kip_totals) - med(streams)) / med(kind_totals):9.2f}x")


if __name__ == "__main__":
    main()
