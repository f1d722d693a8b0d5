#!/bin/sh
# Assembles the runtime root of the gantry image (used inside the Dockerfile's
# build stage): the binary, exactly the shared libraries it loads (from ldd),
# the CA bundle, a passwd/group entry for the non-root user and a writable
# /tmp (libh2o spills large buffers there). Nothing else: no shell, no apt.
# Usage: image_rootfs.sh BINARY ROOT
set -eu
bin=$1; root=$2
mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/usr/lib/ssl" "$root/tmp"
cp "$bin" "$root/usr/local/bin/gantry"
# "libx.so => /lib/.../libx.so (0x...)" and the loader's own absolute path
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u |
  while read -r lib; do cp -L --parents "$lib" "$root"; done
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
ln -s /etc/ssl/certs/ca-certificates.crt "$root/usr/lib/ssl/cert.pem"
ln -s /etc/ssl/certs "$root/usr/lib/ssl/certs"
printf 'root:x:0:0:root:/root:/sbin/nologin\ngantry:x:65532:65532:gantry:/nonexistent:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\ngantry:x:65532:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
chmod 1777 "$root/tmp"
