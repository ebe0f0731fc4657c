#!/bin/sh
# Syntax- and type-checks one native file on its own, without touching build/.
# usage: scripts/check-native.sh native/file.cc
set -e
cd "$(dirname "$0")/.."
for f in "$@"; do
  g++ -std=c++17 -fsyntax-only -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
    -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -D_GNU_SOURCE \
    -I/usr/include/node -I"$(node -p "require('node-addon-api').include_dir")" "$f"
done
