# lib.sh: shared helpers of the integration tests (source it from a test).
#
#   it_setup PREFIX     a lab (scripts/lab.sh) named PREFIX-$$, a pin dir
#                       /sys/fs/bpf/PREFIX-$$, a listener in the gateway
#                       namespace on 25 (closes at once) and 587 (holds each
#                       connection until the client closes); leftovers of killed runs of
#                       PREFIX are removed first, and everything is removed
#                       on exit (trap), also when the test is interrupted.
#   it_setup PREFIX nolistener   the same without the listener (a test that
#                       runs real servers on those ports)
#   pass NAME / fail NAME WHY / skip NAME WHY / check NAME CMD...
#                       one line per case; it_summary ends the test
#   client CMD...       run in the client namespace; probe/burst/hop/watch
#                       are nettool.py's (ok/refused/timeout with a timeout)
#   daemon_start ARGS   `mailgate run -i GWIF --pin-dir PIN ARGS` in the
#                       gateway namespace, waits until it runs; daemon_stop
#   mg ARGS             the mailgate CLI on the test's pin dir
#   deny_add/... , counter REASON, cfg_field NAME, xdp_attached
#
# Timing: every wait is a poll with a generous deadline (a loaded 2-core
# machine), and connect timeouts stay below the 1 s SYN retransmission.

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$IT_DIR/../.." && pwd)
MG=${MG:-$ROOT/${OUTPUT:-.output}/mailgate}
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
NETTOOL="$PYTHON $IT_DIR/nettool.py"
GATE_H=$ROOT/include/gate.h
. "$ROOT/scripts/lab.sh"

IT_PASS=0
IT_FAIL=0
IT_PIDS=()    # processes this test started, killed at exit
DAEMON_PID=
DAEMON_LOG=
IT_NDAEMON=0

pass() { echo "PASS $1"; IT_PASS=$((IT_PASS + 1)); }
fail() { echo "FAIL $1: $2"; IT_FAIL=$((IT_FAIL + 1)); }
skip() { echo "SKIP $1: $2"; }
check() { # NAME CMD...: PASS when CMD succeeds
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "$*"; fi
}
note() { echo "  # $*"; } # detail for a reader of the log, not a case

it_require() { # exits with one SKIP line when the machine cannot run the test
	local why=
	[ "$(id -u)" -eq 0 ] || why="needs root"
	[ -z "$why" ] && ! command -v nsenter >/dev/null && why="needs nsenter"
	[ -z "$why" ] && ! command -v bpftool >/dev/null && why="needs bpftool"
	[ -z "$why" ] && [ ! -x "$MG" ] && why="mailgate is not built ($MG)"
	if [ -n "$why" ]; then
		skip "$(basename "$0" .sh)" "$why"
		exit 0
	fi
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
}

it_setup() { # PREFIX [nolistener]
	it_require
	IT_PREFIX=$1
	IT_ID=$1-$$
	PIN=/sys/fs/bpf/$IT_ID
	IT_TMP=$(mktemp -d "/tmp/$IT_ID.XXXXXX")
	export MAILGATE_STATE_DIR=$IT_TMP/state # the daemons' state files, not /var/lib/mailgate's
	trap it_cleanup EXIT
	trap 'exit 130' INT TERM
	lab_clean "$IT_PREFIX"
	local d pid
	for d in /tmp/"$IT_PREFIX"-[0-9]*.*; do # temp dirs of killed runs
		pid=${d#/tmp/"$IT_PREFIX"-}
		pid=${pid%%.*}
		[ -d "$d" ] && ! kill -0 "$pid" 2>/dev/null && rm -rf "$d"
	done
	lab_up "$IT_ID" || { fail setup "cannot create the lab $IT_ID"; exit 1; }
	GWIF=$LAB_GW_IF
	[ "${2:-}" = nolistener ] && return 0
	nsenter --net="/run/netns/$LAB_GW_NS" -- $NETTOOL listen 25 587:hold >"$IT_TMP/listener.log" 2>&1 &
	IT_PIDS+=($!)
	disown $!
	wait_for 5 grep -q listening "$IT_TMP/listener.log" || { fail setup "listener did not start"; exit 1; }
}

it_cleanup() {
	local pid
	[ -n "$DAEMON_PID" ] && kill -9 "$DAEMON_PID" 2>/dev/null
	for pid in "${IT_PIDS[@]}"; do
		kill -9 "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	lab_down "$IT_ID"
	rm -rf "$PIN" "$PIN"-* "$IT_TMP"
}

it_summary() {
	echo "# $IT_PASS passed, $IT_FAIL failed"
	[ "$IT_FAIL" -eq 0 ]
}

not() { ! "$@"; }
wait_for() { # SECONDS CMD...: poll CMD every 0.1 s until it succeeds
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.1
	done
}

client() { lab_exec "$LAB_CL_NS" "$@"; }
client_bg() { # OUTFILE NETTOOL-ARGS...: in the background; its pid in BG_PID (killed at exit)
	local out=$1
	shift
	nsenter --net="/run/netns/$LAB_CL_NS" -- $NETTOOL "$@" >"$out" 2>&1 &
	BG_PID=$!
	IT_PIDS+=("$BG_PID")
}
gw() { lab_exec "$LAB_GW_NS" "$@"; }
probe() { client $NETTOOL probe "$@" | cut -d' ' -f1; }       # SRC DST PORT [TIMEOUT]: ok|refused|timeout
probe_time() { client $NETTOOL probe "$@" | cut -d' ' -f2; }  # ... seconds it took
burst() { client $NETTOOL burst "$@"; }                       # SRC DST PORT COUNT [TIMEOUT] [GAP_MS]
hop() { client $NETTOOL hop "$@"; }                           # SRCS DST PORT [TIMEOUT]
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }      # NAME "ok=1 timeout=2": 1
dst_of() { case $1 in *:*) echo "$LAB_GW6" ;; *) echo "$LAB_GW4" ;; esac; }

# ---- the daemon ----
daemon_start() { # ARGS...: start `mailgate run`, wait until it runs (or died)
	DAEMON_LOG=$IT_TMP/daemon.$((++IT_NDAEMON)).log
	nsenter --net="/run/netns/$LAB_GW_NS" -- "$MG" run -i "$GWIF" --pin-dir "$PIN" "$@" >"$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
	wait_for 20 daemon_running_or_dead
	daemon_running
}
daemon_running() { kill -0 "$DAEMON_PID" 2>/dev/null && grep -qs 'msg="running"' "$DAEMON_LOG"; }
daemon_running_or_dead() { daemon_running || ! kill -0 "$DAEMON_PID" 2>/dev/null; }
daemon_stop() { # [SIGNAL]: stop the daemon; its exit status in DAEMON_RC
	kill "-${1:-TERM}" "$DAEMON_PID" 2>/dev/null
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_RC=$?
	DAEMON_PID=
}
daemon_log_has() { grep -q -- "$1" "$DAEMON_LOG"; } # PATTERN (grep)
reloads() { grep -c 'msg="config reload' "$DAEMON_LOG"; } # reloads done or refused so far
reloads_above() { [ "$(reloads)" -gt "$1" ]; }
daemon_hup() { # send SIGHUP and wait until the daemon has dealt with it
	local n
	n=$(reloads)
	kill -HUP "$DAEMON_PID"
	wait_for 10 reloads_above "$n"
}
xdp_attached() { gw ip link show dev "$GWIF" | grep -q 'prog/xdp'; }
conf() { cat >"$IT_TMP/$1.conf"; echo "$IT_TMP/$1.conf"; } # NAME <<EOF: write a config, print its path

# ---- state, through the CLI when it is built, else bpftool on the pins ----
mg() { "$MG" --pin-dir "$PIN" "$@"; }
cli_ready() {
	[ -z "${IT_CLI_READY:-}" ] && { mg deny list >/dev/null 2>&1 && IT_CLI_READY=yes || IT_CLI_READY=no; }
	[ "$IT_CLI_READY" = yes ]
}
map_update() { bpftool map update pinned "$PIN/$1" key hex $2 value hex $3; }
map_delete() { bpftool map delete pinned "$PIN/$1" key hex $2; }
map_has() { bpftool map lookup pinned "$PIN/$1" key hex $2 >/dev/null 2>&1; } # MAP KEYHEX
# the lists (sets switched by the controller, include/lists.h): through the CLI only
list_add() { mg "$1" add "$2" ${3:+--ttl "$3"s} >/dev/null; } # allow|deny CIDR [TTL_S]
list_del() { mg "$1" del "$2" >/dev/null; } # allow|deny CIDR
list_has() { mg "$1" list --all --json | grep -q "\"cidr\":\"$2\""; } # allow|deny ADDR/LEN, expired included
ban_add() { # ADDR [TTL_S]
	if cli_ready; then
		mg ban add "$1" ${2:+--ttl "$2"s} >/dev/null
	else
		map_update mg_ban "$($NETTOOL addr "$1")" "$($NETTOOL ban "${2:-0}")"
	fi
}
ban_del() { if cli_ready; then mg ban del "$1" >/dev/null; else map_delete mg_ban "$($NETTOOL addr "$1")"; fi; }
ban_has() { map_has mg_ban "$($NETTOOL addr "$1")" || map_has mg_ban_quota "$($NETTOOL addr "$1")"; } # either map
counter() { # REASON: its total over CPUs and classes, read from the pinned map
	bpftool -j map dump pinned "$PIN/mg_counters" | $NETTOOL counters "$GATE_H" | awk -v r="$1" '$1 == r { print $2 }'
}
conn_count() { # ADDR: concurrent connections the data path counts for it, all port classes (0 when none)
	local cl n total=0 key
	key=$($NETTOOL addr "$1")
	for cl in 01 02 03 04; do # mg_conn_key: the address, then the class (__u32)
		n=$(bpftool -j map lookup pinned "$PIN/mg_conn" key hex $key $cl 00 00 00 2>/dev/null |
			$PYTHON -c 'import json,sys
try: print(json.load(sys.stdin)["formatted"]["value"])
except Exception: print(0)')
		total=$((total + n))
	done
	echo $total
}
conn_is() { [ "$(conn_count "$1")" = "$2" ]; } # ADDR N
cfg_field() { # NAME: a field of mg_config as the data path sees it (the slot mg_ctl names)
	local slot
	slot=$(bpftool -j map lookup pinned "$PIN/mg_ctl" key hex 00 00 00 00 |
		$PYTHON -c 'import json,sys; print(json.load(sys.stdin)["formatted"]["value"]["config_slot"] & 1)')
	bpftool -j map lookup pinned "$PIN/mg_config" key hex "0$slot" 00 00 00 |
		$PYTHON -c 'import json,sys; print(json.load(sys.stdin)["formatted"]["value"][sys.argv[1]])' "$1"
}
