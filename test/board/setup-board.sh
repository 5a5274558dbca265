#!/usr/bin/env bash
# The board the board tests boot: Debian 12 arm64 as a Raspberry Pi or an ARM gateway runs it, made
# from Debian's own packages, and kept in a cache outside the clone, keyed by what makes it (this
# script, its guest files, and the host's Debian mirror's kernel version):
#   - a root file system (mmdebstrap, minbase): systemd, udev, Debian's arm64 kernel, nodejs (18),
#     libgpiod's tools, e2fsprogs; root logs in on the console by itself;
#   - the kernel's GPIO simulator (gpio-sim), which Debian's kernel lacks, built out of tree from
#     Debian's own kernel source with the arm64 cross compiler, and a chip of 8 lines made at boot
#     (label "edge-sim"), whose inputs the host drives through a virtio-serial port (gpioctl);
#   - an agent that runs the host's commands over a second virtio-serial port (exec);
#   - an ext4 image of it (no loop mount), and the kernel and initrd to boot it directly.
# Cold: about 8 minutes on 2 cores (mmdebstrap under qemu-user is most of it); warm: nothing.
# Needs root, qemu-user-static, binfmt_misc, mmdebstrap and arch-test, the aarch64 cross compiler,
# qemu-system-arm and qemu-utils (.ci/run installs them). Prints the folder it made.
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD
CACHE=${KUBEEDGE_BOARD_CACHE:-/var/cache/kubeedge-lite/board}
N="nice -n 10"
export DEBIAN_FRONTEND=noninteractive

# arm64 programs run through qemu-user while the root file system is made
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
arch-test arm64 >/dev/null || { echo "setup-board.sh: this machine cannot run arm64 programs (qemu-user-static, binfmt_misc)" >&2; exit 1; }
if ! dpkg --print-foreign-architectures | grep -qx arm64; then dpkg --add-architecture arm64; apt-get update -qq || true; fi
[ -n "$(apt-cache madison linux-image-arm64:arm64 2>/dev/null)" ] || apt-get update -qq || true

# the kernel the mirror has now: a new one makes a new image (its headers must match it)
KPKG=$(apt-cache show linux-image-arm64:arm64 | awk '/^Depends:/{print $2; exit}' | tr -d ,)
KEY=$(cat setup-board.sh guest/* | sha256sum | cut -c1-16)-${KPKG#linux-image-}
OUT=$CACHE/$KEY
if [ -f "$OUT/ready" ]; then echo "$OUT"; exit 0; fi
rm -rf "$OUT" && mkdir -p "$OUT" && cd "$OUT"
# the same mirror and suites as the host's apt, so the kernel matches the headers downloaded below
M=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
M=${M:-http://deb.debian.org/debian}; M=${M%/}; M=${M%/debian}

echo "setup-board.sh: making the arm64 root file system (mmdebstrap, a few minutes)" >&2
# MODULES=list keeps update-initramfs (under qemu-user) short: the initrd needs virtio and ext4 only
$N mmdebstrap --arch=arm64 --variant=minbase --mode=root --quiet \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --essential-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" && echo MODULES=list > "$1/etc/initramfs-tools/conf.d/zz-small.conf" && printf "virtio_pci\nvirtio_blk\ncrc32c_generic\next4\n" > "$1/etc/initramfs-tools/modules"' \
  --include=systemd-sysv,udev,kmod,linux-image-arm64,initramfs-tools,nodejs,iproute2,procps,busybox,less,e2fsprogs,dbus,gpiod \
  --customize-hook='echo pi-board > "$1/etc/hostname"' \
  --customize-hook='echo "/dev/vda / ext4 rw,noatime 0 1" > "$1/etc/fstab"' \
  --customize-hook='chroot "$1" passwd -d root' \
  --customize-hook='mkdir -p "$1/etc/systemd/system/serial-getty@ttyAMA0.service.d" && printf "[Service]\nExecStart=\nExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,57600,38400,9600 %%I \$TERM\n" > "$1/etc/systemd/system/serial-getty@ttyAMA0.service.d/autologin.conf"' \
  --customize-hook='printf "[Match]\nName=en* eth*\n[Network]\nDHCP=ipv4\n" > "$1/etc/systemd/network/10-dhcp.network" && chroot "$1" systemctl enable systemd-networkd' \
  --customize-hook='chroot "$1" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_reap.service e2scrub_all.timer fstrim.timer man-db.timer systemd-timesyncd.service || true' \
  bookworm rootfs \
  "deb $M/debian bookworm main" "deb $M/debian bookworm-updates main" "deb $M/debian-security bookworm-security main"

KVER=$(ls rootfs/lib/modules | head -1)          # 6.1.0-NN-arm64
KVERSION=$(dpkg-query --admindir=rootfs/var/lib/dpkg -W -f '${Version}' "linux-image-$KVER")
KABI=${KVER%-arm64}
echo "setup-board.sh: kernel $KVER ($KVERSION): building gpio-sim" >&2
# Debian's arm64 kernel has GPIO_SYSFS and GPIO_CDEV but not GPIO_SIM (nor IRQ_SIM): built here from
# the kernel's own source. irq_sim is built-in only upstream: it lacks MODULE_LICENSE, and
# irq_to_desc() is not exported, so its one call becomes generic_handle_irq().
mkdir -p kernel && cd kernel
$N apt-get download -qq "linux-headers-$KVER:arm64=$KVERSION" "linux-headers-$KABI-common=$KVERSION" "linux-kbuild-6.1:amd64=$KVERSION" "linux-source-6.1=$KVERSION"
for d in linux-headers-*.deb linux-kbuild-6.1_*amd64.deb; do dpkg-deb -x "$d" hdr; done
sed -i "s|include /usr/src/|include $OUT/kernel/hdr/usr/src/|" "hdr/usr/src/linux-headers-$KVER/Makefile"
dpkg-deb --fsys-tarfile linux-source-6.1_*.deb | tar -xO ./usr/src/linux-source-6.1.tar.xz | $N xz -dc | tar -x --wildcards 'linux-source-6.1/drivers/gpio/*' 'linux-source-6.1/kernel/irq/irq_sim.c'
mkdir -p mod && cp linux-source-6.1/drivers/gpio/gpio-sim.c linux-source-6.1/drivers/gpio/gpiolib.h linux-source-6.1/kernel/irq/irq_sim.c mod/
sed -i 's|handle_simple_irq(irq_to_desc(irqnum));|generic_handle_irq(irqnum);|' mod/irq_sim.c
printf '\n#include <linux/module.h>\nMODULE_LICENSE("GPL");\n' >> mod/irq_sim.c
echo 'obj-m := irq_sim.o gpio-sim.o' > mod/Kbuild
$N make -s -C "hdr/usr/src/linux-headers-$KVER" M="$PWD/mod" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- CC=aarch64-linux-gnu-gcc-12 modules >/dev/null
mkdir -p "../rootfs/lib/modules/$KVER/updates" && cp mod/irq_sim.ko mod/gpio-sim.ko "../rootfs/lib/modules/$KVER/updates/"
cd "$OUT"
chroot rootfs depmod -a "$KVER"

# the guest's side: gpio-sim's chip at boot, the host's control of its lines, and the host's commands
cp "$HERE"/guest/*.sh rootfs/usr/local/sbin/ && chmod 0755 rootfs/usr/local/sbin/*.sh
cp "$HERE"/guest/*.service rootfs/etc/systemd/system/
chroot rootfs systemctl enable gpio-sim.service gpioctl-agent.service exec-agent.service >/dev/null 2>&1

mkdir -p boot && cp "rootfs/boot/vmlinuz-$KVER" boot/vmlinuz && cp "rootfs/boot/initrd.img-$KVER" boot/initrd.img
NODEV=$(dpkg-query --admindir=rootfs/var/lib/dpkg -W -f '${Version}' nodejs)
$N mke2fs -q -t ext4 -L root -d rootfs base.img 3G
rm -rf rootfs kernel
echo "kernel $KVER ($KVERSION), nodejs $NODEV" > ready
echo "$OUT"
