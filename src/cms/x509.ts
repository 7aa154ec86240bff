/**
 * X.509 certificates for signature verification (RFC 5280), and the
 * signature primitives kimage checks with WebCrypto: RSASSA-PKCS1-v1_5 and
 * ECDSA on the named curves P-256, P-384 and P-521, with SHA-1 (only when the
 * caller allows it), SHA-256, SHA-384 and SHA-512.
 *
 * The parser keeps the original bytes of everything a verifier hashes or
 * compares (`tbsRaw`, `issuerRaw`, `subjectRaw`, `spkiRaw`) and reads the
 * extensions chain building needs (basicConstraints, keyUsage,
 * extKeyUsage, subject and authority key identifiers). It never re-encodes.
 *
 * Elliptic-curve keys with explicit curve parameters (`specifiedCurve`,
 * CVE-2020-0601) or `implicitCurve` are reported as `ec-explicit` and are
 * never used to verify anything.
 *
 * Only {@link KimageError} is thrown for bad input (layer `"x509"`).
 *
 * @module
 */

import { toHex } from "../core/bytes.js";
import { KimageError, type ErrorCode } from "../core/errors.js";
import {
  TAG,
  bytesEqual,
  children,
  childrenCount,
  ctxTag,
  expect,
  parseDer,
  readBitString,
  readBoolean,
  readInteger,
  readOctetString,
  readOid,
  readSmallInt,
  readTime,
  readTlv,
  tagName,
  type Tlv,
} from "../asn1/der.js";
import { OID, oidName } from "../asn1/oids.js";
import type { HashAlgorithm } from "../hash/types.js";
import { evenHex, parseAlgorithmIdentifier, parseName } from "./x509-name.js";

/** Layer id used in errors raised while parsing certificates. */
export const X509_LAYER = "x509";

/** The three named curves WebCrypto verifies with. */
export type NamedCurve = "P-256" | "P-384" | "P-521";

/** Byte length of one coordinate (and of r and s) on each curve. */
export const CURVE_SIZES: Readonly<Record<NamedCurve, number>> = { "P-256": 32, "P-384": 48, "P-521": 66 };

const CURVES: ReadonlyMap<string, NamedCurve> = new Map<string, NamedCurve>([
  [OID.secp256r1, "P-256"],
  [OID.secp384r1, "P-384"],
  [OID.secp521r1, "P-521"],
]);

/** The public key of a certificate, as far as kimage can use it. */
export type PublicKeyInfo =
  | {
      /** An RSA key (rsaEncryption). */
      kind: "rsa";
      /** Modulus length in bits. */
      bits: number;
      /** The modulus n. */
      modulus: bigint;
      /** The public exponent e. */
      exponent: bigint;
    }
  | {
      /** An EC key on a named curve kimage supports. */
      kind: "ec";
      curve: NamedCurve;
    }
  | {
      /**
       * An EC key whose parameters are not a named curve: `specifiedCurve`
       * (explicit parameters, the CVE-2020-0601 spoofing vector) or
       * `implicitCurve`. RFC 5480 2.1.1: these "MUST NOT be used in PKIX".
       */
      kind: "ec-explicit";
    }
  | {
      /** Any other key: an unknown curve, Ed25519, DSA, ... */
      kind: "unsupported";
      /** Algorithm OID (and curve OID for EC keys), for messages. */
      algorithm: string;
    };

/** basicConstraints (RFC 5280 4.2.1.9). */
export interface BasicConstraints {
  cA: boolean;
  /** pathLenConstraint, when present. */
  pathLen: number | undefined;
}

/** authorityKeyIdentifier (RFC 5280 4.2.1.1). */
export interface AuthorityKeyIdentifier {
  /** keyIdentifier as lowercase hex. */
  keyIdentifier: string | undefined;
  /** DER of the first directoryName of authorityCertIssuer (the issuer's issuer Name). */
  issuerRaw: Uint8Array | undefined;
  /** authorityCertSerialNumber content octets. */
  serialBytes: Uint8Array | undefined;
}

/** The keyUsage bits by name (RFC 5280 4.2.1.3). */
export const KEY_USAGE_BITS = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly",
] as const;

/** One keyUsage bit name. */
export type KeyUsage = (typeof KEY_USAGE_BITS)[number];

/** A certificate parsed for verification. All byte fields are views of the input. */
export interface ParsedCertificate {
  /** The whole Certificate DER. */
  raw: Uint8Array;
  /** Absolute offset of the Certificate. */
  offset: number;
  /** The DER of tbsCertificate: what the issuer signed. */
  tbsRaw: Uint8Array;
  /** X.509 version as encoded (0 = v1, 2 = v3). */
  version: number;
  /** Serial number as lowercase even-length hex of its value (`-` prefix if negative). */
  serialNumber: string;
  /** The serial number's INTEGER content octets, as encoded. */
  serialBytes: Uint8Array;
  /** Issuer as an RFC 4514 string. */
  issuer: string;
  /** Subject as an RFC 4514 string. */
  subject: string;
  /** DER of the issuer Name. */
  issuerRaw: Uint8Array;
  /** DER of the subject Name. */
  subjectRaw: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** Certificate.signatureAlgorithm OID. */
  signatureAlgorithmOid: string;
  /** DER of Certificate.signatureAlgorithm (the AlgorithmIdentifier). */
  signatureAlgorithmRaw: Uint8Array;
  /** True when tbsCertificate.signature is byte-identical to signatureAlgorithm (RFC 5280 4.1.1.2: "MUST"). */
  signatureAlgorithmsMatch: boolean;
  /** The signatureValue bits. */
  signature: Uint8Array;
  /** DER of SubjectPublicKeyInfo (what WebCrypto imports). */
  spkiRaw: Uint8Array;
  /** The public key, as far as kimage can use it. */
  publicKey: PublicKeyInfo;
  /** basicConstraints, if present. */
  basicConstraints: BasicConstraints | undefined;
  /** keyUsage bits set, if the extension is present. */
  keyUsage: KeyUsage[] | undefined;
  /** extKeyUsage purposes (dotted OIDs), if present. */
  extKeyUsage: string[] | undefined;
  /** subjectKeyIdentifier as lowercase hex, if present. */
  subjectKeyIdentifier: string | undefined;
  /** authorityKeyIdentifier, if present. */
  authorityKeyIdentifier: AuthorityKeyIdentifier | undefined;
  /** OIDs of critical extensions kimage does not interpret (RFC 5280 says to reject; the kernel and UEFI do not). */
  unknownCriticalExtensions: string[];
  /** True when subject and issuer Names are byte-identical. */
  selfIssued: boolean;
}

function fail(code: ErrorCode, message: string, offset: number): never {
  throw new KimageError(code, message, { layer: X509_LAYER, offset });
}

function at(t: Tlv): string {
  return `0x${t.offset.toString(16)}`;
}

/**
 * An RFC 4514 string of a DER Name (e.g. a SignerInfo's issuer), most
 * specific RDN first.
 *
 * @throws KimageError `asn1-*` when `der` is not one DER Name.
 */
export function nameText(der: Uint8Array, base = 0): string {
  return parseName(parseDer(der, base, { layer: X509_LAYER }), "Name", X509_LAYER).text;
}

/*
 * SubjectPublicKeyInfo  ::=  SEQUENCE  {
 *      algorithm            AlgorithmIdentifier,
 *      subjectPublicKey     BIT STRING  }        -- RFC 5280 section 4.1.2.7
 *
 * RSAPublicKey ::= SEQUENCE {
 *     modulus           INTEGER,  -- n
 *     publicExponent    INTEGER   -- e
 * }                                              -- RFC 8017 appendix A.1.1
 *
 * ECParameters ::= CHOICE {
 *   namedCurve         OBJECT IDENTIFIER
 *   -- implicitCurve   NULL
 *   -- specifiedCurve  SpecifiedECDomain
 * }
 *   -- implicitCurve and specifiedCurve MUST NOT be used in PKIX.
 *                                                -- RFC 5480 section 2.1.1
 */
function publicKeyInfo(spki: Tlv): PublicKeyInfo {
  expect(spki, TAG.SEQUENCE, "SubjectPublicKeyInfo");
  const [algTlv, keyTlv] = childrenCount(spki, 2, 2, "SubjectPublicKeyInfo") as [Tlv, Tlv];
  const alg = parseAlgorithmIdentifier(algTlv, "SubjectPublicKeyInfo.algorithm");
  const key = readBitString(keyTlv, "SubjectPublicKeyInfo.subjectPublicKey");
  if (alg.oid === OID.rsaEncryption) {
    if (key.unusedBits !== 0) fail("asn1-malformed", `RSA subjectPublicKey at ${at(keyTlv)} has unused bits`, keyTlv.offset);
    const inner = parseDer(key.bytes, keyTlv.contentOffset + 1, { layer: X509_LAYER });
    expect(inner, TAG.SEQUENCE, "RSAPublicKey");
    const [nTlv, eTlv] = childrenCount(inner, 2, 2, "RSAPublicKey") as [Tlv, Tlv];
    const modulus = readInteger(nTlv, "RSAPublicKey.modulus").value;
    const exponent = readInteger(eTlv, "RSAPublicKey.publicExponent").value;
    if (modulus <= 0n || exponent <= 0n) fail("asn1-malformed", `RSAPublicKey at ${at(inner)} has a non-positive modulus or exponent`, inner.offset);
    return { kind: "rsa", bits: modulus.toString(2).length, modulus, exponent };
  }
  if (alg.oid === OID.ecPublicKey) {
    const p = alg.parameters;
    if (p === undefined || p.tag !== TAG.OID) return { kind: "ec-explicit" };
    const curveOid = readOid(p, "ECParameters.namedCurve");
    const curve = CURVES.get(curveOid);
    return curve ? { kind: "ec", curve } : { kind: "unsupported", algorithm: `ecPublicKey/${oidName(curveOid) ?? curveOid}` };
  }
  return { kind: "unsupported", algorithm: oidName(alg.oid) ?? alg.oid };
}

interface Extensions {
  basicConstraints: BasicConstraints | undefined;
  keyUsage: KeyUsage[] | undefined;
  extKeyUsage: string[] | undefined;
  subjectKeyIdentifier: string | undefined;
  authorityKeyIdentifier: AuthorityKeyIdentifier | undefined;
  unknownCriticalExtensions: string[];
}

/*
 * Extensions  ::=  SEQUENCE SIZE (1..MAX) OF Extension
 * Extension  ::=  SEQUENCE  {
 *      extnID      OBJECT IDENTIFIER,
 *      critical    BOOLEAN DEFAULT FALSE,
 *      extnValue   OCTET STRING }                -- RFC 5280 section 4.1
 *
 * "A certificate MUST NOT include more than one instance of a particular
 * extension."                                    -- RFC 5280 section 4.2
 *
 * BasicConstraints ::= SEQUENCE {
 *      cA                      BOOLEAN DEFAULT FALSE,
 *      pathLenConstraint       INTEGER (0..MAX) OPTIONAL }   -- 4.2.1.9
 * KeyUsage ::= BIT STRING { digitalSignature (0), ..., keyCertSign (5), ... } -- 4.2.1.3
 * ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId                -- 4.2.1.12
 * SubjectKeyIdentifier ::= KeyIdentifier                                      -- 4.2.1.2
 * AuthorityKeyIdentifier ::= SEQUENCE {
 *    keyIdentifier             [0] KeyIdentifier           OPTIONAL,
 *    authorityCertIssuer       [1] GeneralNames            OPTIONAL,
 *    authorityCertSerialNumber [2] CertificateSerialNumber OPTIONAL  }         -- 4.2.1.1
 * GeneralName ::= CHOICE { ..., directoryName [4] Name, ... }                  -- 4.2.1.6
 */
function readExtensions(wrapper: Tlv): Extensions {
  const out: Extensions = {
    basicConstraints: undefined,
    keyUsage: undefined,
    extKeyUsage: undefined,
    subjectKeyIdentifier: undefined,
    authorityKeyIdentifier: undefined,
    unknownCriticalExtensions: [],
  };
  const [exts] = childrenCount(wrapper, 1, 1, "TBSCertificate.extensions") as [Tlv];
  expect(exts, TAG.SEQUENCE, "Extensions");
  const seen = new Set<string>();
  for (const ext of childrenCount(exts, 1, Number.MAX_SAFE_INTEGER, "Extensions")) {
    expect(ext, TAG.SEQUENCE, "Extension");
    const e = childrenCount(ext, 2, 3, "Extension");
    const id = readOid(e[0] as Tlv, "Extension.extnID");
    if (seen.has(id)) fail("asn1-malformed", `extension ${oidName(id) ?? id} appears twice (at ${at(ext)})`, ext.offset);
    seen.add(id);
    const critical = e.length === 3 ? readBoolean(e[1] as Tlv, "Extension.critical") : false;
    const valueTlv = e[e.length - 1] as Tlv;
    const value = parseDer(readOctetString(valueTlv, "Extension.extnValue"), valueTlv.contentOffset, { layer: X509_LAYER });
    switch (id) {
      case OID.basicConstraints: {
        expect(value, TAG.SEQUENCE, "BasicConstraints");
        const k = childrenCount(value, 0, 2, "BasicConstraints");
        let i = 0;
        let cA = false;
        if (k[i]?.tag === TAG.BOOLEAN) cA = readBoolean(k[i++] as Tlv, "BasicConstraints.cA");
        let pathLen: number | undefined;
        if (k[i] !== undefined) {
          pathLen = readSmallInt(k[i++] as Tlv, "BasicConstraints.pathLenConstraint");
          if (pathLen < 0) fail("asn1-malformed", `negative pathLenConstraint at ${at(value)}`, value.offset);
        }
        if (i !== k.length) fail("asn1-malformed", `BasicConstraints at ${at(value)} has unexpected content`, value.offset);
        out.basicConstraints = { cA, pathLen };
        break;
      }
      case OID.keyUsage: {
        const bits = readBitString(value, "KeyUsage");
        const set: KeyUsage[] = [];
        KEY_USAGE_BITS.forEach((name, n) => {
          const byte = bits.bytes[n >> 3];
          if (byte !== undefined && (byte & (0x80 >> (n & 7))) !== 0) set.push(name);
        });
        out.keyUsage = set;
        break;
      }
      case OID.extKeyUsage: {
        expect(value, TAG.SEQUENCE, "ExtKeyUsageSyntax");
        out.extKeyUsage = childrenCount(value, 1, Number.MAX_SAFE_INTEGER, "ExtKeyUsageSyntax").map((p) => readOid(p, "KeyPurposeId"));
        break;
      }
      case OID.subjectKeyIdentifier:
        out.subjectKeyIdentifier = toHex(readOctetString(value, "SubjectKeyIdentifier"));
        break;
      case OID.authorityKeyIdentifier: {
        expect(value, TAG.SEQUENCE, "AuthorityKeyIdentifier");
        const akid: AuthorityKeyIdentifier = { keyIdentifier: undefined, issuerRaw: undefined, serialBytes: undefined };
        let last = -1;
        for (const f of childrenCount(value, 0, 3, "AuthorityKeyIdentifier")) {
          if (f.tag <= last) fail("asn1-malformed", `AuthorityKeyIdentifier: ${tagName(f.tag)} out of order at ${at(f)}`, f.offset);
          last = f.tag;
          if (f.tag === ctxTag(0, false)) akid.keyIdentifier = toHex(f.content);
          else if (f.tag === ctxTag(1, true)) {
            for (const gn of children(f)) {
              if (gn.tag === ctxTag(4, true) && akid.issuerRaw === undefined) {
                const [name] = childrenCount(gn, 1, 1, "GeneralName.directoryName") as [Tlv];
                parseName(name, "AuthorityKeyIdentifier.authorityCertIssuer", X509_LAYER); // validates it
                akid.issuerRaw = name.raw;
              }
            }
          } else if (f.tag === ctxTag(2, false)) {
            readInteger({ ...f, tag: TAG.INTEGER, tagClass: "universal", tagNumber: 2 }, "authorityCertSerialNumber");
            akid.serialBytes = f.content;
          } else fail("asn1-malformed", `AuthorityKeyIdentifier: unexpected ${tagName(f.tag)} at ${at(f)}`, f.offset);
        }
        out.authorityKeyIdentifier = akid;
        break;
      }
      default:
        if (critical) out.unknownCriticalExtensions.push(id);
        break;
    }
  }
  return out;
}

/*
 * Certificate  ::=  SEQUENCE  {
 *      tbsCertificate       TBSCertificate,
 *      signatureAlgorithm   AlgorithmIdentifier,
 *      signatureValue       BIT STRING  }
 *
 * TBSCertificate  ::=  SEQUENCE  {
 *      version         [0]  EXPLICIT Version DEFAULT v1,
 *      serialNumber         CertificateSerialNumber,
 *      signature            AlgorithmIdentifier,
 *      issuer               Name,
 *      validity             Validity,
 *      subject              Name,
 *      subjectPublicKeyInfo SubjectPublicKeyInfo,
 *      issuerUniqueID  [1]  IMPLICIT UniqueIdentifier OPTIONAL,
 *      subjectUniqueID [2]  IMPLICIT UniqueIdentifier OPTIONAL,
 *      extensions      [3]  EXPLICIT Extensions OPTIONAL }
 *
 * Validity ::= SEQUENCE { notBefore Time, notAfter Time }
 *                                 -- RFC 5280 section 4.1
 */
/**
 * Parses one DER X.509 certificate spanning all of `der` (whose first byte is
 * at absolute offset `base`), checking the whole tree against the DER rules.
 *
 * @throws KimageError `asn1-malformed`, `asn1-not-der`, `asn1-trailing-bytes`,
 *   `truncated`, `limit` for anything that is not one well-formed
 *   certificate; duplicated extensions are `asn1-malformed`.
 */
export function parseCertificate(der: Uint8Array, base = 0): ParsedCertificate {
  const t = parseDer(der, base, { layer: X509_LAYER });
  expect(t, TAG.SEQUENCE, "Certificate");
  const [tbs, sigAlgTlv, sigValueTlv] = childrenCount(t, 3, 3, "Certificate") as [Tlv, Tlv, Tlv];
  expect(tbs, TAG.SEQUENCE, "TBSCertificate");
  const sigAlg = parseAlgorithmIdentifier(sigAlgTlv, "Certificate.signatureAlgorithm");
  const sigBits = readBitString(sigValueTlv, "Certificate.signatureValue");
  if (sigBits.unusedBits !== 0) fail("asn1-malformed", `signatureValue at ${at(sigValueTlv)} has unused bits`, sigValueTlv.offset);
  const f = children(tbs);
  let i = 0;
  let version = 0;
  if (f[i]?.tag === ctxTag(0, true)) {
    const [vi] = childrenCount(f[i] as Tlv, 1, 1, "TBSCertificate.version") as [Tlv];
    version = readSmallInt(vi, "TBSCertificate.version");
    if (version < 0 || version > 2) fail("asn1-malformed", `TBSCertificate.version ${version} at ${at(vi)} is not v1..v3`, vi.offset);
    i++;
  }
  const need = (what: string): Tlv => {
    const x = f[i++];
    if (x === undefined) fail("asn1-malformed", `TBSCertificate at ${at(tbs)}: missing ${what}`, tbs.offset);
    return x;
  };
  const serial = readInteger(need("serialNumber"), "TBSCertificate.serialNumber");
  const tbsSigAlg = need("signature");
  parseAlgorithmIdentifier(tbsSigAlg, "TBSCertificate.signature");
  const issuerTlv = need("issuer");
  const issuer = parseName(issuerTlv, "issuer", X509_LAYER).text;
  const validity = expect(need("validity"), TAG.SEQUENCE, "Validity");
  const [nb, na] = childrenCount(validity, 2, 2, "Validity") as [Tlv, Tlv];
  const notBefore = readTime(nb, "Validity.notBefore");
  const notAfter = readTime(na, "Validity.notAfter");
  const subjectTlv = need("subject");
  const subject = parseName(subjectTlv, "subject", X509_LAYER).text;
  const spki = need("subjectPublicKeyInfo");
  const publicKey = publicKeyInfo(spki);
  let ext: Extensions = {
    basicConstraints: undefined,
    keyUsage: undefined,
    extKeyUsage: undefined,
    subjectKeyIdentifier: undefined,
    authorityKeyIdentifier: undefined,
    unknownCriticalExtensions: [],
  };
  let lastTag = 0;
  for (; i < f.length; i++) {
    const x = f[i] as Tlv;
    const ok = x.tag === ctxTag(1, false) || x.tag === ctxTag(2, false) || x.tag === ctxTag(3, true);
    if (!ok || x.tag <= lastTag) fail("asn1-malformed", `TBSCertificate: unexpected ${tagName(x.tag)} at ${at(x)}`, x.offset);
    lastTag = x.tag;
    if (x.tag === ctxTag(3, true)) {
      if (version !== 2) fail("asn1-malformed", `extensions at ${at(x)} in a v${version + 1} certificate`, x.offset);
      ext = readExtensions(x);
    }
  }
  return {
    raw: t.raw,
    offset: t.offset,
    tbsRaw: tbs.raw,
    version,
    serialNumber: evenHex(serial.value),
    serialBytes: serial.bytes,
    issuer,
    subject,
    issuerRaw: issuerTlv.raw,
    subjectRaw: subjectTlv.raw,
    notBefore,
    notAfter,
    signatureAlgorithmOid: sigAlg.oid,
    signatureAlgorithmRaw: sigAlgTlv.raw,
    signatureAlgorithmsMatch: bytesEqual(tbsSigAlg.raw, sigAlgTlv.raw),
    signature: sigBits.bytes,
    spkiRaw: spki.raw,
    publicKey,
    ...ext,
    selfIssued: bytesEqual(issuerTlv.raw, subjectTlv.raw),
  };
}

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
  importKey(
    format: "spki",
    keyData: Uint8Array<ArrayBuffer>,
    algorithm: { name: string; hash?: string; namedCurve?: string },
    extractable: boolean,
    keyUsages: "verify"[],
  ): Promise<unknown>;
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

/*
 * DigestInfo ::= SEQUENCE {
 *     digestAlgorithm DigestAlgorithm,
 *     digest OCTET STRING }            -- RFC 8017 section 9.2
 */
/** The digest algorithm OID and digest of a DER DigestInfo, or null. */
export function readDigestInfo(der: Uint8Array): { oid: string; digest: Uint8Array } | null {
  try {
    const t = readTlv(der, 0, { layer: X509_LAYER });
    if (t.raw.length !== der.length) return null;
    expect(t, TAG.SEQUENCE, "DigestInfo");
    const [alg, dig] = childrenCount(t, 2, 2, "DigestInfo") as [Tlv, Tlv];
    return { oid: parseAlgorithmIdentifier(alg, "DigestInfo.digestAlgorithm").oid, digest: readOctetString(dig, "DigestInfo.digest") };
  } catch (e) {
    if (e instanceof KimageError) return null;
    throw e;
  }
}

/** True when `cert` is valid at `time` (notBefore ≤ time ≤ notAfter, RFC 5280 4.1.2.5). */
export function validAt(cert: Pick<ParsedCertificate, "notBefore" | "notAfter">, time: Date): boolean {
  const t = time.getTime();
  return cert.notBefore.getTime() <= t && t <= cert.notAfter.getTime();
}
