#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# TCP transfer with content verification for the node tests.
#   tcp_xfer.py serve ADDR PORT OUTFILE   accept one connection; write "<bytes> <sha256>" to
#                                         OUTFILE when the peer closes (OUTFILE.tmp, renamed)
#   tcp_xfer.py send ADDR PORT BYTES SEED send BYTES of a deterministic stream; print
#                                         "<bytes> <sha256>" of what was sent
import hashlib
import os
import random
import socket
import sys

CHUNK = 65536


def serve(addr, port, out):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(1)
    s.settimeout(300)
    c, _ = s.accept()
    c.settimeout(300)
    h = hashlib.sha256()
    n = 0
    while True:
        b = c.recv(CHUNK)
        if not b:
            break
        h.update(b)
        n += len(b)
    c.close()
    with open(out + ".tmp", "w") as f:
        f.write(f"{n} {h.hexdigest()}\n")
    os.rename(out + ".tmp", out)


def send(addr, port, total, seed):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    rnd = random.Random(int(seed))
    block = rnd.randbytes(CHUNK)
    s = socket.create_connection((addr, int(port)), timeout=300)
    h = hashlib.sha256()
    left = int(total)
    i = 0
    while left > 0:
        # vary the content so a misplaced segment changes the digest
        b = bytes([i & 0xFF]) + block[1:]
        b = b[: min(left, CHUNK)]
        s.sendall(b)
        h.update(b)
        left -= len(b)
        i += 1
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    s.close()
    print(f"{int(total)} {h.hexdigest()}")


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(*sys.argv[2:5])
    elif sys.argv[1] == "send":
        send(*sys.argv[2:6])
    else:
        sys.exit("usage: tcp_xfer.py serve ADDR PORT OUTFILE | send ADDR PORT BYTES SEED")
