#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpora of tests/fuzz/fuzz_yaml.c and tests/fuzz/fuzz_etcd.c from the
Kubernetes manifests of the unit tests (the C string literals of tests/unit/test_k8s.c and
tests/unit/test_datastore.c): corpus_yaml/ gets each manifest as it is; corpus_etcd/ gets each
one as etcd 3.4's gateway sends it on /v3/watch under the prefix /podlane/ (a "created"
message, then a PUT event with base64 key and value; and a DELETE), one JSON message a line.

    tests/fuzz/make_corpus_k8s.py
"""
import base64
import hashlib
import json
import os
import re

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FUZZ = os.path.join(TOP, "tests", "fuzz")


def literals(path):
    src = open(path).read()
    # Runs of adjacent "..." literals ending in ';' that hold a manifest.
    for m in re.finditer(r'((?:"(?:[^"\\]|\\.)*"\s*)+);', src):
        parts = re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1))
        text = "".join(parts)
        if "kind:" not in text:
            continue
        yield text.encode().decode("unicode_escape")


def ident(text):
    kind = re.search(r"^kind:\s*(\S+)", text, re.M)
    name = re.search(r"name:\s*([A-Za-z0-9.-]+)", text)
    ns = re.search(r"namespace:\s*([A-Za-z0-9.-]+)", text)
    k = kind.group(1) if kind else "Service"
    n = name.group(1) if name else "x"
    if k == "Namespace":
        return "%s//%s" % (k, n)
    return "%s/%s/%s" % (k, ns.group(1) if ns else "default", n)


def b64(s):
    return base64.b64encode(s.encode()).decode()


def watch(text, rev):
    key = "/podlane/" + ident(text)
    hdr = {"cluster_id": "14841639068965178418", "member_id": "10276657743932975437",
           "revision": str(rev), "raft_term": "2"}
    created = {"result": {"header": hdr, "created": True}}
    put = {"result": {"header": hdr, "events": [{"kv": {
        "key": b64(key), "create_revision": str(rev), "mod_revision": str(rev),
        "version": "1", "value": b64(text)}}]}}
    dele = {"result": {"header": hdr, "events": [{"type": "DELETE", "kv": {
        "key": b64(key), "mod_revision": str(rev + 1)}}]}}
    return "\n".join(json.dumps(x, separators=(",", ":")) for x in (created, put, dele)) + "\n"


texts = []
for f in ("test_k8s.c", "test_datastore.c"):
    p = os.path.join(TOP, "tests", "unit", f)
    if os.path.exists(p):
        texts += list(literals(p))
texts = list(dict.fromkeys(texts))[:40]
for d in ("corpus_yaml", "corpus_etcd"):
    os.makedirs(os.path.join(FUZZ, d), exist_ok=True)
for i, t in enumerate(texts):
    h = hashlib.sha1(t.encode()).hexdigest()[:12]
    open(os.path.join(FUZZ, "corpus_yaml", "unit_" + h), "w").write(t)
    open(os.path.join(FUZZ, "corpus_etcd", "watch_" + h), "w").write(watch(t, 100 + i))
# The stream's other messages, as etcd words them.
extra = {
    "compacted": {"result": {"header": {"revision": "90"}, "canceled": True,
                             "compact_revision": "80"}},
    "canceled": {"result": {"header": {"revision": "90"}, "canceled": True,
                            "cancel_reason": "etcdserver: mvcc: required revision is a future revision"}},
    "error": {"error": {"grpc_code": 14, "http_code": 503, "message": "etcdserver: no leader",
                        "http_status": "Service Unavailable"}},
}
for name, msg in extra.items():
    open(os.path.join(FUZZ, "corpus_etcd", name), "w").write(json.dumps(msg) + "\n")
print(len(texts), "manifests")
