#!/usr/bin/env bash
# Fetch real Debian kernel images and EFI binaries into fixtures/real/ (git-ignored).
#
#   npm run fixtures                       # default set: everything listed below
#   FIXTURES_SET=minimal npm run fixtures  # only the bookworm amd64 signed kernel
#   FIXTURES_REFRESH=1 npm run fixtures    # force a refresh of the package lists
#   FIXTURES_MIRROR=http://.../debian      # use another Debian mirror
#
# Packages are resolved by name at run time (kernel ABI names and versions change
# with every Debian point release, so none is written down here). apt runs with a
# private configuration and state under fixtures/real/.apt/: the system's apt
# setup is neither read nor modified, and the script works as root or not.
#
# Output:
#   fixtures/real/<suite>/<arch>/<package>/<basename>   the extracted files
#   fixtures/real/<suite>/<arch>/<package>/.fetched     what was fetched (lets a rerun skip it)
#   fixtures/real/manifest.json                         sorted array describing every file
#
# Exit status: 0 when at least one fixture is present (a warning is printed when
# the minimal set is missing), 1 when nothing at all could be fetched, 2 on usage
# errors or missing tools.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT_DIR/fixtures/real"
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
# What to fetch. One item per line: "<suite> <arch> <how> <name>".
#   kernel   <name> is a metapackage (linux-image-amd64); its Depends names the
#            signed image package linux-image-<abi>-<flavour>.
#   unsigned same metapackage; fetches linux-image-<abi>-<flavour>-unsigned.
#   pkg      <name> is the binary package itself.
# ---------------------------------------------------------------------------
MINIMAL_ITEMS=(
  "bookworm amd64 kernel linux-image-amd64"
)
ALL_ITEMS=(
  "${MINIMAL_ITEMS[@]}"
  "bookworm amd64 unsigned linux-image-amd64"
  "bookworm arm64 kernel   linux-image-arm64"
  "bookworm arm64 unsigned linux-image-arm64"
  "trixie   amd64 kernel   linux-image-amd64"
  "trixie   amd64 unsigned linux-image-amd64"
  "trixie   arm64 kernel   linux-image-arm64"
  "trixie   arm64 unsigned linux-image-arm64"
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
)
case "$SET" in
  minimal) ITEMS=("${MINIMAL_ITEMS[@]}") ;;
  all|"")  ITEMS=("${ALL_ITEMS[@]}") ;;
  *) die "FIXTURES_SET must be 'minimal' or 'all' (got '$SET')" ;;
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
SOURCES="deb [signed-by=$KEYRING] $MIRROR bookworm main
deb [signed-by=$KEYRING] $MIRROR trixie main"
LIST_STAMP="$APTDIR/lists.updated" # touched after each successful update
if [[ "$(cat "$APTDIR/etc/sources.list" 2>/dev/null)" != "$SOURCES" ]]; then
  printf '%s\n' "$SOURCES" > "$APTDIR/etc/sources.list"
  rm -f "$LIST_STAMP" # new sources (FIXTURES_MIRROR): the lists must be refetched
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
APT::Architectures { "amd64"; "arm64"; };
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
  log "Refreshing package lists (bookworm + trixie, amd64 + arm64)..."
  ok=0
  for attempt in 1 2; do
    # apt-get update exits 0 on some fetch failures (e.g. network errors), so
    # its messages are checked as well.
    if apt-get -q update >"$APTDIR/log/update.log" 2>&1 \
       && ! grep -qE '^[WE]: (Failed to fetch|Some index files failed)' "$APTDIR/log/update.log"; then
      ok=1; break
    fi
    warn "apt-get update failed (attempt $attempt); see ${APTDIR#"$ROOT_DIR"/}/log/update.log"
    grep -E '^(E|W):' "$APTDIR/log/update.log" | sed 's/^/  /' >&2 || true
  done
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

# show PKG ARCH SUITE: the package record of PKG:ARCH in SUITE.
show() { apt-cache show "$1:$2/$3" 2>/dev/null; }

# resolve SUITE ARCH HOW NAME: sets R_PKG and R_VER (R_ERR on failure).
declare -A KERNEL_CACHE=()
resolve() {
  local suite=$1 arch=$2 how=$3 name=$4 rec dep
  R_PKG="" R_VER="" R_ERR=""
  case "$how" in
    kernel|unsigned)
      local key="$suite/$arch/$name"
      if [[ -z "${KERNEL_CACHE[$key]:-}" ]]; then
        if ! rec=$(show "$name" "$arch" "$suite") || [[ -z "$rec" ]]; then
          R_ERR="$name:$arch not found in $suite"; return 1
        fi
        # Depends: linux-image-6.1.0-50-amd64 (= 6.1.176-1)
        dep=$(field Depends <<<"$rec" | tr ',' '\n' | sed 's/^ *//; s/[ (].*//; s/:any$//' \
              | grep -E '^linux-image-' | head -n1 || true)
        [[ -n "$dep" ]] || { R_ERR="no linux-image-* dependency in $name ($suite/$arch)"; return 1; }
        KERNEL_CACHE[$key]=$dep
      fi
      R_PKG=${KERNEL_CACHE[$key]}
      [[ "$how" == unsigned ]] && R_PKG="$R_PKG-unsigned"
      ;;
    pkg) R_PKG=$name ;;
  esac
  if ! rec=$(show "$R_PKG" "$arch" "$suite") || [[ -z "$rec" ]]; then
    R_ERR="$R_PKG:$arch not found in $suite"; return 1
  fi
  R_VER=$(field Version <<<"$rec")
  [[ -n "$R_VER" ]] || { R_ERR="no version for $R_PKG:$arch in $suite"; return 1; }
}

# up_to_date DIR VERSION: DIR/.fetched records VERSION and all its files exist.
up_to_date() {
  local dir=$1 ver=$2 f
  [[ -f "$dir/.fetched" ]] || return 1
  grep -qxF "version=$ver" "$dir/.fetched" || return 1
  grep -q '^file=' "$dir/.fetched" || return 1
  while IFS= read -r f; do
    [[ -s "$dir/$f" ]] || return 1
  done < <(sed -n 's/^file=\([^ ]*\) .*/\1/p' "$dir/.fetched")
}

# fail_item MESSAGE: record and report an item that could not be fetched.
fail_item() { FAILURES+=("$1"); warn "$1"; }

human() { numfmt --to=iec --suffix=B "$1" 2>/dev/null || echo "${1}B"; }

# fetch_item SUITE ARCH HOW NAME: download, extract, record. Returns non-zero
# (after adding to FAILURES) when anything goes wrong.
fetch_item() {
  local suite=$1 arch=$2 how=$3 name=$4
  local slot label dest work deb members tmpout base kind signed f sz
  slot="$suite/$arch/$how:$name"
  label="$suite/$arch $how $name"

  if ! resolve "$suite" "$arch" "$how" "$name"; then
    fail_item "$label: $R_ERR"; return 1
  fi
  dest="$OUT/$suite/$arch/$R_PKG"
  label="$suite/$arch $R_PKG $R_VER"

  if up_to_date "$dest" "$R_VER"; then
    log "[cached] $label"
    SKIPPED=$((SKIPPED + 1))
    return 0
  fi

  log "[fetching] $label"
  work=$(mktemp -d "$TMPROOT/item.XXXXXX")
  mkdir -p "$work/dl" "$work/x"
  [[ -n "$APT_USER" ]] && chown "$APT_USER" "$work/dl"
  if ! (cd "$work/dl" && apt-get -q download "$R_PKG:$arch=$R_VER") >"$work/download.log" 2>&1; then
    local why
    why=$(grep -E '^E:' "$work/download.log" | head -n1 || true)
    fail_item "$label: download failed${why:+ ($why)}"
    sed 's/^/  /' "$work/download.log" | tail -n 5 >&2
    rm -rf "$work"; return 1
  fi
  deb=$(find "$work/dl" -maxdepth 1 -name '*.deb' | head -n1)
  [[ -n "$deb" ]] || { fail_item "$label: no .deb after download"; rm -rf "$work"; return 1; }

  # Find the members we want from the package's content list: regular files
  # ./boot/vmlinuz-* and any *.efi / *.efi.signed (field 6 of `dpkg-deb -c`,
  # whose lines look like `ls -l`; none of these paths contains a space).
  members=$(dpkg-deb -c "$deb" | awk '$1 ~ /^-/ {print $6}' \
            | grep -E '^\./(boot/vmlinuz-[^/]+|.*\.efi(\.signed)?)$' || true)
  if [[ -z "$members" ]]; then
    fail_item "$label: no vmlinuz/EFI files in the package"; rm -rf "$work"; return 1
  fi
  # Duplicate basenames would collide once flattened.
  if [[ -n "$(xargs -n1 basename <<<"$members" | sort | uniq -d)" ]]; then
    fail_item "$label: duplicate basenames among $(tr '\n' ' ' <<<"$members")"
    rm -rf "$work"; return 1
  fi
  # Extract only those members (the data tarball is streamed once).
  local -a mlist
  mapfile -t mlist <<<"$members"
  if ! dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/x" --no-same-owner -- "${mlist[@]}"; then
    fail_item "$label: extraction failed"; rm -rf "$work"; return 1
  fi
  rm -f "$deb" # keep no .deb around

  # Assemble the package directory with a .fetched record, then swap it in.
  tmpout="$work/out"
  mkdir -p "$tmpout"
  {
    echo "slot=$slot"
    echo "package=$R_PKG"
    echo "version=$R_VER"
    echo "suite=$suite"
    echo "arch=$arch"
  } > "$tmpout/.fetched"
  for f in "${mlist[@]}"; do
    base=$(basename "$f")
    mv "$work/x/$f" "$tmpout/$base"
    chmod 0644 "$tmpout/$base"
    if [[ "$f" == ./boot/vmlinuz-* ]]; then
      kind=kernel
      [[ "$how" == kernel ]] && signed=true || signed=false
    else
      kind=efi
      [[ "$base" == *.efi.signed ]] && signed=true || signed=false
    fi
    echo "file=$base $kind $signed ${f#./}" >> "$tmpout/.fetched"
    sz=$(stat -c %s "$tmpout/$base")
    log "    $suite/$arch/$R_PKG/$base  ($(human "$sz"), from /${f#./})"
  done
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
log "Fetching fixture set '$SET' (${#ITEMS[@]} packages) into ${OUT#"$ROOT_DIR"/}/"
for item in "${ITEMS[@]}"; do
  # shellcheck disable=SC2086
  set -- $item
  fetch_item "$1" "$2" "$3" "$4" || true
done

# ---------------------------------------------------------------------------
# Manifest: every file recorded by a .fetched file currently in the cache
# (including packages fetched by earlier runs of another set), sorted by path.
# ---------------------------------------------------------------------------
# shellcheck disable=SC2016 # JavaScript, not shell
OUT="$OUT" node --input-type=module -e '
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
    });
  }
}
entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
writeFileSync(join(out, "manifest.json.tmp"), JSON.stringify(entries, null, 2) + "\n");
renameSync(join(out, "manifest.json.tmp"), join(out, "manifest.json"));
'

# ---------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------
read -r NFILES NKERNEL NEFI HAS_MINIMAL < <(node -e '
const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const min = m.some((e) => e.suite === "bookworm" && e.arch === "amd64" && e.kind === "kernel" && e.signedPackage);
console.log(m.length, m.filter((e) => e.kind === "kernel").length, m.filter((e) => e.kind === "efi").length, min ? 1 : 0);
' "$OUT/manifest.json")

log ""
log "Summary: $NFILES files present in ${OUT#"$ROOT_DIR"/}/ ($NKERNEL kernels, $NEFI EFI binaries);" \
    "$GOT packages fetched now, $SKIPPED already cached; $(( $(date +%s) - START_TS ))s."
log "Manifest: ${OUT#"$ROOT_DIR"/}/manifest.json"
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
