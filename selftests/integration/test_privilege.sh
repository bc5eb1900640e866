#!/usr/bin/env bash
# Least privilege: the shipped systemd unit's exposure score, and a real
# daemon on a real veth (scripts/lab.sh) that, once loaded and attached,
# holds CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN in its main thread and nothing
# in the threads that parse network input (DNSBL answers, HTTP requests);
# no thread holds CAP_SYS_ADMIN. Then everything still works: lists and bans
# through the pinned maps, a DNSBL verdict from a real rbldnsd, a metrics
# scrape (the census iterator), a SIGHUP reload, the expiry sweep, and the
# adoption of the pinned link after kill -9; `dnsbl check` without -c uses the
# running daemon's config; action = reset on a veth is warned about.
set -u
. "$(dirname "$0")/lib.sh"

# ---- the unit (no lab needed) ----
t_unit_score() {
	local out score
	if ! command -v systemd-analyze >/dev/null; then
		skip unit_exposure "systemd-analyze is not installed"
		return
	fi
	out=$(systemd-analyze security --offline=yes "$ROOT/examples/mailgate.service" 2>&1)
	score=$(echo "$out" | sed -n 's/.*Overall exposure level for mailgate.service: \([0-9.]*\).*/\1/p')
	note "unit exposure: ${score:-?}"
	[ -n "$score" ] && $PYTHON -c "import sys; sys.exit(not float(sys.argv[1]) <= 3.0)" "$score" &&
		pass unit_exposure_at_most_3 || fail unit_exposure_at_most_3 "score ${score:-?}: $(echo "$out" | tail -3)"
}
t_unit_score

it_setup mgtp
command -v rbldnsd >/dev/null || { skip privilege "rbldnsd is not installed"; it_summary; exit $?; }
lab_client_addr 192.0.2.30/24 192.0.2.31/24 192.0.2.32/24 192.0.2.33/24 || { fail setup "client addresses"; exit 1; }

# rbldnsd in the gateway namespace: 192.0.2.30 listed
chmod 755 "$IT_TMP"
mkdir -m 755 "$IT_TMP/zones"
printf '127.0.0.2\n192.0.2.30\n' >"$IT_TMP/zones/bl"
chmod 644 "$IT_TMP/zones/bl"
RPORT=$($PYTHON -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
gw rbldnsd -u nobody -b "127.0.0.1/$RPORT" -r "$IT_TMP/zones" -n -c 0 bl.test:ip4set:bl >"$IT_TMP/rbldnsd.log" 2>&1 &
IT_PIDS+=($!)
rbl_up() { gw "$MG" dnsbl check 127.0.0.2 --sites bl.test --resolvers "127.0.0.1:$RPORT" --no-selftest --timeout 200ms 2>/dev/null | grep -q listed; }
wait_for 10 rbl_up || { fail setup "rbldnsd did not start: $(cat "$IT_TMP/rbldnsd.log")"; exit 1; }

MPORT=$($PYTHON -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
conf_text() { # SYN_BURST
	cat <<EOF
[gate]
ports = smtp:25, submission:587
[limits]
syn_rate = 10/s
syn_burst = $1
prefix_rate = 0/s
max_concurrent = 0
ban_after = 0
[dnsbl]
sites = bl.test*3
threshold = 3
resolvers = 127.0.0.1:$RPORT
timeout = 1s
[allow]
cidrs =
[metrics]
listen = 127.0.0.1:$MPORT
EOF
}
CONF=$(conf_text 20 | conf priv)

CAP_NET_ADMIN=12 CAP_SYS_ADMIN=21 CAP_PERFMON=38 CAP_BPF=39
capeff() { sed -n 's/^CapEff:\s*//p' "$1"; } # /proc/.../status: hex
has_cap() { (( (16#$1 >> $2) & 1 )); }       # HEX CAP
scrape() { gw $PYTHON -c 'import sys, urllib.request
r = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5)
sys.stdout.write(r.read().decode())' "$MPORT"; }

# the capabilities of the running daemon, thread by thread
t_caps() {
	local main want t name eff ok=1 why= sysadmin=0 nthreads=0
	main=$(capeff "/proc/$DAEMON_PID/status")
	want=$(printf '%016x' $(( (1 << CAP_BPF) | (1 << CAP_PERFMON) | (1 << CAP_NET_ADMIN) )))
	[ "$main" = "$want" ] || { ok=0; why+=" main thread CapEff $main, want $want;"; }
	for t in /proc/"$DAEMON_PID"/task/*; do
		nthreads=$((nthreads + 1))
		eff=$(capeff "$t/status")
		name=$(cat "$t/comm")
		has_cap "$eff" $CAP_SYS_ADMIN && { sysadmin=$((sysadmin + 1)); why+=" thread $name has CAP_SYS_ADMIN;"; }
		# every thread other than the main one parses network input: nothing
		if [ "${t##*/}" != "$DAEMON_PID" ] && [ "$eff" != 0000000000000000 ]; then
			ok=0; why+=" thread ${t##*/} ($name) CapEff $eff;"
		fi
	done
	[ "$nthreads" -ge 3 ] || { ok=0; why+=" only $nthreads threads (main, DNSBL, metrics expected);"; }
	note "daemon capabilities: main $main ($(grep -o 'kept=[^ ]*' "$DAEMON_LOG" | tail -1)), $nthreads threads; before: $(grep -o 'before=[^ ]*' "$DAEMON_LOG" | tail -1)"
	[ $ok -eq 1 ] && [ $sysadmin -eq 0 ] && pass "caps_$1" || fail "caps_$1" "$why"
}

if ! daemon_start -c "$CONF"; then
	fail daemon_start "$(tail -5 "$DAEMON_LOG")"
	exit 1
fi
scrape >/dev/null # the metrics thread has met a client
t_caps after_start

# lists and bans through the pinned maps
t_lists_bans() {
	local r1 r2 r3 r4
	mg deny add 192.0.2.31/32 >/dev/null
	r1=$(probe 192.0.2.31 "$LAB_GW4" 25)
	mg deny del 192.0.2.31/32 >/dev/null
	r2=$(probe 192.0.2.31 "$LAB_GW4" 25)
	mg ban add 192.0.2.32 >/dev/null
	r3=$(probe 192.0.2.32 "$LAB_GW4" 25)
	mg ban del 192.0.2.32 >/dev/null
	r4=$(probe 192.0.2.32 "$LAB_GW4" 25)
	[ "$r1/$r2/$r3/$r4" = timeout/ok/timeout/ok ] && pass lists_and_bans ||
		fail lists_and_bans "deny $r1, after del $r2, ban $r3, after del $r4"
}
t_lists_bans

# the DNSBL thread, with no capability, writes its verdict
t_dnsbl() {
	local r
	probe 192.0.2.30 "$LAB_GW4" 25 >/dev/null
	listed() { mg lookup 192.0.2.30 --json 2>/dev/null | grep -q '"listed"'; }
	if wait_for 10 listed; then
		sleep 0.2
		r=$(probe 192.0.2.30 "$LAB_GW4" 25)
		[ "$r" = timeout ] && pass dnsbl_verdict || fail dnsbl_verdict "listed, but the next SYN: $r"
	else
		fail dnsbl_verdict "no listed verdict: $(mg lookup 192.0.2.30 2>&1 | head -5); $(grep -i dnsbl "$DAEMON_LOG" | tail -3)"
	fi
}
t_dnsbl

# `dnsbl check` without -c asks the zones of the running daemon's config (it
# was started with -c, not the default path)
t_dnsbl_check_running() {
	local out rc
	out=$(gw "$MG" --pin-dir "$PIN" dnsbl check 192.0.2.30 --no-selftest 2>&1); rc=$?
	[ $rc -eq 0 ] && echo "$out" | grep -q 'bl.test' && echo "$out" | grep -qi 'listed' &&
		pass dnsbl_check_uses_running_config || fail dnsbl_check_uses_running_config "rc=$rc: $out"
}
t_dnsbl_check_running

# a scrape answers, with the map fill levels from the census iterator
t_metrics() {
	local out
	out=$(scrape 2>&1)
	echo "$out" | grep -q "^mailgate_sources{map=\"mg_src\"}" &&
		! grep -q 'counting by walking' "$DAEMON_LOG" && pass metrics_scrape ||
		fail metrics_scrape "$(echo "$out" | head -3); $(grep census "$DAEMON_LOG")"
}
t_metrics

# SIGHUP: the new burst reaches the data path
t_reload() {
	conf_text 7 >"$CONF"
	daemon_hup
	[ "$(cfg_field syn_burst)" = 7 ] && daemon_log_has 'msg="config reloaded"' && pass sighup_reload ||
		fail sighup_reload "syn_burst $(cfg_field syn_burst); $(grep reload "$DAEMON_LOG" | tail -2)"
}
t_reload

# a reload with an out-of-range rate is refused, naming the key and value,
# and the rate in effect stays
t_reload_bad_rate() {
	local before
	before=$(cfg_field syn_interval_ns)
	conf_text 7 | sed 's|^syn_rate = .*|syn_rate = 1e-20/s|' >"$CONF"
	daemon_hup
	grep -q "config reload failed.*syn_rate.*1e-20/s" "$DAEMON_LOG" && [ "$(cfg_field syn_interval_ns)" = "$before" ] &&
		pass sighup_bad_rate_refused || fail sighup_bad_rate_refused "$(grep 'reload' "$DAEMON_LOG" | tail -2); interval $(cfg_field syn_interval_ns), was $before"
	conf_text 7 >"$CONF"
	daemon_hup
}
t_reload_bad_rate

# action = reset on a veth: the log and status say whether the RSTs reach the
# peer (it must run an XDP program; the lab gives its client end one)
t_reset_veth() {
	local st1 st2 ok=1 why=
	sed -i 's/^\[gate\]$/[gate]\naction = reset/' "$CONF"
	daemon_hup
	daemon_log_has 'runs no XDP program' && { ok=0; why+=" warned although the peer runs XDP;"; }
	st1=$(gw "$MG" --pin-dir "$PIN" status 2>&1)
	echo "$st1" | grep -q 'runs no XDP program' && { ok=0; why+=" status warns although the peer runs XDP;"; }
	client ip link set dev "$LAB_CL_IF" xdp off
	sed -i '/^action = reset$/d' "$CONF"
	daemon_hup
	sed -i 's/^\[gate\]$/[gate]\naction = reset/' "$CONF"
	daemon_hup
	grep -q "level=warn msg=\"a veth whose peer (ifindex [0-9]*, another namespace) runs no XDP program: the RSTs of action = reset are lost" "$DAEMON_LOG" ||
		{ ok=0; why+=" no warning in the log: $(grep -i veth "$DAEMON_LOG");"; }
	st2=$(gw "$MG" --pin-dir "$PIN" status 2>&1) # where the interface is
	echo "$st2" | grep -q "$GWIF: a veth whose peer .* runs no XDP program" ||
		{ ok=0; why+=" status: $(echo "$st2" | head -8 | tr '\n' '|');"; }
	gw "$MG" --pin-dir "$PIN" status --json | $PYTHON -c 'import json, sys; sys.exit("runs no XDP program" not in json.load(sys.stdin)["interfaces"][0]["reset_note"])' ||
		{ ok=0; why+=" no reset_note in status --json;"; }
	lab_peer_xdp
	sed -i '/^action = reset$/d' "$CONF"
	daemon_hup
	[ $ok -eq 1 ] && pass reset_on_veth_warns || fail reset_on_veth_warns "$why"
}
t_reset_veth

# the sweep deletes an expired entry
t_sweep() {
	mg deny add 192.0.2.33/32 --ttl 1s >/dev/null
	wait_for 8 not list_has deny 192.0.2.33/32 && daemon_log_has 'msg="deny entry expired" cidr=192.0.2.33/32' &&
		pass expiry_sweep || fail expiry_sweep "$(mg deny list 2>&1 | head -3)"
}
t_sweep

# kill -9 and start again, this time with only what the unit's
# CapabilityBoundingSet gives (CAP_BPF CAP_PERFMON CAP_NET_ADMIN, no
# CAP_SYS_ADMIN from the start): the pinned link adopted, the ban kept,
# caps dropped again
t_restart() {
	local real=$MG
	printf '#!/bin/sh\nexec setpriv --bounding-set=-all,+bpf,+perfmon,+net_admin --inh-caps=-all -- "%s" "$@"\n' \
		"$real" >"$IT_TMP/mg-bounded"
	chmod 755 "$IT_TMP/mg-bounded"
	mg ban add 192.0.2.32 >/dev/null
	kill -9 "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null
	DAEMON_PID=
	MG=$IT_TMP/mg-bounded
	daemon_start -c "$CONF"
	r=$?
	MG=$real
	if [ $r -ne 0 ]; then
		fail restart_adopts "$(tail -5 "$DAEMON_LOG")"
		return
	fi
	daemon_log_has 'link=adopted' && [ "$(probe 192.0.2.32 "$LAB_GW4" 25)" = timeout ] &&
		pass restart_adopts || fail restart_adopts "$(grep attached "$DAEMON_LOG")"
	scrape >/dev/null
	t_caps after_restart
}
t_restart

daemon_stop TERM
[ "$DAEMON_RC" = 0 ] && ! xdp_attached && pass sigterm_detaches_without_sys_admin ||
	fail sigterm_detaches_without_sys_admin "rc=$DAEMON_RC attached=$(xdp_attached && echo yes || echo no)"

it_summary
