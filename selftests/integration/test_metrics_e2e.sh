#!/usr/bin/env bash
# /metrics from a real daemon: `mailgate run` on one end of a veth pair in a
# network namespace of its own, real TCP clients in the peer namespace, the
# exposition checked with prometheus_client's parser (selftests/test_metrics.py):
#   daemon_serves            every family with its type and labels
#   syn_counts               7 SYNs from a denied address, 5 let through: exact
#   restart_keeps_counters   SIGTERM, start again: the pinned counters go on
#   stats_agree              `mailgate stats --json` says the same as /metrics
# SKIPs (with the reason) while `mailgate run` or `mailgate stats` are still
# placeholders.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
MG=$ROOT/${OUTPUT:-.output}/mailgate
CHECK=$ROOT/selftests/test_metrics.py
PY=/usr/bin/python3 # Debian's, with python3-prometheus-client
[ -x "$PY" ] || PY=python3

P=mgt-me
ID=$$
NSA=$P-a-$ID
NSB=$P-b-$ID
VA=mgtmeA$ID
VB=mgtmeB$ID
PIN=/sys/fs/bpf/$P-$ID
TMP=$(mktemp -d "/tmp/$P-$ID.XXXXXX")
DPID=
FAILED=0
ADDR_A=198.51.100.1
ADDR_OK=198.51.100.2
ADDR_DENIED=198.51.100.3
MPORT=19433 # loopback of the daemon's own namespace: no one else there
URL=http://127.0.0.1:$MPORT/metrics

pass() { echo "PASS metrics_e2e:$1"; }
fail() { echo "FAIL metrics_e2e:$1: $2"; FAILED=1; }
skip() { echo "SKIP metrics_e2e:$1: $2"; }
in_a() { nsenter --net="/run/netns/$NSA" "$@"; }
in_b() { nsenter --net="/run/netns/$NSB" "$@"; }

stop_daemon() {
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID=
}

cleanup() {
	stop_daemon
	[ -e "/run/netns/$NSA" ] && in_a "$MG" --pin-dir "$PIN" detach -i "$VA" >/dev/null 2>&1
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	rm -rf "$PIN" "$TMP"
}
trap cleanup EXIT

# leftovers of runs that died: their pid is gone
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P-[ab]-"); do
	kill -0 "${ns##*-}" 2>/dev/null || ip netns del "$ns" 2>/dev/null
done
for d in /sys/fs/bpf/$P-*; do
	[ -d "$d" ] || continue
	kill -0 "${d##*-}" 2>/dev/null || rm -rf "$d"
done

CASES="daemon_serves syn_counts restart_keeps_counters stats_agree"
if "$MG" run 2>&1 | grep -q "not built yet"; then
	for c in $CASES; do skip "$c" "mailgate run is still a placeholder"; done
	exit 0
fi
if ! "$PY" -c 'import prometheus_client.parser' 2>/dev/null; then
	for c in $CASES; do skip "$c" "$PY has no prometheus_client (Debian: python3-prometheus-client)"; done
	exit 0
fi

# ---- the lab: A (the mail server, the daemon) <-> B (clients) ----
ip netns add "$NSA" && ip netns add "$NSB" &&
	ip link add "$VA" type veth peer name "$VB" &&
	ip link set "$VA" netns "$NSA" && ip link set "$VB" netns "$NSB" &&
	ip -n "$NSA" addr add $ADDR_A/24 dev "$VA" &&
	ip -n "$NSB" addr add $ADDR_OK/24 dev "$VB" &&
	ip -n "$NSB" addr add $ADDR_DENIED/24 dev "$VB" &&
	ip -n "$NSA" link set lo up && ip -n "$NSB" link set lo up &&
	ip -n "$NSA" link set "$VA" up && ip -n "$NSB" link set "$VB" up
if [ $? -ne 0 ]; then
	for c in $CASES; do fail "$c" "cannot build the netns/veth lab"; done
	exit 1
fi

# no DNSBL sites (the default): nothing leaves the lab
cat >"$TMP/mailgate.conf" <<EOF
[metrics]
listen = 127.0.0.1:$MPORT
EOF

start_daemon() {
	# nsenter execs the daemon: $! is its pid (a backgrounded function would be a subshell)
	nsenter --net="/run/netns/$NSA" "$MG" --pin-dir "$PIN" run -i "$VA" -c "$TMP/mailgate.conf" >>"$TMP/daemon.log" 2>&1 &
	DPID=$!
	for _ in $(seq 100); do # 20 s: a busy machine
		in_a "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "$URL" \
			2>/dev/null && return 0
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.2
	done
	return 1
}

# check NAME EXPECT_JSON: scrape and check; failures reported under NAME
check() {
	local name=$1 out
	echo "$2" >"$TMP/expect.json"
	if out=$(in_a "$PY" "$CHECK" "$URL" "$TMP/expect.json" 2>&1); then
		return 0
	fi
	echo "$out" | sed 's/^/  /'
	fail "$name" "test_metrics.py found problems"
	return 1
}

# connect N times from SRC to PORT on A. A connect that is dropped times out
# after 0.3 s, before the first retransmission (1 s): one SYN each.
connects() {
	in_b "$PY" - "$@" <<'EOF'
import socket, sys
src, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for _ in range(n):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(0.3)
    try:
        s.connect(("198.51.100.1", port))
    except OSError:
        pass
    s.close()
EOF
}

# the deny entry
deny_denied_addr() { "$MG" --pin-dir "$PIN" deny add 198.51.100.3 >/dev/null; }

packets() { # reason class value
	printf '[{"reason": "%s", "class": "%s"}, %s]' "$1" "$2" "$3"
}

# ---- daemon_serves ----
if ! start_daemon; then
	sed 's/^/  daemon: /' "$TMP/daemon.log"
	for c in $CASES; do fail "$c" "the daemon did not serve $URL within 20 s"; done
	exit 1
fi
check daemon_serves '{"families": {"mailgate_flood_mode": {"samples": [[{}, 0]]},
	"mailgate_bans": {"exact": true, "samples": []}}}' && pass daemon_serves

# ---- syn_counts ----
if deny_denied_addr; then
	connects $ADDR_DENIED 25 7
	connects $ADDR_OK 587 5
	check syn_counts "{\"families\": {\"mailgate_packets_total\": {\"samples\": [
		$(packets drop_deny smtp 7), $(packets pass_ok submission 5),
		$(packets drop_deny submission 0), $(packets pass_ok smtp 0)]},
		\"mailgate_sources\": {\"samples\": [[{\"map\": \"mg_deny\"}, 1]]}}}" && pass syn_counts
else
	fail syn_counts "cannot add the deny entry with bpftool"
fi

# ---- restart_keeps_counters ----
stop_daemon
if ! start_daemon; then
	sed 's/^/  daemon: /' "$TMP/daemon.log" | tail -20
	fail restart_keeps_counters "the daemon did not come back"
else
	connects $ADDR_DENIED 25 2
	check restart_keeps_counters "{\"families\": {\"mailgate_packets_total\": {\"samples\": [
		$(packets drop_deny smtp 9), $(packets pass_ok submission 5)]}}}" &&
		pass restart_keeps_counters
fi

# ---- stats_agree ----
stats_out=$(in_a "$MG" --pin-dir "$PIN" --json stats 2>&1)
if echo "$stats_out" | grep -q "not built yet"; then
	skip stats_agree "mailgate stats is still a placeholder"
elif ! echo "$stats_out" >"$TMP/stats.json" || ! "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$TMP/stats.json" 2>/dev/null; then
	echo "$stats_out" | head -5 | sed 's/^/  stats: /'
	fail stats_agree "mailgate stats --json did not print one JSON document"
else
	check stats_agree "{\"stats_json\": \"$TMP/stats.json\"}" && pass stats_agree
fi

[ "$FAILED" -eq 0 ]
