#!/usr/bin/env bash
# npm run setup: everything the test suite needs on a fresh Debian machine.
#  1. the peer tools the oracle tests compare against, from Debian, only when
#     missing: pesign, osslsigncode, sbsigntool (sbverify), binutils-multiarch
#     (objdump for arm64 PE), openssl;
#  2. the real kernels and EFI binaries (npm run fixtures).
# Needs root (or sudo) only when something must be installed.
set -uo pipefail
cd "$(dirname "$0")/.."

need=()
command -v pesign >/dev/null || need+=(pesign)
command -v osslsigncode >/dev/null || need+=(osslsigncode)
command -v sbverify >/dev/null || need+=(sbsigntool)
dpkg -s binutils-multiarch >/dev/null 2>&1 || need+=(binutils-multiarch)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]} from Debian"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then SUDO="sudo"; else
      echo "setup: not root and no sudo: install ${need[*]} yourself (apt-get install ${need[*]})" >&2
      exit 1
    fi
  fi
  $SUDO apt-get update -q || echo "setup: apt-get update reported errors (continuing)" >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}" || {
    echo "setup: apt-get install ${need[*]} failed" >&2
    exit 1
  }
else
  echo "setup: peer tools present (pesign, osslsigncode, sbverify, objdump, openssl)"
fi

bash scripts/fetch-fixtures.sh
