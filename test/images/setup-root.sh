#!/usr/bin/env bash
# A clean Debian 12 root in .tmp/debian-root for the package tests: systemd (to run as PID 1 in a
# podman container), Debian's nodejs (the packages' dependency: 18.x on bookworm, as on Raspberry
# Pi OS 12), adduser and init-system-helpers; made once by debootstrap from Debian's mirror, so the
# tests themselves need no network. Needs root and debootstrap (.ci/run installs it).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=.tmp/debian-root
if [ -x "$ROOT/usr/bin/node" ] && [ -x "$ROOT/lib/systemd/systemd" ]; then echo "debian root ready in $ROOT"; exit 0; fi
rm -rf "$ROOT.partial"
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,nodejs,adduser,init-system-helpers,procps \
  bookworm "$ROOT.partial" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >/dev/null
# no getty or network waits in a container; a machine id so the journal keeps logs
chroot "$ROOT.partial" systemctl mask getty@tty1.service console-getty.service systemd-networkd-wait-online.service >/dev/null 2>&1 || true
rm -rf "$ROOT"
mv "$ROOT.partial" "$ROOT"
echo "debian root ready in $ROOT ($(chroot "$ROOT" node --version))"
