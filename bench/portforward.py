#!/usr/bin/env python3
"""Port-forward throughput through the test API emulator, or a real
cluster's API server. Prints numbers; asserts nothing.

    python3 bench/portforward.py [--mib 256] [--runs 3] [--kubectl PATH] [--kip PATH]
    python3 bench/portforward.py --kubeconfig FILE --context CTX   # a real cluster

With --context, the pod runs on that cluster (which must have the image
kip-test-node:latest: `kip load`), and there is no direct row (the pod
network is not reachable from here).

One emulator (release build of test-stack/kube-emulator) runs one pod, the
stand-in kind's byte source (`kind kip-test-tcp-bytes 8080`: per connection,
a byte count on a line in, that many bytes out). In the same run, each
client fetches --mib MiB, --runs times:

  1. direct: a TCP connection to the pod's IP (no port-forward; the ceiling);
  2. kubectl port-forward, SPDY tunnelled in a WebSocket (kubectl's default);
  3. kubectl port-forward, plain SPDY (KUBECTL_PORT_FORWARD_WEBSOCKETS=false);
  4. kip's forwarder (`kip forwarder`, what `kip up --remote` starts for the
     forwarded endpoint: one kube-rs port-forward WebSocket per connection).

The pod is named and listens like a kip node (`kip-bench`, port 6443) so
that kip's forwarder serves it unchanged. Then bursts of 32 concurrent
connections of 4 MiB each (--runs bursts, the median) through kubectl
(WebSocket) and through kip's forwarder. Ratios are against kubectl's
WebSocket mode in this same run.
"""

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POD = """apiVersion: v1
kind: Pod
metadata:
  name: kip-bench
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: kip-test-node:latest
    imagePullPolicy: Never
    command: [kind, kip-test-tcp-bytes, "6443"]
    readinessProbe:
      tcpSocket: {port: 6443}
      periodSeconds: 1
"""


def fetch(host, port, size):
    """Asks for `size` bytes and reads them all; returns seconds."""
    start = time.perf_counter()
    with socket.create_connection((host, port)) as s:
        s.sendall(b"%d\n" % size)
        got = 0
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        while got < size:
            n = s.recv_into(view)
            if n == 0:
                raise RuntimeError(f"short read: {got} of {size} bytes")
            got += n
    return time.perf_counter() - start


class Forward:
    """kubectl port-forward (websockets True/False) or kip's forwarder (kip set)."""

    def __init__(self, kubectl, kubeconfig, context, websockets, kip=None):
        env = dict(os.environ, KUBECTL_PORT_FORWARD_WEBSOCKETS="true" if websockets else "false")
        if kip:
            cmd = [kip, "forwarder", "bench", "--port", "0", "--remote",
                   "--context", context, "--namespace", "default", "--kubeconfig", kubeconfig]
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         text=True, env=env)
            stream = self.proc.stderr
        else:
            cmd = [kubectl, "--kubeconfig", kubeconfig, "--context", context, "port-forward",
                   "pod/kip-bench", ":6443"]
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                         text=True, env=env)
            stream = self.proc.stdout
        line = stream.readline()
        m = re.search(r"127\.0\.0\.1:(\d+)", line)
        if not m:
            raise RuntimeError(f"{cmd[0]} said {line!r}")
        self.port = int(m.group(1))
        threading.Thread(target=stream.read, daemon=True).start()

    def close(self):
        self.proc.kill()
        self.proc.wait()


def concurrent(port, count, size):
    errors = []

    def one():
        try:
            fetch("127.0.0.1", port, size)
        except Exception as e:  # noqa: BLE001 - counted, printed
            errors.append(str(e))

    start = time.perf_counter()
    threads = [threading.Thread(target=one) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--kubectl", default=os.environ.get("KIP_TEST_KUBECTL", "kubectl"))
    ap.add_argument("--kip", default=os.path.join(ROOT, "target/release/kip"))
    ap.add_argument("--kubeconfig", help="a real cluster's kubeconfig (with --context)")
    ap.add_argument("--context", help="a real cluster's context: no emulator")
    args = ap.parse_args()
    size = args.mib << 20

    subprocess.run(["cargo", "build", "--release", "-q", "-p", "kip-test-kube-emulator", "-p", "kip"],
                   cwd=ROOT, check=True)
    emulator = None
    if args.context:
        kubeconfig, context = args.kubeconfig, args.context
    else:
        tmp = tempfile.mkdtemp(prefix="kip-pf-bench-")
        kubeconfig, context = os.path.join(tmp, "kubeconfig"), "kube-emulator"
        emulator = subprocess.Popen(
            [os.path.join(ROOT, "target/release/kube-emulator"), kubeconfig, "--pods"],
            stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(kubeconfig):
                break
            time.sleep(0.05)
        kubectl = [args.kubectl, "--kubeconfig", kubeconfig, "--context", context]
        subprocess.run(kubectl + ["apply", "-f", "-"], input=POD, text=True, check=True,
                       capture_output=True)
        subprocess.run(kubectl + ["wait", "--for=condition=Ready", "pod/kip-bench", "--timeout=60s"],
                       check=True, capture_output=True)
        ip = subprocess.run(kubectl + ["get", "pod", "kip-bench", "-o", "jsonpath={.status.podIP}"],
                            check=True, capture_output=True, text=True).stdout.strip()

        results = {}
        conc = {}
        if emulator:
            results["direct TCP to the pod IP (ceiling)"] = [fetch(ip, 6443, size)
                                                            for _ in range(args.runs)]
        for label, ws, kip in [("kubectl port-forward, WebSocket (SPDY tunnelled)", True, None),
                               ("kubectl port-forward, plain SPDY", False, None),
                               ("kip forwarder (kube-rs WebSocket per connection)", True, args.kip)]:
            f = Forward(args.kubectl, kubeconfig, context, ws, kip)
            try:
                fetch("127.0.0.1", f.port, 1 << 20)  # warm up the connection
                results[label] = [fetch("127.0.0.1", f.port, size) for _ in range(args.runs)]
                if ws:
                    bursts = [concurrent(f.port, 32, 4 << 20) for _ in range(args.runs)]
                    conc[label] = (statistics.median(t for t, _ in bursts),
                                   [e for _, errs in bursts for e in errs])
            finally:
                f.close()

        base = statistics.median(results["kubectl port-forward, WebSocket (SPDY tunnelled)"])
        where = f"context {context}" if not emulator else "emulator pod network MTU 1440"
        print(f"{args.mib} MiB per transfer, median of {args.runs} runs, {where}")
        print(f"{'client':52} {'seconds':>8} {'MiB/s':>8} {'vs kubectl ws':>14}")
        for label, times in results.items():
            med = statistics.median(times)
            print(f"{label:52} {med:8.3f} {args.mib / med:8.1f} {base / med:13.2f}x")
        conc_base = conc["kubectl port-forward, WebSocket (SPDY tunnelled)"][0]
        for label, (elapsed, errors) in conc.items():
            print(f"32 concurrent 4 MiB transfers, median of {args.runs} bursts, {label}: "
                  f"{elapsed:.3f} s = {conc_base / elapsed:.2f}x, "
                  f"{len(errors)} errors{': ' + errors[0] if errors else ''}")
    finally:
        if emulator:
            emulator.terminate()
            emulator.wait()
        else:
            subprocess.run(kubectl + ["delete", "pod", "kip-bench", "--wait=false"],
                           capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
