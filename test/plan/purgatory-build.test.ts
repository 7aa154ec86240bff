// The purgatory blobs are reproducible: scripts/build-purgatory.sh --check
// rebuilds every blob from purgatory/ with Debian's clang-14 + lld-14 (s390x: binutils ld) and
// fails when the generated module differs by one byte from the committed
// src/plan/protocol/purgatory-blobs.ts, or when a blob linked at two bases
// differs (it would not be position independent).
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { haveTool } from "../support/real.js";

const ready = ["clang-14", "ld.lld-14", "llvm-objcopy-14", "s390x-linux-gnu-ld"].every((t) => haveTool(t));

describe.skipIf(!ready)("purgatory blobs rebuild byte for byte", () => {
  it("npm run purgatory -- --check", () => {
    const r = spawnSync("bash", ["scripts/build-purgatory.sh", "--check"], { encoding: "utf8" });
    expect(r.stderr).toContain("is reproduced byte for byte");
    expect(r.status, r.stderr).toBe(0);
  }, 120_000);
});
