/**
 * X.509 certificates (RFC 5280), parsed once for every reader: the
 * Authenticode description (names, serial, validity, algorithms, key
 * identifier) and the verifier (the bytes it hashes and compares, the public
 * key, and the extensions chain building needs: basicConstraints, keyUsage,
 * extKeyUsage, subject and authority key identifiers).
 *
 * The parser keeps the original bytes of everything a verifier hashes or
 * compares (`tbsRaw`, `issuerRaw`, `subjectRaw`, `spkiRaw`) as views of the
 * input and never re-encodes.
 *
 * Elliptic-curve keys with explicit curve parameters (`specifiedCurve`,
 * CVE-2020-0601) or `implicitCurve` are reported as `ec-explicit` and are
 * never used to verify anything.
 *
 * Two modes ({@link CertificateMode}): `strict` throws the first violation
 * of anything (a trust anchor, a certificate of a module signature);
 * `lenient` (the certificates of an Authenticode signature) throws only what
 * the description cannot do without and records the first violation of the
 * rest in `problem`, which the verifier reports as `certificate-malformed`.
 *
 * Only {@link KimageError} is thrown for bad input.
 *
 * @module
 */

import { toHex } from "../core/bytes.js";
import { KimageError } from "../core/errors.js";
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
  tagName,
  walkDer,
  type DerBitString,
  type Tlv,
} from "../asn1/der.js";
import { OID, oidName } from "../asn1/oids.js";
import { X509_LAYER, at, fail, withLayer } from "./errors.js";
import { evenHex, parseAlgorithmIdentifier, parseName, type AlgorithmIdentifier, type ParsedName } from "./names.js";

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
  /** True when the subject is a CA. */
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

/**
 * A parsed X.509 certificate: the one certificate model of kimage. All byte
 * fields are views of the input.
 */
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
  /** The issuer Name, parsed (attributes and last commonName). */
  issuerName: ParsedName;
  /** The subject Name, parsed (attributes and last commonName). */
  subjectName: ParsedName;
  /** DER of the issuer Name. */
  issuerRaw: Uint8Array;
  /** DER of the subject Name. */
  subjectRaw: Uint8Array;
  /** Start of the validity period. */
  notBefore: Date;
  /** End of the validity period. */
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
  /** SubjectPublicKeyInfo.algorithm OID. */
  publicKeyAlgorithmOid: string;
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
  /**
   * Why a verifier cannot use this certificate: the first error
   * {@link parseCertificate} would throw for its bytes (layer `x509`).
   * Always undefined for certificates returned by {@link parseCertificate};
   * set on certificates of a signature that were read leniently or whose
   * reading failed. When set, only `raw`, `offset` and the fields a
   * description reads before the failing field are meaningful.
   */
  problem: KimageError | undefined;
}

/**
 * How {@link readCertificate} treats a violation:
 *
 * - `strict`: every violation throws, in the order of RFC 5280's fields
 *   (the DER content rules are the caller's: {@link parseCertificate}
 *   checks them first).
 * - `lenient`: the structure a description needs (the fields of
 *   TBSCertificate, names, validity, the algorithm identifiers, the
 *   extensions' framing and subjectKeyIdentifier) throws; everything else
 *   (version range, signature and key BIT STRINGs, the public key, the other
 *   extensions, DER content rules) is recorded as `problem` with the error
 *   `strict` would have thrown first.
 */
export type CertificateMode = "strict" | "lenient";

/** Options of {@link readCertificate}. */
export interface ReadCertificateOptions {
  /** Which violations throw (see {@link CertificateMode}). */
  mode: CertificateMode;
  /**
   * `lenient` only: walk the certificate's DER content rules first, so that
   * a violation becomes `problem` (needed when the enclosing message was not
   * already found to be DER throughout). Default false.
   */
  checkDer?: boolean;
}

interface Extensions {
  basicConstraints: BasicConstraints | undefined;
  keyUsage: KeyUsage[] | undefined;
  extKeyUsage: string[] | undefined;
  subjectKeyIdentifier: string | undefined;
  authorityKeyIdentifier: AuthorityKeyIdentifier | undefined;
  unknownCriticalExtensions: string[];
}

/**
 * Runs the checks only a verifier needs: in `strict` mode they throw; in
 * `lenient` mode the first failure is kept (as an `x509` error) and later
 * checks are skipped.
 */
class Checks {
  problem: KimageError | undefined;
  constructor(readonly strict: boolean) {}
  soft<T>(fn: () => T): T | undefined {
    if (this.strict) return fn();
    if (this.problem !== undefined) return undefined;
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof KimageError)) throw e;
      this.problem = withLayer(e, X509_LAYER);
      return undefined;
    }
  }
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
function publicKeyInfo(alg: AlgorithmIdentifier, keyTlv: Tlv, layer: string): PublicKeyInfo {
  const key = readBitString(keyTlv, "SubjectPublicKeyInfo.subjectPublicKey");
  if (alg.oid === OID.rsaEncryption) {
    if (key.unusedBits !== 0) fail("asn1-malformed", `RSA subjectPublicKey at ${at(keyTlv)} has unused bits`, keyTlv.offset, layer);
    const inner = parseDer(key.bytes, keyTlv.contentOffset + 1, { layer });
    expect(inner, TAG.SEQUENCE, "RSAPublicKey");
    const [nTlv, eTlv] = childrenCount(inner, 2, 2, "RSAPublicKey") as [Tlv, Tlv];
    const modulus = readInteger(nTlv, "RSAPublicKey.modulus").value;
    const exponent = readInteger(eTlv, "RSAPublicKey.publicExponent").value;
    if (modulus <= 0n || exponent <= 0n) fail("asn1-malformed", `RSAPublicKey at ${at(inner)} has a non-positive modulus or exponent`, inner.offset, layer);
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

/*
 * Extensions  ::=  SEQUENCE SIZE (1..MAX) OF Extension
 * Extension  ::=  SEQUENCE  {
 *      extnID      OBJECT IDENTIFIER,
 *      critical    BOOLEAN DEFAULT FALSE,
 *      extnValue   OCTET STRING }                -- RFC 5280 section 4.1
 *
 * "A certificate MUST NOT include more than one instance of a particular
 * extension."                                    -- RFC 5280 section 4.2
 */
function readExtensions(wrapper: Tlv, checks: Checks, layer: string): Extensions {
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
  const list = children(exts);
  checks.soft(() => childrenCount(exts, 1, Number.MAX_SAFE_INTEGER, "Extensions"));
  const seen = new Set<string>();
  for (const ext of list) {
    expect(ext, TAG.SEQUENCE, "Extension");
    const e = childrenCount(ext, 2, 3, "Extension");
    const id = readOid(e[0] as Tlv, "Extension.extnID");
    checks.soft(() => {
      if (seen.has(id)) fail("asn1-malformed", `extension ${oidName(id) ?? id} appears twice (at ${at(ext)})`, ext.offset, layer);
    });
    seen.add(id);
    const critical = e.length === 3 ? readBoolean(e[1] as Tlv, "Extension.critical") : false;
    const valueTlv = e[e.length - 1] as Tlv;
    const octets = readOctetString(valueTlv, "Extension.extnValue");
    if (id === OID.subjectKeyIdentifier) {
      // SubjectKeyIdentifier ::= KeyIdentifier; KeyIdentifier ::= OCTET STRING   -- 4.2.1.2
      const value = parseDer(octets, valueTlv.contentOffset, { layer, validate: false });
      checks.soft(() => walkDer(value));
      out.subjectKeyIdentifier = toHex(readOctetString(value, "SubjectKeyIdentifier"));
      continue;
    }
    checks.soft(() => readExtension(id, critical, parseDer(octets, valueTlv.contentOffset, { layer }), out, layer));
  }
  return out;
}

/*
 * BasicConstraints ::= SEQUENCE {
 *      cA                      BOOLEAN DEFAULT FALSE,
 *      pathLenConstraint       INTEGER (0..MAX) OPTIONAL }   -- 4.2.1.9
 * KeyUsage ::= BIT STRING { digitalSignature (0), ..., keyCertSign (5), ... } -- 4.2.1.3
 * ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId                -- 4.2.1.12
 * AuthorityKeyIdentifier ::= SEQUENCE {
 *    keyIdentifier             [0] KeyIdentifier           OPTIONAL,
 *    authorityCertIssuer       [1] GeneralNames            OPTIONAL,
 *    authorityCertSerialNumber [2] CertificateSerialNumber OPTIONAL  }         -- 4.2.1.1
 * GeneralName ::= CHOICE { ..., directoryName [4] Name, ... }                  -- 4.2.1.6
 */
function readExtension(id: string, critical: boolean, value: Tlv, out: Extensions, layer: string): void {
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
        if (pathLen < 0) fail("asn1-malformed", `negative pathLenConstraint at ${at(value)}`, value.offset, layer);
      }
      if (i !== k.length) fail("asn1-malformed", `BasicConstraints at ${at(value)} has unexpected content`, value.offset, layer);
      out.basicConstraints = { cA, pathLen };
      return;
    }
    case OID.keyUsage: {
      const bits = readBitString(value, "KeyUsage");
      const set: KeyUsage[] = [];
      KEY_USAGE_BITS.forEach((name, n) => {
        const byte = bits.bytes[n >> 3];
        if (byte !== undefined && (byte & (0x80 >> (n & 7))) !== 0) set.push(name);
      });
      out.keyUsage = set;
      return;
    }
    case OID.extKeyUsage:
      expect(value, TAG.SEQUENCE, "ExtKeyUsageSyntax");
      out.extKeyUsage = childrenCount(value, 1, Number.MAX_SAFE_INTEGER, "ExtKeyUsageSyntax").map((p) => readOid(p, "KeyPurposeId"));
      return;
    case OID.authorityKeyIdentifier: {
      expect(value, TAG.SEQUENCE, "AuthorityKeyIdentifier");
      const akid: AuthorityKeyIdentifier = { keyIdentifier: undefined, issuerRaw: undefined, serialBytes: undefined };
      let last = -1;
      for (const f of childrenCount(value, 0, 3, "AuthorityKeyIdentifier")) {
        if (f.tag <= last) fail("asn1-malformed", `AuthorityKeyIdentifier: ${tagName(f.tag)} out of order at ${at(f)}`, f.offset, layer);
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
        } else fail("asn1-malformed", `AuthorityKeyIdentifier: unexpected ${tagName(f.tag)} at ${at(f)}`, f.offset, layer);
      }
      out.authorityKeyIdentifier = akid;
      return;
    }
    default:
      if (critical) out.unknownCriticalExtensions.push(id);
  }
}

const NO_BYTES = new Uint8Array(0);

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
 * Version  ::=  INTEGER  {  v1(0), v2(1), v3(2)  }
 * Validity ::= SEQUENCE { notBefore Time, notAfter Time }
 *                                 -- RFC 5280 section 4.1
 *
 * "This field MUST only appear if the version is 3"   -- 4.1.2.9 (extensions)
 */
/**
 * Reads a Certificate TLV into the model (see {@link CertificateMode}).
 * Errors other than a lenient `problem` name the TLV's layer.
 *
 * @throws KimageError `asn1-malformed`, `asn1-not-der`, `truncated`,
 *   `limit` (strict: anything that is not one well-formed certificate;
 *   lenient: only what the description needs).
 */
export function readCertificate(t: Tlv, opts: ReadCertificateOptions): ParsedCertificate {
  const layer = t.limits.layer;
  const lenient = opts.mode === "lenient";
  const checks = new Checks(!lenient);
  if (lenient && opts.checkDer === true) checks.soft(() => walkDer(t));
  expect(t, TAG.SEQUENCE, "Certificate");
  const [tbs, sigAlgTlv, sigValueTlv] = childrenCount(t, 3, 3, "Certificate") as [Tlv, Tlv, Tlv];
  expect(tbs, TAG.SEQUENCE, "TBSCertificate");
  if (lenient) expect(sigValueTlv, TAG.BIT_STRING, "Certificate.signatureValue");
  const sigAlg = parseAlgorithmIdentifier(sigAlgTlv, "Certificate.signatureAlgorithm");
  const sigBits = checks.soft((): DerBitString => {
    const b = readBitString(sigValueTlv, "Certificate.signatureValue");
    if (b.unusedBits !== 0) fail("asn1-malformed", `signatureValue at ${at(sigValueTlv)} has unused bits`, sigValueTlv.offset, layer);
    return b;
  });
  const f = children(tbs);
  let i = 0;
  let version = 0;
  if (f[i]?.tag === ctxTag(0, true)) {
    const [vi] = childrenCount(f[i] as Tlv, 1, 1, "TBSCertificate.version") as [Tlv];
    version = readSmallInt(vi, "TBSCertificate.version");
    checks.soft(() => {
      if (version < 0 || version > 2) fail("asn1-malformed", `TBSCertificate.version ${version} at ${at(vi)} is not v1..v3`, vi.offset, layer);
    });
    i++;
  }
  const need = (what: string): Tlv => {
    const x = f[i++];
    if (x === undefined) fail("asn1-malformed", `TBSCertificate at ${at(tbs)}: missing ${what}`, tbs.offset, layer);
    return x;
  };
  const serial = readInteger(need("serialNumber"), "TBSCertificate.serialNumber");
  const tbsSigAlg = need("signature");
  parseAlgorithmIdentifier(tbsSigAlg, "TBSCertificate.signature");
  const issuerTlv = need("issuer");
  const issuerName = parseName(issuerTlv, "issuer", layer);
  const validity = expect(need("validity"), TAG.SEQUENCE, "Validity");
  const [nb, na] = childrenCount(validity, 2, 2, "Validity") as [Tlv, Tlv];
  const notBefore = readTime(nb, "Validity.notBefore");
  const notAfter = readTime(na, "Validity.notAfter");
  const subjectTlv = need("subject");
  const subjectName = parseName(subjectTlv, "subject", layer);
  const spki = expect(need("subjectPublicKeyInfo"), TAG.SEQUENCE, "SubjectPublicKeyInfo");
  const [spkiAlgTlv, spkiKeyTlv] = childrenCount(spki, 2, 2, "SubjectPublicKeyInfo") as [Tlv, Tlv];
  const spkiAlg = parseAlgorithmIdentifier(spkiAlgTlv, "SubjectPublicKeyInfo.algorithm");
  if (lenient) expect(spkiKeyTlv, TAG.BIT_STRING, "SubjectPublicKeyInfo.subjectPublicKey");
  const publicKey = checks.soft(() => publicKeyInfo(spkiAlg, spkiKeyTlv, layer));
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
    if (!ok || x.tag <= lastTag) fail("asn1-malformed", `TBSCertificate: unexpected ${tagName(x.tag)} at ${at(x)}`, x.offset, layer);
    lastTag = x.tag;
    if (x.tag === ctxTag(3, true)) {
      checks.soft(() => {
        if (version !== 2) fail("asn1-malformed", `extensions at ${at(x)} in a v${version + 1} certificate`, x.offset, layer);
      });
      ext = readExtensions(x, checks, layer);
    }
  }
  return {
    raw: t.raw,
    offset: t.offset,
    tbsRaw: tbs.raw,
    version,
    serialNumber: evenHex(serial.value),
    serialBytes: serial.bytes,
    issuer: issuerName.text,
    subject: subjectName.text,
    issuerName,
    subjectName,
    issuerRaw: issuerTlv.raw,
    subjectRaw: subjectTlv.raw,
    notBefore,
    notAfter,
    signatureAlgorithmOid: sigAlg.oid,
    signatureAlgorithmRaw: sigAlgTlv.raw,
    signatureAlgorithmsMatch: bytesEqual(tbsSigAlg.raw, sigAlgTlv.raw),
    signature: sigBits?.bytes ?? NO_BYTES,
    spkiRaw: spki.raw,
    publicKeyAlgorithmOid: spkiAlg.oid,
    publicKey: publicKey ?? { kind: "unsupported", algorithm: oidName(spkiAlg.oid) ?? spkiAlg.oid },
    ...ext,
    selfIssued: bytesEqual(issuerTlv.raw, subjectTlv.raw),
    problem: checks.problem,
  };
}

/**
 * A certificate that could not be read at all: `raw`, `offset` and
 * `problem` are set, every other field is empty.
 */
export function unreadableCertificate(t: Tlv, problem: KimageError): ParsedCertificate {
  const none: ParsedName = { rdns: [], text: "", cn: undefined };
  return {
    raw: t.raw,
    offset: t.offset,
    tbsRaw: NO_BYTES,
    version: 0,
    serialNumber: "",
    serialBytes: NO_BYTES,
    issuer: "",
    subject: "",
    issuerName: none,
    subjectName: none,
    issuerRaw: NO_BYTES,
    subjectRaw: NO_BYTES,
    notBefore: new Date(0),
    notAfter: new Date(0),
    signatureAlgorithmOid: "",
    signatureAlgorithmRaw: NO_BYTES,
    signatureAlgorithmsMatch: false,
    signature: NO_BYTES,
    spkiRaw: NO_BYTES,
    publicKeyAlgorithmOid: "",
    publicKey: { kind: "unsupported", algorithm: "" },
    basicConstraints: undefined,
    keyUsage: undefined,
    extKeyUsage: undefined,
    subjectKeyIdentifier: undefined,
    authorityKeyIdentifier: undefined,
    unknownCriticalExtensions: [],
    selfIssued: false,
    problem,
  };
}

/**
 * Parses one DER X.509 certificate spanning all of `der` (whose first byte is
 * at absolute offset `base`), checking the whole tree against the DER rules
 * first and then every field strictly. Errors name the `x509` layer.
 *
 * @throws KimageError `asn1-malformed`, `asn1-not-der`, `asn1-trailing-bytes`,
 *   `truncated`, `limit` for anything that is not one well-formed
 *   certificate; duplicated extensions are `asn1-malformed`.
 */
export function parseCertificate(der: Uint8Array, base = 0): ParsedCertificate {
  return readCertificate(parseDer(der, base, { layer: X509_LAYER }), { mode: "strict" });
}

/** True when `cert` is valid at `time` (notBefore ≤ time ≤ notAfter, RFC 5280 4.1.2.5). */
export function validAt(cert: Pick<ParsedCertificate, "notBefore" | "notAfter">, time: Date): boolean {
  const t = time.getTime();
  return cert.notBefore.getTime() <= t && t <= cert.notAfter.getTime();
}
