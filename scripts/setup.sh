#!/usr/bin/env bash
# npm run setup: everything the test suite needs on a fresh Debian machine.
#  1. from Debian, only when missing: the peer tools the oracle tests compare
#     against (pesign, osslsigncode, sbsigntool, binutils-multiarch for arm64
#     PE objdump, openssl), the native codecs (gzip, zstd, xz, lz4, lzop,
#     bzip2), dtc, cpio, file, xxd, Chromium for the browser test, and QEMU
#     (arm, misc, x86, ppc) with OpenSBI for the boot tests; clang-14, lld-14 and
#     llvm-14 for the purgatory rebuild (npm run purgatory -- --check);
#     binutils-s390x-linux-gnu to link the s390x kexec helper (lld 14 has no s390x);
#     for UKIs systemd-measure, swtpm with libtss2 (systemd-measure sign) and OVMF;
#  2. the real kernels and EFI binaries (npm run fixtures).
# Needs root (or sudo) only when something must be installed.
set -uo pipefail
cd "$(dirname "$0")/.."

# command-to-check:package pairs; a package is installed only when its command is missing.
need=()
for pair in \
  pesign:pesign osslsigncode:osslsigncode sbverify:sbsigntool openssl:openssl \
  gzip:gzip zstd:zstd xz:xz-utils lz4:lz4 lzop:lzop bzip2:bzip2 \
  dtc:device-tree-compiler cpio:cpio file:file xxd:xxd \
  chromium:chromium \
  qemu-system-aarch64:qemu-system-arm qemu-system-riscv64:qemu-system-misc qemu-system-x86_64:qemu-system-x86 \
  qemu-system-arm:qemu-system-arm qemu-system-loongarch64:qemu-system-misc \
  qemu-system-s390x:qemu-system-misc qemu-system-ppc64:qemu-system-ppc s390x-linux-gnu-ld:binutils-s390x-linux-gnu \
  clang-14:clang-14 ld.lld-14:lld-14 llvm-objcopy-14:llvm-14; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
dpkg -s binutils-multiarch >/dev/null 2>&1 || need+=(binutils-multiarch)
# ukify (trixie's, run from its extracted .deb by test/support/uki.ts) needs python3-pefile.
dpkg -s python3-pefile >/dev/null 2>&1 || need+=(python3-pefile)
[ -e /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin ] || need+=(opensbi)
# UKIs (issue 14): systemd-measure (PCR 11 oracle), swtpm + tss2 for its `sign` (252 asks a TPM
# for the policy digest), OVMF to boot a built UKI.
[ -x /usr/lib/systemd/systemd-measure ] || need+=(systemd)
command -v swtpm >/dev/null || need+=(swtpm)
for lib in libtss2-esys-3.0.2-0 libtss2-tcti-swtpm0; do dpkg -s "$lib" >/dev/null 2>&1 || need+=("$lib"); done
[ -e /usr/share/OVMF/OVMF_CODE_4M.fd ] || need+=(ovmf)
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
  echo "setup: all Debian tools present"
fi

bash scripts/fetch-fixtures.sh
