#!/usr/bin/env bash
# `npm run demo`: inspect a real Debian kernel with the kimage CLI.
#
# 1. fetches the minimal fixture set (bookworm amd64 signed kernel) unless the
#    manifest already lists it;
# 2. builds the CLI if dist/cli.js is missing;
# 3. runs `kimage inspect` and `kimage digest` on that kernel.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"
MANIFEST="fixtures/real/manifest.json"

# Print the path of the bookworm amd64 signed kernel from the manifest, if the
# manifest lists it and the file is there; print nothing otherwise.
find_kernel() {
  [[ -f "$MANIFEST" ]] || return 0
  node -e '
    const fs = require("fs");
    const m = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    const e = m.find((e) => e.suite === "bookworm" && e.arch === "amd64" && e.kind === "kernel" && e.signedPackage);
    if (e && fs.existsSync("fixtures/real/" + e.path)) console.log("fixtures/real/" + e.path);
  ' "$MANIFEST"
}

KERNEL=$(find_kernel)
if [[ -z "$KERNEL" ]]; then
  echo "== Fetching the demo kernel (FIXTURES_SET=minimal)"
  FIXTURES_SET=minimal bash scripts/fetch-fixtures.sh
  KERNEL=$(find_kernel)
fi
if [[ -z "$KERNEL" ]]; then
  echo "demo: the bookworm amd64 signed kernel could not be fetched" >&2
  exit 1
fi

if [[ ! -f dist/cli.js ]]; then
  echo "== Building (npm run build)"
  npm run -s build
fi

echo
echo "== kimage inspect $KERNEL"
node dist/cli.js inspect "$KERNEL"
echo
echo "== kimage digest $KERNEL"
node dist/cli.js digest "$KERNEL"
