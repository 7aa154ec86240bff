#!/usr/bin/env bash
# Fetch real Debian files into fixtures/real/ (git-ignored): kernel images of
# nine architectures (bookworm, trixie, sid), EFI binaries (shim, GRUB, fwupd),
# and a few small companions from the same packages (kernel configs, one
# module, one device tree blob) plus the Microsoft UEFI certificates.
#
#   npm run fixtures                       # default set: everything listed below
#   FIXTURES_SET=minimal npm run fixtures  # only the bookworm amd64 signed kernel
#   FIXTURES_SET=riscv64,loong64 npm run fixtures  # the items of those architectures
#   FIXTURES_REFRESH=1 npm run fixtures    # force a refresh of the package lists
#   FIXTURES_MIRROR=http://.../debian      # use another Debian mirror
#
# For tests of this script (test/fetcher-fallback.test.ts) and for rehearsing a
# future archive:
#   FIXTURES_OUT=DIR            fetch into DIR instead of fixtures/real
#   FIXTURES_ITEMS=FILE         the item table, one item a line (replaces ALL_ITEMS)
#   FIXTURES_TRUSTED=1          the mirror is a local, unsigned test archive (trusted=yes)
#   FIXTURES_SIMULATE_BUMP=RE   items whose "suite/arch how name" matches RE resolve first
#                               to the next ABI (one number higher), as if the index already
#                               listed a version the mirror does not have yet
#   FIXTURES_SIMULATE_404=RE    downloads of packages whose name matches RE fail as a 404
#
# Stale mirrors. When the resolved version's .deb cannot be downloaded (404,
# hash mismatch), the item falls back, in this order, to: the other versions the
# index lists for that package in the same suite (apt-cache madison order); for
# kernels, the other ABIs of the same flavour the suite's index still lists,
# newest first; then the same item in another suite whose lists carry that
# architecture (a package another class already fetched is not fetched twice).
# The manifest records a fallback on each file it produced
# ({"fallback": {"class", "wanted", "reason"}}); a class that still cannot be
# fetched is written to missing.json beside it and reported once.
#
# Packages are resolved by name at run time (kernel ABI names and versions change
# with every Debian point release, so none is written down here). apt runs with a
# private configuration and state under fixtures/real/.apt/: the system's apt
# setup is neither read nor modified, and the script works as root or not.
#
# Output:
#   fixtures/real/<suite>/<arch>/<package>/<basename>   the extracted files (the member path
#                                                       with / as _ if two share a basename)
#   fixtures/real/<suite>/<arch>/<package>/.fetched     what was fetched (lets a rerun skip it)
#   fixtures/real/manifest.json                         sorted array describing every file
#     {path, package, version, suite, arch, kind, signedPackage, sha256}; kind is
#     kernel | efi | config | module | dtb | cert (from the member's name)
#
# Exit status: 0 when at least one fixture is present (a warning is printed when
# the minimal set is missing), 1 when nothing at all could be fetched, 2 on usage
# errors or missing tools.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${FIXTURES_OUT:-$ROOT_DIR/fixtures/real}"
APTDIR="$OUT/.apt"
TMPROOT="$OUT/.tmp"
KEYRING="/usr/share/keyrings/debian-archive-keyring.gpg"
MIRROR="${FIXTURES_MIRROR:-http://deb.debian.org/debian}"
SET="${FIXTURES_SET:-all}"
REFRESH="${FIXTURES_REFRESH:-0}"
MAX_LIST_AGE_MIN=1440 # refresh the package lists when older than a day

log()  { printf '%s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die()  { printf 'error: %s\n' "$*" >&2; exit 2; }

# ---------------------------------------------------------------------------
# What to fetch. One item per line:
#   "<suite> <arch> <how> <name>[?] [<member-regex>...]"
#   kernel   <name> is a metapackage (linux-image-amd64). Its Depends names the
#            image package linux-image-<abi>-<flavour>: the signed one where
#            Debian signs that architecture's kernels (amd64, arm64, i386), the
#            plain one elsewhere. Since Debian's 7.x kernels (sid) that package
#            is empty and Depends on linux-binary-<abi>-<flavour>, which holds
#            usr/lib/modules/<ver>/vmlinuz: the chain is followed.
#   unsigned same metapackage; fetches linux-image-<abi>-<flavour>-unsigned
#            (linux-binary-unsigned-<abi>-<flavour> for 7.x kernels).
#   pkg      <name> is the binary package itself.
# A trailing '?' on <name> marks a package that may legitimately be absent from
# that suite: it is then reported as absent, not as missing.
#
# Extracted from every package: kernel images (boot/vmlinuz-*, boot/vmlinux-*,
# usr/lib/modules/<ver>/vmlinuz[.unsigned]) and EFI binaries (*.efi,
# *.efi.signed). Each further column is an extended regex matched against a
# whole member path (without the leading ./); the first member matching it is
# extracted too, and a regex matching nothing is reported as missing.
# Arch-independent packages (Architecture: all) are fetched via amd64.
# The apt sources and architectures are derived from this table (all suites
# and architectures of ALL_ITEMS, whatever FIXTURES_SET says).
# ---------------------------------------------------------------------------
CFG='boot/config-[^/]+'                                  # kind config
NLS='.*/kernel/fs/nls/nls_iso8859-1\.ko(\.(xz|zst|gz))?' # kind module (one small module)
DTB='.*/arm/juno\.dtb'                                    # kind dtb (one device tree)
CERTS='usr/lib/python3/dist-packages/virt/firmware/certs' # kind cert (PEM, kept as is)
MINIMAL_ITEMS=(
  "bookworm amd64 kernel linux-image-amd64 $CFG $NLS"
)
ALL_ITEMS=(
  "${MINIMAL_ITEMS[@]}"
  "bookworm amd64 unsigned linux-image-amd64"
  "bookworm arm64 kernel   linux-image-arm64 $CFG $DTB"
  "bookworm arm64 unsigned linux-image-arm64"
  "trixie   amd64 kernel   linux-image-amd64 $CFG $NLS"
  "trixie   amd64 unsigned linux-image-amd64"
  "trixie   arm64 kernel   linux-image-arm64 $CFG $DTB"
  "trixie   arm64 unsigned linux-image-arm64"
  # Other architectures' kernels. Formats: i386 bzImage (PE32), armhf zImage
  # (PE), ppc64el ELF vmlinux, s390x image (not PE), riscv64 Image (PE),
  # loong64 EFI zboot (PE, "zimg" at offset 4), arm64 16K-page Image (PE).
  "bookworm i386    kernel linux-image-686 $CFG"
  "trixie   i386    kernel linux-image-686? $CFG" # trixie ships no i386 kernel
  "bookworm armhf   kernel linux-image-armmp $CFG"
  "trixie   armhf   kernel linux-image-armmp $CFG"
  "bookworm ppc64el kernel linux-image-powerpc64le $CFG"
  "trixie   ppc64el kernel linux-image-powerpc64le $CFG"
  "bookworm s390x   kernel linux-image-s390x $CFG"
  "trixie   s390x   kernel linux-image-s390x $CFG"
  "trixie   arm64   kernel linux-image-arm64-16k $CFG"
  "trixie   riscv64 kernel linux-image-riscv64 $CFG"
  # sid: 7.x kernels (image only: linux-binary-* packages hold no config).
  "sid      arm64   kernel linux-image-arm64-16k"
  "sid      riscv64 kernel linux-image-riscv64"
  "sid      loong64 kernel linux-image-loong64"
  # The placement referee (npm run referee) replays sid's 7.x amd64 kernel too.
  "sid      amd64   unsigned linux-image-amd64"
  # Microsoft-signed shim, Debian-signed MokManager/fallback, and unsigned shim.
  "bookworm amd64 pkg shim-signed"
  "bookworm amd64 pkg shim-helpers-amd64-signed"
  "bookworm amd64 pkg shim-unsigned"
  "trixie   amd64 pkg shim-signed"
  "trixie   amd64 pkg shim-helpers-amd64-signed"
  "trixie   amd64 pkg shim-unsigned"
  "trixie   arm64 pkg shim-signed"
  # Debian-signed GRUB images (grubx64, gcdx64, grubnetx64...).
  "bookworm amd64 pkg grub-efi-amd64-signed"
  "trixie   amd64 pkg grub-efi-amd64-signed"
  # fwupd EFI helpers; the arm64 one has a gap between sections.
  "trixie   amd64 pkg fwupd-amd64-signed"
  "trixie   arm64 pkg fwupd-arm64-signed"
  # Microsoft UEFI CA / KEK / Windows PCA certificates (PEM with a text dump
  # before the BEGIN line), from virt-firmware (Architecture: all).
  # UKIs (issue 14): ukify (Python, run from the extracted .deb with
  # python3-pefile) and systemd-stub / the addon stub of both architectures;
  # test/support/uki.ts builds the test UKIs with them from the kernels above.
  "trixie   amd64 pkg systemd-ukify usr/bin/ukify"
  "trixie   amd64 pkg systemd-boot-efi usr/lib/systemd/boot/efi/linuxx64\.efi\.stub usr/lib/systemd/boot/efi/addonx64\.efi\.stub"
  "trixie   arm64 pkg systemd-boot-efi usr/lib/systemd/boot/efi/linuxaa64\.efi\.stub usr/lib/systemd/boot/efi/addonaa64\.efi\.stub"
  "trixie   amd64 pkg python3-virt-firmware $CERTS/MicrosoftCorporationUEFICA2011\.pem $CERTS/MicrosoftUEFICA2023\.pem $CERTS/MicrosoftCorporationKEKCA2011\.pem $CERTS/MicrosoftCorporationKEK2KCA2023\.pem $CERTS/MicrosoftWindowsProductionPCA2011\.pem $CERTS/WindowsUEFICA2023\.pem"
)

# item_arch ITEM: the architecture column of an item.
item_arch() { local -a f; read -r -a f <<<"$1"; printf '%s\n' "${f[1]}"; }

if [[ -n "${FIXTURES_ITEMS:-}" ]]; then
  mapfile -t ALL_ITEMS < <(grep -vE '^[[:space:]]*(#|$)' "$FIXTURES_ITEMS")
  MINIMAL_ITEMS=("${ALL_ITEMS[@]:0:1}")
fi

case "$SET" in
  minimal) ITEMS=("${MINIMAL_ITEMS[@]}") ;;
  all|"")  ITEMS=("${ALL_ITEMS[@]}") ;;
  *)
    # A comma-separated list of architectures: the items of 'all' for those.
    KNOWN_ARCHS=" $(for i in "${ALL_ITEMS[@]}"; do item_arch "$i"; done | sort -u | tr '\n' ' ')"
    IFS=, read -r -a WANT <<<"$SET"
    ((${#WANT[@]})) || die "FIXTURES_SET is empty"
    for a in "${WANT[@]}"; do
      [[ "$KNOWN_ARCHS" == *" $a "* ]] \
        || die "FIXTURES_SET must be 'minimal', 'all' or a comma-separated list of:$KNOWN_ARCHS(got '$SET')"
    done
    ITEMS=()
    for i in "${ALL_ITEMS[@]}"; do
      [[ ",$SET," == *",$(item_arch "$i"),"* ]] && ITEMS+=("$i")
    done
    ;;
esac

# ---------------------------------------------------------------------------
# Preconditions
# ---------------------------------------------------------------------------
for tool in apt-get apt-cache dpkg-deb tar node; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required (this script expects a Debian-like system)"
done
[[ -r "$KEYRING" ]] || die "$KEYRING not found (apt-get install debian-archive-keyring)"

mkdir -p "$OUT"
# One run at a time (a second concurrent run waits for the first).
exec 9>"$OUT/.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

rm -rf "$TMPROOT"
mkdir -p "$TMPROOT"
trap 'rm -rf "$TMPROOT"' EXIT

START_TS=$(date +%s)
FAILURES=()     # human-readable list of what could not be fetched
GOT=0           # packages fetched during this run
SKIPPED=0       # packages already present

# ---------------------------------------------------------------------------
# Private apt setup. APT_CONFIG is read before anything else and points
# Dir::Etc at our own directory, so /etc/apt/apt.conf.d (and its hooks) is
# never read, and all state lives under $APTDIR.
# ---------------------------------------------------------------------------
mkdir -p "$APTDIR"/{etc/apt.conf.d,etc/preferences.d,etc/sources.list.d,state/lists/partial,cache/archives/partial,log}
[[ -e "$APTDIR/state/status" ]] || : > "$APTDIR/state/status"
# One source line per suite, restricted to the architectures ALL_ITEMS uses in
# that suite (e.g. loong64 only from sid), so that no unused list is fetched.
# check-valid-until=no: sid's Release expires after a week, and a stale mirror
# or snapshot must not make sid unusable (the signatures are still checked).
declare -A SUITE_ARCHS=()
SUITES=() ARCHS=(amd64) # amd64 is apt's native architecture here
for item in "${ALL_ITEMS[@]}"; do
  read -r -a f <<<"$item"
  [[ -n "${SUITE_ARCHS[${f[0]}]+x}" ]] || { SUITES+=("${f[0]}"); SUITE_ARCHS[${f[0]}]=""; }
  [[ ",${SUITE_ARCHS[${f[0]}]}," == *",${f[1]},"* ]] || SUITE_ARCHS[${f[0]}]+="${SUITE_ARCHS[${f[0]}]:+,}${f[1]}"
  [[ " ${ARCHS[*]} " == *" ${f[1]} "* ]] || ARCHS+=("${f[1]}")
done
SOURCES=""
for suite in "${SUITES[@]}"; do
  if [[ "${FIXTURES_TRUSTED:-0}" == 1 ]]; then trust="trusted=yes"; else trust="signed-by=$KEYRING"; fi
  SOURCES+="deb [$trust arch=${SUITE_ARCHS[$suite]} check-valid-until=no] $MIRROR $suite main"$'\n'
done
SOURCES=${SOURCES%$'\n'}
APT_ARCHS=$(printf '"%s"; ' "${ARCHS[@]}")
LIST_STAMP="$APTDIR/lists.updated" # touched after each successful update
if [[ "$(cat "$APTDIR/etc/sources.list" 2>/dev/null)" != "$SOURCES" ]]; then
  printf '%s\n' "$SOURCES" > "$APTDIR/etc/sources.list"
  rm -f "$LIST_STAMP" # new sources (FIXTURES_MIRROR, new items): the lists must be refetched
fi
cat > "$APTDIR/apt.conf" <<EOF
Dir::Etc "$APTDIR/etc";
Dir::Etc::sourcelist "sources.list";
Dir::Etc::sourceparts "sources.list.d";
Dir::State "$APTDIR/state";
Dir::State::Lists "lists";
Dir::State::status "$APTDIR/state/status";
Dir::Cache "$APTDIR/cache";
Dir::Cache::pkgcache "pkgcache.bin";
Dir::Cache::srcpkgcache "";
Dir::Log "$APTDIR/log";
APT::Architecture "amd64";
APT::Architectures { ${APT_ARCHS% }};
Acquire::Languages "none";
Acquire::GzipIndexes "true";
Acquire::Retries "2";
Debug::NoLocking "true";
EOF
export APT_CONFIG="$APTDIR/apt.conf"

# When run as root apt downloads as the unprivileged '_apt' user: hand it the
# directories it writes to, so it does not fall back to an unsandboxed download.
APT_USER=""
if [[ $(id -u) -eq 0 ]] && id _apt >/dev/null 2>&1; then APT_USER=_apt; fi

# Refresh the lists when missing, older than a day, or on request.
need_update=0
if [[ "$REFRESH" == 1 ]] || [[ ! -e "$LIST_STAMP" ]] \
   || [[ -n "$(find "$LIST_STAMP" -mmin +"$MAX_LIST_AGE_MIN" 2>/dev/null)" ]]; then
  need_update=1
fi
if [[ $need_update == 1 ]]; then
  log "Refreshing package lists ($(for s in "${SUITES[@]}"; do printf '%s: %s; ' "$s" "${SUITE_ARCHS[$s]}"; done | sed 's/; $//'))..."
  update_start=$(date +%s)
  ok=0
  for attempt in 1 2; do
    # apt-get update exits 0 on some fetch failures (e.g. network errors), so
    # its messages are checked as well.
    if apt-get -q update >"$APTDIR/log/update.log" 2>&1 \
       && ! grep -qE '^(E: |W: (Failed to fetch|Some index files failed))' "$APTDIR/log/update.log"; then
      ok=1; break
    fi
    warn "apt-get update failed (attempt $attempt); see ${APTDIR#"$ROOT_DIR"/}/log/update.log"
    grep -E '^(E|W):' "$APTDIR/log/update.log" | sed 's/^/  /' >&2 || true
  done
  log "  took $(( $(date +%s) - update_start ))s; lists: $(du -sh "$APTDIR/state/lists" | cut -f1)," \
      "package cache: $(du -sh "$APTDIR/cache/pkgcache.bin" 2>/dev/null | cut -f1)"
  if [[ $ok == 1 ]]; then
    touch "$LIST_STAMP"
  else
    # Partial failures ("File has unexpected size" while a mirror syncs) leave
    # the other lists usable; items that cannot be resolved are reported below.
    # The stamp is not touched so that the next run tries again.
    if compgen -G "$APTDIR/state/lists/*_Packages*" >/dev/null; then
      warn "continuing with whatever package lists are available"
    else
      warn "no package list could be fetched: nothing can be resolved"
    fi
  fi
else
  log "Package lists are fresh (FIXTURES_REFRESH=1 to force a refresh)."
fi

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# field NAME: print the value of a deb822 field from the first stanza on stdin.
field() { awk -v f="$1" 'BEGIN{FS=": "} $0==""{exit} $1==f{sub(/^[^:]*: /,""); print; exit}'; }

# depends: the package names in the Depends field of the record on stdin, one
# a line (alternatives included, versions and :any dropped).
depends() { field Depends | tr ',|' '\n' | sed 's/^ *//; s/[ (].*//; s/:any$//'; }

# show PKG ARCH SUITE: the package record of PKG:ARCH in SUITE.
show() { apt-cache show "$1:$2/$3" 2>/dev/null; }

# resolve SUITE ARCH HOW NAME: sets R_PKG, R_VER and R_SIGNED (true when the
# package is built from a *-signed source such as linux-signed-amd64). On
# failure sets R_ERR, and R_ABSENT=1 when a package does not exist at all.
declare -A KERNEL_CACHE=()
resolve() {
  local suite=$1 arch=$2 how=$3 name=$4 rec img bin src
  R_PKG="" R_VER="" R_SIGNED=false R_ERR="" R_ABSENT=0
  case "$how" in
    kernel|unsigned)
      local key="$suite/$arch/$name"
      if [[ -z "${KERNEL_CACHE[$key]:-}" ]]; then
        if ! rec=$(show "$name" "$arch" "$suite") || [[ -z "$rec" ]]; then
          R_ERR="$name:$arch not found in $suite"; R_ABSENT=1; return 1
        fi
        # Depends: linux-image-6.1.0-50-amd64 (= 6.1.176-1)
        img=$(depends <<<"$rec" | grep -E '^linux-image-' | head -n1 || true)
        [[ -n "$img" ]] || { R_ERR="no linux-image-* dependency in $name ($suite/$arch)"; return 1; }
        # 7.x: linux-image-7.2.13+deb14-loong64 is empty and
        # Depends: ..., linux-binary-7.2.13+deb14-loong64 (= 7.2.13-1), ...
        if rec=$(show "$img" "$arch" "$suite") && [[ -n "$rec" ]]; then
          bin=$(depends <<<"$rec" | grep -E '^linux-binary-' | head -n1 || true)
          [[ -n "$bin" ]] && img=$bin
        fi
        KERNEL_CACHE[$key]=$img
      fi
      R_PKG=${KERNEL_CACHE[$key]}
      if [[ "$how" == unsigned ]]; then
        case "$R_PKG" in
          linux-binary-*) R_PKG="linux-binary-unsigned-${R_PKG#linux-binary-}" ;;
          *) R_PKG="$R_PKG-unsigned" ;;
        esac
      fi
      ;;
    pkg) R_PKG=$name ;;
  esac
  if ! rec=$(show "$R_PKG" "$arch" "$suite") || [[ -z "$rec" ]]; then
    R_ERR="$R_PKG:$arch not found in $suite"; R_ABSENT=1; return 1
  fi
  R_VER=$(field Version <<<"$rec")
  [[ -n "$R_VER" ]] || { R_ERR="no version for $R_PKG:$arch in $suite"; return 1; }
  # Source: linux-signed-amd64 (6.1.176+1)   (absent when named as the package)
  src=$(field Source <<<"$rec"); src=${src%% *}; src=${src:-$R_PKG}
  if [[ "$src" =~ (^|-)signed(-|$) ]]; then R_SIGNED=true; fi
}

# kind_of PATH: the manifest kind of a member, from its name ("" if unknown).
kind_of() {
  case "${1##*/}" in
    vmlinuz|vmlinux|vmlinuz[-.]*|vmlinux[-.]*) echo kernel ;;
    *.efi|*.efi.signed) echo efi ;;
    *.pem) echo cert ;;
    *.efi.stub) echo stub ;;
    ukify) echo tool ;; # kind tool: a peer tool run by the tests
    config-*) echo config ;;
    *.ko|*.ko.*) echo module ;;
    *.dtb) echo dtb ;;
    *) echo "" ;;
  esac
}

# Members extracted from every package (paths without the leading ./).
BASE_MEMBERS_RE='boot/vmlinu[xz]-[^/]+|usr/lib/modules/[^/]+/vmlinuz(\.unsigned)?|.*\.efi(\.signed)?'

# up_to_date DIR VERSION SPEC: DIR/.fetched records VERSION and SPEC (the
# extra member regexes) and all its files exist.
up_to_date() {
  local dir=$1 ver=$2 spec=$3 f
  [[ -f "$dir/.fetched" ]] || return 1
  grep -qxF "version=$ver" "$dir/.fetched" || return 1
  [[ "$(sed -n 's/^spec=//p' "$dir/.fetched")" == "$spec" ]] || return 1
  grep -q '^file=' "$dir/.fetched" || return 1
  while IFS= read -r f; do
    [[ -s "$dir/$f" ]] || return 1
  done < <(sed -n 's/^file=\([^ ]*\) .*/\1/p' "$dir/.fetched")
}

# fail_item MESSAGE: record and report an item that could not be fetched.
fail_item() { FAILURES+=("$1"); warn "$1"; }

human() { numfmt --to=iec --suffix=B "$1" 2>/dev/null || echo "${1}B"; }

# bump_abi NAME-OR-VERSION: the same string with the last number of its kernel
# ABI (6.1.0-50 → 6.1.0-51, 6.12.117+deb13 → 6.12.118+deb13) or of its upstream
# version (6.12.117-1 → 6.12.118-1) one higher (FIXTURES_SIMULATE_BUMP).
bump_abi() {
  perl -pe 's/(\d+\.\d+\.\d+-)(\d+)(?=-[a-z])/$1.($2+1)/e or s/(\d+\.\d+\.)(\d+)(?=\+deb\d)/$1.($2+1)/e or s/^(\d+\.\d+\.)(\d+)/$1.($2+1)/e' <<<"$1"
}

# madison_in PKG ARCH SUITE: the versions the index lists for PKG:ARCH in SUITE,
# in apt-cache madison order (newest first).
madison_in() {
  apt-cache madison "$1:$2" 2>/dev/null | awk -F'|' -v s=" $3/" 'index($3, s) {gsub(/ /, "", $2); print $2}'
}

# fallback_candidates SUITE ARCH HOW NAME PKG VER: "package version suite" lines to
# try after PKG VER failed, in the order the header comment gives.
fallback_candidates() {
  local suite=$1 arch=$2 how=$3 name=$4 pkg=$5 ver=$6 v p flavour re other
  # 1. the other versions of the same package in the same suite
  while IFS= read -r v; do
    [[ -n "$v" && "$v" != "$ver" ]] && echo "$pkg $v $suite"
  done < <(madison_in "$pkg" "$arch" "$suite")
  # 2. kernels: the other ABIs of the same flavour in the same suite, newest first
  if [[ "$how" == kernel || "$how" == unsigned ]]; then
    flavour=${name#linux-image-}
    re="^linux-(image|binary)-(unsigned-)?[0-9][0-9.]*(-[0-9]+|\\+deb[0-9]+)-${flavour}"
    [[ "$how" == unsigned ]] && re="$re(-unsigned)?\$" || re="$re\$"
    while IFS= read -r p; do
      [[ "$p" == "$pkg" ]] && continue
      if [[ "$how" == unsigned ]]; then [[ "$p" == *-unsigned || "$p" == linux-binary-unsigned-* ]] || continue
      else [[ "$p" == *-unsigned || "$p" == linux-binary-unsigned-* ]] && continue; fi
      v=$(madison_in "$p" "$arch" "$suite" | head -n1)
      [[ -n "$v" ]] || continue
      # linux-image-<7.x abi> is an empty package: its linux-binary-* is what counts.
      [[ "$p" == linux-image-* ]] && apt-cache show "$p:$arch=$v" 2>/dev/null | depends | grep -qE '^linux-binary-' && continue
      echo "$p $v $suite"
    done < <(apt-cache pkgnames linux- 2>/dev/null | grep -E "$re" | sort -u) | sort -k2,2 -r -V
  fi
  # 3. the same item in another suite that carries this architecture
  for other in "${SUITES[@]}"; do
    [[ "$other" == "$suite" ]] && continue
    [[ ",${SUITE_ARCHS[$other]}," == *",$arch,"* ]] || continue
    if resolve "$other" "$arch" "$how" "$name"; then echo "$R_PKG $R_VER $other"; fi
  done
}

# record_in PKG ARCH VER SUITE: "Filename SHA256" of PKG:ARCH VER as SUITE's own
# Packages list gives it (read from the list file, not from apt's cache: apt
# merges two suites' records of one version when their Size matches, and then
# fetches one suite's file against the other's hash).
record_in() {
  local pkg=$1 arch=$2 ver=$3 suite=$4 f
  for f in "$APTDIR/state/lists/"*"_dists_${suite}_"*"_binary-${arch}_Packages"*; do
    [[ -e "$f" ]] || continue
    /usr/lib/apt/apt-helper cat-file "$f" 2>/dev/null | awk -v p="$pkg" -v v="$ver" '
      /^$/ { if (P == p && V == v && F != "" && S != "") { print F, S; found = 1; exit } P = V = F = S = ""; next }
      /^Package: / { P = $2 } /^Version: / { V = $2 } /^Filename: / { F = $2 } /^SHA256: / { S = $2 }
      END { if (!found && P == p && V == v && F != "" && S != "") print F, S }'
  done | head -n1
}

# download_candidate PKG VER ARCH DIR [SUITE]: apt-get download into DIR; with
# SUITE (a candidate from another suite), the file and hash of SUITE's own
# record, fetched with apt-helper (see record_in). On failure sets DL_ERR (the
# first E: line) and returns 1.
download_candidate() {
  local pkg=$1 ver=$2 arch=$3 dir=$4 from=${5:-} rec uri
  DL_ERR=""
  if [[ -n "${FIXTURES_SIMULATE_404:-}" ]] && [[ "$pkg" =~ $FIXTURES_SIMULATE_404 ]]; then
    DL_ERR="E: Failed to fetch $MIRROR/pool/.../${pkg}_${ver}_$arch.deb  404  Not Found (simulated: FIXTURES_SIMULATE_404)"
    echo "$DL_ERR" > "$dir/../download.log"; return 1
  fi
  if [[ -n "$from" ]]; then
    rec=$(record_in "$pkg" "$arch" "$ver" "$from")
    if [[ -z "$rec" ]]; then
      DL_ERR="E: no record of $pkg:$arch $ver in $from's package list"
      echo "$DL_ERR" > "$dir/../download.log"; return 1
    fi
    uri="${MIRROR%/}/${rec%% *}"
    if ! /usr/lib/apt/apt-helper -q download-file "$uri" "$dir/${pkg}_${ver//:/%3a}_$arch.deb" "SHA256:${rec##* }" \
         >"$dir/../download.log" 2>&1; then
      DL_ERR=$(grep -E '^E:' "$dir/../download.log" | head -n1 || true)
      DL_ERR=${DL_ERR:-"apt-helper download-file failed"}
      rm -f "$dir/${pkg}_"*.deb
      return 1
    fi
    return 0
  fi
  if ! (cd "$dir" && apt-get -q download "$pkg:$arch=$ver") >"$dir/../download.log" 2>&1; then
    DL_ERR=$(grep -E '^E:' "$dir/../download.log" | head -n1 || true)
    DL_ERR=${DL_ERR:-"apt-get download failed"}
    return 1
  fi
}

# fetch_item SUITE ARCH HOW NAME[?] [REGEX...]: download, extract, record.
# Returns non-zero (after adding to FAILURES) when anything goes wrong.
fetch_item() {
  local suite=$1 arch=$2 how=$3 name=$4
  shift 4
  local -a extras=("$@")
  local optional=0 slot label spec dest work deb tmpout base kind signed f sz re m class
  [[ "$name" == *\? ]] && { optional=1; name=${name%\?}; }
  slot="$suite/$arch/$how:$name"
  class="$suite/$arch $how $name"
  label="$class"
  spec="${extras[*]}"

  if ! resolve "$suite" "$arch" "$how" "$name"; then
    if [[ $optional == 1 && $R_ABSENT == 1 ]]; then
      ABSENT+=("$label: $R_ERR"); log "[absent] $label ($R_ERR)"; return 0
    fi
    fail_item "$label: $R_ERR"; MISSING+=("$class	$R_ERR"); return 1
  fi
  if [[ -n "${FIXTURES_SIMULATE_BUMP:-}" && "$class" =~ $FIXTURES_SIMULATE_BUMP && "$how" != pkg ]]; then
    log "[simulate] $class: the index is made to list $(bump_abi "$R_PKG") $(bump_abi "$R_VER") instead of $R_PKG $R_VER"
    R_PKG=$(bump_abi "$R_PKG") R_VER=$(bump_abi "$R_VER")
  fi

  # Candidates: the resolved package first; the fallbacks only once it failed.
  local -a cands=("$R_PKG $R_VER $suite") tried=()
  local first_pkg=$R_PKG first_ver=$R_VER have_fallbacks=0 i=0 cpkg cver csuite reasons=""
  C_WHY="" C_WANTED="$R_PKG $R_VER"
  while (( i < ${#cands[@]} )); do
    read -r cpkg cver csuite <<<"${cands[$i]}"
    i=$((i + 1))
    [[ " ${tried[*]} " == *" $cpkg=$cver/$csuite "* ]] && continue
    tried+=("$cpkg=$cver/$csuite")
    C_SUITE=$csuite
    if [[ "$csuite" != "$suite" ]] && printf '%s\n' "${RESOLVED[@]}" | grep -qE "^$csuite/$arch [a-z]+ [^ ]+ -> $(sed 's/[+.]/\\&/g' <<<"$cpkg") "; then
      reasons+="; $csuite's $cpkg $cver is already fetched for its own class"
      continue
    fi
    dest="$OUT/$suite/$arch/$cpkg"
    label="$csuite/$arch $cpkg $cver"
    if up_to_date "$dest" "$cver" "$spec"; then
      log "[cached] $label${C_WHY:+ (fallback for $class: $C_WHY)}"
      RESOLVED+=("$suite/$arch $how $name -> $cpkg $cver${C_WHY:+ (fallback from $C_WANTED: $C_WHY)}")
      while IFS= read -r re; do
        fail_item "$label: no member matches $re"
      done < <(sed -n 's/^missing=//p' "$dest/.fetched")
      SKIPPED=$((SKIPPED + 1))
      [[ -n "$C_WHY" ]] && FALLBACKS+=("$class: $C_WANTED → $cpkg $cver ($csuite): $C_WHY")
      return 0
    fi
    log "[fetching] $label"
    work=$(mktemp -d "$TMPROOT/item.XXXXXX")
    mkdir -p "$work/dl" "$work/x"
    [[ -n "$APT_USER" ]] && chown "$APT_USER" "$work/dl"
    if download_candidate "$cpkg" "$cver" "$arch" "$work/dl" "$([[ "$csuite" != "$suite" ]] && echo "$csuite")"; then
      R_PKG=$cpkg R_VER=$cver
      RESOLVED+=("$suite/$arch $how $name -> $cpkg $cver${C_WHY:+ (fallback from $C_WANTED: $C_WHY)}")
      [[ -n "$C_WHY" ]] && FALLBACKS+=("$class: $C_WANTED → $cpkg $cver ($csuite): $C_WHY")
      fetch_extract
      return $?
    fi
    warn "$label: download failed ($DL_ERR)"
    sed 's/^/  /' "$work/download.log" | tail -n 3 >&2
    rm -rf "$work"
    reasons+="; $cpkg $cver: download failed ($DL_ERR)"
    # The first failure explains every fallback after it.
    [[ -z "$C_WHY" ]] && C_WHY="download of $cpkg $cver failed ($DL_ERR)"
    if (( have_fallbacks == 0 )); then
      have_fallbacks=1
      mapfile -t -O "${#cands[@]}" cands < <(fallback_candidates "$suite" "$arch" "$how" "$name" "$first_pkg" "$first_ver")
      log "  falling back: ${#cands[@]} candidate(s) for $class"
    fi
  done
  warn "$class: no candidate could be fetched${reasons}"
  MISSING+=("$class	${reasons#; }")
  return 1
}

# fetch_extract: the rest of fetch_item once a .deb is in $work/dl (uses its locals).
fetch_extract() {
  deb=$(find "$work/dl" -maxdepth 1 -name '*.deb' | head -n1)
  [[ -n "$deb" ]] || { fail_item "$label: no .deb after download"; rm -rf "$work"; return 1; }

  # Decompress the data archive once (listing and extracting a .deb each cost
  # a full decompression); keep no .deb around.
  if ! dpkg-deb --fsys-tarfile "$deb" > "$work/data.tar"; then
    fail_item "$label: cannot read the package"; rm -rf "$work"; return 1
  fi
  rm -f "$deb"

  # Regular files of the data archive (field 6 of `tar -tv`, whose lines look
  # like `ls -l`; none of the paths we want contains a space).
  local listing members missing=()
  listing=$(tar -tvf "$work/data.tar" | awk '$1 ~ /^-/ {print $6}')
  members=$(grep -E "^\./($BASE_MEMBERS_RE)\$" <<<"$listing" || true)
  for re in "${extras[@]}"; do
    m=$(grep -E "^\./($re)\$" <<<"$listing" | head -n1 || true)
    if [[ -n "$m" ]]; then members+=$'\n'"$m"; else missing+=("$re"); fi
  done
  members=$(sed '/^$/d' <<<"$members" | sort -u)
  if [[ -z "$members" ]]; then
    fail_item "$label: no kernel image, EFI binary or requested file in the package"
    rm -rf "$work"; return 1
  fi
  local -a mlist names
  mapfile -t mlist <<<"$members"

  # File names: the basename, or the whole path with / turned into _ when two
  # members share a basename.
  local dups
  dups=$(for f in "${mlist[@]}"; do basename "$f"; done | sort | uniq -d)
  names=()
  for f in "${mlist[@]}"; do
    base=$(basename "$f")
    if grep -qxF -- "$base" <<<"$dups"; then base=$(tr / _ <<<"${f#./}"); fi
    names+=("$base")
  done
  if [[ -n "$(printf '%s\n' "${names[@]}" | sort | uniq -d)" ]]; then
    fail_item "$label: colliding file names among ${mlist[*]}"; rm -rf "$work"; return 1
  fi

  if ! tar -xf "$work/data.tar" -C "$work/x" --no-same-owner -- "${mlist[@]}"; then
    fail_item "$label: extraction failed"; rm -rf "$work"; return 1
  fi
  rm -f "$work/data.tar"

  # Assemble the package directory with a .fetched record, then swap it in.
  tmpout="$work/out"
  mkdir -p "$tmpout"
  {
    echo "slot=$slot"
    echo "package=$R_PKG"
    echo "version=$R_VER"
    echo "suite=$C_SUITE"
    echo "arch=$arch"
    echo "spec=$spec"
    if [[ -n "$C_WHY" ]]; then
      echo "fallback_class=$class"
      echo "fallback_wanted=$C_WANTED"
      echo "fallback_reason=$C_WHY"
    fi
    for re in "${missing[@]}"; do echo "missing=$re"; done
  } > "$tmpout/.fetched"
  local i
  for i in "${!mlist[@]}"; do
    f=${mlist[$i]} base=${names[$i]}
    kind=$(kind_of "$f")
    if [[ -z "$kind" ]]; then
      fail_item "$label: no kind for ${f#./} (extend kind_of)"; rm -rf "$work"; return 1
    fi
    # EFI binaries: signed when named *.efi.signed. Other files: signed when
    # the package comes from a *-signed source (signed kernels; their modules
    # carry module signatures).
    if [[ "$kind" == efi ]]; then
      [[ "$base" == *.efi.signed ]] && signed=true || signed=false
    else
      signed=$R_SIGNED
    fi
    mv "$work/x/$f" "$tmpout/$base"
    chmod 0644 "$tmpout/$base"
    echo "file=$base $kind $signed ${f#./}" >> "$tmpout/.fetched"
    sz=$(stat -c %s "$tmpout/$base")
    log "    ${dest#"$OUT"/}/$base  ($kind, $(human "$sz"), from /${f#./})"
  done
  for re in "${missing[@]}"; do fail_item "$label: no member matches $re"; done
  mkdir -p "$(dirname "$dest")"
  rm -rf "$dest"
  mv "$tmpout" "$dest"
  rm -rf "$work"

  # Drop directories that held an older version of the same slot (e.g. the
  # previous kernel ABI once the lists move on).
  local old
  for old in "$OUT/$suite/$arch"/*/.fetched; do
    [[ -e "$old" ]] || continue
    [[ "$(dirname "$old")" == "$dest" ]] && continue
    if grep -qxF "slot=$slot" "$old"; then
      log "    (removing superseded $(basename "$(dirname "$old")"))"
      rm -rf "$(dirname "$old")"
    fi
  done
  GOT=$((GOT + 1))
}

# ---------------------------------------------------------------------------
# Fetch
# ---------------------------------------------------------------------------
ABSENT=()   # optional packages that do not exist in their suite
MISSING=()  # "class<TAB>reason" for classes that could not be fetched at all
FALLBACKS=() # classes served by a fallback candidate
RESOLVED=() # "suite/arch how name -> package version"
log "Fetching fixture set '$SET' (${#ITEMS[@]} packages) into ${OUT#"$ROOT_DIR"/}/"
for item in "${ITEMS[@]}"; do
  # read, not an unquoted expansion: the regexes must not be globbed.
  read -r -a f <<<"$item"
  fetch_item "${f[@]}" || true
done

# ---------------------------------------------------------------------------
# Manifest: every file recorded by a .fetched file currently in the cache
# (including packages fetched by earlier runs of another set), sorted by path.
# ---------------------------------------------------------------------------
# shellcheck disable=SC2016 # JavaScript, not shell
MISSING="$(printf '%s\n' "${MISSING[@]}")" OUT="$OUT" node --input-type=module -e '
import { readFileSync, readdirSync, writeFileSync, existsSync, statSync, renameSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
const out = process.env.OUT;
const entries = [];
const dirs = (p) => existsSync(p) ? readdirSync(p, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith(".")).map((d) => d.name) : [];
for (const suite of dirs(out)) for (const arch of dirs(join(out, suite))) for (const pkg of dirs(join(out, suite, arch))) {
  const rec = join(out, suite, arch, pkg, ".fetched");
  if (!existsSync(rec)) continue;
  const meta = {}; const files = [];
  for (const line of readFileSync(rec, "utf8").split("\n")) {
    const i = line.indexOf("="); if (i < 0) continue;
    const k = line.slice(0, i), v = line.slice(i + 1);
    if (k === "file") files.push(v.split(" ")); else meta[k] = v;
  }
  for (const [base, kind, signed] of files) {
    const abs = join(out, suite, arch, pkg, base);
    if (!existsSync(abs) || !statSync(abs).isFile()) continue;
    entries.push({
      path: `${suite}/${arch}/${pkg}/${base}`,
      package: meta.package, version: meta.version, suite: meta.suite, arch: meta.arch,
      kind, signedPackage: signed === "true",
      sha256: createHash("sha256").update(readFileSync(abs)).digest("hex"),
      ...(meta.fallback_class ? { fallback: { class: meta.fallback_class, wanted: meta.fallback_wanted, reason: meta.fallback_reason } } : {}),
    });
  }
}
entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
writeFileSync(join(out, "manifest.json.tmp"), JSON.stringify(entries, null, 2) + "\n");
renameSync(join(out, "manifest.json.tmp"), join(out, "manifest.json"));
// The classes this run could not fetch at all, with the reason (read by the tests).
const missing = (process.env.MISSING ?? "").split("\n").filter(Boolean).map((l) => { const [cls, ...r] = l.split("\t"); return { class: cls, reason: r.join("\t") }; });
writeFileSync(join(out, "missing.json"), JSON.stringify(missing, null, 2) + "\n");
'

# ---------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------
# shellcheck disable=SC2016 # JavaScript, not shell
read -r NFILES HAS_MINIMAL KINDS < <(node -e '
const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const min = m.some((e) => e.suite === "bookworm" && e.arch === "amd64" && e.kind === "kernel" && e.signedPackage);
const kinds = {};
for (const e of m) kinds[e.kind] = (kinds[e.kind] ?? 0) + 1;
console.log(m.length, min ? 1 : 0, Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(", ") || "none");
' "$OUT/manifest.json")

log ""
log "Resolved:"
for r in "${RESOLVED[@]}"; do log "  $r"; done
log "Summary: $NFILES files present in ${OUT#"$ROOT_DIR"/}/ ($KINDS);" \
    "$GOT packages fetched now, $SKIPPED already cached; $(( $(date +%s) - START_TS ))s."
log "Manifest: ${OUT#"$ROOT_DIR"/}/manifest.json"
if ((${#ABSENT[@]})); then
  log "Not in the archive (optional, not an error):"
  for f in "${ABSENT[@]}"; do log "  - $f"; done
fi
if ((${#FALLBACKS[@]})); then
  log "Fell back (${#FALLBACKS[@]}; recorded as \"fallback\" in the manifest):"
  for f in "${FALLBACKS[@]}"; do log "  - $f"; done
fi
if ((${#MISSING[@]})); then
  log "Classes not fetched (${#MISSING[@]}; listed in ${OUT#"$ROOT_DIR"/}/missing.json, tests needing them say so):"
  for f in "${MISSING[@]}"; do log "  - ${f/$'\t'/: }"; done
fi
if ((${#FAILURES[@]})); then
  log "Could not fetch (${#FAILURES[@]}):"
  for f in "${FAILURES[@]}"; do log "  - $f"; done
else
  log "Nothing missing."
fi
if [[ "$HAS_MINIMAL" != 1 ]]; then
  warn "the minimal set (bookworm amd64 signed kernel) is missing"
fi
if [[ "$NFILES" == 0 ]]; then
  printf 'error: no fixture could be fetched\n' >&2
  exit 1
fi
exit 0
