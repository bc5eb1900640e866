#!/usr/bin/env bash
# Per-class syn_rate / syn_burst with real TCP through a real daemon on a
# real veth (scripts/lab.sh): with the defaults (syn_rate = 10/s,
# imap:30/s; syn_burst = 20, imap:100), a webmail front end logging in 15
# times a second over IMAP for 6 s is never dropped nor banned, while an
# SMTP source at the same pace is rate-limited; a reload to imap:5/s
# (syn_burst imap:10) limits IMAP too; `lookup` shows the class's rate. Also, in the same lab, the two
# cases where `lookup` once disagreed with the data path: an expired /32
# inside an active /24 deny, and a zone exclusion !ADDR inside a listed /24.
#
# Client addresses: 192.0.2.3 (IMAP), .4 (SMTP), .5 (IMAP after the
# reload), .9 and .10 (the lookup cases); connect timeouts 0.9 s (a drop is
# "timeout"; the SYN retransmission after 1 s is never waited for).
set -u
. "$(dirname "$0")/lib.sh"
it_setup mgcr

nsenter --net="/run/netns/$LAB_GW_NS" -- $NETTOOL listen 143 >"$IT_TMP/imap.log" 2>&1 &
IT_PIDS+=($!)
wait_for 5 grep -q listening "$IT_TMP/imap.log" || { fail setup "IMAP listener did not start"; exit 1; }
lab_client_addr 192.0.2.3/24 192.0.2.4/24 192.0.2.5/24 192.0.2.9/24 192.0.2.10/24 ||
	{ fail setup "cannot add client addresses"; exit 1; }

conf_text() { # ["key = value" ...]: [limits] lines; the rates left at their defaults unless given
	cat <<EOF
[gate]
ports = smtp:25, imap:143
keep_attached = no
[limits]
$(printf '%s\n' "$@")
[allow]
cidrs =
[metrics]
listen = none
EOF
}
CONF=$(conf_text | conf run)
daemon_start -c "$CONF" || { fail daemon_start "$(tail -3 "$DAEMON_LOG")"; it_summary; exit 1; }

# ---- the defaults: IMAP at 15/s passes, SMTP at 15/s does not ----
t_defaults() {
	local imap smtp
	client_bg "$IT_TMP/imap.out" burst 192.0.2.3 "$LAB_GW4" 143 90 0.9 66.7
	local imap_pid=$BG_PID
	client_bg "$IT_TMP/smtp.out" burst 192.0.2.4 "$LAB_GW4" 25 90 0.9 66.7
	wait "$imap_pid" "$BG_PID"
	imap=$(cat "$IT_TMP/imap.out") smtp=$(cat "$IT_TMP/smtp.out")
	note "IMAP 15/s for 6 s: $(echo "$imap" | cut -d' ' -f1-4)"
	note "SMTP 15/s for 6 s: $(echo "$smtp" | cut -d' ' -f1-4)"
	[ "$(field ok "$imap")" = 90 ] && ! ban_has 192.0.2.3 && pass imap_15_per_s_passes ||
		fail imap_15_per_s_passes "$imap; banned: $(ban_has 192.0.2.3 && echo yes || echo no)"
	[ "$(field timeout "$smtp")" -gt 0 ] && [ "$(counter drop_rate)" -gt 0 ] && pass smtp_15_per_s_limited ||
		fail smtp_15_per_s_limited "$smtp; drop_rate $(counter drop_rate)"
}

# ---- lookup names the class's rate ----
t_lookup_rate() {
	local imap smtp
	rate_of() { mg lookup "$1" --port "$2" --json |
		$PYTHON -c 'import json,sys; print([round(s["rate_per_s"]) for s in json.load(sys.stdin)["steps"] if s["step"] == "rate"][0])'; }
	imap=$(rate_of 192.0.2.3 143) smtp=$(rate_of 192.0.2.3 25)
	[ "$imap" = 30 ] && [ "$smtp" = 10 ] && pass lookup_class_rate || fail lookup_class_rate "imap $imap/s, smtp $smtp/s"
}

# ---- a reload to imap:5/s (burst imap:10): IMAP at 15/s is limited too ----
t_reload() {
	local out
	conf_text "syn_rate = 10/s, imap:5/s" "syn_burst = 20, imap:10" >"$CONF"
	daemon_hup
	[ "$(cfg_field syn_rate_classes)" = 8 ] || { fail reload_class_rate "syn_rate_classes $(cfg_field syn_rate_classes)"; return; }
	out=$(burst 192.0.2.5 "$LAB_GW4" 143 45 0.9 66.7 | cut -d' ' -f1-4)
	note "IMAP 15/s for 3 s after syn_rate = 10/s, imap:5/s: $out"
	[ "$(field ok "$out")" -gt 0 ] && [ "$(field timeout "$out")" -gt 0 ] && pass reload_class_rate ||
		fail reload_class_rate "$out"
}

# ---- the two lookup cases: what lookup says, the real SYN does ----
lookup_reason() { mg lookup "$1" --json | sed -n 's/.*"reason":"\([a-z_]*\)".*/\1/p'; }
t_lookup_lists() {
	local zone=$IT_TMP/zone.txt r9 r10 p9 p10
	mg deny add 192.0.2.0/24 >/dev/null && mg deny add 192.0.2.9 --ttl 1s >/dev/null
	sleep 1.2 # the /32 has expired; the /24 has not
	r9=$(lookup_reason 192.0.2.9) p9=$(probe 192.0.2.9 "$LAB_GW4" 25 0.9)
	[ "$r9" = drop_deny ] && [ "$p9" = timeout ] && pass lookup_expired_32_in_denied_24 ||
		fail lookup_expired_32_in_denied_24 "lookup $r9, the SYN: $p9"
	mg deny del 192.0.2.0/24 >/dev/null
	printf '192.0.2.0/24\n!192.0.2.10\n' >"$zone"
	mg zone load "$zone" >/dev/null 2>&1 || { fail lookup_zone_exclusion "zone load: $(mg zone load "$zone" 2>&1)"; return; }
	r10=$(lookup_reason 192.0.2.10) p10=$(probe 192.0.2.10 "$LAB_GW4" 25 0.9)
	[ "$r10" = pass_ok ] && [ "$p10" = ok ] && [ "$(lookup_reason 192.0.2.9)" = drop_deny ] &&
		pass lookup_zone_exclusion || fail lookup_zone_exclusion "lookup $r10, the SYN: $p10"
}

t_defaults
t_lookup_rate
t_reload
t_lookup_lists
daemon_stop
it_summary
