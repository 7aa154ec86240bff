// `kimage verify` reads a large PE sparsely (src/cli/sparse-pe.ts): its large
// sections are hashed from the file, never held. On every real PE of at least
// SPARSE_MIN_SIZE bytes the verdicts must equal those from the whole file, in
// every mode, against the Debian CA and an empty trust store; a byte changed
// inside an unread section must still be a digest mismatch (so the unread
// ranges really are hashed from the file); and the CLI's JSON must equal the
// library's verdict on the whole file.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readPeSparse, SPARSE_MIN_SIZE } from "../../src/cli/sparse-pe.js";
import { verdictJson, autoMode } from "../../src/cli/verify-mode.js";
import { nodeHashProvider } from "../../src/node/index.js";
import { parseShimVendorCert } from "../../src/signature/shim.js";
import type { PolicyMode } from "../../src/signature/policy.js";
import { verifyAuthenticode } from "../../src/signature/verify.js";
import { isPe, readBytes, requireReal } from "../support/real.js";

const CLI = new URL("../../dist/cli.js", import.meta.url).pathname;
const large = requireReal("real PEs of at least 16 MiB", (f) => (f.kind === "kernel" || f.kind === "efi") && isPe(f)).filter((f) => statSync(f.abs).size >= SPARSE_MIN_SIZE);
/** A signed one (the Debian-signed kernels), for the mismatch and the CLI. */
const signed = large.find((f) => f.signedPackage);
const shim = requireReal("Debian's unsigned shim (the Debian CA)", (f) => f.path === "bookworm/amd64/shim-unsigned/shimx64.efi")[0];
const dir = mkdtempSync(join(tmpdir(), "kimage-sparse-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function debianCa(): Uint8Array {
  const vc = parseShimVendorCert(readBytes(shim!.abs));
  if (!vc || vc.authorizedKind !== "x509") throw new Error("no vendor certificate in Debian's shim");
  return vc.certificates[0] as Uint8Array;
}

describe.skipIf(large.length === 0 || !shim)("verify reads large PEs sparsely, with the same verdicts", () => {
  it("there are large real PEs, and each is read sparsely (large sections unread)", () => {
    expect(large.length).toBeGreaterThan(0);
    for (const f of large) {
      const s = readPeSparse(f.abs);
      try {
        expect(s, f.path).not.toBeNull();
        const unread = s!.unread.reduce((n, [a, b]) => n + (b - a), 0);
        expect(unread, f.path).toBeGreaterThan(s!.bytes.length / 2);
        // What was read equals the file; the unread ranges are zeros.
        const whole = readBytes(f.abs);
        let at = 0;
        for (const [a, b] of s!.unread) {
          expect(Buffer.compare(s!.bytes.subarray(at, a), whole.subarray(at, a)), f.path).toBe(0);
          expect(s!.bytes.subarray(a, b).every((x) => x === 0)).toBe(true);
          at = b;
        }
        expect(Buffer.compare(s!.bytes.subarray(at), whole.subarray(at))).toBe(0);
      } finally {
        s?.close();
      }
    }
  });

  for (const f of large) {
    it(`${f.suite} ${f.arch} ${f.kind}: verdicts equal the whole file's, in every mode and trust`, async () => {
      const whole = readBytes(f.abs);
      const s = readPeSparse(f.abs)!;
      try {
        for (const trust of [[debianCa()], []]) {
          for (const mode of ["kernel", "shim", "any", "all"] as PolicyMode[]) {
            const a = await verifyAuthenticode(whole, { trust, mode, hash: nodeHashProvider });
            const b = await verifyAuthenticode(s.bytes, { trust, mode, hash: s.hash });
            expect(b, `${f.path} ${mode}`).toEqual(a);
          }
        }
      } finally {
        s.close();
      }
    }, 120_000);
  }

  it.skipIf(!signed)("a byte changed inside an unread section is a digest mismatch", async () => {
    const f = signed!;
    const copy = join(dir, "changed.efi");
    copyFileSync(f.abs, copy);
    const s0 = readPeSparse(copy)!;
    const [a, b] = s0.unread[0]!;
    s0.close();
    const bytes = readBytes(copy);
    const at = a + Math.floor((b - a) / 2);
    bytes[at] = (bytes[at] as number) ^ 0x40;
    writeFileSync(copy, bytes);
    const s = readPeSparse(copy)!;
    try {
      const v = await verifyAuthenticode(s.bytes, { trust: [debianCa()], mode: "kernel", hash: s.hash });
      expect(v.verdict).toBe("digest-mismatch");
      expect(await verifyAuthenticode(bytes, { trust: [debianCa()], mode: "kernel", hash: nodeHashProvider })).toEqual(v);
    } finally {
      s.close();
    }
  }, 120_000);

  it.skipIf(!signed)("the CLI's verify --json equals the library's verdict on the whole file", async () => {
    const f = signed!;
    const ca = join(dir, "ca.der");
    writeFileSync(ca, debianCa());
    const p = spawnSync(process.execPath, [CLI, "verify", "--json", "--cert", ca, f.abs], { encoding: "utf8", maxBuffer: 16 << 20 });
    expect(p.status, p.stderr).toBe(0);
    const whole = readBytes(f.abs);
    const auto = autoMode(whole);
    const v = await verifyAuthenticode(whole, { trust: [debianCa()], mode: auto.mode, hash: nodeHashProvider });
    expect(JSON.parse(p.stdout)).toEqual(JSON.parse(JSON.stringify(verdictJson(v, auto))));
  }, 120_000);
});
