#!/usr/bin/env bash
# Flood mode's kernel evidence (docs/datapath.md, adaptive detection): the
# daemon reads the TcpExt counters of its namespace (/proc/net/netstat) ten
# times a second and tells the data path (mg_ctl.trouble) when SYN cookies
# are sent or a queue overflows; then a forged flood too slow for the
# handshake evidence alone (800/s: under MG_FLOOD_ADAPT_SYNS' 2000/s and
# far under flood_threshold) switches flood mode on, and status, the log
# and /metrics say "kernel".
#
#   quiet_kernel_no_flood_mode   a real listener with room (backlog 4096): the
#                                same flood for 2 s leaves flood mode off and
#                                the kernel reports nothing
#   kernel_trouble_engages       the listener with a backlog of 2 (it never
#                                accepts): the SYN queue overflows at once,
#                                flood mode on within 2 s, why = kernel
#   kernel_reason_shown          status (text and JSON), the daemon's log and
#                                /metrics name the reason and the counters
#   kernel_flood_mode_ends       off after the flood and flood_hold (2 s)
#
# The forged range 198.51.100.0/24 is routed back to the client namespace
# (which drops the SYN-ACKs): the kernel's replies have a route, so it
# counts SyncookiesSent as on a real host.
. "$(dirname "$0")/lib.sh"
it_setup fkern nolistener

FORGED=198.51.100.0/24
MPORT=19437 # the daemon's own namespace's loopback
gw ip route add "$FORGED" via "$LAB_CL4" || { fail setup "cannot route $FORGED"; exit 1; }
gw sysctl -qw net.ipv4.tcp_syncookies=1

CONF=$(conf mg <<EOF
[limits]
flood_hold = 2s
[metrics]
listen = 127.0.0.1:$MPORT
EOF
)
daemon_start -c "$CONF" || { fail setup "daemon: $(tail -3 "$DAEMON_LOG")"; exit 1; }

LISTENER_PID=
listener() { # BACKLOG: a listener on port 25 that never accepts
	[ -n "$LISTENER_PID" ] && kill "$LISTENER_PID" 2>/dev/null && wait "$LISTENER_PID" 2>/dev/null
	nsenter --net="/run/netns/$LAB_GW_NS" -- $PYTHON -c '
import socket, sys, time
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 25))
s.listen(int(sys.argv[1]))
print("listening", flush=True)
time.sleep(120)' "$1" >"$IT_TMP/listener.log" 2>&1 &
	LISTENER_PID=$!
	IT_PIDS+=("$LISTENER_PID")
	wait_for 5 grep -q listening "$IT_TMP/listener.log"
}
MAC=$(ip -n "$LAB_GW_NS" -br link show dev "$GWIF" | awk '{ print $3 }')
flood() { # SECONDS: 800 forged SYNs a second to port 25, in the background (FLOOD_PID)
	client "$MG" synflood -i "$LAB_CL_IF" --dst "$LAB_GW4" --dport 25 --src "$FORGED" --dst-mac "$MAC" \
		--rate 800 --duration "$1"s >"$IT_TMP/flood.out" 2>&1 &
	FLOOD_PID=$!
	IT_PIDS+=("$FLOOD_PID")
}
status_json() { mg status --json 2>/dev/null; }
jfield() { status_json | $PYTHON -c 'import json, sys; v = json.load(sys.stdin).get(sys.argv[1]); print("" if v is None else v)' "$1"; }
flood_on() { [ "$(jfield flood_mode)" = True ]; }
metrics() { gw $PYTHON -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
	"http://127.0.0.1:$MPORT/metrics"; }

# ---- a listener with room: the kernel has no trouble, flood mode stays off ----
listener 4096 || { fail setup "listener did not start"; exit 1; }
judged() { bpftool -j map dump pinned "$PIN/mg_counters" | $NETTOOL counters "$GATE_H" | awk '{ s += $2 } END { print s }'; }
p0=$(judged)
flood 2
on=0
while kill -0 "$FLOOD_PID" 2>/dev/null; do
	flood_on && on=1
	sleep 0.2
done
wait "$FLOOD_PID"
p1=$(judged)
trouble=$(jfield kernel_trouble)
if [ $on = 0 ] && ! flood_on && [ -z "$trouble" ] && [ $((p1 - p0)) -ge 1000 ]; then
	pass quiet_kernel_no_flood_mode
else
	fail quiet_kernel_no_flood_mode "flood mode seen on: $on, kernel trouble: '$trouble', SYNs judged +$((p1 - p0)); flood: $(tr '\n' ' ' <"$IT_TMP/flood.out")"
fi
note "backlog 4096: SYNs judged +$((p1 - p0)) in 2 s, flood mode seen: $on"

# ---- backlog 2: the SYN queue overflows, the kernel sends cookies ----
listener 2 || { fail setup "listener did not start"; exit 1; }
flood 6
t0=$SECONDS
if wait_for 4 flood_on; then
	why=$(jfield flood_why)
	kern=$(jfield flood_kernel)
	if [ "$why" = kernel ] && echo "$kern" | grep -q 'SyncookiesSent\|TCPReqQFullDoCookies'; then
		pass kernel_trouble_engages
	else
		fail kernel_trouble_engages "flood mode on, but why=$why kernel=$kern"
	fi
	text=$(mg status 2>&1)
	m=$(metrics)
	if echo "$text" | grep -q 'flood mode: ON (why: kernel' && echo "$text" | grep -q 'the kernel: .*SyncookiesSent' &&
		daemon_log_has 'msg="the kernel reports SYN trouble in this namespace"' &&
		wait_for 2 daemon_log_has 'msg="flood mode on.*why=kernel' &&
		echo "$m" | grep -q '^mailgate_flood_mode_why{why="kernel"} 1$' &&
		echo "$m" | grep '^mailgate_kernel_syn_trouble_total{counter="SyncookiesSent"}' | awk '{ exit !($2 > 0) }'; then
		pass kernel_reason_shown
	else
		fail kernel_reason_shown "status: $(echo "$text" | grep 'flood mode\|kernel'); log: $(grep -i 'flood\|kernel' "$DAEMON_LOG" | tail -3); metrics: $(echo "$m" | grep 'why="kernel"\|kernel_syn_trouble')"
	fi
else
	fail kernel_trouble_engages "flood mode off $((SECONDS - t0)) s into the flood; status: $(status_json | tr -d '\n' | head -c 400); netstat: $(gw grep TcpExt: /proc/net/netstat | tail -1 | head -c 200)"
	fail kernel_reason_shown "flood mode never on"
fi
note "netstat: $(metrics | grep '^mailgate_kernel_syn_trouble_total' | sed 's/mailgate_kernel_syn_trouble_total//' | paste -sd' ')"
wait "$FLOOD_PID"
# off after the flood and the hold: 2 s, decided at the next gated SYN
wait_for 6 daemon_log_has "the kernel's SYN trouble is over"
sleep 2.5
client $NETTOOL probe "$LAB_CL4" "$LAB_GW4" 25 0.5 >/dev/null
if wait_for 3 not flood_on; then
	pass kernel_flood_mode_ends
else
	fail kernel_flood_mode_ends "still on: $(status_json | tr -d '\n' | head -c 300)"
fi
it_summary
