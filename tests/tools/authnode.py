#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A stand-in controller and edge node for testing clients of docs/protocol.md 3.5 and 7.5,
written from the spec alone with Python's ssl and the `cryptography` package's AESGCM: an
implementation independent of userspace/common/auth.c and enroll.c, so a client that
passes against it agrees with the spec, not only with itself.

- Enrollment (7.5): TLS 1.3 only, the client's certificate required and verified against
  --ca; OU = role, O = tenant, CN = name. A role in ROLES gets {"ok":true, "key":{...},
  "renew_after_ms":..., "ttl_ms":...} with a fresh random key; any other role gets
  {"ok":false,"error":...}.
- The node (3.5): every datagram must be AUTH under a known key with sender 0, a tag that
  verifies, a counter not seen before, the key's tenant, a type and priority the role
  allows; what fails is dropped without a word and counted. A one-fragment REQUEST of
  type 1 (echo) or 2 (checksum: the payload's length) is answered with a RESPONSE sealed
  with sender --node-id and a counter from the realtime clock in ns.
- --corrupt-every N flips a bit of the tag of every Nth reply; --forge-errors sends an
  unauthenticated ERROR (OVERLOADED) before every reply, as an off-path attacker would.
- SIGTERM writes the counters as JSON to --stats.
"""
import argparse
import json
import os
import signal
import socket
import ssl
import struct
import sys
import threading
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HDR = struct.Struct(">HBBBBHIHHHHIQIIIBBH16s")  # struct ep_hdr, 64 bytes
AUTH, ZSTD, RETRY = 0x02, 0x01, 0x04
REQUEST, RESPONSE, ERROR = 0x01, 0x02, 0x03
CTR_MASK = (1 << 40) - 1
ROLES = {
    "camera": {"types": [1, 2], "max_priority": 5},
    "narrow": {"types": [2], "max_priority": 3},
}

lock = threading.Lock()
keys = {}  # key id -> {"aead", "tenant", "role", "seen": set of counters}
stats = {"enrolled": 0, "refused": 0, "opened": 0, "replied": 0, "plain": 0,
         "unknown_key": 0, "bad_sender": 0, "bad_tag": 0, "replay": 0, "tenant": 0,
         "role": 0, "unsupported": 0, "key_ids": []}
next_key_id = [1]
node_pn = [time.time_ns()]


def log(*a):
    print("authnode:", *a, file=sys.stderr, flush=True)


def limits_of(role):
    r = ROLES[role]
    return {"types": r["types"], "max_priority": r["max_priority"], "tasks_per_s": 0,
            "burst_tasks": 0, "kib_per_s": 0, "burst_kib": 0, "max_task_len": 0}


def add_key(obj):
    with lock:
        keys[obj["key_id"]] = {"aead": AESGCM(bytes.fromhex(obj["key"])),
                               "tenant": obj["tenant"], "limits": obj["limits"],
                               "seen": set()}


def subject(cert):
    out = {}
    for rdn in cert.get("subject", ()):
        for k, v in rdn:
            out[k] = v
    return out


def serve_enroll(conn, args):
    f = conn.makefile("rwb")
    line = f.readline(65536)
    req = json.loads(line)
    subj = subject(conn.getpeercert())
    role, name, tenant = subj.get("organizationalUnitName"), subj.get("commonName"), \
        subj.get("organizationName")
    if req.get("op") != "enroll" or role not in ROLES:
        with lock:
            stats["refused"] += 1
        f.write((json.dumps({"ok": False,
                             "error": 'role "%s" is not in the policy' % role}) + "\n").encode())
        f.flush()
        return
    now = int(time.time() * 1000)
    with lock:
        kid = next_key_id[0]
        next_key_id[0] += 1
        stats["enrolled"] += 1
    obj = {"key_id": kid, "key": os.urandom(16).hex(), "issued_unix_ms": now,
           "expires_unix_ms": now + args.ttl_ms, "name": name, "role": role,
           "tenant": int(tenant), "revoked": False, "limits": limits_of(role)}
    add_key(obj)
    f.write((json.dumps({"ok": True, "key": obj, "renew_after_ms": args.renew_ms,
                         "ttl_ms": args.ttl_ms}) + "\n").encode())
    f.flush()


def enroll_server(ls, args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(args.cert, args.key)
    ctx.load_verify_locations(args.ca)
    while True:
        s, _ = ls.accept()
        try:
            with ctx.wrap_socket(s, server_side=True) as conn:
                serve_enroll(conn, args)
        except (ssl.SSLError, OSError, ValueError) as e:
            with lock:
                stats["refused"] += 1
            log("enrollment failed:", e)


def count(what):
    with lock:
        stats[what] += 1


def seal(hdr, plain, aead, node_id):
    """The datagram of @hdr (a tuple for HDR, tag zero) and @plain, sealed by the node."""
    node_pn[0] += 1
    nonce = struct.pack(">IQ", node_id, node_pn[0])
    aad = HDR.pack(*hdr)
    ct = aead.encrypt(nonce, plain, aad)
    h = list(hdr)
    h[-1] = ct[-16:]
    return HDR.pack(*h) + nonce + ct[:-16]


def on_dgram(sock, d, peer, args, n_replies):
    if len(d) < HDR.size:
        return
    (magic, ver, kind, prio, flags, ttype, tenant, plen, status, fidx, fcount, total, tid,
     foff, hint, deadline, load, rmtu, kid, tag) = HDR.unpack(d[:HDR.size])
    if magic != 0x4550 or ver != 1 or plen != len(d) - HDR.size:
        return
    if not flags & AUTH or plen < 12:
        return count("plain")
    with lock:
        k = keys.get(kid)
    if not k:
        return count("unknown_key")
    sender, pn = struct.unpack(">IQ", d[64:76])
    if sender != 0:
        return count("bad_sender")
    aad = d[:48] + bytes(16)
    try:
        plain = k["aead"].decrypt(d[64:76], d[76:] + tag, aad)
    except InvalidTag:
        return count("bad_tag")
    with lock:
        if pn & CTR_MASK in k["seen"]:
            stats["replay"] += 1
            return
        k["seen"].add(pn & CTR_MASK)
        stats["opened"] += 1
        if kid not in stats["key_ids"]:
            stats["key_ids"].append(kid)
    if tenant != k["tenant"]:
        return count("tenant")
    lim = k["limits"]
    if kind == REQUEST and ((lim["types"] != "*" and ttype not in lim["types"]) or
                            prio > lim["max_priority"]):
        return count("role")
    if kind != REQUEST or fcount != 1 or ttype not in (1, 2):
        return count("unsupported")
    if ttype == 1:
        result, rflags = plain, AUTH | (flags & ZSTD)
    else:
        result, rflags = struct.pack(">I", len(plain)), AUTH
    if args.forge_errors:
        forged = HDR.pack(0x4550, 1, ERROR, prio, 0, ttype, tenant, 0, 5, 0, 1, 0, tid, 0,
                          0, 0, 0, 0, 0, bytes(16))
        sock.sendto(forged, peer)
    hdr = (0x4550, 1, RESPONSE, prio, rflags, ttype, tenant, 12 + len(result), 0, 0, 1,
           len(result), tid, 0, 1, 1, 0, 0, kid, bytes(16))
    out = bytearray(seal(hdr, result, k["aead"], args.node_id))
    n_replies[0] += 1
    if args.corrupt_every and n_replies[0] % args.corrupt_every == 0:
        out[50] ^= 0x01
    sock.sendto(bytes(out), peer)
    count("replied")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--udp", required=True, help="ADDR:PORT of the node")
    p.add_argument("--enroll", help="ADDR:PORT of the enrollment server")
    p.add_argument("--cert"), p.add_argument("--key"), p.add_argument("--ca")
    p.add_argument("--keys", help="a key object, or a list of them, the node knows")
    p.add_argument("--ttl-ms", type=int, default=3600000)
    p.add_argument("--renew-ms", type=int, default=2400000)
    p.add_argument("--node-id", type=int, default=7)
    p.add_argument("--corrupt-every", type=int, default=0)
    p.add_argument("--forge-errors", action="store_true")
    p.add_argument("--stats", required=True)
    args = p.parse_args()

    if args.keys:
        with open(args.keys) as f:
            objs = json.load(f)
        for o in objs if isinstance(objs, list) else [objs]:
            add_key(o)
    host, port = args.udp.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, int(port)))

    def stop(*_):
        with lock, open(args.stats + ".tmp", "w") as f:
            json.dump(stats, f)
        os.rename(args.stats + ".tmp", args.stats)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    if args.enroll:
        host, port = args.enroll.rsplit(":", 1)
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((host, int(port)))
        ls.listen(16)
        threading.Thread(target=enroll_server, args=(ls, args), daemon=True).start()
    log("ready")
    n_replies = [0]
    while True:
        d, peer = sock.recvfrom(65536)
        on_dgram(sock, d, peer, args, n_replies)


if __name__ == "__main__":
    main()
