#!/usr/bin/env python3
# SYNs wrapped the ways a gate must still see through, sent on a veth with
# scapy from the client namespace; prints one line per case, "NAME synack"
# when the server's kernel answered it with a SYN-ACK, "NAME none" when not.
#
#   fragsyn.py IFACE GW_MAC SRC4 DST4 SRC6 DST6 PORT CASE...
#
# Cases:
#   v4_two_fragments  an IPv4 SYN in two fragments, the first (offset 0, MF)
#                     carrying the whole TCP header; the kernel reassembles it
#   v6_atomic         an IPv6 SYN behind a fragment header with offset 0 and
#                     M clear (RFC 6946: processed as the whole packet)
#   v6_two_fragments  an IPv6 SYN in two fragments, the first with the header
#   v6_ext7, v6_ext9  an IPv6 SYN behind 7 / 9 destination-options headers
import sys
import time
import logging

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import (Ether, IP, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, TCP, Raw,  # noqa: E402
                       AsyncSniffer, sendp, conf)

conf.verb = 0
DATA = b"mailgate-frag-test-data-32bytes!"  # 32 bytes of SYN payload


def tcp_bytes(ip, sport, dport):
    """The TCP segment (header with MSS option, 24 bytes, and DATA) with the
    checksum over ip's pseudo header."""
    pkt = ip / TCP(sport=sport, dport=dport, flags="S", seq=1000 + sport,
                   options=[("MSS", 1460)]) / Raw(DATA)
    raw = bytes(pkt)
    return raw[len(bytes(ip)):] if IP in ip else raw[40:]


def frames(case, a, sport):
    eth = Ether(dst=a["mac"])
    if case == "v4_two_fragments":
        seg = tcp_bytes(IP(src=a["s4"], dst=a["d4"]), sport, a["port"])
        ident = 0x4000 + sport
        return [eth / IP(src=a["s4"], dst=a["d4"], id=ident, flags="MF", frag=0, proto=6) / Raw(seg[:24]),
                eth / IP(src=a["s4"], dst=a["d4"], id=ident, frag=3, proto=6) / Raw(seg[24:])]
    if case == "v6_atomic":
        return [eth / IPv6(src=a["s6"], dst=a["d6"]) / IPv6ExtHdrFragment(offset=0, m=0, id=0x6000 + sport) /
                TCP(sport=sport, dport=a["port"], flags="S", seq=1000 + sport)]
    if case == "v6_two_fragments":
        seg = tcp_bytes(IPv6(src=a["s6"], dst=a["d6"]), sport, a["port"])
        ident = 0x6100 + sport
        return [eth / IPv6(src=a["s6"], dst=a["d6"]) / IPv6ExtHdrFragment(nh=6, offset=0, m=1, id=ident) /
                Raw(seg[:24]),
                eth / IPv6(src=a["s6"], dst=a["d6"]) / IPv6ExtHdrFragment(nh=6, offset=3, m=0, id=ident) /
                Raw(seg[24:])]
    if case.startswith("v6_ext"):
        p = IPv6(src=a["s6"], dst=a["d6"])
        for _ in range(int(case[6:])):
            p = p / IPv6ExtHdrDestOpt()
        return [eth / p / TCP(sport=sport, dport=a["port"], flags="S", seq=1000 + sport)]
    raise SystemExit("unknown case " + case)


def main(argv):
    if len(argv) < 9:
        raise SystemExit(__doc__)
    iface, mac, s4, d4, s6, d6, port = argv[1:8]
    a = {"mac": mac, "s4": s4, "d4": d4, "s6": s6, "d6": d6, "port": int(port)}
    cases = argv[8:]
    sports = {case: 41000 + i for i, case in enumerate(cases)}
    got = set()

    def seen(p):
        if TCP in p and p[TCP].sport == a["port"] and (int(p[TCP].flags) & 0x12) == 0x12:
            got.add(p[TCP].dport)
        return False

    sn = AsyncSniffer(iface=iface, lfilter=seen, store=False)
    sn.start()
    time.sleep(0.5)
    for case in cases:
        sendp(frames(case, a, sports[case]), iface=iface)
    time.sleep(1.5)
    sn.stop()
    for case in cases:
        print(case, "synack" if sports[case] in got else "none")


if __name__ == "__main__":
    main(sys.argv)
