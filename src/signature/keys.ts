/**
 * Private keys and certificates for signing, through WebCrypto.
 *
 * - Private keys are accepted as a `CryptoKey`, as DER (PKCS#8, or a bare
 *   PKCS#1 RSAPrivateKey / SEC1 ECPrivateKey, told apart by their shape), or
 *   as PEM text with one of the labels `PRIVATE KEY` (PKCS#8, RFC 5958),
 *   `RSA PRIVATE KEY` (PKCS#1, RFC 8017 A.1.2) or `EC PRIVATE KEY` (SEC1,
 *   RFC 5915). PKCS#1 and SEC1 keys are wrapped into PKCS#8 here, because
 *   WebCrypto imports only PKCS#8. Encrypted keys are refused.
 * - Supported algorithms: RSA with PKCS#1 v1.5 signatures
 *   (`RSASSA-PKCS1-v1_5`) and ECDSA on the named curves P-256, P-384 and
 *   P-521 (explicit curve parameters are refused).
 * - Certificates are accepted as DER or PEM (`CERTIFICATE`; one PEM string
 *   may hold several).
 *
 * Nothing here reads a global at import time; the `SubtleCrypto` to use is
 * an argument. Only {@link KimageError} is thrown, with layer `"sign"`.
 *
 * @module
 */

import { KimageError, type ErrorCode } from "../core/errors.js";
import { TAG, children, ctxTag, parseDer, readInteger, readOid, type Tlv } from "../asn1/der.js";
import { OID } from "../asn1/oids.js";
import { derInteger, derNull, derOctetString, derOid, derRaw, derSequence } from "../asn1/der-writer.js";
import type { HashAlgorithm } from "../hash/types.js";
import type { SubtleSigner, WebCryptoKey } from "../hash/webcrypto-types.js";

/** Layer id of errors raised while signing. */
export const SIGN_LAYER = "sign";

function fail(code: ErrorCode, message: string, cause?: unknown): never {
  throw new KimageError(code, message, { layer: SIGN_LAYER, offset: -1, cause });
}

/** A private key as the signing functions accept it. */
export type SigningKeyInput = WebCryptoKey | Uint8Array | string;

/** A certificate as the signing functions accept it: DER bytes or PEM text. */
export type CertificateInput = Uint8Array | string;

/** The ECDSA curves kimage signs with (WebCrypto names). */
export type EcCurve = "P-256" | "P-384" | "P-521";

/** A private key's algorithm, as read from PKCS#8 or a `CryptoKey`. */
export type KeyAlgorithm = { kind: "rsa" } | { kind: "ec"; curve: EcCurve };

/** An imported private key, ready for {@link signData}. */
export interface SigningKey {
  /** The WebCrypto key (usage `sign`). */
  key: WebCryptoKey;
  /** Its algorithm. */
  algorithm: KeyAlgorithm;
}

/** WebCrypto names of the digest algorithms. */
export const WEBCRYPTO_HASH: Readonly<Record<HashAlgorithm, string>> = {
  sha1: "SHA-1",
  sha256: "SHA-256",
  sha384: "SHA-384",
  sha512: "SHA-512",
};

const CURVE_BY_OID: Readonly<Record<string, EcCurve>> = {
  [OID.secp256r1]: "P-256",
  [OID.secp384r1]: "P-384",
  [OID.secp521r1]: "P-521",
};

const ECDSA_OID: Readonly<Record<HashAlgorithm, string>> = {
  sha1: OID.ecdsaWithSHA1,
  sha256: OID.ecdsaWithSHA256,
  sha384: OID.ecdsaWithSHA384,
  sha512: OID.ecdsaWithSHA512,
};

/** Byte length of each of r and s in a raw (IEEE P1363) ECDSA signature. */
const EC_SCALAR_BYTES: Readonly<Record<EcCurve, number>> = { "P-256": 32, "P-384": 48, "P-521": 66 };

/** WebCrypto wants `BufferSource`; kimage's bytes are plain `Uint8Array` views of an `ArrayBuffer`. */
function source(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes as Uint8Array<ArrayBuffer>;
}

// ---------------------------------------------------------------------------
// PEM

/** One PEM block (RFC 7468). */
export interface KeyPemBlock {
  /** The label between `BEGIN ` and the dashes, e.g. `CERTIFICATE`. */
  label: string;
  /** RFC 1421 header lines (`Proc-Type`, `DEK-Info`), if any. */
  headers: Record<string, string>;
  /** The decoded bytes. */
  der: Uint8Array;
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;

/**
 * Every PEM block in `text`, in order (text outside the blocks, such as
 * OpenSSL's "Bag Attributes", is ignored).
 *
 * @throws KimageError `sign-key-invalid` when a block's END label differs
 *   from its BEGIN label or its base64 is invalid.
 */
export function readPemBlocks(text: string): KeyPemBlock[] {
  const out: KeyPemBlock[] = [];
  for (const m of text.matchAll(PEM_RE)) {
    const [, label, body, endLabel] = m as unknown as [string, string, string, string];
    if (label !== endLabel) fail("sign-key-invalid", `PEM block BEGIN ${label} ends with END ${endLabel}`);
    const headers: Record<string, string> = {};
    const lines = body.split(/\r?\n/);
    const b64: string[] = [];
    for (const raw of lines) {
      const line = raw.trim();
      if (line === "") continue;
      const h = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (h && b64.length === 0) headers[h[1] as string] = h[2] as string;
      else b64.push(line);
    }
    out.push({ label, headers, der: decodeBase64(b64.join(""), label) });
  }
  return out;
}

function decodeBase64(s: string, what: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  if (clean.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) {
    fail("sign-key-invalid", `PEM ${what}: invalid base64`);
  }
  const bin = atob(clean);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** True when `bytes` start with `-----BEGIN` (PEM text given as bytes). */
function looksLikePem(bytes: Uint8Array): boolean {
  const p = "-----BEGIN";
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  for (let k = 0; k < p.length; k++) if (bytes[i + k] !== p.charCodeAt(k)) return false;
  return true;
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return s;
}

// ---------------------------------------------------------------------------
// Private keys

function parseKeyDer(der: Uint8Array, what: string): Tlv {
  try {
    const t = parseDer(der, 0, { layer: SIGN_LAYER });
    if (t.tag !== TAG.SEQUENCE) fail("sign-key-invalid", `${what} is not a SEQUENCE`);
    return t;
  } catch (e) {
    if (e instanceof KimageError && e.code !== "sign-key-invalid") fail("sign-key-invalid", `${what}: ${e.message}`, e);
    throw e;
  }
}

/*
 * RSAPrivateKey ::= SEQUENCE {
 *     version           Version,
 *     modulus           INTEGER,  -- n
 *     publicExponent    INTEGER,  -- e
 *     privateExponent   INTEGER,  -- d
 *     prime1            INTEGER,  -- p
 *     prime2            INTEGER,  -- q
 *     exponent1         INTEGER,  -- d mod (p-1)
 *     exponent2         INTEGER,  -- d mod (q-1)
 *     coefficient       INTEGER,  -- (inverse of q) mod p
 *     otherPrimeInfos   OtherPrimeInfos OPTIONAL }
 *                                 -- RFC 8017 appendix A.1.2
 *
 * PrivateKeyInfo ::= SEQUENCE {
 *   version                   Version,
 *   privateKeyAlgorithm       PrivateKeyAlgorithmIdentifier,
 *   privateKey                PrivateKey,
 *   attributes           [0]  IMPLICIT Attributes OPTIONAL }
 * PrivateKey ::= OCTET STRING
 *                                 -- RFC 5208 section 5
 *
 * rsaEncryption's AlgorithmIdentifier parameters "SHALL have ASN.1 type
 * NULL" (RFC 8017 A.1).
 */
/**
 * Wraps a PKCS#1 `RSAPrivateKey` (two-prime, version 0) into a PKCS#8
 * `PrivateKeyInfo`, byte for byte as `openssl pkcs8 -topk8 -nocrypt` does.
 *
 * @throws KimageError `sign-key-invalid` when `der` is not a two-prime RSAPrivateKey.
 */
export function pkcs1ToPkcs8(der: Uint8Array): Uint8Array {
  const t = parseKeyDer(der, "RSAPrivateKey");
  const k = children(t);
  if (k.length !== 9 || k.some((x) => x.tag !== TAG.INTEGER) || readInteger(k[0] as Tlv).value !== 0n) {
    fail("sign-key-invalid", "RSAPrivateKey is not a two-prime version-0 key of 9 INTEGERs");
  }
  return derSequence(derInteger(0), derSequence(derOid(OID.rsaEncryption), derNull()), derOctetString(der));
}

/*
 * ECPrivateKey ::= SEQUENCE {
 *   version        INTEGER { ecPrivkeyVer1(1) } (ecPrivkeyVer1),
 *   privateKey     OCTET STRING,
 *   parameters [0] ECParameters {{ NamedCurve }} OPTIONAL,
 *   publicKey  [1] BIT STRING OPTIONAL
 * }
 *                                 -- RFC 5915 section 3
 *
 * In PKCS#8 the curve moves to the AlgorithmIdentifier
 * { id-ecPublicKey, namedCurve } (RFC 5480 2.1.1) and, as OpenSSL writes it,
 * the inner ECPrivateKey drops its parameters.
 */
/**
 * Wraps a SEC1 `ECPrivateKey` into a PKCS#8 `PrivateKeyInfo` (the curve taken
 * from its `[0]` parameters, or from `curveOid` when it has none), byte for
 * byte as `openssl pkcs8 -topk8 -nocrypt` does.
 *
 * @throws KimageError `sign-key-invalid` for a malformed key or a missing
 *   curve; `sign-key-unsupported` for explicit curve parameters.
 */
export function sec1ToPkcs8(der: Uint8Array, curveOid?: string): Uint8Array {
  const t = parseKeyDer(der, "ECPrivateKey");
  const k = children(t);
  const [version, priv] = k;
  if (!version || !priv || version.tag !== TAG.INTEGER || readInteger(version).value !== 1n || priv.tag !== TAG.OCTET_STRING) {
    fail("sign-key-invalid", "ECPrivateKey must start with version 1 and an OCTET STRING");
  }
  let curve = curveOid;
  let publicKey: Tlv | undefined;
  for (const x of k.slice(2)) {
    if (x.tag === ctxTag(0, true)) {
      const [p] = children(x);
      if (p?.tag !== TAG.OID) fail("sign-key-unsupported", "ECPrivateKey uses explicit curve parameters; only named curves are supported");
      curve = readOid(p);
    } else if (x.tag === ctxTag(1, true)) {
      publicKey = x;
    } else {
      fail("sign-key-invalid", `ECPrivateKey: unexpected element tag 0x${x.tag.toString(16)}`);
    }
  }
  if (curve === undefined) fail("sign-key-invalid", "ECPrivateKey names no curve");
  if (CURVE_BY_OID[curve] === undefined) fail("sign-key-unsupported", `EC curve ${curve} is not P-256, P-384 or P-521`);
  const inner = derSequence(version.raw, priv.raw, ...(publicKey ? [publicKey.raw] : []));
  return derSequence(derInteger(0), derSequence(derOid(OID.ecPublicKey), derOid(curve)), derOctetString(inner));
}

/**
 * The algorithm of a PKCS#8 `PrivateKeyInfo` / `OneAsymmetricKey`.
 *
 * @throws KimageError `sign-key-invalid` when `pkcs8` is not PKCS#8;
 *   `sign-key-unsupported` for any algorithm but RSA and ECDSA on a supported
 *   named curve.
 */
export function pkcs8Algorithm(pkcs8: Uint8Array): KeyAlgorithm {
  const t = parseKeyDer(pkcs8, "PrivateKeyInfo");
  const [version, algId, key] = children(t);
  if (version?.tag !== TAG.INTEGER || algId?.tag !== TAG.SEQUENCE || key?.tag !== TAG.OCTET_STRING) {
    fail("sign-key-invalid", "not a PKCS#8 PrivateKeyInfo (version, AlgorithmIdentifier, OCTET STRING)");
  }
  const [oidTlv, params] = children(algId);
  if (oidTlv?.tag !== TAG.OID) fail("sign-key-invalid", "PKCS#8 AlgorithmIdentifier has no OID");
  const oid = readOid(oidTlv);
  if (oid === OID.rsaEncryption) return { kind: "rsa" };
  if (oid === OID.ecPublicKey) {
    if (params?.tag !== TAG.OID) fail("sign-key-unsupported", "EC key with explicit curve parameters; only named curves are supported");
    const curveOid = readOid(params);
    const curve = CURVE_BY_OID[curveOid];
    if (curve === undefined) fail("sign-key-unsupported", `EC curve ${curveOid} is not P-256, P-384 or P-521`);
    return { kind: "ec", curve };
  }
  return fail("sign-key-unsupported", `private key algorithm ${oid} is not rsaEncryption or id-ecPublicKey`);
}

/**
 * Converts a private key given as DER (PKCS#8, PKCS#1 or SEC1, told apart by
 * shape) or PEM (`PRIVATE KEY`, `RSA PRIVATE KEY`, `EC PRIVATE KEY`; other
 * blocks such as `EC PARAMETERS` are skipped) to PKCS#8 DER.
 *
 * @throws KimageError `sign-key-invalid` when no usable key is found;
 *   `sign-key-unsupported` for encrypted keys or explicit EC parameters.
 */
export function privateKeyToPkcs8(input: Uint8Array | string): Uint8Array {
  if (typeof input === "string" || looksLikePem(input)) {
    const text = typeof input === "string" ? input : latin1(input);
    const blocks = readPemBlocks(text);
    for (const b of blocks) {
      if (b.label === "ENCRYPTED PRIVATE KEY" || b.headers["Proc-Type"]?.includes("ENCRYPTED")) {
        fail("sign-key-unsupported", "encrypted private keys are not supported; decrypt the key first");
      }
      if (b.label === "PRIVATE KEY") {
        pkcs8Algorithm(b.der);
        return b.der;
      }
      if (b.label === "RSA PRIVATE KEY") return pkcs1ToPkcs8(b.der);
      if (b.label === "EC PRIVATE KEY") return sec1ToPkcs8(b.der);
    }
    return fail("sign-key-invalid", `no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block among ${blocks.length} PEM block(s)`);
  }
  const t = parseKeyDer(input, "private key");
  const [a, b] = children(t);
  if (a?.tag === TAG.INTEGER && b?.tag === TAG.SEQUENCE) {
    pkcs8Algorithm(input);
    return input;
  }
  if (a?.tag === TAG.INTEGER && b?.tag === TAG.INTEGER) return pkcs1ToPkcs8(input);
  if (a?.tag === TAG.INTEGER && b?.tag === TAG.OCTET_STRING) return sec1ToPkcs8(input);
  return fail("sign-key-invalid", "DER private key is neither PKCS#8, PKCS#1 nor SEC1");
}

function isCryptoKey(k: unknown): k is WebCryptoKey {
  return typeof k === "object" && k !== null && !(k instanceof Uint8Array) && "algorithm" in k && "type" in k;
}

/**
 * Imports a private key for signing with digest `alg`. A `CryptoKey` is used
 * as it is, after checking it can sign with `alg` (an RSA key's hash is fixed
 * at import time in WebCrypto).
 *
 * @throws KimageError `sign-key-invalid`, `sign-key-unsupported` (see
 *   {@link privateKeyToPkcs8}), or `sign-key-invalid` when WebCrypto refuses
 *   the key.
 */
export async function importSigningKey(input: SigningKeyInput, alg: HashAlgorithm, subtle: SubtleSigner): Promise<SigningKey> {
  const hash = WEBCRYPTO_HASH[alg];
  if (isCryptoKey(input)) {
    if (input.type !== "private" || !input.usages.includes("sign")) {
      fail("sign-key-invalid", `the CryptoKey is a ${input.type} key with usages [${input.usages.join(", ")}], not a private signing key`);
    }
    const a = input.algorithm as KeyAlgorithm & { name: string; hash?: { name: string }; namedCurve?: string };
    if (a.name === "RSASSA-PKCS1-v1_5") {
      if (a.hash?.name !== hash) {
        fail("sign-key-unsupported", `the RSA CryptoKey was imported for ${a.hash?.name ?? "no hash"}, but signing uses ${hash}; import it with hash ${hash}`);
      }
      return { key: input, algorithm: { kind: "rsa" } };
    }
    if (a.name === "ECDSA" && (a.namedCurve === "P-256" || a.namedCurve === "P-384" || a.namedCurve === "P-521")) {
      return { key: input, algorithm: { kind: "ec", curve: a.namedCurve } };
    }
    return fail("sign-key-unsupported", `CryptoKey algorithm ${a.name}${a.namedCurve ? ` ${a.namedCurve}` : ""} is not RSASSA-PKCS1-v1_5 or ECDSA P-256/384/521`);
  }
  const pkcs8 = privateKeyToPkcs8(input);
  const algorithm = pkcs8Algorithm(pkcs8);
  const params =
    algorithm.kind === "rsa"
      ? { name: "RSASSA-PKCS1-v1_5", hash }
      : { name: "ECDSA", namedCurve: algorithm.curve };
  try {
    const key = await subtle.importKey("pkcs8", source(pkcs8), params, false, ["sign"]);
    return { key, algorithm };
  } catch (e) {
    return fail("sign-key-invalid", `WebCrypto refused the private key: ${(e as Error).message}`, e);
  }
}

// ---------------------------------------------------------------------------
// Certificates

/**
 * Reads certificates given as DER or PEM (a PEM string may hold several
 * `CERTIFICATE` blocks; a DER `Uint8Array` holding PEM text is read as PEM),
 * in order. Each DER certificate is checked to be one SEQUENCE TLV.
 *
 * @throws KimageError `sign-cert-invalid` for anything else.
 */
export function readCertificates(certs: readonly CertificateInput[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const c of certs) {
    if (typeof c === "string" || looksLikePem(c)) {
      let blocks: KeyPemBlock[];
      try {
        blocks = readPemBlocks(typeof c === "string" ? c : latin1(c)).filter((b) => b.label === "CERTIFICATE");
      } catch (e) {
        return fail("sign-cert-invalid", `certificate PEM: ${(e as Error).message}`, e);
      }
      if (blocks.length === 0) fail("sign-cert-invalid", "no CERTIFICATE block in the PEM text");
      for (const b of blocks) out.push(checkCertificateDer(b.der));
    } else {
      out.push(checkCertificateDer(c));
    }
  }
  return out;
}

function checkCertificateDer(der: Uint8Array): Uint8Array {
  try {
    derRaw(der);
  } catch (e) {
    return fail("sign-cert-invalid", `certificate: ${(e as Error).message}`, e);
  }
  if (der[0] !== TAG.SEQUENCE) fail("sign-cert-invalid", "certificate is not a SEQUENCE");
  return der;
}

/** What signing needs from the signer's certificate. */
export interface SignerCertificate {
  /** The certificate DER. */
  der: Uint8Array;
  /** DER of the issuer Name (copied into IssuerAndSerialNumber). */
  issuer: Uint8Array;
  /** DER of the serialNumber INTEGER (copied into IssuerAndSerialNumber). */
  serialNumber: Uint8Array;
  /** DER of the SubjectPublicKeyInfo. */
  subjectPublicKeyInfo: Uint8Array;
  /** The public key's algorithm. */
  algorithm: KeyAlgorithm;
}

/*
 * Certificate  ::=  SEQUENCE  {
 *      tbsCertificate       TBSCertificate,
 *      signatureAlgorithm   AlgorithmIdentifier,
 *      signatureValue       BIT STRING  }
 * TBSCertificate  ::=  SEQUENCE  {
 *      version         [0]  EXPLICIT Version DEFAULT v1,
 *      serialNumber         CertificateSerialNumber,
 *      signature            AlgorithmIdentifier,
 *      issuer               Name,
 *      validity             Validity,
 *      subject              Name,
 *      subjectPublicKeyInfo SubjectPublicKeyInfo, ... }
 *                                 -- RFC 5280 section 4.1
 */
/**
 * Reads the issuer, serial number and public key of a signer certificate.
 *
 * @throws KimageError `sign-cert-invalid` when the certificate cannot be
 *   read; `sign-key-unsupported` when its key is not RSA or ECDSA on a
 *   supported named curve.
 */
export function readSignerCertificate(der: Uint8Array): SignerCertificate {
  let tbsFields: Tlv[];
  try {
    const cert = parseDer(der, 0, { layer: SIGN_LAYER, validate: false });
    const [tbs] = children(cert);
    if (cert.tag !== TAG.SEQUENCE || tbs?.tag !== TAG.SEQUENCE) fail("sign-cert-invalid", "certificate has no TBSCertificate");
    tbsFields = children(tbs);
  } catch (e) {
    if (e instanceof KimageError && e.code !== "sign-cert-invalid") fail("sign-cert-invalid", `signer certificate: ${e.message}`, e);
    throw e;
  }
  const f = tbsFields[0]?.tag === ctxTag(0, true) ? tbsFields.slice(1) : tbsFields;
  const [serial, , issuer, , , spki] = f;
  if (serial?.tag !== TAG.INTEGER || issuer?.tag !== TAG.SEQUENCE || spki?.tag !== TAG.SEQUENCE) {
    fail("sign-cert-invalid", "signer certificate: TBSCertificate lacks serialNumber, issuer or subjectPublicKeyInfo");
  }
  const [spkiAlg] = children(spki);
  const [algOid, params] = spkiAlg?.tag === TAG.SEQUENCE ? children(spkiAlg) : [];
  if (algOid?.tag !== TAG.OID) fail("sign-cert-invalid", "signer certificate: SubjectPublicKeyInfo has no algorithm");
  const oid = readOid(algOid);
  let algorithm: KeyAlgorithm;
  if (oid === OID.rsaEncryption) algorithm = { kind: "rsa" };
  else if (oid === OID.ecPublicKey && params?.tag === TAG.OID && CURVE_BY_OID[readOid(params)] !== undefined) {
    algorithm = { kind: "ec", curve: CURVE_BY_OID[readOid(params)] as EcCurve };
  } else {
    return fail("sign-key-unsupported", `signer certificate key algorithm ${oid} is not RSA or ECDSA on P-256/384/521`);
  }
  return { der, issuer: issuer.raw, serialNumber: serial.raw, subjectPublicKeyInfo: spki.raw, algorithm };
}

// ---------------------------------------------------------------------------
// Signing

/** A signature in CMS form. */
export interface CmsSignature {
  /** DER of the SignerInfo `signatureAlgorithm` AlgorithmIdentifier. */
  algorithm: Uint8Array;
  /** The SignerInfo `signature` octets (PKCS#1 v1.5 block, or DER ECDSA-Sig-Value). */
  value: Uint8Array;
}

/*
 * ECDSA-Sig-Value ::= SEQUENCE {
 *   r  INTEGER,
 *   s  INTEGER }
 *                                 -- RFC 5480 / RFC 3279 section 2.2.3
 */
/**
 * Converts a raw WebCrypto ECDSA signature (r ‖ s, each of the curve's
 * scalar length, IEEE P1363) to the DER `ECDSA-Sig-Value` CMS carries.
 *
 * @throws KimageError `bad-argument` for an odd-length input.
 */
export function ecdsaP1363ToDer(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0) {
    throw new KimageError("bad-argument", `raw ECDSA signature length ${raw.length} is not even`, { layer: SIGN_LAYER, offset: -1 });
  }
  const h = raw.length / 2;
  return derSequence(derInteger(raw.subarray(0, h)), derInteger(raw.subarray(h)));
}

/*
 * In CMS, an RSA PKCS#1 v1.5 signer's signatureAlgorithm is rsaEncryption
 * with NULL parameters (RFC 3370 3.2, as OpenSSL, osslsigncode and signtool
 * write it); an ECDSA signer's is ecdsa-with-SHA* with the parameters absent
 * (RFC 5754 3.3, RFC 5758 3.2).
 */
function signatureAlgorithmId(algorithm: KeyAlgorithm, alg: HashAlgorithm): Uint8Array {
  return algorithm.kind === "rsa"
    ? derSequence(derOid(OID.rsaEncryption), derNull())
    : derSequence(derOid(ECDSA_OID[alg]));
}

/**
 * Signs `data` (WebCrypto hashes it with `alg`) and, when `signer` is given,
 * checks the signature against the certificate's public key, so that a key
 * that does not belong to the certificate is caught before anything is
 * written.
 *
 * @throws KimageError `sign-key-mismatch` when the key does not match the
 *   certificate; `sign-key-invalid` when WebCrypto refuses to sign.
 */
export async function signData(
  key: SigningKey,
  alg: HashAlgorithm,
  data: Uint8Array,
  subtle: SubtleSigner,
  signer?: SignerCertificate,
): Promise<CmsSignature> {
  const hash = WEBCRYPTO_HASH[alg];
  const a = key.algorithm;
  const params = a.kind === "rsa" ? { name: "RSASSA-PKCS1-v1_5" } : { name: "ECDSA", hash };
  let raw: Uint8Array;
  try {
    raw = new Uint8Array(await subtle.sign(params, key.key, source(data)));
  } catch (e) {
    return fail("sign-key-invalid", `WebCrypto could not sign: ${(e as Error).message}`, e);
  }
  if (signer !== undefined) {
    const b = signer.algorithm;
    if (a.kind !== b.kind || (a.kind === "ec" && b.kind === "ec" && a.curve !== b.curve)) {
      fail("sign-key-mismatch", `the private key is ${describe(a)} but the signer certificate's key is ${describe(b)}`);
    }
    let ok = false;
    try {
      const pub = await subtle.importKey(
        "spki",
        source(signer.subjectPublicKeyInfo),
        a.kind === "rsa" ? { name: "RSASSA-PKCS1-v1_5", hash } : { name: "ECDSA", namedCurve: a.curve },
        false,
        ["verify"],
      );
      ok = await subtle.verify(params, pub, source(raw), source(data));
    } catch (e) {
      fail("sign-cert-invalid", `WebCrypto refused the signer certificate's public key: ${(e as Error).message}`, e);
    }
    if (!ok) fail("sign-key-mismatch", "the private key does not belong to the signer certificate (its signature does not verify with the certificate's public key)");
  }
  if (a.kind === "ec" && raw.length !== 2 * EC_SCALAR_BYTES[a.curve]) {
    fail("sign-key-invalid", `WebCrypto returned a ${raw.length}-byte ${a.curve} signature`);
  }
  return { algorithm: signatureAlgorithmId(a, alg), value: a.kind === "rsa" ? raw : ecdsaP1363ToDer(raw) };
}

function describe(a: KeyAlgorithm): string {
  return a.kind === "rsa" ? "RSA" : `ECDSA ${a.curve}`;
}

/**
 * The `SubtleCrypto` to sign with: `given`, else `globalThis.crypto.subtle`
 * (read at call time).
 *
 * @throws KimageError `sign-no-crypto` when neither exists.
 */
export function resolveSubtle(given?: SubtleSigner): SubtleSigner {
  const subtle = given ?? (globalThis as { crypto?: { subtle?: SubtleSigner } }).crypto?.subtle;
  if (subtle === undefined) {
    fail("sign-no-crypto", "no WebCrypto SubtleCrypto: pass options.crypto (e.g. globalThis.crypto.subtle; it is absent on plain-http origins)");
  }
  return subtle;
}
