#!/usr/bin/env bash
# demo.sh (`make demo`): mailgate's main job on a self-made lab.
#
# A mail server namespace (listeners on 25 and 587) and a client namespace,
# joined by one veth pair (scripts/lab.sh), documentation addresses only.
# mailgate runs on the server's end with the shipped example config; then
# three clients meet their fates: a good one is served, a denied one gets no
# answer, a noisy one is rate-limited (and banned). Ends with `mailgate
# lookup` and `mailgate stats`, and removes everything it made, also when
# interrupted. Needs root; takes about ten seconds.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
MG=$ROOT/${OUTPUT:-.output}/mailgate
CONF=${MAILGATE_DEMO_CONFIG:-examples/mailgate.conf}
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
NETTOOL="$PYTHON $ROOT/selftests/integration/nettool.py"
. scripts/lab.sh

GOOD4=192.0.2.10 GOOD6=2001:db8::10 DENIED=192.0.2.66 NOISY=192.0.2.99

die() { echo "demo: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, XDP, BPF maps)"
[ -x "$MG" ] || die "$MG is not built (run: make)"
[ -f "$CONF" ] || die "no config file $CONF"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

if [ -t 1 ]; then B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' Y=$'\e[33m' D=$'\e[2m' N=$'\e[0m'; else B= G= R= Y= D= N=; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
cmd() { printf '%s$ %s%s\n' "$D" "$*" "$N"; } # show a command as a user would type it
fate() { # LABEL "ok=.. timeout=.." : a coloured one-line verdict
	local ok to
	ok=$(echo "$2" | grep -o ' *ok=[0-9]*' | awk -F= '{ n += $2 } END { print n + 0 }')
	to=$(echo "$2" | grep -o 'timeout=[0-9]*' | awk -F= '{ n += $2 } END { print n + 0 }')
	if [ "$to" = 0 ]; then
		printf '   %-38s %sserved%s (%s of %s connections)\n' "$1" "$G" "$N" "$ok" "$((ok + to))"
	elif [ "$ok" = 0 ]; then
		printf '   %-38s %sdropped%s (no answer to %s of %s connections)\n' "$1" "$R" "$N" "$to" "$((ok + to))"
	else
		printf '   %-38s %s%s served, %s dropped%s\n' "$1" "$Y" "$ok" "$to" "$N"
	fi
}

ID=mg-demo-$$
PIN=/sys/fs/bpf/$ID
TMP=$(mktemp -d "/tmp/$ID.XXXXXX")
DAEMON=
LISTENER=
teardown() {
	step "Teardown"
	if [ -n "$DAEMON" ] && kill -0 "$DAEMON" 2>/dev/null; then
		kill -TERM "$DAEMON"
		wait "$DAEMON" 2>/dev/null
		echo "   mailgate stopped (SIGTERM: it detaches its program from the interface)"
	fi
	[ -n "$LISTENER" ] && kill "$LISTENER" 2>/dev/null
	lab_down "$ID"
	rm -rf "$PIN" "$TMP"
	echo "   lab $ID and pin dir $PIN removed"
}
trap teardown EXIT
trap 'exit 130' INT TERM
lab_clean mg-demo

step "Lab"
lab_up "$ID" || die "cannot create the lab"
lab_client_addr "$GOOD4/24" "$GOOD6/64" "$DENIED/24" "$NOISY/24" || die "cannot add the client addresses"
nsenter --net="/run/netns/$LAB_GW_NS" -- $NETTOOL listen 25 587 >"$TMP/listener" 2>&1 &
LISTENER=$!
echo "   mail server  netns $LAB_GW_NS   $LAB_GW_IF  $LAB_GW4  $LAB_GW6   listening on 25 (smtp), 587 (submission)"
echo "   clients      netns $LAB_CL_NS   $LAB_CL_IF  good $GOOD4 $GOOD6, denied $DENIED, noisy $NOISY"

step "Start mailgate on the mail server's interface"
cmd "mailgate run -i $LAB_GW_IF -c $CONF --pin-dir $PIN &"
nsenter --net="/run/netns/$LAB_GW_NS" -- "$MG" run -i "$LAB_GW_IF" -c "$CONF" --pin-dir "$PIN" 2>"$TMP/daemon.log" &
DAEMON=$!
for _ in $(seq 100); do
	grep -q 'msg="running"' "$TMP/daemon.log" && break
	kill -0 "$DAEMON" 2>/dev/null || { cat "$TMP/daemon.log"; die "mailgate run failed"; }
	sleep 0.1
done
grep -q 'msg="running"' "$TMP/daemon.log" || die "mailgate run did not start in 10s"
grep -E 'msg="(attached|running)"' "$TMP/daemon.log" | sed "s/^/   $D/; s/\$/$N/"
echo "   limits from $CONF: $(grep -E '^(syn_rate|syn_burst|ban_after|ban_time) ' "$CONF" | sed 's/ *= */=/' | tr '\n' ' ')"

step "Deny one client"
cmd "mailgate deny add $DENIED/32"
"$MG" --pin-dir "$PIN" deny add "$DENIED/32" | sed 's/^/   /'

client() { nsenter --net="/run/netns/$LAB_CL_NS" -- $NETTOOL "$@"; }
step "Three clients connect"
fate "good client $GOOD4 -> :25, :587" "$(client burst "$GOOD4" "$LAB_GW4" 25 2 0.9 100) $(client burst "$GOOD4" "$LAB_GW4" 587 1)"
fate "good client $GOOD6 -> :25" "$(client burst "$GOOD6" "$LAB_GW6" 25 2 0.9 100)"
fate "denied client $DENIED -> :25" "$(client burst "$DENIED" "$LAB_GW4" 25 2 0.9)"
res=$(client burst "$NOISY" "$LAB_GW4" 25 30 0.9)
fate "noisy client $NOISY: 30 at once" "$res"
echo "   ${D}(syn_burst connections pass at once, then syn_rate per second; ban_after drops within ban_window ban the source)$N"
for _ in $(seq 20); do grep -q 'msg="ban created"' "$TMP/daemon.log" && break; sleep 0.1; done
grep 'msg="ban created"' "$TMP/daemon.log" | sed "s/^/   daemon: $D/; s/\$/$N/"
fate "noisy client $NOISY, 1s later" "$(client burst "$NOISY" "$LAB_GW4" 25 3 0.9 100)"
fate "good client $GOOD4, still" "$(client burst "$GOOD4" "$LAB_GW4" 25 3 0.9 100)"

step "Why was the noisy client dropped?"
cmd "mailgate lookup $NOISY"
"$MG" --pin-dir "$PIN" lookup "$NOISY" | sed 's/^/   /'

step "Counters"
cmd "mailgate stats"
"$MG" --pin-dir "$PIN" stats | sed 's/^/   /'
