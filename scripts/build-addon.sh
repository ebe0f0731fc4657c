#!/bin/sh
# Rebuilds build/Release/sockfd.node from native/*.cc, serialised with a lock
# so that several developers (or shells) can build in one checkout.
set -e
cd "$(dirname "$0")/.."
exec flock /tmp/sockfd-build.lock sh -c '
  log=$(mktemp)
  if npx node-gyp configure >"$log" 2>&1 && npx node-gyp build >>"$log" 2>&1; then rm -f "$log"; exit 0; fi
  grep -v "^gyp info" "$log"; rm -f "$log"; exit 1'
