#!/bin/sh
# Installs gatewayd: binaries, systemd units, sysusers/tmpfiles entries, the journald catalog,
# gatewayctl completions, the man pages and the example configuration. Honours DESTDIR and PREFIX.
#
#   contrib/install.sh                       build (release) and install under /usr/local
#   PREFIX=/usr DESTDIR=/tmp/pkg contrib/install.sh
#   contrib/install.sh --from DIR            install binaries already built in DIR
set -eu
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
cd "$(dirname "$0")/.."
from=
if [ "${1:-}" = "--from" ]; then from=$2; fi
# The Swift runtime is linked in statically: the installed binaries need nothing from the
# toolchain, and gatewayd touches fewer pages (idle RSS 20-21 MiB against 24-28 MiB dynamic).
build="swift build -c release --static-swift-stdlib --scratch-path .build-static"
if [ -z "$from" ]; then
  $build --product gatewayd
  $build --product gatewayctl
  from=$($build --show-bin-path)
fi
root=$DESTDIR$PREFIX
install -d "$root/bin" "$root/lib/systemd/system" "$root/lib/sysusers.d" "$root/lib/tmpfiles.d" \
  "$root/lib/systemd/catalog" "$root/share/bash-completion/completions" "$root/share/zsh/site-functions" \
  "$root/share/fish/vendor_completions.d" "$root/share/doc/gatewayd" \
  "$root/share/man/man1" "$root/share/man/man5" "$root/share/man/man8"
# Stripped: the debug sections are most of a static Swift binary (gatewayctl 90 MB before, a few
# after). gatewayd keeps its symbol table (32 -> 50 MB on disk, never mapped, so no memory): it
# exports no symbols (linked with --no-export-dynamic), and without .symtab a core dump's or a
# crash's backtrace would name none of its frames. A Debian package moves it to -dbgsym.
install -m 0755 -s "$from/gatewayctl" "$root/bin/"
install -m 0755 "$from/gatewayd" "$root/bin/"
strip --strip-debug "$root/bin/gatewayd"
for unit in gatewayd.service gatewayd@.service gatewayd.socket gatewayd@.socket; do
  sed "s|/usr/local/bin/|$PREFIX/bin/|g" "systemd/$unit" > "$root/lib/systemd/system/$unit"
  chmod 0644 "$root/lib/systemd/system/$unit"
done
install -m 0644 systemd/gatewayd.sysusers "$root/lib/sysusers.d/gatewayd.conf"
install -m 0644 systemd/gatewayd.tmpfiles "$root/lib/tmpfiles.d/gatewayd.conf"
install -m 0644 contrib/gatewayd.catalog "$root/lib/systemd/catalog/gatewayd.catalog"
install -m 0644 contrib/completions/gatewayctl.bash "$root/share/bash-completion/completions/gatewayctl"
install -m 0644 contrib/completions/gatewayctl.zsh "$root/share/zsh/site-functions/_gatewayctl"
install -m 0644 contrib/completions/gatewayctl.fish "$root/share/fish/vendor_completions.d/gatewayctl.fish"
install -m 0644 contrib/gatewayd.yaml "$root/share/doc/gatewayd/gatewayd.yaml.example"
install -m 0644 man/gatewayctl.1 "$root/share/man/man1/gatewayctl.1"
install -m 0644 man/gatewayd.yaml.5 "$root/share/man/man5/gatewayd.yaml.5"
install -m 0644 man/gatewayd.8 "$root/share/man/man8/gatewayd.8"
if [ -z "$DESTDIR" ]; then
  cat <<EOT
Installed under $PREFIX. To enable:
  systemd-sysusers && systemd-tmpfiles --create
  install -m 0640 -g gatewayd $PREFIX/share/doc/gatewayd/gatewayd.yaml.example /etc/gatewayd/gatewayd.yaml
  journalctl --update-catalog && systemctl daemon-reload
  systemctl enable --now gatewayd.socket gatewayd.service
EOT
fi
