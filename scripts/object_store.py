#!/usr/bin/env python3
"""Real object storage on 127.0.0.1 for the sandbox and the tests: an S3 server (moto in server mode, with
signature checking switched on) and Azurite for Azure Blob.

Run with the Python of the venv scripts/bootstrap.sh makes ($CAIRN_CACHE/object-store-venv). It prints ONE
JSON line on standard output once both servers answer:

  {"s3": {"endpoint": "http://127.0.0.1:PORT", "region": "us-east-1", "accessKey": "...", "secretKey": "...",
          "buckets": [...]},
   "azure": {"endpoint": "http://127.0.0.1:PORT/devstoreaccount1", "account": "devstoreaccount1",
             "key": "...", "containers": [...]}}

and runs until its standard input closes (the caller holds it: when the caller dies, the servers go too),
or until SIGTERM/SIGINT.

Credentials: moto checks every request's SigV4 signature against an IAM user this script creates (access key
and secret are random per run), so a wrong key is refused as a real S3 refuses it. Azurite checks Shared Key
signatures against its well-known development account.
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's documented development key (public, the same in every Azurite install).
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_s3(buckets):
    from moto import settings
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    import boto3

    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Open while we set up the user and the buckets, then every request must be signed by that user.
    settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boot = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
    iam = boto3.client("iam", **boot)
    iam.create_user(UserName="cairn")
    iam.put_user_policy(
        UserName="cairn",
        PolicyName="all-s3",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}),
    )
    key = iam.create_access_key(UserName="cairn")["AccessKey"]
    s3 = boto3.client("s3", **boot)
    for b in buckets:
        s3.create_bucket(Bucket=b)
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    return server, {
        "endpoint": endpoint,
        "region": "us-east-1",
        "accessKey": key["AccessKeyId"],
        "secretKey": key["SecretAccessKey"],
        "buckets": buckets,
    }


def azure_request(method, url, account, key, headers=None, query=None):
    """A Shared Key signed request to the Blob service (what Azurite checks)."""
    headers = dict(headers or {})
    headers["x-ms-date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
    headers["x-ms-version"] = "2021-08-06"
    path = urllib.parse.urlparse(url).path
    canon_headers = "".join(f"{k}:{headers[k]}\n" for k in sorted(h for h in headers if h.startswith("x-ms-")))
    canon_resource = f"/{account}{path}" + "".join(f"\n{k}:{v}" for k, v in sorted((query or {}).items()))
    to_sign = "\n".join([method, "", "", "", "", "", "", "", "", "", "", ""]) + "\n" + canon_headers + canon_resource
    sig = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()).decode()
    headers["Authorization"] = f"SharedKey {account}:{sig}"
    q = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    req = urllib.request.Request(url + ("?" + q if q else ""), method=method, headers=headers)
    return urllib.request.urlopen(req, timeout=10)


def start_azure(azurite_bin, containers, workdir):
    port = free_port()
    proc = subprocess.Popen(
        [azurite_bin, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", workdir, "--silent", "--skipApiVersionCheck"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(workdir, "azurite.log"), "wb"),
    )
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    deadline = time.time() + 60
    while True:
        try:
            azure_request("GET", endpoint, AZURITE_ACCOUNT, AZURITE_KEY, query={"comp": "list"}).read()
            break
        except (urllib.error.URLError, ConnectionError):
            if proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"azurite did not start; see {workdir}/azurite.log")
            time.sleep(0.1)
    for c in containers:
        azure_request("PUT", f"{endpoint}/{c}", AZURITE_ACCOUNT, AZURITE_KEY, query={"restype": "container"}).read()
    return proc, {"endpoint": endpoint, "account": AZURITE_ACCOUNT, "key": AZURITE_KEY, "containers": containers}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bucket", action="append", default=[], help="S3 bucket to create (repeatable)")
    p.add_argument("--container", action="append", default=[], help="Azure Blob container to create (repeatable)")
    p.add_argument("--azurite", default=os.environ.get("CAIRN_AZURITE_BIN", ""), help="azurite-blob executable ('' = no Azure)")
    a = p.parse_args()
    t0 = time.time()
    server, s3 = start_s3(a.bucket or ["cairn-backups"])
    out = {"s3": s3}
    proc = None
    workdir = tempfile.mkdtemp(prefix="cairn-azurite.")
    if a.azurite:
        proc, out["azure"] = start_azure(a.azurite, a.container or ["cairn-backups"], workdir)
    out["startupSeconds"] = round(time.time() - t0, 2)
    print(json.dumps(out), flush=True)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    done.wait()
    if proc:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
    shutil.rmtree(workdir, ignore_errors=True)
    server.stop()


if __name__ == "__main__":
    main()
