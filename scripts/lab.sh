#!/usr/bin/env bash
# lab.sh: a two-namespace lab for mailgate. A "gateway" namespace (the mail
# server, where mailgate runs) and a "client" namespace, joined by one veth
# pair, with documentation addresses only:
#
#   ID-gw  GWIF  192.0.2.1/24  2001:db8::1/64  <== veth ==>  CLIF  192.0.2.2/24  2001:db8::2/64  ID-cl
#
# Extra client addresses (lab_client_addr) may come from 192.0.2.0/24,
# 198.51.100.0/24, 203.0.113.0/24 or 2001:db8::/32; the gateway gets an
# on-link route back to each. Nothing in the lab has a route anywhere else.
#
# ID is PREFIX-PID (e.g. mgt-4242): `lab.sh clean PREFIX` removes what a
# killed run of PREFIX left behind (namespaces, their processes, and pin
# dirs /sys/fs/bpf/PREFIX-PID*) for every PID that is no longer alive.
#
# As a command:  scripts/lab.sh up ID | down ID | clean PREFIX
# As a library:  . scripts/lab.sh; lab_up ID; lab_exec "$LAB_GW_NS" CMD...; lab_down ID
# Namespaces are entered with nsenter --net, not `ip netns exec`, which
# remounts /sys and so hides /sys/fs/bpf and every pin.

LAB_GW4=192.0.2.1
LAB_CL4=192.0.2.2
LAB_GW6=2001:db8::1
LAB_CL6=2001:db8::2

lab_names() { # ID: sets LAB_GW_NS LAB_CL_NS LAB_GW_IF LAB_CL_IF
	local short=${1//-/}
	short=${short:0:13}
	LAB_GW_NS=$1-gw
	LAB_CL_NS=$1-cl
	LAB_GW_IF=${short}g
	LAB_CL_IF=${short}c
}

lab_exec() { # NS CMD...: run CMD in the network namespace NS (pins stay visible)
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

lab_up() { # ID
	lab_names "$1"
	ip netns add "$LAB_GW_NS" || return 1
	ip netns add "$LAB_CL_NS" || { ip netns del "$LAB_GW_NS"; return 1; }
	ip link add name "$LAB_GW_IF" netns "$LAB_GW_NS" type veth peer name "$LAB_CL_IF" netns "$LAB_CL_NS" ||
		{ lab_down "$1"; return 1; }
	local ns ifc
	for ns in "$LAB_GW_NS" "$LAB_CL_NS"; do
		ip -n "$ns" link set lo up
	done
	ip -n "$LAB_GW_NS" addr add "$LAB_GW4/24" dev "$LAB_GW_IF"
	ip -n "$LAB_GW_NS" addr add "$LAB_GW6/64" dev "$LAB_GW_IF" nodad
	ip -n "$LAB_CL_NS" addr add "$LAB_CL4/24" dev "$LAB_CL_IF"
	ip -n "$LAB_CL_NS" addr add "$LAB_CL6/64" dev "$LAB_CL_IF" nodad
	ip -n "$LAB_GW_NS" link set "$LAB_GW_IF" up
	ip -n "$LAB_CL_NS" link set "$LAB_CL_IF" up
	lab_peer_xdp
	for ifc in 1 2 3 4 5 6 7 8 9 10; do # wait (up to 2s) until the link is up
		ip -n "$LAB_GW_NS" -br link show "$LAB_GW_IF" | grep -q 'LOWER_UP' && break
		sleep 0.2
	done
}

# A veth delivers frames sent with XDP (XDP_TX: mailgate's RSTs in reset
# mode, on a natively attached gateway end) only to a peer that runs an XDP
# program. lab_peer_xdp attaches a pass-through program to the client end,
# the first built one of LAB_PASS_PROGS (OBJECT:PROGRAM under .output), and
# sets LAB_PEER_XDP to yes or no.
LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB_PASS_PROGS=${LAB_PASS_PROGS:-"sink.bpf.o:sink_pass"}
lab_peer_xdp() {
	local p obj
	LAB_PEER_XDP=no
	for p in $LAB_PASS_PROGS; do
		obj=$LAB_ROOT/${OUTPUT:-.output}/${p%%:*}
		[ -f "$obj" ] || continue
		ip -n "$LAB_CL_NS" link set dev "$LAB_CL_IF" xdpdrv obj "$obj" program "${p#*:}" 2>/dev/null &&
			{ LAB_PEER_XDP=yes; return 0; }
	done
	return 1
}

lab_client_addr() { # ADDR/LEN...: add client addresses (and the gateway's route back)
	local a net
	for a in "$@"; do
		case $a in
		*:*) ip -n "$LAB_CL_NS" addr add "$a" dev "$LAB_CL_IF" nodad || return 1
		     net=$(lab_prefix6 "${a%/*}") ;;
		*)   ip -n "$LAB_CL_NS" addr add "$a" dev "$LAB_CL_IF" || return 1
		     net=${a%.*}.0/24 ;;
		esac
		case $net in
		192.0.2.0/24|2001:db8::/64) ;;
		*) ip -n "$LAB_GW_NS" route replace "$net" dev "$LAB_GW_IF" || return 1 ;;
		esac
	done
}

lab_prefix6() { # ADDR: its /64
	"${PYTHON:-python3}" -c 'import ipaddress,sys; print(ipaddress.ip_network(sys.argv[1] + "/64", strict=False))' "$1"
}

lab_down() { # ID: remove the lab, and first the processes left inside it
	local ns pid
	lab_names "$1"
	for ns in "$LAB_GW_NS" "$LAB_CL_NS"; do
		[ -e "/run/netns/$ns" ] || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	return 0
}

lab_clean() { # PREFIX: remove leftovers of dead runs (PREFIX-PID...)
	local prefix=$1 ns pid dir
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case $ns in "$prefix"-*-gw|"$prefix"-*-cl) ;; *) continue ;; esac
		pid=${ns#"$prefix"-}
		pid=${pid%-*}
		case $pid in ''|*[!0-9]*) continue ;; esac
		kill -0 "$pid" 2>/dev/null && continue
		lab_down "$prefix-$pid"
	done
	for dir in /sys/fs/bpf/"$prefix"-*; do
		[ -d "$dir" ] || continue
		pid=${dir#/sys/fs/bpf/"$prefix"-}
		pid=${pid%%[!0-9]*}
		[ -n "$pid" ] || continue
		kill -0 "$pid" 2>/dev/null && continue
		rm -rf "$dir"
	done
	return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	case ${1:-} in
	up)    [ $# -eq 2 ] || { echo "usage: $0 up ID" >&2; exit 2; }
	       lab_up "$2" || exit 1
	       echo "lab $2: $LAB_GW_NS ($LAB_GW_IF $LAB_GW4 $LAB_GW6) <-> $LAB_CL_NS ($LAB_CL_IF $LAB_CL4 $LAB_CL6)" ;;
	down)  [ $# -eq 2 ] || { echo "usage: $0 down ID" >&2; exit 2; }
	       lab_down "$2" ;;
	clean) [ $# -eq 2 ] || { echo "usage: $0 clean PREFIX" >&2; exit 2; }
	       lab_clean "$2" ;;
	*)     echo "usage: $0 up ID | down ID | clean PREFIX" >&2; exit 2 ;;
	esac
fi
