// Hostile inputs for verifyAuthenticode, built from real signatures.
//
// A throwaway PKI (RSA root → intermediate → leaf, EC P-256 root → leaf, an
// EC key with explicit curve parameters, a looping pair, a leaf used as a CA,
// a pathLen-limited CA, an intermediate with the wrong subjectKeyIdentifier)
// is made with openssl in a tmpdir once per run. Synthetic PEs (buildPe) are
// signed with osslsigncode and sbsign; the PKCS#7 is then taken apart with
// the DER reader, mutated, rebuilt with der-builder and re-signed with
// node:crypto where the signed attributes change, and embedded again with
// buildPe (the certificate table is not hashed, so the image digest stays).
//
// Every case of REFERENCES.md "Hostile-input cases" (certificate table, CMS
// structure, trust and policy) has a test with its documented verdict and
// reason. No key of value is committed: every key lives in the tmpdir.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { spawnSync } from "node:child_process";
import { createHash, createPrivateKey, sign as nodeSign, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyAuthenticode, verifyChain, type AuthenticodeVerdict, type SignatureVerdict } from "../../src/signature/verify.js";
import { reasonVerdict } from "../../src/signature/policy.js";
import { buildEfiSignatureList, EFI_CERT_TYPES } from "../../src/signature/efi-siglist.js";
import { parsePe } from "../../src/formats/pe/parse.js";
import { authenticodeDigest } from "../../src/formats/pe/authenticode.js";
import { children, readOid, readTlv, type Tlv } from "../../src/asn1/der.js";
import { OID } from "../../src/asn1/oids.js";
import { nodeHashProvider } from "../../src/node/index.js";
import { buildPe, field, flipByte, withU32, type CertificateSpec, type PeSpec } from "../support/pe-builder.js";
import { algId, concat, ctx, octet, oid, seq, set, tlv, utcTime } from "../support/der-builder.js";
import { haveTool } from "../support/real.js";

const TOOLS = ["openssl", "osslsigncode", "sbsign"] as const;
const haveTools = TOOLS.every((t) => haveTool(t, t === "openssl" ? ["version"] : ["--help"]));

let dir = "";
const hash = nodeHashProvider;

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { cwd: dir, encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

const CNF = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ca0]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[badskid]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = 0102030405060708090a0b0c0d0e0f1011121314
authorityKeyIdentifier = keyid
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[plain]
basicConstraints = critical,CA:FALSE
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

type KeyKind = "rsa" | "ec" | "ec384" | "ec521" | "ecx";

function key(name: string, kind: KeyKind): void {
  if (kind === "rsa") sh("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", `${name}.key`]);
  else if (kind !== "ecx") {
    const curve = kind === "ec" ? "P-256" : kind === "ec384" ? "P-384" : "P-521";
    sh("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", `ec_paramgen_curve:${curve}`, "-out", `${name}.key`]);
  }
  else sh("openssl", ["ecparam", "-name", "prime256v1", "-param_enc", "explicit", "-genkey", "-noout", "-out", `${name}.key`]);
}

/** A self-signed certificate. */
function root(name: string, cn: string, kind: KeyKind, ext = "ca"): void {
  key(name, kind);
  sh("openssl", ["req", "-x509", "-new", "-key", `${name}.key`, "-subj", `/CN=${cn}`, "-days", "3650", "-config", "pki.cnf", "-extensions", ext, "-out", `${name}.pem`]);
}

/** A certificate issued by `issuer` (its .pem and .key); `keyFrom` reuses another name's key. */
function issue(name: string, cn: string, issuer: string, ext: string, serial: number, kind: KeyKind | { keyFrom: string }): void {
  const k = typeof kind === "string" ? (key(name, kind), name) : kind.keyFrom;
  sh("openssl", ["req", "-new", "-key", `${k}.key`, "-subj", `/CN=${cn}`, "-config", "pki.cnf", "-out", `${name}.csr`]);
  sh("openssl", ["x509", "-req", "-in", `${name}.csr`, "-CA", `${issuer}.pem`, "-CAkey", `${issuer}.key`, "-set_serial", String(serial), "-days", "3650", "-extfile", "pki.cnf", "-extensions", ext, "-out", `${name}.pem`]);
  if (k !== name) writeFileSync(join(dir, `${name}.key`), readFileSync(join(dir, `${k}.key`)));
}

const pem = (name: string): string => readFileSync(join(dir, `${name}.pem`), "utf8");
const der = (name: string): Uint8Array => new Uint8Array(Buffer.from(pem(name).replace(/-----[^-]+-----|\s/g, ""), "base64"));
const privateKey = (name: string): KeyObject => createPrivateKey(readFileSync(join(dir, `${name}.key`)));

// ---------------------------------------------------------------- images

const SPEC: PeSpec = { trailer: Uint8Array.from({ length: 13 }, (_, i) => i * 7 + 1) };
let unsigned: Uint8Array;

/** Signs `input` with osslsigncode; returns the signed file's bytes. */
function osslsign(signer: string, chain: string[], alg = "sha256", input = "a.efi", extra: string[] = []): Uint8Array {
  writeFileSync(join(dir, "chain.pem"), [signer, ...chain].map(pem).join(""));
  const out = `o-${signer}-${alg}-${Math.random().toString(36).slice(2)}.efi`;
  sh("osslsigncode", ["sign", ...extra, "-certs", "chain.pem", "-key", `${signer}.key`, "-h", alg, "-in", input, "-out", out]);
  return new Uint8Array(readFileSync(join(dir, out)));
}

/** The PKCS#7 DER of certificate-table entry `i` (without padding). */
function p7Of(signed: Uint8Array, i = 0): Uint8Array {
  const e = parsePe(signed).certificateTable?.entries[i];
  if (!e) throw new Error("not signed");
  return e.bCertificate.slice(0, readTlv(e.bCertificate, 0).raw.length);
}

/** The same image as `unsigned` with the given certificate-table entries. */
function embed(...entries: (Uint8Array | CertificateSpec)[]): Uint8Array {
  return buildPe({ ...SPEC, certificates: entries.map((e) => (e instanceof Uint8Array ? { content: e } : e)) }).bytes;
}

// ---------------------------------------------------------------- CMS surgery

interface SignerParts {
  version: Uint8Array;
  sid: Uint8Array;
  digestAlg: Uint8Array;
  attrs: Uint8Array[] | undefined;
  sigAlg: Uint8Array;
  signature: Uint8Array;
  unsigned: Uint8Array | undefined;
}

interface CmsParts {
  version: Uint8Array;
  digestAlgs: Uint8Array;
  eci: Uint8Array;
  certs: Uint8Array[];
  signers: SignerParts[];
}

const kids = (t: Tlv): Tlv[] => children(t);

function decompose(p7: Uint8Array): CmsParts {
  const top = readTlv(p7, 0);
  const sd = kids(kids(kids(top)[1] as Tlv)[0] as Tlv);
  let i = 3;
  const certs: Uint8Array[] = [];
  if ((sd[i] as Tlv).tag === 0xa0) certs.push(...kids(sd[i++] as Tlv).map((c) => c.raw));
  if ((sd[i] as Tlv).tag === 0xa1) i++;
  const signers = kids(sd[i] as Tlv).map((si): SignerParts => {
    const f = kids(si);
    let j = 3;
    const attrs = (f[j] as Tlv).tag === 0xa0 ? kids(f[j++] as Tlv).map((a) => a.raw) : undefined;
    const sigAlg = (f[j++] as Tlv).raw;
    const signature = (f[j++] as Tlv).content;
    return { version: (f[0] as Tlv).raw, sid: (f[1] as Tlv).raw, digestAlg: (f[2] as Tlv).raw, attrs, sigAlg, signature, unsigned: f[j]?.raw };
  });
  return { version: (sd[0] as Tlv).raw, digestAlgs: (sd[1] as Tlv).raw, eci: (sd[2] as Tlv).raw, certs, signers };
}

function composeSigner(s: SignerParts): Uint8Array {
  return seq(s.version, s.sid, s.digestAlg, ...(s.attrs ? [tlv(0xa0, ...s.attrs)] : []), s.sigAlg, octet(s.signature), ...(s.unsigned ? [s.unsigned] : []));
}

function compose(c: CmsParts): Uint8Array {
  const certs = c.certs.length > 0 ? [ctx(0, ...c.certs)] : [];
  return seq(oid(OID.signedData), ctx(0, seq(c.version, c.digestAlgs, c.eci, ...certs, set(...c.signers.map(composeSigner)))));
}

/** Re-signs the signed attributes as they are ordered, with 0x31 for the [0] tag (RFC 5652 5.4). */
function resign(s: SignerParts, k: KeyObject, alg = "sha256"): void {
  s.signature = new Uint8Array(nodeSign(alg, set(...(s.attrs ?? [])), k));
}

const attrType = (a: Uint8Array): string => readOid(kids(readTlv(a, 0))[0] as Tlv);
const attr = (type: string, ...values: Uint8Array[]): Uint8Array => seq(oid(type), set(...values));
const findAttr = (s: SignerParts, type: string): number => (s.attrs ?? []).findIndex((a) => attrType(a) === type);

/** The SpcIndirectDataContent TLV inside an EncapsulatedContentInfo. */
function spcOf(eci: Uint8Array): Tlv {
  return kids(kids(readTlv(eci, 0))[1] as Tlv)[0] as Tlv;
}

function eciWith(dataRaw: Uint8Array, algOid: string, digest: Uint8Array, type = OID.spcIndirectDataContent): Uint8Array {
  return seq(oid(type), ctx(0, seq(dataRaw, seq(algId(algOid), octet(digest)))));
}

const sha = (alg: string, ...parts: Uint8Array[]): Uint8Array => {
  const h = createHash(alg);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

/** Replaces the messageDigest attribute to match `eci`'s content octets and re-signs. */
function refreshMessageDigest(c: CmsParts, k: KeyObject, alg = "sha256"): void {
  const s = c.signers[0] as SignerParts;
  const md = sha(alg, spcOf(c.eci).content);
  (s.attrs as Uint8Array[])[findAttr(s, OID.messageDigest)] = attr(OID.messageDigest, octet(md));
  resign(s, k, alg);
}

// ---------------------------------------------------------------- fixtures

let rsaSigned: Uint8Array;
let rsaP7: Uint8Array;
let base: CmsParts;
let leafKey: KeyObject;

const opts = (trust: string[], more: Parameters<typeof verifyAuthenticode>[1] = {}) => ({ trust: trust.map(pem), hash, ...more });
/** verifyAuthenticode, checking on every call that each reason belongs to its verdict class (VERDICT_REASONS). */
async function verify(bytes: Uint8Array, trust: string[] = ["root"], more: Parameters<typeof verifyAuthenticode>[1] = {}): Promise<AuthenticodeVerdict> {
  const v = await verifyAuthenticode(bytes, opts(trust, more));
  const all = (s: SignatureVerdict): SignatureVerdict[] => [s, ...s.nested.flatMap(all)];
  for (const x of [v, ...v.signatures.flatMap(all)]) expect(reasonVerdict(x.reason), `${x.reason}: ${x.detail}`).toBe(x.verdict);
  return v;
}
const mutated = (f: (c: CmsParts) => void): Uint8Array => {
  const c = decompose(rsaP7);
  f(c);
  return embed(compose(c));
};

beforeAll(() => {
  if (!haveTools) return;
  dir = mkdtempSync(join(tmpdir(), "kimage-verify-"));
  writeFileSync(join(dir, "pki.cnf"), CNF);
  root("root", "Test Root", "rsa");
  issue("int", "Test Intermediate", "root", "ca", 2, "rsa");
  issue("leaf", "Test Leaf", "int", "leaf", 3, "rsa");
  root("other", "Unrelated Root", "ec");
  root("ecroot", "EC Root", "ec");
  issue("ecleaf", "EC Leaf", "ecroot", "leaf", 5, "ec");
  root("ec521root", "EC P-521 Root", "ec521");
  issue("ec384leaf", "EC P-384 Leaf", "ec521root", "leaf", 6, "ec384");
  root("ecx", "Explicit Curve", "ecx", "leaf");
  issue("badint", "Test Intermediate", "root", "badskid", 20, { keyFrom: "int" });
  // A loop: A is issued by B, B by A (B0 is B's self-signed twin, used only to issue A).
  root("loopB0", "Loop B", "ec");
  issue("loopA", "Loop A", "loopB0", "ca", 30, "ec");
  issue("loopB", "Loop B", "loopA", "ca", 31, { keyFrom: "loopB0" });
  issue("loopLeaf", "Loop Leaf", "loopA", "leaf", 32, "ec");
  // A leaf (CA:FALSE) used as an issuer.
  issue("leaf2", "Leaf Of A Leaf", "leaf", "leaf", 40, "ec");
  // root → intP (pathlen 0) → int2 → leaf3.
  issue("intP", "PathLen Zero CA", "root", "ca0", 50, "ec");
  issue("int2", "Below PathLen CA", "intP", "ca", 51, "ec");
  issue("leaf3", "Leaf Below PathLen", "int2", "leaf", 52, "ec");
  // A leaf without EKU or keyUsage.
  issue("plain", "Plain Leaf", "int", "plain", 60, "ec");

  unsigned = buildPe(SPEC).bytes;
  writeFileSync(join(dir, "a.efi"), unsigned);
  rsaSigned = osslsign("leaf", ["int"]);
  rsaP7 = p7Of(rsaSigned);
  base = decompose(rsaP7);
  leafKey = privateKey("leaf");
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- tests

describe.skipIf(!haveTools)("signatures made by osslsigncode and sbsign", () => {
  it("RSA chain with intermediate: valid against the root, the intermediate, or the leaf itself", async () => {
    for (const anchor of ["root", "int", "leaf"]) {
      const v = await verify(rsaSigned, [anchor]);
      expect(v, anchor).toMatchObject({ verdict: "valid", reason: "ok" });
      expect(v.signatures[0]).toMatchObject({ verdict: "valid", signer: "CN=Test Leaf", issuer: "CN=Test Intermediate", digestAlgorithm: "sha256", signatureAlgorithm: "rsaEncryption", digestMatch: true });
    }
    const v = await verify(rsaSigned, ["root"]);
    expect(v.signatures[0]?.chain).toEqual(["CN=Test Leaf", "CN=Test Intermediate", "CN=Test Root"]);
    expect(v.signatures[0]?.trustedBy).toBe("CN=Test Root");
  });

  it("re-embedding the extracted PKCS#7 with buildPe keeps it valid (the basis of every mutation below)", async () => {
    expect((await verify(embed(rsaP7))).verdict).toBe("valid");
    expect((await verify(embed(compose(decompose(rsaP7))))).verdict).toBe("valid");
  });

  it("sbsign's signature: valid", async () => {
    sh("sbsign", ["--key", "leaf.key", "--cert", "leaf.pem", "--addcert", "int.pem", "--output", "s.efi", "a.efi"]);
    const v = await verify(new Uint8Array(readFileSync(join(dir, "s.efi"))));
    expect(v).toMatchObject({ verdict: "valid", reason: "ok" });
  });

  it("ECDSA P-256 chain: valid (DER Ecdsa-Sig-Value converted to r||s for WebCrypto)", async () => {
    const v = await verify(osslsign("ecleaf", ["ecroot"]), ["ecroot"]);
    expect(v).toMatchObject({ verdict: "valid" });
    expect(v.signatures[0]?.signatureAlgorithm).toMatch(/ecdsa|ecPublicKey/);
  });

  it("ECDSA P-384 signer under a P-521 root, SHA-384 and SHA-512: valid", async () => {
    for (const alg of ["sha384", "sha512"]) {
      const v = await verify(osslsign("ec384leaf", ["ec521root"], alg), ["ec521root"]);
      expect(v, alg).toMatchObject({ verdict: "valid" });
      expect(v.signatures[0]?.chain).toEqual(["CN=EC P-384 Leaf", "CN=EC P-521 Root"]);
    }
  });

  it("SHA-1: unsupported unless allowSha1", async () => {
    const img = osslsign("leaf", ["int"], "sha1");
    expect(await verify(img)).toMatchObject({ verdict: "unsupported", reason: "sha1-not-allowed" });
    expect(await verify(img, ["root"], { allowSha1: true })).toMatchObject({ verdict: "valid" });
  });

  it("SHA-384 and SHA-512 image digests: valid", async () => {
    for (const alg of ["sha384", "sha512"]) {
      const v = await verify(osslsign("leaf", ["int"], alg));
      expect(v, alg).toMatchObject({ verdict: "valid" });
      expect(v.signatures[0]?.digestAlgorithm).toBe(alg);
    }
  });

  it("an unrelated trust anchor: untrusted / no-trusted-anchor, although the signature carries an intermediate", async () => {
    const v = await verify(rsaSigned, ["other"]);
    expect(v).toMatchObject({ verdict: "untrusted", reason: "no-trusted-anchor" });
    expect(v.signatures[0]?.chain).toEqual(["CN=Test Leaf", "CN=Test Intermediate"]);
    expect((await verify(rsaSigned, [])).verdict).toBe("untrusted");
  });

  it("sbverify 0.9.4 says OK for the unrelated anchor (the known bug); kimage says untrusted", async () => {
    writeFileSync(join(dir, "signed.efi"), rsaSigned);
    const r = spawnSync("sbverify", ["--cert", "other.pem", "signed.efi"], { cwd: dir, encoding: "utf8" });
    const said = `${r.stdout}${r.stderr}`;
    console.log(`sbverify --cert other.pem (unrelated): exit ${r.status}: ${said.split("\n").find((l) => l.includes("Signature verification")) ?? said}`);
    expect(r.status).toBe(0);
    expect(said).toContain("Signature verification OK");
    expect((await verify(rsaSigned, ["other"])).verdict).toBe("untrusted");
  });

  it("nested signature (osslsigncode -nest): counted in `any` mode only", async () => {
    writeFileSync(join(dir, "signed.efi"), rsaSigned);
    const nested = osslsign("ecleaf", ["ecroot"], "sha384", "signed.efi", ["-nest"]);
    const k = await verify(nested, ["ecroot"]);
    expect(k).toMatchObject({ verdict: "untrusted", reason: "no-trusted-anchor" });
    expect(k.signatures[0]?.nested).toHaveLength(1);
    expect(k.signatures[0]?.nested[0]).toMatchObject({ verdict: "valid", counted: false, digestAlgorithm: "sha384", signer: "CN=EC Leaf" });
    const any = await verify(nested, ["ecroot"], { mode: "any" });
    expect(any).toMatchObject({ verdict: "valid", reason: "ok" });
    expect(any.detail).toMatch(/nested/);
    expect((await verify(nested, ["root"], { mode: "kernel" })).verdict).toBe("valid");
  });

  it("verifyChain reports the outer PE layer", async () => {
    const c = await verifyChain(rsaSigned, opts(["root"]));
    expect(c).toMatchObject({ verdict: "valid" });
    expect(c.layers).toHaveLength(1);
    expect(c.layers[0]).toMatchObject({ index: 0, format: "pe", offset: 0 });
  });
});

describe.skipIf(!haveTools)("tampered copies", () => {
  it("a byte flipped in each hashed region class: digest-mismatch; CheckSum changed: valid", async () => {
    const built = buildPe({ ...SPEC, certificates: [{ content: rsaP7 }] });
    const regions = { headers: field(built, "DosStub").offset + 4, section: field(built, "SectionData[0]").offset + 9, remaining: field(built, "Trailer").offset + 2 };
    for (const [name, at] of Object.entries(regions)) {
      const v = await verify(flipByte(built.bytes, at));
      expect(v, name).toMatchObject({ verdict: "digest-mismatch", reason: "image-digest-mismatch" });
      expect(v.signatures[0]?.digestMatch).toBe(false);
    }
    const cs = field(built, "CheckSum").offset;
    expect(await verify(withU32(built.bytes, cs, 0x12345678))).toMatchObject({ verdict: "valid" });
  });

  it("a byte of the RSA signature value flipped: untrusted / bad-signature", async () => {
    const img = mutated((c) => {
      const s = c.signers[0] as SignerParts;
      s.signature = flipByte(s.signature, 17);
    });
    expect(await verify(img)).toMatchObject({ verdict: "untrusted", reason: "bad-signature" });
  });

  it("a signed attribute changed without re-signing: bad-signature (signingTime) or digest-mismatch (messageDigest)", async () => {
    const t = mutated((c) => {
      const s = c.signers[0] as SignerParts;
      // A year later: still inside the leaf's validity, so only the signature can object.
      (s.attrs as Uint8Array[])[findAttr(s, OID.signingTime)] = attr(OID.signingTime, utcTime(new Date(Date.now() + 365 * 86400_000)));
    });
    expect(await verify(t)).toMatchObject({ verdict: "untrusted", reason: "bad-signature" });
    const m = mutated((c) => {
      const s = c.signers[0] as SignerParts;
      const i = findAttr(s, OID.messageDigest);
      (s.attrs as Uint8Array[])[i] = flipByte((s.attrs as Uint8Array[])[i] as Uint8Array, 20);
    });
    expect(await verify(m)).toMatchObject({ verdict: "digest-mismatch", reason: "message-digest-mismatch" });
  });

  it("a byte of a certificate flipped: untrusted / bad-chain-signature", async () => {
    const leafIndex = base.certs.findIndex((c) => Buffer.from(c).includes(Buffer.from("Test Leaf")));
    const img = mutated((c) => {
      const cert = c.certs[leafIndex] as Uint8Array;
      c.certs[leafIndex] = flipByte(cert, cert.length - 5); // in signatureValue
    });
    expect(await verify(img)).toMatchObject({ verdict: "untrusted", reason: "bad-chain-signature" });
    const img2 = mutated((c) => {
      const cert = c.certs[leafIndex] as Uint8Array;
      const at = Buffer.from(cert).indexOf(Buffer.from("Test Leaf"));
      c.certs[leafIndex] = flipByte(cert, at + 5, 0x20); // 'L' -> 'l' in the subject
    });
    expect(await verify(img2)).toMatchObject({ verdict: "untrusted", reason: "bad-chain-signature" });
  });
});

describe.skipIf(!haveTools)("hostile: certificate table (parse findings become `malformed` with their code)", () => {
  const cases: [string, () => Uint8Array, string][] = [
    ["wrong revision", () => embed({ content: rsaP7, revision: 0x0100 }), "cert-bad-revision"],
    ["wrong type", () => embed({ content: rsaP7, type: 0x0001 }), "cert-bad-type"],
    ["dwLength > Size", () => embed({ content: rsaP7, dwLength: rsaP7.length + 8 + 64 }), "cert-entry-overflow"],
    ["dwLength < 8", () => embed({ content: rsaP7, dwLength: 4 }), "cert-entry-too-short"],
    ["dwLength 0", () => embed({ content: rsaP7, dwLength: 0 }), "cert-entry-too-short"],
    ["non-zero bytes after the DER inside dwLength (CVE-2013-3900)", () => embed(concat(rsaP7, Uint8Array.of(0xde, 0xad, 0xbe, 0xef))), "cert-trailing-bytes"],
  ];
  for (const [name, make, reason] of cases) {
    it(`${name}: malformed / ${reason}`, async () => {
      for (const mode of ["kernel", "shim"] as const) {
        const v = await verify(make(), ["root"], { mode });
        expect(v, mode).toMatchObject({ verdict: "malformed", reason });
      }
    });
  }

  it("zero padding after the DER inside dwLength: valid (padding is allowed, real files have it)", async () => {
    expect(await verify(embed(concat(rsaP7, new Uint8Array(5))))).toMatchObject({ verdict: "valid" });
  });

  it("CVE-2013-3900 padding with strict: false: valid, as the kernel (it trims to the DER length)", async () => {
    const v = await verify(embed(concat(rsaP7, Uint8Array.of(0xde, 0xad))), ["root"], { strict: false });
    expect(v).toMatchObject({ verdict: "valid" });
    expect(v.signatures[0]?.findings.map((f) => f.code)).toContain("cert-trailing-bytes");
  });

  it("junk inside the table's Size (sum of align8(dwLength) != Size): malformed; the kernel's own rule first in kernel mode", async () => {
    const built = buildPe({ ...SPEC, certificates: [{ content: rsaP7 }] });
    const size = field(built, "DataDirectory[4].Size");
    const grown = withU32(concat(built.bytes, Uint8Array.of(1, 2, 3, 4)), size.offset, built.certTableSize + 4);
    expect(await verify(grown, ["root"], { mode: "shim" })).toMatchObject({ verdict: "malformed", reason: "cert-table-size-mismatch" });
    expect(await verify(grown, ["root"], { mode: "kernel" })).toMatchObject({ verdict: "malformed", reason: "kernel-wrapper-length" });
    const junk = withU32(concat(built.bytes, new Uint8Array(8).fill(0xff)), size.offset, built.certTableSize + 8);
    expect(await verify(junk, ["root"], { mode: "shim" })).toMatchObject({ verdict: "malformed", reason: "cert-entry-overflow" });
  });

  it("table not at end of file: malformed when strict; otherwise the digest (which then covers table bytes) mismatches", async () => {
    const img = concat(embed(rsaP7), new Uint8Array(16).fill(7));
    expect(await verify(img)).toMatchObject({ verdict: "malformed", reason: "cert-table-not-at-end" });
    expect(await verify(img, ["root"], { strict: false })).toMatchObject({ verdict: "digest-mismatch", reason: "image-digest-mismatch" });
  });

  it("an extra entry of an unknown type: that entry malformed; shim accepts the valid one, all and kernel do not", async () => {
    const img = embed(rsaP7, { content: Uint8Array.of(1, 2, 3, 4, 5), type: 0x0ef1 });
    const shim = await verify(img, ["root"], { mode: "shim" });
    expect(shim).toMatchObject({ verdict: "valid" });
    expect(shim.signatures.map((s) => [s.verdict, s.reason])).toEqual([["valid", "ok"], ["malformed", "cert-bad-type"]]);
    expect(await verify(img, ["root"], { mode: "all" })).toMatchObject({ verdict: "malformed", reason: "cert-bad-type" });
    expect(await verify(img, ["root"], { mode: "kernel" })).toMatchObject({ verdict: "malformed", reason: "kernel-wrapper-length" });
  });

  it("table inside the headers, past the end of the file, e_lfanew outside the file: malformed with the pe-* code", async () => {
    const built = buildPe({ ...SPEC, certificates: [{ content: rsaP7 }] });
    const va = field(built, "DataDirectory[4].VirtualAddress").offset;
    expect(await verify(withU32(built.bytes, va, 0x40))).toMatchObject({ verdict: "malformed", reason: "pe-cert-table-in-headers" });
    expect(await verify(withU32(built.bytes, va, built.bytes.length - 8))).toMatchObject({ verdict: "malformed", reason: "pe-cert-table-out-of-bounds" });
    expect(await verify(withU32(built.bytes, field(built, "e_lfanew").offset, 0x7fffff00))).toMatchObject({ verdict: "malformed", reason: "pe-bad-lfanew" });
  });

  it("unsigned image: unsigned / no-signature", async () => {
    expect(await verify(unsigned)).toMatchObject({ verdict: "unsigned", reason: "no-signature", signatures: [] });
  });
});

describe.skipIf(!haveTools)("hostile: CMS structure", () => {
  it("BER indefinite length (outer and inner): malformed / asn1-not-der (the kernel's BER decoder would accept it)", async () => {
    const p = compose(base);
    const content = readTlv(p, 0).content;
    const outer = concat(Uint8Array.of(0x30, 0x80), content, Uint8Array.of(0, 0));
    expect(await verify(embed(outer))).toMatchObject({ verdict: "malformed", reason: "asn1-not-der" });
    const c = decompose(rsaP7);
    const eciContent = readTlv(c.eci, 0).content;
    c.eci = concat(Uint8Array.of(0x30, 0x80), eciContent, Uint8Array.of(0, 0));
    expect(await verify(embed(compose(c)))).toMatchObject({ verdict: "malformed", reason: "asn1-not-der" });
  });

  it("a non-minimal length: malformed / asn1-not-der", async () => {
    const c = decompose(rsaP7);
    const v = readTlv(c.version, 0);
    c.version = concat(Uint8Array.of(0x02, 0x81, v.length), v.content);
    expect(await verify(embed(compose(c)))).toMatchObject({ verdict: "malformed", reason: "asn1-not-der" });
  });

  it("eContentType != SpcIndirectDataContent: malformed / pkcs7-unexpected", async () => {
    const img = mutated((c) => {
      const spc = spcOf(c.eci);
      c.eci = seq(oid(OID.data), ctx(0, octet(spc.raw)));
    });
    const v = await verify(img);
    expect(v).toMatchObject({ verdict: "malformed", reason: "pkcs7-unexpected" });
    expect(v.detail).toMatch(/SpcIndirectDataContent/);
  });

  it("digest algorithm differs between SignedData and SignerInfo: malformed when strict, valid for the kernel", async () => {
    const img = mutated((c) => {
      c.digestAlgs = set(algId(OID.sha384));
    });
    expect(await verify(img)).toMatchObject({ verdict: "malformed", reason: "digest-algorithm-mismatch" });
    expect(await verify(img, ["root"], { strict: false })).toMatchObject({ verdict: "valid" });
  });

  it("digest algorithm differs between SignerInfo (sha256) and SpcIndirectDataContent (sha512, correct digest): malformed when strict, valid for the kernel", async () => {
    const d512 = (await authenticodeDigest(unsigned, "sha512", { hash })).digest;
    const img = mutated((c) => {
      const data = (kids(spcOf(c.eci))[0] as Tlv).raw;
      c.eci = eciWith(data, OID.sha512, d512);
      refreshMessageDigest(c, leafKey);
    });
    expect(await verify(img)).toMatchObject({ verdict: "malformed", reason: "digest-algorithm-mismatch" });
    const lax = await verify(img, ["root"], { strict: false });
    expect(lax).toMatchObject({ verdict: "valid" });
    expect(lax.signatures[0]?.digestAlgorithm).toBe("sha512");
  });

  it("digest length != hash size: SpcIndirectDataContent → pkcs7-unexpected; messageDigest → message-digest-length", async () => {
    const short = mutated((c) => {
      const data = (kids(spcOf(c.eci))[0] as Tlv).raw;
      c.eci = eciWith(data, OID.sha256, new Uint8Array(31));
      refreshMessageDigest(c, leafKey);
    });
    const v = await verify(short);
    expect(v).toMatchObject({ verdict: "malformed", reason: "pkcs7-unexpected" });
    expect(v.detail).toMatch(/31 bytes/);
    const md = mutated((c) => {
      const s = c.signers[0] as SignerParts;
      (s.attrs as Uint8Array[])[findAttr(s, OID.messageDigest)] = attr(OID.messageDigest, octet(new Uint8Array(20)));
      resign(s, leafKey);
    });
    expect(await verify(md)).toMatchObject({ verdict: "malformed", reason: "message-digest-length" });
  });

  it("missing authenticated attributes: contentType, messageDigest, all of them (kernel: -EBADMSG)", async () => {
    const without = (type: string) =>
      mutated((c) => {
        const s = c.signers[0] as SignerParts;
        s.attrs = (s.attrs as Uint8Array[]).filter((a) => attrType(a) !== type);
        resign(s, leafKey);
      });
    expect(await verify(without(OID.contentType))).toMatchObject({ verdict: "malformed", reason: "missing-content-type" });
    expect(await verify(without(OID.messageDigest))).toMatchObject({ verdict: "malformed", reason: "missing-message-digest" });
    const none = mutated((c) => {
      const s = c.signers[0] as SignerParts;
      s.attrs = undefined;
      s.signature = new Uint8Array(nodeSign("sha256", spcOf(c.eci).content, leafKey));
    });
    expect(await verify(none)).toMatchObject({ verdict: "malformed", reason: "missing-signed-attributes" });
  });

  it("duplicated authenticated attributes (two messageDigest; a two-valued contentType): malformed", async () => {
    const dup = mutated((c) => {
      const s = c.signers[0] as SignerParts;
      const a = (s.attrs as Uint8Array[])[findAttr(s, OID.messageDigest)] as Uint8Array;
      s.attrs = [...(s.attrs as Uint8Array[]), a];
      resign(s, leafKey);
    });
    expect(await verify(dup)).toMatchObject({ verdict: "malformed", reason: "duplicate-attribute" });
    const multi = mutated((c) => {
      const s = c.signers[0] as SignerParts;
      (s.attrs as Uint8Array[])[findAttr(s, OID.contentType)] = attr(OID.contentType, oid(OID.spcIndirectDataContent), oid(OID.data));
      resign(s, leafKey);
    });
    expect(await verify(multi)).toMatchObject({ verdict: "malformed", reason: "pkcs7-unexpected" });
  });

  it("contentType attribute != eContentType: malformed / content-type-mismatch", async () => {
    const img = mutated((c) => {
      const s = c.signers[0] as SignerParts;
      (s.attrs as Uint8Array[])[findAttr(s, OID.contentType)] = attr(OID.contentType, oid(OID.data));
      resign(s, leafKey);
    });
    expect(await verify(img)).toMatchObject({ verdict: "malformed", reason: "content-type-mismatch" });
  });

  it("messageDigest over the whole SpcIndirectDataContent TLV instead of its content octets: rejected", async () => {
    const img = mutated((c) => {
      const s = c.signers[0] as SignerParts;
      (s.attrs as Uint8Array[])[findAttr(s, OID.messageDigest)] = attr(OID.messageDigest, octet(sha("sha256", spcOf(c.eci).raw)));
      resign(s, leafKey);
    });
    const v = await verify(img);
    expect(v).toMatchObject({ verdict: "digest-mismatch", reason: "message-digest-mismatch" });
    expect(v.detail).toMatch(/whole SpcIndirectDataContent TLV/);
  });

  it("signed attributes out of DER order, signed as encoded: valid (the ORIGINAL bytes are verified, 0xa0 read as 0x31)", async () => {
    const img = mutated((c) => {
      const s = c.signers[0] as SignerParts;
      s.attrs = [...(s.attrs as Uint8Array[])].reverse();
      resign(s, leafKey);
    });
    const v = await verify(img);
    expect(v).toMatchObject({ verdict: "valid" });
    expect(v.signatures[0]?.findings.map((f) => f.code)).toContain("not-der");
  });

  it("signed attributes re-sorted after signing: bad-signature (kimage never re-encodes them)", async () => {
    const img = mutated((c) => {
      const s = c.signers[0] as SignerParts;
      s.attrs = [...(s.attrs as Uint8Array[])].reverse();
    });
    expect(await verify(img)).toMatchObject({ verdict: "untrusted", reason: "bad-signature" });
  });

  it("more than one SignerInfo: malformed when strict; the kernel verifies each and needs one trusted", async () => {
    const img = mutated((c) => {
      c.signers = [c.signers[0] as SignerParts, c.signers[0] as SignerParts];
    });
    expect(await verify(img)).toMatchObject({ verdict: "malformed", reason: "multiple-signers" });
    expect(await verify(img, ["root"], { strict: false })).toMatchObject({ verdict: "valid" });
  });

  it("a SignedData version the kernel rejects: malformed / cms-version", async () => {
    const img = mutated((c) => {
      c.version = Uint8Array.of(0x02, 0x01, 0x04);
    });
    expect(await verify(img)).toMatchObject({ verdict: "malformed", reason: "cms-version" });
  });

  it("trailing bytes after a nested DER value (SpcIndirectDataContent wrapped in an OCTET STRING): malformed / asn1-trailing-bytes", async () => {
    const wrapped = mutated((c) => {
      const spc = spcOf(c.eci);
      c.eci = seq(oid(OID.spcIndirectDataContent), ctx(0, octet(concat(spc.raw, Uint8Array.of(0, 0)))));
    });
    expect(await verify(wrapped)).toMatchObject({ verdict: "malformed", reason: "asn1-trailing-bytes" });
    // The same wrapping without trailing bytes (CMS style) is accepted.
    const ok = mutated((c) => {
      c.eci = seq(oid(OID.spcIndirectDataContent), ctx(0, octet(spcOf(c.eci).raw)));
    });
    expect(await verify(ok)).toMatchObject({ verdict: "valid" });
  });
});

describe.skipIf(!haveTools)("hostile: trust and policy", () => {
  it("signingTime outside the signer's validity: untrusted / signing-time-outside-validity", async () => {
    const img = mutated((c) => {
      const s = c.signers[0] as SignerParts;
      (s.attrs as Uint8Array[])[findAttr(s, OID.signingTime)] = attr(OID.signingTime, utcTime(new Date(Date.UTC(2001, 0, 1))));
      resign(s, leafKey);
    });
    expect(await verify(img)).toMatchObject({ verdict: "untrusted", reason: "signing-time-outside-validity" });
  });

  it("AKID/SKID mismatch (intermediate in the signature, or as the anchor): untrusted / akid-mismatch", async () => {
    const intIndex = base.certs.findIndex((c) => Buffer.from(c).includes(Buffer.from("Test Intermediate")) && !Buffer.from(c).includes(Buffer.from("Test Leaf")));
    const img = mutated((c) => {
      c.certs[intIndex] = der("badint");
    });
    expect(await verify(img)).toMatchObject({ verdict: "untrusted", reason: "akid-mismatch" });
    const leafOnly = mutated((c) => {
      c.certs = c.certs.filter((_, i) => i !== intIndex);
    });
    expect(await verify(leafOnly, ["badint"])).toMatchObject({ verdict: "untrusted", reason: "akid-mismatch" });
    expect(await verify(leafOnly, ["int"])).toMatchObject({ verdict: "valid" });
  });

  it("a chain loop (A issued by B, B by A): untrusted / chain-loop; a long chain: chain-too-long", async () => {
    const img = osslsign("loopLeaf", ["loopA", "loopB"]);
    const v = await verify(img, ["root"]);
    expect(v).toMatchObject({ verdict: "untrusted", reason: "chain-loop" });
    expect(v.signatures[0]?.chain).toEqual(["CN=Loop Leaf", "CN=Loop A", "CN=Loop B"]);
    expect(await verify(rsaSigned, ["root"], { maxChainLength: 1 })).toMatchObject({ verdict: "untrusted", reason: "chain-too-long" });
  });

  it("a leaf (CA:FALSE) used as an issuer: untrusted / not-a-ca; a pathLenConstraint exceeded: path-length-exceeded", async () => {
    expect(await verify(osslsign("leaf2", ["leaf", "int"]), ["root"])).toMatchObject({ verdict: "untrusted", reason: "not-a-ca" });
    expect(await verify(osslsign("leaf3", ["int2", "intP"]), ["root"])).toMatchObject({ verdict: "untrusted", reason: "path-length-exceeded" });
  });

  it("ECC explicit curve parameters (CVE-2020-0601): unsupported / ec-explicit-parameters, never valid", async () => {
    const img = osslsign("ecx", []);
    for (const mode of ["kernel", "any", "shim", "all"] as const) {
      expect(await verify(img, ["ecx"], { mode }), mode).toMatchObject({ verdict: "unsupported", reason: "ec-explicit-parameters" });
    }
  });

  it("denylist: image hash (hex, bytes, EFI_CERT_SHA256 list), certificate (PEM, EFI_CERT_X509 list), TBS hash (EFI_CERT_X509_SHA256 list)", async () => {
    const d = await authenticodeDigest(rsaSigned, "sha256", { hash });
    expect(await verify(rsaSigned, ["root"], { deny: { imageHashes: [d.hex.toUpperCase()] } })).toMatchObject({ verdict: "untrusted", reason: "denied-image-hash" });
    const d384 = await authenticodeDigest(rsaSigned, "sha384", { hash });
    expect(await verify(rsaSigned, ["root"], { deny: { imageHashes: [d384.digest] } })).toMatchObject({ verdict: "untrusted", reason: "denied-image-hash" });
    const esl = buildEfiSignatureList(EFI_CERT_TYPES.EFI_CERT_SHA256_GUID, [new Uint8Array(32), d.digest]);
    expect(await verify(rsaSigned, ["root"], { deny: { efiSignatureLists: [esl] } })).toMatchObject({ verdict: "untrusted", reason: "denied-image-hash" });

    const v = await verify(rsaSigned, ["root"], { deny: { certificates: [pem("int")] } });
    expect(v).toMatchObject({ verdict: "untrusted", reason: "denied-certificate" });
    expect(v.detail).toContain("CN=Test Intermediate");
    const certEsl = buildEfiSignatureList(EFI_CERT_TYPES.EFI_CERT_X509_GUID, [der("leaf")]);
    expect(await verify(rsaSigned, ["root"], { deny: { efiSignatureLists: [certEsl] } })).toMatchObject({ reason: "denied-certificate" });
    // A denied anchor is denied too.
    expect(await verify(rsaSigned, ["root"], { deny: { certificates: [der("root")] } })).toMatchObject({ reason: "denied-certificate" });

    const tbs = (kids(readTlv(der("leaf"), 0))[0] as Tlv).raw;
    const tbsEsl = buildEfiSignatureList(EFI_CERT_TYPES.EFI_CERT_X509_SHA256_GUID, [concat(sha("sha256", tbs), new Uint8Array(16))]);
    expect(await verify(rsaSigned, ["root"], { deny: { efiSignatureLists: [tbsEsl] } })).toMatchObject({ verdict: "untrusted", reason: "denied-tbs-hash" });
    expect(await verify(rsaSigned, ["root"], { deny: { tbsHashes: [sha("sha512", tbs)] } })).toMatchObject({ reason: "denied-tbs-hash" });
    // A denied certificate rejects the image in shim mode even when another entry is valid.
    const two = embed(rsaP7, p7Of(osslsign("ecleaf", ["ecroot"])));
    expect(await verify(two, ["root", "ecroot"], { mode: "any", deny: { certificates: [pem("ecleaf")] } })).toMatchObject({ verdict: "valid" });
    expect(await verify(two, ["root", "ecroot"], { mode: "shim", deny: { certificates: [pem("ecleaf")] } })).toMatchObject({ verdict: "untrusted", reason: "denied-certificate" });
  });

  it("SBAT: revoked → untrusted / sbat-revoked; malformed → sbat-malformed; missing with sbatRequired → sbat-missing", async () => {
    const sbat = (csv: string): Uint8Array => {
      const spec: PeSpec = { sections: [{ name: ".text", data: 0x180 }, { name: ".sbat", data: new TextEncoder().encode(csv) }] };
      writeFileSync(join(dir, "sbat.efi"), buildPe(spec).bytes);
      return osslsign("leaf", ["int"], "sha256", "sbat.efi");
    };
    const good = sbat("sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nkimage,3,Test,kimage,1.0,https://example.invalid\n");
    const level = (n: number) => `sbat,1,2024010900\nkimage,${n}\n`;
    expect(await verify(good, ["root"], { sbatLevel: level(3) })).toMatchObject({ verdict: "valid" });
    const revoked = await verify(good, ["root"], { sbatLevel: level(4) });
    expect(revoked).toMatchObject({ verdict: "untrusted", reason: "sbat-revoked" });
    expect(revoked.signatures[0]?.verdict).toBe("valid");
    expect(revoked.sbat?.detail).toMatch(/kimage generation 3 .* 4/);
    const bad = sbat("sbat,1,SBAT Version,sbat,1,https://x\nkimage,three,Test,kimage,1.0,https://x\n");
    expect(await verify(bad, ["root"], { sbatLevel: level(1) })).toMatchObject({ verdict: "malformed", reason: "sbat-malformed" });
    const short = sbat("sbat,1,SBAT Version,sbat,1,https://x\nkimage,3\n");
    expect(await verify(short, ["root"], { sbatLevel: level(1) })).toMatchObject({ verdict: "malformed", reason: "sbat-malformed" });
    expect(await verify(rsaSigned, ["root"], { sbatLevel: level(1) })).toMatchObject({ verdict: "valid" });
    expect(await verify(rsaSigned, ["root"], { sbatLevel: level(1), sbatRequired: true })).toMatchObject({ verdict: "untrusted", reason: "sbat-missing" });
    await expect(verifyAuthenticode(good, { sbatLevel: "sbat,one\n" })).rejects.toMatchObject({ code: "bad-argument" });
  });

  it("options.time checks every certificate of the chain; requireKeyUsage and requireEku check the signer", async () => {
    expect(await verify(rsaSigned, ["root"], { time: new Date() })).toMatchObject({ verdict: "valid" });
    expect(await verify(rsaSigned, ["root"], { time: new Date(Date.UTC(2001, 0, 1)) })).toMatchObject({ verdict: "untrusted", reason: "certificate-not-valid-at-time" });
    expect(await verify(rsaSigned, ["root"], { requireKeyUsage: true, requireEku: [OID.codeSigning] })).toMatchObject({ verdict: "valid" });
    const plain = osslsign("plain", ["int"]);
    expect(await verify(plain, ["root"])).toMatchObject({ verdict: "valid" });
    expect(await verify(plain, ["root"], { requireKeyUsage: true })).toMatchObject({ verdict: "untrusted", reason: "key-usage" });
    expect(await verify(plain, ["root"], { requireEku: [OID.codeSigning] })).toMatchObject({ verdict: "untrusted", reason: "eku-missing" });
  });

  it("no WebCrypto: unsupported / no-crypto (the global is read at call time)", async () => {
    vi.stubGlobal("crypto", undefined);
    try {
      expect(await verify(rsaSigned)).toMatchObject({ verdict: "unsupported", reason: "no-crypto" });
    } finally {
      vi.unstubAllGlobals();
    }
    expect(await verify(rsaSigned, ["root"], { crypto: globalThis.crypto.subtle })).toMatchObject({ verdict: "valid" });
  });

  it("invalid trust input throws bad-argument", async () => {
    await expect(verifyAuthenticode(rsaSigned, { trust: ["no certificate here"] })).rejects.toMatchObject({ code: "bad-argument" });
    await expect(verifyAuthenticode(rsaSigned, { trust: [Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00)] })).rejects.toMatchObject({ code: "bad-argument" });
    await expect(verifyAuthenticode(rsaSigned, { deny: { imageHashes: ["abcd"] } })).rejects.toMatchObject({ code: "bad-argument" });
  });
});
