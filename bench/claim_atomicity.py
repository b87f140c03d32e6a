#!/usr/bin/env python3
"""The facts warm pools' claims rest on (docs/pools.md, "Exclusive claims"),
measured on the local Docker engine: two concurrent renames of one
container to different names, two to one fixed name, and four concurrent
creates of one volume name with different label tokens. Prints counts;
asserts nothing. Makes and removes containers and volumes named
poolx-exp-*.

    python3 bench/claim_atomicity.py [TRIALS]   # default 30
"""

import http.client
import json
import socket
import sys
import threading


class UConn(http.client.HTTPConnection):
    def __init__(self): super().__init__("localhost")
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect("/var/run/docker.sock")
def req(method, path, body=None):
    c = UConn(); c.request(method, path, body=json.dumps(body) if body is not None else None,
                           headers={"Content-Type": "application/json"})
    r = c.getresponse(); data = r.read(); c.close(); return r.status, data
def race(fns):
    out = [None]*len(fns); b = threading.Barrier(len(fns))
    def run(i):
        b.wait(); out[i] = fns[i]()
    ts = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    [t.start() for t in ts]; [t.join() for t in ts]; return out
N = int(sys.argv[1]) if len(sys.argv) > 1 else 30
img = "kip-test-stand-in-node:latest"
both = 0; one = 0
for t in range(N):
    s, d = req("POST", f"/containers/create?name=poolx-exp-{t}", {"Image": img, "Cmd": ["true"]})
    assert s == 201, d
    r = race([lambda: req("POST", f"/containers/poolx-exp-{t}/rename?name=poolx-exp-{t}-a")[0],
              lambda: req("POST", f"/containers/poolx-exp-{t}/rename?name=poolx-exp-{t}-b")[0]])
    if r.count(204) == 2: both += 1
    cid = json.loads(d)["Id"]; req("DELETE", f"/containers/{cid}?force=1")
for t in range(N):
    s, d = req("POST", f"/containers/create?name=poolx-exp-f{t}", {"Image": img, "Cmd": ["true"]})
    r = race([lambda: req("POST", f"/containers/poolx-exp-f{t}/rename?name=poolx-exp-f{t}-taken")[0]] * 2)
    if r.count(204) == 1: one += 1
    cid = json.loads(d)["Id"]; req("DELETE", f"/containers/{cid}?force=1")
vol_one = 0
for t in range(N):
    name = f"poolx-exp-v{t}"
    r = race([(lambda k: (lambda: json.loads(req("POST", "/volumes/create", {"Name": name, "Labels": {"token": str(k)}})[1])["Labels"]["token"]))(k) for k in range(4)])
    if len(set(r)) == 1: vol_one += 1
    req("DELETE", f"/volumes/{name}")
s, d = req("GET", "/version")
print(f"engine {json.loads(d)['Version']}: {N} trials each")
print(f"two renames of one container to different names: both succeeded in {both}/{N}")
print(f"two renames of one container to one fixed name: exactly one succeeded in {one}/{N}")
print(f"four creates of one volume name with four tokens: all read back one token in {vol_one}/{N}")
