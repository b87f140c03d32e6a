#!/usr/bin/env python3
"""Port-forward throughput through the test API emulator. Prints numbers;
asserts nothing.

    python3 bench/portforward.py [--mib 256] [--runs 3] [--kubectl PATH]

One emulator (release build of test-stack/kube-emulator) runs one pod, the
stand-in kind's byte source (`kind kip-test-tcp-bytes 8080`: per connection,
a byte count on a line in, that many bytes out). In the same run, each
client fetches --mib MiB, --runs times:

  1. direct: a TCP connection to the pod's IP (no port-forward; the ceiling);
  2. kubectl port-forward, SPDY tunnelled in a WebSocket (kubectl's default);
  3. kubectl port-forward, plain SPDY (KUBECTL_PORT_FORWARD_WEBSOCKETS=false);

and 32 concurrent connections of 1 MiB each through kubectl (WebSocket).
Ratios are against kubectl's WebSocket mode in this same run.
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
  name: bytes
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: kip-test-node:latest
    command: [kind, kip-test-tcp-bytes, "8080"]
    readinessProbe:
      tcpSocket: {port: 8080}
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
    def __init__(self, kubectl, kubeconfig, websockets):
        env = dict(os.environ, KUBECTL_PORT_FORWARD_WEBSOCKETS="true" if websockets else "false")
        self.proc = subprocess.Popen(
            [kubectl, "--kubeconfig", kubeconfig, "port-forward", "pod/bytes", ":8080"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        line = self.proc.stdout.readline()
        m = re.search(r"127\.0\.0\.1:(\d+)", line)
        if not m:
            raise RuntimeError(f"kubectl port-forward said {line!r}")
        self.port = int(m.group(1))
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

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
    args = ap.parse_args()
    size = args.mib << 20

    subprocess.run(["cargo", "build", "--release", "-q", "-p", "kip-test-kube-emulator"],
                   cwd=ROOT, check=True)
    tmp = tempfile.mkdtemp(prefix="kip-pf-bench-")
    kubeconfig = os.path.join(tmp, "kubeconfig")
    emulator = subprocess.Popen(
        [os.path.join(ROOT, "target/release/kube-emulator"), kubeconfig, "--pods"],
        stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(kubeconfig):
                break
            time.sleep(0.05)
        kubectl = [args.kubectl, "--kubeconfig", kubeconfig]
        subprocess.run(kubectl + ["apply", "-f", "-"], input=POD, text=True, check=True,
                       capture_output=True)
        subprocess.run(kubectl + ["wait", "--for=condition=Ready", "pod/bytes", "--timeout=60s"],
                       check=True, capture_output=True)
        ip = subprocess.run(kubectl + ["get", "pod", "bytes", "-o", "jsonpath={.status.podIP}"],
                            check=True, capture_output=True, text=True).stdout.strip()

        results = {}
        results["direct TCP to the pod IP (ceiling)"] = [fetch(ip, 8080, size) for _ in range(args.runs)]
        for label, ws in [("kubectl port-forward, WebSocket (SPDY tunnelled)", True),
                          ("kubectl port-forward, plain SPDY", False)]:
            f = Forward(args.kubectl, kubeconfig, ws)
            try:
                fetch("127.0.0.1", f.port, 1 << 20)  # warm up the connection
                results[label] = [fetch("127.0.0.1", f.port, size) for _ in range(args.runs)]
                if ws:
                    elapsed, errors = concurrent(f.port, 32, 1 << 20)
                    conc = (elapsed, errors)
            finally:
                f.close()

        base = statistics.median(results["kubectl port-forward, WebSocket (SPDY tunnelled)"])
        print(f"{args.mib} MiB per transfer, median of {args.runs} runs, emulator pod network MTU 1440")
        print(f"{'client':52} {'seconds':>8} {'MiB/s':>8} {'vs kubectl ws':>14}")
        for label, times in results.items():
            med = statistics.median(times)
            print(f"{label:52} {med:8.3f} {args.mib / med:8.1f} {base / med:13.2f}x")
        elapsed, errors = conc
        print(f"32 concurrent 1 MiB transfers through kubectl (WebSocket): {elapsed:.3f} s, "
              f"{len(errors)} errors{': ' + errors[0] if errors else ''}")
    finally:
        emulator.terminate()
        emulator.wait()


if __name__ == "__main__":
    sys.exit(main())
