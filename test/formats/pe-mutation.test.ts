// One-byte and one-field mutations of synthetic PE images: every header field
// the digest uses, and every hostile PE case of ../shared/REFERENCES.md, gives
// its own error code or finding; nothing else ever escapes.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { authenticodeDigest, authenticodeRanges, isKimageError, parsePe, type ErrorCode } from "../../src/internals.js";
import { nodeHashProvider } from "../../src/node/index.js";
import { buildPe, flipByte, withU16, withU32, type BuiltPe } from "../support/pe-builder.js";

const hash = { hash: nodeHashProvider };

function loc(pe: BuiltPe, name: string): number {
  const f = pe.fields[name];
  if (!f) throw new Error(`builder has no field ${name}`);
  return f.offset;
}

function codeOf(bytes: Uint8Array): ErrorCode | "ok" {
  try {
    authenticodeRanges(parsePe(bytes));
    return "ok";
  } catch (e) {
    if (isKimageError(e)) return e.code;
    throw e;
  }
}

function findingCodes(bytes: Uint8Array): string[] {
  return authenticodeRanges(parsePe(bytes)).findings.map((f) => f.code);
}

/** A dummy PKCS#7-shaped blob: SEQUENCE { INTEGER 0 }. */
const DUMMY_DER = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]);

const plain = buildPe({});
const signed = buildPe({ certificates: [{ content: DUMMY_DER }] });

describe("valid synthetic images parse cleanly", () => {
  it("unsigned PE32+ and PE32, signed PE32+", () => {
    expect(codeOf(plain.bytes)).toBe("ok");
    expect(codeOf(buildPe({ format: "pe32" }).bytes)).toBe("ok");
    expect(codeOf(signed.bytes)).toBe("ok");
    expect(findingCodes(plain.bytes)).toEqual([]);
    expect(findingCodes(signed.bytes)).toEqual([]);
  });
});

describe("header fields used for the digest: each mutation gets its own error code", () => {
  const cases: Array<[string, (b: Uint8Array) => Uint8Array, ErrorCode]> = [
    ["e_magic", (b) => withU16(b, loc(plain, "e_magic"), 0x5a4e), "pe-bad-dos-magic"],
    ["e_lfanew past the end", (b) => withU32(b, loc(plain, "e_lfanew"), b.length - 8), "pe-bad-lfanew"],
    ["e_lfanew huge", (b) => withU32(b, loc(plain, "e_lfanew"), 0xfffffff0), "pe-bad-lfanew"],
    ["e_lfanew inside the DOS header", (b) => withU32(b, loc(plain, "e_lfanew"), 0x10), "pe-bad-lfanew"],
    ["Signature", (b) => flipByte(b, loc(plain, "Signature")), "pe-bad-signature"],
    ["Magic", (b) => withU16(b, loc(plain, "Magic"), 0x30b), "pe-bad-optional-magic"],
    ["SizeOfOptionalHeader below the fixed fields", (b) => withU16(b, loc(plain, "SizeOfOptionalHeader"), 100), "pe-optional-header-truncated"],
    ["SizeOfOptionalHeader past the end", (b) => withU16(b, loc(plain, "SizeOfOptionalHeader"), 0xffff), "pe-optional-header-truncated"],
    ["SizeOfOptionalHeader too small for NumberOfRvaAndSizes", (b) => withU16(b, loc(plain, "SizeOfOptionalHeader"), 112 + 8 * 15), "pe-data-dirs-overflow"],
    ["NumberOfRvaAndSizes larger than the optional header", (b) => withU32(b, loc(plain, "NumberOfRvaAndSizes"), 17), "pe-data-dirs-overflow"],
    ["NumberOfRvaAndSizes 0xffffffff", (b) => withU32(b, loc(plain, "NumberOfRvaAndSizes"), 0xffffffff), "pe-data-dirs-overflow"],
    ["NumberOfSections past SizeOfHeaders", (b) => withU16(b, loc(plain, "NumberOfSections"), 40), "pe-section-table-out-of-bounds"],
    ["NumberOfSections past the end of the file", (b) => withU16(b, loc(plain, "NumberOfSections"), 0xffff), "pe-section-table-out-of-bounds"],
    ["SizeOfHeaders below the section table", (b) => withU32(b, loc(plain, "SizeOfHeaders"), 0x100), "pe-section-table-out-of-bounds"],
    ["SizeOfHeaders past the end", (b) => withU32(b, loc(plain, "SizeOfHeaders"), b.length + 1), "pe-headers-size-invalid"],
    ["PointerToRawData past the end", (b) => withU32(b, loc(plain, "Section[1].PointerToRawData"), b.length), "pe-section-out-of-bounds"],
    ["SizeOfRawData past the end", (b) => withU32(b, loc(plain, "Section[0].SizeOfRawData"), b.length), "pe-section-out-of-bounds"],
    ["SizeOfRawData 0xffffffff", (b) => withU32(b, loc(plain, "Section[0].SizeOfRawData"), 0xffffffff), "pe-section-out-of-bounds"],
    ["PointerToRawData + SizeOfRawData wraps 32 bits", (b) => withU32(withU32(b, loc(plain, "Section[1].PointerToRawData"), 0xffffff00), loc(plain, "Section[1].SizeOfRawData"), 0x200), "pe-section-out-of-bounds"],
  ];
  for (const [name, mutate, code] of cases) {
    it(`${name} -> ${code}`, () => {
      expect(codeOf(mutate(plain.bytes))).toBe(code);
    });
  }

  it("a truncated optional header -> pe-optional-header-truncated", () => {
    const cut = plain.bytes.slice(0, loc(plain, "Magic") + 50);
    expect(codeOf(cut)).toBe("pe-optional-header-truncated");
  });

  it("every error carries the layer and the offset of the field", () => {
    try {
      parsePe(withU16(plain.bytes, loc(plain, "Magic"), 0x30b));
      expect.unreachable();
    } catch (e) {
      expect(isKimageError(e, "pe-bad-optional-magic")).toBe(true);
      if (!isKimageError(e)) return;
      expect(e.layer).toBe("pe");
      expect(e.offset).toBe(loc(plain, "Magic"));
    }
  });
});

describe("certificate-table placement", () => {
  it("table past the end of the file -> pe-cert-table-out-of-bounds", () => {
    const b = withU32(signed.bytes, loc(signed, "DataDirectory[4].Size"), signed.certTableSize + 8);
    expect(codeOf(b)).toBe("pe-cert-table-out-of-bounds");
  });
  it("table offset + size wrapping 32 bits -> pe-cert-table-out-of-bounds", () => {
    const b = withU32(signed.bytes, loc(signed, "DataDirectory[4].Size"), 0xfffffff8);
    expect(codeOf(b)).toBe("pe-cert-table-out-of-bounds");
  });
  it("table below SizeOfHeaders -> pe-cert-table-in-headers", () => {
    const b = withU32(signed.bytes, loc(signed, "DataDirectory[4].VirtualAddress"), 0x10);
    expect(codeOf(b)).toBe("pe-cert-table-in-headers");
  });
  it("table not at the end of the file -> finding cert-table-not-at-end", () => {
    const b = new Uint8Array(signed.bytes.length + 16);
    b.set(signed.bytes);
    expect(findingCodes(b)).toContain("cert-table-not-at-end");
  });
  it("only one of VirtualAddress and Size set -> unsigned, with a finding", () => {
    const b = withU32(signed.bytes, loc(signed, "DataDirectory[4].Size"), 0);
    expect(parsePe(b).certificateTable).toBeNull();
    expect(findingCodes(b)).toContain("cert-directory-half-empty");
  });
  it("NumberOfRvaAndSizes < 5 -> no certificate directory, EDK2 digest, finding", async () => {
    const small = buildPe({ numberOfRvaAndSizes: 4 });
    expect(findingCodes(small.bytes)).toContain("no-cert-directory");
    const pe = parsePe(small.bytes);
    expect(pe.layout.certDirectoryEntry).toBeNull();
    const r = authenticodeRanges(pe).ranges;
    // Headers are hashed in two pieces: before and after CheckSum.
    expect(r.filter((x) => x.kind === "headers")).toHaveLength(2);
  });
  it("SizeOfOptionalHeader with slack after the data directories -> finding", () => {
    const slack = buildPe({ sizeOfOptionalHeader: 112 + 8 * 16 + 16 });
    expect(findingCodes(slack.bytes)).toContain("optional-header-slack");
  });
});

describe("WIN_CERTIFICATE entries: each problem its own finding code", () => {
  const entryCodes = (b: Uint8Array) => parsePe(b).findings.map((f) => f.code);
  it("dwLength 0 and dwLength < 8 -> cert-entry-too-short", () => {
    expect(entryCodes(withU32(signed.bytes, loc(signed, "Certificate[0].dwLength"), 0))).toContain("cert-entry-too-short");
    expect(entryCodes(withU32(signed.bytes, loc(signed, "Certificate[0].dwLength"), 7))).toContain("cert-entry-too-short");
  });
  it("dwLength > Size -> cert-entry-overflow", () => {
    expect(entryCodes(withU32(signed.bytes, loc(signed, "Certificate[0].dwLength"), signed.certTableSize + 1))).toContain("cert-entry-overflow");
  });
  it("wrong revision -> cert-bad-revision; wrong type -> cert-bad-type", () => {
    expect(entryCodes(withU16(signed.bytes, loc(signed, "Certificate[0].wRevision"), 0x0100))).toEqual(["cert-bad-revision"]);
    expect(entryCodes(withU16(signed.bytes, loc(signed, "Certificate[0].wCertificateType"), 1))).toEqual(["cert-bad-type"]);
  });
  it("an extra entry of an unknown type -> cert-bad-type on entry 1", () => {
    const two = buildPe({ certificates: [{ content: DUMMY_DER }, { content: DUMMY_DER, type: 0x0ef1 }] });
    const pe = parsePe(two.bytes);
    expect(pe.certificateTable?.entries).toHaveLength(2);
    expect(pe.findings.map((f) => f.code)).toEqual(["cert-bad-type"]);
  });
  it("junk inside the table's Size -> the junk is reported", () => {
    // Grow the table by 16 zero bytes: the next 'entry' has dwLength 0.
    const b = new Uint8Array(signed.bytes.length + 16);
    b.set(signed.bytes);
    const grown = withU32(b, loc(signed, "DataDirectory[4].Size"), signed.certTableSize + 16);
    expect(entryCodes(grown)).toContain("cert-entry-too-short");
  });
  it("sum of align8(dwLength) != Size -> cert-table-size-mismatch", () => {
    // Shrink Size by 4: the (8-aligned) entry no longer fits the table exactly.
    const t = withU32(signed.bytes, loc(signed, "DataDirectory[4].Size"), signed.certTableSize - 4);
    const cut = t.slice(0, t.length - 4);
    const codes = entryCodes(cut);
    expect(codes.some((c) => c === "cert-table-size-mismatch" || c === "cert-entry-overflow")).toBe(true);
  });
  it("an unpadded dwLength inside an 8-aligned table is fine", () => {
    expect(entryCodes(signed.bytes)).toEqual([]);
    expect(parsePe(signed.bytes).certificateTable?.entries[0]?.dwLength).toBe(8 + DUMMY_DER.length);
  });
});

describe("section layouts the spec allows, flagged", () => {
  it("a gap between sections -> section-gap; digest re-hashes from SUM (EDK2)", async () => {
    const gap = buildPe({ sections: [{ name: ".text", data: 0x200 }, { name: ".data", data: 0x200, pointerToRawData: 0x1400 }] });
    expect(findingCodes(gap.bytes)).toContain("section-gap");
    const layout = authenticodeRanges(parsePe(gap.bytes));
    const remaining = layout.ranges.find((r) => r.kind === "remaining");
    expect(remaining).toMatchObject({ start: gap.sumOfBytesHashed, end: gap.bytes.length });
  });
  it("overlapping sections -> sections-overlap", () => {
    const ov = buildPe({ sections: [{ name: ".text", data: 0x400 }, { name: ".data", data: 0x200, pointerToRawData: 0x400 }] });
    // .text at SizeOfHeaders (0x400) for 0x400 bytes; .data placed inside it.
    expect(findingCodes(ov.bytes)).toContain("sections-overlap");
  });
  it("a section inside the headers -> section-in-headers", () => {
    const b = withU32(plain.bytes, loc(plain, "Section[1].PointerToRawData"), 0x0);
    expect(findingCodes(b)).toContain("section-in-headers");
  });
  it("sections whose sizes exceed the image -> sections-exceed-image", () => {
    // Point both sections at the whole file body: SUM > file size.
    const size = plain.bytes.length - plain.sizeOfHeaders;
    let b = withU32(plain.bytes, loc(plain, "Section[0].SizeOfRawData"), size);
    b = withU32(b, loc(plain, "Section[1].PointerToRawData"), plain.sizeOfHeaders);
    b = withU32(b, loc(plain, "Section[1].SizeOfRawData"), size);
    expect(findingCodes(b)).toContain("sections-exceed-image");
  });
  it("raw sizes adding up past 2^32 -> pe-section-size-wrap", () => {
    // 65535 section headers all covering the same 64 KiB: 65535 * 0x10000 + SizeOfHeaders > 2^32.
    const n = 0xffff;
    const headers = Math.ceil((0x200 + n * 40) / 0x200) * 0x200;
    const b = new Uint8Array(headers + 0x10000);
    const dv = new DataView(b.buffer);
    dv.setUint16(0, 0x5a4d, true);
    dv.setUint32(0x3c, 0x40, true);
    dv.setUint32(0x40, 0x4550, true);
    dv.setUint16(0x44, 0x8664, true);
    dv.setUint16(0x46, n, true);
    dv.setUint16(0x54, 112 + 16 * 8, true);
    const o = 0x58;
    dv.setUint16(o, 0x20b, true);
    dv.setUint32(o + 60, headers, true);
    dv.setUint32(o + 108, 16, true);
    const st = o + 112 + 128;
    for (let i = 0; i < n; i++) {
      dv.setUint32(st + i * 40 + 16, 0x10000, true); // SizeOfRawData
      dv.setUint32(st + i * 40 + 20, headers, true); // PointerToRawData
    }
    expect(codeOf(b)).toBe("pe-section-size-wrap");
  });
});

describe("what the digest covers", () => {
  const trailer = buildPe({ trailer: new Uint8Array(24).fill(7), certificates: [{ content: DUMMY_DER }] });
  const digestOf = async (b: Uint8Array) => (await authenticodeDigest(b, "sha256", hash)).hex;

  it("a flipped byte in each hashed region class changes the digest", async () => {
    const base = await digestOf(trailer.bytes);
    const regions: Record<string, number> = {
      "DOS header": 0x02,
      "COFF header (TimeDateStamp)": loc(trailer, "Machine") + 4,
      "optional header before CheckSum": loc(trailer, "CheckSum") - 4,
      "optional header between CheckSum and the cert entry": loc(trailer, "CheckSum") + 8,
      "data directories after the cert entry": loc(trailer, "DataDirectory[4].Size") + 4,
      "section table": loc(trailer, "Section[0].Name") + 1,
      "header padding": trailer.sizeOfHeaders - 1,
      "section data": loc(trailer, "SectionData[1]") + 3,
      "remaining data": loc(trailer, "Trailer") + 5,
    };
    for (const [name, at] of Object.entries(regions)) {
      expect(await digestOf(flipByte(trailer.bytes, at)), name).not.toBe(base);
    }
  });

  it("CheckSum, the cert-table directory entry and the table itself are not hashed", async () => {
    const base = await digestOf(trailer.bytes);
    expect(await digestOf(withU32(trailer.bytes, loc(trailer, "CheckSum"), 0xdeadbeef))).toBe(base);
    expect(await digestOf(flipByte(trailer.bytes, loc(trailer, "Certificate[0].bCertificate") + 2))).toBe(base);
  });

  it("an unsigned file of odd length is hashed as if zero-padded to 8", async () => {
    const odd = buildPe({ trailer: new Uint8Array(5).fill(1) });
    expect(odd.bytes.length % 8).not.toBe(0);
    const padded = new Uint8Array(odd.bytes.length + (8 - (odd.bytes.length % 8)));
    padded.set(odd.bytes);
    expect(await digestOf(odd.bytes)).toBe(await digestOf(padded));
    const unpadded = await authenticodeDigest(odd.bytes, "sha256", { ...hash, padUnsigned: false });
    expect(unpadded.hex).not.toBe(await digestOf(odd.bytes));
  });
});

describe("no input makes the parser throw anything but KimageError", () => {
  it("every prefix of a small signed image", () => {
    for (let n = 0; n <= signed.bytes.length; n += 7) codeOf(signed.bytes.subarray(0, n));
  });
  it("random byte mutations of a signed image (fast-check)", () => {
    const headerEnd = signed.sizeOfHeaders;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(headerEnd - 1), fc.nat(255)), { minLength: 1, maxLength: 8 }),
        (muts) => {
          const b = signed.bytes.slice();
          for (const [at, v] of muts) b[at] = v;
          codeOf(b); // throws (and fails the property) on any non-KimageError
        },
      ),
      { numRuns: 3000, seed: 42 },
    );
  });
  it("random bytes (fast-check)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (b) => {
        if (b.length > 2) {
          b[0] = 0x4d;
          b[1] = 0x5a;
        }
        codeOf(b);
      }),
      { numRuns: 2000, seed: 7 },
    );
  });
});

describe("CVE-2013-3900: data after the DER inside dwLength", () => {
  it("non-zero bytes after the signature -> cert-trailing-bytes; zeros are fine", () => {
    const zeros = buildPe({ certificates: [{ content: new Uint8Array([...DUMMY_DER, 0, 0, 0]) }] });
    expect(parsePe(zeros.bytes).findings).toEqual([]);
    const junk = buildPe({ certificates: [{ content: new Uint8Array([...DUMMY_DER, 0, 0x41, 0]) }] });
    const f = parsePe(junk.bytes).findings;
    expect(f.map((x) => x.code)).toEqual(["cert-trailing-bytes"]);
    expect(f[0]?.offset).toBe(loc(junk, "Certificate[0].bCertificate") + DUMMY_DER.length + 1);
  });
});

describe("sections by name and .sbat", () => {
  it("finds sections by name and parses .sbat rows", async () => {
    const { sectionByName, sectionData, parseSbat } = await import("../../src/internals.js");
    const csv = "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nlinux,1,Debian,linux,6.1,https://www.debian.org/\n";
    const sbat = new TextEncoder().encode(csv);
    const built = buildPe({ sections: [{ name: ".text", data: 0x100 }, { name: ".sbat", data: sbat, characteristics: 0x40000040 }] });
    const pe = parsePe(built.bytes);
    const s = sectionByName(pe, ".sbat");
    expect(s?.index).toBe(1);
    expect(new TextDecoder().decode(sectionData(pe, s!).subarray(0, sbat.length))).toBe(csv);
    expect(parseSbat(pe)).toEqual([
      { component_name: "sbat", component_generation: 1, vendor_name: "SBAT Version", vendor_package_name: "sbat", vendor_version: "1", vendor_url: "https://github.com/rhboot/shim/blob/main/SBAT.md" },
      { component_name: "linux", component_generation: 1, vendor_name: "Debian", vendor_package_name: "linux", vendor_version: "6.1", vendor_url: "https://www.debian.org/" },
    ]);
    expect(sectionByName(pe, ".nope")).toBeUndefined();
  });
});
