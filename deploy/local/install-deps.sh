#!/usr/bin/env bash
# Installs the Debian 12 packages vocloop needs to build, test and run locally.
# Safe to run again: it installs only what is missing.
set -euo pipefail
[ "$(id -u)" = 0 ] || exec sudo "$0" "$@"
packages=(
  build-essential cmake pkg-config git clang-format clang-tidy
  librdkafka-dev libpq-dev libjansson-dev libyaml-dev libutf8proc-dev libopencc-dev opencc
  libpcre2-dev libcurl4-openssl-dev libmicrohttpd-dev check libsubunit-dev
  postgresql-15 postgresql-client-15 python3 python3-jsonschema
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
