#!/usr/bin/env bash
# Install Debian's chromium for the browser test when it is missing and apt is usable.
# Never fails the build: without a browser the browser test is skipped and says why.
set -u
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: apt-get not usable here; the browser test will be skipped." >&2
  exit 0
fi
echo "ensure-chromium: installing Debian's chromium for the browser test ..." >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; then
  echo "ensure-chromium: could not install chromium; the browser test will be skipped." >&2
fi
exit 0
