// Unit tests of the verification building blocks: PEM and base64, EFI
// signature lists (bounds), shim's .vendor_cert, ECDSA signature encodings,
// the RSA digest recovery used for diagnostics, certificate parsing rules,
// SBAT levels, the reason table, and verifyChain over custom layer tables.
import { describe, expect, it } from "vitest";
import { createHash, generateKeyPairSync, sign as nodeSign } from "node:crypto";
import { base64Decode, certificateDers, pemBlocks, parseTrustAnchors } from "../../src/signature/trust.js";
import {
  EFI_CERT_TYPES,
  buildEfiSignatureList,
  efiSignatureDatabase,
  formatGuid,
  guidBytes,
  parseEfiSignatureLists,
} from "../../src/signature/efi-siglist.js";
import { parseShimVendorCert } from "../../src/signature/shim.js";
import { ecdsaDerToRaw, ecdsaRawToDer, rsaRecoverDigestInfo } from "../../src/signature/crypto.js";
import { parseCertificate } from "../../src/cms/certificate.js";
import { readDigestInfo } from "../../src/cms/digest-info.js";
import { VERDICT_REASONS, checkSbat, parseSbatLevel, reasonVerdict } from "../../src/signature/policy.js";
import { verifyChain } from "../../src/signature/verify.js";
import { KimageError } from "../../src/core/errors.js";
import { OID } from "../../src/asn1/oids.js";
import { peLayer } from "../../src/formats/pe/format.js";
import { parsePe, probePe, sectionByName } from "../../src/formats/pe/parse.js";
import type { FormatModule } from "../../src/format/types.js";
import { buildPe, field } from "../support/pe-builder.js";
import { algId, bitString, bool, concat, ctx, int, name, octet, oid, seq, utcTime } from "../support/der-builder.js";

function kerr(fn: () => unknown): KimageError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KimageError) return e;
    throw e;
  }
  throw new Error("expected a KimageError");
}

// A structurally valid certificate (the signature is not checked by the parser).
function cert(opts: { version?: number; exts?: Uint8Array[]; spki?: Uint8Array; cn?: string } = {}): Uint8Array {
  const spki = opts.spki ?? seq(algId(OID.rsaEncryption), bitString(seq(int(0xc0ffeeb1n * 2n ** 1000n + 1n), int(65537))));
  const nm = name([OID.commonName, opts.cn ?? "Unit"]);
  const tbs = seq(
    ...(opts.version === undefined ? [ctx(0, int(2))] : opts.version === 0 ? [] : [ctx(0, int(opts.version))]),
    int(7),
    algId(OID.sha256WithRSAEncryption),
    nm,
    seq(utcTime(new Date(Date.UTC(2020, 0, 1))), utcTime(new Date(Date.UTC(2030, 0, 1)))),
    nm,
    spki,
    ...(opts.exts ? [ctx(3, seq(...opts.exts))] : []),
  );
  return seq(tbs, algId(OID.sha256WithRSAEncryption), bitString(new Uint8Array(16)));
}
const ext = (id: string, value: Uint8Array, critical = false): Uint8Array => seq(oid(id), ...(critical ? [bool(true)] : []), octet(value));
const toPem = (der: Uint8Array): string =>
  `-----BEGIN CERTIFICATE-----\r\n${Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\r\n")}\r\n-----END CERTIFICATE-----\r\n`;

describe("PEM and base64", () => {
  it("strict base64", () => {
    expect(base64Decode("aGVsbG8=")).toEqual(new TextEncoder().encode("hello"));
    expect(base64Decode("aGVs\n bG8h")).toEqual(new TextEncoder().encode("hello!"));
    expect(base64Decode("aGVsbG8")).toBeNull();
    expect(base64Decode("aG=sbG8=")).toBeNull();
    expect(base64Decode("a*==")).toBeNull();
  });

  it("several certificates per PEM, text before and between, CRLF; DER passes through", () => {
    const a = cert({ cn: "A" });
    const b = cert({ cn: "B" });
    const text = `Certificate:\n    Data: (openssl x509 -text output)\n${toPem(a)}some comment\n${toPem(b)}trailing text`;
    expect(certificateDers(text).map((d) => Buffer.from(d).toString("hex"))).toEqual([a, b].map((d) => Buffer.from(d).toString("hex")));
    expect(certificateDers(new TextEncoder().encode(text))).toHaveLength(2);
    expect(certificateDers(a)).toEqual([a]);
    expect(parseTrustAnchors([text, cert()]).map((c) => c.subject)).toEqual(["CN=A", "CN=B", "CN=Unit"]);
    expect(pemBlocks("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")[0]?.label).toBe("PRIVATE KEY");
  });

  it("bad PEM: mismatched END, unterminated BEGIN, bad base64, no certificate → bad-argument", () => {
    expect(kerr(() => pemBlocks("-----BEGIN CERTIFICATE-----\nAAAA\n-----END X509 CRL-----\n")).code).toBe("bad-argument");
    expect(kerr(() => pemBlocks("-----BEGIN CERTIFICATE-----\nAAAA\n")).code).toBe("bad-argument");
    expect(kerr(() => pemBlocks("-----BEGIN CERTIFICATE-----\nA*AA\n-----END CERTIFICATE-----")).code).toBe("bad-argument");
    expect(kerr(() => certificateDers("just text")).code).toBe("bad-argument");
    expect(kerr(() => parseTrustAnchors([Uint8Array.of(0x30, 0x00)])).code).toBe("bad-argument");
  });
});

describe("certificate parsing rules (RFC 5280)", () => {
  it("reads basicConstraints, keyUsage, EKU, SKID, AKID; unknown critical extensions are listed", () => {
    const c = parseCertificate(
      cert({
        exts: [
          ext(OID.basicConstraints, seq(bool(true), int(3)), true),
          ext(OID.keyUsage, bitString(Uint8Array.of(0x86), 1), true),
          ext(OID.extKeyUsage, seq(oid(OID.codeSigning))),
          ext(OID.subjectKeyIdentifier, octet(Uint8Array.of(1, 2, 3))),
          ext(OID.authorityKeyIdentifier, seq(concat(Uint8Array.of(0x80, 2, 9, 9)))),
          ext("1.2.3.4.5", Uint8Array.of(5, 0), true),
        ],
      }),
    );
    expect(c.basicConstraints).toEqual({ cA: true, pathLen: 3 });
    expect(c.keyUsage).toEqual(["digitalSignature", "keyCertSign", "cRLSign"]);
    expect(c.extKeyUsage).toEqual([OID.codeSigning]);
    expect(c.subjectKeyIdentifier).toBe("010203");
    expect(c.authorityKeyIdentifier?.keyIdentifier).toBe("0909");
    expect(c.unknownCriticalExtensions).toEqual(["1.2.3.4.5"]);
    expect(c.publicKey.kind).toBe("rsa");
  });

  it("duplicate extensions, extensions in a v1 certificate, trailing bytes: malformed", () => {
    const e = ext(OID.subjectKeyIdentifier, octet(Uint8Array.of(1)));
    expect(kerr(() => parseCertificate(cert({ exts: [e, e] }))).code).toBe("asn1-malformed");
    expect(kerr(() => parseCertificate(cert({ version: 0, exts: [e] }))).code).toBe("asn1-malformed");
    expect(kerr(() => parseCertificate(concat(cert(), Uint8Array.of(0)))).code).toBe("asn1-trailing-bytes");
  });

  it("EC keys: named curves are usable; explicit parameters are flagged (CVE-2020-0601); unknown curves unsupported", () => {
    const point = bitString(concat(Uint8Array.of(4), new Uint8Array(64)));
    expect(parseCertificate(cert({ spki: seq(seq(oid(OID.ecPublicKey), oid(OID.secp384r1)), point) })).publicKey).toEqual({ kind: "ec", curve: "P-384" });
    expect(parseCertificate(cert({ spki: seq(seq(oid(OID.ecPublicKey), seq(int(1))), point) })).publicKey.kind).toBe("ec-explicit");
    expect(parseCertificate(cert({ spki: seq(seq(oid(OID.ecPublicKey), oid("1.3.132.0.10")), point) })).publicKey.kind).toBe("unsupported");
  });
});

describe("signature encodings", () => {
  it("ECDSA DER ↔ r||s, and rejection of malformed values", () => {
    const raw = Uint8Array.from({ length: 64 }, (_, i) => (i === 0 || i === 32 ? 0x80 : i));
    const der = ecdsaRawToDer(raw);
    expect(ecdsaDerToRaw(der, 32)).toEqual(raw);
    const small = concat(new Uint8Array(31), Uint8Array.of(5), new Uint8Array(31), Uint8Array.of(6));
    expect(ecdsaDerToRaw(ecdsaRawToDer(small), 32)).toEqual(small);
    expect(ecdsaDerToRaw(seq(int(-5), int(5)), 32)).toBeNull();
    expect(ecdsaDerToRaw(seq(int(1n << 300n), int(5)), 32)).toBeNull();
    expect(ecdsaDerToRaw(concat(seq(int(1), int(2)), Uint8Array.of(0)), 32)).toBeNull();
    expect(ecdsaDerToRaw(seq(int(1)), 32)).toBeNull();
  });

  it("node:crypto's ECDSA signature verifies through the conversion (WebCrypto)", async () => {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-521" });
    const data = new TextEncoder().encode("kimage");
    const sig = new Uint8Array(nodeSign("sha512", data, privateKey));
    const raw = ecdsaDerToRaw(sig, 66);
    if (!raw) throw new Error("conversion failed");
    const spki = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
    const key = await crypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-521" }, false, ["verify"]);
    expect(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-512" }, key, new Uint8Array(raw), data)).toBe(true);
  });

  it("RSA digest recovery (diagnostics only) returns the signed DigestInfo", () => {
    const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const data = new TextEncoder().encode("module content");
    const sig = new Uint8Array(nodeSign("sha256", data, privateKey));
    const spki = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
    const c = parseCertificate(cert({ spki }));
    const di = rsaRecoverDigestInfo(c.publicKey, sig);
    const parsed = di ? readDigestInfo(di) : null;
    expect(parsed?.oid).toBe(OID.sha256);
    expect(Buffer.from(parsed?.digest ?? []).toString("hex")).toBe(createHash("sha256").update(data).digest("hex"));
    expect(rsaRecoverDigestInfo(c.publicKey, sig.slice(1))).toBeNull();
    expect(rsaRecoverDigestInfo({ kind: "ec", curve: "P-256" }, sig)).toBeNull();
  });
});

describe("EFI signature lists", () => {
  it("GUIDs are mixed-endian", () => {
    const g = EFI_CERT_TYPES.EFI_CERT_X509_GUID;
    expect(Buffer.from(guidBytes(g)).toString("hex")).toBe("a159c0a5e494a74a87b5ab155c2bf072");
    expect(formatGuid(guidBytes(g))).toBe(g);
    expect(kerr(() => guidBytes("not-a-guid")).code).toBe("bad-argument");
  });

  it("build and parse: certificates, image hashes, TBS hashes with a revocation time", () => {
    const c = cert();
    const time = new Uint8Array(16);
    time.set([0xe8, 0x07, 6, 15, 12, 30, 0]); // 2024-06-15 12:30:00
    const buf = concat(
      buildEfiSignatureList(EFI_CERT_TYPES.EFI_CERT_X509_GUID, [c], "11111111-2222-3333-4444-555555555555"),
      buildEfiSignatureList(EFI_CERT_TYPES.EFI_CERT_SHA256_GUID, [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)]),
      buildEfiSignatureList(EFI_CERT_TYPES.EFI_CERT_X509_SHA384_GUID, [concat(new Uint8Array(48).fill(3), time)]),
    );
    const lists = parseEfiSignatureLists(buf, { base: 0x1000 });
    expect(lists.map((l) => [l.typeName, l.signatures.length])).toEqual([
      ["EFI_CERT_X509_GUID", 1],
      ["EFI_CERT_SHA256_GUID", 2],
      ["EFI_CERT_X509_SHA384_GUID", 1],
    ]);
    expect(lists[0]?.offset).toBe(0x1000);
    expect(lists[0]?.signatures[0]?.owner).toBe("11111111-2222-3333-4444-555555555555");
    const db = efiSignatureDatabase(lists);
    expect(db.certificates).toEqual([c]);
    expect(db.imageHashes.map((h) => h.hex.slice(0, 4))).toEqual(["0101", "0202"]);
    expect(db.tbsHashes[0]).toMatchObject({ alg: "sha384", revokedAt: new Date(Date.UTC(2024, 5, 15, 12, 30, 0)) });
    expect(parseEfiSignatureLists(new Uint8Array(0))).toEqual([]);
  });

  it("bounds: every inconsistent size is an error, never a loop or an overread", () => {
    const one = buildEfiSignatureList(EFI_CERT_TYPES.EFI_CERT_SHA256_GUID, [new Uint8Array(32)]);
    const set32 = (b: Uint8Array, at: number, v: number): Uint8Array => {
      const o = Uint8Array.from(b);
      new DataView(o.buffer).setUint32(at, v, true);
      return o;
    };
    expect(kerr(() => parseEfiSignatureLists(one.subarray(0, 20))).code).toBe("truncated");
    expect(kerr(() => parseEfiSignatureLists(set32(one, 16, one.length + 1))).code).toBe("truncated");
    expect(kerr(() => parseEfiSignatureLists(set32(one, 16, 10))).code).toBe("truncated");
    expect(kerr(() => parseEfiSignatureLists(set32(one, 24, 0))).code).toBe("truncated");
    expect(kerr(() => parseEfiSignatureLists(set32(one, 24, 47))).code).toBe("truncated");
    expect(kerr(() => parseEfiSignatureLists(set32(set32(one, 24, 30), 16, 58))).code).toBe("truncated");
    expect(kerr(() => parseEfiSignatureLists(set32(one, 20, 0xffffffff))).code).toBe("truncated");
    expect(kerr(() => parseEfiSignatureLists(concat(one, one, one), { maxLists: 2 })).code).toBe("limit");
    expect(kerr(() => parseEfiSignatureLists(concat(one, one), { maxEntries: 1 })).code).toBe("limit");
    expect(kerr(() => buildEfiSignatureList(EFI_CERT_TYPES.EFI_CERT_SHA256_GUID, [])).code).toBe("bad-argument");
  });
});

describe("shim .vendor_cert", () => {
  const table = (authorized: Uint8Array, deauthorized: Uint8Array, offsets?: [number, number]): Uint8Array => {
    const head = new Uint8Array(16);
    const dv = new DataView(head.buffer);
    dv.setUint32(0, authorized.length, true);
    dv.setUint32(4, deauthorized.length, true);
    dv.setUint32(8, offsets?.[0] ?? 16, true);
    dv.setUint32(12, offsets?.[1] ?? 16 + authorized.length, true);
    return concat(head, authorized, deauthorized);
  };
  /**
   * ".vendor_cert" is longer than 8 bytes: like real shims, the section is
   * named "/4", an offset into the COFF string table (put in the trailer).
   */
  const withSection = (data: Uint8Array): Uint8Array => {
    const longName = new TextEncoder().encode(".vendor_cert\0");
    const strtab = concat(Uint8Array.of(4 + longName.length, 0, 0, 0), longName);
    const built = buildPe({ sections: [{ name: ".text", data: 0x100 }, { name: ".vcert", data }], trailer: strtab });
    const out = Uint8Array.from(built.bytes);
    out.set(new TextEncoder().encode("/4\0\0\0\0"), field(built, "Section[1].Name").offset);
    new DataView(out.buffer).setUint32(field(built, "PointerToSymbolTable").offset, field(built, "Trailer").offset, true);
    return out;
  };

  it("a DER vendor certificate and a vendor dbx", () => {
    const c = cert();
    const dbx = buildEfiSignatureList(EFI_CERT_TYPES.EFI_CERT_SHA256_GUID, [new Uint8Array(32).fill(9)]);
    const v = parseShimVendorCert(withSection(table(c, dbx)));
    expect(v).toMatchObject({ authorizedKind: "x509", table: { vendor_authorized_size: c.length, vendor_deauthorized_size: dbx.length, vendor_authorized_offset: 16 } });
    expect(v?.certificates).toEqual([c]);
    expect(v?.dbx.imageHashes).toEqual([{ alg: "sha256", hex: "09".repeat(32) }]);
  });

  it("a vendor db (VENDOR_DB_FILE: EFI signature lists), no dbx", () => {
    const c = cert({ cn: "Vendor DB" });
    const db = buildEfiSignatureList(EFI_CERT_TYPES.EFI_CERT_X509_GUID, [c]);
    const v = parseShimVendorCert(withSection(table(db, new Uint8Array(0))));
    expect(v?.authorizedKind).toBe("efi-signature-list");
    expect(v?.certificates).toEqual([c]);
    expect(v?.deauthorizedLists).toEqual([]);
  });

  it("offsets past the section: truncated; no section: null", () => {
    expect(kerr(() => parseShimVendorCert(withSection(table(cert(), new Uint8Array(0), [0x7000, 0])))).code).toBe("truncated");
    expect(kerr(() => parseShimVendorCert(withSection(Uint8Array.of(1, 2, 3)))).code).toBe("truncated");
    expect(parseShimVendorCert(buildPe().bytes)).toBeNull();
  });
});

describe("SBAT levels and the reason table", () => {
  it("parseSbatLevel: BOM, CRLF, datestamps; bad lines throw", () => {
    expect(parseSbatLevel("\ufeffsbat,1,2024010900\r\nshim,4\r\ngrub,3,2023\r\n\r\n")).toEqual([
      { component_name: "sbat", component_generation: 1 },
      { component_name: "shim", component_generation: 4 },
      { component_name: "grub", component_generation: 3 },
    ]);
    expect(kerr(() => parseSbatLevel("sbat,1\nshim\n")).code).toBe("bad-argument");
    expect(kerr(() => parseSbatLevel("sbat,x\n")).code).toBe("bad-argument");
  });

  it("checkSbat: the first entry must be sbat,1", () => {
    const e = (n: string, g: number) => ({ component_name: n, component_generation: g, vendor_name: "v", vendor_package_name: "p", vendor_version: "1", vendor_url: "u" });
    expect(checkSbat([e("grub", 1)], [], [], false).result).toBe("sbat-malformed");
    expect(checkSbat([e("sbat", 1), e("grub", 2)], [], [{ component_name: "grub", component_generation: 3 }], false).result).toBe("sbat-revoked");
    expect(checkSbat([], [], [], false).result).toBe("sbat-malformed");
    expect(checkSbat(null, [], [], true).result).toBe("sbat-missing");
  });

  it("every reason has a verdict class; parse-error codes are malformed", () => {
    for (const [reason, [verdict, meaning]] of Object.entries(VERDICT_REASONS)) {
      expect(reasonVerdict(reason)).toBe(verdict);
      expect(meaning.length).toBeGreaterThan(10);
    }
    expect(reasonVerdict("pe-bad-lfanew")).toBe("malformed");
    expect(reasonVerdict("asn1-not-der")).toBe("malformed");
  });
});

describe("verifyChain over a custom layer table", () => {
  it("a PE whose section holds another PE: both PE layers are verified, with absolute offsets", async () => {
    const inner = buildPe({ sections: [{ name: ".text", data: 0x80 }] }).bytes;
    const outer = buildPe({ sections: [{ name: ".text", data: 0x100 }, { name: ".inner", data: inner }] }).bytes;
    const container: FormatModule = {
      id: "pe",
      description: "a PE with a PE in its .inner section (test only)",
      probe: (b) => probePe(b) && sectionByName(parsePe(b), ".inner") !== undefined,
      parse(b, c) {
        const pe = parsePe(b, { base: Math.max(c.offset, 0) });
        const s = sectionByName(pe, ".inner");
        const layer = peLayer(pe, c.offset);
        if (s) layer.payload = { bytes: b.subarray(s.PointerToRawData, s.PointerToRawData + s.VirtualSize), offset: c.offset + s.PointerToRawData };
        return layer;
      },
    };
    const plain: FormatModule = { id: "pe", description: "PE", probe: probePe, parse: (b, c) => peLayer(parsePe(b, { base: Math.max(c.offset, 0) }), c.offset) };
    const v = await verifyChain(outer, { inspect: { formats: [container, plain] } });
    expect(v.layers.map((l) => [l.index, l.offset, l.size, l.verdict.verdict])).toEqual([
      [0, 0, outer.length, "unsigned"],
      [1, sectionByName(parsePe(outer), ".inner")?.PointerToRawData, inner.length, "unsigned"],
    ]);
    expect(v).toMatchObject({ verdict: "unsigned", reason: "no-signature" });
    expect((await verifyChain(Uint8Array.of(1, 2, 3))).verdict).toBe("unsigned");
  });

  it("an inner layer that fails to decode: the outer PE is still verified, with a finding", async () => {
    const boom: FormatModule = {
      id: "boom",
      description: "always fails (test only)",
      probe: () => true,
      parse: () => {
        throw new KimageError("codec-corrupt", "broken payload", { layer: "boom", offset: 5 });
      },
    };
    const v = await verifyChain(buildPe().bytes, { inspect: { formats: [boom] } });
    expect(v).toMatchObject({ verdict: "unsigned", layers: [{ index: 0, format: "pe" }] });
    expect(v.findings[0]).toMatchObject({ code: "layer-walk-failed", offset: 5 });
    expect(await verifyChain(Uint8Array.of(9, 9, 9), { inspect: { formats: [boom] } })).toMatchObject({ verdict: "malformed", reason: "codec-corrupt" });
  });
});
