#!/usr/bin/env bash
# Installs the Debian packages mailgate's build, tests, demo and benchmarks need.
# Idempotent and quick when everything is already there.
set -euo pipefail

PKGS=(
  make gcc clang llvm pkg-config bpftool
  libbpf-dev libelf-dev zlib1g-dev
  libc-ares-dev libmicrohttpd-dev libinih-dev libjson-c-dev libsystemd-dev libcurl4-openssl-dev
  iproute2 nftables rbldnsd python3 python3-prometheus-client ethtool util-linux procps
  gnuplot-nox
  postfix dovecot-imapd dovecot-pop3d swaks libio-socket-inet6-perl fail2ban
  dpkg-dev lintian man-db bash-completion systemd xdp-tools
  crowdsec
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]} (run as root, or install them)" >&2
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
