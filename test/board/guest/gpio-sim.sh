#!/bin/sh
# The board's GPIO: the kernel's simulator (gpio-sim, through configfs), one chip of 8 lines labelled
# edge-sim, as a Pi's pin controller would be. Its lines' pulls are what the host drives (gpioctl).
set -e
modprobe gpio-sim
mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
C=/sys/kernel/config/gpio-sim/edge
if [ ! -d $C ]; then
  mkdir $C $C/bank0
  echo 8 > $C/bank0/num_lines
  echo edge-sim > $C/bank0/label
  echo 1 > $C/live
fi
echo "gpio-sim: $(cat $C/dev_name) $(cat $C/bank0/chip_name)"
