#!/bin/bash
# Runs the host's commands, over the virtio-serial port exec, one line each way:
#   host:  <id> <seconds> <base64 of a bash command>
#   guest: <id> <exit code> <base64 of its stdout and stderr>
# (as qemu-guest-agent's guest-exec does, in the few lines the tests need). A read on a virtio port
# ends while the host is not connected: it opens the port again.
PORT=/dev/virtio-ports/exec
while :; do
  exec 3<>$PORT
  while read -r id secs b64 <&3; do
    cmd=$(printf %s "$b64" | base64 -d)
    out=$(timeout --kill-after=5 "$secs" bash -c "$cmd" 2>&1 </dev/null)
    rc=$?
    printf '%s %s %s\n' "$id" "$rc" "$(printf %s "$out" | base64 -w0)" >&3
  done
  exec 3>&-
  sleep 0.2
done
