// signAuthenticode against the peer tools: every output must pass sbverify,
// osslsigncode verify (signature, chain and PE checksum) and pesign, parse
// with kimage's reader as strict DER, and embed exactly
// authenticodeDigest(output) (= pesign -h).
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { signAuthenticode, createAuthenticodeSignature } from "../../src/signature/sign.js";
import { authenticodeDigest } from "../../src/formats/pe/authenticode.js";
import { parsePe, type PeFile } from "../../src/formats/pe/parse.js";
import { readAuthenticodeInfo, type AuthenticodeInfo } from "../../src/cms/pkcs7-info.js";
import { isKimageError } from "../../src/core/errors.js";
import { toHex } from "../../src/core/bytes.js";
import { nodeHashProvider } from "../../src/node/index.js";
import { MACHINE_I386, SCN_DATA, SCN_TEXT, buildPe, filler, peChecksum as referenceChecksum } from "../support/pe-builder.js";
import { readBytes, requireReal } from "../support/real.js";
import { makePki, readFileBytes, sh, toolExists, type Identity, type Pki } from "../support/sign-pki.js";

const hash = nodeHashProvider;
const TOOLS = ["openssl", "sbsign", "sbverify", "sbattach", "osslsigncode", "pesign"];
/** A signing time inside the test certificates' validity (they start when makePki runs). */
let NOW: Date;

let pki: Pki;
let n = 0;
beforeAll(() => {
  for (const t of TOOLS) expect(toolExists(t), `peer tool ${t} must be installed`).toBe(true);
  pki = makePki();
  NOW = new Date();
});
afterAll(() => pki?.cleanup());

function save(bytes: Uint8Array, name = "out"): string {
  const path = join(pki.dir, `${name}-${n++}.efi`);
  writeFileSync(path, bytes);
  return path;
}

function entriesOf(pe: PeFile) {
  return pe.certificateTable?.entries ?? [];
}

/** The reader's view of entry `index`; strict (exact DER, no padding inside dwLength) for kimage's output. */
function info(pe: PeFile, index = 0, strict = true): AuthenticodeInfo {
  const e = entriesOf(pe)[index];
  if (!e) throw new Error(`no certificate entry ${index}`);
  return readAuthenticodeInfo(e.bCertificate, e.contentOffset, { strict });
}

function sbverify(path: string, ca: Identity): string {
  const r = sh("sbverify", ["--cert", ca.certPath, path]);
  expect(r.out).toContain("Signature verification OK");
  return r.out;
}

/** osslsigncode verify; returns its output, checking the PE checksum it computes equals ours. */
function osslVerify(path: string, ca: Identity, checksum: number): string {
  const r = sh("osslsigncode", ["verify", "-CAfile", ca.certPath, "-in", path], { allowFail: true });
  const calculated = /Calculated PE checksum: ([0-9A-F]{8})/.exec(r.out) ?? /PE checksum\s+: ([0-9A-F]{8})/.exec(r.out);
  expect(calculated?.[1], r.out).toBe(checksum.toString(16).toUpperCase().padStart(8, "0"));
  expect(r.out).not.toContain("Current PE checksum");
  expect(r.status, r.out).toBe(0);
  expect(r.out).toContain("Signature verification: ok");
  return r.out;
}

function pesignHash(path: string): string {
  const m = /hash: ([0-9a-f]+)/.exec(sh("pesign", ["-h", "-i", path]).out);
  if (!m?.[1]) throw new Error("pesign printed no hash");
  return m[1];
}

function pesignCNs(path: string): string[] {
  return [...sh("pesign", ["-S", "-i", path]).out.matchAll(/The signer's common name is (.*)/g)].map((m) => m[1] as string);
}

/** Structural checks every output must pass; returns the parsed output. */
async function checkOutput(out: Uint8Array, expectedEntries = 1): Promise<PeFile> {
  const pe = parsePe(out);
  const table = pe.certificateTable;
  if (!table) throw new Error("unsigned output");
  expect(out.length % 8).toBe(0);
  expect(table.offset % 8).toBe(0);
  expect(table.offset + table.size).toBe(out.length);
  expect(table.entries).toHaveLength(expectedEntries);
  expect(pe.findings.filter((f) => f.code.startsWith("cert-"))).toEqual([]);
  const last = table.entries[table.entries.length - 1];
  if (!last) throw new Error("no entry");
  const i = readAuthenticodeInfo(last.bCertificate, last.contentOffset, { strict: true });
  expect(last.dwLength).toBe(8 + i.length);
  expect(last.wRevision).toBe(0x0200);
  expect(last.wCertificateType).toBe(2);
  expect(pe.optional.CheckSum).toBe(referenceChecksum(out, pe.layout.checksum));
  return pe;
}

async function digestHex(bytes: Uint8Array | PeFile, alg: "sha1" | "sha256" | "sha384" | "sha512" = "sha256"): Promise<string> {
  return (await authenticodeDigest(bytes, alg, { hash })).hex;
}

const SYNTHETIC: Record<string, Uint8Array> = {
  "pe32+ minimal": buildPe().bytes,
  "pe32 i386": buildPe({ format: "pe32", machine: MACHINE_I386 }).bytes,
  "odd length (13-byte trailer)": buildPe({ trailer: filler(13, 0x7a11) }).bytes,
  "gap between sections": buildPe({
    sections: [
      { name: ".text", data: 0x180, characteristics: SCN_TEXT },
      { name: ".data", data: 0x90, characteristics: SCN_DATA, pointerToRawData: 0x400 + 0x1000 },
    ],
  }).bytes,
  "trailer 0x100": buildPe({ trailer: filler(0x100, 0x7a12) }).bytes,
};

describe("signAuthenticode on synthetic PEs: sbverify, osslsigncode, pesign, kimage reader", () => {
  for (const [name, input] of Object.entries(SYNTHETIC)) {
    it(name, async () => {
      const before = input.slice();
      const out = await signAuthenticode(input, {
        key: pki.leaf.keyPem,
        certs: [pki.leaf.certPem],
        signingTime: NOW,
        programName: "kimage ✓ test",
        moreInfoUrl: "https://example.invalid/kimage",
        hash,
      });
      expect(input).toEqual(before); // not modified
      const pe = await checkOutput(out);
      const i = info(pe);
      const ours = await digestHex(out);
      // The signed digest is the digest of the output, and of the unsigned input as if zero-padded to 8.
      expect(toHex(i.digest)).toBe(ours);
      expect(await digestHex(input)).toBe(ours);
      expect(i.der).toBe(true);
      expect(i.signedDataVersion).toBe(1);
      expect(i.digestAlgorithm).toBe("sha256");
      expect(i.eContentWrapped).toBe(false);
      expect(i.certificates.map((c) => c.subjectCN)).toEqual(["kimage Test Signer"]);
      const s = i.signers[0];
      if (!s) throw new Error("no signer");
      expect(s.version).toBe(1);
      expect(s.certificateIndex).toBe(0);
      expect(s.signatureAlgorithm).toBe("rsaEncryption");
      expect(s.signedAttrsSorted).toBe(true);
      expect(s.contentType).toBe("1.3.6.1.4.1.311.2.1.4");
      expect(s.programName).toBe("kimage ✓ test");
      expect(s.moreInfoUrl).toBe("https://example.invalid/kimage");
      expect(s.signingTime?.getTime()).toBe(Math.floor(NOW.getTime() / 1000) * 1000);
      expect(s.signedAttributeTypes).toContain("1.3.6.1.4.1.311.2.1.11");
      // messageDigest = H(content octets of SpcIndirectDataContent), not of the whole TLV.
      expect(toHex(s.messageDigest ?? new Uint8Array())).toBe(createHash("sha256").update(i.signedContent).digest("hex"));
      // The image bytes are kept; only CheckSum and the directory entry change, then zero padding.
      const dir = pe.layout.certDirectoryEntry ?? -1;
      for (let k = 0; k < input.length; k++) {
        if ((k >= dir && k < dir + 8) || (k >= pe.layout.checksum && k < pe.layout.checksum + 4)) continue;
        if (out[k] !== input[k]) throw new Error(`byte 0x${k.toString(16)} changed`);
      }
      expect([...out.subarray(input.length, pe.certificateTable?.offset)].every((b) => b === 0)).toBe(true);

      const path = save(out);
      sbverify(path, pki.root);
      expect(pesignHash(path)).toBe(ours);
      expect(pesignCNs(path)).toEqual(["kimage Test Signer"]);
      if (name === "gap between sections") {
        // osslsigncode hashes the file linearly, so it disagrees on a gap (REFERENCES.md); the checksum it agrees on.
        const r = sh("osslsigncode", ["verify", "-CAfile", pki.root.certPath, "-in", path], { allowFail: true });
        expect(r.out).toContain(`Current message digest    : ${ours.toUpperCase()}`);
        expect(r.out).not.toContain(`Calculated message digest : ${ours.toUpperCase()}`);
        expect(r.out).toContain(`PE checksum   : ${pe.optional.CheckSum.toString(16).toUpperCase().padStart(8, "0")}`);
      } else {
        osslVerify(path, pki.root, pe.optional.CheckSum);
      }
    });
  }

  it("is deterministic for RSA and writes no signingTime unless given", async () => {
    const input = buildPe().bytes;
    const opts = { key: pki.leaf.keyPem, certs: [pki.leaf.certPem], hash };
    const a = await signAuthenticode(input, opts);
    const b = await signAuthenticode(input, opts);
    expect(a).toEqual(b);
    const s = info(parsePe(a)).signers[0];
    expect(s?.signingTime).toBeUndefined();
    expect(s?.signedAttributeTypes).toEqual([
      "1.2.840.113549.1.9.3", // contentType
      "1.3.6.1.4.1.311.2.1.11", // SpcStatementType
      "1.2.840.113549.1.9.4", // messageDigest
    ]);
    const none = await signAuthenticode(input, { ...opts, statementType: "none" });
    expect(info(parsePe(none)).signers[0]?.signedAttributeTypes).toEqual(["1.2.840.113549.1.9.3", "1.2.840.113549.1.9.4"]);
    osslVerify(save(none), pki.root, parsePe(none).optional.CheckSum);
  });
});

describe("algorithms, chains and keys", () => {
  for (const alg of ["sha1", "sha384", "sha512"] as const) {
    it(`${alg}: osslsigncode verifies, pesign agrees, the reader sees ${alg}`, async () => {
      const out = await signAuthenticode(SYNTHETIC["odd length (13-byte trailer)"] as Uint8Array, {
        key: pki.leaf.keyPem,
        certs: [pki.leaf.certPem],
        alg,
        signingTime: NOW,
        hash,
      });
      const pe = await checkOutput(out);
      const i = info(pe);
      expect(i.digestAlgorithm).toBe(alg);
      expect(i.digestAlgorithms).toEqual([alg]);
      expect(i.signers[0]?.digestAlgorithm).toBe(alg);
      expect(toHex(i.digest)).toBe(await digestHex(out, alg));
      const path = save(out);
      const r = osslVerify(path, pki.root, pe.optional.CheckSum);
      expect(r).toContain(`Message digest algorithm  : ${alg.toUpperCase()}`);
      expect(pesignCNs(path)).toEqual(["kimage Test Signer"]);
    });
  }

  it("a chain: osslsigncode verifies against the root only with the intermediate included", async () => {
    const input = buildPe().bytes;
    const out = await signAuthenticode(input, { key: pki.chainLeaf.keyPem, certs: [pki.chainLeaf.certPem, pki.inter.certPem], signingTime: NOW, hash });
    const pe = await checkOutput(out);
    const i = info(pe);
    expect(i.certificates.map((c) => c.subjectCN).sort()).toEqual(["kimage Chain Signer", "kimage Test Intermediate CA"]);
    expect(i.signers[0]?.signerCN).toBe("kimage Chain Signer");
    const path = save(out);
    const r = osslVerify(path, pki.root, pe.optional.CheckSum);
    expect(r).toContain("kimage Test Intermediate CA");
    sbverify(path, pki.root);
    expect(pesignCNs(path)).toEqual(["kimage Chain Signer"]);

    const noInter = await signAuthenticode(input, { key: pki.chainLeaf.keyPem, certs: [pki.chainLeaf.certPem], signingTime: NOW, hash });
    const bad = sh("osslsigncode", ["verify", "-CAfile", pki.root.certPath, "-in", save(noInter)], { allowFail: true });
    expect(bad.status).not.toBe(0);
    expect(bad.out).not.toContain("Signature verification: ok");
  });

  it("certificates as DER or a multi-certificate PEM string, keys as PKCS#8 or PKCS#1 DER", async () => {
    const out = await signAuthenticode(buildPe().bytes, {
      key: readFileBytes(join(pki.dir, "chainLeaf.key")),
      certs: [pki.chainLeaf.certDer, pki.inter.certPem + pki.root.certPem],
      hash,
    });
    expect(info(parsePe(out)).certificates).toHaveLength(3);
    osslVerify(save(out), pki.root, parsePe(out).optional.CheckSum);
    const pkcs1 = await signAuthenticode(buildPe().bytes, { key: readFileBytes(join(pki.dir, "leaf.rsa.key")), certs: [pki.leaf.certDer], hash });
    osslVerify(save(pkcs1), pki.root, parsePe(pkcs1).optional.CheckSum);
  });

  for (const [which, curveOid, cn] of [
    ["ec256", "ecdsaWithSHA256", "kimage EC256 Signer"],
    ["ec384", "ecdsaWithSHA384", "kimage EC384 Signer"],
  ] as const) {
    it(`ECDSA ${which}: DER ECDSA-Sig-Value, verified by osslsigncode and sbverify`, async () => {
      const id = pki[which];
      const alg = which === "ec256" ? "sha256" : "sha384";
      const out = await signAuthenticode(buildPe({ trailer: filler(3, 9) }).bytes, {
        key: readFileBytes(join(pki.dir, `${which}.sec1.key`)),
        certs: [id.certPem],
        alg,
        signingTime: NOW,
        hash,
      });
      const pe = await checkOutput(out);
      const s = info(pe).signers[0];
      expect(s?.signatureAlgorithm).toBe(curveOid);
      expect(s?.signature[0]).toBe(0x30);
      const path = save(out);
      osslVerify(path, pki.root, pe.optional.CheckSum);
      if (alg === "sha256") sbverify(path, pki.root); // sbsigntool reads SHA-256 signatures only
      expect(pesignCNs(path)).toEqual([cn]);
    });
  }

  it("a CryptoKey is used as it is", async () => {
    const pem = pki.leaf.keyPem.replace(/-----[^-]+-----|\s/g, "");
    const pkcs8 = Uint8Array.from(atob(pem), (c) => c.charCodeAt(0));
    const key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-384" }, false, ["sign"]);
    const out = await signAuthenticode(buildPe().bytes, { key, certs: [pki.leaf.certPem], alg: "sha384", hash });
    osslVerify(save(out), pki.root, parsePe(out).optional.CheckSum);
    await expect(signAuthenticode(buildPe().bytes, { key, certs: [pki.leaf.certPem], alg: "sha256" })).rejects.toSatisfy((e) =>
      isKimageError(e, "sign-key-unsupported"),
    );
  });
});

describe("modes", () => {
  it("replace drops an existing table (osslsigncode-signed input)", async () => {
    const src = save(SYNTHETIC["odd length (13-byte trailer)"] as Uint8Array, "in");
    const peer = join(pki.dir, "peer-ossl.efi");
    sh("osslsigncode", ["sign", "-certs", pki.other.certPath, "-key", pki.other.keyPath, "-in", src, "-out", peer]);
    const signed = readFileBytes(peer);
    const out = await signAuthenticode(signed, { key: pki.leaf.keyPem, certs: [pki.leaf.certPem], hash });
    const pe = await checkOutput(out, 1);
    expect(info(pe).signers[0]?.signerCN).toBe("kimage Test Signer");
    expect(toHex(info(pe).digest)).toBe(await digestHex(signed));
    osslVerify(save(out), pki.root, pe.optional.CheckSum);
  });

  it("append adds a second entry: sbverify, sbattach, pesign and the reader see both", async () => {
    const first = await signAuthenticode(buildPe().bytes, { key: pki.leaf.keyPem, certs: [pki.leaf.certPem], signingTime: NOW, hash });
    const out = await signAuthenticode(first, { key: pki.chainLeaf.keyPem, certs: [pki.chainLeaf.certPem, pki.inter.certPem], mode: "append", hash });
    const pe = await checkOutput(out, 2);
    const d = await digestHex(out);
    expect([0, 1].map((k) => toHex(info(pe, k).digest))).toEqual([d, d]);
    expect([0, 1].map((k) => info(pe, k).signers[0]?.signerCN)).toEqual(["kimage Test Signer", "kimage Chain Signer"]);
    // The first entry is kept byte for byte.
    const t1 = parsePe(first).certificateTable;
    expect(out.subarray(t1?.offset, (t1?.offset ?? 0) + (t1?.size ?? 0))).toEqual(first.subarray(t1?.offset));
    const path = save(out);
    sbverify(path, pki.root);
    expect(sh("sbverify", ["--list", path]).out.match(/^signature \d/gm)).toEqual(["signature 1", "signature 2"]);
    expect(pesignCNs(path)).toEqual(["kimage Test Signer", "kimage Chain Signer"]);
    expect(pesignHash(path)).toBe(d);
    // sbattach --attach of the same PKCS#7 produces the same file.
    const e1 = entriesOf(pe)[1];
    if (!e1) throw new Error("no entry 1");
    const sigPath = join(pki.dir, "entry1.p7");
    writeFileSync(sigPath, e1.bCertificate);
    const firstPath = save(first, "attach");
    sh("sbattach", ["--attach", sigPath, firstPath]);
    expect(readFileBytes(firstPath)).toEqual(out);
    // Known peer limitation: osslsigncode cannot read two-entry tables.
    const r = sh("osslsigncode", ["verify", "-CAfile", pki.root.certPath, "-in", path], { allowFail: true });
    expect(r.status).not.toBe(0);
    expect(r.out).toContain("Corrupted attribute certificate table");
  });

  it("nest adds a nested signature that osslsigncode verifies, like osslsigncode sign -nest", async () => {
    const first = await signAuthenticode(buildPe({ trailer: filler(5, 1) }).bytes, { key: pki.leaf.keyPem, certs: [pki.leaf.certPem], signingTime: NOW, hash });
    const firstPath = save(first, "nest-in");
    const out = await signAuthenticode(first, { key: pki.ec256.keyPem, certs: [pki.ec256.certPem], alg: "sha384", mode: "nest", signingTime: NOW, hash });
    const pe = await checkOutput(out, 1);
    const i = info(pe);
    expect(i.der).toBe(true);
    const s = i.signers[0];
    expect(s?.unsignedAttributeTypes).toEqual(["1.3.6.1.4.1.311.2.4.1"]);
    expect(s?.nestedSignatureCount).toBe(1);
    const nested = s?.nestedSignatures[0];
    expect(nested?.digestAlgorithm).toBe("sha384");
    expect(toHex(nested?.digest ?? new Uint8Array())).toBe(await digestHex(out, "sha384"));
    expect(nested?.signers[0]?.signerCN).toBe("kimage EC256 Signer");
    // The primary signature is untouched apart from the unsigned attributes.
    const i0 = info(parsePe(first));
    expect(toHex(i.signers[0]?.signature ?? new Uint8Array())).toBe(toHex(i0.signers[0]?.signature ?? new Uint8Array()));
    expect(toHex(i.signers[0]?.signedAttrsRaw ?? new Uint8Array())).toBe(toHex(i0.signers[0]?.signedAttrsRaw ?? new Uint8Array()));
    const path = save(out);
    const r = osslVerify(path, pki.root, pe.optional.CheckSum);
    expect(r).toContain("Signature Index: 1");
    expect(r.match(/Signature verification: ok/g)).toHaveLength(2);
    sbverify(path, pki.root);

    // osslsigncode's own -nest on the same input: same shape and the same digests.
    const theirsPath = join(pki.dir, "ossl-nest.efi");
    sh("osslsigncode", ["sign", "-nest", "-h", "sha384", "-certs", pki.ec256.certPath, "-key", pki.ec256.keyPath, "-in", firstPath, "-out", theirsPath]);
    const theirs = readFileBytes(theirsPath);
    const tpe = parsePe(theirs);
    const ti = info(tpe, 0, false); // osslsigncode pads inside dwLength
    expect(tpe.certificateTable?.offset).toBe(pe.certificateTable?.offset);
    expect(toHex(ti.digest)).toBe(toHex(i.digest));
    expect(ti.signers[0]?.unsignedAttributeTypes).toEqual(s?.unsignedAttributeTypes);
    const tn = ti.signers[0]?.nestedSignatures[0];
    expect(toHex(tn?.digest ?? new Uint8Array())).toBe(toHex(nested?.digest ?? new Uint8Array()));
    expect(tn?.signers[0]?.signatureAlgorithm).toBe(nested?.signers[0]?.signatureAlgorithm);
    expect(tn?.signedDataVersion).toBe(nested?.signedDataVersion);
    // The image parts are identical but for CheckSum and the table Size.
    const dir = pe.layout.certDirectoryEntry ?? 0;
    const skip = (k: number): boolean => (k >= pe.layout.checksum && k < pe.layout.checksum + 4) || (k >= dir + 4 && k < dir + 8);
    expect(out.subarray(0, pe.certificateTable?.offset).map((b, k) => (skip(k) ? 0 : b))).toEqual(
      theirs.subarray(0, tpe.certificateTable?.offset).map((b, k) => (skip(k) ? 0 : b)),
    );

    // Nesting again adds a second value to the same attribute.
    const twice = await signAuthenticode(out, { key: pki.leaf.keyPem, certs: [pki.leaf.certPem], alg: "sha512", mode: "nest", hash });
    const s2 = info(await checkOutput(twice, 1)).signers[0];
    expect(s2?.unsignedAttributeTypes).toEqual(["1.3.6.1.4.1.311.2.4.1"]);
    expect(s2?.nestedSignatureCount).toBe(2);
    expect(s2?.nestedSignatures.map((x) => x.digestAlgorithm).sort()).toEqual(["sha384", "sha512"]);
    const r2 = osslVerify(save(twice), pki.root, parsePe(twice).optional.CheckSum);
    expect(r2.match(/Signature verification: ok/g)).toHaveLength(3);
  });

  it("nest into sbsign- and osslsigncode-made primaries", async () => {
    const src = save(buildPe().bytes, "in");
    const sb = join(pki.dir, "sb.efi");
    sh("sbsign", ["--key", pki.other.keyPath, "--cert", pki.other.certPath, "--output", sb, src]);
    const os = join(pki.dir, "os.efi");
    sh("osslsigncode", ["sign", "-certs", pki.other.certPath, "-key", pki.other.keyPath, "-in", src, "-out", os]);
    for (const p of [sb, os]) {
      const out = await signAuthenticode(readFileBytes(p), { key: pki.leaf.keyPem, certs: [pki.leaf.certPem], mode: "nest", hash });
      const pe = await checkOutput(out, 1);
      expect(info(pe).signers[0]?.nestedSignatures[0]?.signers[0]?.signerCN).toBe("kimage Test Signer");
      const r = osslVerify(save(out), pki.root, pe.optional.CheckSum);
      expect(r.match(/Signature verification: ok/g)).toHaveLength(2);
    }
  });
});

describe("peer-signed files parse with kimage's reader and embed kimage's digest", () => {
  it("sbsign and osslsigncode (sha256, sha384, sha1)", async () => {
    for (const [name, input] of Object.entries(SYNTHETIC)) {
      if (name === "gap between sections") continue; // osslsigncode hashes linearly
      const src = save(input, "in");
      const outs: [string, string][] = [];
      const sb = join(pki.dir, `sb-${n++}.efi`);
      sh("sbsign", ["--key", pki.leaf.keyPath, "--cert", pki.leaf.certPath, "--output", sb, src]);
      outs.push([sb, "sha256"]);
      for (const alg of ["sha256", "sha384", "sha1"]) {
        const os = join(pki.dir, `os-${n++}.efi`);
        sh("osslsigncode", ["sign", "-h", alg, "-certs", pki.leaf.certPath, "-key", pki.leaf.keyPath, "-in", src, "-out", os]);
        outs.push([os, alg]);
      }
      for (const [p, alg] of outs) {
        const bytes = readFileBytes(p);
        const pe = parsePe(bytes);
        const e = entriesOf(pe)[0];
        if (!e) throw new Error(`${p}: unsigned`);
        const i = readAuthenticodeInfo(e.bCertificate, e.contentOffset);
        expect(i.digestAlgorithm, `${name} ${p}`).toBe(alg);
        expect(toHex(i.digest), `${name} ${p}`).toBe(await digestHex(pe, alg as "sha256"));
        expect(toHex(i.digest), `${name} ${p}`).toBe(await digestHex(input, alg as "sha256"));
        expect(pe.optional.CheckSum).toBe(referenceChecksum(bytes, pe.layout.checksum));
      }
    }
  });
});

const reals = requireReal("an unsigned Debian amd64 kernel", (f) => /\/linux-image-[^/]*-amd64-unsigned\/vmlinuz-/.test(f.path));

describe.skipIf(reals.length === 0)("a real unsigned Debian kernel", () => {
  it("signs, and every peer verifies it", async () => {
    const f = reals[0];
    if (!f) return;
    const input = readBytes(f.abs);
    const out = await signAuthenticode(input, { key: pki.chainLeaf.keyPem, certs: [pki.chainLeaf.certPem, pki.inter.certPem], signingTime: NOW, programName: "Linux", hash });
    const pe = await checkOutput(out);
    const i = info(pe);
    expect(i.der).toBe(true);
    const d = await digestHex(out);
    expect(toHex(i.digest)).toBe(d);
    expect(await digestHex(input)).toBe(d);
    const path = save(out, "vmlinuz");
    expect(pesignHash(path)).toBe(d);
    expect(pesignCNs(path)).toEqual(["kimage Chain Signer"]);
    sbverify(path, pki.root);
    osslVerify(path, pki.root, pe.optional.CheckSum);
    // osslsigncode signing the same kernel embeds the same digest.
    const theirs = join(pki.dir, "vmlinuz-ossl.efi");
    sh("osslsigncode", ["sign", "-certs", pki.leaf.certPath, "-key", pki.leaf.keyPath, "-in", f.abs, "-out", theirs]);
    expect(toHex(info(parsePe(readFileBytes(theirs)), 0, false).digest)).toBe(d);
  });
});

describe("errors", () => {
  const opts = () => ({ key: pki.leaf.keyPem, certs: [pki.leaf.certPem] });
  const code = (c: string) => (e: unknown) => isKimageError(e) && e.code === c;

  it("nest on an unsigned image", async () => {
    await expect(signAuthenticode(buildPe().bytes, { ...opts(), mode: "nest" })).rejects.toSatisfy(code("sign-nothing-to-nest"));
  });
  it("a key that is not the certificate's", async () => {
    await expect(signAuthenticode(buildPe().bytes, { key: pki.other.keyPem, certs: [pki.leaf.certPem] })).rejects.toSatisfy(code("sign-key-mismatch"));
    await expect(signAuthenticode(buildPe().bytes, { key: pki.ec256.keyPem, certs: [pki.leaf.certPem] })).rejects.toSatisfy(code("sign-key-mismatch"));
  });
  it("no certificate, a bad certificate, a bad algorithm or mode", async () => {
    await expect(signAuthenticode(buildPe().bytes, { key: pki.leaf.keyPem, certs: [] })).rejects.toSatisfy(code("sign-cert-invalid"));
    await expect(signAuthenticode(buildPe().bytes, { key: pki.leaf.keyPem, certs: [Uint8Array.of(0x30, 0x05, 1)] })).rejects.toSatisfy(code("sign-cert-invalid"));
    await expect(signAuthenticode(buildPe().bytes, { ...opts(), alg: "md5" as "sha1" })).rejects.toSatisfy(code("bad-argument"));
    await expect(signAuthenticode(buildPe().bytes, { ...opts(), mode: "merge" as "nest" })).rejects.toSatisfy(code("bad-argument"));
    await expect(createAuthenticodeSignature(new Uint8Array(31), opts())).rejects.toSatisfy(code("bad-argument"));
  });
  it("no certificate-table directory entry", async () => {
    await expect(signAuthenticode(buildPe({ numberOfRvaAndSizes: 4 }).bytes, opts())).rejects.toSatisfy(code("pe-no-cert-directory"));
  });
  it("an existing table that does not end the file, or is malformed, for append", async () => {
    const signed = await signAuthenticode(buildPe().bytes, opts());
    const junk = new Uint8Array(signed.length + 8);
    junk.set(signed);
    await expect(signAuthenticode(junk, opts())).rejects.toSatisfy(code("sign-table-unsupported"));
    const dummy = buildPe({ certificates: [{ content: Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00), dwLength: 4 }] }).bytes;
    await expect(signAuthenticode(dummy, { ...opts(), mode: "append" })).rejects.toSatisfy(code("sign-table-unsupported"));
    // replace still works on it
    await checkOutput(await signAuthenticode(dummy, opts()));
  });
  it("no WebCrypto", async () => {
    vi.stubGlobal("crypto", undefined);
    try {
      await expect(signAuthenticode(buildPe().bytes, { ...opts(), hash })).rejects.toSatisfy(code("sign-no-crypto"));
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
