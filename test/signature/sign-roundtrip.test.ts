// Round trips through kimage's own verifiers: what kimage signs verifies as
// `valid` with verifyAuthenticode / verifyAppendedSignature, and so do files
// signed by sbsign and osslsigncode.
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signAuthenticode } from "../../src/signature/sign.js";
import { signAppended } from "../../src/signature/sign-appended.js";
import { verifyAuthenticode } from "../../src/signature/verify.js";
import { verifyAppendedSignature } from "../../src/signature/appended.js";
import { nodeHashProvider } from "../../src/node/index.js";
import { buildPe, filler } from "../support/pe-builder.js";
import { makePki, readFileBytes, sh, toolExists, type Pki } from "../support/sign-pki.js";

const hash = nodeHashProvider;
/** A signing time inside the test certificates' validity (they start when makePki runs). */
let NOW: Date;
let pki: Pki;
beforeAll(() => {
  for (const t of ["openssl", "sbsign", "osslsigncode"]) expect(toolExists(t), `${t} must be installed`).toBe(true);
  pki = makePki();
  NOW = new Date();
});
afterAll(() => pki?.cleanup());

const image = () => buildPe({ trailer: filler(13, 2) }).bytes;

describe("kimage-signed Authenticode → verifyAuthenticode", () => {
  it("RSA, chain, ECDSA and every digest algorithm: valid against the root", async () => {
    const cases = [
      { key: pki.leaf.keyPem, certs: [pki.leaf.certPem] },
      { key: pki.chainLeaf.keyPem, certs: [pki.chainLeaf.certPem, pki.inter.certPem], alg: "sha384" as const },
      { key: pki.ec256.keyPem, certs: [pki.ec256.certPem], alg: "sha512" as const },
      { key: pki.ec384.keyPem, certs: [pki.ec384.certPem], alg: "sha384" as const },
    ];
    for (const c of cases) {
      const out = await signAuthenticode(image(), { ...c, signingTime: NOW, hash });
      const v = await verifyAuthenticode(out, { trust: [pki.root.certPem], hash });
      expect(v.verdict, `${c.certs.length} cert(s), ${c.alg ?? "sha256"}: ${v.detail}`).toBe("valid");
      expect(v.signatures[0]?.digestMatch).toBe(true);
    }
    const sha1 = await signAuthenticode(image(), { key: pki.leaf.keyPem, certs: [pki.leaf.certPem], alg: "sha1", hash });
    expect((await verifyAuthenticode(sha1, { trust: [pki.root.certPem], allowSha1: true, hash })).verdict).toBe("valid");
  });

  it("untrusted without the right anchor, digest-mismatch after a change", async () => {
    const out = await signAuthenticode(image(), { key: pki.leaf.keyPem, certs: [pki.leaf.certPem], hash });
    expect((await verifyAuthenticode(out, { trust: [pki.inter.certPem], hash })).verdict).toBe("untrusted");
    const changed = out.slice();
    changed[0x400] = (changed[0x400] as number) ^ 1;
    expect((await verifyAuthenticode(changed, { trust: [pki.root.certPem], hash })).verdict).toBe("digest-mismatch");
  });

  it("append (two entries) and nest", async () => {
    const first = await signAuthenticode(image(), { key: pki.leaf.keyPem, certs: [pki.leaf.certPem], signingTime: NOW, hash });
    const appended = await signAuthenticode(first, { key: pki.ec256.keyPem, certs: [pki.ec256.certPem], mode: "append", hash });
    const all = await verifyAuthenticode(appended, { trust: [pki.root.certPem], mode: "all", hash });
    expect(all.verdict, all.detail).toBe("valid");
    expect(all.signatures.map((s) => s.verdict)).toEqual(["valid", "valid"]);
    const nested = await signAuthenticode(first, { key: pki.ec256.keyPem, certs: [pki.ec256.certPem], alg: "sha384", mode: "nest", hash });
    const any = await verifyAuthenticode(nested, { trust: [pki.root.certPem], mode: "any", hash });
    expect(any.verdict, any.detail).toBe("valid");
    expect(any.signatures[0]?.nested.map((s) => s.verdict)).toEqual(["valid"]);
    expect((await verifyAuthenticode(nested, { trust: [pki.root.certPem], hash })).verdict).toBe("valid");
  });
});

describe("peer-signed Authenticode → verifyAuthenticode", () => {
  it("sbsign and osslsigncode", async () => {
    const src = join(pki.dir, "rt-in.efi");
    writeFileSync(src, image());
    const sb = join(pki.dir, "rt-sb.efi");
    sh("sbsign", ["--key", pki.leaf.keyPath, "--cert", pki.leaf.certPath, "--output", sb, src]);
    const os = join(pki.dir, "rt-os.efi");
    sh("osslsigncode", ["sign", "-h", "sha384", "-certs", pki.leaf.certPath, "-key", pki.leaf.keyPath, "-in", src, "-out", os]);
    for (const p of [sb, os]) {
      const v = await verifyAuthenticode(readFileBytes(p), { trust: [pki.root.certPem], hash });
      expect(v.verdict, `${p}: ${v.detail}`).toBe("valid");
    }
  });
});

describe("signAppended → verifyAppendedSignature", () => {
  it("RSA and ECDSA: valid with the signer certificate as the anchor; tampering is caught", async () => {
    const content = filler(5000, 8);
    for (const id of [pki.leaf, pki.ec256]) {
      const signed = await signAppended(content, { key: id.keyPem, cert: id.certPem });
      const v = await verifyAppendedSignature(signed, { trust: [id.certPem], hash });
      expect(v.verdict, v.detail).toBe("valid");
      const bad = signed.slice();
      bad[10] = (bad[10] as number) ^ 1;
      expect((await verifyAppendedSignature(bad, { trust: [id.certPem], hash })).verdict).not.toBe("valid");
      expect((await verifyAppendedSignature(signed, { trust: [pki.other.certPem], hash })).verdict).toBe("untrusted");
    }
  });
});
