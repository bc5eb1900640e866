#!/usr/bin/env bash
# mailgate beside another XDP program (xdp-filter from xdp-tools) on one
# veth: `run` never replaces a program it did not attach. It refuses with a
# message naming the program, leaves nothing half-attached or pinned, and
# xdp-filter keeps dropping its port and counting. (libxdp's multi-program
# dispatcher, which would let both run, needs freplace programs; docs/install.md
# says why it is not used. A note records whether this kernel could load it.)
set -u
. "$(dirname "$0")/lib.sh"
command -v xdp-filter >/dev/null || { skip test_xdp_coexist "needs xdp-filter (xdp-tools)"; exit 0; }
XF=/sys/fs/bpf/xdp-filter # xdp-filter's own pins: programs/IFACE, its maps
for d in "$XF"/programs/mgxc[0-9]*g; do # of killed runs (their veth is gone)
	pid=${d##*/mgxc}
	pid=${pid%g}
	[ -d "$d" ] && ! kill -0 "$pid" 2>/dev/null && rm -rf "$d"
done
[ -d "$XF/programs" ] && [ -z "$(ls -A "$XF/programs")" ] && rm -rf "$XF"
it_setup mgxc
gwx() { nsenter --net="/run/netns/$LAB_GW_NS" -- "$@"; } # keeps /sys/fs/bpf (ip netns exec hides it)
xf_cleanup() {
	gwx xdp-filter unload "$GWIF" >/dev/null 2>&1
	rmdir /sys/fs/bpf/xdp 2>/dev/null # libxdp's lock dir, when nothing else uses it
}
trap 'xf_cleanup; it_cleanup' EXIT

if gwx xdp-filter load -m native -v "$GWIF" >"$IT_TMP/xf.log" 2>&1; then
	pass xdp_filter_loaded
else
	fail xdp_filter_loaded "$(tail -3 "$IT_TMP/xf.log")"
	exit 1
fi
if grep -q 'Falling back to loading single prog' "$IT_TMP/xf.log"; then
	note "libxdp's dispatcher is unusable here: $(grep -o 'Compatibility check.*' "$IT_TMP/xf.log" | head -1)"
else
	note "xdp-filter runs under libxdp's dispatcher"
fi
gwx xdp-filter port -p tcp 2525 >/dev/null 2>&1 || fail xdp_filter_port "cannot add port 2525"
prog=$(gw ip link show dev "$GWIF" | sed -n 's/.*prog\/xdp id \([0-9]*\) name \([^ ]*\).*/\1 \2/p')
note "on $GWIF: prog $prog"

if daemon_start; then
	fail run_refused "mailgate attached over xdp-filter"
	daemon_stop
else
	wait "$DAEMON_PID" 2>/dev/null
	rc=$?
	name=${prog#* }
	[ "$rc" -eq 1 ] && grep -q "already has an XDP program that mailgate did not attach.*prog_name=$name" "$DAEMON_LOG" &&
		pass run_refused || fail run_refused "rc=$rc: $(tail -2 "$DAEMON_LOG")"
fi
now=$(gw ip link show dev "$GWIF" | sed -n 's/.*prog\/xdp id \([0-9]*\) name \([^ ]*\).*/\1 \2/p')
[ -n "$prog" ] && [ "$now" = "$prog" ] && pass other_program_untouched || fail other_program_untouched "before '$prog', after '$now'"
ls "$PIN"/link_xdp_* >/dev/null 2>&1 && fail no_link_pinned "$(ls "$PIN")" || pass no_link_pinned

# xdp-filter still does its job: 2525 dropped (timeout), 25 served, counted
r25=$(probe 192.0.2.2 "$LAB_GW4" 25 0.8)
r2525=$(probe 192.0.2.2 "$LAB_GW4" 2525 0.8)
[ "$r25" = ok ] && [ "$r2525" = timeout ] && pass xdp_filter_still_filters || fail xdp_filter_still_filters "25: $r25, 2525: $r2525"
# "  2525   dst,tcp   HITS" under "Filtered ports:", and XDP_DROP in the totals
gwx xdp-filter status >"$IT_TMP/xfs.log" 2>&1
hits=$(awk '$1 == "2525" { print $NF }' "$IT_TMP/xfs.log")
drops=$(awk '$1 == "XDP_DROP" { print $2 }' "$IT_TMP/xfs.log")
[ "${hits:-0}" -ge 1 ] && [ "${drops:-0}" -ge 1 ] && pass xdp_filter_counts ||
	fail xdp_filter_counts "port 2525 hits '$hits', XDP_DROP '$drops'"
it_summary
