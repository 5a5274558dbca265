#!/usr/bin/env bash
# Puts kubeedge-lite into a Raspberry Pi OS or Debian disk image, offline, without mounting it:
# the packages go into the root filesystem (ext4, written with debugfs) with a oneshot unit that
# installs them with apt-get at the first boot, from those files (no network needed on the gateway);
# a first-boot file (cloud address, token, node name, labels) goes onto the boot partition (FAT,
# written with mtools), where keadm firstboot finds it once the packages are in.
#
#   images/flash.sh --image 2024-11-19-raspios-bookworm-arm64-lite.img --arch arm64 \
#       --firstboot kubeedge.yaml [--debs images/out] [--nodejs]
#
# --nodejs also puts Debian's nodejs and the libraries it needs for that architecture into the image
# (apt-get download on this machine: Raspberry Pi OS Lite has no nodejs); leave it out for an image
# that has nodejs already. Needs sfdisk, debugfs (e2fsprogs) and mtools. The image is changed in place.
set -euo pipefail

IMAGE='' ARCH=arm64 FIRSTBOOT='' NODEJS=0
DEBS="$(cd "$(dirname "$0")" && pwd)/out"
while [ $# -gt 0 ]; do
  case "$1" in
    --image) IMAGE=$2; shift 2 ;;
    --arch) ARCH=$2; shift 2 ;;
    --debs) DEBS=$2; shift 2 ;;
    --firstboot) FIRSTBOOT=$2; shift 2 ;;
    --nodejs) NODEJS=1; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "flash.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "flash.sh: $*" >&2; exit 1; }
[ -f "$IMAGE" ] || die "no image at '${IMAGE}' (--image)"
case "$ARCH" in amd64|arm64|armhf) ;; *) die "--arch is amd64, arm64 or armhf, not $ARCH" ;; esac
[ -z "$FIRSTBOOT" ] || [ -f "$FIRSTBOOT" ] || die "no first-boot file at $FIRSTBOOT"
for t in sfdisk debugfs mcopy; do command -v $t >/dev/null || die "$t is missing (apt-get install fdisk e2fsprogs mtools)"; done
PKGS=()
for p in kubeedge-lite-keadm_*_all.deb kubeedge-lite-edge_*_"$ARCH".deb; do
  f=$(ls "$DEBS"/$p 2>/dev/null | sort -V | tail -1) || true
  [ -n "$f" ] || die "no $p in $DEBS (npm run images)"
  PKGS+=("$f")
done

# the partitions: the boot one (FAT) and the root one (Linux), by type, as sfdisk reads the table
read -r BOOT_START ROOT_START < <(sfdisk -J "$IMAGE" | node -e '
  const t = JSON.parse(require("fs").readFileSync(0, "utf8")).partitiontable;
  const fat = /^(b|c|e|ef|EBD0A0A2-B9E5-4433-87C0-68B6B72699C7|C12A7328-F81F-11D2-BA4B-00A0C93EC93B)$/i;
  const linux = /^(83|0FC63DAF-8483-4772-8E79-3D69D8477DE4|4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709|B921B045-1DF0-41C3-AF44-4C6F280D3FAE|69DAD710-2CE4-4E3C-B16C-21A1D49ABED3)$/i;
  const boot = t.partitions.find((p) => fat.test(p.type));
  const root = t.partitions.find((p) => linux.test(p.type));
  if (!root) { console.error("flash.sh: no Linux root partition in the image"); process.exit(1); }
  console.log(`${boot ? boot.start * (t.sectorsize ?? 512) : -1} ${root.start * (t.sectorsize ?? 512)}`);')
ROOTFS="$IMAGE?offset=$ROOT_START"
debugfs -R "stats" "$ROOTFS" 2>/dev/null | grep -q 'Filesystem magic number:  0xEF53' || die "the root partition at byte $ROOT_START is not ext4"

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
cp "${PKGS[@]}" "$STAGE/"
if [ "$NODEJS" = 1 ]; then
  # Debian 12's nodejs and what it needs beyond a base system
  (cd "$STAGE" && apt-get download -qq $(for p in nodejs libnode108 libbrotli1 libc-ares2 libicu72 libnghttp2-14 libuv1; do echo "$p:$ARCH"; done) node-acorn node-xtend node-cjs-module-lexer node-undici node-busboy) \
    || die "cannot download nodejs for $ARCH: dpkg --add-architecture $ARCH && apt-get update"
fi
cat > "$STAGE/kubeedge-install.service" <<'EOF'
# Put here by kubeedge-lite's images/flash.sh: installs the packages it left in
# /var/cache/kubeedge-lite/debs (no network needed), then runs the first-boot join.
[Unit]
Description=Install kubeedge-lite from /var/cache/kubeedge-lite/debs
ConditionPathExistsGlob=/var/cache/kubeedge-lite/debs/*.deb
After=local-fs.target

[Service]
Type=oneshot
Environment=DEBIAN_FRONTEND=noninteractive
ExecStart=/bin/sh -c 'apt-get install -y --no-install-recommends /var/cache/kubeedge-lite/debs/*.deb'
ExecStartPost=/bin/rm -rf /var/cache/kubeedge-lite/debs
ExecStartPost=/bin/systemctl --no-block start kubeedge-firstboot.service

[Install]
WantedBy=multi-user.target
EOF

# debugfs writes into the ext4 at its offset; mkdir of a folder that exists only complains
{
  for d in /var /var/cache /var/cache/kubeedge-lite /var/cache/kubeedge-lite/debs /etc /etc/systemd /etc/systemd/system /etc/systemd/system/multi-user.target.wants; do echo "mkdir $d"; done
  for f in "$STAGE"/*.deb; do echo "write $f /var/cache/kubeedge-lite/debs/$(basename "$f")"; done
  echo "rm /etc/systemd/system/kubeedge-install.service"
  echo "write $STAGE/kubeedge-install.service /etc/systemd/system/kubeedge-install.service"
  echo "rm /etc/systemd/system/multi-user.target.wants/kubeedge-install.service"
  echo "symlink /etc/systemd/system/multi-user.target.wants/kubeedge-install.service /etc/systemd/system/kubeedge-install.service"
} > "$STAGE/debugfs.cmds"
debugfs -w -f "$STAGE/debugfs.cmds" "$ROOTFS" >"$STAGE/debugfs.log" 2>&1 || { cat "$STAGE/debugfs.log" >&2; die "debugfs could not write the root filesystem"; }
if grep -E 'write: |symlink: |Could not allocate|No free space' "$STAGE/debugfs.log" | grep -v 'File not found by ext2_lookup' >&2; then die "debugfs could not write everything (is the root partition full?)"; fi
echo "flash.sh: $(ls "$STAGE"/*.deb | wc -l) packages and kubeedge-install.service written into the root filesystem"

if [ -n "$FIRSTBOOT" ]; then
  [ "$BOOT_START" -ge 0 ] || die "no FAT boot partition in the image for $FIRSTBOOT"
  mcopy -o -i "$IMAGE@@$BOOT_START" "$FIRSTBOOT" ::kubeedge.yaml || die "mtools could not write the boot partition"
  echo "flash.sh: $FIRSTBOOT written to the boot partition as kubeedge.yaml (/boot/firmware/kubeedge.yaml on the gateway)"
fi
