/**
 * Tests for the synthetic PE builder (`test/support/pe-builder.ts`):
 * internal consistency, golden fixtures under `fixtures/synthetic/`
 * (rewritten with `UPDATE_FIXTURES=1`), and cross-checks against peer tools
 * (objdump, osslsigncode, pesign) when they are installed.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  alignUp,
  buildPe,
  DUMMY_DER,
  field,
  filler,
  flipByte,
  MACHINE_ARM64,
  MACHINE_I386,
  MACHINE_LOONGARCH64,
  MACHINE_RISCV64,
  MACHINE_THUMB,
  peChecksum,
  SYNTHETIC_FIXTURES,
  withField,
  withFixedChecksum,
  withU16,
  withU32,
  type BuiltPe,
  type PeSpec,
} from "../support/pe-builder.js";
import {
  findTool,
  parseObjdumpHeaders,
  parseOsslChecksums,
  parseOsslDigests,
  parsePesignHash,
  referenceAuthenticodeDigest,
  runTool,
} from "../support/pe-builder.test-helpers.js";

const FIXTURE_DIR = fileURLToPath(new URL("../../fixtures/synthetic/", import.meta.url));
const README = fileURLToPath(new URL("../../fixtures/README.md", import.meta.url));
const UPDATE = process.env["UPDATE_FIXTURES"] === "1";

function u16(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(offset, true);
}
function u32(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, true);
}
function read(built: BuiltPe, name: string): number {
  const loc = field(built, name);
  if (loc.size === 2) return u16(built.bytes, loc.offset);
  if (loc.size === 4) return u32(built.bytes, loc.offset);
  throw new Error(`read(): ${name} has size ${loc.size}`);
}
function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

describe("peChecksum", () => {
  it("sums 16-bit words with end-around carry and adds the length", () => {
    expect(peChecksum(Uint8Array.of(0x01, 0x02, 0x03), 100)).toBe(0x0201 + 0x0003 + 3);
    expect(peChecksum(Uint8Array.of(0xff, 0xff, 0xff, 0xff), 100)).toBe(0xffff + 4);
    expect(peChecksum(new Uint8Array(0), 0)).toBe(0);
  });
  it("ignores the 4 bytes of the CheckSum field", () => {
    const a = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    const b = Uint8Array.of(1, 2, 9, 9, 9, 9, 7, 8);
    expect(peChecksum(a, 2)).toBe(peChecksum(b, 2));
    expect(peChecksum(a, 2)).toBe(0x0201 + 0x0807 + 8);
  });
});

describe("buildPe", () => {
  it("is deterministic", () => {
    expect(buildPe().bytes).toEqual(buildPe().bytes);
    const spec: PeSpec = { certificates: [{ content: DUMMY_DER }], trailer: filler(7, 1) };
    expect(buildPe(spec).bytes).toEqual(buildPe(spec).bytes);
  });

  it.each(
    ([
      ["pe32+", 0x8664],
      ["pe32", MACHINE_I386],
      ["pe32+", MACHINE_ARM64],
      ["pe32", MACHINE_THUMB],
      ["pe32+", MACHINE_RISCV64],
      ["pe32+", MACHINE_LOONGARCH64],
    ] as const).map(([format, machine]) => [format, hex(machine), machine] as const),
  )("writes a consistent %s image for machine %s", (format, _machineHex, machine) => {
    const built = buildPe({ format, machine });
    const b = built.bytes;
    expect(read(built, "e_magic")).toBe(0x5a4d);
    expect(field(built, "e_lfanew").offset).toBe(0x3c);
    const lfanew = read(built, "e_lfanew");
    expect(field(built, "Signature").offset).toBe(lfanew);
    expect(read(built, "Signature")).toBe(0x4550);
    expect(read(built, "Machine")).toBe(machine);
    expect(read(built, "NumberOfSections")).toBe(2);
    expect(read(built, "TimeDateStamp")).toBe(0);
    expect(read(built, "Characteristics")).toBe(0x0206);
    expect(read(built, "Magic")).toBe(format === "pe32+" ? 0x20b : 0x10b);
    const opt = field(built, "Magic").offset;
    expect(field(built, "CheckSum").offset).toBe(opt + 64);
    expect(field(built, "DataDirectory[0].VirtualAddress").offset).toBe(opt + (format === "pe32+" ? 112 : 96));
    expect(read(built, "SizeOfOptionalHeader")).toBe((format === "pe32+" ? 112 : 96) + 16 * 8);
    expect(read(built, "NumberOfRvaAndSizes")).toBe(16);
    expect(read(built, "Subsystem")).toBe(10);
    expect(read(built, "SizeOfHeaders")).toBe(0x200);
    expect(field(built, "SectionTable").offset).toBe(opt + read(built, "SizeOfOptionalHeader"));
    expect(read(built, "CheckSum")).toBe(peChecksum(b, field(built, "CheckSum").offset));
    expect(read(built, "CheckSum")).toBe(built.checksum);
    // Sections: contiguous, file-aligned, section-aligned, .text holds the entry point.
    expect(built.sections.map((s) => s.name)).toEqual([".text", ".data"]);
    expect(built.sections.map((s) => s.pointerToRawData)).toEqual([0x200, 0x400]);
    expect(built.sections.map((s) => s.virtualAddress)).toEqual([0x1000, 0x2000]);
    expect(read(built, "AddressOfEntryPoint")).toBe(0x1000);
    expect(read(built, "SizeOfImage")).toBe(0x3000);
    for (const [i, s] of built.sections.entries()) {
      expect(read(built, `Section[${i}].PointerToRawData`)).toBe(s.pointerToRawData);
      expect(read(built, `Section[${i}].SizeOfRawData`)).toBe(s.sizeOfRawData);
      expect(read(built, `Section[${i}].VirtualSize`)).toBe(s.virtualSize);
      const name = field(built, `Section[${i}].Name`);
      expect(new TextDecoder().decode(b.subarray(name.offset, name.offset + 8)).replace(/\0+$/, "")).toBe(s.name);
      expect(field(built, `SectionData[${i}]`)).toEqual({ offset: s.pointerToRawData, size: s.sizeOfRawData });
    }
    expect(built.sumOfBytesHashed).toBe(0x600);
    expect(built.hashedEnd).toBe(b.length);
    expect(built.certTableOffset).toBeUndefined();
    expect(field(built, "Trailer")).toEqual({ offset: 0x600, size: 0 });
    expect(b.length).toBe(0x600);
  });

  it("builds a certificate table: 8-aligned start, entries padded to 8, directory 4 = {offset, size}", () => {
    const built = buildPe({
      trailer: filler(5, 3),
      certificates: [{ content: DUMMY_DER }, { content: filler(9, 4), revision: 0x100, type: 0xef1 }],
    });
    const table = built.certTableOffset ?? -1;
    expect(table).toBe(0x608);
    expect(table % 8).toBe(0);
    expect(field(built, "Padding")).toEqual({ offset: 0x605, size: 3 });
    expect(read(built, "DataDirectory[4].VirtualAddress")).toBe(table);
    expect(read(built, "DataDirectory[4].Size")).toBe(16 + 24);
    expect(built.bytes.length).toBe(table + 40);
    expect(read(built, "Certificate[0].dwLength")).toBe(13);
    expect(read(built, "Certificate[0].wRevision")).toBe(0x200);
    expect(read(built, "Certificate[0].wCertificateType")).toBe(2);
    expect(field(built, "Certificate[0].bCertificate")).toEqual({ offset: table + 8, size: 5 });
    expect(field(built, "Certificate[1].dwLength").offset).toBe(table + 16);
    expect(read(built, "Certificate[1].dwLength")).toBe(17);
    expect(read(built, "Certificate[1].wRevision")).toBe(0x100);
    expect(read(built, "Certificate[1].wCertificateType")).toBe(0xef1);
    expect(built.hashedEnd).toBe(table);
    expect(read(built, "CheckSum")).toBe(peChecksum(built.bytes, field(built, "CheckSum").offset));
  });

  it("honours dwLength, padTo8 and checksum overrides", () => {
    const built = buildPe({
      trailer: filler(3, 5),
      padTo8: false,
      checksum: 0,
      certificates: [{ content: DUMMY_DER, dwLength: 0x1234 }],
    });
    expect(built.certTableOffset).toBe(0x603);
    expect(read(built, "Certificate[0].dwLength")).toBe(0x1234);
    expect(read(built, "CheckSum")).toBe(0);
    expect(buildPe({ padTo8: true, trailer: filler(3, 5) }).bytes.length).toBe(0x608);
  });

  it("places sections at overridden PointerToRawData (gap) and handles zero-length raw data", () => {
    const built = buildPe({
      sections: [
        { name: ".text", data: 0x10 },
        { name: ".bss", data: 0, virtualSize: 0x2345, characteristics: 0xc0000080 },
        { name: ".data", data: Uint8Array.of(1, 2, 3), pointerToRawData: 0x1000 },
      ],
    });
    expect(built.sections.map((s) => [s.pointerToRawData, s.sizeOfRawData, s.virtualAddress])).toEqual([
      [0x200, 0x200, 0x1000],
      [0, 0, 0x2000],
      [0x1000, 0x200, 0x5000],
    ]);
    expect(built.bytes.subarray(0x1000, 0x1004)).toEqual(Uint8Array.of(1, 2, 3, 0));
    expect(built.bytes.subarray(0x400, 0x1000).every((x) => x === 0)).toBe(true);
    expect(built.sumOfBytesHashed).toBe(0x600);
    expect(built.bytes.length).toBe(0x1200);
    expect(read(built, "SizeOfImage")).toBe(0x6000);
    expect(read(built, "SizeOfUninitializedData")).toBe(0);
  });

  it("moves the section table with a SizeOfOptionalHeader override", () => {
    const built = buildPe({ sizeOfOptionalHeader: 0xf0 + 0x10 });
    expect(field(built, "SectionTable").offset).toBe(field(built, "Magic").offset + 0x100);
    expect(read(built, "SizeOfOptionalHeader")).toBe(0x100);
    const shrunk = buildPe({ numberOfRvaAndSizes: 4 });
    expect(shrunk.fields["DataDirectory[4].Size"]).toBeUndefined();
    expect(read(shrunk, "SizeOfOptionalHeader")).toBe(112 + 32);
  });

  it("rejects impossible specs", () => {
    expect(() => buildPe({ e_lfanew: 0x20 })).toThrow(/e_lfanew/);
    expect(() => buildPe({ sections: [{ name: ".waytoolong", data: 1 }] })).toThrow(/longer than 8/);
  });

  it("mutation helpers return modified copies", () => {
    const built = buildPe();
    const m = field(built, "Machine").offset;
    const a = withU16(built.bytes, m, 0x14c);
    expect(u16(a, m)).toBe(0x14c);
    expect(u16(built.bytes, m)).toBe(0x8664);
    const c = field(built, "CheckSum").offset;
    expect(u32(withU32(built.bytes, c, 0xdeadbeef), c)).toBe(0xdeadbeef);
    const f = flipByte(built.bytes, 0);
    expect(f[0]).toBe(0x4d ^ 0xff);
    expect(built.bytes[0]).toBe(0x4d);
    expect(u16(withField(built, "NumberOfSections", 3), field(built, "NumberOfSections").offset)).toBe(3);
    const mutated = withField(built, "Subsystem", 11);
    expect(u32(mutated, c)).toBe(built.checksum);
    expect(u32(withFixedChecksum(mutated, c), c)).toBe(peChecksum(mutated, c));
    expect(() => withU32(built.bytes, built.bytes.length - 2, 0)).toThrow(RangeError);
    expect(() => field(built, "NoSuchField")).toThrow(/NoSuchField/);
  });
});

// ---------------------------------------------------------------------------
// Golden fixtures
// ---------------------------------------------------------------------------

const builtFixtures = SYNTHETIC_FIXTURES.map((f) => ({ ...f, built: buildPe(f.spec), path: join(FIXTURE_DIR, f.name) }));

describe("golden fixtures in fixtures/synthetic/", () => {
  it.each(builtFixtures.map((f) => [f.name, f] as const))(
    `%s matches its spec${UPDATE ? " (UPDATE_FIXTURES=1: rewriting)" : ""}`,
    (_name, f) => {
      expect(f.built.bytes.length).toBeLessThan(16 * 1024);
      if (UPDATE) writeFileSync(f.path, f.built.bytes);
      expect(
        existsSync(f.path),
        `${f.path} is missing; run UPDATE_FIXTURES=1 npx vitest run test/pe-builder.test.ts`,
      ).toBe(true);
      const committed = new Uint8Array(readFileSync(f.path));
      expect(committed.length, `${f.name} length`).toBe(f.built.bytes.length);
      expect(Buffer.from(committed).equals(Buffer.from(f.built.bytes)), `${f.name} differs from its spec`).toBe(true);
    },
  );

  it("each fixture has the property it is named for", () => {
    const get = (name: string): BuiltPe => {
      const f = builtFixtures.find((x) => x.name === name);
      if (f === undefined) throw new Error(`no fixture ${name}`);
      return f.built;
    };
    const minimal = get("pe32plus-minimal.efi");
    expect(minimal.bytes.length % 8).toBe(0);
    expect(minimal.sections).toHaveLength(2);
    expect(minimal.certTableOffset).toBeUndefined();
    expect(read(get("pe32-i386.efi"), "Magic")).toBe(0x10b);
    expect(read(get("pe32-i386.efi"), "Machine")).toBe(MACHINE_I386);
    expect(read(get("pe32plus-arm64-lfanew40.efi"), "e_lfanew")).toBe(0x40);
    const unaligned = get("pe32plus-unaligned-length.efi");
    expect(unaligned.bytes.length % 8).not.toBe(0);
    expect(unaligned.certTableOffset).toBeUndefined();
    const gap = get("pe32plus-gap.efi");
    const [text, data] = gap.sections;
    expect((data?.pointerToRawData ?? 0) - ((text?.pointerToRawData ?? 0) + (text?.sizeOfRawData ?? 0))).toBe(0x1000);
    const trailer = get("pe32plus-trailer.efi");
    expect(field(trailer, "Trailer").size).toBe(0x100);
    expect(trailer.hashedEnd - trailer.sumOfBytesHashed).toBe(0x100);
    const signed = get("pe32plus-signed-dummy.efi");
    expect(read(signed, "DataDirectory[4].VirtualAddress")).toBe(signed.certTableOffset);
    expect(read(signed, "DataDirectory[4].Size")).toBe(16);
    const bc = field(signed, "Certificate[0].bCertificate");
    expect(signed.bytes.subarray(bc.offset, bc.offset + bc.size)).toEqual(DUMMY_DER);
    const signedTrailer = get("pe32plus-signed-dummy-trailer.efi");
    expect(field(signedTrailer, "Padding").size).toBe(3);
    expect((signedTrailer.certTableOffset ?? 1) % 8).toBe(0);
  });

  it("fixtures/README.md has a row for every fixture", () => {
    const readme = readFileSync(README, "utf8");
    for (const f of SYNTHETIC_FIXTURES) expect(readme, f.name).toContain(`\`${f.name}\``);
  });
});

// ---------------------------------------------------------------------------
// Peer tools
// ---------------------------------------------------------------------------

const OBJDUMP = findTool("objdump");
const OSSLSIGNCODE = findTool("osslsigncode");
const PESIGN = findTool("pesign");
const OPENSSL = findTool("openssl");
const missing = (tool: string, path: string | undefined): string =>
  path === undefined ? ` [SKIPPED: ${tool} not installed]` : "";

/** Machines the installed binutils (Debian 2.40) can read as PE images. */
const OBJDUMP_MACHINES = new Set([0x14c, 0x8664, 0xaa64]);
const peerFixtures = builtFixtures.map((f) => [f.name, f] as const);
const objdumpFixtures = peerFixtures.filter(([, f]) => OBJDUMP_MACHINES.has(read(f.built, "Machine")));

describe(`objdump -h${missing("objdump", OBJDUMP)}`, () => {
  it.skipIf(OBJDUMP === undefined).each(objdumpFixtures)(
    `lists the sections of %s with the right names, file offsets and VMAs${missing("objdump", OBJDUMP)}`,
    (_name, f) => {
      const machine = read(f.built, "Machine");
      const r = runTool(OBJDUMP ?? "objdump", ["-h", f.path]);
      expect(r.status, r.all).toBe(0);
      const parsed = parseObjdumpHeaders(r.stdout);
      expect(parsed.format).toBe(
        machine === 0x14c ? "pei-i386" : machine === 0x8664 ? "pei-x86-64" : "pei-aarch64-little",
      );
      expect(parsed.sections.map((s) => s.name)).toEqual(f.built.sections.map((s) => s.name));
      for (const [i, s] of f.built.sections.entries()) {
        const o = parsed.sections[i];
        expect(o?.fileOffset, `${s.name} file offset`).toBe(s.pointerToRawData);
        expect(o?.vma, `${s.name} VMA`).toBe(f.built.imageBase + BigInt(s.virtualAddress));
        expect(o?.size, `${s.name} size`).toBe(Math.min(s.virtualSize, s.sizeOfRawData));
      }
    },
  );
});

describe(`pesign -h -P${missing("pesign", PESIGN)}`, () => {
  it.skipIf(PESIGN === undefined).each(peerFixtures)(
    `accepts %s and prints the spec digest (sections, zero-padded to 8)${missing("pesign", PESIGN)}`,
    (_name, f) => {
      const r = runTool(PESIGN ?? "pesign", ["-h", "-P", "-i", f.path]);
      expect(r.status, r.all).toBe(0);
      const hash = parsePesignHash(r.stdout);
      expect(hash, r.all).toBeDefined();
      expect(hash).toBe(referenceAuthenticodeDigest(f.built, { mode: "sections", padTo8: true }));
    },
  );
});

describe(`osslsigncode verify${missing("osslsigncode", OSSLSIGNCODE)}`, () => {
  it.skipIf(OSSLSIGNCODE === undefined).each(peerFixtures)(
    `reads %s and agrees with peChecksum${missing("osslsigncode", OSSLSIGNCODE)}`,
    (_name, f) => {
      const r = runTool(OSSLSIGNCODE ?? "osslsigncode", ["verify", "-in", f.path]);
      // Unsigned (or dummy-signed) files: verification itself fails, but the
      // PE headers were parsed and the checksum was reported.
      expect(r.status).not.toBe(0);
      if (f.built.certTableOffset === undefined) expect(r.all).toMatch(/No signature found/);
      else expect(r.all).toMatch(/Unable to extract existing signature/);
      const sums = parseOsslChecksums(r.all);
      expect(sums, r.all).toBeDefined();
      expect(sums?.current).toBe(f.built.checksum);
      const len = f.built.bytes.length;
      const checksumOffset = field(f.built, "CheckSum").offset;
      if (len % 2 === 0) {
        expect(sums?.calculated, "osslsigncode's calculated checksum").toBe(peChecksum(f.built.bytes, checksumOffset));
      } else {
        // Known osslsigncode quirk: it drops a trailing odd byte and adds the
        // even-truncated length, unlike Microsoft's CheckSumMappedFile (which
        // counts the odd byte as a zero-extended word and adds the real length).
        expect(sums?.calculated).toBe(peChecksum(f.built.bytes.subarray(0, len - 1), checksumOffset));
        expect(sums?.calculated).not.toBe(f.built.checksum);
      }
    },
  );
});

describe(`osslsigncode sign + verify with a throwaway key${missing("osslsigncode", OSSLSIGNCODE)}${missing("openssl", OPENSSL)}`, () => {
  const available = OSSLSIGNCODE !== undefined && OPENSSL !== undefined;
  let dir = "";
  beforeAll(() => {
    if (!available) return;
    dir = mkdtempSync(join(tmpdir(), "kimage-pe-builder-"));
    const r = runTool(OPENSSL ?? "openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=kimage pe-builder test",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
    ]);
    expect(r.status, r.all).toBe(0);
  });
  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!available).each(peerFixtures)(
    `signs %s; the embedded digest equals a linear hash of the 8-padded file${missing("osslsigncode", OSSLSIGNCODE)}${missing("openssl", OPENSSL)}`,
    (name, f) => {
      const out = join(dir, `signed-${name}`);
      const s = runTool(OSSLSIGNCODE ?? "osslsigncode", [
        "sign", "-certs", join(dir, "cert.pem"), "-key", join(dir, "key.pem"), "-h", "sha256", "-in", f.path, "-out", out,
      ]);
      expect(s.status, s.all).toBe(0);
      const v = runTool(OSSLSIGNCODE ?? "osslsigncode", ["verify", "-in", out, "-CAfile", join(dir, "cert.pem")]);
      expect(v.status, v.all).toBe(0);
      const digests = parseOsslDigests(v.all);
      expect(digests, v.all).toBeDefined();
      expect(digests?.current).toBe(digests?.calculated);
      expect(digests?.current).toBe(referenceAuthenticodeDigest(f.built, { mode: "linear", padTo8: true }));
      // The checksum osslsigncode wrote into the (even-length) signed file is ours too.
      const signed = new Uint8Array(readFileSync(out));
      const checksumOffset = field(f.built, "CheckSum").offset;
      expect(signed.length % 8).toBe(0);
      expect(parseOsslChecksums(v.all)?.current).toBe(u32(signed, checksumOffset));
      expect(u32(signed, checksumOffset)).toBe(peChecksum(signed, checksumOffset));
      // osslsigncode puts its certificate table right after the 8-padded hashed region.
      expect(u32(signed, field(f.built, "DataDirectory[4].VirtualAddress").offset)).toBe(alignUp(f.built.hashedEnd, 8));
    },
  );
});

describe("reference digests", () => {
  it("the two digest styles differ exactly for the fixture with a gap between sections", () => {
    for (const f of builtFixtures) {
      const sections = referenceAuthenticodeDigest(f.built, { mode: "sections", padTo8: true });
      const linear = referenceAuthenticodeDigest(f.built, { mode: "linear", padTo8: true });
      expect(sections === linear, `${f.name}: ${hex(f.built.sumOfBytesHashed)}`).toBe(f.name !== "pe32plus-gap.efi");
    }
  });
});
