#!/bin/sh
# A Janus on 127.0.0.1 only, to try calltop against: the configs of this
# folder (the ones the tests use), with the WebSocket transport and the
# VideoRoom plugin and nothing else. Needs Debian's `janus` package.
#
#   assets/janus/run-local.sh [WS_PORT]            # default 8188; Ctrl-C stops it
#   RECLAIM_TIMEOUT=10 assets/janus/run-local.sh    # let dropped sessions be claimed
#   calltop --backend janus --server ws://127.0.0.1:8188 --session 1234 --user alice --janus-create-room
set -eu
here=$(cd "$(dirname "$0")" && pwd)
port=${1:-8188}
admin_port=$((port + 1000))
command -v janus >/dev/null 2>&1 || { echo "run-local.sh: no janus binary (apt-get install janus)" >&2; exit 1; }
lib=$(dpkg -L janus 2>/dev/null | grep '/plugins/libjanus_videoroom.so$' | head -n 1)
[ -n "$lib" ] || { echo "run-local.sh: libjanus_videoroom.so not found" >&2; exit 1; }
libdir=$(dirname "$(dirname "$lib")")
dir=$(mktemp -d "${TMPDIR:-/tmp}/calltop-janus-XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
mkdir "$dir/plugins" "$dir/transports" "$dir/events" "$dir/loggers"
ln -s "$libdir/plugins/libjanus_videoroom.so" "$dir/plugins/"
ln -s "$libdir/transports/libjanus_websockets.so" "$dir/transports/"
for f in janus.jcfg janus.transport.websockets.jcfg janus.plugin.videoroom.jcfg; do
  sed -e "s|@DIR@|$dir|g" \
      -e "s|@SERVER_NAME@|calltop-local|g" \
      -e "s|@SESSION_TIMEOUT@|${SESSION_TIMEOUT:-60}|g" \
      -e "s|@RECLAIM_TIMEOUT@|${RECLAIM_TIMEOUT:-0}|g" \
      -e "s|@ADMIN_SECRET@|${ADMIN_SECRET:-janusoverlord}|g" \
      -e "s|@TOKEN_AUTH@|false|g" \
      -e "s|@API_SECRET_LINE@||g" \
      -e "s|@ADMIN_KEY_LINE@||g" \
      -e "s|@WS_PORT@|$port|g" \
      -e "s|@ADMIN_WS_PORT@|$admin_port|g" \
      "$here/$f" >"$dir/$f"
done
echo "run-local.sh: Janus on ws://127.0.0.1:$port (admin API ws://127.0.0.1:$admin_port), reclaim timeout ${RECLAIM_TIMEOUT:-0} s" >&2
janus -F "$dir" -o
