// peChecksum: equal to the test-side reference (a per-word fold, as
// CheckSumMappedFile), to osslsigncode's "PE checksum", and to the CheckSum
// the signers wrote into every real signed PE.
import fc from "fast-check";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { peChecksum, writePeChecksum } from "../../src/formats/pe/checksum.js";
import { parsePe, probePe } from "../../src/formats/pe/parse.js";
import { isKimageError } from "../../src/core/errors.js";
import { SYNTHETIC_FIXTURES, buildPe, filler, peChecksum as referenceChecksum } from "../support/pe-builder.js";
import { readBytes, requireReal } from "../support/real.js";
import { sh, toolExists } from "../support/sign-pki.js";

const dir = mkdtempSync(join(tmpdir(), "kimage-checksum-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("peChecksum equals the per-word-fold reference", () => {
  it("on random buffers of any length, with the field at any (odd or even) offset", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 4, maxLength: 700 }),
        fc.nat(),
        (bytes, k) => {
          const off = k % (bytes.length - 3);
          expect(peChecksum(bytes, off)).toBe(referenceChecksum(bytes, off));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("at the edges of the ones'-complement sum", () => {
    const cases: Uint8Array[] = [
      new Uint8Array(4), // all zero: 0 + length
      Uint8Array.of(0xff, 0xff, 0, 0, 0, 0), // one word 0xffff
      Uint8Array.of(0xff, 0xff, 0x01, 0x00, 0, 0, 0, 0), // 0xffff + 1 wraps to 1
      Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0xff), // odd tail
      new Uint8Array(0x10001).fill(0xff),
      new Uint8Array(5).fill(0xab), // field covers the odd tail byte (offset 1)
    ];
    for (const b of cases) {
      for (const off of [0, 1, b.length - 4].filter((o) => o <= b.length - 4)) expect(peChecksum(b, off), `${b.length}@${off}`).toBe(referenceChecksum(b, off));
    }
    expect(peChecksum(Uint8Array.of(0xff, 0xff, 0, 0, 0, 0), 2)).toBe(0xffff + 6);
  });

  it("on the synthetic fixtures (as buildPe computed them)", () => {
    for (const f of SYNTHETIC_FIXTURES) {
      const b = buildPe(f.spec);
      const pe = parsePe(b.bytes);
      expect(peChecksum(b.bytes, pe.layout.checksum), f.name).toBe(b.checksum);
    }
  });

  it("writePeChecksum writes it in place; bad offsets are refused", () => {
    const b = buildPe({ checksum: 0 }).bytes;
    const pe = parsePe(b);
    const v = writePeChecksum(b, pe.layout.checksum);
    expect(v).toBe(referenceChecksum(b, pe.layout.checksum));
    expect(parsePe(b).optional.CheckSum).toBe(v);
    for (const off of [-1, b.length - 3, 1.5, Number.NaN]) {
      let ok = false;
      try {
        peChecksum(b, off);
      } catch (e) {
        ok = isKimageError(e, "bad-argument");
      }
      expect(ok, String(off)).toBe(true);
    }
  });
});

describe("peChecksum equals osslsigncode's", () => {
  it("on unsigned synthetic PEs (even lengths; osslsigncode ignores an odd last byte)", () => {
    expect(toolExists("osslsigncode"), "osslsigncode must be installed").toBe(true);
    const specs = [{}, { trailer: filler(0x100, 4) }, { trailer: filler(14, 5) }, { format: "pe32" as const }];
    for (const [i, spec] of specs.entries()) {
      const b = buildPe({ ...spec, checksum: 0x1234 }).bytes;
      const path = join(dir, `u${i}.efi`);
      writeFileSync(path, b);
      const out = sh("osslsigncode", ["verify", "-in", path], { allowFail: true }).out;
      const m = /Calculated PE checksum: ([0-9A-F]{8})/.exec(out);
      expect(m?.[1], out).toBe(peChecksum(b, parsePe(b).layout.checksum).toString(16).toUpperCase().padStart(8, "0"));
    }
  });
});

const reals = requireReal("real PE files", (f) => f.kind === "efi" || f.arch === "amd64" || f.arch === "arm64");

describe.skipIf(reals.length === 0)("peChecksum equals the CheckSum of every real PE that has one", () => {
  it("all real PEs", () => {
    let checked = 0;
    for (const f of reals) {
      const b = readBytes(f.abs);
      if (!probePe(b)) continue;
      const pe = parsePe(b);
      if (pe.optional.CheckSum === 0) continue;
      expect(peChecksum(b, pe.layout.checksum), f.path).toBe(pe.optional.CheckSum);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
  });

  it("is fast enough for a real kernel (under 500 ms on a loaded 2-core machine)", () => {
    const k = reals.find((f) => f.kind === "kernel" && probePe(readBytes(f.abs)));
    if (!k) return;
    const b = readBytes(k.abs);
    const off = parsePe(b).layout.checksum;
    peChecksum(b, off);
    const t = performance.now();
    peChecksum(b, off);
    expect(performance.now() - t).toBeLessThan(500);
  });
});
