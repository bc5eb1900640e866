# shellcheck shell=bash
# f2b.sh: a real fail2ban-server of the test's own, banning through
# examples/fail2ban/action.d/mailgate.conf. Source it after lib.sh and
# it_setup; the server runs in the lab's gateway namespace with its own config
# dir ($IT_TMP/fail2ban), socket, pid file and database (never the system's
# instance), and is stopped on exit.
#
#   f2b_require          exits with one SKIP line when fail2ban is not installed
#   f2b_available        true when it is
#   f2b_setup FILTER JAILS
#                        config dir with Debian's filter.d/FILTER.conf (and
#                        common.conf) and the mailgate action; jail.conf is a
#                        [DEFAULT] (polling backend, filter FILTER, the action
#                        on this test's pin dir) and then JAILS (jail sections)
#   f2b_start / f2b_stop, f2b CMD... (fail2ban-client), f2b_log_has PATTERN

F2B_SERVER=$(command -v fail2ban-server || echo /usr/bin/fail2ban-server)
F2B_FILTERS=/etc/fail2ban/filter.d
F2B=
F2B_LOG=
F2B_PID=

f2b_available() { [ -x "$F2B_SERVER" ] && [ -f "$F2B_FILTERS/dovecot.conf" ]; }
f2b_require() {
	if ! f2b_available; then
		skip "$(basename "$0" .sh)" "fail2ban is not installed (scripts/install-deps.sh installs it)"
		exit 0
	fi
}

f2b_setup() { # FILTER JAILS
	F2B=$IT_TMP/fail2ban
	F2B_LOG=$F2B/fail2ban.log
	mkdir -p "$F2B/filter.d" "$F2B/action.d" "$F2B/jail.d"
	cp "$F2B_FILTERS/$1.conf" "$F2B_FILTERS/common.conf" "$F2B/filter.d/"
	cp "$ROOT/examples/fail2ban/action.d/mailgate.conf" "$F2B/action.d/"
	cat >"$F2B/fail2ban.conf" <<EOF
[Definition]
loglevel = INFO
logtarget = $F2B_LOG
socket = $F2B/fail2ban.sock
pidfile = $F2B/fail2ban.pid
dbfile = $F2B/fail2ban.sqlite3
EOF
	cat >"$F2B/jail.conf" <<EOF
[DEFAULT]
backend = polling
filter = $1
maxretry = 3
findtime = 10m
banaction = mailgate
action = mailgate[pin_dir="$PIN", mailgate="$MG"]

$2
EOF
}

f2b() { lab_exec "$LAB_GW_NS" fail2ban-client -c "$F2B" -s "$F2B/fail2ban.sock" "$@"; }
f2b_log_has() { grep -q -- "$1" "$F2B_LOG"; }
f2b_ready() { # every jail of jail.conf started
	local want
	want=$(grep -c '^\[' "$F2B/jail.conf")
	f2b ping >/dev/null 2>&1 && [ "$(grep -cs "Jail '.*' started" "$F2B_LOG")" -ge $((want - 1)) ]
}
f2b_start() {
	lab_exec "$LAB_GW_NS" "$F2B_SERVER" -c "$F2B" -s "$F2B/fail2ban.sock" -p "$F2B/fail2ban.pid" -x -f \
		>"$F2B/server.out" 2>&1 &
	F2B_PID=$!
	IT_PIDS+=("$F2B_PID")
	wait_for 20 f2b_ready
}
f2b_stop() {
	[ -n "$F2B_PID" ] || return 0
	f2b stop >/dev/null 2>&1
	wait_for 10 not kill -0 "$F2B_PID" 2>/dev/null
	F2B_PID=
}
