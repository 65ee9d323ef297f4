"""Client side of bench/list.sh: the REST list of N databases (and the UI's databases page), timed.

Env: CAIRN_URL, CAIRN_ADMIN_PASSWORD, KUBECONFIG, BENCH_CLUSTERS, BENCH_NAMESPACE, BENCH_SAMPLES.
Prints one JSON document.
"""
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import requests
import urllib3
import yaml

urllib3.disable_warnings()
N = int(os.environ.get("BENCH_CLUSTERS", "1000"))
NS = os.environ.get("BENCH_NAMESPACE", "everest")
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "200"))
URL = os.environ["CAIRN_URL"]
ENGINES = [("postgresql", "17.5.2"), ("pxc", "8.0.42-33.1"), ("psmdb", "8.0.12-4")]

kc = yaml.safe_load(open(os.environ["KUBECONFIG"]))
K = requests.Session()
K.headers["Authorization"] = "Bearer " + kc["users"][0]["user"]["token"]
K.verify = False
K.trust_env = False
SERVER = kc["clusters"][0]["cluster"]["server"]
DBS = f"{SERVER}/apis/everest.percona.com/v1alpha1/namespaces/{NS}/databaseclusters"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def create(i):
    engine, version = ENGINES[i % 3]
    body = {"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster",
            "metadata": {"name": f"list-{i}", "namespace": NS},
            "spec": {"engine": {"type": engine, "version": version, "replicas": 1, "storage": {"size": "1G"},
                                "resources": {"cpu": "600m", "memory": "1G"}}}}
    r = K.post(DBS, json=body)
    assert r.status_code in (200, 201), r.text[:200]


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def timed(session, path, headers, n):
    times, wire = [], 0
    for _ in range(n):
        t = time.perf_counter()
        r = session.get(URL + path, headers=headers, stream=True)
        raw = r.raw.read(decode_content=False)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (path, r.status_code)
        wire = len(raw)
    return {"p50_ms": round(pct(times, 50), 2), "p99_ms": round(pct(times, 99), 2), "max_ms": round(max(times), 2),
            "bytes_on_wire": wire, "encoding": r.headers.get("content-encoding", "identity"), "samples": n,
            "loadavg": loadavg()}


def loadavg():
    """1, 5 and 15 minute load averages after a measurement: the machine is shared, and latencies measured
    while others build are the machine's as much as Cairn's."""
    return [round(x, 2) for x in os.getloadavg()]


def main():
    log(f"creating {N} DatabaseClusters (raw CRs)")
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(create, range(N)))
    s = requests.Session()
    r = s.post(URL + "/v1/session", json={"username": "admin", "password": os.environ["CAIRN_ADMIN_PASSWORD"]})
    token = r.json()["token"]
    s.headers["Authorization"] = "Bearer " + token
    path = f"/v1/namespaces/{NS}/database-clusters"
    log("waiting until all are ready")
    for _ in range(1800):
        items = s.get(URL + path).json()["items"]
        if len(items) >= N and all((d.get("status") or {}).get("status") == "ready" for d in items):
            break
        time.sleep(1)
    ready = sum(1 for d in items if (d.get("status") or {}).get("status") == "ready")
    identity = s.get(URL + path, headers={"Accept-Encoding": "identity"})
    summary = s.get(URL + path + "?view=summary", headers={"Accept-Encoding": "identity"})
    out = {"clusters": N, "cpus": os.cpu_count(), "ready": ready, "items": len(identity.json()["items"]),
           "bytes_uncompressed": len(identity.content), "summary_bytes_uncompressed": len(summary.content)}
    for name, p, enc in [("list_br", path, "br"), ("list_gzip", path, "gzip"), ("list_identity", path, "identity"),
                         ("summary_br", path + "?view=summary", "br"), ("page_100_br", path + "?limit=100", "br")]:
        out[name] = timed(s, p, {"Accept-Encoding": enc}, SAMPLES)
        log(name, json.dumps(out[name]))
    # After a change: one database's label changed before each request, so no kept body matches (what the
    # first client after a status change waits for).
    times, wire = [], 0
    for i in range(min(SAMPLES, 30)):
        r = K.patch(f"{DBS}/list-{i % N}", data=json.dumps({"metadata": {"labels": {"bench-touch": str(time.time_ns())}}}),
                    headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 200, r.text[:200]
        time.sleep(0.3)  # the watch brings the change to Cairn's cache
        t = time.perf_counter()
        r = s.get(URL + path, headers={"Accept-Encoding": "br"}, stream=True)
        wire = len(r.raw.read(decode_content=False))
        times.append((time.perf_counter() - t) * 1000)
    out["list_br_after_change"] = {"p50_ms": round(pct(times, 50), 2), "p99_ms": round(pct(times, 99), 2), "max_ms": round(max(times), 2),
                                   "bytes_on_wire": wire, "encoding": "br", "samples": len(times), "loadavg": loadavg()}
    log("list_br_after_change", json.dumps(out["list_br_after_change"]))
    # The UI's first render of the databases page (server-side rendered, the rows from the cache).
    page = requests.Session()
    page.cookies.set(os.environ.get("BENCH_SESSION_COOKIE", "cairn_session"), token)
    out["ui_databases_page_br"] = timed(page, "/databases", {"Accept-Encoding": "br"}, min(SAMPLES, 50))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
