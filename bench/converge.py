"""Client side of bench/converge.sh (see there): raw creates, the audit log, CPU and memory, and the floor.

Reads from the environment: KUBECONFIG, AUDIT_LOG, APISERVER_PID (the testenv process: kube-apiserver and
etcd), CAIRN_PID, BENCH_CLUSTERS, BENCH_NAMESPACE, BENCH_FLOOR_NAMESPACE, BENCH_SETTLE_S, BENCH_RESTART_CMD
(restarts Cairn and prints its new pid), BENCH_STOP_CMD (stops Cairn). Prints one JSON document.
"""
import collections
import datetime
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import requests
import urllib3
import yaml

urllib3.disable_warnings()

N = int(os.environ.get("BENCH_CLUSTERS", "300"))
NS = os.environ.get("BENCH_NAMESPACE", "everest")
FLOOR_NS = os.environ.get("BENCH_FLOOR_NAMESPACE", "bench-floor")
SETTLE = float(os.environ.get("BENCH_SETTLE_S", "20"))
AUDIT = os.environ["AUDIT_LOG"]
APISERVER_PID = int(os.environ["APISERVER_PID"])
TICKS = os.sysconf("SC_CLK_TCK")

kc = yaml.safe_load(open(os.environ["KUBECONFIG"]))
cluster = kc["clusters"][0]["cluster"]
user = kc["users"][0]["user"]
SERVER = cluster["server"]
S = requests.Session()
S.headers["User-Agent"] = "cairn-bench/1"
if user.get("token"):
    S.headers["Authorization"] = "Bearer " + user["token"]
S.verify = False
S.trust_env = False

ENGINES = [("postgresql", "17.5.2"), ("pxc", "8.0.42-33.1"), ("psmdb", "8.0.12-4")]
UPSTREAM = {
    "postgresql": ("pgv2.percona.com/v2", "perconapgclusters", "PerconaPGCluster"),
    "pxc": ("pxc.percona.com/v1", "perconaxtradbclusters", "PerconaXtraDBCluster"),
    "psmdb": ("psmdb.percona.com/v1", "perconaservermongodbs", "PerconaServerMongoDB"),
}
DB_PATH = "/apis/everest.percona.com/v1alpha1/namespaces/{ns}/databaseclusters"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def cpu_seconds(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICKS  # utime + stime


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def audit_lines():
    with open(AUDIT) as f:
        return sum(1 for _ in f)


def audit_events(start, end=None):
    """RequestReceived events (one per request) from line `start` on."""
    out = []
    with open(AUDIT) as f:
        for i, line in enumerate(f):
            if i < start or (end is not None and i >= end):
                continue
            ev = json.loads(line)
            if ev.get("stage") == "RequestReceived":
                out.append(ev)
    return out


def ts(t):
    return datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()


def server_ms_by_request(start, end, client):
    """API server time (received to response written, ms) summed by verb and resource for `client`'s
    requests from line `start` to `end` (watches left out: they last as long as they stay open). This is
    where the API server spent its time, with the waits for CPU on a busy machine included."""
    c = collections.Counter()
    with open(AUDIT) as f:
        for i, line in enumerate(f):
            if i < start or i >= end:
                continue
            ev = json.loads(line)
            if ev.get("stage") != "ResponseComplete" or ev.get("verb") == "watch" or who(ev) != client:
                continue
            c[f'{ev["verb"]} {resource_of(ev)}'] += (ts(ev["stageTimestamp"]) - ts(ev["requestReceivedTimestamp"])) * 1000
    return {k: round(v) for k, v in sorted(c.items())}


def who(ev):
    ua = ev.get("userAgent", "")
    return "cairn" if ua.startswith("cairn/") else "cairn-sim" if ua.startswith("cairn-sim/") else "bench" if ua.startswith("cairn-bench/") else "other"


WRITES = {"create", "update", "patch", "delete", "deletecollection"}


def resource_of(ev):
    o = ev.get("objectRef", {})
    r = o.get("resource", "?")
    return r + ("/" + o["subresource"] if o.get("subresource") else "")


def writes_by_resource(events, client):
    c = collections.Counter()
    for ev in events:
        if who(ev) == client and ev["verb"] in WRITES:
            c[f'{ev["verb"]} {resource_of(ev)}'] += 1
    return dict(sorted(c.items()))


def requests_by_verb(events, client):
    c = collections.Counter(f'{ev["verb"]} {resource_of(ev)}' for ev in events if who(ev) == client)
    return dict(sorted(c.items()))


def db_body(i, ns):
    engine, version = ENGINES[i % 3]
    return {
        "apiVersion": "everest.percona.com/v1alpha1",
        "kind": "DatabaseCluster",
        "metadata": {"name": f"conv-{i}", "namespace": ns},
        "spec": {"engine": {"type": engine, "version": version, "replicas": 1, "storage": {"size": "1G"},
                            "resources": {"cpu": "600m", "memory": "1G"}}},
    }


def create_dbs(ns):
    def one(i):
        r = S.post(SERVER + DB_PATH.format(ns=ns), json=db_body(i, ns))
        if r.status_code not in (200, 201):
            raise RuntimeError(f"create conv-{i}: {r.status_code} {r.text[:200]}")
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(one, range(N)))


def wait(what, check, timeout=1800, every=1.0):
    start = time.time()
    while time.time() - start < timeout:
        if check():
            return time.time()
        time.sleep(every)
    raise RuntimeError(f"timed out: {what}")


def dbs_ready(ns):
    items = S.get(SERVER + DB_PATH.format(ns=ns)).json()["items"]
    return sum(1 for d in items if (d.get("status") or {}).get("status") == "ready")


def upstream_items(ns):
    out = []
    for group, plural, _ in UPSTREAM.values():
        out += S.get(f"{SERVER}/apis/{group}/namespaces/{ns}/{plural}").json().get("items", [])
    return out


def upstream_ready(ns):
    return sum(1 for u in upstream_items(ns) if (u.get("status") or {}).get("state") == "ready")


def quiet(client, secs=5, timeout=600):
    """Waits until `client` has sent no write for `secs` (the audit log is written as requests arrive)."""
    start = time.time()
    last_n, last_change = -1, time.time()
    base = audit_lines()
    while time.time() - start < timeout:
        n = sum(1 for ev in audit_events(base) if who(ev) == client and ev["verb"] in WRITES)
        if n != last_n:
            last_n, last_change = n, time.time()
        elif time.time() - last_change >= secs:
            return
        time.sleep(1)


def loadavg():
    """The machine's 1, 5 and 15 minute load averages: the machine is shared, and CPU seconds measured while
    others build are not comparable with a quiet run's."""
    return [round(x, 2) for x in os.getloadavg()]


def per_cluster(counts, n):
    return {k: round(v / n, 3) for k, v in counts.items()}


def main():
    result = {"clusters": N, "engines": [e for e, _ in ENGINES], "cpus": os.cpu_count()}

    # 1. Cairn converges N raw creates.
    log(f"cairn: creating {N} DatabaseClusters (raw CRs) in {NS}")
    load0 = loadavg()
    line0, cpu0 = audit_lines(), cpu_seconds(APISERVER_PID)
    t0 = time.time()
    create_dbs(NS)
    t_created = time.time()
    t_ready = wait("all ready", lambda: dbs_ready(NS) >= N)
    quiet("cairn")
    cpu1, line1 = cpu_seconds(APISERVER_PID), audit_lines()
    ev = audit_events(line0, line1)
    writes = writes_by_resource(ev, "cairn")
    upstream_patches = sum(v for k, v in writes.items() if k.split(" ")[1] in {p for _, p, _ in UPSTREAM.values()} and k.startswith("patch"))
    result["cairn"] = {
        "create_s": round(t_created - t0, 2),
        "all_ready_after_last_create_s": round(t_ready - t_created, 2),
        "all_ready_s": round(t_ready - t0, 2),
        "apiserver_cpu_s": round(cpu1 - cpu0, 2),
        "writes_by_resource": writes,
        "writes_per_cluster": per_cluster(writes, N),
        "upstream_patches_per_object": round(upstream_patches / N, 3),
        "requests": requests_by_verb(ev, "cairn"),
        "server_ms_by_request": server_ms_by_request(line0, line1, "cairn"),
        "simulator_writes": sum(writes_by_resource(ev, "cairn-sim").values()),
        "loadavg_before": load0,
        "loadavg_after": loadavg(),
    }
    log(json.dumps(result["cairn"]))

    # 2. A restart with nothing changed.
    time.sleep(SETTLE)
    pid = int(os.environ["CAIRN_PID"])
    rss_before = rss_mib(pid)
    line2, load2 = audit_lines(), loadavg()
    new_pid = int(subprocess.check_output(["bash", "-c", os.environ["BENCH_RESTART_CMD"]]).decode().split()[-1])
    t_restart = time.time()
    time.sleep(SETTLE)
    rss_after = rss_mib(new_pid)
    peak = 0
    for line in open(f"/proc/{new_pid}/status"):
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    ev = audit_events(line2)
    restart_writes = writes_by_resource(ev, "cairn")
    result["restart"] = {
        "settle_s": SETTLE,
        "requests": requests_by_verb(ev, "cairn"),
        "requests_total": sum(requests_by_verb(ev, "cairn").values()),
        "writes": restart_writes,
        "writes_total": sum(restart_writes.values()),
        "rss_mib_steady": round(rss_before, 1),
        "rss_mib_after_restart": round(rss_after, 1),
        "rss_mib_peak_after_restart": round(peak, 1),
        "rss_ratio": round(rss_after / rss_before, 3) if rss_before else None,
        "loadavg_before": load2,
        "loadavg_after": loadavg(),
    }
    log(json.dumps(result["restart"]))

    # 3. The floor: Cairn stopped; the same DatabaseClusters created, and the upstream objects Cairn applied
    # server-side-applied once each by a bare client (same simulator driving them to ready).
    subprocess.check_call(["bash", "-c", os.environ["BENCH_STOP_CMD"]])
    ups = []
    for u in upstream_items(NS):
        m = u["metadata"]
        meta = {"name": m["name"], "namespace": FLOOR_NS}
        for k in ("labels", "annotations"):
            if m.get(k):
                meta[k] = m[k]
        ups.append({"apiVersion": u["apiVersion"], "kind": u["kind"], "metadata": meta, "spec": u["spec"]})
    S.post(f"{SERVER}/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": FLOOR_NS}})
    time.sleep(5)
    log(f"floor: {len(ups)} upstream objects, applied once each in {FLOOR_NS}")
    idle0, t_idle = cpu_seconds(APISERVER_PID), time.time()
    time.sleep(10)
    idle_rate = (cpu_seconds(APISERVER_PID) - idle0) / (time.time() - t_idle)
    load3 = loadavg()
    line3, cpu3 = audit_lines(), cpu_seconds(APISERVER_PID)
    t3 = time.time()
    create_dbs(FLOOR_NS)

    def apply(u):
        group_version = u["apiVersion"]
        plural = next(p for g, p, k in UPSTREAM.values() if k == u["kind"])
        r = S.patch(f"{SERVER}/apis/{group_version}/namespaces/{FLOOR_NS}/{plural}/{u['metadata']['name']}",
                    params={"fieldManager": "bench-floor", "force": "true"}, data=json.dumps(u),
                    headers={"Content-Type": "application/apply-patch+yaml"})
        if r.status_code not in (200, 201):
            raise RuntimeError(f"apply {u['metadata']['name']}: {r.status_code} {r.text[:200]}")
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(apply, ups))
    t_applied = time.time()
    t_floor_ready = wait("floor ready", lambda: upstream_ready(FLOOR_NS) >= len(ups))
    quiet("cairn-sim")
    cpu4 = cpu_seconds(APISERVER_PID)
    line4 = audit_lines()
    ev = audit_events(line3, line4)
    floor_cpu = cpu4 - cpu3
    result["floor"] = {
        "apiserver_cpu_s": round(floor_cpu, 2),
        "upstream_objects": len(ups),
        "all_ready_s": round(t_floor_ready - t3, 2),
        "apply_s": round(t_applied - t3, 2),
        "writes_by_resource": writes_by_resource(ev, "bench"),
        "server_ms_by_request": server_ms_by_request(line3, line4, "bench"),
        "simulator_writes": sum(writes_by_resource(ev, "cairn-sim").values()),
        "apiserver_idle_cpu_per_s": round(idle_rate, 4),
        "loadavg_before": load3,
        "loadavg_after": loadavg(),
    }
    result["ratios"] = {
        "apiserver_cpu_vs_floor": round(result["cairn"]["apiserver_cpu_s"] / floor_cpu, 3) if floor_cpu else None,
        "upstream_patches_per_object": result["cairn"]["upstream_patches_per_object"],
        "restart_writes": result["restart"]["writes_total"],
        "rss_after_restart_vs_steady": result["restart"]["rss_ratio"],
    }
    result["targets"] = {
        "upstream_patches_per_object_max": 1.2,
        "apiserver_cpu_vs_floor_max": 1.3,
        "restart_writes_max": 0,
        "rss_after_restart_vs_steady_max": 1.1,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
