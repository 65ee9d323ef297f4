"""The load bench's client side (run by bench/load.sh, which starts the stack).

1. Creates BENCH_CLUSTERS database clusters (mixed engines) through the REST API, 20 at a time, and waits
   until all are ready.
2. The 1,000-cluster list: BENCH_LIST_SAMPLES sequential `GET …/database-clusters` of the namespace.
3. The mixed load: BENCH_CLIENTS clients for BENCH_DURATION_S seconds, each looping over a weighted mix of
   list, get, create, update (scale / resources), delete and login, with keep-alive connections.
4. No stale status: once the load stops, every cluster's status must match its upstream cluster's (the
   simulator drives every one to ready): those still behind after BENCH_CONVERGE_S seconds are counted.

Prints one JSON document: p50/p99/max latency (ms) and status counts per operation, the 5xx total, Cairn's
RSS (now and peak), the stale count.
"""
import base64, http.client, json, os, random, ssl, statistics, sys, threading, time, urllib.parse

URL = urllib.parse.urlparse(os.environ["CAIRN_URL"])
NS = os.environ.get("BENCH_NAMESPACE", "everest")
PASSWORD = os.environ["CAIRN_ADMIN_PASSWORD"]
CLUSTERS = int(os.environ.get("BENCH_CLUSTERS", "1000"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "100"))
DURATION = float(os.environ.get("BENCH_DURATION_S", "60"))
LIST_SAMPLES = int(os.environ.get("BENCH_LIST_SAMPLES", "50"))
CONVERGE = float(os.environ.get("BENCH_CONVERGE_S", "300"))
CAIRN_PID = int(os.environ["CAIRN_PID"])
ENGINES = ["postgresql", "pxc", "psmdb"]
BASE = f"/v1/namespaces/{NS}/database-clusters"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Client:
    """One keep-alive connection; reconnects after an error."""

    def __init__(self, token=None):
        self.token, self.conn = token, None

    def call(self, method, path, body=None):
        headers = {"content-type": "application/json"}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        data = json.dumps(body) if body is not None else None
        t0 = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(URL.hostname, URL.port, timeout=60)
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            raw = resp.read()
            status = resp.status
        except Exception as e:  # no answer: counted as status 0
            self.conn = None
            return 0, None, (time.perf_counter() - t0) * 1000, str(e)
        ms = (time.perf_counter() - t0) * 1000
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        return status, payload, ms, None


def login():
    s, body, _, err = Client().call("POST", "/v1/session", {"username": "admin", "password": PASSWORD})
    assert s == 200, (s, body, err)
    return body["token"]


def cluster(name, engine, replicas=1):
    return {
        "apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"engine": {"type": engine, "replicas": replicas, "storage": {"size": "1G"},
                            "resources": {"cpu": "600m", "memory": "1G"}}},
    }


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ms, self.status = {}, {}

    def add(self, op, status, ms):
        with self.lock:
            self.ms.setdefault(op, []).append(ms)
            st = self.status.setdefault(op, {})
            st[str(status)] = st.get(str(status), 0) + 1

    def summary(self):
        out = {}
        for op, v in sorted(self.ms.items()):
            v = sorted(v)
            out[op] = {
                "count": len(v),
                "p50_ms": round(statistics.median(v), 1),
                "p99_ms": round(v[min(len(v) - 1, int(len(v) * 0.99))], 1),
                "max_ms": round(v[-1], 1),
                "statuses": self.status[op],
            }
        return out

    def count_5xx(self):
        return sum(n for st in self.status.values() for s, n in st.items() if s.startswith("5"))

    def count_no_answer(self):
        return sum(st.get("0", 0) for st in self.status.values())


def rss_mib():
    fields = {}
    for line in open(f"/proc/{CAIRN_PID}/status"):
        k, _, v = line.partition(":")
        fields[k] = v.split()
    return round(int(fields["VmRSS"][0]) / 1024, 1), round(int(fields["VmHWM"][0]) / 1024, 1)


def list_items(c):
    s, body, ms, _ = c.call("GET", BASE)
    return s, (body or {}).get("items", []), ms


def setup(token, stats):
    names = [f"load-{i}" for i in range(CLUSTERS)]
    it = iter(enumerate(names))
    lock = threading.Lock()

    def worker():
        c = Client(token)
        while True:
            with lock:
                nxt = next(it, None)
            if nxt is None:
                return
            i, name = nxt
            s, body, ms, err = c.call("POST", BASE, cluster(name, ENGINES[i % 3]))
            stats.add("setup_create", s, ms)
            if s != 200:
                log("setup create", name, s, body, err)

    t0 = time.time()
    threads = [threading.Thread(target=worker) for _ in range(20)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    log(f"created {CLUSTERS} in {time.time() - t0:.0f}s; waiting until all are ready")
    c = Client(token)
    deadline = time.time() + 900
    while time.time() < deadline:
        _, items, _ = list_items(c)
        ready = sum(1 for d in items if (d.get("status") or {}).get("status") == "ready")
        if ready >= CLUSTERS:
            break
        time.sleep(2)
    log(f"{ready} ready after {time.time() - t0:.0f}s")
    return ready, round(time.time() - t0, 1)


def mixed_load(token, stats):
    stop = time.time() + DURATION
    counter = iter(range(10**9))
    lock = threading.Lock()
    ops = ["list"] * 30 + ["get"] * 30 + ["create"] * 10 + ["update"] * 15 + ["delete"] * 5 + ["login"] * 5 + ["events"] * 5

    def worker(seed):
        rnd = random.Random(seed)
        c = Client(token)
        created = []
        while time.time() < stop:
            op = rnd.choice(ops)
            if op == "list":
                s, _, ms = list_items(c)
            elif op == "get":
                s, _, ms, _ = c.call("GET", f"{BASE}/load-{rnd.randrange(CLUSTERS)}")
            elif op == "create":
                with lock:
                    n = next(counter)
                name = f"mix-{n}"
                s, _, ms, _ = c.call("POST", BASE, cluster(name, ENGINES[n % 3]))
                if s == 200:
                    created.append(name)
            elif op == "update":
                name = f"load-{rnd.randrange(CLUSTERS)}"
                s, cur, ms1, _ = c.call("GET", f"{BASE}/{name}")
                if s != 200:
                    stats.add("update", s, ms1)
                    continue
                eng = cur["spec"]["engine"]
                if eng["type"] == "postgresql":
                    eng["replicas"] = 1 + (eng.get("replicas", 1) % 3)
                else:
                    eng["replicas"] = 3 if eng.get("replicas", 1) == 1 else 1
                eng.setdefault("resources", {})["memory"] = rnd.choice(["1G", "2G"])
                s, _, ms, _ = c.call("PUT", f"{BASE}/{name}", cur)
            elif op == "delete":
                if not created:
                    continue
                s, _, ms, _ = c.call("DELETE", f"{BASE}/{created.pop()}")
            elif op == "login":
                s, _, ms, _ = Client().call("POST", "/v1/session", {"username": "admin", "password": PASSWORD})
            else:  # events: open the live list, read its first message, close
                t0 = time.perf_counter()
                try:
                    conn = http.client.HTTPConnection(URL.hostname, URL.port, timeout=30)
                    conn.request("GET", "/v1/events/database-clusters", headers={"authorization": f"Bearer {token}"})
                    r = conn.getresponse()
                    s = r.status
                    if s == 200:
                        buf = b""
                        while b"\n\n" not in buf:
                            chunk = r.fp.read1(65536) if hasattr(r.fp, "read1") else r.read(1024)
                            if not chunk:
                                break
                            buf += chunk
                    conn.close()
                except Exception:
                    s = 0
                ms = (time.perf_counter() - t0) * 1000
            stats.add(op, s, ms)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CLIENTS)]
    [t.start() for t in threads]
    [t.join() for t in threads]


def kube():
    """A minimal client of the API server from $KUBECONFIG (the stack's admin token)."""
    import re
    text = open(os.environ["KUBECONFIG"]).read()
    server = re.search(r"server: (\S+)", text).group(1)
    ca = base64.b64decode(re.search(r"certificate-authority-data: (\S+)", text).group(1)).decode()
    token = re.search(r"token: (\S+)", text).group(1)
    ctx = ssl.create_default_context(cadata=ca)
    u = urllib.parse.urlparse(server)

    def get(path):
        conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=60)
        conn.request("GET", path, headers={"authorization": f"Bearer {token}"})
        r = conn.getresponse()
        return json.loads(r.read())
    return get


UPSTREAM = {
    "postgresql": "/apis/pgv2.percona.com/v2/namespaces/{ns}/perconapgclusters",
    "pxc": "/apis/pxc.percona.com/v1/namespaces/{ns}/perconaxtradbclusters",
    "psmdb": "/apis/psmdb.percona.com/v1/namespaces/{ns}/perconaservermongodbs",
}


def stale(token):
    """Clusters whose status is not ready while their upstream cluster is, after waiting CONVERGE s."""
    get = kube()
    c = Client(token)
    deadline = time.time() + CONVERGE
    while True:
        _, items, _ = list_items(c)
        upstream = {}
        for engine, path in UPSTREAM.items():
            for o in get(path.format(ns=NS)).get("items", []):
                state = (o.get("status") or {}).get("state") or (o.get("status") or {}).get("status") or ""
                upstream[o["metadata"]["name"]] = state
        behind = [d["metadata"]["name"] for d in items
                  if (d.get("status") or {}).get("status") != "ready" and upstream.get(d["metadata"]["name"]) == "ready"
                  and not d["metadata"].get("deletionTimestamp")]
        not_ready = [d["metadata"]["name"] for d in items if (d.get("status") or {}).get("status") != "ready"]
        if not not_ready or time.time() > deadline:
            return len(items), behind, not_ready
        time.sleep(3)


def main():
    token = login()
    stats = Stats()
    ready, setup_s = setup(token, stats)
    c = Client(token)
    for _ in range(LIST_SAMPLES):
        s, items, ms = list_items(c)
        stats.add(f"list_{CLUSTERS}", s, ms)
    log(f"list latency sampled; {CLIENTS} clients for {DURATION:.0f}s")
    rss_before = rss_mib()
    load_stats = Stats()
    t0 = time.time()
    mixed_load(token, load_stats)
    elapsed = time.time() - t0
    rss_after = rss_mib()
    log("load done; checking for stale statuses")
    total, behind, not_ready = stale(token)
    load = load_stats.summary()
    print(json.dumps({
        "benchmark": "load",
        "clusters": CLUSTERS,
        "clusters_ready_after_setup": ready,
        "setup_seconds": setup_s,
        "list": stats.summary(),
        "clients": CLIENTS,
        "duration_seconds": round(elapsed, 1),
        "requests": sum(v["count"] for v in load.values()),
        "requests_per_second": round(sum(v["count"] for v in load.values()) / elapsed, 1),
        "operations": load,
        "5xx": load_stats.count_5xx() + stats.count_5xx(),
        "no_answer": load_stats.count_no_answer() + stats.count_no_answer(),
        "cairn_rss_mib_before_load": rss_before[0],
        "cairn_rss_mib_after_load": rss_after[0],
        "cairn_rss_mib_peak": rss_after[1],
        "clusters_at_end": total,
        "stale_status": len(behind),
        "stale_names": behind[:20],
        "not_ready_at_end": len(not_ready),
        "converge_timeout_seconds": CONVERGE,
    }, indent=2, sort_keys=True))
    return 1 if behind else 0


if __name__ == "__main__":
    sys.exit(main())
