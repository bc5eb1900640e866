#!/usr/bin/env bash
# The state file ([gate] state_dir, user/state.c): a reboot simulated in the
# lab. A real daemon gets bans (CLI with a TTL, permanent, one about to
# expire, a quota ban the data path makes) and CLI list entries; it is killed
# with -9, the XDP program and the pin dir are removed (`mailgate detach`),
# and a new daemon finds fresh maps: it restores what has not run out, with
# the time it had left, and the data path drops the banned source again. A
# corrupt and a truncated state file are refused whole, moved aside, and the
# daemon starts empty.
set -u
. "$(dirname "$0")/lib.sh"
it_setup mgst

unset MAILGATE_STATE_DIR # the config key is what is tested here
STATE_DIR=$IT_TMP/state
CONF=$(conf run <<EOF
[gate]
ports = smtp:25
state_dir = $STATE_DIR
[limits]
syn_rate = 10/s
syn_burst = 20
prefix_rate = 0/s
max_concurrent = 0
ban_after = 3
ban_time = 10m
[allow]
cidrs =
[metrics]
listen = none
EOF
)

js() { # PYTHON-EXPR over d (the JSON document on stdin): prints the result
	$PYTHON -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}
ban_field() { # ADDR FIELD: a field of ADDR's ban in `ban list --all --json` ("" when none)
	mg ban list --all --json | js "next((str(e['$2']) for e in d['entries'] if e['address'] == '$1'), '')"
}
list_field() { # allow|deny CIDR FIELD
	mg "$1" list --all --json | js "next((str(e['$3']) for e in d['entries'] if e['cidr'] == '$2'), '')"
}
state_file() { ls "$STATE_DIR"/*.state 2>/dev/null | head -1; }
state_has() { [ -n "$(state_file)" ] && grep -q -- "$1" "$(state_file)"; }
reboot() { # kill -9, then what a reboot leaves: no program attached, no pins
	daemon_stop KILL
	mg detach >/dev/null 2>&1
	[ ! -e "$PIN" ] && ! xdp_attached
}

client_addrs=()
for i in $(seq 3 19); do client_addrs+=("192.0.2.$i/24"); done
lab_client_addr "${client_addrs[@]}" || { fail setup "cannot add client addresses"; exit 1; }

if ! daemon_start -c "$CONF"; then
	fail start "the daemon did not start: $(tail -3 "$DAEMON_LOG")"
	exit 1
fi

# ---- the first life: bans and entries ----
mg ban add 192.0.2.2 --ttl 300s >/dev/null
mg ban add 192.0.2.3 >/dev/null
mg deny add 192.0.2.16/28 --ttl 600s >/dev/null
mg allow add 203.0.113.5/32 >/dev/null
res=$(burst 192.0.2.7 "$LAB_GW4" 25 26 0.5) # over quota: the data path bans it (origin quota)
wait_for 5 daemon_log_has 'msg="ban created" addr=192.0.2.7'
r0=$(probe 192.0.2.2 "$LAB_GW4" 25)
# two that run out while the daemon is down
mg ban add 192.0.2.4 --ttl 5s >/dev/null
mg deny add 192.0.2.5/32 --ttl 5s >/dev/null
added=$SECONDS
wait_for 5 state_has "deny 192.0.2.5/32 "
if state_has "ban 192.0.2.2 cli 0" && state_has "ban 192.0.2.3 cli 0 [0-9]* 0$" &&
	state_has "deny 192.0.2.16/28 " && state_has "allow 203.0.113.5/32 0$" && state_has "ban 192.0.2.7 quota" &&
	state_has "ban 192.0.2.4 cli" && [ "$(stat -c %a "$(state_file)")" = 600 ]; then
	pass state_written_soon
else
	fail state_written_soon "file $(state_file): $(cat "$(state_file)" 2>&1 | tr '\n' '|'); burst: $res"
fi
ttl_before=$(ban_field 192.0.2.2 expires_in_s)
deny_ttl_before=$(list_field deny 192.0.2.16/28 expires_in_s)

# ---- the reboot ----
if reboot; then pass reboot_removes_pins; else fail reboot_removes_pins "pins: $(ls "$PIN" 2>&1 | head -3)"; fi
while [ $((SECONDS - added)) -lt 6 ]; do sleep 0.2; done # the 5 s entries run out while down
if ! daemon_start -c "$CONF"; then
	fail restart "the daemon did not start again: $(tail -3 "$DAEMON_LOG")"
	exit 1
fi
ttl_after=$(ban_field 192.0.2.2 expires_in_s)
r1=$(probe 192.0.2.2 "$LAB_GW4" 25)
r2=$(probe 192.0.2.8 "$LAB_GW4" 25)
if daemon_log_has 'msg="state restored" .*entries=5 expired=2' && [ "$r0" = timeout ] && [ "$r1" = timeout ] &&
	[ "$r2" = ok ] && [ "$(ban_field 192.0.2.3 expires_in_s)" = None ] && [ "$(ban_field 192.0.2.3 origin)" = cli ]; then
	pass bans_survive_reboot
else
	fail bans_survive_reboot "log: $(grep -E 'state|refused' "$DAEMON_LOG" | tr '\n' '|'); before $r0, after $r1, other $r2; bans: $(mg ban list 2>&1 | tr '\n' '|')"
fi
# the remaining time goes on (not reset to 300 s): at least the time down less
if [ -n "$ttl_after" ] && [ -n "$ttl_before" ] && [ "$ttl_after" -le $((ttl_before - 1)) ] &&
	[ "$ttl_after" -ge $((ttl_before - 30)) ]; then
	pass ban_keeps_remaining_ttl
else
	fail ban_keeps_remaining_ttl "before ${ttl_before}s, after ${ttl_after}s"
fi
q_origin=$(ban_field 192.0.2.7 origin)
if [ "$q_origin" = quota ] && [ "$(probe 192.0.2.7 "$LAB_GW4" 25)" = timeout ] &&
	map_has mg_ban_quota "$($NETTOOL addr 192.0.2.7)"; then
	pass quota_ban_survives
else
	fail quota_ban_survives "origin '$q_origin'; bans: $(mg ban list 2>&1 | tr '\n' '|')"
fi
deny_ttl_after=$(list_field deny 192.0.2.16/28 expires_in_s)
if [ -n "$deny_ttl_after" ] && [ "$deny_ttl_after" -lt "$deny_ttl_before" ] &&
	[ "$(list_field allow 203.0.113.5/32 expires_in_s)" = None ] &&
	[ "$(list_field allow 203.0.113.5/32 origin)" = cli ] && [ "$(probe 192.0.2.17 "$LAB_GW4" 25)" = timeout ]; then
	pass cli_entries_survive
else
	fail cli_entries_survive "deny ttl $deny_ttl_before -> $deny_ttl_after; allow: $(mg allow list 2>&1 | tr '\n' '|')"
fi
if [ -z "$(ban_field 192.0.2.4 origin)" ] && [ -z "$(list_field deny 192.0.2.5/32 origin)" ] &&
	[ "$(probe 192.0.2.4 "$LAB_GW4" 25)" = ok ]; then
	pass expired_not_restored
else
	fail expired_not_restored "bans: $(mg ban list --all 2>&1 | tr '\n' '|'); deny: $(mg deny list --all 2>&1 | tr '\n' '|')"
fi

# ---- a corrupt state file: one byte changed in a record ----
refused_case() { # NAME: the daemon (after a reboot) refuses the file, moves it aside, starts empty
	local f=$1 name=$2 aside
	if ! daemon_start -c "$CONF"; then
		fail "$name" "the daemon did not start: $(tail -3 "$DAEMON_LOG")"
		return
	fi
	aside=$(ls "$f".corrupt-* 2>/dev/null | head -1)
	if daemon_log_has "msg=\"state file refused, nothing restored; starting empty\" path=$f " &&
		[ -n "$aside" ] && [ "$(mg ban list --all --json | js 'd["count"]')" = 0 ] &&
		[ "$(mg deny list --all --json | js 'd["count"]')" = 0 ] && [ "$(probe 192.0.2.2 "$LAB_GW4" 25)" = ok ]; then
		pass "$name"
	else
		fail "$name" "log: $(grep -E 'state' "$DAEMON_LOG" | tr '\n' '|'); aside '$aside'; bans: $(mg ban list 2>&1 | tr '\n' '|')"
	fi
	rm -f "$f".corrupt-*
}
reboot
f=$(state_file)
sed -i 's/^ban 192.0.2.2 cli/ban 192.0.2.9 cli/' "$f"
refused_case "$f" corrupt_state_refused
note "$(grep -o 'err="[^"]*"' "$DAEMON_LOG" | head -1)"

# ---- a truncated one: the daemon wrote a fresh file; cut its end off ----
mg ban add 192.0.2.2 --ttl 300s >/dev/null
wait_for 5 state_has "ban 192.0.2.2 cli"
reboot
size=$(stat -c %s "$f")
truncate -s $((size - 10)) "$f"
refused_case "$f" truncated_state_refused
note "$(grep -o 'err="[^"]*"' "$DAEMON_LOG" | head -1)"

# ---- the state survives a restart too (pins kept: nothing to restore, file rewritten at exit) ----
mg ban add 192.0.2.10 >/dev/null
daemon_stop TERM
if [ "$DAEMON_RC" = 0 ] && state_has "ban 192.0.2.10 cli" && [ "$(ls "$STATE_DIR" | wc -l)" = 1 ]; then
	pass written_at_exit
else
	fail written_at_exit "rc=$DAEMON_RC; dir: $(ls "$STATE_DIR" | tr '\n' ' ')"
fi

# ---- two pin dirs, two daemons: two files ----
gw ip link add "${IT_PREFIX}x$$" type veth peer name "${IT_PREFIX}y$$" && gw ip link set "${IT_PREFIX}x$$" up &&
	gw ip link set "${IT_PREFIX}y$$" up
daemon_start -c "$CONF"
pid1=$DAEMON_PID log1=$DAEMON_LOG
DAEMON_LOG=$IT_TMP/daemon.b.log
nsenter --net="/run/netns/$LAB_GW_NS" -- "$MG" run -i "${IT_PREFIX}x$$" --pin-dir "$PIN-b" -c "$CONF" >"$DAEMON_LOG" 2>&1 &
DAEMON_PID=$!
wait_for 10 daemon_running_or_dead
"$MG" --pin-dir "$PIN-b" ban add 192.0.2.11 >/dev/null
wait_for 5 grep -qs "ban 192.0.2.11 cli" "$STATE_DIR"/*mgst-$$-b-*.state
files=$(ls "$STATE_DIR")
if [ "$(echo "$files" | wc -l)" = 2 ] && grep -qs "^pin_dir $PIN-b$" "$STATE_DIR"/*mgst-$$-b-*.state &&
	! grep -qs "192.0.2.11" "$(ls "$STATE_DIR"/*.state | grep -v -- "-b-")"; then
	pass two_pin_dirs_two_files
else
	fail two_pin_dirs_two_files "state dir: $(echo "$files" | tr '\n' ' ')"
fi
daemon_stop TERM
DAEMON_PID=$pid1 DAEMON_LOG=$log1
daemon_stop TERM

it_summary
