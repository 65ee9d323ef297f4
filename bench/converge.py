"""Client side of bench/converge.sh (see there): raw creates, the audit log, CPU and memory, and the floor.

Reads from the environment: KUBECONFIG, AUDIT_LOG, APISERVER_PID (the testenv process: kube-apiserver and
etcd), CAIRN_PID, BENCH_CLUSTERS, BENCH_NAMESPACE, BENCH_FLOOR_NAMESPACE, BENCH_ROUNDS, BENCH_SETTLE_S, ETCD_URL (the control plane's etcd, compacted before each phase), BENCH_RESTART_CMD
(restarts Cairn and prints its new pid), BENCH_STOP_CMD (stops Cairn). Prints one JSON document.
"""
import collections
import datetime
import faulthandler
import signal
import socket
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
import urllib3
import yaml

urllib3.disable_warnings()
faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints every thread's stack

N = int(os.environ.get("BENCH_CLUSTERS", "300"))
NS = os.environ.get("BENCH_NAMESPACE", "everest")
FLOOR_NS = os.environ.get("BENCH_FLOOR_NAMESPACE", "bench-floor")
ROUNDS = max(1, int(os.environ.get("BENCH_ROUNDS", "2")))
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


def agents(events):
    """Requests by client (the User-Agent's first word) other than Cairn, the simulator and the bench."""
    return dict(collections.Counter(ev.get("userAgent", "").split("/")[0] for ev in events if who(ev) == "other"))


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


def db_body(i, ns, prefix="conv"):
    engine, version = ENGINES[i % 3]
    return {
        "apiVersion": "everest.percona.com/v1alpha1",
        "kind": "DatabaseCluster",
        "metadata": {"name": f"{prefix}-{i}", "namespace": ns},
        "spec": {"engine": {"type": engine, "version": version, "replicas": 1, "storage": {"size": "1G"},
                            "resources": {"cpu": "600m", "memory": "1G"}}},
    }


def create_dbs(ns, prefix="conv"):
    def one(i):
        r = S.post(SERVER + DB_PATH.format(ns=ns), json=db_body(i, ns, prefix))
        if r.status_code not in (200, 201):
            raise RuntimeError(f"create {prefix}-{i}: {r.status_code} {r.text[:200]}")
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(one, range(N)))


def wait(what, check, timeout=1800, every=1.0):
    start = time.time()
    while time.time() - start < timeout:
        if check():
            return time.time()
        time.sleep(every)
    raise RuntimeError(f"timed out: {what}")


def event_lines(r):
    """The lines of a watch response as each arrives. (`iter_lines` reads fixed-size blocks and holds the last
    events back until more bytes come, which after the last change is never.) The API server sends each
    event as a chunk of its own."""
    buf = b""
    for chunk in r.raw.read_chunked(decode_content=True):
        buf += chunk
        *lines, buf = buf.split(b"\n")
        yield from (l for l in lines if l.strip())


class Ready:
    """Counts the objects of `paths` (collection URLs) named `<prefix>-…` whose state is ready, from watches
    started now. A watch costs the API server next to nothing more (each event is encoded once for all its
    watchers, and Cairn and the simulator watch these kinds anyway), where polling with LISTs (as this bench
    once did: every second, every object of the namespace) put a cost of the bench's own into each phase,
    and more into a phase whose namespace held more objects."""

    def __init__(self, paths, prefix, ready):
        self.ready, self.prefix, self.names, self.lock = ready, prefix + "-", set(), threading.Lock()
        self.started = threading.Barrier(len(paths) + 1)
        self.stopped, self.open = False, []
        for p in paths:
            threading.Thread(target=self.follow, args=(p,), daemon=True).start()
        self.started.wait(timeout=60)

    def follow(self, path):
        first = True
        while not self.stopped:
            try:
                with S.get(SERVER + path, params={"watch": "1"}, stream=True, timeout=(10, 3600)) as r:
                    self.open.append(r)
                    if first:
                        first = False
                        self.started.wait(timeout=60)
                    for line in event_lines(r):
                        ev = json.loads(line)
                        o = ev.get("object") or {}
                        name = (o.get("metadata") or {}).get("name", "")
                        if not name.startswith(self.prefix):
                            continue
                        with self.lock:
                            if ev.get("type") != "DELETED" and self.ready(o):
                                self.names.add(name)
                            else:
                                self.names.discard(name)
            except Exception as e:  # a watch that ended: open it again (its initial events say it all again)
                if self.stopped:
                    return
                log(f"watch {path}: {e}; again")
                time.sleep(1)

    def stop(self):
        """Ends the watches. (Their sockets are shut down: closing a response that another thread reads
        waits for that read, which after the last change never returns.)"""
        self.stopped = True
        for r in self.open:
            try:
                r.raw.connection.sock.shutdown(socket.SHUT_RDWR)
            except Exception:
                pass

    def count(self):
        with self.lock:
            return len(self.names)


def db_is_ready(d):
    return (d.get("status") or {}).get("status") == "ready"


def upstream_is_ready(u):
    return (u.get("status") or {}).get("state") == "ready"


def upstream_items(ns, prefix=None):
    out = []
    for group, plural, _ in UPSTREAM.values():
        out += S.get(f"{SERVER}/apis/{group}/namespaces/{ns}/{plural}").json().get("items", [])
    return [u for u in out if prefix is None or u["metadata"]["name"].startswith(prefix + "-")]


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


ETCD = os.environ.get("ETCD_URL")


def compact_storage():
    """Compacts etcd (physically) up to now, before a measured phase. The API server compacts every 5 minutes
    what is older than its last compaction; that work (proportional to the writes before it) fell into
    whichever phase it met and moved a phase's CPU by seconds. Done here, between the phases, it leaves the
    periodic compaction nothing to do in them."""
    if not ETCD:
        return
    rev = requests.post(f"{ETCD}/v3/kv/range", json={"key": "YQ=="}, timeout=30).json()["header"]["revision"]
    requests.post(f"{ETCD}/v3/kv/compaction", json={"revision": rev, "physical": True}, timeout=300).raise_for_status()
    time.sleep(2)


def loadavg():
    """The machine's 1, 5 and 15 minute load averages: the machine is shared, and CPU seconds measured while
    others build are not comparable with a quiet run's."""
    return [round(x, 2) for x in os.getloadavg()]


def per_cluster(counts, n):
    return {k: round(v / n, 3) for k, v in counts.items()}


def restart_phase():
    """2. A restart with nothing changed: Cairn's requests and writes in the SETTLE seconds after it, its RSS
    before (the steady state) and after."""
    time.sleep(SETTLE)
    pid = int(os.environ["CAIRN_PID"])
    rss_before = rss_mib(pid)
    line2, load2 = audit_lines(), loadavg()
    new_pid = int(subprocess.check_output(["bash", "-c", os.environ["BENCH_RESTART_CMD"]]).decode().split()[-1])
    time.sleep(SETTLE)
    rss_after = rss_mib(new_pid)
    peak = 0
    for line in open(f"/proc/{new_pid}/status"):
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    ev = audit_events(line2)
    restart_writes = writes_by_resource(ev, "cairn")
    out = {
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
    log(json.dumps(out))
    return out


def floor_round(ns, ups, prefix, interleaved=False):
    """One floor phase in namespace `ns`: the DatabaseClusters `<prefix>-<i>` created, `ups` applied once each:
    all creates first, then all applies; `interleaved`: each upstream object applied right after its
    DatabaseCluster's create (8 clients each doing create-then-apply, as a controller following creates does)."""
    S.post(f"{SERVER}/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    time.sleep(5)
    log(f"floor: {len(ups)} upstream objects, applied once each in {ns}")
    idle0, t_idle = cpu_seconds(APISERVER_PID), time.time()
    time.sleep(10)
    idle_rate = (cpu_seconds(APISERVER_PID) - idle0) / (time.time() - t_idle)
    load3 = loadavg()
    ready = Ready([f"/apis/{g}/namespaces/{ns}/{p}" for g, p, _ in UPSTREAM.values()], prefix, upstream_is_ready)
    compact_storage()
    line3, cpu3 = audit_lines(), cpu_seconds(APISERVER_PID)
    t3 = time.time()
    if not interleaved:
        create_dbs(ns, prefix)

    def apply(u):
        group_version = u["apiVersion"]
        plural = next(p for g, p, k in UPSTREAM.values() if k == u["kind"])
        u = dict(u, metadata=dict(u["metadata"], namespace=ns))
        r = S.patch(f"{SERVER}/apis/{group_version}/namespaces/{ns}/{plural}/{u['metadata']['name']}",
                    params={"fieldManager": "bench-floor", "force": "true"}, data=json.dumps(u),
                    headers={"Content-Type": "application/apply-patch+yaml"})
        if r.status_code not in (200, 201):
            raise RuntimeError(f"apply {u['metadata']['name']}: {r.status_code} {r.text[:200]}")
    if interleaved:
        by_name = {u["metadata"]["name"]: u for u in ups}

        def create_then_apply(i):
            r = S.post(SERVER + DB_PATH.format(ns=ns), json=db_body(i, ns, prefix))
            if r.status_code not in (200, 201):
                raise RuntimeError(f"create {prefix}-{i}: {r.status_code} {r.text[:200]}")
            if f"{prefix}-{i}" in by_name:
                apply(by_name[f"{prefix}-{i}"])
        with ThreadPoolExecutor(8) as ex:
            list(ex.map(create_then_apply, range(N)))
    else:
        with ThreadPoolExecutor(8) as ex:
            list(ex.map(apply, ups))
    t_applied = time.time()
    t_floor_ready = wait("floor ready", lambda: ready.count() >= len(ups), every=0.2)
    ready.stop()
    quiet("cairn-sim")
    cpu4 = cpu_seconds(APISERVER_PID)
    line4 = audit_lines()
    ev = audit_events(line3, line4)
    floor_cpu = cpu4 - cpu3
    return {
        "apiserver_cpu_s": round(floor_cpu, 2),
        "upstream_objects": len(ups),
        "all_ready_s": round(t_floor_ready - t3, 2),
        "apply_s": round(t_applied - t3, 2),
        "writes_by_resource": writes_by_resource(ev, "bench"),
        "server_ms_by_request": server_ms_by_request(line3, line4, "bench"),
        "simulator_writes": sum(writes_by_resource(ev, "cairn-sim").values()),
        "simulator_requests": requests_by_verb(ev, "cairn-sim"),
        "simulator_server_ms_by_request": server_ms_by_request(line3, line4, "cairn-sim"),
        "other_requests": requests_by_verb(ev, "other"),
        "other_requests_by_client": agents(ev),
        "apiserver_idle_cpu_per_s": round(idle_rate, 4),
        "loadavg_before": load3,
        "loadavg_after": loadavg(),
    }


def cairn_round(prefix):
    """Cairn converges N raw creates named `<prefix>-<i>` in NS: its writes, the API server's CPU."""
    log(f"cairn: creating {N} DatabaseClusters (raw CRs) in {NS}")
    load0 = loadavg()
    ready = Ready([DB_PATH.format(ns=NS)], prefix, db_is_ready)
    compact_storage()  # (and the watch's initial events, the earlier rounds' objects, are over)
    line0, cpu0 = audit_lines(), cpu_seconds(APISERVER_PID)
    t0 = time.time()
    create_dbs(NS, prefix)
    t_created = time.time()
    t_ready = wait("all ready", lambda: ready.count() >= N, every=0.2)
    ready.stop()
    quiet("cairn")
    cpu1, line1 = cpu_seconds(APISERVER_PID), audit_lines()
    ev = audit_events(line0, line1)
    writes = writes_by_resource(ev, "cairn")
    upstream_patches = sum(v for k, v in writes.items() if k.split(" ")[1] in {p for _, p, _ in UPSTREAM.values()} and k.startswith("patch"))
    out = {
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
        "simulator_requests": requests_by_verb(ev, "cairn-sim"),
        "simulator_server_ms_by_request": server_ms_by_request(line0, line1, "cairn-sim"),
        "other_requests": requests_by_verb(ev, "other"),
        "other_requests_by_client": agents(ev),
        "loadavg_before": load0,
        "loadavg_after": loadavg(),
    }
    log(json.dumps(out))
    return out


def floor_objects(prefix):
    """The upstream objects Cairn applied for the DatabaseClusters `<prefix>-<i>`, as a bare client applies them."""
    ups = []
    for u in upstream_items(NS, prefix):
        m = u["metadata"]
        meta = {"name": m["name"]}  # (the namespace: the floor round's own)
        for k in ("labels", "annotations"):
            if m.get(k):
                meta[k] = m[k]
        ups.append({"apiVersion": u["apiVersion"], "kind": u["kind"], "metadata": meta, "spec": u["spec"]})
    return ups


def main():
    result = {"clusters": N, "engines": [e for e, _ in ENGINES], "cpus": os.cpu_count()}
    # Both phases move between runs (by up to 28 % for the floor: the API server's and etcd's periodic work,
    # and the machine, fall into one phase or another), so the bench measures ROUNDS rounds, each a Cairn
    # phase and then a floor phase on the objects of that Cairn phase, and reports the ratio of the sums
    # (and each round's own).
    cairn_rounds, floor_rounds, interleaved_rounds = [], [], []
    for r in range(ROUNDS):
        prefix = "conv" if r == 0 else f"conv{r + 1}"
        if r > 0:
            # Cairn again (stopped for the previous floor); its start's sync is over before the round begins.
            subprocess.check_output(["bash", "-c", os.environ["BENCH_RESTART_CMD"]])
            time.sleep(SETTLE)
        # 1. Cairn converges N raw creates.
        cairn_rounds.append(cairn_round(prefix))
        if r == 0:
            result["restart"] = restart_phase()
        # 3. The floor: Cairn stopped; the same DatabaseClusters created, and the upstream objects Cairn
        # applied server-side-applied once each by a bare client (same simulator driving them to ready).
        # (BENCH_FLOOR_WITH_CAIRN=1, a diagnosis: from the second round on Cairn keeps running through the
        # floor, in a namespace it does not manage, so the floor also pays for delivering every event to
        # Cairn's cluster-wide watches; that round's floor minus the first's is what those watches cost.)
        with_cairn = r > 0 and os.environ.get("BENCH_FLOOR_WITH_CAIRN") == "1"
        if not with_cairn:
            subprocess.check_call(["bash", "-c", os.environ["BENCH_STOP_CMD"]])
        floor_rounds.append(floor_round(FLOOR_NS if r == 0 else f"{FLOOR_NS}-{r + 1}", floor_objects(prefix), prefix))
        floor_rounds[-1]["cairn_running"] = with_cairn
        # (BENCH_FLOOR_INTERLEAVED=1, a diagnosis: each round also measures a second floor whose bare client
        # applies each upstream object right after its DatabaseCluster's create, as any controller following
        # creates must, instead of after all creates. Reported beside, never in the ratio.)
        if os.environ.get("BENCH_FLOOR_INTERLEAVED") == "1":
            interleaved_rounds.append(floor_round(f"{FLOOR_NS}-i{r + 1}", floor_objects(prefix), prefix, interleaved=True))
    cairn_cpu = sum(c["apiserver_cpu_s"] for c in cairn_rounds)
    floor_cpu = sum(f["apiserver_cpu_s"] for f in floor_rounds)
    # The top level: the first round's figures (its writes, times, requests), with the CPU seconds the mean
    # of all rounds; each round's own are under `rounds`.
    result["cairn"] = dict(cairn_rounds[0], apiserver_cpu_s=round(cairn_cpu / ROUNDS, 2), rounds=cairn_rounds)
    result["floor"] = dict(floor_rounds[0], apiserver_cpu_s=round(floor_cpu / ROUNDS, 2), rounds=floor_rounds)
    if interleaved_rounds:
        result["floor_interleaved"] = {
            "apiserver_cpu_s": round(sum(f["apiserver_cpu_s"] for f in interleaved_rounds) / len(interleaved_rounds), 2),
            "vs_floor_by_round": [round(i["apiserver_cpu_s"] / f["apiserver_cpu_s"], 3) for i, f in zip(interleaved_rounds, floor_rounds)],
            "cairn_vs_it_by_round": [round(c["apiserver_cpu_s"] / i["apiserver_cpu_s"], 3) for c, i in zip(cairn_rounds, interleaved_rounds)],
            "rounds": interleaved_rounds,
        }
    result["cpu_ratio_by_round"] = [round(c["apiserver_cpu_s"] / f["apiserver_cpu_s"], 3) for c, f in zip(cairn_rounds, floor_rounds)]
    result["ratios"] = {
        "apiserver_cpu_vs_floor": round(cairn_cpu / floor_cpu, 3) if floor_cpu else None,
        "upstream_patches_per_object": max(c["upstream_patches_per_object"] for c in cairn_rounds),
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
