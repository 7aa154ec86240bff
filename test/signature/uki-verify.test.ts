// Verification of ukify-built UKIs (test/support/uki.ts): a valid envelope, a
// tampered .cmdline and an unsigned UKI are told apart; --uki-parts states each
// part's coverage; and the hostile section layouts each get their typed error
// or finding (one mutation of a real UKI each).
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli.js";
import { parsePe } from "../../src/formats/pe/parse.js";
import { parseUki, ukiPart, type UkiSection } from "../../src/formats/pe/uki/parse.js";
import { inspect } from "../../src/inspect/registry.js";
import { nodeHashProvider } from "../../src/node/hash.js";
import { verifyUki } from "../../src/signature/uki.js";
import { isKimageError } from "../../src/core/errors.js";
import { makePki, type Pki } from "../support/sign-pki.js";
import { parseShimVendorCert } from "../../src/signature/shim.js";
import { readBytes, requireReal } from "../support/real.js";
import { plainUki, removeUkis, signedKernelUki, signedUki, ukifyKit, type BuiltUki, type UkifyKit } from "../support/uki.js";

const kit = ukifyKit();

function section(b: Uint8Array, name: string): UkiSection {
  const s = parseUki(parsePe(b)).sections.find((x) => x.name === name);
  if (!s) throw new Error(`no ${name}`);
  return s;
}

function withU32(b: Uint8Array, off: number, v: number): Uint8Array {
  const out = b.slice();
  new DataView(out.buffer).setUint32(off, v, true);
  return out;
}

async function cli(...argv: string[]): Promise<{ status: number; out: string }> {
  const out: string[] = [];
  const status = await main(argv, { out: (s) => void out.push(s), err: () => undefined });
  return { status, out: out.join("\n") };
}

describe.runIf(kit)("verify of ukify-built UKIs", () => {
  const k = kit as UkifyKit;
  let pki: Pki;
  let signed: BuiltUki;
  let unsigned: BuiltUki;
  beforeAll(() => {
    pki = makePki();
    signed = signedUki(k, pki.leaf.keyPath, pki.leaf.certPath);
    unsigned = plainUki(k, "amd64");
  }, 120_000);
  afterAll(() => {
    pki?.cleanup();
    removeUkis();
  });
  const opts = (): { trust: Uint8Array[]; hash: typeof nodeHashProvider; mode: "shim" } => ({ trust: [pki.root.certDer], hash: nodeHashProvider, mode: "shim" });

  it("separates a valid envelope, a tampered .cmdline and an unsigned UKI", async () => {
    const good = await verifyUki(signed.bytes, opts());
    expect(good.envelope.verdict).toBe("valid");
    expect(good.parts.length).toBeGreaterThan(0);
    expect(good.parts.every((p) => p.covered && p.reason === "hashed")).toBe(true);
    // The inner .linux is a PE of its own, verified on its own: the unsigned Debian kernel stays unsigned.
    expect(good.inner.length).toBeGreaterThanOrEqual(1);
    expect(good.inner[0]?.verdict.verdict).toBe("unsigned");
    expect(good.inner[0]?.offset).toBe(section(signed.bytes, ".linux").offset);

    const cmd = section(signed.bytes, ".cmdline");
    const tampered = signed.bytes.slice();
    tampered[cmd.PointerToRawData] = (tampered[cmd.PointerToRawData] as number) ^ 0x01;
    const bad = await verifyUki(tampered, opts());
    expect(bad.envelope.verdict).not.toBe("valid");
    expect(bad.envelope.signatures[0]?.digestMatch).toBe(false);

    const none = await verifyUki(unsigned.bytes, opts());
    expect(none.envelope.verdict).toBe("unsigned");
    expect(none.inner.every((l) => l.verdict.verdict === "unsigned")).toBe(true);
  }, 60_000);

  it("a UKI around the Debian-signed kernel: the envelope's verdict and the inner kernel's own, each against its own trust", async () => {
    const shim = requireReal("Debian's unsigned shim (source of the Debian Secure Boot CA)", (f) => f.path === "bookworm/amd64/shim-unsigned/shimx64.efi")[0];
    const b = signedKernelUki(k, pki.leaf.keyPath, pki.leaf.certPath);
    if (!shim || !b) return;
    const debianCa = parseShimVendorCert(readBytes(shim.abs))?.certificates[0] as Uint8Array;
    const both = await verifyUki(b.bytes, { trust: [pki.root.certDer, debianCa], hash: nodeHashProvider, mode: "shim" });
    expect(both.envelope.verdict).toBe("valid");
    expect(both.inner[0]?.verdict.verdict).toBe("valid");
    expect(both.inner[0]?.verdict.signatures[0]?.signer).toMatch(/Debian Secure Boot Signer/);
    // Trusting only Debian: the inner kernel is still valid, the envelope (our test signer) is not.
    const debianOnly = await verifyUki(b.bytes, { trust: [debianCa], hash: nodeHashProvider, mode: "shim" });
    expect(debianOnly.envelope.verdict).toBe("untrusted");
    expect(debianOnly.inner[0]?.verdict.verdict).toBe("valid");
    // Trusting only the test root: the other way round.
    const oursOnly = await verifyUki(b.bytes, opts());
    expect(oursOnly.envelope.verdict).toBe("valid");
    expect(oursOnly.inner[0]?.verdict.verdict).toBe("untrusted");
  }, 60_000);

  it("the CLI: envelope and inner verdicts, --uki-parts, exit status", async () => {
    const good = await cli("verify", signed.path, "--cert", pki.root.certPath, "--uki-parts", "--json");
    expect(good.status).toBe(0);
    const j = JSON.parse(good.out) as { verdict: string; uki: { inner: unknown[]; parts: { name: string; covered: boolean }[] } };
    expect(j.verdict).toBe("valid");
    expect(j.uki.parts.map((p) => p.name)).toEqual(expect.arrayContaining([".linux", ".initrd", ".cmdline", ".osrel", ".uname", ".sbat"]));
    expect(j.uki.parts.every((p) => p.covered)).toBe(true);
    const none = await cli("verify", unsigned.path, "--cert", pki.root.certPath);
    expect(none.status).toBe(1);
    expect(none.out).toMatch(/^verdict: unsigned/);
    expect(readFileSync(signed.path).length).toBe(signed.bytes.length);
  }, 60_000);

  describe("hostile section layouts (one mutation of a real UKI each)", () => {
    it("overlapping parts: uki-parts-overlap", () => {
      const cmd = section(unsigned.bytes, ".cmdline");
      const osrel = section(unsigned.bytes, ".osrel");
      const m = withU32(unsigned.bytes, cmd.headerOffset + 20, osrel.PointerToRawData);
      expect(parseUki(parsePe(m)).findings.map((f) => f.code)).toContain("uki-parts-overlap");
      expect(parseUki(parsePe(unsigned.bytes)).findings.map((f) => f.code)).not.toContain("uki-parts-overlap");
    });

    it(".linux outside the file: pe-section-out-of-bounds at its SizeOfRawData", async () => {
      const linux = section(unsigned.bytes, ".linux");
      const m = withU32(unsigned.bytes, linux.headerOffset + 16, linux.SizeOfRawData + 0x10000000);
      let code = "";
      try {
        parsePe(m);
      } catch (e) {
        if (!isKimageError(e)) throw e;
        code = e.code;
        expect(e.offset).toBe(linux.headerOffset + 16);
      }
      expect(code).toBe("pe-section-out-of-bounds");
      const v = await verifyUki(m, opts());
      expect(v.envelope.verdict).toBe("malformed");
      expect(v.envelope.reason).toBe("pe-section-out-of-bounds");
    });

    it("two .cmdline in one profile: uki-duplicate-section; the stub's (first) one is used", () => {
      const uname = section(unsigned.bytes, ".uname");
      const m = unsigned.bytes.slice();
      m.set(new TextEncoder().encode(".cmdline"), uname.headerOffset);
      const u = parseUki(parsePe(m));
      const dup = u.findings.find((f) => f.code === "uki-duplicate-section");
      expect(dup?.offset).toBe(uname.headerOffset);
      expect(ukiPart(u, ".cmdline").section.index).toBe(section(unsigned.bytes, ".cmdline").index);
    });

    it("VirtualSize > SizeOfRawData: uki-zero-fill, and the part reads as file bytes then zeros", () => {
      const cmd = section(unsigned.bytes, ".cmdline");
      const vs = cmd.SizeOfRawData + 0x100;
      const m = withU32(unsigned.bytes, cmd.headerOffset + 8, vs);
      const u = parseUki(parsePe(m));
      expect(u.findings.find((f) => f.code === "uki-zero-fill")?.offset).toBe(cmd.headerOffset + 8);
      const data = ukiPart(u, ".cmdline").data;
      expect(data.length).toBe(vs);
      expect(data.subarray(cmd.SizeOfRawData).every((x) => x === 0)).toBe(true);
      expect(data.subarray(0, cmd.SizeOfRawData)).toEqual(m.subarray(cmd.PointerToRawData, cmd.PointerToRawData + cmd.SizeOfRawData));
      // A hostile VirtualSize cannot make kimage allocate gigabytes: a typed `limit`.
      const huge = withU32(unsigned.bytes, cmd.headerOffset + 8, 0xfffffff0);
      expect(() => ukiPart(parseUki(parsePe(huge)), ".cmdline")).toThrow(expect.objectContaining({ code: "limit" }));
    });

    it("a part outside the signed ranges: in-certificate-table, not covered", async () => {
      const pe = parsePe(signed.bytes);
      const table = pe.certificateTable;
      expect(table).not.toBeNull();
      const cmd = section(signed.bytes, ".cmdline");
      const m = withU32(signed.bytes, cmd.headerOffset + 20, table?.offset ?? 0);
      const v = await verifyUki(m, opts());
      const part = v.parts.find((p) => p.index === cmd.index);
      expect(part?.covered).toBe(false);
      expect(part?.reason).toBe("in-certificate-table");
      expect(v.envelope.verdict).not.toBe("valid");
      expect((await verifyUki(signed.bytes, opts())).parts.find((p) => p.index === cmd.index)?.covered).toBe(true);
    });

    it("a mutated UKI never escapes as RangeError/TypeError from inspect", async () => {
      const base = unsigned.bytes.subarray(0, 0x1000);
      const lim = parsePe(unsigned.bytes).sections.length * 40 + 0x200;
      const escaped: string[] = [];
      for (let off = 0x80; off < Math.min(lim, base.length); off += 7) {
        const m = unsigned.bytes.slice();
        m[off] = (m[off] as number) ^ 0xa5;
        try {
          await inspect(m, { decode: "peek", stopAfter: "uki" });
        } catch (e) {
          if (!isKimageError(e)) escaped.push(`0x${off.toString(16)}: ${String(e)}`);
        }
      }
      expect(escaped).toEqual([]);
    }, 60_000);
  });
});
