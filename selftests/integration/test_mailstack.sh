#!/usr/bin/env bash
# mailgate in front of a real mail stack: Debian's Postfix (plain smtpd, then
# postscreen with postscreen_dnsbl_sites on the same rbldnsd zone as mailgate)
# and Dovecot (IMAP 143, POP3 110, and SASL for Postfix's submission port),
# all inside the gateway namespace of a lab, behind `mailgate run`; real
# clients (swaks, imaplib, poplib, nettool.py) in the client namespace.
# Every check reads what the servers did: the Maildir on disk, Postfix's
# maillog_file (postlogd), Dovecot's log_path.
#
# The servers are this test's own: each with its own config directory
# (postfix -c DIR with its own queue and data directories; dovecot -c FILE
# with its own base_dir), started and stopped here, never the system's. They
# run in a private mount namespace whose /etc/resolv.conf points at the
# rbldnsd on 127.0.0.1:53 of the gateway namespace (postscreen's dnsblog and
# smtpd's reverse lookups use the system resolver, which takes no port).
#
# Clients: 192.0.2.2 / 2001:db8::2 deliver (good), 192.0.2.3 denied,
# 192.0.2.4 / 2001:db8::4 DNSBL-listed (192.0.2.8 too, under pending = pass), 192.0.2.5 opens many IMAP sessions,
# 192.0.2.7 fails IMAP logins (fail2ban), 192.0.2.6 listed but on mailgate's allow list (postscreen's own DNSBL check
# must see and reject it: the control of the listed case), 198.51.100.20
# noisy; a forged flood from 203.0.113.0/24 (blackholed in the gateway).
set -u
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/f2b.sh"

for need in postfix dovecot swaks rbldnsd unshare; do
	if ! command -v $need >/dev/null && [ ! -x /usr/sbin/$need ]; then
		skip test_mailstack "$need is not installed (scripts/install-deps.sh installs it)"
		exit 0
	fi
done
export PATH=$PATH:/usr/sbin:/sbin
it_setup mgtm nolistener
MAILTOOL="$PYTHON $IT_DIR/mailtool.py"
chmod 755 "$IT_TMP" # the servers' unprivileged users read and write below it
MAIL=$IT_TMP/mail
BOX=$MAIL/lab.test/alice
PASSWORD=mgt-$$-secret
FORGED=203.0.113.0/24

lab_client_addr 192.0.2.3/24 192.0.2.4/24 192.0.2.5/24 192.0.2.6/24 192.0.2.7/24 192.0.2.8/24 2001:db8::4/64 198.51.100.20/24 ||
	{ fail setup "cannot add client addresses"; exit 1; }
gw ip route add blackhole "$FORGED" || { fail setup "cannot add the blackhole route"; exit 1; }

# Stops the servers before lib.sh's cleanup removes the lab (which kills
# whatever is left in its namespaces anyway).
ms_cleanup() {
	f2b_stop
	postfix_stop
	dovecot_stop
	it_cleanup
}
trap ms_cleanup EXIT

# the servers' view of the world: their own resolv.conf, in a mount namespace
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$IT_TMP/resolv.conf"
server() { # CMD...: in the gateway namespace with the lab's resolv.conf
	lab_exec "$LAB_GW_NS" unshare --mount --propagation private -- \
		sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$IT_TMP/resolv.conf" "$@"
}

# ---- rbldnsd: one zone for mailgate and postscreen ----
mkdir -p "$IT_TMP/zones"
printf '127.0.0.2\n192.0.2.4\n192.0.2.6\n192.0.2.8\n' >"$IT_TMP/zones/bl4"
printf '::ffff:7f00:2\n2001:db8::4\n' >"$IT_TMP/zones/bl6"
chmod 755 "$IT_TMP/zones" && chmod 644 "$IT_TMP/zones"/*
gw rbldnsd -u nobody -b 127.0.0.1/53 -r "$IT_TMP/zones" -n -f -c 0 \
	bl.test:ip4set:bl4 bl.test:ip6trie:bl6 >"$IT_TMP/rbldnsd.log" 2>&1 &
IT_PIDS+=($!)

# ---- Dovecot ----
DOVE_CONF=$IT_TMP/dovecot/dovecot.conf
DOVE_LOG=$IT_TMP/dovecot.log
DOVE_PID=
mkdir -p "$IT_TMP/dovecot" "$MAIL"
chown nobody:nogroup "$MAIL"
echo "alice@lab.test:{PLAIN}$PASSWORD:65534:65534::$BOX::" >"$IT_TMP/dovecot/passwd"
chmod 644 "$IT_TMP/dovecot/passwd"
cat >"$DOVE_CONF" <<EOF
# test_mailstack.sh's own Dovecot
base_dir = $IT_TMP/dovecot/run
state_dir = $IT_TMP/dovecot/state
instance_name = dovecot-$IT_ID
log_path = $DOVE_LOG
protocols = imap pop3
listen = $LAB_GW4, $LAB_GW6
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:$MAIL/%d/%n
mail_max_userip_connections = 20
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $IT_TMP/dovecot/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u $IT_TMP/dovecot/passwd
}
service imap-login {
  inet_listener imap {
    port = 143
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 110
  }
  inet_listener pop3s {
    port = 0
  }
}
service auth {
  unix_listener $IT_TMP/dovecot/auth-postfix {
    mode = 0666
  }
}
EOF
dovecot_start() {
	server dovecot -F -c "$DOVE_CONF" >"$IT_TMP/dovecot.out" 2>&1 &
	DOVE_PID=$!
	IT_PIDS+=("$DOVE_PID")
	wait_for 15 grep -qs 'starting up' "$DOVE_LOG" && wait_for 5 test -S "$IT_TMP/dovecot/auth-postfix"
}
dovecot_stop() {
	[ -n "$DOVE_PID" ] || return 0
	kill "$DOVE_PID" 2>/dev/null
	wait "$DOVE_PID" 2>/dev/null
	DOVE_PID=
}

# ---- Postfix: one config directory per flavour ----
PF_DIR=   # the running instance's config directory
PF_LOG=   # and its log
postfix_conf() { # TOP plain|postscreen: config directory TOP/etc, queue TOP/queue, data TOP/data
	local top=$1 dir=$1/etc smtp
	mkdir -p "$dir" "$top/data" "$top/queue"
	chown postfix:postfix "$top/data"
	cat >"$dir/main.cf" <<EOF
# test_mailstack.sh's own Postfix ($2)
compatibility_level = 3.6
queue_directory = $top/queue
data_directory = $top/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $top/postfix.log
maillog_file_prefixes = $IT_TMP
myhostname = mx.lab.test
mydomain = lab.test
myorigin = lab.test
mydestination =
inet_interfaces = $LAB_GW4, [$LAB_GW6]
inet_protocols = all
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
virtual_mailbox_domains = lab.test
virtual_mailbox_base = $MAIL
virtual_mailbox_maps = inline:{ alice@lab.test=lab.test/alice/ }
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_sasl_type = dovecot
smtpd_sasl_path = $IT_TMP/dovecot/auth-postfix
postscreen_dnsbl_sites = bl.test*3
postscreen_dnsbl_threshold = 3
postscreen_dnsbl_action = enforce
postscreen_greet_action = enforce
postscreen_greet_wait = 1s
postscreen_access_list = permit_mynetworks
EOF
	if [ "$2" = postscreen ]; then
		smtp="smtp      inet  n       -       n       -       1       postscreen
smtpd     pass  -       -       n       -       -       smtpd
dnsblog   unix  -       -       n       -       0       dnsblog
tlsproxy  unix  -       -       n       -       0       tlsproxy"
	else
		smtp="smtp      inet  n       -       n       -       -       smtpd"
	fi
	cat >"$dir/master.cf" <<EOF
$smtp
submission inet n       -       n       -       -       smtpd
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}
postfix_start() { # TOP (of postfix_conf)
	PF_DIR=$1/etc
	PF_LOG=$1/postfix.log
	server postfix -c "$PF_DIR" start >"$1/start.out" 2>&1 &&
		wait_for 15 grep -q 'daemon started' "$PF_LOG"
}
postfix_stop() {
	[ -n "$PF_DIR" ] || return 0
	local pid
	pid=$(tr -dc 0-9 <"$PF_DIR/../queue/pid/master.pid" 2>/dev/null)
	server postfix -c "$PF_DIR" stop >/dev/null 2>&1
	[ -n "$pid" ] && wait_for 10 not alive "$pid"
	PF_DIR=
}
alive() { kill -0 "$1" 2>/dev/null; }
pf_log_has() { grep -q -- "$1" "$PF_LOG"; }  # PATTERN (grep)
pf_log_count() { grep -c -- "$1" "$PF_LOG"; } # PATTERN: lines

# ---- mail ----
N_SENT=0 # messages delivered so far (each must land in the Maildir)
deliver() { # SRC DST PORT TAG [swaks args]: swaks from SRC, with TAG as the subject
	local src=$1 dst=$2 port=$3 tag=$4
	shift 4
	client timeout 20 swaks --server "$dst" --port "$port" --local-interface "$src" \
		--from "sender@example.org" --to alice@lab.test --helo client.example.org \
		--header "Subject: $tag" --timeout 8 "$@" >"$IT_TMP/swaks.$tag.log" 2>&1
}
in_mailbox() { grep -qs -- "^Subject: $1\$" "$BOX"/new/* "$BOX"/cur/*; } # TAG
t_deliver() { # NAME SRC PORT [swaks args]: delivered to the Maildir, Postfix logged the source
	local name=$1 src=$2 port=$3 rc tag=mgt-$$-$1
	shift 3
	deliver "$src" "$(dst_of "$src")" "$port" "$tag" "$@"
	rc=$?
	if [ $rc -eq 0 ] && wait_for 10 in_mailbox "$tag" && pf_log_has "connect from .*\[$src\]"; then
		N_SENT=$((N_SENT + 1))
		pass "$name"
	else
		fail "$name" "swaks rc=$rc: $(tail -3 "$IT_TMP/swaks.$tag.log" | tr '\n' ' '); in Maildir: $(in_mailbox "$tag" && echo yes || echo no); postfix: $(grep -- "$src" "$PF_LOG" | tail -2 | tr '\n' ' ')"
	fi
}
t_refused() { # NAME SRC PORT: swaks cannot connect, Postfix never logged the source
	local name=$1 src=$2 port=$3 rc tag=mgt-$$-$1
	deliver "$src" "$(dst_of "$src")" "$port" "$tag" --timeout 2
	rc=$?
	if [ $rc -ne 0 ] && grep -qi 'connect: timeout\|timed out' "$IT_TMP/swaks.$tag.log" &&
		! pf_log_has "\[$src\]" && ! in_mailbox "$tag"; then
		pass "$name"
	else
		fail "$name" "swaks rc=$rc: $(tail -2 "$IT_TMP/swaks.$tag.log" | tr '\n' ' '); postfix: $(grep -- "\[$src\]" "$PF_LOG" | head -2 | tr '\n' ' ')"
	fi
}
# pending = hold: a new source's first SYN waits for its DNSBL verdict (a
# real client retransmits it after 1 s); nettool's connects never wait that long
first_contact() { # SRC PORT
	probe "$1" "$(dst_of "$1")" "$2" 0.9 >/dev/null
	wait_for 5 mg_knows "$1"
}
mg_knows() { mg lookup "$1" 2>/dev/null | grep -q 'clean, score\|listed, score'; } # ADDR: a verdict is in
AUTH=(--auth PLAIN --auth-user alice@lab.test --auth-password "$PASSWORD")

# ---- mailgate ----
CONF=$(conf mailgate <<EOF
[gate]
ports = smtp:25, submission:587, imap:143, pop3:110
keep_attached = no
[limits]
syn_rate = 5/s
syn_burst = 10
prefix_rate = 1000/s
prefix_burst = 2000
max_concurrent = 4
ban_after = 2
ban_window = 60s
# the noisy client's ban (t_noisy) must outlive the cases up to t_reject: about a
# minute on a quiet machine, several on a loaded one; 20m is more than the
# whole test may take (run.sh's 900 s), so it cannot expire before t_reject
ban_time = 20m
flood_hold = 2s
[dnsbl]
sites = bl.test*3
threshold = 3
pending = hold
resolvers = 127.0.0.1:53
timeout = 1s
[allow]
cidrs = 127.0.0.0/8, 192.0.2.6/32
[metrics]
listen = none
EOF
)

# ---- start ----
t0=$SECONDS
if ! dovecot_start; then
	fail dovecot_start "$(tail -5 "$DOVE_LOG" "$IT_TMP/dovecot.out" 2>&1)"
	exit 1
fi
postfix_conf "$IT_TMP/postfix-plain" plain
postfix_conf "$IT_TMP/postfix-postscreen" postscreen
if ! postfix_start "$IT_TMP/postfix-plain"; then
	fail postfix_start "$(cat "$IT_TMP/postfix-plain/start.out"; tail -5 "$IT_TMP/postfix-plain/postfix.log")"
	exit 1
fi
if ! daemon_start -c "$CONF"; then
	fail daemon_start "$(tail -5 "$DAEMON_LOG")"
	exit 1
fi
note "servers and daemon up in $((SECONDS - t0)) s"

# ---- plain smtpd: deliveries over 25 and 587 (SASL through Dovecot), IPv4 and IPv6 ----
t_deliver smtp_v4 "$LAB_CL4" 25
t_deliver smtp_v6 "$LAB_CL6" 25
t_deliver submission_v4 "$LAB_CL4" 587 "${AUTH[@]}"
t_deliver submission_v6 "$LAB_CL6" 587 "${AUTH[@]}"
check submission_sasl_logged pf_log_has "client=unknown\[$LAB_CL6\], sasl_method=PLAIN, sasl_username=alice@lab.test"

# ---- Dovecot: IMAP login + LIST, POP3 STAT see the delivered messages ----
t_imap_pop3() { # NAME SRC
	local name=$1 src=$2 imap pop
	imap=$(client $MAILTOOL imap "$src" "$(dst_of "$src")" alice@lab.test "$PASSWORD")
	pop=$(client $MAILTOOL pop3 "$src" "$(dst_of "$src")" alice@lab.test "$PASSWORD")
	if [ "$imap" = "login ok list=INBOX messages=$N_SENT" ] && [ "$pop" = "login ok messages=$N_SENT octets=${pop##*octets=}" ] &&
		grep -q "imap-login: Info: Login: user=<alice@lab.test>, method=PLAIN, rip=$src," "$DOVE_LOG" &&
		grep -q "pop3-login: Info: Login: user=<alice@lab.test>, method=PLAIN, rip=$src," "$DOVE_LOG"; then
		pass "$name"
	else
		fail "$name" "imap: $imap; pop3: $pop (want $N_SENT messages); dovecot: $(grep "rip=$src" "$DOVE_LOG" | tail -2 | tr '\n' ' ')"
	fi
}
t_imap_pop3 imap_pop3_v4 "$LAB_CL4"
t_imap_pop3 imap_pop3_v6 "$LAB_CL6"

# ---- a denied client never reaches Postfix ----
c0=$(counter drop_deny)
mg deny add 192.0.2.3/32 >/dev/null
t_refused denied_client 192.0.2.3 25
c1=$(counter drop_deny)
[ "$c1" -gt "$c0" ] || fail denied_client_counted "drop_deny $c0 -> $c1"

# ---- a noisy client: rate-limited, then banned; the good one keeps delivering ----
# 30 real SMTP connections in 0.9 s (each closed at once, so never more than a
# few open: the rate limit, not max_concurrent, stops it): about burst 10 +
# 5/s pass, the rest are dropped and the violations ban it.
smtpd_connects() { pf_log_count "smtpd\[[0-9]*\]: connect from unknown\[$1\]"; } # SRC
t_noisy() {
	local noisy=198.51.100.20 res ok seen s0 r
	first_contact "$noisy" 25
	s0=$(smtpd_connects "$noisy")
	res=$(burst "$noisy" "$LAB_GW4" 25 30 0.9 30)
	ok=$(field ok "$res")
	wait_for 10 daemon_log_has "msg=\"ban created\" addr=$noisy .*reason=drop_rate"
	wait_for 10 test "$(smtpd_connects "$noisy")" -ge $((s0 + ok))
	seen=$(($(smtpd_connects "$noisy") - s0))
	r=$(probe "$noisy" "$LAB_GW4" 25 0.9)
	if [ "$ok" -ge 10 ] && [ "$ok" -le 20 ] && [ "$seen" = "$ok" ] && [ "$r" = timeout ] &&
		daemon_log_has "msg=\"ban created\" addr=$noisy .*reason=drop_rate"; then
		pass noisy_rate_limited_banned
	else
		fail noisy_rate_limited_banned "burst: $res; Postfix saw $seen connects; after: $r; $(grep 'ban created' "$DAEMON_LOG" | tail -1)"
	fi
	note "noisy: $res; Postfix logged $seen connects from it; then $r"
}
t_noisy
t_deliver good_delivers_while_noisy_banned "$LAB_CL4" 25

# ---- many parallel IMAP sessions from one client against max_concurrent = 4 ----
t_imap_parallel() {
	local src=192.0.2.5 out c0 c1 logins n
	first_contact "$src" 143
	c0=$(($(counter drop_concurrent) + $(counter drop_ban)))
	: >"$IT_TMP/imap-hold"
	nsenter --net="/run/netns/$LAB_CL_NS" -- $MAILTOOL imap-hold "$src" "$LAB_GW4" alice@lab.test "$PASSWORD" 8 0.9 >"$IT_TMP/imap-hold" 2>&1 &
	local hold=$!
	IT_PIDS+=("$hold")
	wait_for 15 grep -q logged_in= "$IT_TMP/imap-hold"
	out=$(cat "$IT_TMP/imap-hold")
	n=$(conn_count "$src")
	c1=$(($(counter drop_concurrent) + $(counter drop_ban)))
	logins=$(grep -c "imap-login: Info: Login: user=<alice@lab.test>, method=PLAIN, rip=$src," "$DOVE_LOG")
	kill "$hold" 2>/dev/null
	wait "$hold" 2>/dev/null
	if [ "$out" = "connected=4 logged_in=4" ] && [ "$logins" = 4 ] && [ "$n" = 4 ] && [ $((c1 - c0)) = 4 ]; then
		pass imap_parallel_max_concurrent
		note "dovecot: $(grep -- "rip=$src," "$DOVE_LOG" | head -1)"
	else
		fail imap_parallel_max_concurrent "$out; Dovecot logged $logins logins from $src; mailgate counts $n; drop_concurrent + drop_ban +$((c1 - c0))"
	fi
	note "imap parallel: 8 sessions tried: $out; Dovecot logged $logins logins; drop_concurrent + drop_ban +$((c1 - c0))"
}
t_imap_parallel

# ---- fail2ban with Debian's dovecot filter on Dovecot's own log: failed
# IMAP logins ban the source in mailgate, whose next SYN is dropped. Two
# refused logins are 4 matches (Dovecot logs "Password mismatch" and
# "Disconnected ... (auth failed ...)" for each), maxretry is 3. ----
t_fail2ban() {
	local src=192.0.2.7 out r fails
	if ! f2b_available; then
		skip fail2ban_bans_failed_logins "fail2ban is not installed (scripts/install-deps.sh installs it)"
		return
	fi
	f2b_setup dovecot "[dovecot]
enabled = true
logpath = $DOVE_LOG
bantime = 1m"
	if ! f2b_start; then
		fail fail2ban_bans_failed_logins "fail2ban-server did not start: $(tail -3 "$F2B/server.out" "$F2B_LOG" 2>&1 | tr '\n' ' ')"
		return
	fi
	first_contact "$src" 143
	out=$(client $MAILTOOL imap-fail "$src" "$LAB_GW4" alice@lab.test "wrong-$PASSWORD" 2)
	wait_for 15 ban_has "$src"
	r=$(probe "$src" "$LAB_GW4" 143 0.9)/$(probe "$src" "$LAB_GW4" 110 0.9)/$(probe "$src" "$LAB_GW4" 25 0.9)
	fails=$(grep -c "imap-login: Info: Disconnected: .*(auth failed, .*rip=$src," "$DOVE_LOG")
	if [ "$out" = refused=2 ] && [ "$fails" = 2 ] && [ "$r" = timeout/timeout/timeout ] &&
		f2b_log_has "\[dovecot\] Ban $src\$" && [ "$(grep -c "rip=$src," "$DOVE_LOG")" = 2 ]; then
		pass fail2ban_bans_failed_logins
		note "dovecot: $(grep "auth failed.*rip=$src," "$DOVE_LOG" | head -1)"
		note "fail2ban: $(grep "Ban $src" "$F2B_LOG" | head -1)"
	else
		fail fail2ban_bans_failed_logins "client: $out; Dovecot logged $fails failures; banned: $(ban_has "$src" && echo yes || echo no); imap/pop3/smtp after: $r; fail2ban: $(grep -- "$src" "$F2B_LOG" | tail -2 | tr '\n' ' ')"
	fi
	f2b_stop
}
t_fail2ban

# ---- postscreen, with postscreen_dnsbl_sites on mailgate's zone ----
postfix_stop
if ! postfix_start "$IT_TMP/postfix-postscreen"; then
	fail postscreen_start "$(cat "$IT_TMP/postfix-postscreen/start.out"; tail -5 "$IT_TMP/postfix-postscreen/postfix.log")"
	exit 1
fi
ps_connects() { pf_log_count "postscreen\[[0-9]*\]: CONNECT from \[$1\]"; } # SRC
t_postscreen_deliver() { # NAME SRC
	t_deliver "$1" "$2" 25
	[ "$(ps_connects "$2")" -ge 1 ] && pf_log_has "postscreen\[[0-9]*\]: PASS NEW \[$2\]" ||
		fail "$1_postscreen_passed" "$(grep -- "$2" "$PF_LOG" | grep postscreen | tail -2 | tr '\n' ' ')"
}
t_postscreen_deliver postscreen_smtp_v4 "$LAB_CL4"
t_postscreen_deliver postscreen_smtp_v6 "$LAB_CL6"

# the control: listed, but on mailgate's allow list: postscreen sees it, finds
# it in the zone and rejects it (so a missing CONNECT below means mailgate)
t_postscreen_rejects() {
	local src=192.0.2.6 tag=mgt-$$-listed-allowed rc
	deliver "$src" "$LAB_GW4" 25 "$tag"
	rc=$?
	if [ $rc -ne 0 ] && grep -q '<\*\* *550 5.7.1 .*blocked using bl.test' "$IT_TMP/swaks.$tag.log" &&
		[ "$(ps_connects "$src")" -ge 1 ] && pf_log_has "postscreen\[[0-9]*\]: DNSBL rank 3 for \[$src\]" &&
		! in_mailbox "$tag"; then
		pass postscreen_rejects_listed_allowed
		note "postscreen: $(grep -- "postscreen.*$src" "$PF_LOG" | sed 's/.*postscreen/postscreen/' | head -3 | paste -sd'|')"
	else
		fail postscreen_rejects_listed_allowed "swaks rc=$rc: $(grep '<\*\*' "$IT_TMP/swaks.$tag.log" | head -1); postscreen: $(grep -- "$src" "$PF_LOG" | tail -3 | tr '\n' ' ')"
	fi
}
t_postscreen_rejects

# listed: mailgate drops its SYNs, postscreen never logs a CONNECT from it
t_listed() { # NAME SRC
	local name=$1 src=$2 c0 c1 tag=mgt-$$-$1 rc
	c0=$(counter drop_dnsbl)
	deliver "$src" "$(dst_of "$src")" 25 "$tag" --timeout 2
	rc=$?
	c1=$(counter drop_dnsbl)
	if [ $rc -ne 0 ] && [ "$(ps_connects "$src")" = 0 ] && ! pf_log_has "\[$src\]" && [ $((c1 - c0)) -ge 1 ] &&
		mg lookup "$src" | grep -q 'listed, score 3'; then
		pass "$name"
	else
		fail "$name" "swaks rc=$rc: $(tail -1 "$IT_TMP/swaks.$tag.log"); postscreen: $(grep -- "\[$src\]" "$PF_LOG" | head -2 | tr '\n' ' '); drop_dnsbl +$((c1 - c0))"
	fi
}
t_listed listed_v4_never_reaches_postscreen 192.0.2.4
t_listed listed_v6_never_reaches_postscreen 2001:db8::4

# ---- delivery during a forged SYN flood (203.0.113.0/24, blackholed here) ----
t_flood() {
	local mac out sent tag=mgt-$$-during-flood p0 p1 rc
	mac=$(ip -n "$LAB_GW_NS" -br link show dev "$GWIF" | awk '{ print $3 }')
	p0=$(bpftool -j map dump pinned "$PIN/mg_counters" | $NETTOOL counters "$GATE_H" | awk '{ s += $2 } END { print s }')
	client "$MG" synflood -i "$LAB_CL_IF" --dst "$LAB_GW4" --dport 25 --src "$FORGED" --dst-mac "$mac" \
		--rate 20000 --duration 3s --count 60000 >"$IT_TMP/flood.out" 2>&1 &
	local fpid=$!
	IT_PIDS+=("$fpid")
	sleep 0.5
	deliver "$LAB_CL4" "$LAB_GW4" 25 "$tag"
	rc=$?
	alive "$fpid"
	local during=$?
	wait "$fpid"
	out=$(cat "$IT_TMP/flood.out")
	sent=$(echo "$out" | sed -n 's/^frames sent: \([0-9]*\).*/\1/p')
	p1=$(bpftool -j map dump pinned "$PIN/mg_counters" | $NETTOOL counters "$GATE_H" | awk '{ s += $2 } END { print s }')
	if [ $rc -eq 0 ] && [ $during -eq 0 ] && wait_for 10 in_mailbox "$tag" && [ "${sent:-0}" -ge 10000 ] &&
		[ $((p1 - p0)) -ge "$sent" ] && ! pf_log_has "CONNECT from \[203\.0\.113\." &&
		! pf_log_has "connect from [^ ]*\[203\.0\.113\."; then
		N_SENT=$((N_SENT + 1))
		pass delivery_during_flood
	else
		fail delivery_during_flood "swaks rc=$rc (flood still running: $([ $during -eq 0 ] && echo yes || echo no)); flood: $(echo "$out" | tr '\n' ' '); mailgate judged +$((p1 - p0)); forged in Postfix's log: $(grep -c '203\.0\.113\.' "$PF_LOG")"
	fi
	note "flood: $(echo "$out" | sed -n 's/^\(frames sent\|rate\): /\1 /p' | paste -sd' '); mailgate counted $((p1 - p0)) packets meanwhile"
}
t_flood
# the cases below are about a gate out of flood mode: in flood mode an
# unverified source gets a SYN cookie or a silent drop, never the responder
flood_off() { mg stats --json 2>/dev/null | python3 -c 'import json, sys; sys.exit(json.load(sys.stdin)["flood_mode"])'; }
wait_for 20 flood_off || note "flood mode still on 20 s after the flood"

# ---- pending = pass: a listed sender's first connection reaches postscreen
# (and its 550 naming the zone), every later one is dropped silently ----
t_pending_pass() {
	local src=192.0.2.8 r1 r2 n1 n2 tag=mgt-$$-pending-pass
	sed -i 's/^pending = hold$/pending = pass/' "$CONF"
	daemon_hup
	deliver "$src" "$LAB_GW4" 25 "$tag-1"
	r1=$?
	n1=$(ps_connects "$src")
	wait_for 5 mg_knows "$src"
	deliver "$src" "$LAB_GW4" 25 "$tag-2" --timeout 2
	r2=$?
	n2=$(ps_connects "$src")
	if [ $r1 -ne 0 ] && grep -q '<\*\* *550 5.7.1 .*blocked using bl.test' "$IT_TMP/swaks.$tag-1.log" && [ "$n1" = 1 ] &&
		[ $r2 -ne 0 ] && grep -qi 'connect: timeout\|timed out' "$IT_TMP/swaks.$tag-2.log" && [ "$n2" = 1 ]; then
		pass pending_pass_first_reaches_postscreen
	else
		fail pending_pass_first_reaches_postscreen "first: rc=$r1 $(grep '<\*\*' "$IT_TMP/swaks.$tag-1.log" | head -1), postscreen CONNECTs $n1; second: rc=$r2 $(tail -1 "$IT_TMP/swaks.$tag-2.log"), CONNECTs $n2"
	fi
}
t_pending_pass

# ---- listed/denied/banned = reject: the responder answers with the reason,
# at once; the server never sees them; the quotas still apply ----
banner() { client $MAILTOOL banner "$@"; } # SRC DST PORT: "SECONDS FIRST-LINE"
t_reject() {
	local l4 l6 den ban imap pop c0 c1 res ok ans
	printf '[gate]\ndenied = reject\nbanned = reject\n[dnsbl]\nlisted = reject\n' >>"$CONF"
	daemon_hup
	wait_for 5 daemon_log_has 'msg="responder started"'
	l4=$(banner 192.0.2.4 "$LAB_GW4" 25)
	l6=$(banner 2001:db8::4 "$LAB_GW6" 25)
	den=$(banner 192.0.2.3 "$LAB_GW4" 25)
	ban=$(banner 198.51.100.20 "$LAB_GW4" 587)
	imap=$(banner 192.0.2.4 "$LAB_GW4" 143)
	pop=$(banner 192.0.2.4 "$LAB_GW4" 110)
	check_line() { # NAME "SECONDS LINE" WANT
		if [ "${2#* }" = "$3" ] && $PYTHON -c "import sys; sys.exit(not float(sys.argv[1]) < 0.9)" "${2%% *}" &&
			! pf_log_has "CONNECT from \[$4\]"; then
			pass "$1"
		else
			fail "$1" "got '$2' (want '$3' within 0.9 s); postscreen: $(grep -c "CONNECT from \[$4\]" "$PF_LOG") CONNECTs"
		fi
	}
	check_line reject_listed_v4_smtp "$l4" "554 5.7.1 Service unavailable; client [192.0.2.4] blocked using bl.test" 192.0.2.4
	check_line reject_listed_v6_smtp "$l6" "554 5.7.1 Service unavailable; client [2001:db8::4] blocked using bl.test" 2001:db8::4
	check_line reject_denied_smtp "$den" "554 5.7.1 Service unavailable; client [192.0.2.3] is on this server's deny list" 192.0.2.3
	check_line reject_banned_submission "$ban" "421 4.7.1 Service unavailable; client [198.51.100.20] is temporarily banned for abuse, try again later" 198.51.100.20
	check_line reject_listed_imap "$imap" "* BYE [UNAVAILABLE] client [192.0.2.4] blocked using bl.test" 192.0.2.4
	check_line reject_listed_pop3 "$pop" "-ERR [SYS/PERM] client [192.0.2.4] blocked using bl.test" 192.0.2.4
	note "responder: ${l4#* } (in ${l4%% *} s)"
	check reject_lookup_says_so eval 'mg lookup 192.0.2.4 | grep -q "^next SYN: REJECT (reject_dnsbl: "'

	# swaks, as a sending MTA would see it
	deliver 192.0.2.4 "$LAB_GW4" 25 "mgt-$$-reject-swaks" --timeout 5
	grep -q '<\*\* *554 5.7.1 Service unavailable; client \[192.0.2.4\] blocked using bl.test' "$IT_TMP/swaks.mgt-$$-reject-swaks.log" &&
		! in_mailbox "mgt-$$-reject-swaks" && pass reject_swaks_sees_554 ||
		fail reject_swaks_sees_554 "$(grep '<\*\*\|\*\*\*' "$IT_TMP/swaks.mgt-$$-reject-swaks.log" | head -2 | tr '\n' ' ')"

	# a listed source hammering: its quota still applies (burst 10 at 5/s),
	# and its violations ban it (then answered as banned: banned = reject)
	c0=$(($(counter reject_dnsbl) + $(counter reject_ban)))
	res=$(burst 192.0.2.4 "$LAB_GW4" 25 30 0.9 30)
	c1=$(($(counter reject_dnsbl) + $(counter reject_ban)))
	ok=$(field ok "$res")
	if [ "$ok" -le 20 ] && [ "$ok" -ge 1 ] && [ $((c1 - c0)) = "$ok" ] && ! pf_log_has "CONNECT from \[192.0.2.4\]"; then
		pass reject_quota_applies
	else
		fail reject_quota_applies "burst: $res; reject_dnsbl + reject_ban +$((c1 - c0)); postscreen CONNECTs: $(grep -c 'CONNECT from \[192.0.2.4\]' "$PF_LOG")"
	fi
	note "listed source, 30 connects in 0.9 s: $res, answered $((c1 - c0))"
}
t_reject

# every delivered message is in the mailbox, seen by POP3 after the flood
t_imap_pop3 mailbox_complete_after_flood "$LAB_CL4"

# ---- the daemon stops, its program stays attached: no responder, so the
# refusals are dropped again (and never reach postscreen) ----
t_reject_after_stop() {
	local r n
	sed -i 's/^keep_attached = no$/keep_attached = yes/' "$CONF"
	daemon_hup
	daemon_stop TERM
	r=$(probe 192.0.2.4 "$LAB_GW4" 25 0.9)
	n=$(ps_connects 192.0.2.4)
	[ "$DAEMON_RC" = 0 ] && xdp_attached && [ "$(cfg_field reject)" = 0 ] && [ "$r" = timeout ] && [ "$n" = 0 ] &&
		pass reject_falls_back_to_drop_without_daemon ||
		fail reject_falls_back_to_drop_without_daemon "rc=$DAEMON_RC attached=$(xdp_attached && echo yes || echo no) cfg.reject=$(cfg_field reject) listed: $r, postscreen CONNECTs $n"
}
t_reject_after_stop

postfix_stop
dovecot_stop
note "run time $((SECONDS - t0)) s"
it_summary
