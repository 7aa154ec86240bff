// signAppended against OpenSSL: the PKCS#7 verifies with `openssl cms
// -verify` and, for RSA (PKCS#1 v1.5 is deterministic), is byte-identical to
// what `openssl cms -sign -binary -noattr -nocerts` (sign-file's default)
// produces; for ECDSA it has the same structure.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAppendedSignature, signAppended } from "../../src/signature/sign-appended.js";
import { parseDer, walkDer, type Tlv } from "../../src/asn1/der.js";
import { isKimageError } from "../../src/core/errors.js";
import { filler } from "../support/pe-builder.js";
import { makePki, readFileBytes, sh, toolExists, type Identity, type Pki } from "../support/sign-pki.js";

const MARKER = "~Module signature appended~\n";
let pki: Pki;
let n = 0;

beforeAll(() => {
  expect(toolExists("openssl"), "openssl must be installed").toBe(true);
  pki = makePki();
});
afterAll(() => pki?.cleanup());

/** Splits a signed module as the kernel's mod_verify_sig does. */
function split(signed: Uint8Array): { content: Uint8Array; p7: Uint8Array; info: Uint8Array } {
  const tail = new TextDecoder().decode(signed.subarray(signed.length - MARKER.length));
  expect(tail).toBe(MARKER);
  const info = signed.subarray(signed.length - MARKER.length - 12, signed.length - MARKER.length);
  const sigLen = new DataView(info.buffer, info.byteOffset, 12).getUint32(8, false);
  const end = signed.length - MARKER.length - 12;
  return { content: signed.subarray(0, end - sigLen), p7: signed.subarray(end - sigLen, end), info };
}

function write(bytes: Uint8Array, name: string): string {
  const p = join(pki.dir, `${name}-${n++}`);
  writeFileSync(p, bytes);
  return p;
}

function opensslSign(id: Identity, contentPath: string, md: string): Uint8Array {
  const out = join(pki.dir, `cms-${n++}.der`);
  sh("openssl", ["cms", "-sign", "-binary", "-noattr", "-nocerts", "-outform", "DER", "-md", md, "-signer", id.certPath, "-inkey", id.keyPath, "-in", contentPath, "-out", out]);
  return readFileBytes(out);
}

/**
 * `openssl cms -verify` of a detached signature. With -nocerts the signer
 * certificate must be supplied (as the kernel's keyring does); `openssl cms`
 * has no -untrusted, so intermediates go into the CA file next to the root
 * (the chain must still end at the self-signed root: no -partial_chain).
 */
function cmsVerify(p7: Uint8Array, contentPath: string, signer: Identity, ca: Identity, intermediates: Identity[] = []): string {
  const sig = write(p7, "sig.der");
  const cafile = join(pki.dir, `ca-${n++}.pem`);
  writeFileSync(cafile, [ca, ...intermediates].map((i) => i.certPem).join(""));
  return sh("openssl", ["cms", "-verify", "-binary", "-inform", "DER", "-content", contentPath, "-in", sig, "-CAfile", cafile, "-certfile", signer.certPath, "-purpose", "any", "-out", "/dev/null"]).out;
}

/**
 * The tree as one line per TLV: depth, tag and, for primitives, the bytes
 * (the SignerInfo signature value only by name, as ECDSA signatures differ).
 */
function shape(der: Uint8Array): string[] {
  const lines: string[] = [];
  walkDer(parseDer(der), {
    visit: (t: Tlv) => {
      const body = t.constructed ? "" : t.tag === 0x04 && t.depth === 5 ? ":signature" : `:${[...t.raw].map((x) => x.toString(16).padStart(2, "0")).join("")}`;
      lines.push(`${t.depth}:${t.tag.toString(16)}${body}`);
    },
  });
  return lines;
}

describe("signAppended", () => {
  for (const md of ["sha256", "sha384", "sha512"] as const) {
    it(`RSA ${md}: layout, openssl cms -verify, byte-identical to openssl cms -sign -noattr -nocerts`, async () => {
      const content = filler(10_007, 0x51 + md.length);
      const contentPath = write(content, "content.bin");
      const signed = await signAppended(content, { key: pki.leaf.keyPem, cert: pki.leaf.certPem, alg: md });
      const { content: c, p7, info } = split(signed);
      expect(c).toEqual(content);
      expect([...info.subarray(0, 8)]).toEqual([0, 0, 2, 0, 0, 0, 0, 0]);
      expect(parseDer(p7).end).toBe(p7.length); // strict DER, nothing after it
      expect(cmsVerify(p7, contentPath, pki.leaf, pki.root)).toContain("Verification successful");
      expect(p7).toEqual(opensslSign(pki.leaf, contentPath, md));
    });
  }

  it("sha256 is the default, and the standalone PKCS#7 equals the appended one", async () => {
    const content = filler(333, 7);
    const a = await signAppended(content, { key: pki.leaf.keyPem, cert: pki.leaf.certDer });
    const p7 = await createAppendedSignature(content, { key: pki.leaf.keyPem, cert: pki.leaf.certPem });
    expect(split(a).p7).toEqual(p7);
    expect(p7).toEqual(opensslSign(pki.leaf, write(content, "c"), "sha256"));
  });

  it("a signer issued by an intermediate verifies against the root", async () => {
    const content = filler(4096, 3);
    const signed = await signAppended(content, { key: pki.chainLeaf.keyPem, cert: pki.chainLeaf.certPem });
    const contentPath = write(content, "c");
    expect(cmsVerify(split(signed).p7, contentPath, pki.chainLeaf, pki.root, [pki.inter])).toContain("Verification successful");
    expect(() => cmsVerify(split(signed).p7, contentPath, pki.chainLeaf, pki.root)).toThrow(/unable to get local issuer/);
  });

  for (const [which, md] of [["ec256", "sha256"], ["ec384", "sha384"]] as const) {
    it(`ECDSA ${which} ${md}: openssl cms -verify, same structure as openssl's`, async () => {
      const id = pki[which];
      const content = filler(2048, 11);
      const contentPath = write(content, "c");
      const { p7 } = split(await signAppended(content, { key: id.keyPem, cert: id.certPem, alg: md }));
      expect(cmsVerify(p7, contentPath, id, pki.root)).toContain("Verification successful");
      expect(shape(p7)).toEqual(shape(opensslSign(id, contentPath, md)));
      expect(shape(p7)).toContain(`6:6:${[...(md === "sha256" ? [6, 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 4, 3, 2] : [6, 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 4, 3, 3])].map((x) => x.toString(16).padStart(2, "0")).join("")}`);
    });
  }

  it("rejects sha1, several certificates and a mismatched key", async () => {
    const c = new Uint8Array(8);
    const is = (code: string) => (e: unknown) => isKimageError(e) && e.code === code;
    await expect(signAppended(c, { key: pki.leaf.keyPem, cert: pki.leaf.certPem, alg: "sha1" as "sha256" })).rejects.toSatisfy(is("bad-argument"));
    await expect(signAppended(c, { key: pki.leaf.keyPem, cert: pki.leaf.certPem + pki.root.certPem })).rejects.toSatisfy(is("sign-cert-invalid"));
    await expect(signAppended(c, { key: pki.other.keyPem, cert: pki.leaf.certPem })).rejects.toSatisfy(is("sign-key-mismatch"));
  });
});
