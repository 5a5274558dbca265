#!/bin/sh
# Lets the host drive the simulated lines, over the virtio-serial port gpioctl, one line a command:
#   pull <line> up|down   -> ok         the line's pull (what an input reads), as a button or sensor
#   burst <line> <n>      -> ok         n quick up/down pairs, ending down (contact bounce)
#   get <line>            -> 0|1        what the line is driven to (an output's value)
# A read on a virtio port ends while the host is not connected: it opens the port again.
PORT=/dev/virtio-ports/gpioctl
C=/sys/kernel/config/gpio-sim/edge
while [ ! -e $C/dev_name ]; do sleep 0.2; done
P=/sys/devices/platform/$(cat $C/dev_name)/$(cat $C/bank0/chip_name)
while :; do
  exec 3<>$PORT
  while read -r cmd line arg <&3; do
    case $cmd in
      pull) echo "pull-$arg" > "$P/sim_gpio$line/pull" && echo ok >&3 ;;
      burst) i=0; while [ $i -lt "$arg" ]; do echo pull-up > "$P/sim_gpio$line/pull"; echo pull-down > "$P/sim_gpio$line/pull"; i=$((i+1)); done; echo ok >&3 ;;
      get) cat "$P/sim_gpio$line/value" >&3 ;;
      *) echo "err $cmd" >&3 ;;
    esac
  done
  exec 3>&-
  sleep 0.2
done
