#!/usr/bin/env bash
# The Debian package: `make deb` builds .output/mailgate_VERSION_ARCH.deb,
# lintian finds no error, `dpkg -i` installs it (binary, unit, conffiles,
# man pages, completion, docs), `mailgate --version`, `man -w` and
# `systemd-analyze verify` work on the installed files, the maintainer
# scripts neither enable nor start the daemon, and `dpkg -P` leaves no file
# behind (the file lists before and after are compared).
#
# It runs as root on a shared machine: it never touches a mailgate that it
# did not install (an installed package or a /usr/sbin/mailgate of another
# origin: SKIP), and the trap purges what it installed, also on failure.
set -u
IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$IT_DIR/lib.sh"
cd "$ROOT"
OUT=${OUTPUT:-.output}
VERSION=$(sed -n 's/^VERSION *:= *//p' Makefile)
DEB=$OUT/mailgate_${VERSION}_$(dpkg --print-architecture).deb
[ "$(id -u)" -eq 0 ] || { skip test_deb "needs root (dpkg -i)"; exit 0; }
for t in dpkg-deb dpkg-shlibdeps lintian man systemd-analyze; do
	command -v $t >/dev/null || { skip test_deb "needs $t"; exit 0; }
done
if dpkg-query -W -f='${Status}' mailgate 2>/dev/null | grep -q installed; then
	skip test_deb "a mailgate package is installed on this machine; not touching it"
	exit 0
fi
if [ -e /usr/sbin/mailgate ]; then
	skip test_deb "/usr/sbin/mailgate exists and is not from a package; not touching it"
	exit 0
fi
TMP=$(mktemp -d /tmp/test_deb.XXXXXX)
INSTALLED=
cleanup() {
	[ -n "$INSTALLED" ] && dpkg_retry -P mailgate >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# dpkg does not wait for the lock another helper or apt may hold: retry
dpkg_retry() {
	local i
	for ((i = 0; i < 120; i++)); do
		dpkg "$@" >"$TMP/dpkg.log" 2>&1 && return 0
		grep -q 'lock' "$TMP/dpkg.log" || { cat "$TMP/dpkg.log"; return 1; }
		sleep 2
	done
	cat "$TMP/dpkg.log"
	return 1
}
# every path of mailgate's on this machine, outside the package database
snapshot() {
	find /etc /lib/systemd /usr/lib/systemd /usr/sbin /usr/share/man /usr/share/doc \
		/usr/share/bash-completion /var/lib/mailgate -iname '*mailgate*' 2>/dev/null | sort
}

rm -f "$DEB"
if make -s deb >"$TMP/make.log" 2>&1 && [ -f "$DEB" ]; then
	pass build
else
	fail build "$(tail -5 "$TMP/make.log")"
	it_summary
	exit 1
fi
dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's#^\./#/#' >"$TMP/contents"
missing=
for f in /usr/sbin/mailgate /lib/systemd/system/mailgate.service /etc/mailgate/mailgate.conf \
	/etc/default/mailgate /usr/share/man/man8/mailgate.8.gz /usr/share/man/man5/mailgate.conf.5.gz \
	/usr/share/bash-completion/completions/mailgate /usr/share/doc/mailgate/copyright \
	/usr/share/doc/mailgate/changelog.gz $(ls examples/fail2ban/action.d/*.conf 2>/dev/null |
		sed 's#^examples/fail2ban#/etc/fail2ban#'); do
	grep -qxF "$f" "$TMP/contents" || missing+=" $f"
done
[ -z "$missing" ] && pass contents || fail contents "missing:$missing"
dpkg-deb -f "$DEB" Depends >"$TMP/depends"
grep -q 'libbpf1' "$TMP/depends" && grep -q 'libc6' "$TMP/depends" && pass depends ||
	fail depends "$(cat "$TMP/depends")"
dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles >"$TMP/conffiles"
grep -qxF /etc/mailgate/mailgate.conf "$TMP/conffiles" && grep -qxF /etc/default/mailgate "$TMP/conffiles" &&
	pass conffiles || fail conffiles "$(cat "$TMP/conffiles")"
lintian --no-tag-display-limit "$DEB" >"$TMP/lintian" 2>&1
grep -q '^E: ' "$TMP/lintian" && fail lintian_no_errors "$(grep '^E: ' "$TMP/lintian" | head -5)" ||
	pass lintian_no_errors
grep -E '^[WI]: ' "$TMP/lintian" | sed 's/^/  # lintian: /'

snapshot >"$TMP/before"
INSTALLED=1
if dpkg_retry -i "$DEB"; then pass install; else fail install "$(tail -3 "$TMP/dpkg.log")"; fi
v=$(/usr/sbin/mailgate --version 2>&1)
[ "$v" = "mailgate $VERSION" ] && pass version || fail version "$v"
m=$(man -w mailgate 2>&1)
[ "$m" = /usr/share/man/man8/mailgate.8.gz ] && pass man_mailgate || fail man_mailgate "$m"
m=$(man -w 5 mailgate.conf 2>&1)
[ "$m" = /usr/share/man/man5/mailgate.conf.5.gz ] && pass man_mailgate_conf || fail man_mailgate_conf "$m"
out=$(systemd-analyze verify /lib/systemd/system/mailgate.service 2>&1)
[ $? -eq 0 ] && pass systemd_analyze_verify || fail systemd_analyze_verify "$out"
cmp -s /etc/mailgate/mailgate.conf examples/mailgate.conf && pass conffile_is_defaults ||
	fail conffile_is_defaults "differs from examples/mailgate.conf"
out=$(/usr/sbin/mailgate config check /etc/mailgate/mailgate.conf 2>&1)
[ $? -eq 0 ] && pass conffile_checks || fail conffile_checks "$out"
# not enabled, not started: no enablement link, and the interfaces are unset
ls /etc/systemd/system/*/mailgate.service >/dev/null 2>&1 && fail not_enabled "an enablement link exists" ||
	pass not_enabled
! grep -q '^MAILGATE_ARGS' /etc/default/mailgate &&
	! grep -q '^Environment=.*MAILGATE_ARGS' /lib/systemd/system/mailgate.service &&
	grep -qx 'EnvironmentFile=-/etc/default/mailgate' /lib/systemd/system/mailgate.service &&
	pass no_default_interface || fail no_default_interface "$(grep -h MAILGATE_ARGS /etc/default/mailgate /lib/systemd/system/mailgate.service)"
out=$(bash --norc -c '. /usr/share/bash-completion/bash_completion; _completion_loader mailgate; complete -p mailgate' 2>&1)
[[ $out == *"-F _mailgate mailgate"* ]] && pass completion_installed || fail completion_installed "$out"

if dpkg_retry -P mailgate; then pass purge; else fail purge "$(tail -3 "$TMP/dpkg.log")"; fi
INSTALLED=
snapshot >"$TMP/after"
left=$(comm -13 "$TMP/before" "$TMP/after" | tr '\n' ' ')
[ -z "$left" ] && pass nothing_left_behind || fail nothing_left_behind "$left"
dpkg-query -W mailgate >/dev/null 2>&1 && fail package_gone "dpkg still knows mailgate" || pass package_gone

# make install into a DESTDIR: the same man pages and completion
make -s install DESTDIR="$TMP/root" PREFIX=/usr >"$TMP/install.log" 2>&1 || fail make_install "$(tail -3 "$TMP/install.log")"
missing=
for f in /usr/sbin/mailgate /lib/systemd/system/mailgate.service /usr/share/man/man8/mailgate.8 \
	/usr/share/man/man5/mailgate.conf.5 /usr/share/bash-completion/completions/mailgate; do
	[ -f "$TMP/root$f" ] || missing+=" $f"
done
[ -z "$missing" ] && pass make_install || fail make_install "missing:$missing"
it_summary
