/**
 * The signature primitives kimage checks with WebCrypto:
 * RSASSA-PKCS1-v1_5 and ECDSA on the named curves P-256, P-384 and P-521,
 * with SHA-1 (only when the caller allows it), SHA-256, SHA-384 and SHA-512;
 * the DER <-> `r || s` conversion ECDSA needs, and the RSA recovery used to
 * explain a failed signature.
 *
 * Keys come from the certificate model (`cms/certificate.ts`); nothing here
 * parses a certificate.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { TAG, childrenCount, expect, parseDer, readInteger, type Tlv } from "../asn1/der.js";
import { OID } from "../asn1/oids.js";
import type { HashAlgorithm } from "../hash/types.js";
import { CURVE_SIZES, type ParsedCertificate, type PublicKeyInfo } from "../cms/certificate.js";
import { X509_LAYER } from "../cms/errors.js";

/** A signature scheme: the key type and, when the algorithm names one, the hash. */
export interface SignatureScheme {
  /** Key type the algorithm needs. */
  key: "rsa" | "ec";
  /**
   * The hash the algorithm names (`sha256WithRSAEncryption` → sha256), or
   * undefined for `rsaEncryption` / `id-ecPublicKey`, which take the hash
   * from elsewhere (a SignerInfo's digestAlgorithm).
   */
  hash: HashAlgorithm | undefined;
}

const SCHEMES: ReadonlyMap<string, SignatureScheme> = new Map<string, SignatureScheme>([
  [OID.rsaEncryption, { key: "rsa", hash: undefined }],
  [OID.sha1WithRSAEncryption, { key: "rsa", hash: "sha1" }],
  [OID.sha256WithRSAEncryption, { key: "rsa", hash: "sha256" }],
  [OID.sha384WithRSAEncryption, { key: "rsa", hash: "sha384" }],
  [OID.sha512WithRSAEncryption, { key: "rsa", hash: "sha512" }],
  [OID.ecPublicKey, { key: "ec", hash: undefined }],
  [OID.ecdsaWithSHA1, { key: "ec", hash: "sha1" }],
  [OID.ecdsaWithSHA256, { key: "ec", hash: "sha256" }],
  [OID.ecdsaWithSHA384, { key: "ec", hash: "sha384" }],
  [OID.ecdsaWithSHA512, { key: "ec", hash: "sha512" }],
]);

/**
 * The scheme of a signature-algorithm OID (RFC 8017, RFC 5758), or
 * undefined for algorithms kimage does not verify (MD5, SHA-224, RSA-PSS,
 * EdDSA, ...).
 */
export function signatureScheme(oid: string): SignatureScheme | undefined {
  return SCHEMES.get(oid);
}

const WEBCRYPTO_HASH: Readonly<Record<HashAlgorithm, string>> = {
  sha1: "SHA-1",
  sha256: "SHA-256",
  sha384: "SHA-384",
  sha512: "SHA-512",
};

/**
 * The part of WebCrypto's `SubtleCrypto` kimage uses to verify signatures.
 * `globalThis.crypto.subtle` satisfies it in Node 20 and in browsers.
 */
export interface SubtleVerifier {
  /** `SubtleCrypto.importKey` for an SPKI public key. */
  importKey(
    format: "spki",
    keyData: Uint8Array<ArrayBuffer>,
    algorithm: { name: string; hash?: string; namedCurve?: string },
    extractable: boolean,
    keyUsages: "verify"[],
  ): Promise<unknown>;
  /** `SubtleCrypto.verify`. */
  verify(algorithm: { name: string; hash?: string }, key: unknown, signature: Uint8Array<ArrayBuffer>, data: Uint8Array<ArrayBuffer>): Promise<boolean>;
}

/*
 * Ecdsa-Sig-Value  ::=  SEQUENCE  {
 *      r     INTEGER,
 *      s     INTEGER  }             -- RFC 3279 section 2.2.3, RFC 5480
 */
/**
 * Converts a DER `Ecdsa-Sig-Value` to the fixed-size `r || s` form WebCrypto
 * verifies (each of `size` bytes), or returns null when the DER is not
 * exactly one such value with positive r and s that fit in `size` bytes.
 */
export function ecdsaDerToRaw(der: Uint8Array, size: number): Uint8Array | null {
  try {
    const t = parseDer(der, 0, { layer: X509_LAYER });
    expect(t, TAG.SEQUENCE, "Ecdsa-Sig-Value");
    const [r, s] = childrenCount(t, 2, 2, "Ecdsa-Sig-Value") as [Tlv, Tlv];
    const out = new Uint8Array(2 * size);
    for (const [k, tlv] of [r, s].entries()) {
      const v = readInteger(tlv, "Ecdsa-Sig-Value");
      if (v.value <= 0n) return null;
      let b = v.bytes;
      while (b.length > 1 && b[0] === 0) b = b.subarray(1);
      if (b.length > size) return null;
      out.set(b, k * size + size - b.length);
    }
    return out;
  } catch (e) {
    if (e instanceof KimageError) return null;
    throw e;
  }
}

/** Converts a fixed-size `r || s` ECDSA signature to DER `Ecdsa-Sig-Value`. */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  const half = raw.length >> 1;
  const int = (b: Uint8Array): number[] => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    const v = Array.from(b.subarray(i));
    if (((v[0] ?? 0) & 0x80) !== 0) v.unshift(0);
    return [0x02, ...derLen(v.length), ...v];
  };
  const body = [...int(raw.subarray(0, half)), ...int(raw.subarray(half))];
  return Uint8Array.from([0x30, ...derLen(body.length), ...body]);
}

function derLen(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v % 256);
  return [0x80 | out.length, ...out];
}

/** Outcome of {@link verifySignatureValue}. */
export type SignatureCheck =
  | { ok: true }
  | {
      ok: false;
      /** `invalid`: the signature does not verify; `unsupported`: the key or algorithm cannot be used. */
      why: "invalid" | "unsupported";
      detail: string;
    };

/**
 * Verifies `signature` over `data` with the public key of `cert` (only its
 * `spkiRaw` and `publicKey` are used), using `scheme.key` and `hash`, with
 * WebCrypto. RSA: RSASSA-PKCS1-v1_5 (EMSA-PKCS1-v1_5 over the DER
 * DigestInfo, RFC 8017 section 9.2). ECDSA: the DER signature is converted
 * to `r || s` first. Never throws for bad input.
 */
export async function verifySignatureValue(
  subtle: SubtleVerifier,
  cert: Pick<ParsedCertificate, "spkiRaw" | "publicKey">,
  scheme: SignatureScheme,
  hash: HashAlgorithm,
  data: Uint8Array,
  signature: Uint8Array,
): Promise<SignatureCheck> {
  const pk = cert.publicKey;
  if (pk.kind === "ec-explicit") {
    return { ok: false, why: "unsupported", detail: "EC key with explicit curve parameters (CVE-2020-0601) is never used" };
  }
  if (pk.kind === "unsupported") return { ok: false, why: "unsupported", detail: `public key algorithm ${pk.algorithm} is not supported` };
  if (pk.kind !== scheme.key) return { ok: false, why: "invalid", detail: `a ${scheme.key.toUpperCase()} signature cannot be checked with an ${pk.kind.toUpperCase()} key` };
  let key: unknown;
  try {
    key =
      pk.kind === "rsa"
        ? await subtle.importKey("spki", new Uint8Array(cert.spkiRaw), { name: "RSASSA-PKCS1-v1_5", hash: WEBCRYPTO_HASH[hash] }, false, ["verify"])
        : await subtle.importKey("spki", new Uint8Array(cert.spkiRaw), { name: "ECDSA", namedCurve: pk.curve }, false, ["verify"]);
  } catch (e) {
    return { ok: false, why: "unsupported", detail: `WebCrypto refused the public key: ${e instanceof Error ? e.message : String(e)}` };
  }
  // WebCrypto takes ArrayBuffer-backed views: copy (signatures and signed attributes are small).
  let sig: Uint8Array<ArrayBuffer> = new Uint8Array(signature);
  if (pk.kind === "ec") {
    const raw = ecdsaDerToRaw(signature, CURVE_SIZES[pk.curve]);
    if (raw === null) return { ok: false, why: "invalid", detail: "the ECDSA signature is not a DER Ecdsa-Sig-Value that fits the curve" };
    sig = new Uint8Array(raw);
  }
  try {
    const algorithm = pk.kind === "rsa" ? { name: "RSASSA-PKCS1-v1_5" } : { name: "ECDSA", hash: WEBCRYPTO_HASH[hash] };
    const ok = await subtle.verify(algorithm, key, sig, new Uint8Array(data));
    return ok ? { ok: true } : { ok: false, why: "invalid", detail: "the signature does not verify with this key" };
  } catch (e) {
    return { ok: false, why: "unsupported", detail: `WebCrypto failed to verify: ${e instanceof Error ? e.message : String(e)}` };
  }
}

function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let r = 1n;
  let b = base % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % mod;
    b = (b * b) % mod;
    e >>= 1n;
  }
  return r;
}

/**
 * For diagnostics only (never to accept a signature): applies the RSA public
 * operation to `signature` and returns the DigestInfo inside a well-formed
 * EMSA-PKCS1-v1_5 block (`00 01 FF..FF 00 DigestInfo`, RFC 8017 section
 * 9.2), or null when the block is not one. Lets a verifier tell "signed a
 * different digest" (the content changed) from "not a signature by this key".
 * The exponent must be small (at most 2^32, as real keys' 65537).
 */
export function rsaRecoverDigestInfo(key: PublicKeyInfo, signature: Uint8Array): Uint8Array | null {
  if (key.kind !== "rsa" || key.exponent > 0xffffffffn) return null;
  const k = Math.ceil(key.bits / 8);
  if (signature.length !== k) return null;
  let s = 0n;
  for (const b of signature) s = (s << 8n) | BigInt(b);
  if (s >= key.modulus) return null;
  let m = modPow(s, key.exponent, key.modulus);
  const em = new Uint8Array(k);
  for (let i = k - 1; i >= 0; i--) {
    em[i] = Number(m & 0xffn);
    m >>= 8n;
  }
  if (em[0] !== 0 || em[1] !== 1) return null;
  let i = 2;
  while (i < k && em[i] === 0xff) i++;
  if (i < 10 || i >= k || em[i] !== 0) return null;
  return em.subarray(i + 1);
}

