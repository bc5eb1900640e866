#!/usr/bin/env bash
# mailgate benchmark: one run, side by side, same lab, same flood.
#
#   scripts/bench.sh [--quick] [--out DIR]      (make bench; results in bench/results/)
#
# The lab: three network namespaces it creates and removes, documentation
# addresses only. "gen" (2001:db8::2) is the internet: the generator
# (mailgate synflood, pinned to CPU 0) and the legitimate clients
# (2001:db8:1::/64 verified before the flood, 2001:db8:2::/64 new). "srv"
# (2001:db8::1) is the mail server: an SMTP listener on port 25 and the
# filter under test. Between them "wire" joins its two
# veths with an XDP redirect (sink_wire), so that the flood and the
# clients' packets reach srv the same way, through one ring that overflows
# when the filter cannot keep up, as a NIC's does (without it a veth would
# hand the clients' TCP to srv's backlog and let it bypass the flood
# whenever srv has no XDP program). The flood: SYNs to port 25 from random
# sources in 2001:db8:8000::/33, bounded by --duration.
#
# 1. data-path cost: .output/selftests/bench_gate (per packet vs bare XDP_DROP),
#    and the flood path on one and on two CPUs at once (bench_flood_cpus),
#    and a refused SYN while a `top` watches (bench_top)
# 2. flood absorption, full rate, generator and srv's NAPI on one core:
#    frames/s srv's veth takes in (its rx packet counter: every frame NAPI
#    processed, whatever came of it) for
#    (a) bare XDP_DROP, (a2) an XDP program that parses the headers and
#    drops, (b) mailgate, (c) nftables netdev ingress (the same deny list, a
#    per-source meter), (d) no filter (SYN cookies, a listener on 25).
# 3. service under flood, an open loop: while a paced flood runs, the
#    clients open real SMTP connections (verified clients again and again,
#    new sources once each): success rate and connect latency p50/p99 for
#    (b) (c) (d), on a ladder of paced floods (AF_PACKET: 10k, 30k, 100k,
#    300k, 1M/s; what the generator achieves is recorded, rungs it fell
#    short of are marked); not at full rate with live frames: mailgate's
#    cookie SYN-ACKs (XDP_TX, rewritten in place) go back into the
#    generator's pages. The report names each filter's highest rung at
#    >= 99% verified and >= 95% new, and what mailgate decided at each (its
#    counters, why flood mode engaged, cookie handshakes), and per rung srv's
#    ring drops, the clients' lost SYNs and how each CPU was spent. The
#    forged range is routed to a blackhole in gen.
#
# The CPU layout of the service phase, and why. A real server's NIC fills
# its ring at times that have nothing to do with the server's CPU, and its
# softirq preempts any task at once. So:
#   RX_CPU (1), the server's receive CPU: srv's veth NAPI in a thread,
#     SCHED_FIFO 50 (it preempts ordinary tasks, as softirq does), woken by
#     a 20 us coalescing timer (gro_flush_timeout, napi_defer_hard_irqs)
#     while frames keep coming, as a NIC's interrupt moderation does: woken
#     by every sender instead, it costs the generator an IPI per wakeup in
#     this VM (measured: 105-190 kpps instead of 230). srv's transmit runs
#     there too (the wire's end WV, in softirq: replies and XDP_TX cookies,
#     what a NIC's TX ring costs its CPU). No other task of the lab.
#   LAB_CPU (0), the internet: the generator (SCHED_FIFO 10: a steady flood
#     whatever else the machine runs), the wire's way in (WG, in softirq of
#     each sender), and above the generator, SCHED_FIFO 20, the clients,
#     their stack's NAPI thread (VG) and the SMTP server (a mail server's
#     processes run where its receive path leaves room; above the
#     generator, it never delays them), the helpers.
# Measured, not assumed: per rung the NAPI threads' CPU, policy and share,
# NET_RX softirqs raised per CPU, ring drops at each veth (snap below).
# What this lab cannot do: with one CPU for the flood and the clients, a
# client's SYN enters the ring only after the generator yielded the CPU
# to it, i.e. when the ring has room; above the server's capacity (the
# ring full but for microseconds after each frame taken) the clients lose
# far fewer SYNs than the flood loses frames (no filter at 230 kpps: 43% of
# the frames, 0% of the clients' SYNs). The report shows both. Clients on
# RX_CPU above its NAPI (BENCH_CLIENTS=rx) err the other way (they stop
# the consumer before each SYN: 46% of frames, 60% of SYNs), and cost the
# server CPU; clients on RX_CPU below it run only when the ring is empty
# (100% for every filter at every rung). Below a filter's capacity the ring overflows only
# in stalls of RX_CPU (milliseconds), which the clients meet at random.
# Output: DIR/latest.md, DIR/latest.json (every figure, machine facts),
# DIR/latest.png (gnuplot).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUTPUT:-.output}
MG=$PWD/$OUT/mailgate
GATE=$PWD/$OUT/selftests/bench_synflood
SINK=$PWD/$OUT/sink.bpf.o
DPBENCH=$PWD/$OUT/selftests/bench_gate
CPUBENCH=$PWD/$OUT/selftests/bench_flood_cpus
TOPBENCH=$PWD/$OUT/selftests/bench_top
SMTP="python3 $PWD/scripts/bench_smtp.py"

quick=0
results=bench/results
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--out) results=${2:?--out needs a directory}; shift ;;
	-h|--help) sed -n '2,72p' "$0"; exit 0 ;;
	*) echo "bench: unknown option '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done

if [ $quick = 1 ]; then # every scenario, briefly, with small maps (they load faster)
	ABS_SECS=1 SVC_SECS=2 TIMEOUT=2 N_CLIENTS=5 N_NEW=10 N_DENY=100 N_VERIFIED=1000 MAX_SOURCES=65536
	LEVELS="300k"
else
	ABS_SECS=3 SVC_SECS=8 TIMEOUT=3 N_CLIENTS=20 N_NEW=40 N_DENY=1000 N_VERIFIED=100000 MAX_SOURCES=1000000
	LEVELS="10k 30k 100k 300k 1M" # the open-loop ladder, paced (AF_PACKET); 1M: the generator's maximum here
fi
# a part of the ladder only (to look into one rung), with --out elsewhere:
# BENCH_LEVELS="300k" BENCH_FILTERS="mailgate" BENCH_ONLY=service
LEVELS=${BENCH_LEVELS:-$LEVELS}
FILTERS=${BENCH_FILTERS:-"mailgate nftables none"}
ONLY=${BENCH_ONLY:-}

die() { echo "bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, XDP)"
for f in "$MG" "$GATE" "$SINK"; do [ -e "$f" ] || die "$f missing: run make first"; done
for c in ip nsenter nft ethtool gnuplot python3 taskset chrt; do
	command -v $c >/dev/null || die "$c missing: scripts/install-deps.sh bench"
done
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

S=$$
G=mgt-bg-$S W=mgt-bw-$S V=mgt-bs-$S PIN=/sys/fs/bpf/mgt-bench-$S
VG=mgtbg$S WG=mgtbwg$S WV=mgtbwv$S VS=mgtbs$S
WORK=$(mktemp -d /tmp/mgt-bench-$S.XXXXXX)
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	for ns in $G $W $V; do ip netns del $ns 2>/dev/null || true; done
	rm -rf "$PIN" "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# leftovers of runs that died: their pid is gone
for ns in $(ip netns list 2>/dev/null | grep -oE '^mgt-b[gws]-[0-9]+'); do
	kill -0 "${ns##*-}" 2>/dev/null || ip netns del "$ns" 2>/dev/null || true
done
for d in /sys/fs/bpf/mgt-bench-*; do
	[ -d "$d" ] && ! kill -0 "${d##*-}" 2>/dev/null && rm -rf "$d"
done

T0=$SECONDS
log() { printf 'bench: [%3ds] %s\n' $((SECONDS - T0)) "$*" >&2; }
ncpu=$(nproc)
# the CPU layout (the header): RX_CPU receives for srv, LAB_CPU runs the rest
LAB_CPU=0
RX_CPU=$(( ncpu > 1 ? 1 : 0 ))
[ $ncpu -gt 1 ] || log "one CPU: the service phase shares it between the lab and srv's receive path"
ON_LAB="taskset -c $LAB_CPU"
ON_LAB_RT="taskset -c $LAB_CPU chrt -f 20"
# BENCH_CLIENTS=rx: the clients and their stack's NAPI thread on RX_CPU
# above srv's NAPI instead (SCHED_FIFO 60), to see the other side of the
# serialisation (the header)
if [ "${BENCH_CLIENTS:-lab}" = rx ]; then
	ON_CLI="taskset -c $RX_CPU chrt -f 60" CLI_CPU=$RX_CPU CLI_PRIO=60
else
	ON_CLI=$ON_LAB_RT CLI_CPU=$LAB_CPU CLI_PRIO=20
fi

# ---- the lab ----
for ns in $G $W $V; do
	ip netns add $ns
	ip -n $ns link set lo up
done
ip link add $VG netns $G type veth peer name $WG netns $W
ip link add $WV netns $W type veth peer name $VS netns $V
ip -n $G addr add 2001:db8::2/64 dev $VG nodad
ip -n $V addr add 2001:db8::1/64 dev $VS nodad
for i in $(seq 1 $N_CLIENTS); do ip -n $G addr add 2001:db8:1::$(printf %x $i)/128 dev $VG nodad; done
for i in $(seq 1 $N_NEW); do ip -n $G addr add 2001:db8:2::$(printf %x $i)/128 dev $VG nodad; done
for l in "$G $VG" "$W $WG" "$W $WV" "$V $VS"; do set -- $l; ip -n $1 link set $2 up; done
ip -n $V -6 route add default via 2001:db8::2
# replies to the forged sources (SYN-ACKs, cookies) end in a blackhole, as
# on the internet they cost the server nothing more: the wire drops them
# (below), and gen routes the range to a blackhole too (without it they
# would take the ICMPv6 unreachable path in gen and cap the flood)
ip -n $G -6 route add blackhole 2001:db8:8000::/33
ip netns exec $V sysctl -qw net.ipv4.tcp_syncookies=1 net.core.somaxconn=4096 \
	net.ipv4.tcp_max_syn_backlog=4096
# the ends of the wire take XDP-redirected frames only with NAPI on: GRO
# turns it on without an XDP program
for l in "$G $VG" "$V $VS"; do
	set -- $l
	ip netns exec $1 ethtool -K $2 gro on >/dev/null
	# an XDP redirect carries bytes, not the promise of a checksum to fill
	# in: the stacks at the ends must checksum their TCP themselves
	ip netns exec $1 ethtool -K $2 tx off >/dev/null
done
# NAPI of the lab's veths (the layout: the header). 0: each in softirq on
# the CPU that raised it (srv's on the generator's: the closed loop of the
# absorption runs). 1: the service phase: srv's in a thread of its own,
# real-time, on RX_CPU, woken by a coalescing timer while frames keep
# coming (as a NIC's interrupt moderation does) rather than by every
# sender's wakeup (an IPI, which in this VM costs the sender); gen's (the
# clients' stack) in a thread on LAB_CPU with the clients. The wire's two
# ends stay in softirq: WG's on LAB_CPU (every sender's), WV's on RX_CPU
# (srv's transmit: what a NIC's TX ring costs its CPU)
napi_pid() { ps -eo pid,comm | awk -v d="napi/$1-" 'index($2, d) == 1 {print $1}' | head -n 1; }
RX_COALESCE_NS=20000 RX_DEFER=2
napi_set() { # $1 ns, $2 dev, $3 cpu, $4 FIFO priority
	local p
	ip netns exec $1 sh -c "echo 1 > /sys/class/net/$2/threaded"
	p=$(napi_pid $2)
	[ -n "$p" ] || die "no NAPI thread for $2"
	taskset -pc $3 $p >/dev/null
	chrt -f -p $4 $p
}
napi_threaded() {
	local l
	if [ "$1" = 0 ]; then
		for l in "$V $VS" "$G $VG"; do
			set -- $l
			ip netns exec $1 sh -c "echo 0 > /sys/class/net/$2/threaded"
		done
		ip netns exec $V sh -c "echo 0 > /sys/class/net/$VS/gro_flush_timeout; echo 0 > /sys/class/net/$VS/napi_defer_hard_irqs"
		napi=
		return 0
	fi
	napi_set $V $VS $RX_CPU 50
	ip netns exec $V sh -c "echo $RX_COALESCE_NS > /sys/class/net/$VS/gro_flush_timeout; echo $RX_DEFER > /sys/class/net/$VS/napi_defer_hard_irqs"
	napi_set $G $VG $CLI_CPU $CLI_PRIO
	napi=$(napi_pid $VS)
}
nsenter --net=/run/netns/$W $ON_LAB "$GATE" wire $WG $WV 2001:db8:8000::/33 >"$WORK/wire.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do grep -q ready "$WORK/wire.out" && break; sleep 0.1; done
grep -q ready "$WORK/wire.out" || die "the wire did not start: $(cat "$WORK/wire.out")"
SRV_MAC=$(ip -n $V -br link show dev $VS | awk '{print $3}')
# the clients' neighbour entry for srv, resolved for real
ip netns exec $G python3 -c "import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(b'x', ('2001:db8::1', 9))"

# ---- the filters: on / off ----
filter_on() {
	case $1 in
	xdp_drop) ip -n $V link set dev $VS xdpdrv obj "$SINK" program sink_drop ;;
	xdp_parse) ip -n $V link set dev $VS xdpdrv obj "$SINK" program sink_count ;;
	mailgate)
		nsenter --net=/run/netns/$V $ON_LAB "$GATE" gate -i $VS --pin-dir $PIN --verified $N_VERIFIED \
			--deny $N_DENY --max-sources $MAX_SOURCES --flood-action $FLOOD_ACTION \
			>"$WORK/gate.out" 2>"$WORK/gate.err" &
		GATE_PID=$!
		PIDS+=($GATE_PID)
		for _ in $(seq 300); do grep -q ready "$WORK/gate.out" && break; sleep 0.1; done
		grep -q ready "$WORK/gate.out" || die "the gate did not start: $(cat "$WORK/gate.err")"
		;;
	nftables) python3 - "$VS" "$N_DENY" "$MAX_SOURCES" >"$WORK/nft.rules" <<'EOF'
import sys
dev, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
deny = ", ".join(f"2001:db8:fe{i >> 16:02x}:{i & 0xffff:x}::/64" for i in range(n))
print(f"""table netdev mgbench {{
	set deny6 {{ type ipv6_addr; flags interval; elements = {{ {deny} }} }}
	set persrc6 {{ type ipv6_addr; size {size}; flags dynamic,timeout; timeout 60s; }}
	set persrc4 {{ type ipv4_addr; size {size}; flags dynamic,timeout; timeout 60s; }}
	chain ingress {{
		type filter hook ingress device "{dev}" priority -500; policy accept;
		ip6 saddr @deny6 drop
		tcp dport {{ 25, 465, 587, 110, 995, 143, 993 }} tcp flags & (syn | ack) == syn add @persrc6 {{ ip6 saddr limit rate over 10/second burst 20 packets }} drop
		tcp dport {{ 25, 465, 587, 110, 995, 143, 993 }} tcp flags & (syn | ack) == syn add @persrc4 {{ ip saddr limit rate over 10/second burst 20 packets }} drop
	}}
}}""")
EOF
		ip netns exec $V nft -f "$WORK/nft.rules" ;;
	none) ;;
	esac
}

filter_off() { # $1 scenario, $2 file for what the filter says about itself
	case $1 in
	xdp_drop|xdp_parse) ip -n $V link set dev $VS xdpdrv off ;;
	mailgate)
		kill -TERM $GATE_PID
		wait $GATE_PID || true
		tail -n 1 "$WORK/gate.out" >"$2"
		;;
	nftables) ip netns exec $V nft delete table netdev mgbench ;;
	none) ;;
	esac
}

# What the lab did, for the service phase (JSON; bench_report.py takes the
# difference of two): per CPU the /proc/stat ticks and the NET_RX / NET_TX
# softirqs raised there; the CPU time and last CPU of each NAPI thread; the
# packet counters of srv's veth (its ring: rx dropped), of the wire's end
# toward gen (WG: the flood's and the clients' way in) and of gen's veth
snap() {
	$ON_LAB_RT python3 - "$V:$VS" "$W:$WG" "$W:$WV" "$G:$VG" <<'EOF_SNAP'
import json, subprocess, sys
r = {"cpus": {}, "threads": {}, "links": {}}
for l in open("/proc/stat"):
    f = l.split()
    if f[0].startswith("cpu") and f[0] != "cpu":
        v = list(map(int, f[1:9]))
        r["cpus"][f[0][3:]] = {"busy": sum(v) - v[3] - v[4], "softirq": v[6], "steal": v[7], "total": sum(v)}
for l in open("/proc/softirqs"):
    f = l.split()
    if f[0] in ("NET_RX:", "NET_TX:"):
        for i, n in enumerate(f[1:]):
            r["cpus"].setdefault(str(i), {})[f[0][:-1].lower()] = int(n)
for arg in sys.argv[1:]:
    ns, dev = arg.split(":")
    st = json.loads(subprocess.run(["ip", "-j", "-s", "-n", ns, "link", "show", "dev", dev],
                                   capture_output=True, text=True).stdout)[0]["stats64"]
    r["links"][dev] = {"rx_packets": st["rx"]["packets"], "rx_dropped": st["rx"]["dropped"],
                       "tx_packets": st["tx"]["packets"], "tx_dropped": st["tx"]["dropped"]}
    pid = subprocess.run(["sh", "-c", f"ps -eo pid,comm | awk 'index($2, \"napi/{dev}-\") == 1 {{print $1}}'"],
                         capture_output=True, text=True).stdout.split()
    if pid:
        f = open(f"/proc/{pid[0]}/stat").read().rsplit(")", 1)[1].split()
        r["threads"][dev] = {"ticks": int(f[11]) + int(f[12]), "cpu": int(f[36]), "policy": int(f[38])}
# the clients' SYNs that went unanswered, as their own stack counts them
txt = subprocess.run(["ip", "netns", "exec", sys.argv[-1].split(":")[0], "cat", "/proc/net/netstat",
                      "/proc/net/snmp"], capture_output=True, text=True).stdout.splitlines()
for i in range(0, len(txt) - 1):
    h, v = txt[i].split(), txt[i + 1].split()
    if h[0] == v[0] and h[0] in ("TcpExt:", "Tcp:") and not v[1].isalpha():
        d = dict(zip(h[1:], v[1:]))
        r.setdefault("clients", {}).update({k: int(d[k]) for k in ("TCPSynRetrans", "ActiveOpens") if k in d})
print(json.dumps(r))
EOF_SNAP
}
# srv's TcpExt counters of SYN and listener trouble (a JSON object)
tcpext() {
	nsenter --net=/run/netns/$V $ON_LAB_RT python3 -c 'import json
lines = [l.split() for l in open("/proc/net/netstat") if l.startswith("TcpExt:")]
d = dict(zip(lines[0][1:], map(int, lines[1][1:])))
keep = ("SyncookiesSent", "SyncookiesRecv", "SyncookiesFailed", "ListenOverflows", "ListenDrops",
        "TCPReqQFullDrop", "TCPReqQFullDoCookies")
print(json.dumps({k: d.get(k, 0) for k in keep}))'
}
rx() { ip -j -s -n $V link show dev $VS | python3 -c 'import json, sys; r = json.load(sys.stdin)[0]["stats64"]["rx"]; print(r["packets"], r["dropped"])'; }

# The generator, on LAB_CPU. In the absorption runs a real-time task (a
# continuous flood, not one that pauses whenever another process gets that
# CPU); in the service phase an ordinary one (FLOOD_SCHED empty) that keeps
# its pace by its clock: real-time, it would starve the clients, the server
# and the wire's threads on LAB_CPU whenever it cannot keep its rate.
flood() { # $1 duration, $2 extra flags; JSON on stdout
	nsenter --net=/run/netns/$G $ON_LAB $FLOOD_SCHED "$MG" synflood -i $VG --dst 2001:db8::1 \
		--src 2001:db8:8000::/33 --dst-mac "$SRV_MAC" --duration "$1" $2 --json
}

# ---- 1. data-path cost ----
if [ "$ONLY" = service ]; then
	log "data-path cost and absorption skipped (BENCH_ONLY=service)"
elif [ -x "$DPBENCH" ]; then
	log "data-path cost: $DPBENCH"
	"$DPBENCH" $([ $quick = 1 ] && echo --quick) >"$WORK/datapath.txt" 2>&1 ||
		log "bench_gate failed (see the report)"
else
	log "data-path cost: $DPBENCH not built, skipped"
fi
if [ -x "$CPUBENCH" ] && [ "$ONLY" != service ]; then
	log "flood path on one and two CPUs: $CPUBENCH"
	"$CPUBENCH" $([ $quick = 1 ] && echo --quick) >"$WORK/cpus.txt" 2>&1 ||
		log "bench_flood_cpus failed (see the report)"
fi
if [ -x "$TOPBENCH" ] && [ "$ONLY" != service ]; then
	log "a refused SYN with and without a top watching: $TOPBENCH"
	"$TOPBENCH" $([ $quick = 1 ] && echo --quick) >"$WORK/top.txt" 2>&1 ||
		log "bench_top failed (see the report)"
fi

# ---- the listener, for every scenario ----
ip netns exec $V $ON_LAB_RT $SMTP serve --port 25 >"$WORK/smtp.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do grep -q ready "$WORK/smtp.out" && break; sleep 0.1; done
grep -q ready "$WORK/smtp.out" || die "the SMTP listener did not start: $(cat "$WORK/smtp.out")"

# ---- 2. flood absorption ----
# One core runs the generator and, right after each of its batches, srv's
# NAPI with the filter (a closed loop): the rate it sustains measures the
# filter's cost per frame without the noise of two CPUs shared with other
# work. The generator's own cost is in every figure, so the ratios
# understate the differences between the filters.
# mailgate drops here (flood_action = drop): its SYN-ACK cookies would go
# back into the generator's live-frame pages, which it sends again as they
# come back (no longer SYNs), so the figure would not be of the flood
napi_threaded 0
FLOOD_ACTION=drop FLOOD_SCHED="chrt -f 10"
for sc in $([ "$ONLY" = service ] || echo xdp_drop xdp_parse mailgate nftables none); do
	log "absorption: $sc"
	filter_on $sc
	log "  on"
	read -r p0 d0 < <(rx)
	flood ${ABS_SECS}s "" >"$WORK/abs-$sc.flood.json"
	sleep 0.2
	read -r p1 d1 < <(rx)
	filter_off $sc "$WORK/abs-$sc.filter.json"
	echo "{\"rx_packets\": $((p1 - p0)), \"rx_dropped\": $((d1 - d0))}" >"$WORK/abs-$sc.rx.json"
done

# ---- 3. service under flood ----
# An open loop: the flood on CPU 0, srv's NAPI on CPU 1; what srv cannot
# take overflows its ring, the clients' packets with the flood's.
napi_threaded 1
FLOOD_ACTION=cookie FLOOD_SCHED=${BENCH_GEN_SCHED-"chrt -f 10"}
for level in $LEVELS; do
	rate=""
	[ "$level" = full ] || rate="--rate $level"
	for sc in $FILTERS; do
		log "service under flood ($level): $sc"
		filter_on $sc
		# the verified clients complete a handshake before the flood
		ip netns exec $G $ON_CLI $SMTP clients --dst 2001:db8::1 --prefix 2001:db8:1:: \
			--count $N_CLIENTS --once --timeout 5 >"$WORK/svc-$level-$sc.warmup.json"
		flood $((SVC_SECS + TIMEOUT + 1))s "$rate" >"$WORK/svc-$level-$sc.flood.json" &
		fp=$!
		PIDS+=($fp)
		sleep 0.5 # the flood is on (and mailgate in flood mode)
		snap >"$WORK/svc-$level-$sc.snap0.json"
		tcpext >"$WORK/svc-$level-$sc.tcpext0.json"
		ip netns exec $G $ON_CLI $SMTP clients --dst 2001:db8::1 --prefix 2001:db8:1:: \
			--count $N_CLIENTS --duration $SVC_SECS --timeout $TIMEOUT >"$WORK/svc-$level-$sc.verified.json" &
		vp=$!
		# each new source tries once (after one success it would be verified)
		ip netns exec $G $ON_CLI $SMTP clients --dst 2001:db8::1 --prefix 2001:db8:2:: \
			--count $N_NEW --once --spread $SVC_SECS --timeout $TIMEOUT >"$WORK/svc-$level-$sc.new.json"
		wait $vp
		snap >"$WORK/svc-$level-$sc.snap1.json"
		tcpext >"$WORK/svc-$level-$sc.tcpext1.json"
		log "  clients done"
		wait $fp || true
		filter_off $sc "$WORK/svc-$level-$sc.filter.json"
	done
done

# ---- report ----
mkdir -p "$results"
python3 scripts/bench_report.py --work "$WORK" --out "$results" --quick $quick \
	--levels "$LEVELS" --abs-secs $ABS_SECS --svc-secs $SVC_SECS --timeout $TIMEOUT \
	--clients $N_CLIENTS --new $N_NEW --deny $N_DENY --verified $N_VERIFIED --gen-cpu $LAB_CPU --napi-cpu $RX_CPU
lat=$(awk '!/^#/ && $4 != "NaN" {n++} END {print n + 0}' "$results/latest.dat")
gnuplot -e "datafile='$results/latest.dat'; outfile='$results/latest.png'; lat=$lat" scripts/bench_chart.gp || log "chart: gnuplot drew nothing (no successful connection to plot?)"
log "results: $results/latest.md $results/latest.json $results/latest.png"
cat "$results/latest.md"
