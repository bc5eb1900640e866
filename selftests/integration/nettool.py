#!/usr/bin/python3
"""Small network and map tools for the integration tests (see lib.sh).

  nettool.py probe SRC DST PORT [TIMEOUT]          one connect: ok | refused | timeout, and the seconds it took
  nettool.py burst SRC DST PORT COUNT [TIMEOUT] [GAP_MS]
                                                   COUNT connects started GAP_MS apart (default 0), each
                                                   given TIMEOUT: "ok=N refused=N timeout=N elapsed=S seq=oort..."
                                                   (elapsed: first start to last start)
  nettool.py hop SRCS DST PORT [TIMEOUT]           one connect from each comma-separated source, like burst
  nettool.py watch SRC DST PORT SECONDS            a connect every 100 ms for SECONDS: "ok=N refused=N timeout=N"
  nettool.py hold SRC DST PORT COUNT               open COUNT connections, print "ok=N", hold them until killed
  nettool.py listen PORT[:hold]...                 on [::] (IPv4 too), until killed: accept and close at once,
                                                   or (:hold) keep each connection until the client closes it
  nettool.py notify PATH                           print what is sent to a systemd-like notify socket at PATH
  nettool.py counters GATE_H                       bpftool's JSON dump of mg_counters on stdin ->
                                                   "reason total" lines, summed over CPUs and classes
  nettool.py lpm CIDR | addr ADDR                  bpftool key bytes of an mg_lpm_key / mg_addr
  nettool.py rule CIDR TTL_S | ban TTL_S           bpftool value bytes of an mg_rule / mg_ban (TTL 0 = never)

A timeout must stay under a second: the client's TCP retransmits a dropped
SYN after one second, and the retransmission is judged again.
"""
import errno
import ipaddress
import json
import re
import select
import socket
import struct
import sys
import time

ORIGIN_CLI = 0


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def start(src, dst, port):
    s = socket.socket(family(dst), socket.SOCK_STREAM)
    s.setblocking(False)
    s.bind((src, 0))
    err = s.connect_ex((dst, port))
    if err not in (0, errno.EINPROGRESS):
        s.close()
        return None, err
    return s, None


def run(starts, gap, timeout):
    """Start one connect per item of starts (a list of (src, dst, port)),
    gap seconds apart; each gets timeout seconds to finish. Returns one
    letter per connect: o(k), r(efused), t(imeout), e(rror), and the seconds
    from the first start to the last."""
    res, pending = [], {}
    t0 = nxt = last = time.monotonic()
    i = 0
    while i < len(starts) or pending:
        now = time.monotonic()
        while i < len(starts) and now >= nxt:
            s, err = start(*starts[i])
            res.append("t" if s else ("r" if err == errno.ECONNREFUSED else "e"))
            if s:
                pending[s] = (i, now + timeout)
            i += 1
            last = now
            nxt = t0 + i * gap
        for s, (_, deadline) in list(pending.items()):
            if now >= deadline:
                s.close()
                del pending[s]
        wake = [d for _, d in pending.values()] + ([nxt] if i < len(starts) else [])
        if not wake:
            break
        _, w, _ = select.select([], list(pending), [], max(0.0, min(wake) - now))
        for s in w:
            idx, _ = pending.pop(s)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            res[idx] = "o" if err == 0 else ("r" if err == errno.ECONNREFUSED else "e")
            s.close()
    return "".join(res), last - t0


def summary(seq, elapsed):
    return "ok=%d refused=%d timeout=%d elapsed=%.3f seq=%s" % (
        seq.count("o"), seq.count("r"), seq.count("t"), elapsed, seq)


def cmd_probe(src, dst, port, timeout="0.5"):
    t0 = time.monotonic()
    seq, _ = run([(src, dst, int(port))], 0, float(timeout))
    print({"o": "ok", "r": "refused", "t": "timeout"}.get(seq, "error"), "%.3f" % (time.monotonic() - t0))


def cmd_burst(src, dst, port, count, timeout="0.9", gap_ms="0"):
    print(summary(*run([(src, dst, int(port))] * int(count), float(gap_ms) / 1000, float(timeout))))


def cmd_hop(srcs, dst, port, timeout="0.9"):
    print(summary(*run([(src, dst, int(port)) for src in srcs.split(",")], 0, float(timeout))))


def cmd_watch(src, dst, port, seconds):
    n = int(float(seconds) / 0.1)
    seq, _ = run([(src, dst, int(port))] * n, 0.1, 0.09)
    print("ok=%d refused=%d timeout=%d" % (seq.count("o"), seq.count("r"), seq.count("t")))


def cmd_hold(src, dst, port, count):
    """Open COUNT connections, print "ok=N", keep them open until killed."""
    socks = []
    for _ in range(int(count)):
        s = socket.socket(family(dst), socket.SOCK_STREAM)
        s.bind((src, 0))
        s.settimeout(0.9)
        try:
            s.connect((dst, int(port)))
            socks.append(s)
        except OSError:
            s.close()
    print("ok=%d" % len(socks), flush=True)
    while True:
        time.sleep(60)


def cmd_listen(*ports):
    """PORT accepts and closes at once; PORT:hold keeps each connection open
    until the client closes it."""
    listeners, held = {}, set()
    for p in ports:
        num, _, mode = p.partition(":")
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", int(num)))
        s.listen(1024)
        listeners[s] = mode == "hold"
    print("listening", flush=True)
    while True:
        r, _, _ = select.select(list(listeners) + list(held), [], [])
        for s in r:
            if s in listeners:
                c, _ = s.accept()
                if listeners[s]:
                    held.add(c)
                else:
                    c.close()
            else:
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    held.discard(s)
                    s.close()


def cmd_notify(path):
    """A stand-in for systemd's notify socket: print each datagram on one line."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    print("listening", flush=True)
    while True:
        print(s.recv(4096).decode(errors="replace").replace("\n", " ").strip(), flush=True)


def cmd_counters(gate_h):
    text = open(gate_h).read()
    reasons = re.findall(r'X\((\w+),\s*"(\w+)"\)', text.split("#define MG_REASONS")[1].split("enum mg_reason")[0])
    nclass = len(re.findall(r'X\(\w+, "\w+"\)', text.split("#define MG_CLASSES")[1].split("enum mg_class")[0]))
    totals = [0] * len(reasons)
    for e in json.load(sys.stdin):
        key = e.get("key")
        key = int.from_bytes(bytes(int(b, 16) for b in key), "little") if isinstance(key, list) else int(key)
        vals = e.get("values") or e.get("formatted", {}).get("values", [])
        s = 0
        for v in vals:
            x = v.get("value")
            s += int.from_bytes(bytes(int(b, 16) for b in x), "little") if isinstance(x, list) else int(x)
        if key // nclass < len(totals):
            totals[key // nclass] += s
    for (_, name), t in zip(reasons, totals):
        print(name, t)


def hexbytes(b):
    return " ".join("%02x" % c for c in b)


def mapped(addr):
    a = ipaddress.ip_address(addr)
    if a.version == 4:
        return b"\0" * 10 + b"\xff\xff" + a.packed, 96
    return a.packed, 0


def lpm(cidr):
    net = ipaddress.ip_network(cidr, strict=True)
    raw, extra = mapped(str(net.network_address))
    return struct.pack("<I", net.prefixlen + extra) + raw, net.prefixlen + extra


def boot_ns():
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME)


def expiry(ttl_s):
    return boot_ns() + int(float(ttl_s) * 1e9) if float(ttl_s) else 0


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "lpm":
        print(hexbytes(lpm(args[0])[0]))
    elif cmd == "addr":
        print(hexbytes(mapped(args[0])[0]))
    elif cmd == "rule":
        print(hexbytes(struct.pack("<QIIII", expiry(args[1]), lpm(args[0])[1], ORIGIN_CLI, 0, 0)))
    elif cmd == "ban":
        print(hexbytes(struct.pack("<QQII", expiry(args[0]), boot_ns(), ORIGIN_CLI, 0)))
    else:
        globals()["cmd_" + cmd](*args)


if __name__ == "__main__":
    main(sys.argv)
