#!/usr/bin/env python3
"""kip's speed benchmark on the test stack. Prints numbers; asserts nothing.

    python3 bench/up_phases.py [--runs N] [--kip target/release/kip] [--dind-image kip-test-node:latest]

Every comparison is made in this one run, on this machine, with the same
image, so ratios hold even on a noisy shared machine:

  1. `kip up` phase by phase (wall clock of each ✓ line), and how long after
     dockerd logged "API listen on" kip reported it running;
  2. the 2020 recipe (dockerd & + `until docker ps; sleep 1`) in the same
     image with the same privileges, against kip's bootstrap, measured from
     the node's start to "dockerd answered" and to "cluster created";
  3. what kip adds before the node starts, against `docker run -d` of the same
     container spec by the docker CLI;
  4. `kip down` of a running node, against `docker rm -f` of the same kind of
     node, and a node whose PID 1 is a shell (`docker stop`, no init);
  5. `kip --version` against `/bin/true`;
  6. `kip load` of an image against the raw pipe
     `docker save IMAGE | docker exec -i NODE docker load` into the same node,
     and `kip load` of an image the node already has (the skip path).
"""

import argparse
import datetime as dt
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

CAPS = [
    "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "--security-opt", "systempaths=unconfined", "--device-cgroup-rule", "a *:* rmw",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/tmp",
]

# The 2020 write-up's entrypoint: dockerd in the background, a one-second
# polling loop, then the command. Its cgroup-parent line as published.
RECIPE = r"""
CGROUP_PARENT="$(grep systemd /proc/self/cgroup | cut -d: -f3)/docker"
dockerd --cgroup-parent="$CGROUP_PARENT" >/var/log/dockerd.log 2>&1 &
until docker ps >/dev/null 2>&1
do
  echo "Waiting for dockerd..."
  sleep 1
done
echo RECIPE-DOCKERD-READY
printf '%s\n' "$KIND_CONFIG" > /tmp/kind.yaml
kind create cluster --name r --config /tmp/kind.yaml --kubeconfig /tmp/kc >/tmp/kind.log 2>&1 && echo RECIPE-CLUSTER-CREATED
exec sleep infinity
"""


def sh(*args, check=True):
    out = subprocess.run(args, capture_output=True, text=True)
    if check and out.returncode != 0:
        sys.exit(f"{' '.join(args)} failed: {out.stderr}")
    return out.stdout


def ts(text):
    """Docker's RFC 3339 with nanoseconds -> epoch seconds."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z", text)
    base = dt.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc)
    return base.timestamp() + float((m.group(2) or ".0")[:10])


def started_at(container):
    return ts(sh("docker", "inspect", "-f", "{{.State.StartedAt}}", container).strip())


def log_times(container):
    """Each log line of a container with the engine's receive time."""
    out = sh("docker", "logs", "-t", container)
    return [(ts(line.split(" ", 1)[0]), line.split(" ", 1)[1] if " " in line else "") for line in out.splitlines()]


def first(lines, needle):
    return next(t for t, text in lines if needle in text)


def run_kip_up(kip, env, name, extra):
    """Runs kip up; returns (start, end, [(arrival time, stderr line)])."""
    start = time.time()
    proc = subprocess.Popen([kip, "up", name, *extra], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines = [(time.time(), line.rstrip("\n")) for line in proc.stderr]
    code = proc.wait()
    end = time.time()
    if code != 0:
        sys.exit(f"kip up failed:\n" + "\n".join(l for _, l in lines))
    return start, end, lines


def median(xs):
    return statistics.median(xs)


def fmt(seconds):
    return f"{seconds * 1000:8.1f} ms"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--kip", default="target/release/kip")
    p.add_argument("--dind-image", default="kip-test-node:latest")
    p.add_argument("--image", default="kip-test-stand-in-node:latest", help="the kind node image (the stand-in's)")
    p.add_argument("--load-image", default=None, help="image to load (default: the node image itself)")
    args = p.parse_args()
    kip = os.path.abspath(args.kip)
    tmp = tempfile.mkdtemp()
    env = dict(os.environ, KUBECONFIG=os.path.join(tmp, "kubeconfig"), KIP_DIND_IMAGE=args.dind_image, KIP_IMAGE=args.image, NO_COLOR="1")
    # kip's own kind config, so the stand-in accepts the recipe's cluster too.
    plan = sh(kip, "up", "bench-plan", "--dry-run", "--dind-image", args.dind_image)
    block = re.search(r"    KIP_KIND_CONFIG: \|\n((?:      .*\n)+)", plan).group(1)
    kind_config = "".join(line[6:] + "\n" for line in block.splitlines())

    phases = {}
    notice = []
    pre_node = []
    in_node_kip = {"dockerd": [], "cluster": []}
    post_node = []
    totals = []
    downs = []
    for i in range(args.runs):
        name = f"bench-{os.getpid()}-{i}"
        start, end, lines = run_kip_up(kip, env, name, ["--security", "caps"])
        totals.append(end - start)
        prev = start
        for t, line in lines:
            m = re.match(r" ✓ (.*?) \(", line)
            if m:
                words = [w for w in m.group(1).replace(":", "").split() if not w.startswith("kip-")]
                key = " ".join(words[:2])
                phases.setdefault(key, []).append(t - prev)
                prev = t
        node = f"kip-{name}"
        t0 = started_at(node)
        node_log = log_times(node)
        dockerd_ready = first(node_log, "kip-phase: dockerd-ready")
        cluster_created = first(node_log, "kip-phase: cluster-created")
        in_node_kip["dockerd"].append(dockerd_ready - t0)
        in_node_kip["cluster"].append(cluster_created - t0)
        pre_node.append(t0 - start)
        post_node.append(end - cluster_created)
        dockerd_log = subprocess.run([kip, "logs", name, "--dockerd"], env=env, capture_output=True, text=True).stdout
        listen = next(l for l in dockerd_log.splitlines() if "API listen on" in l)
        listen_t = ts(re.search(r'time="([^"]+)"', listen).group(1))
        kip_saw = next(t for t, l in lines if "Docker running inside the node" in l)
        notice.append(kip_saw - listen_t)
        t = time.time()
        subprocess.run([kip, "down", name, "-q"], env=env, check=True)
        downs.append(time.time() - t)

    # The 2020 recipe, same image and privileges.
    recipe_dockerd, recipe_cluster, recipe_rm, shell_pid1_stop, docker_run = [], [], [], [], []
    for i in range(args.runs):
        name = f"bench-recipe-{os.getpid()}-{i}"
        t = time.time()
        sh("docker", "run", "-d", "--name", name, "--init", *CAPS, "-v", f"{name}:/var/lib/docker",
           "-p", "127.0.0.1::6443", "-e", f"KIND_CONFIG={kind_config}", args.dind_image, "sh", "-c", RECIPE)
        docker_run.append(time.time() - t)
        t0 = started_at(name)
        deadline = time.time() + 60
        while time.time() < deadline and "RECIPE-CLUSTER-CREATED" not in sh("docker", "logs", name):
            time.sleep(0.05)
        lines = log_times(name)
        recipe_dockerd.append(first(lines, "RECIPE-DOCKERD-READY") - t0)
        recipe_cluster.append(first(lines, "RECIPE-CLUSTER-CREATED") - t0)
        t = time.time()
        sh("docker", "rm", "-f", "-v", name)
        recipe_rm.append(time.time() - t)
        sh("docker", "volume", "rm", name)

    # The control: the same node with a shell as PID 1 (no init) swallows
    # SIGTERM, so `docker stop` waits for its 10 s kill timeout.
    for i in range(min(args.runs, 2)):
        name = f"bench-shell-{os.getpid()}-{i}"
        sh("docker", "run", "-d", "--name", name, *CAPS, "-v", f"{name}:/var/lib/docker",
           "-e", f"KIND_CONFIG={kind_config}", args.dind_image, "sh", "-c", RECIPE)
        time.sleep(3)
        t = time.time()
        sh("docker", "stop", name)
        shell_pid1_stop.append(time.time() - t)
        sh("docker", "rm", "-f", "-v", name)
        sh("docker", "volume", "rm", name)

    version, true = [], []
    for _ in range(100):
        t = time.perf_counter()
        subprocess.run([kip, "--version"], stdout=subprocess.DEVNULL)
        version.append(time.perf_counter() - t)
        t = time.perf_counter()
        subprocess.run(["/bin/true"])
        true.append(time.perf_counter() - t)

    # 6. Image loading, into one node, alternating kip and the raw pipe.
    load_image = args.load_image or args.dind_image
    size = int(sh("docker", "image", "inspect", "-f", "{{.Size}}", load_image).strip())
    name = f"bench-load-{os.getpid()}"
    subprocess.run([kip, "up", name, "-q", "--security", "caps"], env=env, check=True)
    node = f"kip-{name}"
    kip_load, raw_load, skip = [], [], []
    for _ in range(max(2, args.runs // 2)):
        subprocess.run([kip, "exec", name, "--", "docker", "rmi", "-f", load_image], env=env, capture_output=True)
        t = time.time()
        subprocess.run([kip, "load", name, load_image, "-q"], env=env, check=True)
        kip_load.append(time.time() - t)
        t = time.time()
        subprocess.run([kip, "load", name, load_image, "-q"], env=env, check=True)
        skip.append(time.time() - t)
        subprocess.run([kip, "exec", name, "--", "docker", "rmi", "-f", load_image], env=env, capture_output=True)
        t = time.time()
        subprocess.run(f"docker save {load_image} | docker exec -i {node} docker load", shell=True, check=True, capture_output=True)
        raw_load.append(time.time() - t)
    subprocess.run([kip, "down", name, "-q"], env=env, check=True)

    print(f"kip benchmark: {args.runs} runs, image {args.dind_image}, medians\n")
    print("1. kip up --security caps, phase by phase (wall clock between ✓ lines)")
    for key, xs in phases.items():
        print(f"   {key:<40} {fmt(median(xs))}")
    print(f"   {'total (process start to exit)':<40} {fmt(median(totals))}")
    print(f"   dockerd 'API listen on' -> kip's ✓ line   {fmt(median(notice))}   (goal < 100 ms)")
    print()
    print("2. node start -> dockerd answered / cluster created, same image and privileges")
    kd, kc = median(in_node_kip["dockerd"]), median(in_node_kip["cluster"])
    rd, rc = median(recipe_dockerd), median(recipe_cluster)
    print(f"   kip bootstrap:   dockerd {fmt(kd)}   cluster {fmt(kc)}")
    print(f"   2020 recipe:     dockerd {fmt(rd)}   cluster {fmt(rc)}")
    print(f"   ratio recipe/kip: dockerd {rd / kd:5.2f}x   cluster {rc / kc:5.2f}x")
    print()
    print("3. around the node")
    print(f"   kip up start -> node started            {fmt(median(pre_node))}")
    print(f"   docker run -d of the same spec (CLI)    {fmt(median(docker_run))}")
    print(f"   kip's own, before the node starts        {fmt(median(pre_node) - median(docker_run))}")
    print(f"   cluster created -> kip up exits          {fmt(median(post_node))}   (readyz, kubeconfig)")
    print()
    print("4. deleting a running node")
    print(f"   kip down                                 {fmt(median(downs))}   (goal < 1 s)")
    print(f"   docker rm -f (recipe node, with init)    {fmt(median(recipe_rm))}")
    print(f"   docker stop, shell as PID 1 (control)    {fmt(median(shell_pid1_stop))}")
    print()
    print("5. kip --version")
    print(f"   kip --version {fmt(median(version))}   /bin/true {fmt(median(true))}   ratio {median(version) / median(true):.2f}x   (goal < 5 ms)")
    print()
    mib = size / (1 << 20)
    kl, rl = median(kip_load), median(raw_load)
    print(f"6. loading {load_image} ({mib:.0f} MiB) into a node")
    print(f"   kip load (docker save | inner load | kind load)  {fmt(kl)}  {mib / kl:6.1f} MiB/s")
    print(f"   raw pipe (docker save | docker exec -i load)     {fmt(rl)}  {mib / rl:6.1f} MiB/s")
    print(f"   kip / raw throughput                             {rl / kl:.2f}   (goal >= 0.8)")
    print(f"   kip load, image already in the node (skip)       {fmt(median(skip))}   (goal < 200 ms)")


if __name__ == "__main__":
    main()
