#!/usr/bin/env bash
# The CrowdSec bouncer against a real CrowdSec Local API: Debian's crowdsec,
# started by this test inside the lab's gateway namespace (loopback only,
# port 8080 of that namespace) with its own config, database and
# credentials under the test's temp dir, `crowdsec -no-cs` (the Local API
# alone). Never the system instance. Decisions come from `cscli decisions
# add/delete/import`; the daemon polls every 2 s; real TCP from the client
# namespace shows what the data path does.
#
# Cases: bad [crowdsec] values are errors naming the key; an Ip decision
# bans the source within one poll (and `ban list`, `lookup`, metrics show
# origin crowdsec), a Range decision denies the range; deleting them lets
# the sources back; the API killed: the bans stay, the bouncer reports it
# and resumes when the API is back; 100,000 decisions at the daemon's start
# are applied (timed, the rate in the log); SIGHUP with a wrong key or
# without lapi_url.
set -u
. "$(dirname "$0")/lib.sh"
since() { awk -v t0="$1" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.2f", t1 - t0 }'; } # T0: seconds since

if ! command -v crowdsec >/dev/null || ! command -v cscli >/dev/null || [ ! -f /etc/crowdsec/config.yaml ]; then
	skip test_crowdsec "needs Debian's crowdsec package (scripts/install-deps.sh)"
	exit 0
fi
it_setup mgtc

POLL=2
CS=$IT_TMP/cs
CS_URL=http://127.0.0.1:8080/
mkdir -p "$CS/data"
gwns() { nsenter --net="/run/netns/$LAB_GW_NS" -- "$@"; }
cscli_() { gwns cscli -c "$CS/config.yaml" --error "$@"; }

# ---- our own CrowdSec: a copy of the system config, every path ours ----
"$PYTHON" - "$CS" <<'EOF'
import re, sys
d = sys.argv[1]
s = open('/etc/crowdsec/config.yaml').read()
rep = {
    r'daemonize: .*': 'daemonize: false',
    r'log_media: .*': 'log_media: stdout',
    r'log_dir: .*': 'log_dir: %s/' % d,
    r'data_dir: .*': 'data_dir: %s/data/' % d,
    r'db_path: .*': 'db_path: %s/data/crowdsec.db\n  use_wal: true' % d,
    r'listen_uri: .*': 'listen_uri: 127.0.0.1:8080',
    r'(client:\n(?:.*\n)*?\s*)credentials_path: .*': r'\1credentials_path: %s/local_api_credentials.yaml' % d,
}
for k, v in rep.items():
    s, n = re.subn(k, v, s, count=1)
    assert n == 1, k
# no Central API, no metrics listener
s = re.sub(r'\n    online_client:.*\n      credentials_path: .*', '', s)
s = re.sub(r'(prometheus:\n\s*)enabled: true', r'\1enabled: false', s)
open(d + '/config.yaml', 'w').write(s)
EOF
grep -q "$CS/data/crowdsec.db" "$CS/config.yaml" && ! grep -q online_api_credentials "$CS/config.yaml" ||
	{ fail setup "cannot write the CrowdSec config"; exit 1; }

CS_PID=
cs_start() {
	# nsenter itself, not the gwns function: $! must be crowdsec, not a subshell
	nsenter --net="/run/netns/$LAB_GW_NS" -- crowdsec -c "$CS/config.yaml" -no-cs >>"$CS/crowdsec.log" 2>&1 &
	CS_PID=$!
	IT_PIDS+=("$CS_PID")
	wait_for 20 gwns "$PYTHON" -c 'import socket; socket.create_connection(("127.0.0.1", 8080), 1)' 2>/dev/null
}
cs_stop() { [ -n "$CS_PID" ] && kill "$CS_PID" 2>/dev/null && wait "$CS_PID" 2>/dev/null; CS_PID=; }
cs_start || { fail setup "crowdsec did not start: $(tail -3 "$CS/crowdsec.log")"; exit 1; }
cscli_ machines add mgt-test --auto -f "$CS/local_api_credentials.yaml" --url "$CS_URL" >/dev/null 2>&1 ||
	{ fail setup "cscli machines add failed"; exit 1; }
KEY=$(cscli_ bouncers add "mailgate-$$" -o raw 2>/dev/null | tail -1)
[ -n "$KEY" ] || { fail setup "cscli bouncers add gave no key"; exit 1; }
echo "$KEY" >"$IT_TMP/cs.key"
chmod 600 "$IT_TMP/cs.key"

lab_client_addr 192.0.2.3/24 198.51.100.5/24 || { fail setup "cannot add client addresses"; exit 1; }

# ---- bad values: errors naming the key ----
bad_conf() { # NAME EXPECTED-KEY CONTENT
	local f out
	f=$(printf '%s\n' "$3" | conf "bad-$1")
	out=$("$MG" config check "$f" 2>&1)
	if [ $? -eq 2 ] && echo "$out" | grep -q "$f:[0-9]*: key '$2'"; then
		pass "config_$1"
	else
		fail "config_$1" "expected an error naming '$2', got: $out"
	fi
}
bad_conf url_without_key api_key "$(printf '[crowdsec]\nlapi_url = %s' "$CS_URL")"
bad_conf empty_key api_key "$(printf '[crowdsec]\nlapi_url = %s\napi_key =' "$CS_URL")"
bad_conf bad_url lapi_url "$(printf '[crowdsec]\nlapi_url = ftp://127.0.0.1:8080/\napi_key = x')"
bad_conf bad_poll poll "$(printf '[crowdsec]\nlapi_url = %s\napi_key = x\npoll = 0s' "$CS_URL")"
bad_conf missing_key_file api_key_file "$(printf '[crowdsec]\nlapi_url = %s\napi_key_file = %s/none' "$CS_URL" "$IT_TMP")"

CONF=$(conf run <<EOF
[gate]
ports = smtp:25, submission:587
[limits]
syn_rate = 0/s
prefix_rate = 0/s
max_concurrent = 0
ban_after = 0
[allow]
cidrs =
[metrics]
listen = 127.0.0.1:9433
[crowdsec]
lapi_url = $CS_URL
api_key_file = $IT_TMP/cs.key
poll = ${POLL}s
EOF
)
metrics() { gwns "$PYTHON" -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9433/metrics", timeout=5).read().decode())'; }
metric() { metrics | awk -v m="$1" '$1 == m { print $2 }'; } # NAME{LABELS}: its value
banned_by_cs() { mg ban list 2>/dev/null | grep -q "^$1 .*crowdsec"; }
denied_by_cs() { mg deny list 2>/dev/null | grep -q "^$1 .*crowdsec"; }
dropped() { [ "$(probe "$1" "$LAB_GW4" 25 0.6)" = timeout ]; }
passes() { [ "$(probe "$1" "$LAB_GW4" 25 0.6)" = ok ]; }

# a stand-in for systemd's notify socket: the STATUS line
$NETTOOL notify "$IT_TMP/notify.sock" >"$IT_TMP/notify" 2>&1 &
IT_PIDS+=($!)
wait_for 5 grep -q listening "$IT_TMP/notify"
NOTIFY_SOCKET=$IT_TMP/notify.sock daemon_start -c "$CONF" || { fail daemon_start "$(tail -5 "$DAEMON_LOG")"; exit 1; }
wait_for 10 daemon_log_has 'crowdsec: polling the Local API' ||
	fail bouncer_polls "no successful poll: $(grep crowdsec "$DAEMON_LOG" | tail -3)"
check baseline_passes passes 192.0.2.3

# ---- an Ip decision: a ban within one poll ----
t0=$(date +%s.%N)
cscli_ decisions add --ip 192.0.2.3 --duration 1h >/dev/null
if wait_for $((POLL + 3)) banned_by_cs 192.0.2.3; then
	took=$(since "$t0")
	note "the ban was in the map ${took}s after cscli decisions add (poll ${POLL}s)"
	pass ip_decision_bans_within_a_poll
else
	fail ip_decision_bans_within_a_poll "no crowdsec ban of 192.0.2.3 after $((POLL + 3))s: $(mg ban list 2>&1 | head -3)"
fi
check ip_decision_drops_syn dropped 192.0.2.3
check other_source_passes passes 192.0.2.2
if wait_for 5 grep -q 'STATUS=gating 1 interface(s); crowdsec up: 1 bans, 0 deny ranges' "$IT_TMP/notify"; then
	pass systemd_status_line
else
	fail systemd_status_line "$(grep STATUS "$IT_TMP/notify" | tail -2)"
fi
out=$(mg lookup 192.0.2.3 2>&1)
if echo "$out" | grep -q 'origin crowdsec'; then pass lookup_names_crowdsec; else fail lookup_names_crowdsec "$out"; fi

# ---- a Range decision: a deny entry ----
cscli_ decisions add --range 198.51.100.0/24 --duration 30m >/dev/null
check range_decision_denies wait_for $((POLL + 3)) denied_by_cs 198.51.100.0/24
check range_decision_drops_syn dropped 198.51.100.5

v=$(metric 'mailgate_bans{origin="crowdsec"}')
if [ "$v" = 1 ]; then pass metrics_bans_origin_crowdsec; else fail metrics_bans_origin_crowdsec "mailgate_bans{origin=\"crowdsec\"} = '$v'"; fi
v=$(metric mailgate_crowdsec_decisions_applied_total)
if [ "${v:-0}" -ge 2 ]; then pass metrics_applied; else fail metrics_applied "applied_total = '$v'"; fi
v=$(metric mailgate_crowdsec_last_poll_success_seconds)
now=$(date +%s)
if [ -n "$v" ] && awk -v n="$now" -v v="$v" -v p="$POLL" 'BEGIN { exit !(n - v < p + 3) }'; then pass metrics_last_poll; else fail metrics_last_poll "last poll '$v', now $now"; fi
out=$(mg status 2>&1)
if echo "$out" | grep -q '^crowdsec: up'; then pass status_line; else fail status_line "$(echo "$out" | grep -i crowdsec)"; fi

# ---- deletion lets the source back ----
cscli_ decisions delete --ip 192.0.2.3 >/dev/null
check ip_deletion_unbans wait_for $((POLL + 3)) not banned_by_cs 192.0.2.3
check ip_deletion_passes_syn passes 192.0.2.3
v=$(metric mailgate_crowdsec_decisions_removed_total)
if [ "${v:-0}" -ge 1 ]; then pass metrics_removed; else fail metrics_removed "removed_total = '$v'"; fi

# ---- the API away: bans stay; back: the bouncer resumes ----
cscli_ decisions add --ip 192.0.2.3 --duration 1h >/dev/null
wait_for $((POLL + 3)) banned_by_cs 192.0.2.3
cs_stop
wait_for $((POLL * 3)) daemon_log_has 'crowdsec: the Local API is away' ||
	fail outage_noticed "no 'away' line in the log"
sleep "$POLL"
if banned_by_cs 192.0.2.3 && denied_by_cs 198.51.100.0/24 && dropped 192.0.2.3 && dropped 198.51.100.5; then
	pass outage_keeps_bans
else
	fail outage_keeps_bans "$(mg ban list 2>&1 | head -3)"
fi
v=$(metric mailgate_crowdsec_up)
if [ "$v" = 0 ]; then pass outage_metric_down; else fail outage_metric_down "mailgate_crowdsec_up = '$v'"; fi
cs_start || fail outage_restart "crowdsec did not start again"
cscli_ decisions add --ip 192.0.2.2 --duration 10m >/dev/null
# the retry waits at most 1+2+4+8 s by now
check outage_resumes wait_for 20 banned_by_cs 192.0.2.2
check outage_resumed_keeps_old banned_by_cs 192.0.2.3
v=$(metric mailgate_crowdsec_up)
if [ "$v" = 1 ]; then pass outage_metric_up; else fail outage_metric_up "mailgate_crowdsec_up = '$v'"; fi
cscli_ decisions delete --ip 192.0.2.2 >/dev/null

# ---- SIGHUP: a wrong key is refused (the entries stay); no lapi_url stops the bouncer ----
sed "s|^api_key_file = .*|api_key = wrong-key-$$|" "$CONF" >"$IT_TMP/wrongkey.conf"
cp "$CONF" "$IT_TMP/good.conf"
cp "$IT_TMP/wrongkey.conf" "$CONF"
daemon_hup
if wait_for 10 daemon_log_has 'refused the poll (api_key' && banned_by_cs 192.0.2.3; then
	pass reload_wrong_key_refused_entries_stay
else
	fail reload_wrong_key_refused_entries_stay "$(grep crowdsec "$DAEMON_LOG" | tail -2)"
fi
grep -v '^\(lapi_url\|api_key\)' "$IT_TMP/good.conf" >"$CONF"
daemon_hup
out=$(mg status 2>&1)
if daemon_log_has 'crowdsec bouncer stopped' && echo "$out" | grep -q '^crowdsec: off'; then
	pass reload_without_url_stops
else
	fail reload_without_url_stops "$(echo "$out" | grep crowdsec)"
fi
cp "$IT_TMP/good.conf" "$CONF"

# ---- 100,000 decisions at start ----
daemon_stop
"$PYTHON" -c '
print("duration,scope,value,reason,type")
for i in range(100000):
    print("4h,ip,2001:db8:100:%x::%x,mgt-bulk,ban" % (i >> 12, i & 0xfff))' >"$IT_TMP/bulk.csv"
t0=$(date +%s.%N)
cscli_ decisions import -i "$IT_TMP/bulk.csv" >/dev/null 2>&1 || fail bulk_import "cscli decisions import failed"
note "cscli decisions import of 100000: $(since "$t0")s"
t0=$(date +%s.%N)
daemon_start -c "$CONF" || { fail bulk_daemon_start "$(tail -5 "$DAEMON_LOG")"; exit 1; }
line=
bulk_applied() { line=$(grep 'crowdsec decisions applied' "$DAEMON_LOG" | grep 'full=yes' | tail -1); [ -n "$line" ]; }
if wait_for 60 bulk_applied; then
	took=$(since "$t0")
	n=$(field new "$line")
	note "daemon start to 100k applied: ${took}s; $(echo "$line" | grep -o 'new=.*')"
	if [ "${n:-0}" -ge 100000 ]; then pass bulk_100k_applied; else fail bulk_100k_applied "$line"; fi
else
	fail bulk_100k_applied "no full answer applied: $(grep crowdsec "$DAEMON_LOG" | tail -3)"
fi
v=$(metric 'mailgate_bans{origin="crowdsec"}')
if [ "${v:-0}" -ge 100001 ]; then pass bulk_bans_in_map; else fail bulk_bans_in_map "mailgate_bans{origin=\"crowdsec\"} = '$v'"; fi
out=$(mg lookup 2001:db8:100:18:: 2>&1)
if echo "$out" | grep -q 'origin crowdsec'; then pass bulk_lookup; else fail bulk_lookup "$out"; fi

daemon_stop
cs_stop
it_summary
