#!/usr/bin/env bash
# Installs the Debian packages one make target needs:
#   scripts/install-deps.sh build   # make (mailgate, the test and bench binaries, man pages)
#   scripts/install-deps.sh test    # make test: build + what the tests run (servers, tools)
#   scripts/install-deps.sh demo    # make demo: build + the lab's tools
#   scripts/install-deps.sh bench   # make bench: test + gnuplot
#   scripts/install-deps.sh deb     # make deb: build + dpkg-dev (dpkg-shlibdeps)
# Quick when everything is there (no root needed then); else installs what is
# missing as root, or names it and fails when not root.
set -euo pipefail

BUILD=(
  make gcc clang llvm pkg-config bpftool
  libbpf-dev libelf-dev zlib1g-dev
  libc-ares-dev libmicrohttpd-dev libinih-dev libjson-c-dev libsystemd-dev libcurl4-openssl-dev
)
DEMO=(iproute2 ethtool util-linux procps python3)
TEST=(
  "${DEMO[@]}" nftables rbldnsd python3-prometheus-client
  postfix dovecot-imapd dovecot-pop3d swaks libio-socket-inet6-perl fail2ban
  dpkg-dev lintian man-db bash-completion systemd xdp-tools python3-scapy
  crowdsec
)
BENCH=("${TEST[@]}" gnuplot-nox)

case "${1:-}" in
build) PKGS=("${BUILD[@]}") ;;
test) PKGS=("${BUILD[@]}" "${TEST[@]}") ;;
demo) PKGS=("${BUILD[@]}" "${DEMO[@]}") ;;
bench) PKGS=("${BUILD[@]}" "${BENCH[@]}") ;;
deb) PKGS=("${BUILD[@]}" dpkg-dev) ;;
*) echo "usage: $0 build|test|demo|bench|deb" >&2; exit 2 ;;
esac

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: make $1 needs the Debian packages ${missing[*]}: run as root" \
    "(make installs them), or apt-get install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# The servers among these (postfix, dovecot, fail2ban, crowdsec) are for the
# tests, which run their own instances: their postinst must neither start nor
# configure system ones (a policy-rc.d refusing every start; Postfix's debconf
# question answered "No configuration"). crowdsec's postinst also registers
# with the Central API (network) unless a credentials file is there.
policy_rc=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  policy_rc=yes
fi
trap '[ -n "$policy_rc" ] && rm -f /usr/sbin/policy-rc.d' EXIT
echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
if [[ " ${missing[*]} " == *" crowdsec "* ]]; then
  mkdir -p /etc/crowdsec
  [ -s /etc/crowdsec/online_api_credentials.yaml ] ||
    echo "# no Central API (mailgate scripts/install-deps.sh)" >/etc/crowdsec/online_api_credentials.yaml
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
