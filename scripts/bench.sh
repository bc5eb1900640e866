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
# 3. service under flood, the flood on CPU 0 and srv's NAPI in a thread on
#    CPU 1: while the flood runs, the clients open real SMTP
#    connections (verified clients again and again, new sources once
#    each): success rate and connect latency p50/p99 for (b) (c) (d),
#    on a ladder of paced floods (AF_PACKET: 10k, 30k, 100k, 300k, 1M/s,
#    the last above what the generator reaches); not at full rate with live
#    frames: mailgate's cookie SYN-ACKs (XDP_TX, rewritten in place) go back
#    into the generator's pages. The report names each filter's highest
#    rung at >= 99% verified and >= 95% new, and what mailgate decided at
#    each (its counters, why flood mode engaged, cookie handshakes), and
#    per rung srv's ring drops and how CPU 1 was spent. The
#    forged range is routed to a blackhole in gen.
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
	-h|--help) sed -n '2,30p' "$0"; exit 0 ;;
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
GEN_CPU=0
NAPI_CPU=$(( ncpu > 1 ? 1 : 0 ))

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
# turns it on without an XDP program; srv's runs in a thread on its own CPU
ip netns exec $G ethtool -K $VG gro on >/dev/null
ip netns exec $V ethtool -K $VS gro on >/dev/null
# an XDP redirect carries bytes, not the promise of a checksum to fill in:
# the stacks at the ends must checksum their TCP themselves
ip netns exec $G ethtool -K $VG tx off >/dev/null
ip netns exec $V ethtool -K $VS tx off >/dev/null
# srv's NAPI: 0 = in softirq on the CPU that sent (the generator's: a closed
# loop), 1 = in a thread of its own on NAPI_CPU (an open loop)
napi_threaded() {
	ip netns exec $V sh -c "echo $1 > /sys/class/net/$VS/threaded"
	[ "$1" = 1 ] || return 0
	napi=$(ps -eo pid,comm | awk -v d="napi/$VS-" 'index($2, d) == 1 {print $1}')
	[ -n "$napi" ] && taskset -pc $NAPI_CPU $napi >/dev/null
	# not real-time: then the clients, on the same CPU, run only when it
	# has emptied the ring, and every filter serves them all (measured: 100%
	# at every rung for all three, with 40-66% of the ring dropped)
}
nsenter --net=/run/netns/$W "$GATE" wire $WG $WV 2001:db8:8000::/33 >"$WORK/wire.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do grep -q ready "$WORK/wire.out" && break; sleep 0.1; done
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
		nsenter --net=/run/netns/$V "$GATE" gate -i $VS --pin-dir $PIN --verified $N_VERIFIED \
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

# CPU time of NAPI_CPU, in clock ticks from /proc/stat: busy (not idle, not
# iowait), softirq (the wire's return path runs there), all; and srv's NAPI
# thread's own (utime + stime)
cpu_busy() {
	awk -v c="cpu$NAPI_CPU" '$1 == c { printf "%d %d %d ", $2 + $3 + $4 + $7 + $8 + $9, $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
	awk '{ print $14 + $15 }' /proc/"${napi:-self}"/stat 2>/dev/null || echo 0
}
# srv's TcpExt counters of SYN and listener trouble (a JSON object)
tcpext() {
	nsenter --net=/run/netns/$V python3 -c 'import json
lines = [l.split() for l in open("/proc/net/netstat") if l.startswith("TcpExt:")]
d = dict(zip(lines[0][1:], map(int, lines[1][1:])))
keep = ("SyncookiesSent", "SyncookiesRecv", "SyncookiesFailed", "ListenOverflows", "ListenDrops",
        "TCPReqQFullDrop", "TCPReqQFullDoCookies")
print(json.dumps({k: d.get(k, 0) for k in keep}))'
}
rx() { ip -j -s -n $V link show dev $VS | python3 -c 'import json, sys; r = json.load(sys.stdin)[0]["stats64"]["rx"]; print(r["packets"], r["dropped"])'; }

# The generator runs as a real-time task on its CPU: a continuous flood,
# not one that pauses whenever a client or another process gets that CPU
# (the kernel's RT throttling still leaves others 5% of it).
flood() { # $1 duration, $2 extra flags; JSON on stdout
	nsenter --net=/run/netns/$G taskset -c $GEN_CPU chrt -f 10 "$MG" synflood -i $VG --dst 2001:db8::1 \
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
ip netns exec $V $SMTP serve --port 25 >"$WORK/smtp.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do grep -q ready "$WORK/smtp.out" && break; sleep 0.1; done

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
FLOOD_ACTION=drop
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
FLOOD_ACTION=cookie
for level in $LEVELS; do
	rate=""
	[ "$level" = full ] || rate="--rate $level"
	for sc in $FILTERS; do
		log "service under flood ($level): $sc"
		filter_on $sc
		# the verified clients complete a handshake before the flood
		ip netns exec $G $SMTP clients --dst 2001:db8::1 --prefix 2001:db8:1:: \
			--count $N_CLIENTS --once --timeout 5 >"$WORK/svc-$level-$sc.warmup.json"
		flood $((SVC_SECS + TIMEOUT + 1))s "$rate" >"$WORK/svc-$level-$sc.flood.json" &
		fp=$!
		PIDS+=($fp)
		sleep 0.5 # the flood is on (and mailgate in flood mode)
		read -r p0 d0 < <(rx)
		read -r b0 q0 t0 n0 < <(cpu_busy)
		tcpext >"$WORK/svc-$level-$sc.tcpext0.json"
		ip netns exec $G $SMTP clients --dst 2001:db8::1 --prefix 2001:db8:1:: \
			--count $N_CLIENTS --duration $SVC_SECS --timeout $TIMEOUT >"$WORK/svc-$level-$sc.verified.json" &
		vp=$!
		# each new source tries once (after one success it would be verified)
		ip netns exec $G $SMTP clients --dst 2001:db8::1 --prefix 2001:db8:2:: \
			--count $N_NEW --once --spread $SVC_SECS --timeout $TIMEOUT >"$WORK/svc-$level-$sc.new.json"
		wait $vp
		read -r p1 d1 < <(rx)
		read -r b1 q1 t1 n1 < <(cpu_busy)
		tcpext >"$WORK/svc-$level-$sc.tcpext1.json"
		# while the clients ran: srv's ring drops (the clients' frames with
		# the flood's) and how busy NAPI_CPU was (NAPI, wire, clients, server)
		share() { awk -v a=$1 -v t=$((t1 - t0)) 'BEGIN { printf "%.3f", t ? a / t : 0 }'; }
		echo "{\"rx_packets\": $((p1 - p0)), \"rx_dropped\": $((d1 - d0)), \"cpu_busy\": $(share $((b1 - b0))),"\
			"\"cpu_softirq\": $(share $((q1 - q0))), \"napi_thread\": $(share $((n1 - n0)))}" >"$WORK/svc-$level-$sc.rx.json"
		log "  clients done"
		wait $fp || true
		filter_off $sc "$WORK/svc-$level-$sc.filter.json"
	done
done

# ---- report ----
mkdir -p "$results"
python3 scripts/bench_report.py --work "$WORK" --out "$results" --quick $quick \
	--levels "$LEVELS" --abs-secs $ABS_SECS --svc-secs $SVC_SECS --timeout $TIMEOUT \
	--clients $N_CLIENTS --new $N_NEW --deny $N_DENY --verified $N_VERIFIED --gen-cpu $GEN_CPU --napi-cpu $NAPI_CPU
lat=$(awk '!/^#/ && $4 != "NaN" {n++} END {print n + 0}' "$results/latest.dat")
gnuplot -e "datafile='$results/latest.dat'; outfile='$results/latest.png'; lat=$lat" scripts/bench_chart.gp || log "chart: gnuplot drew nothing (no successful connection to plot?)"
log "results: $results/latest.md $results/latest.json $results/latest.png"
cat "$results/latest.md"
