#!/usr/bin/env bash
# Install mongosh from npm into .venv/mongosh for the test of `labkit shell` against the real shell.
# Never fails the build: without it that test is skipped and says why (a stand-in test still runs).
set -u
VERSION=2.12.0
PREFIX="${1:-.venv/mongosh}"
if [ -x "$PREFIX/node_modules/.bin/mongosh" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "ensure-mongosh: npm is not installed; the real-mongosh test will be skipped." >&2
  exit 0
fi
echo "ensure-mongosh: installing mongosh $VERSION from npm into $PREFIX ..." >&2
mkdir -p "$PREFIX"
if ! npm install --silent --no-audit --no-fund --prefix "$PREFIX" "mongosh@$VERSION" >/dev/null 2>&1; then
  echo "ensure-mongosh: could not install mongosh; the real-mongosh test will be skipped." >&2
fi
exit 0
