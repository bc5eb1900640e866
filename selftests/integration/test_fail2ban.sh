#!/usr/bin/env bash
# examples/fail2ban/action.d/mailgate.conf with a real fail2ban-server:
# Debian's dovecot filter reads an auth log this test writes; a source with
# enough failures is banned in mailgate (its SYNs to the lab's listener are
# then dropped by the data path), unbanned after bantime (3 s), IPv4 and
# IPv6; a permanent ban (bantime = -1) until `fail2ban-client unbanip`; a ban
# while `mailgate run` is stopped lands in the pinned maps and is enforced by
# the next run; without pins the ban fails loudly in fail2ban's log.
# fail2ban-server runs in the lab's gateway namespace with its own config
# dir, socket, pid file and database (never the system's instance).
set -u
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/f2b.sh"
f2b_require
it_setup mgtf
AUTHLOG=$IT_TMP/auth.log

lab_client_addr 192.0.2.9/24 2001:db8::9/64 192.0.2.10/24 192.0.2.11/24 192.0.2.12/24 ||
	{ fail setup "cannot add client addresses"; exit 1; }

CONF=$(conf mailgate <<EOF
[gate]
ports = smtp:25, submission:587
keep_attached = yes
[limits]
syn_rate = 100/s
syn_burst = 100
ban_after = 0
[metrics]
listen = none
EOF
)

# ---- fail2ban: the Debian-shipped dovecot filter on a log this test writes ----
# each source meets one jail (mailgate keeps one ban per address: see
# docs/postfix.md): dovecot (3 s) .9 and 2001:db8::9, dovecot-forever
# (permanent) .10 and .11, dovecot-nopins (a pin dir that does not exist) .12
: >"$AUTHLOG"
f2b_setup dovecot "$(cat <<EOF
[dovecot]
enabled = true
logpath = $AUTHLOG
bantime = 3
ignoreip = 192.0.2.10 192.0.2.11 192.0.2.12

[dovecot-forever]
enabled = true
logpath = $AUTHLOG
bantime = -1
ignoreip = 192.0.2.9 2001:db8::9 192.0.2.12

[dovecot-nopins]
enabled = true
logpath = $AUTHLOG
bantime = 1h
action = mailgate[pin_dir="$PIN-none", mailgate="$MG"]
ignoreip = 192.0.2.9 2001:db8::9 192.0.2.10 192.0.2.11
EOF
)"
f2b_cleanup() {
	f2b_stop
	it_cleanup
}
trap f2b_cleanup EXIT

fail_auth() { # SRC COUNT: COUNT failed Dovecot logins from SRC, as Dovecot logs them to syslog
	local i
	for i in $(seq "$2"); do
		echo "$(date '+%b %e %H:%M:%S') mx dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<alice@lab.test>, method=PLAIN, rip=$1, lip=192.0.2.1, session=<mgtf$$x$i>" >>"$AUTHLOG"
	done
}
ban_ttl() { # ADDR: seconds left of its ban, "never" or "none"
	mg --json ban list | $PYTHON -c 'import json, sys
for e in json.load(sys.stdin)["entries"]:
    if e.get("address") == sys.argv[1]:
        v = e.get("expires_in_s")
        print("never" if v is None else v)
        break
else:
    print("none")' "$1"
}

if ! daemon_start -c "$CONF"; then
	fail daemon_start "$(tail -5 "$DAEMON_LOG")"
	exit 1
fi
if ! f2b_start; then
	fail fail2ban_start "$(tail -5 "$F2B/server.out" "$F2B_LOG" 2>&1)"
	exit 1
fi

# ---- ban after maxretry, dropped by the data path, unbanned after bantime ----
t_ban_unban() { # NAME SRC
	local name=$1 src=$2 dst r0 r1 r2 ttl c0 c1 t0 banned_after gone_after
	dst=$(dst_of "$src")
	r0=$(probe "$src" "$dst" 25)
	c0=$(counter drop_ban)
	t0=$SECONDS
	fail_auth "$src" 3
	wait_for 10 ban_has "$src"
	banned_after=$((SECONDS - t0))
	ttl=$(ban_ttl "$src")
	r1=$(probe "$src" "$dst" 25)
	c1=$(counter drop_ban)
	wait_for 15 f2b_log_has "\[dovecot\] Unban $src\$"
	wait_for 5 not ban_has "$src"
	gone_after=$((SECONDS - t0))
	r2=$(probe "$src" "$dst" 25)
	if [ "$r0/$r1/$r2" = ok/timeout/ok ] && [ $((c1 - c0)) -ge 1 ] && [ "$ttl" != never ] && [ "$ttl" != none ] &&
		[ "$ttl" -le 3 ] && f2b_log_has "\[dovecot\] Ban $src\$" && ! ban_has "$src" &&
		! grep -q "ERROR.*$src" "$F2B_LOG"; then
		pass "$name"
	else
		fail "$name" "connect before/banned/after unban: $r0/$r1/$r2; drop_ban +$((c1 - c0)); mailgate ttl $ttl; fail2ban: $(grep -- "$src" "$F2B_LOG" | tail -3 | tr '\n' ' ')"
	fi
	note "$name: banned in mailgate ${banned_after}s after the 3rd failure (ttl ${ttl}s), gone after ${gone_after}s"
}
t_ban_unban ban_unban_v4 192.0.2.9
t_ban_unban ban_unban_v6 2001:db8::9

# ---- bantime = -1: a ban without a TTL, removed by fail2ban-client unbanip ----
t_permanent() {
	local src=192.0.2.10 ttl r1 r2 out
	fail_auth "$src" 3
	wait_for 10 ban_has "$src"
	ttl=$(ban_ttl "$src")
	r1=$(probe "$src" "$LAB_GW4" 25)
	out=$(f2b set dovecot-forever unbanip "$src" 2>&1)
	wait_for 5 not ban_has "$src"
	r2=$(probe "$src" "$LAB_GW4" 25)
	[ "$ttl" = never ] && [ "$r1/$r2" = timeout/ok ] && ! ban_has "$src" && f2b_log_has "\[dovecot-forever\] Ban $src\$" &&
		! grep -q "ERROR.*$src" "$F2B_LOG" && pass permanent_ban_unbanip ||
		fail permanent_ban_unbanip "mailgate ttl $ttl; connect banned/unbanned: $r1/$r2 ($out); fail2ban: $(grep -- "$src" "$F2B_LOG" | tail -4 | tr '\n' ' ')"
}
t_permanent

# ---- `mailgate run` stopped (keep_attached = yes): the ban goes into the
# pinned map, the attached program enforces it, the next run adopts it ----
t_no_daemon() {
	local src=192.0.2.11 r1 r2 r3 ok=1 why=
	daemon_stop TERM
	xdp_attached || { ok=0; why+=" not attached after stop;"; }
	fail_auth "$src" 3
	wait_for 10 ban_has "$src" || { ok=0; why+=" not banned while stopped;"; }
	r1=$(probe "$src" "$LAB_GW4" 25)
	daemon_start -c "$CONF" || { ok=0; why+=" restart failed: $(tail -2 "$DAEMON_LOG");"; }
	r2=$(probe "$src" "$LAB_GW4" 25)
	f2b set dovecot-forever unbanip "$src" >/dev/null 2>&1
	wait_for 5 not ban_has "$src"
	r3=$(probe "$src" "$LAB_GW4" 25)
	[ "$r1/$r2/$r3" = timeout/timeout/ok ] || { ok=0; why+=" connect stopped/restarted/unbanned: $r1/$r2/$r3;"; }
	[ $ok -eq 1 ] && pass ban_while_daemon_stopped || fail ban_while_daemon_stopped "$why"
}
t_no_daemon

# ---- no pins at all: the ban fails, and fail2ban's log says why ----
t_no_pins() {
	local src=192.0.2.12
	fail_auth "$src" 3
	wait_for 10 f2b_log_has "no mailgate state under $PIN-none"
	if f2b_log_has "\[dovecot-nopins\] Ban $src" && f2b_log_has "ERROR.*no mailgate state under $PIN-none" &&
		! ban_has "$src" && [ ! -e "$PIN-none" ]; then
		pass no_pins_ban_fails_loudly
	else
		fail no_pins_ban_fails_loudly "fail2ban: $(grep -- "nopins\|$PIN-none" "$F2B_LOG" | tail -4 | tr '\n' ' ')"
	fi
	note "no pins: $(grep "ERROR.*$PIN-none" "$F2B_LOG" | head -1 | cut -c1-240)"
}
t_no_pins

f2b_stop
daemon_stop TERM
it_summary
