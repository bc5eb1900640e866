#!/bin/bash
# mkdeb.sh: build $OUTPUT/mailgate_VERSION_ARCH.deb with dpkg-deb from a
# staged tree (make deb; needs the binary and the man pages built). What goes
# in, and from where:
#   /usr/sbin/mailgate                           $OUTPUT/mailgate, stripped
#   /lib/systemd/system/mailgate.service         examples/mailgate.service, ExecStart
#                                                on /usr/sbin, no default interface,
#                                                EnvironmentFile=-/etc/default/mailgate,
#                                                RestartPreventExitStatus=2
#   /etc/mailgate/mailgate.conf                  examples/mailgate.conf (conffile)
#   /etc/default/mailgate                        packaging/debian/default (conffile)
#   /etc/fail2ban/action.d/*.conf                $F2B_ACTIONS (conffiles), when present
#   /usr/share/man/man{8,5}/...                  $OUTPUT/man/*
#   /usr/share/bash-completion/completions/mailgate  completion/mailgate.bash
#   /usr/share/doc/mailgate/                     copyright, changelog.gz, README.md, docs/*.md
# Depends come from dpkg-shlibdeps on the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
OUTPUT=${OUTPUT:-.output}
VERSION=${VERSION:?VERSION}
F2B_ACTIONS=${F2B_ACTIONS:-}
PKG=packaging/debian
ARCH=$(dpkg --print-architecture)
STAGE=$OUTPUT/deb/mailgate
DEB=$OUTPUT/mailgate_${VERSION}_${ARCH}.deb
# reproducible: every file gets the changelog's date
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(date -d "$(sed -n 's/^ -- .*>  //p' $PKG/changelog | head -1)" +%s)}

rm -rf "$OUTPUT/deb"
mkdir -p "$STAGE/DEBIAN"
inst() { # MODE SRC DST (DST relative to the package root)
	install -D -m "$1" "$2" "$STAGE/$3"
}

inst 0755 "$OUTPUT/mailgate" usr/sbin/mailgate
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$STAGE/usr/sbin/mailgate"
mkdir -p "$STAGE/lib/systemd/system"
sed -e 's#/usr/local/sbin/mailgate#/usr/sbin/mailgate#' \
	-e '1i # The Debian package: no interface by default. Set MAILGATE_ARGS="-i IFACE ..." in\n# /etc/default/mailgate (or with systemctl edit), then systemctl enable --now mailgate.' \
	-e '/^Environment=MAILGATE_ARGS=/d' \
	-e '/^ExecStart=/i # MAILGATE_ARGS (the interfaces) from /etc/default/mailgate; exit 2 (no\n# interface, bad config) is not retried\nEnvironmentFile=-/etc/default/mailgate\nRestartPreventExitStatus=2' \
	-e 's#^Documentation=.*#Documentation=man:mailgate(8) man:mailgate.conf(5)#' \
	examples/mailgate.service >"$STAGE/lib/systemd/system/mailgate.service"
chmod 0644 "$STAGE/lib/systemd/system/mailgate.service"
inst 0644 examples/mailgate.conf etc/mailgate/mailgate.conf
inst 0644 $PKG/default etc/default/mailgate
for f in $F2B_ACTIONS; do
	inst 0644 "$f" "etc/fail2ban/action.d/${f##*/}"
done
for m in "$OUTPUT"/man/*.[0-9]; do
	sec=${m##*.}
	inst 0644 "$m" "usr/share/man/man$sec/${m##*/}"
	gzip -9n "$STAGE/usr/share/man/man$sec/${m##*/}"
done
inst 0644 completion/mailgate.bash usr/share/bash-completion/completions/mailgate
DOC=usr/share/doc/mailgate
inst 0644 $PKG/copyright $DOC/copyright
inst 0644 $PKG/changelog $DOC/changelog # a native package: changelog.gz, not changelog.Debian.gz
gzip -9n "$STAGE/$DOC/changelog"
inst 0644 README.md $DOC/README.md
for d in docs/*.md; do
	inst 0644 "$d" "$DOC/${d##*/}"
done

for s in postinst prerm postrm; do
	inst 0755 $PKG/$s DEBIAN/$s
done
(cd "$STAGE" && find etc -type f | sed 's#^#/#' | sort) >"$STAGE/DEBIAN/conffiles"

# Depends: the shared libraries the binary links (dpkg-shlibdeps wants a
# debian/control beside it)
mkdir -p "$OUTPUT/deb/src/debian"
printf 'Source: mailgate\n\nPackage: mailgate\nArchitecture: any\n' >"$OUTPUT/deb/src/debian/control"
depends=$(cd "$OUTPUT/deb/src" && dpkg-shlibdeps -O "$(realpath "../mailgate/usr/sbin/mailgate")" 2>/dev/null |
	sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "mkdeb.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
size=$(du -k -s --exclude=DEBIAN "$STAGE" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
	$PKG/control.in >"$STAGE/DEBIAN/control"
(cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
	xargs -0 md5sum) >"$STAGE/DEBIAN/md5sums"
chmod 0644 "$STAGE/DEBIAN/control" "$STAGE/DEBIAN/conffiles" "$STAGE/DEBIAN/md5sums"
find "$STAGE" -type d -exec chmod 0755 {} +
find "$STAGE" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" >/dev/null
echo "  DEB      $DEB"
