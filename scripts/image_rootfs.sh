#!/bin/sh
# Assembles the runtime root of the gantry image (used inside the Dockerfile's
# build stage): the binary, exactly the shared libraries it loads (from ldd;
# libcurl.so.4 and its own too: gantry dlopen()s it on first use, so the
# binary's ldd does not list it), the CA bundle, a passwd/group entry for the
# non-root user and a writable /tmp (libh2o spills large buffers there). Nothing else: no shell, no apt.
# Usage: image_rootfs.sh BINARY ROOT
set -eu
bin=$1; root=$2
mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/usr/lib/ssl" "$root/tmp"
cp "$bin" "$root/usr/local/bin/gantry"
curl=$(/sbin/ldconfig -p | awk '$1 == "libcurl.so.4" && $NF ~ /^\// { print $NF; exit }')
[ -n "$curl" ] || { echo "image_rootfs: libcurl.so.4 not found (libcurl4)" >&2; exit 1; }
# "libx.so => /lib/.../libx.so (0x...)" and the loader's own absolute path
{ ldd "$bin"; echo "libcurl.so.4 => $curl (0)"; ldd "$curl"; } | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u |
  while read -r lib; do cp -L --parents "$lib" "$root"; done
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
ln -s /etc/ssl/certs/ca-certificates.crt "$root/usr/lib/ssl/cert.pem"
ln -s /etc/ssl/certs "$root/usr/lib/ssl/certs"
printf 'root:x:0:0:root:/root:/sbin/nologin\ngantry:x:65532:65532:gantry:/nonexistent:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\ngantry:x:65532:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
chmod 1777 "$root/tmp"
