import { describe, it, expect, beforeAll, afterAll } from "vitest";
import fc from "fast-check";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash, createPrivateKey, sign, verify, X509Certificate, type KeyObject } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readAuthenticodeInfo, type AuthenticodeInfo } from "../../src/cms/pkcs7-info.js";
import { children, parseDer, readOid, type Tlv } from "../../src/asn1/der.js";
import { OID } from "../../src/asn1/oids.js";
import { KimageError, type ErrorCode } from "../../src/core/errors.js";
import {
  algId,
  asciiBytes,
  bitString,
  bmp,
  concat,
  ctx,
  ctxPrim,
  fromHex,
  generalizedTime,
  int,
  octet,
  oid,
  printable,
  retag,
  seq,
  set,
  setOf,
  timeString,
  utcTime,
  utf16be,
  utf8,
} from "../support/der-builder.js";

// ---------------------------------------------------------------- helpers

function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/bin", "/usr/local/bin", "/bin"];
  for (const d of dirs) {
    if (d && existsSync(join(d, name))) return join(d, name);
  }
  return undefined;
}

const OPENSSL = findTool("openssl");
const PESIGN = findTool("pesign");
const OSSLSIGNCODE = findTool("osslsigncode");

const hex = (u: Uint8Array): string => Buffer.from(u).toString("hex");
const sha = (alg: string, data: Uint8Array): Uint8Array => new Uint8Array(createHash(alg).update(data).digest());

function kerr(fn: () => unknown): KimageError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KimageError) return e;
    throw new Error(`expected a KimageError, got ${String(e)}`, { cause: e });
  }
  throw new Error("expected a KimageError, nothing was thrown");
}

function expectCode(fn: () => unknown, code: ErrorCode): KimageError {
  const e = kerr(fn);
  expect(e.code, e.message).toBe(code);
  expect(e.layer).toBe("pkcs7");
  return e;
}

/** One WIN_CERTIFICATE entry of a PE certificate table. */
interface CertEntry {
  offset: number;
  dwLength: number;
  revision: number;
  type: number;
  bCertificate: Uint8Array;
}

/**
 * Walks the PE certificate table (data directory 4) the simple way the
 * PE/COFF spec describes, independently of src/pecoff.
 */
function certTable(buf: Uint8Array): CertEntry[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf[0] !== 0x4d || buf[1] !== 0x5a) throw new Error("not MZ");
  const lfanew = dv.getUint32(0x3c, true);
  if (dv.getUint32(lfanew, true) !== 0x00004550) throw new Error("no PE signature");
  const opt = lfanew + 24;
  const magic = dv.getUint16(opt, true);
  const dd = opt + (magic === 0x20b ? 112 : magic === 0x10b ? 96 : NaN);
  const nDirs = dv.getUint32(dd - 4, true);
  if (nDirs < 5) return [];
  const off = dv.getUint32(dd + 4 * 8, true);
  const size = dv.getUint32(dd + 4 * 8 + 4, true);
  const out: CertEntry[] = [];
  let p = off;
  while (size > 0 && p + 8 <= off + size) {
    const dwLength = dv.getUint32(p, true);
    if (dwLength < 8 || p + dwLength > buf.length) throw new Error(`bad WIN_CERTIFICATE at ${p}`);
    out.push({
      offset: p,
      dwLength,
      revision: dv.getUint16(p + 4, true),
      type: dv.getUint16(p + 6, true),
      bCertificate: buf.subarray(p + 8, p + dwLength),
    });
    p += (dwLength + 7) & ~7;
  }
  return out;
}

/** A minimal valid PE32+ EFI application: headers (0x200) and one .text section (0x200). */
function minimalPe(): Uint8Array {
  const buf = new Uint8Array(0x400);
  const dv = new DataView(buf.buffer);
  buf.set([0x4d, 0x5a]);
  dv.setUint32(0x3c, 0x40, true);
  buf.set([0x50, 0x45, 0, 0], 0x40);
  // COFF header: x86-64, 1 section, SizeOfOptionalHeader 0xf0, EXECUTABLE | LARGE_ADDRESS_AWARE.
  dv.setUint16(0x44, 0x8664, true);
  dv.setUint16(0x46, 1, true);
  dv.setUint16(0x54, 0xf0, true);
  dv.setUint16(0x56, 0x22, true);
  const o = 0x58;
  dv.setUint16(o, 0x20b, true);
  dv.setUint32(o + 4, 0x200, true); // SizeOfCode
  dv.setUint32(o + 16, 0x1000, true); // AddressOfEntryPoint
  dv.setUint32(o + 20, 0x1000, true); // BaseOfCode
  dv.setBigUint64(o + 24, 0x140000000n, true); // ImageBase
  dv.setUint32(o + 32, 0x1000, true); // SectionAlignment
  dv.setUint32(o + 36, 0x200, true); // FileAlignment
  dv.setUint16(o + 40, 6, true);
  dv.setUint16(o + 48, 6, true);
  dv.setUint32(o + 56, 0x2000, true); // SizeOfImage
  dv.setUint32(o + 60, 0x200, true); // SizeOfHeaders
  dv.setUint16(o + 68, 10, true); // EFI application
  dv.setBigUint64(o + 72, 0x100000n, true);
  dv.setBigUint64(o + 80, 0x1000n, true);
  dv.setBigUint64(o + 88, 0x100000n, true);
  dv.setBigUint64(o + 96, 0x1000n, true);
  dv.setUint32(o + 108, 16, true); // NumberOfRvaAndSizes
  const s = o + 0xf0;
  buf.set(asciiBytes(".text"), s);
  dv.setUint32(s + 8, 0x200, true); // VirtualSize
  dv.setUint32(s + 12, 0x1000, true); // VirtualAddress
  dv.setUint32(s + 16, 0x200, true); // SizeOfRawData
  dv.setUint32(s + 20, 0x200, true); // PointerToRawData
  dv.setUint32(s + 36, 0x60000020, true);
  for (let i = 0; i < 0x200; i++) buf[0x200 + i] = (i * 7 + 3) & 0xff;
  return buf;
}

/** Authenticode digest of a PE whose only hashed data after the headers is contiguous up to the cert table. */
function simpleAuthenticodeDigest(file: Uint8Array, alg: string): Uint8Array {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const opt = dv.getUint32(0x3c, true) + 24;
  const checksum = opt + 64;
  const dd4 = opt + 112 + 4 * 8;
  const certOff = dv.getUint32(dd4, true) || file.length;
  const h = createHash(alg);
  h.update(file.subarray(0, checksum));
  h.update(file.subarray(checksum + 4, dd4));
  h.update(file.subarray(dd4 + 8, certOff));
  return new Uint8Array(h.digest());
}

// ------------------------------------------------------------ test PKI

interface Pki {
  dir: string;
  caDer: Uint8Array;
  leafDer: Uint8Array;
  caKey: KeyObject;
  leafKey: KeyObject;
  caSubject: string;
  leafSubject: string;
  leafSki: string;
  leaf: { issuerRaw: Uint8Array; serialRaw: Uint8Array };
  ca: { issuerRaw: Uint8Array; serialRaw: Uint8Array };
}

function openssl(dir: string, ...args: string[]): string {
  return execFileSync(OPENSSL as string, args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function tbs(der: Uint8Array): { issuerRaw: Uint8Array; serialRaw: Uint8Array } {
  const f = children(children(parseDer(der))[0] as Tlv);
  return { serialRaw: (f[1] as Tlv).raw, issuerRaw: (f[3] as Tlv).raw };
}

/** An EC P-256 CA and an RSA-2048 code-signing leaf with a high-bit serial, made by openssl. */
function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), "kimage-pkcs7-"));
  openssl(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-subj", "/CN=kimage test CA/O=Kimage Org", "-days", "1", "-keyout", "ca.key", "-out", "ca.pem");
  openssl(dir, "req", "-new", "-newkey", "rsa:2048", "-nodes",
    "-subj", "/C=DE/O=Kimage Org/OU=Kernel, Signing/CN=kimage test", "-keyout", "leaf.key", "-out", "leaf.csr");
  writeFileSync(
    join(dir, "ext.cnf"),
    "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=codeSigning\n",
  );
  openssl(dir, "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "0x8a1122334455",
    "-days", "1", "-extfile", "ext.cnf", "-out", "leaf.pem");
  openssl(dir, "x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der");
  openssl(dir, "x509", "-in", "leaf.pem", "-outform", "DER", "-out", "leaf.der");
  writeFileSync(join(dir, "chain.pem"), readFileSync(join(dir, "leaf.pem"), "utf8") + readFileSync(join(dir, "ca.pem"), "utf8"));
  const subj = (f: string): string =>
    openssl(dir, "x509", "-in", f, "-noout", "-subject", "-nameopt", "RFC2253").trim().replace(/^subject=/, "");
  const skiOut = openssl(dir, "x509", "-in", "leaf.pem", "-noout", "-ext", "subjectKeyIdentifier");
  const skiLine = skiOut.split("\n")[1] ?? "";
  const caDer = new Uint8Array(readFileSync(join(dir, "ca.der")));
  const leafDer = new Uint8Array(readFileSync(join(dir, "leaf.der")));
  return {
    dir,
    caDer,
    leafDer,
    caKey: createPrivateKey(readFileSync(join(dir, "ca.key"))),
    leafKey: createPrivateKey(readFileSync(join(dir, "leaf.key"))),
    caSubject: subj("ca.pem"),
    leafSubject: subj("leaf.pem"),
    leafSki: skiLine.trim().replace(/:/g, "").toLowerCase(),
    leaf: tbs(leafDer),
    ca: tbs(caDer),
  };
}

// -------------------------------------------------- synthetic signatures

const SIGNING_TIME = new Date(Date.UTC(2024, 4, 6, 7, 8, 9));
const COUNTER_TIME = new Date(Date.UTC(2024, 4, 6, 7, 8, 10));
const TST_TIME = "20240506070811.25Z";
const IMAGE = asciiBytes("pretend this is a kernel image");

interface BuildOptions {
  contentInfoType?: string;
  eContentType?: string;
  wrapEContent?: boolean;
  digestAlg?: "sha1" | "sha256";
  digestOid?: string;
  imageDigest?: Uint8Array;
  unsortedAttrs?: boolean;
  skiSigner?: boolean;
  unsigned?: boolean;
  nested?: boolean;
  extraCerts?: Uint8Array[];
}

interface Built {
  blob: Uint8Array;
  spc: Uint8Array;
  imageDigest: Uint8Array;
  signedAttrsSet: Uint8Array;
  signature: Uint8Array;
}

const attr = (type: string, ...values: Uint8Array[]): Uint8Array => seq(oid(type), setOf(...values));

/** A PKCS#9 counter-signature SignerInfo by the CA over `signature`. */
function counterSigner(pki: Pki, signature: Uint8Array): Uint8Array {
  const attrs = setOf(
    attr(OID.contentType, oid(OID.data)),
    attr(OID.signingTime, utcTime(COUNTER_TIME)),
    attr(OID.messageDigest, octet(sha("sha256", signature))),
  );
  return seq(
    int(1),
    seq(pki.ca.issuerRaw, pki.ca.serialRaw),
    algId(OID.sha256),
    retag(attrs, 0xa0),
    algId(OID.ecdsaWithSHA256, null),
    octet(new Uint8Array(sign("sha256", attrs, pki.caKey))),
  );
}

/** A Microsoft-style RFC 3161 TimeStampToken (ContentInfo / SignedData / TSTInfo) by the CA. */
function timestampToken(pki: Pki, signature: Uint8Array): Uint8Array {
  const tstInfo = seq(
    int(1),
    oid("1.2.3.4.5"),
    seq(algId(OID.sha256), octet(sha("sha256", signature))),
    int(4242),
    timeString(0x18, TST_TIME),
  );
  const attrs = setOf(attr(OID.contentType, oid(OID.tstInfo)), attr(OID.messageDigest, octet(sha("sha256", tstInfo))));
  const si = seq(
    int(1),
    seq(pki.ca.issuerRaw, pki.ca.serialRaw),
    algId(OID.sha256),
    retag(attrs, 0xa0),
    algId(OID.ecdsaWithSHA256, null),
    octet(new Uint8Array(sign("sha256", attrs, pki.caKey))),
  );
  const sd = seq(int(3), setOf(algId(OID.sha256)), seq(oid(OID.tstInfo), ctx(0, octet(tstInfo))), ctx(0, pki.caDer), setOf(si));
  return seq(oid(OID.signedData), ctx(0, sd));
}

/** An Authenticode signature as signtool/osslsigncode would lay it out. */
function buildSignature(pki: Pki, o: BuildOptions = {}): Built {
  const digestAlg = o.digestAlg ?? "sha256";
  const digestOid = o.digestOid ?? (digestAlg === "sha1" ? OID.sha1 : OID.sha256);
  const imageDigest = o.imageDigest ?? sha(digestAlg, IMAGE);
  // SpcPeImageData ::= SEQUENCE { flags BIT STRING, file [0] EXPLICIT SpcLink }, SpcLink.file [2] / SpcString.unicode [0].
  const peImageData = seq(bitString(new Uint8Array(0)), ctx(0, ctx(2, ctxPrim(0, utf16be("<<<Obsolete>>>")))));
  const spc = seq(seq(oid(OID.spcPeImageData), peImageData), seq(algId(digestOid), octet(imageDigest)));
  const spcContent = spc.subarray(spc[1] === 0x81 ? 3 : spc[1] === 0x82 ? 4 : 2);
  const encap = seq(oid(o.eContentType ?? OID.spcIndirectDataContent), ctx(0, o.wrapEContent ? octet(spc) : spc));
  const attrs = [
    attr(OID.contentType, oid(OID.spcIndirectDataContent)),
    attr(OID.signingTime, utcTime(SIGNING_TIME)),
    attr(
      OID.spcSpOpusInfo,
      seq(ctx(0, ctxPrim(0, utf16be("kimage prog"))), ctx(1, ctxPrim(0, asciiBytes("https://example.org/kimage")))),
    ),
    attr(OID.messageDigest, octet(sha(digestAlg, spcContent))),
  ];
  const sorted = setOf(...attrs);
  const signedAttrsSet = o.unsortedAttrs ? set(...[...children(parseDer(sorted))].reverse().map((t) => t.raw)) : sorted;
  const signature = new Uint8Array(sign(digestAlg, signedAttrsSet, pki.leafKey));
  const unsigned: Uint8Array[] = [];
  if (o.unsigned) {
    unsigned.push(attr(OID.counterSignature, counterSigner(pki, signature)));
    unsigned.push(attr(OID.rfc3161Timestamp, timestampToken(pki, signature)));
  }
  if (o.nested) {
    unsigned.push(attr(OID.nestedSignature, buildSignature(pki, { digestAlg: "sha1", skiSigner: true }).blob));
  }
  const sid = o.skiSigner ? ctxPrim(0, fromHex(pki.leafSki)) : seq(pki.leaf.issuerRaw, pki.leaf.serialRaw);
  const signerInfo = seq(
    int(o.skiSigner ? 3 : 1),
    sid,
    algId(digestOid),
    retag(signedAttrsSet, 0xa0),
    algId(OID.rsaEncryption),
    octet(signature),
    ...(unsigned.length > 0 ? [retag(setOf(...unsigned), 0xa1)] : []),
  );
  const signedData = seq(int(1), setOf(algId(digestOid)), encap, ctx(0, pki.caDer, pki.leafDer, ...(o.extraCerts ?? [])), setOf(signerInfo));
  const blob = seq(oid(o.contentInfoType ?? OID.signedData), ctx(0, signedData));
  return { blob, spc, imageDigest, signedAttrsSet, signature };
}

// ----------------------------------------------------------------- tests

describe("readAuthenticodeInfo on synthetic signatures", () => {
  if (!OPENSSL) console.warn("openssl not found: skipping the synthetic PKCS#7 tests");
  let pki: Pki;
  let full: Built;
  beforeAll(() => {
    if (!OPENSSL) return;
    pki = makePki();
    full = buildSignature(pki, { unsigned: true, nested: true });
  });
  afterAll(() => {
    if (pki) rmSync(pki.dir, { recursive: true, force: true });
  });

  it.skipIf(!OPENSSL)("openssl itself accepts the synthetic SignedData", () => {
    writeFileSync(join(pki.dir, "full.p7"), full.blob);
    const out = openssl(pki.dir, "pkcs7", "-inform", "DER", "-in", "full.p7", "-print_certs", "-noout");
    expect(out).toContain("kimage test CA");
    expect(out).toContain("CN = kimage test");
  });

  it.skipIf(!OPENSSL)("reads every top-level field", () => {
    const base = 0x1234;
    const info = readAuthenticodeInfo(full.blob, base);
    expect(info.offset).toBe(base);
    expect(info.length).toBe(full.blob.length);
    expect(info.der).toBe(true);
    expect(info.derIssue).toBeUndefined();
    expect(info.trailingBytes).toBe(0);
    expect(info.trailingNonZero).toBe(false);
    expect(info.signedDataVersion).toBe(1);
    expect(info.digestAlgorithms).toEqual(["sha256"]);
    expect(info.contentType).toBe(OID.spcIndirectDataContent);
    expect(info.eContentWrapped).toBe(false);
    expect(info.dataType).toBe(OID.spcPeImageData);
    expect(info.digestAlgorithm).toBe("sha256");
    expect(info.digestAlgorithmOid).toBe(OID.sha256);
    expect(hex(info.digest)).toBe(hex(full.imageDigest));
    expect(hex(full.blob.subarray(info.digestOffset - base, info.digestOffset - base + 32))).toBe(hex(full.imageDigest));
    expect(info.digest.buffer).toBe(full.blob.buffer); // zero-copy
    expect(hex(info.spcIndirectDataRaw)).toBe(hex(full.spc));
    expect(info.otherCertificateCount).toBe(0);
    expect(info.crlCount).toBe(0);
  });

  it.skipIf(!OPENSSL)("reads the certificates like openssl and node:crypto do", () => {
    const info = readAuthenticodeInfo(full.blob);
    expect(info.certificates).toHaveLength(2);
    const [ca, leaf] = info.certificates as [AuthenticodeInfo["certificates"][number], AuthenticodeInfo["certificates"][number]];
    const xLeaf = new X509Certificate(pki.leafDer);
    const xCa = new X509Certificate(pki.caDer);

    expect(leaf.subject).toBe(pki.leafSubject);
    expect(leaf.subject).toBe("CN=kimage test,OU=Kernel\\, Signing,O=Kimage Org,C=DE");
    expect(leaf.issuer).toBe(pki.caSubject);
    expect(ca.subject).toBe("O=Kimage Org,CN=kimage test CA");
    expect(ca.subject).toBe(pki.caSubject);
    expect(leaf.subjectCN).toBe("kimage test");
    expect(leaf.issuerCN).toBe("kimage test CA");
    expect(leaf.subjectAttributes.map((a) => a.label)).toEqual(["C", "O", "OU", "CN"]);
    expect(leaf.serialNumber).toBe("8a1122334455");
    expect(leaf.serialNumber.toUpperCase()).toBe(xLeaf.serialNumber.replace(/^0+/, ""));
    expect(hex(leaf.serialNumberBytes)).toBe("008a1122334455");
    expect(ca.serialNumber.toUpperCase()).toBe(xCa.serialNumber.replace(/^(00)+/, ""));
    expect(leaf.notBefore.getTime()).toBe(new Date(xLeaf.validFrom).getTime());
    expect(leaf.notAfter.getTime()).toBe(new Date(xLeaf.validTo).getTime());
    expect(ca.notAfter.getTime()).toBe(new Date(xCa.validTo).getTime());
    expect(leaf.version).toBe(2);
    expect(leaf.signatureAlgorithm).toBe("ecdsaWithSHA256");
    expect(leaf.publicKeyAlgorithm).toBe("rsaEncryption");
    expect(ca.publicKeyAlgorithm).toBe("ecPublicKey");
    expect(leaf.subjectKeyIdentifier).toBe(pki.leafSki);
    expect(leaf.subjectKeyIdentifier).toMatch(/^[0-9a-f]{40}$/);
    expect(ca.selfIssued).toBe(true);
    expect(leaf.selfIssued).toBe(false);
    expect(hex(leaf.raw)).toBe(hex(pki.leafDer));
    expect(hex(ca.raw)).toBe(hex(pki.caDer));
    expect(hex(leaf.issuerRaw)).toBe(hex(pki.leaf.issuerRaw));
  });

  it.skipIf(!OPENSSL)("renders unusual names per RFC 4514 and reads odd certificate fields", () => {
    const subject = seq(
      set(seq(oid(OID.countryName), printable("DE"))),
      setOf(seq(oid(OID.organizationName), utf8("#Hash, Inc. ")), seq(oid(OID.organizationalUnitName), bmp("Ω"))),
      set(seq(oid("1.2.3.4"), int(5))),
      set(seq(oid(OID.commonName), utf8("a+b"))),
    );
    const issuer = seq(set(seq(oid(OID.commonName), printable("x"))));
    const tbsCert = seq(
      ctx(0, int(2)),
      int(-5),
      algId(OID.sha256WithRSAEncryption),
      issuer,
      seq(utcTime(new Date(Date.UTC(1999, 0, 1))), generalizedTime(new Date(Date.UTC(2051, 5, 7, 8, 9, 10)))),
      subject,
      seq(algId(OID.ecPublicKey, oid(OID.secp256r1)), bitString(Uint8Array.of(4, 1, 2))),
    );
    const odd = seq(tbsCert, algId(OID.sha256WithRSAEncryption), bitString(Uint8Array.of(0)));
    const info = readAuthenticodeInfo(buildSignature(pki, { extraCerts: [odd] }).blob);
    const c = info.certificates[2] as AuthenticodeInfo["certificates"][number];
    expect(c.subject).toBe("CN=a\\+b,1.2.3.4=#020105,OU=Ω+O=\\#Hash\\, Inc.\\ ,C=DE");
    expect(c.subjectCN).toBe("a+b");
    expect(c.subjectAttributes.map((a) => a.label)).toEqual(["C", "OU", "O", "1.2.3.4", "CN"]);
    expect(c.issuer).toBe("CN=x");
    expect(c.serialNumber).toBe("-05");
    expect(c.version).toBe(2);
    expect(c.notBefore.toISOString()).toBe("1999-01-01T00:00:00.000Z");
    expect(c.notAfter.toISOString()).toBe("2051-06-07T08:09:10.000Z");
    expect(c.publicKeyAlgorithm).toBe("ecPublicKey");
    expect(c.subjectKeyIdentifier).toBeUndefined();
    expect(info.signers[0]?.certificateIndex).toBe(1);
  });

  it.skipIf(!OPENSSL)("reads the SignerInfo, and its signed attributes verify as the original bytes", () => {
    const base = 77;
    const info = readAuthenticodeInfo(full.blob, base);
    expect(info.signers).toHaveLength(1);
    const s = info.signers[0] as AuthenticodeInfo["signers"][number];
    expect(s.version).toBe(1);
    expect(s.issuer).toBe(pki.caSubject);
    expect(s.serialNumber).toBe("8a1122334455");
    expect(s.subjectKeyIdentifier).toBeUndefined();
    expect(s.certificateIndex).toBe(1);
    expect(s.signerCN).toBe("kimage test");
    expect(s.digestAlgorithm).toBe("sha256");
    expect(s.digestAlgorithmOid).toBe(OID.sha256);
    expect(s.signatureAlgorithm).toBe("rsaEncryption");
    expect(s.signatureAlgorithmOid).toBe(OID.rsaEncryption);
    expect(hex(s.signature)).toBe(hex(full.signature));
    expect(s.signedAttributeTypes).toEqual(
      children(parseDer(full.signedAttrsSet)).map((a) => readOid(children(a)[0] as Tlv)),
    );
    expect([...s.signedAttributeTypes].sort()).toEqual(
      [OID.contentType, OID.signingTime, OID.spcSpOpusInfo, OID.messageDigest].sort(),
    );
    expect(s.contentType).toBe(OID.spcIndirectDataContent);
    expect(s.signingTime?.toISOString()).toBe(SIGNING_TIME.toISOString());
    expect(s.programName).toBe("kimage prog");
    expect(s.moreInfoUrl).toBe("https://example.org/kimage");
    expect(s.signedAttrsSorted).toBe(true);

    // signedAttrsRaw: the original [0] IMPLICIT bytes, in place.
    const raw = s.signedAttrsRaw as Uint8Array;
    expect(raw[0]).toBe(0xa0);
    expect(raw.buffer).toBe(full.blob.buffer);
    expect(s.signedAttrsOffset - base).toBe(raw.byteOffset - full.blob.byteOffset);
    expect(hex(raw.subarray(1))).toBe(hex(full.signedAttrsSet.subarray(1)));
    const asSet = Uint8Array.from(raw);
    asSet[0] = 0x31;
    const leafKey = new X509Certificate(pki.leafDer).publicKey;
    expect(verify("sha256", asSet, leafKey, s.signature)).toBe(true);
    // messageDigest covers the SpcIndirectDataContent content octets.
    expect(hex(s.messageDigest as Uint8Array)).toBe(hex(sha("sha256", info.signedContent)));
  });

  it.skipIf(!OPENSSL)("reads unsigned attributes: nested signature, counter-signature, RFC 3161 timestamp", () => {
    const info = readAuthenticodeInfo(full.blob);
    const s = info.signers[0] as AuthenticodeInfo["signers"][number];
    expect(s.hasUnsignedAttrs).toBe(true);
    expect([...s.unsignedAttributeTypes].sort()).toEqual(
      [OID.counterSignature, OID.rfc3161Timestamp, OID.nestedSignature].sort(),
    );
    expect(s.nestedSignatureCount).toBe(1);
    expect(s.hasCounterSignature).toBe(true);
    expect(s.hasRfc3161Timestamp).toBe(true);
    const cs = s.timestamps.find((t) => t.kind === "counterSignature");
    expect(cs?.time?.toISOString()).toBe(COUNTER_TIME.toISOString());
    expect(cs?.signerCN).toBe("kimage test CA");
    expect(cs?.digestAlgorithm).toBe("sha256");
    const ts = s.timestamps.find((t) => t.kind === "rfc3161");
    expect(ts?.time?.toISOString()).toBe("2024-05-06T07:08:11.250Z");
    expect(ts?.signerCN).toBe("kimage test CA");

    const nested = s.nestedSignatures[0] as AuthenticodeInfo;
    expect(s.nestedSignatures).toHaveLength(1);
    expect(nested.digestAlgorithm).toBe("sha1");
    expect(nested.digest).toHaveLength(20);
    expect(hex(nested.digest)).toBe(hex(sha("sha1", IMAGE)));
    expect(nested.digestAlgorithms).toEqual(["sha1"]);
    const ns = nested.signers[0] as AuthenticodeInfo["signers"][number];
    expect(ns.version).toBe(3);
    expect(ns.subjectKeyIdentifier).toBe(pki.leafSki);
    expect(ns.issuer).toBeUndefined();
    expect(ns.certificateIndex).toBe(1);
    expect(ns.signerCN).toBe("kimage test");
    expect(ns.digestAlgorithm).toBe("sha1");
    expect(ns.nestedSignatureCount).toBe(0);
    expect(ns.hasUnsignedAttrs).toBe(false);
    expect(nested.offset).toBeGreaterThan(s.offset);
    // The nested blob's digest offset is absolute too.
    expect(hex(full.blob.subarray(nested.digestOffset, nested.digestOffset + 20))).toBe(hex(nested.digest));
  });

  it.skipIf(!OPENSSL)("reports trailing bytes, and rejects them only in strict mode", () => {
    const padded = concat(full.blob, new Uint8Array(5));
    const info = readAuthenticodeInfo(padded, 0x100);
    expect(info.trailingBytes).toBe(5);
    expect(info.trailingNonZero).toBe(false);
    expect(info.der).toBe(false);
    expect(info.derIssue).toBeUndefined();
    expect(info.length).toBe(full.blob.length);
    const e = expectCode(() => readAuthenticodeInfo(padded, 0x100, { strict: true }), "asn1-trailing-bytes");
    expect(e.offset).toBe(0x100 + full.blob.length);
    const junk = readAuthenticodeInfo(concat(full.blob, Uint8Array.of(0, 0, 1)));
    expect(junk.trailingBytes).toBe(3);
    expect(junk.trailingNonZero).toBe(true);
    expect(readAuthenticodeInfo(full.blob, 0, { strict: true }).der).toBe(true);
  });

  it.skipIf(!OPENSSL)("reports signed attributes out of DER order (throws in strict mode)", () => {
    const b = buildSignature(pki, { unsortedAttrs: true });
    const info = readAuthenticodeInfo(b.blob);
    const s = info.signers[0] as AuthenticodeInfo["signers"][number];
    expect(s.signedAttrsSorted).toBe(false);
    expect(info.der).toBe(false);
    expect(info.derIssue).toMatch(/^asn1-not-der .*SET OF order/);
    // Still the original bytes: the signature verifies over them, not over a re-sorted set.
    const asSet = Uint8Array.from(s.signedAttrsRaw as Uint8Array);
    asSet[0] = 0x31;
    expect(verify("sha256", asSet, new X509Certificate(pki.leafDer).publicKey, s.signature)).toBe(true);
    expectCode(() => readAuthenticodeInfo(b.blob, 0, { strict: true }), "asn1-not-der");
  });

  it.skipIf(!OPENSSL)("accepts a CMS-style OCTET STRING around SpcIndirectDataContent", () => {
    const b = buildSignature(pki, { wrapEContent: true });
    const info = readAuthenticodeInfo(b.blob, 9);
    expect(info.eContentWrapped).toBe(true);
    expect(hex(info.digest)).toBe(hex(b.imageDigest));
    expect(hex(b.blob.subarray(info.digestOffset - 9, info.digestOffset - 9 + 32))).toBe(hex(b.imageDigest));
  });

  it.skipIf(!OPENSSL)("rejects what is not Authenticode SignedData", () => {
    expectCode(() => readAuthenticodeInfo(buildSignature(pki, { contentInfoType: OID.data }).blob), "pkcs7-unexpected");
    expectCode(() => readAuthenticodeInfo(buildSignature(pki, { eContentType: OID.data }).blob), "pkcs7-unexpected");
    expectCode(
      () => readAuthenticodeInfo(buildSignature(pki, { imageDigest: new Uint8Array(20) }).blob),
      "pkcs7-unexpected",
    );
    expectCode(() => readAuthenticodeInfo(new Uint8Array(0)), "truncated");
    expectCode(() => readAuthenticodeInfo(seq(int(1))), "asn1-malformed");
    expectCode(() => readAuthenticodeInfo(Uint8Array.of(0x30, 0x80, 0, 0)), "asn1-not-der");
  });

  it.skipIf(!OPENSSL)("names unknown digest algorithms by OID", () => {
    const info = readAuthenticodeInfo(buildSignature(pki, { digestOid: "1.2.3.4" }).blob);
    expect(info.digestAlgorithm).toBe("1.2.3.4");
    expect(info.digestAlgorithmOid).toBe("1.2.3.4");
    expect(info.signers[0]?.digestAlgorithm).toBe("1.2.3.4");
  });

  it.skipIf(!OPENSSL)("bounds signature nesting", () => {
    expectCode(() => readAuthenticodeInfo(full.blob, 0, { maxNesting: 0 }), "limit");
    expect(readAuthenticodeInfo(full.blob, 0, { maxNesting: 1 }).signers[0]?.nestedSignatureCount).toBe(1);
  });

  it.skipIf(!OPENSSL)("every truncation fails with a KimageError", () => {
    for (let n = 0; n < full.blob.length; n++) {
      const e = kerr(() => readAuthenticodeInfo(full.blob.subarray(0, n), 500));
      expect(e.offset).toBeGreaterThanOrEqual(500);
    }
  });

  it.skipIf(!OPENSSL)("random corruption fails only with KimageError", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: full.blob.length - 1 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        (edits) => {
          const m = Uint8Array.from(full.blob);
          for (const [i, v] of edits) m[i] = v;
          try {
            readAuthenticodeInfo(m);
          } catch (e) {
            if (!(e instanceof KimageError)) throw e;
          }
        },
      ),
      { numRuns: 1500, seed: 7 },
    );
  });

  describe.skipIf(!OSSLSIGNCODE)("on a PE signed by osslsigncode", () => {
    if (!OSSLSIGNCODE) console.warn("osslsigncode not found: skipping the osslsigncode cross-check");
    let signed: Uint8Array;
    let nested: Uint8Array;
    beforeAll(() => {
      if (!OPENSSL) return;
      writeFileSync(join(pki.dir, "min.efi"), minimalPe());
      const run = (...args: string[]): void => {
        execFileSync(OSSLSIGNCODE as string, args, { cwd: pki.dir, stdio: "pipe" });
      };
      run("sign", "-certs", "chain.pem", "-key", "leaf.key", "-h", "sha256", "-n", "kimage prog", "-i",
        "https://example.org/kimage", "-in", "min.efi", "-out", "signed.efi");
      run("sign", "-nest", "-certs", "chain.pem", "-key", "leaf.key", "-h", "sha1", "-in", "signed.efi", "-out", "nested.efi");
      signed = new Uint8Array(readFileSync(join(pki.dir, "signed.efi")));
      nested = new Uint8Array(readFileSync(join(pki.dir, "nested.efi")));
    });

    it.skipIf(!OPENSSL)("reads the digest osslsigncode embedded and computes", () => {
      const entries = certTable(signed);
      expect(entries).toHaveLength(1);
      const e = entries[0] as CertEntry;
      expect(e.revision).toBe(0x200);
      expect(e.type).toBe(2);
      const info = readAuthenticodeInfo(e.bCertificate, e.offset + 8);
      expect(info.digestAlgorithm).toBe("sha256");
      expect(hex(info.digest)).toBe(hex(simpleAuthenticodeDigest(signed, "sha256")));
      expect(info.trailingNonZero).toBe(false);
      expect(info.trailingBytes).toBe(e.dwLength - 8 - info.length);
      expect(info.derIssue).toBeUndefined();
      const s = info.signers[0] as AuthenticodeInfo["signers"][number];
      expect(s.signerCN).toBe("kimage test");
      expect(s.programName).toBe("kimage prog");
      expect(s.moreInfoUrl).toBe("https://example.org/kimage");
      expect(info.certificates.map((c) => c.subjectCN)).toContain("kimage test CA");
      expect(hex(s.messageDigest as Uint8Array)).toBe(hex(sha("sha256", info.signedContent)));
      const asSet = Uint8Array.from(s.signedAttrsRaw as Uint8Array);
      asSet[0] = 0x31;
      expect(verify("sha256", asSet, new X509Certificate(pki.leafDer).publicKey, s.signature)).toBe(true);
    });

    it.skipIf(!OPENSSL)("reads the nested signature osslsigncode -nest adds", () => {
      const entries = certTable(nested);
      expect(entries).toHaveLength(1);
      const e = entries[0] as CertEntry;
      const info = readAuthenticodeInfo(e.bCertificate, e.offset + 8);
      const s = info.signers[0] as AuthenticodeInfo["signers"][number];
      expect(s.nestedSignatureCount).toBe(1);
      const n = s.nestedSignatures[0] as AuthenticodeInfo;
      expect(n.digestAlgorithm).toBe("sha1");
      expect(hex(n.digest)).toBe(hex(simpleAuthenticodeDigest(nested, "sha1")));
      expect(hex(info.digest)).toBe(hex(simpleAuthenticodeDigest(nested, "sha256")));
      const out = spawnSync(OSSLSIGNCODE as string, ["verify", "-in", join(pki.dir, "nested.efi")], { encoding: "utf8" });
      const current = [...(out.stdout + out.stderr).matchAll(/Current message digest\s*:\s*([0-9A-F]+)/g)].map((m) =>
        (m[1] as string).toLowerCase(),
      );
      expect(current).toEqual([hex(info.digest), hex(n.digest)]);
    });

    it.skipIf(!OPENSSL || !PESIGN)("agrees with pesign -S on the signer", () => {
      const out = spawnSync(PESIGN as string, ["-S", "-i", join(pki.dir, "signed.efi")], {
        encoding: "utf8",
        env: { ...process.env, TZ: "UTC" },
      });
      expect(out.stdout + out.stderr).toContain("The signer's common name is kimage test\n");
    });
  });
});

// ------------------------------------------------------------ real files

const REAL_DIR = fileURLToPath(new URL("../../fixtures/real/", import.meta.url));
const MANIFEST = join(REAL_DIR, "manifest.json");

interface ManifestEntry {
  path: string;
  kind?: string;
  signedPackage?: boolean;
  [k: string]: unknown;
}

function loadManifest(): ManifestEntry[] {
  if (!existsSync(MANIFEST)) return [];
  try {
    const m: unknown = JSON.parse(readFileSync(MANIFEST, "utf8"));
    return Array.isArray(m) ? (m as ManifestEntry[]).filter((e) => typeof e?.path === "string") : [];
  } catch {
    return [];
  }
}

const manifest = loadManifest();
if (manifest.length === 0) {
  console.warn(`fixtures/real/manifest.json absent or empty: skipping the real-file PKCS#7 tests (run npm run fixtures)`);
}
if (!PESIGN) console.warn("pesign not found: skipping the pesign signer cross-check on real files");

function isPe(buf: Uint8Array): boolean {
  if (buf.length < 0x40 || buf[0] !== 0x4d || buf[1] !== 0x5a) return false;
  const lfanew = new DataView(buf.buffer, buf.byteOffset).getUint32(0x3c, true);
  return lfanew + 4 <= buf.length && buf[lfanew] === 0x50 && buf[lfanew + 1] === 0x45 && buf[lfanew + 2] === 0 && buf[lfanew + 3] === 0;
}

/** "The signer's common name is X" and "Signing time: Www Mmm dd, yyyy" lines of `pesign -S`, per signature. */
function pesignSigners(file: string): { cn: string | undefined; time: string | undefined }[] {
  const out = spawnSync(PESIGN as string, ["-S", "-i", file], { encoding: "utf8", env: { ...process.env, TZ: "UTC" } });
  const blocks = (out.stdout + out.stderr).split(/^-{20,}$/m).filter((b) => /certificate address/.test(b));
  return blocks.map((b) => ({
    cn: /The signer's common name is (.*)$/m.exec(b)?.[1],
    time: /^Signing time: (.*)$/m.exec(b)?.[1],
  }));
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

describe("readAuthenticodeInfo on real signed images", () => {
  it.skipIf(manifest.length > 0)("(skipped: no fixtures/real/manifest.json)", () => {
    expect(manifest).toHaveLength(0);
  });

  for (const entry of manifest) {
    const file = join(REAL_DIR, entry.path);
    const present = existsSync(file);
    it.skipIf(!present)(`${entry.path}${present ? "" : " (file absent)"}`, () => {
      const buf = new Uint8Array(readFileSync(file));
      if (!isPe(buf)) {
        console.warn(`${entry.path}: not a PE file, nothing to check`);
        return;
      }
      const entries = certTable(buf);
      if (typeof entry.signedPackage === "boolean") expect(entries.length > 0).toBe(entry.signedPackage);
      const infos: AuthenticodeInfo[] = [];
      for (const e of entries) {
        expect(e.revision).toBe(0x200);
        expect(e.type).toBe(2);
        const info = readAuthenticodeInfo(e.bCertificate, e.offset + 8);
        infos.push(info);
        expect(info.offset).toBe(e.offset + 8);
        expect(info.contentType).toBe(OID.spcIndirectDataContent);
        expect(info.digestAlgorithm).toBe("sha256");
        expect(info.digest).toHaveLength(32);
        expect(info.derIssue).toBeUndefined();
        expect(info.trailingNonZero).toBe(false);
        expect(info.trailingBytes).toBeLessThan(8);
        expect(info.trailingBytes).toBe(e.dwLength - 8 - info.length);
        expect(info.der).toBe(info.trailingBytes === 0);
        expect(info.signers.length).toBeGreaterThanOrEqual(1);
        for (const s of info.signers) {
          expect(s.certificateIndex).toBeGreaterThanOrEqual(0);
          expect(s.signerCN).toMatch(/^(Debian Secure Boot Signer 2022 - \S+|Microsoft .+)$/);
          expect(s.contentType).toBe(OID.spcIndirectDataContent);
          expect(s.messageDigest).toHaveLength(32);
          expect(hex(s.messageDigest as Uint8Array)).toBe(hex(sha("sha256", info.signedContent)));
          expect(s.signedAttrsSorted).toBe(true);
          expect(s.signedAttrsRaw?.[0]).toBe(0xa0);
        }
        // The signature sits exactly inside bCertificate.
        expect(info.offset + info.length + info.trailingBytes).toBe(e.offset + e.dwLength);
      }
      // Every entry hashes the same image (the certificate table is excluded from the digest).
      expect(new Set(infos.map((i) => hex(i.digest))).size).toBeLessThanOrEqual(1);
      if (entry.path.includes("linux-image") && infos.length > 0) {
        expect(infos[0]?.signers[0]?.signerCN).toMatch(/^Debian Secure Boot Signer 2022 - linux$/);
      }
      if (/\/shim-signed\//.test(entry.path)) {
        for (const i of infos) expect(i.signers[0]?.signerCN).toMatch(/^Microsoft /);
      }

      // osslsigncode as a digest oracle (it refuses tables with more than one entry).
      if (OSSLSIGNCODE && infos.length > 0) {
        const out = spawnSync(OSSLSIGNCODE, ["verify", "-in", file], { encoding: "utf8" });
        const text = out.stdout + out.stderr;
        const current = /Current message digest\s*:\s*([0-9A-F]+)/.exec(text)?.[1];
        if (current === undefined) {
          const lines = (out.stderr + "\n" + out.stdout).split("\n");
          const why = lines.find((l) => /corrupt|unable|error/i.test(l)) ?? lines.find((l) => /fail/i.test(l)) ?? "no reason given";
          console.warn(`${entry.path}: osslsigncode reported no digest (${why.trim()}); digest cross-check skipped`);
        } else {
          expect(hex((infos[0] as AuthenticodeInfo).digest)).toBe(current.toLowerCase());
          const attrDigest = /\tMessage digest: ([0-9A-F]+)/.exec(text)?.[1];
          if (attrDigest) expect(hex(infos[0]?.signers[0]?.messageDigest as Uint8Array)).toBe(attrDigest.toLowerCase());
        }
      }
    });

    it.skipIf(!present || !PESIGN)(`${entry.path}: signer CN and signing time agree with pesign -S`, () => {
      const buf = new Uint8Array(readFileSync(file));
      if (!isPe(buf)) return;
      const ours = certTable(buf).map((e) => readAuthenticodeInfo(e.bCertificate, e.offset + 8).signers[0]);
      const theirs = pesignSigners(file);
      expect(theirs.map((t) => t.cn)).toEqual(ours.map((s) => s?.signerCN));
      theirs.forEach((t, i) => {
        const d = ours[i]?.signingTime;
        if (d === undefined) {
          expect(t.time).toBeUndefined();
        } else {
          const m = /^(\w{3}) (\w{3}) +(\d+), (\d{4})$/.exec(t.time ?? "");
          expect(m, `pesign signing time ${t.time}`).not.toBeNull();
          expect([m?.[1], m?.[2], Number(m?.[3]), Number(m?.[4])]).toEqual([
            DAYS[d.getUTCDay()],
            MONTHS[d.getUTCMonth()],
            d.getUTCDate(),
            d.getUTCFullYear(),
          ]);
        }
      });
    });
  }
});
