#!/usr/bin/env bash
# Every SYN is judged however it is wrapped, with the real kernel behind the
# gate: SYNs from the client namespace sent by scapy (fragsyn.py) as two
# IPv4 fragments, an IPv6 atomic fragment, two IPv6 fragments, and behind 7
# and 9 destination-options headers. The server's kernel reassembles them
# and answers each with a SYN-ACK (checked with the source allowed); from a
# denied source none is answered (drop_deny); a chain longer than the walk
# is dropped whatever its source (drop_unparsed) unless unparsed = pass.
set -u
. "$(dirname "$0")/lib.sh"
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import scapy' 2>/dev/null ||
	{ skip test_fragments "needs python3-scapy"; exit 0; }
it_setup mgtf

JUDGED="v4_two_fragments v6_atomic v6_two_fragments v6_ext7"
conf_with() { # UNPARSED
	conf frag <<EOF
[gate]
ports = smtp:25
unparsed = $1

[limits]
syn_rate = 0/s
prefix_rate = 0/s
max_concurrent = 0
ban_after = 0

[metrics]
listen = none
EOF
}
GW_MAC=$(ip -n "$LAB_GW_NS" -br link show "$GWIF" | awk '{ print $3 }')
frag_syns() { # CASE...: "CASE synack|none" lines
	nsenter --net="/run/netns/$LAB_CL_NS" -- /usr/bin/python3 "$IT_DIR/fragsyn.py" "$LAB_CL_IF" "$GW_MAC" \
		"$LAB_CL4" "$LAB_GW4" "$LAB_CL6" "$LAB_GW6" 25 "$@"
}
answer() { echo "$OUT" | awk -v c="$1" '$1 == c { print $2 }'; } # CASE: synack|none

CONF=$(conf_with drop)
daemon_start -c "$CONF" || { fail daemon "did not start: $(tail -3 "$DAEMON_LOG")"; exit 1; }

# a denied source: nothing is answered
list_add deny "$LAB_CL4/32"
list_add deny "$LAB_CL6/128"
deny0=$(counter drop_deny)
unp0=$(counter drop_unparsed)
OUT=$(frag_syns $JUDGED v6_ext9)
for c in $JUDGED v6_ext9; do
	check "denied_$c" [ "$(answer $c)" = none ]
done
check denied_counted_drop_deny [ "$(($(counter drop_deny) - deny0))" -ge 4 ]
check ext9_counted_drop_unparsed [ "$(($(counter drop_unparsed) - unp0))" -ge 1 ]

# the same source allowed: the kernel answers every judged form
list_del deny "$LAB_CL4/32"
list_del deny "$LAB_CL6/128"
OUT=$(frag_syns $JUDGED v6_ext9)
for c in $JUDGED; do
	check "allowed_$c" [ "$(answer $c)" = synack ]
done
check allowed_v6_ext9_still_dropped [ "$(answer v6_ext9)" = none ]

# unparsed = pass: the operator lets long chains through, the kernel answers
conf_with pass >/dev/null
daemon_hup
OUT=$(frag_syns v6_ext9)
check unparsed_pass_v6_ext9 [ "$(answer v6_ext9)" = synack ]
check unparsed_pass_counted [ "$(counter pass_unparsed)" -ge 1 ]

daemon_stop
it_summary
