/**
 * Reads what an Authenticode signature says, without verifying anything.
 *
 * The input is the `bCertificate` of a `WIN_CERTIFICATE` entry of type
 * `WIN_CERT_TYPE_PKCS_SIGNED_DATA`: a CMS `ContentInfo` wrapping `SignedData`
 * whose encapsulated content is an Authenticode `SpcIndirectDataContent`.
 * {@link readAuthenticodeInfo} returns the image digest the signer embedded
 * (the oracle for Authenticode hashing), the certificates, and a summary of
 * every `SignerInfo` including its original signed-attribute bytes and its
 * nested signatures and timestamps.
 *
 * All offsets are absolute (relative to the outermost input, given `base`);
 * all byte fields are subarrays of the input (no copies). Only
 * {@link KimageError} is thrown, with layer `"pkcs7"`.
 *
 * @module
 */

import { KimageError, type ErrorCode } from "../core/errors.js";
import { toHex } from "../core/bytes.js";
import {
  DER_LAYER,
  TAG,
  bytesEqual,
  children,
  childrenCount,
  ctxTag,
  expect,
  isSetOfSorted,
  parseDer,
  readBoolean,
  readInteger,
  readOctetString,
  readOid,
  readSmallInt,
  readString,
  readTime,
  readTlv,
  tagName,
  walkDer,
  type Tlv,
} from "../asn1/der.js";
import { evenHex, parseAlgorithmIdentifier, parseName as parseNameIn, type NameAttribute } from "./x509-name.js";
import { OID, digestNameOf, oidName, DIGEST_SIZES } from "../asn1/oids.js";

/** Digest algorithms Authenticode images are hashed with, by name. */
export type AuthenticodeDigestName = "sha1" | "sha256" | "sha384" | "sha512";

/**
 * A digest algorithm: one of {@link AuthenticodeDigestName}, or the dotted
 * OID when it is none of them.
 */
export type DigestAlgorithm = AuthenticodeDigestName | (string & {});

/** Options of {@link readAuthenticodeInfo}. */
export interface ReadAuthenticodeOptions {
  /**
   * Throw instead of reporting: `asn1-trailing-bytes` when anything (even
   * zero padding) follows the DER value, and the first DER content-rule
   * violation (`asn1-not-der`, `asn1-malformed`) found anywhere in the tree,
   * including signed attributes out of DER SET OF order. Default false.
   */
  strict?: boolean;
  /** Deepest nesting of nested signatures / timestamps parsed (default 4). */
  maxNesting?: number;
}

export type { NameAttribute } from "./x509-name.js";

/** What kimage reads from one X.509 certificate (RFC 5280). */
export interface CertificateInfo {
  /** Absolute offset of the Certificate SEQUENCE. */
  offset: number;
  /** The DER of the Certificate (subarray of the input). */
  raw: Uint8Array;
  /** X.509 version as encoded (0 = v1, 2 = v3). */
  version: number;
  /** Serial number as lowercase, even-length hex of its value (`-` prefix if negative). */
  serialNumber: string;
  /** The serial number's INTEGER content octets, as encoded. */
  serialNumberBytes: Uint8Array;
  /** Subject as an RFC 4514 string (most specific RDN first), e.g. `CN=x,O=y,C=US`. */
  subject: string;
  /** Issuer as an RFC 4514 string. */
  issuer: string;
  /** Subject attributes in encoding order (least specific first). */
  subjectAttributes: NameAttribute[];
  /** Issuer attributes in encoding order. */
  issuerAttributes: NameAttribute[];
  /** The last commonName of the subject, if any. */
  subjectCN: string | undefined;
  /** The last commonName of the issuer, if any. */
  issuerCN: string | undefined;
  /** DER of the subject Name. */
  subjectRaw: Uint8Array;
  /** DER of the issuer Name. */
  issuerRaw: Uint8Array;
  /** Start of the validity period. */
  notBefore: Date;
  /** End of the validity period. */
  notAfter: Date;
  /** Certificate signature algorithm: known name or dotted OID. */
  signatureAlgorithm: string;
  /** Public-key algorithm: known name or dotted OID. */
  publicKeyAlgorithm: string;
  /** The subjectKeyIdentifier extension as hex, if present. */
  subjectKeyIdentifier: string | undefined;
  /** True when subject and issuer Names are byte-identical. */
  selfIssued: boolean;
}

/** A timestamp attached to a signer as an unsigned attribute. */
export interface TimestampInfo {
  /** `counterSignature` (PKCS#9, 1.2.840.113549.1.9.6) or `rfc3161` (1.3.6.1.4.1.311.3.3.1). */
  kind: "counterSignature" | "rfc3161";
  /** Absolute offset of the attribute value. */
  offset: number;
  /** signingTime of the counter-signature, or genTime of the RFC 3161 TSTInfo. */
  time: Date | undefined;
  /** Subject CN of the timestamping certificate, when it could be matched. */
  signerCN: string | undefined;
  /** Digest algorithm of the (first) timestamp signer; undefined when there is none. */
  digestAlgorithm: DigestAlgorithm | undefined;
}

/** What kimage reads from one SignerInfo (RFC 5652 section 5.3). */
export interface SignerSummary {
  /** Absolute offset of the SignerInfo SEQUENCE. */
  offset: number;
  /** CMSVersion: 1 for issuerAndSerialNumber, 3 for subjectKeyIdentifier. */
  version: number;
  /** Issuer (RFC 4514) of the signer certificate when sid is issuerAndSerialNumber. */
  issuer: string | undefined;
  /** DER of that issuer Name. */
  issuerRaw: Uint8Array | undefined;
  /** Serial number (hex, as {@link CertificateInfo.serialNumber}) when sid is issuerAndSerialNumber. */
  serialNumber: string | undefined;
  /** Hex key identifier when sid is `[0] subjectKeyIdentifier`. */
  subjectKeyIdentifier: string | undefined;
  /** Index into the SignedData certificates of the signer's certificate, or -1. */
  certificateIndex: number;
  /** Subject CN of the matched certificate. */
  signerCN: string | undefined;
  /** Digest algorithm of the signer. */
  digestAlgorithm: DigestAlgorithm;
  /** Dotted OID of the digest algorithm. */
  digestAlgorithmOid: string;
  /** Signature algorithm: known name or dotted OID. */
  signatureAlgorithm: string;
  /** Dotted OID of the signature algorithm. */
  signatureAlgorithmOid: string;
  /** The signature value (subarray). */
  signature: Uint8Array;
  /**
   * The original bytes of the `[0] IMPLICIT` signed attributes TLV (tag
   * 0xa0), as encoded; a verifier hashes them with the first byte read as
   * 0x31 (SET OF). Undefined when there are no signed attributes.
   */
  signedAttrsRaw: Uint8Array | undefined;
  /** Absolute offset of the signed attributes TLV, or -1. */
  signedAttrsOffset: number;
  /**
   * True when the signed attributes are in DER SET OF order as encoded (or
   * absent). When false, a verifier that re-encodes them (as OpenSSL does)
   * hashes different bytes than the signer did.
   */
  signedAttrsSorted: boolean;
  /** Dotted OIDs of the signed attributes, in order. */
  signedAttributeTypes: string[];
  /** The contentType signed attribute. */
  contentType: string | undefined;
  /** The messageDigest signed attribute (subarray). */
  messageDigest: Uint8Array | undefined;
  /** The signingTime signed attribute. */
  signingTime: Date | undefined;
  /** SpcSpOpusInfo.programName, if present. */
  programName: string | undefined;
  /** SpcSpOpusInfo.moreInfo URL, if present. */
  moreInfoUrl: string | undefined;
  /** True when `[1] unsignedAttrs` is present. */
  hasUnsignedAttrs: boolean;
  /** Dotted OIDs of the unsigned attributes, in order. */
  unsignedAttributeTypes: string[];
  /** Number of nested-signature (1.3.6.1.4.1.311.2.4.1) values. */
  nestedSignatureCount: number;
  /** The nested signatures, parsed (up to the nesting limit). */
  nestedSignatures: AuthenticodeInfo[];
  /** True when a PKCS#9 counterSignature attribute is present. */
  hasCounterSignature: boolean;
  /** True when a Microsoft RFC 3161 timestamp attribute is present. */
  hasRfc3161Timestamp: boolean;
  /** The timestamps (counter-signatures and RFC 3161 tokens), parsed. */
  timestamps: TimestampInfo[];
}

/** What an Authenticode signature says (nothing here is verified). */
export interface AuthenticodeInfo {
  /** Absolute offset of the ContentInfo. */
  offset: number;
  /** Length of the ContentInfo DER value, header included. */
  length: number;
  /**
   * True when the input is exactly one DER value (no trailing bytes) and the
   * whole tree, including values nested in OCTET STRINGs that were parsed,
   * follows the DER content rules. Nested signatures repeat the outermost
   * signature's value.
   */
  der: boolean;
  /** The first DER content-rule violation found (as `KimageError.toLine()`), if any. */
  derIssue: string | undefined;
  /** Bytes after the DER value (e.g. WIN_CERTIFICATE alignment padding). */
  trailingBytes: number;
  /** True when any trailing byte is non-zero (CVE-2013-3900-style appended data). */
  trailingNonZero: boolean;
  /** SignedData version. */
  signedDataVersion: number;
  /** SignedData digestAlgorithms, as names or dotted OIDs. */
  digestAlgorithms: DigestAlgorithm[];
  /** eContentType of encapContentInfo (always SpcIndirectDataContent). */
  contentType: string;
  /** True when eContent wraps SpcIndirectDataContent in an OCTET STRING (CMS style) rather than directly. */
  eContentWrapped: boolean;
  /** DER of SpcIndirectDataContent (subarray). */
  spcIndirectDataRaw: Uint8Array;
  /**
   * The bytes the messageDigest signed attribute is computed over: the
   * content octets of SpcIndirectDataContent (without its tag and length).
   */
  signedContent: Uint8Array;
  /** SpcIndirectDataContent.data.type, e.g. SpcPeImageData `1.3.6.1.4.1.311.2.1.15`. */
  dataType: string;
  /** Image digest algorithm from SpcIndirectDataContent.messageDigest. */
  digestAlgorithm: DigestAlgorithm;
  /** Dotted OID of the image digest algorithm. */
  digestAlgorithmOid: string;
  /** The image digest the signer embedded (subarray). */
  digest: Uint8Array;
  /** Absolute offset of the digest octets. */
  digestOffset: number;
  /** The certificates of SignedData, in order. */
  certificates: CertificateInfo[];
  /** Number of non-X.509 CertificateChoices (skipped). */
  otherCertificateCount: number;
  /** Number of revocation entries in `crls`. */
  crlCount: number;
  /** One summary per SignerInfo. */
  signers: SignerSummary[];
}

interface Ctx {
  strict: boolean;
  maxNesting: number;
  /** First DER content-rule violation seen anywhere (mutable while parsing). */
  derIssue: string | undefined;
}

/**
 * Checks a tree that the outer walk could not see (it sits inside an OCTET
 * STRING): its structure always, its DER content rules strictly in strict
 * mode, else recording the first violation.
 */
function checkDer(t: Tlv, ctx: Ctx): void {
  walkDer(t, { checkPrimitives: false });
  try {
    walkDer(t, { checkPrimitives: true });
  } catch (e) {
    if (ctx.strict || !(e instanceof KimageError)) throw e;
    ctx.derIssue ??= e.toLine();
  }
}

/** Records a DER content-rule violation found by the PKCS#7 layer (throws it in strict mode). */
function noteNotDer(ctx: Ctx, message: string, offset: number): void {
  const e = new KimageError("asn1-not-der", message, { layer: DER_LAYER, offset });
  if (ctx.strict) throw e;
  ctx.derIssue ??= e.toLine();
}


function fail(code: ErrorCode, message: string, offset: number): never {
  throw new KimageError(code, message, { layer: DER_LAYER, offset });
}

function at(t: Tlv): string {
  return `0x${t.offset.toString(16)}`;
}

/** A known name for a digest OID restricted to the Authenticode set, else the OID. */
function digestLabel(oid: string): DigestAlgorithm {
  const n = digestNameOf(oid);
  return n === "sha1" || n === "sha256" || n === "sha384" || n === "sha512" ? n : oid;
}

function algLabel(oid: string): string {
  return oidName(oid) ?? oid;
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
 * Validity ::= SEQUENCE {
 *      notBefore      Time,
 *      notAfter       Time }
 *
 * SubjectPublicKeyInfo  ::=  SEQUENCE  {
 *      algorithm            AlgorithmIdentifier,
 *      subjectPublicKey     BIT STRING  }
 *
 * Extensions  ::=  SEQUENCE SIZE (1..MAX) OF Extension
 * Extension  ::=  SEQUENCE  {
 *      extnID      OBJECT IDENTIFIER,
 *      critical    BOOLEAN DEFAULT FALSE,
 *      extnValue   OCTET STRING }
 *
 * SubjectKeyIdentifier ::= KeyIdentifier
 * KeyIdentifier ::= OCTET STRING
 *                                 -- RFC 5280 sections 4.1, 4.2.1.2
 */
function parseCertificate(t: Tlv): CertificateInfo {
  expect(t, TAG.SEQUENCE, "Certificate");
  const [tbs, sigAlg, sigValue] = childrenCount(t, 3, 3, "Certificate") as [Tlv, Tlv, Tlv];
  expect(tbs, TAG.SEQUENCE, "TBSCertificate");
  expect(sigValue, TAG.BIT_STRING, "Certificate.signatureValue");
  const signatureAlgorithm = parseAlgorithmIdentifier(sigAlg, "Certificate.signatureAlgorithm").oid;
  const f = children(tbs);
  let i = 0;
  let version = 0;
  const v = f[i];
  if (v !== undefined && v.tag === ctxTag(0, true)) {
    const [vi] = childrenCount(v, 1, 1, "TBSCertificate.version") as [Tlv];
    version = readSmallInt(vi, "TBSCertificate.version");
    i++;
  }
  const need = (what: string): Tlv => {
    const x = f[i++];
    if (x === undefined) fail("asn1-malformed", `TBSCertificate at ${at(tbs)}: missing ${what}`, tbs.offset);
    return x;
  };
  const serial = readInteger(need("serialNumber"), "TBSCertificate.serialNumber");
  parseAlgorithmIdentifier(need("signature"), "TBSCertificate.signature");
  const issuerTlv = need("issuer");
  const issuer = parseNameIn(issuerTlv, "issuer", DER_LAYER);
  const validity = need("validity");
  expect(validity, TAG.SEQUENCE, "Validity");
  const [nb, na] = childrenCount(validity, 2, 2, "Validity") as [Tlv, Tlv];
  const notBefore = readTime(nb, "Validity.notBefore");
  const notAfter = readTime(na, "Validity.notAfter");
  const subjectTlv = need("subject");
  const subject = parseNameIn(subjectTlv, "subject", DER_LAYER);
  const spki = need("subjectPublicKeyInfo");
  expect(spki, TAG.SEQUENCE, "SubjectPublicKeyInfo");
  const [spkiAlg, spkiKey] = childrenCount(spki, 2, 2, "SubjectPublicKeyInfo") as [Tlv, Tlv];
  const publicKeyAlgorithm = parseAlgorithmIdentifier(spkiAlg, "SubjectPublicKeyInfo.algorithm").oid;
  expect(spkiKey, TAG.BIT_STRING, "SubjectPublicKeyInfo.subjectPublicKey");
  let subjectKeyIdentifier: string | undefined;
  let lastTag = 0;
  for (; i < f.length; i++) {
    const x = f[i] as Tlv;
    const ok = x.tag === ctxTag(1, false) || x.tag === ctxTag(2, false) || x.tag === ctxTag(3, true);
    if (!ok || x.tag <= lastTag) {
      fail("asn1-malformed", `TBSCertificate: unexpected ${tagName(x.tag)} at ${at(x)}`, x.offset);
    }
    lastTag = x.tag;
    if (x.tag === ctxTag(3, true)) {
      const [exts] = childrenCount(x, 1, 1, "TBSCertificate.extensions") as [Tlv];
      expect(exts, TAG.SEQUENCE, "Extensions");
      for (const ext of children(exts)) {
        expect(ext, TAG.SEQUENCE, "Extension");
        const e = childrenCount(ext, 2, 3, "Extension");
        const id = readOid(e[0] as Tlv, "Extension.extnID");
        if (e.length === 3) readBoolean(e[1] as Tlv, "Extension.critical");
        const value = readOctetString(e[e.length - 1] as Tlv, "Extension.extnValue");
        if (id === OID.subjectKeyIdentifier) {
          const inner = parseDer(value, (e[e.length - 1] as Tlv).contentOffset, { validate: false });
          subjectKeyIdentifier = toHex(readOctetString(inner, "SubjectKeyIdentifier"));
        }
      }
    }
  }
  return {
    offset: t.offset,
    raw: t.raw,
    version,
    serialNumber: evenHex(serial.value),
    serialNumberBytes: serial.bytes,
    subject: subject.text,
    issuer: issuer.text,
    subjectAttributes: subject.rdns.flat(),
    issuerAttributes: issuer.rdns.flat(),
    subjectCN: subject.cn,
    issuerCN: issuer.cn,
    subjectRaw: subjectTlv.raw,
    issuerRaw: issuerTlv.raw,
    notBefore,
    notAfter,
    signatureAlgorithm: algLabel(signatureAlgorithm),
    publicKeyAlgorithm: algLabel(publicKeyAlgorithm),
    subjectKeyIdentifier,
    selfIssued: bytesEqual(subjectTlv.raw, issuerTlv.raw),
  };
}

/*
 * ContentInfo ::= SEQUENCE {
 *   contentType ContentType,
 *   content [0] EXPLICIT ANY DEFINED BY contentType }
 * ContentType ::= OBJECT IDENTIFIER
 *                                 -- RFC 5652 section 3
 */
function parseContentInfo(t: Tlv, what: string): { contentType: string; content: Tlv } {
  expect(t, TAG.SEQUENCE, what);
  const k = childrenCount(t, 1, 2, what);
  const contentType = readOid(k[0] as Tlv, `${what}.contentType`);
  const wrapper = k[1];
  if (wrapper === undefined) fail("pkcs7-unexpected", `${what} at ${at(t)} has no content`, t.offset);
  expect(wrapper, ctxTag(0, true), `${what}.content`);
  const [content] = childrenCount(wrapper, 1, 1, `${what}.content`) as [Tlv];
  return { contentType, content };
}

interface SignedDataCore {
  version: number;
  digestAlgorithms: string[];
  eContentType: string;
  eContent: Tlv | undefined;
  certificates: CertificateInfo[];
  otherCertificateCount: number;
  crlCount: number;
  signerInfos: Tlv[];
}

/*
 * SignedData ::= SEQUENCE {
 *   version CMSVersion,
 *   digestAlgorithms DigestAlgorithmIdentifiers,
 *   encapContentInfo EncapsulatedContentInfo,
 *   certificates [0] IMPLICIT CertificateSet OPTIONAL,
 *   crls [1] IMPLICIT RevocationInfoChoices OPTIONAL,
 *   signerInfos SignerInfos }
 * DigestAlgorithmIdentifiers ::= SET OF DigestAlgorithmIdentifier
 * SignerInfos ::= SET OF SignerInfo
 *
 * EncapsulatedContentInfo ::= SEQUENCE {
 *   eContentType ContentType,
 *   eContent [0] EXPLICIT OCTET STRING OPTIONAL }
 *
 * CertificateSet ::= SET OF CertificateChoices
 * CertificateChoices ::= CHOICE {
 *   certificate Certificate,
 *   extendedCertificate [0] IMPLICIT ExtendedCertificate,  -- Obsolete
 *   v1AttrCert [1] IMPLICIT AttributeCertificateV1,        -- Obsolete
 *   v2AttrCert [2] IMPLICIT AttributeCertificateV2,
 *   other [3] IMPLICIT OtherCertificateFormat }
 *                                 -- RFC 5652 sections 5.1, 5.2, 10.2.2
 *
 * (Authenticode puts SpcIndirectDataContent in eContent directly, not inside
 * an OCTET STRING; both forms are accepted here.)
 */
function parseSignedData(t: Tlv, what: string): SignedDataCore {
  expect(t, TAG.SEQUENCE, what);
  const f = children(t);
  if (f.length < 4) fail("asn1-malformed", `${what} at ${at(t)} has ${f.length} element(s), expected at least 4`, t.offset);
  const version = readSmallInt(f[0] as Tlv, `${what}.version`);
  const algSet = expect(f[1] as Tlv, TAG.SET, `${what}.digestAlgorithms`);
  const digestAlgorithms = children(algSet).map((a) => parseAlgorithmIdentifier(a, "DigestAlgorithmIdentifier").oid);
  const eci = expect(f[2] as Tlv, TAG.SEQUENCE, `${what}.encapContentInfo`);
  const e = childrenCount(eci, 1, 2, "EncapsulatedContentInfo");
  const eContentType = readOid(e[0] as Tlv, "EncapsulatedContentInfo.eContentType");
  let eContent: Tlv | undefined;
  if (e[1] !== undefined) {
    expect(e[1], ctxTag(0, true), "EncapsulatedContentInfo.eContent");
    [eContent] = childrenCount(e[1], 1, 1, "EncapsulatedContentInfo.eContent") as [Tlv];
  }
  let i = 3;
  const certificates: CertificateInfo[] = [];
  let otherCertificateCount = 0;
  let crlCount = 0;
  if ((f[i] as Tlv).tag === ctxTag(0, true)) {
    for (const c of children(f[i] as Tlv)) {
      if (c.tag === TAG.SEQUENCE) certificates.push(parseCertificate(c));
      else if (c.tag >= ctxTag(0, true) && c.tag <= ctxTag(3, true)) otherCertificateCount++;
      else fail("asn1-malformed", `CertificateChoices: unexpected ${tagName(c.tag)} at ${at(c)}`, c.offset);
    }
    i++;
  }
  if (f[i] !== undefined && (f[i] as Tlv).tag === ctxTag(1, true)) {
    crlCount = children(f[i] as Tlv).length;
    i++;
  }
  const si = f[i];
  if (si === undefined) fail("asn1-malformed", `${what} at ${at(t)} has no signerInfos`, t.offset);
  expect(si, TAG.SET, `${what}.signerInfos`);
  if (i !== f.length - 1) {
    const extra = f[i + 1] as Tlv;
    fail("asn1-malformed", `${what}: unexpected ${tagName(extra.tag)} at ${at(extra)} after signerInfos`, extra.offset);
  }
  return {
    version,
    digestAlgorithms,
    eContentType,
    eContent,
    certificates,
    otherCertificateCount,
    crlCount,
    signerInfos: children(si),
  };
}

/*
 * Attribute ::= SEQUENCE {
 *   attrType OBJECT IDENTIFIER,
 *   attrValues SET OF AttributeValue }
 * AttributeValue ::= ANY
 *                                 -- RFC 5652 section 5.3
 */
function parseAttributes(t: Tlv, what: string): { type: string; values: Tlv[]; offset: number }[] {
  const out: { type: string; values: Tlv[]; offset: number }[] = [];
  for (const a of children(t)) {
    expect(a, TAG.SEQUENCE, `${what} Attribute`);
    const [typeTlv, valuesTlv] = childrenCount(a, 2, 2, `${what} Attribute`) as [Tlv, Tlv];
    const type = readOid(typeTlv, `${what} attrType`);
    expect(valuesTlv, TAG.SET, `${what} attrValues`);
    out.push({ type, values: children(valuesTlv), offset: a.offset });
  }
  return out;
}

function single(attr: { type: string; values: Tlv[]; offset: number }, what: string): Tlv {
  if (attr.values.length !== 1) {
    fail("pkcs7-unexpected", `${what} attribute at 0x${attr.offset.toString(16)} has ${attr.values.length} values, expected 1`, attr.offset);
  }
  return attr.values[0] as Tlv;
}

/** Reads an implicitly tagged string by reinterpreting its tag as `asTag`. */
function implicitString(t: Tlv, asTag: number, what: string): string {
  if (t.constructed) fail("asn1-malformed", `${what} at ${at(t)} must be primitive`, t.offset);
  return readString({ ...t, tag: asTag, tagClass: "universal", tagNumber: asTag }, what);
}

/*
 * SpcString ::= CHOICE {
 *     unicode                 [0] IMPLICIT BMPSTRING,
 *     ascii                   [1] IMPLICIT IA5STRING
 * }
 *                                 -- Authenticode PE specification
 */
function parseSpcString(t: Tlv, what: string): string {
  if (t.tag === ctxTag(0, false)) return implicitString(t, TAG.BMP_STRING, what);
  if (t.tag === ctxTag(1, false)) return implicitString(t, TAG.IA5_STRING, what);
  return fail("asn1-malformed", `${what}: unexpected ${tagName(t.tag)} at ${at(t)} in SpcString`, t.offset);
}

/*
 * SpcSpOpusInfo ::= SEQUENCE {
 *     programName             [0] EXPLICIT SpcString OPTIONAL,
 *     moreInfo                [1] EXPLICIT SpcLink OPTIONAL,
 * } --#public--
 *
 * SpcLink ::= CHOICE {
 *     url                     [0] IMPLICIT IA5STRING,
 *     moniker                 [1] IMPLICIT SpcSerializedObject,
 *     file                    [2] EXPLICIT SpcString
 * } --#public--
 *                                 -- Authenticode PE specification
 */
function parseOpusInfo(t: Tlv): { programName: string | undefined; moreInfoUrl: string | undefined } {
  expect(t, TAG.SEQUENCE, "SpcSpOpusInfo");
  let programName: string | undefined;
  let moreInfoUrl: string | undefined;
  for (const x of childrenCount(t, 0, 2, "SpcSpOpusInfo")) {
    if (x.tag === ctxTag(0, true) && programName === undefined && moreInfoUrl === undefined) {
      const [s] = childrenCount(x, 1, 1, "SpcSpOpusInfo.programName") as [Tlv];
      programName = parseSpcString(s, "SpcSpOpusInfo.programName");
    } else if (x.tag === ctxTag(1, true) && moreInfoUrl === undefined) {
      const [link] = childrenCount(x, 1, 1, "SpcSpOpusInfo.moreInfo") as [Tlv];
      if (link.tag === ctxTag(0, false)) moreInfoUrl = implicitString(link, TAG.IA5_STRING, "SpcLink.url");
      else if (link.tag === ctxTag(2, true)) {
        const [s] = childrenCount(link, 1, 1, "SpcLink.file") as [Tlv];
        moreInfoUrl = parseSpcString(s, "SpcLink.file");
      } else if (link.tag !== ctxTag(1, true)) {
        fail("asn1-malformed", `SpcLink: unexpected ${tagName(link.tag)} at ${at(link)}`, link.offset);
      }
    } else {
      fail("asn1-malformed", `SpcSpOpusInfo: unexpected ${tagName(x.tag)} at ${at(x)}`, x.offset);
    }
  }
  return { programName, moreInfoUrl };
}

/*
 * SignerInfo ::= SEQUENCE {
 *   version CMSVersion,
 *   sid SignerIdentifier,
 *   digestAlgorithm DigestAlgorithmIdentifier,
 *   signedAttrs [0] IMPLICIT SignedAttributes OPTIONAL,
 *   signatureAlgorithm SignatureAlgorithmIdentifier,
 *   signature SignatureValue,
 *   unsignedAttrs [1] IMPLICIT UnsignedAttributes OPTIONAL }
 *
 * SignerIdentifier ::= CHOICE {
 *   issuerAndSerialNumber IssuerAndSerialNumber,
 *   subjectKeyIdentifier [0] SubjectKeyIdentifier }
 *
 * SignedAttributes ::= SET SIZE (1..MAX) OF Attribute
 * UnsignedAttributes ::= SET SIZE (1..MAX) OF Attribute
 * SignatureValue ::= OCTET STRING
 *
 * IssuerAndSerialNumber ::= SEQUENCE {
 *   issuer Name,
 *   serialNumber CertificateSerialNumber }
 *                                 -- RFC 5652 sections 5.3, 10.2.4
 */
function parseSignerInfo(t: Tlv, certs: CertificateInfo[], ctx: Ctx, nesting: number): SignerSummary {
  expect(t, TAG.SEQUENCE, "SignerInfo");
  const f = childrenCount(t, 5, 7, "SignerInfo");
  const version = readSmallInt(f[0] as Tlv, "SignerInfo.version");
  const sid = f[1] as Tlv;
  let issuer: string | undefined;
  let issuerRaw: Uint8Array | undefined;
  let serialNumber: string | undefined;
  let subjectKeyIdentifier: string | undefined;
  let certificateIndex = -1;
  if (sid.tag === TAG.SEQUENCE) {
    const [nameTlv, serialTlv] = childrenCount(sid, 2, 2, "IssuerAndSerialNumber") as [Tlv, Tlv];
    issuer = parseNameIn(nameTlv, "IssuerAndSerialNumber.issuer", DER_LAYER).text;
    issuerRaw = nameTlv.raw;
    const serial = readInteger(serialTlv, "IssuerAndSerialNumber.serialNumber");
    serialNumber = evenHex(serial.value);
    certificateIndex = certs.findIndex(
      (c) => bytesEqual(c.issuerRaw, nameTlv.raw) && bytesEqual(c.serialNumberBytes, serial.bytes),
    );
  } else if (sid.tag === ctxTag(0, false)) {
    subjectKeyIdentifier = toHex(sid.content);
    certificateIndex = certs.findIndex((c) => c.subjectKeyIdentifier === subjectKeyIdentifier);
  } else {
    fail("asn1-malformed", `SignerIdentifier: unexpected ${tagName(sid.tag)} at ${at(sid)}`, sid.offset);
  }
  const digestAlgorithmOid = parseAlgorithmIdentifier(f[2] as Tlv, "SignerInfo.digestAlgorithm").oid;
  let i = 3;
  let signedAttrs: Tlv | undefined;
  if ((f[i] as Tlv).tag === ctxTag(0, true)) signedAttrs = f[i++];
  const sigAlgTlv = f[i++];
  const sigTlv = f[i++];
  if (sigAlgTlv === undefined || sigTlv === undefined) {
    fail("asn1-malformed", `SignerInfo at ${at(t)}: missing signatureAlgorithm or signature`, t.offset);
  }
  const signatureAlgorithmOid = parseAlgorithmIdentifier(sigAlgTlv, "SignerInfo.signatureAlgorithm").oid;
  const signature = readOctetString(sigTlv, "SignerInfo.signature");
  let unsignedAttrs: Tlv | undefined;
  if (f[i] !== undefined) {
    unsignedAttrs = expect(f[i] as Tlv, ctxTag(1, true), "SignerInfo.unsignedAttrs");
    i++;
  }
  if (i !== f.length) {
    const extra = f[i] as Tlv;
    fail("asn1-malformed", `SignerInfo: unexpected ${tagName(extra.tag)} at ${at(extra)}`, extra.offset);
  }

  // [0] IMPLICIT SET OF: the generic walker cannot know it is a SET, so check DER order here.
  const signedAttrsSorted = signedAttrs === undefined || isSetOfSorted(children(signedAttrs));
  if (!signedAttrsSorted && signedAttrs !== undefined) {
    noteNotDer(ctx, `signedAttrs at ${at(signedAttrs)} are not in DER SET OF order`, signedAttrs.offset);
  }

  const signedAttributeTypes: string[] = [];
  let contentType: string | undefined;
  let messageDigest: Uint8Array | undefined;
  let signingTime: Date | undefined;
  let programName: string | undefined;
  let moreInfoUrl: string | undefined;
  if (signedAttrs !== undefined) {
    for (const a of parseAttributes(signedAttrs, "signedAttrs")) {
      signedAttributeTypes.push(a.type);
      switch (a.type) {
        case OID.contentType:
          contentType = readOid(single(a, "contentType"), "contentType attribute");
          break;
        case OID.messageDigest:
          messageDigest = readOctetString(single(a, "messageDigest"), "messageDigest attribute");
          break;
        case OID.signingTime:
          signingTime = readTime(single(a, "signingTime"), "signingTime attribute");
          break;
        case OID.spcSpOpusInfo:
          ({ programName, moreInfoUrl } = parseOpusInfo(single(a, "SpcSpOpusInfo")));
          break;
        default:
          break;
      }
    }
  }

  const unsignedAttributeTypes: string[] = [];
  let nestedSignatureCount = 0;
  const nestedSignatures: AuthenticodeInfo[] = [];
  let hasCounterSignature = false;
  let hasRfc3161Timestamp = false;
  const timestamps: TimestampInfo[] = [];
  if (unsignedAttrs !== undefined) {
    for (const a of parseAttributes(unsignedAttrs, "unsignedAttrs")) {
      unsignedAttributeTypes.push(a.type);
      if (a.type === OID.nestedSignature) {
        nestedSignatureCount += a.values.length;
        for (const v of a.values) {
          checkNesting(v, nesting, ctx);
          nestedSignatures.push(parseAuthenticode(v, ctx, nesting + 1));
        }
      } else if (a.type === OID.counterSignature) {
        hasCounterSignature = true;
        for (const v of a.values) {
          checkNesting(v, nesting, ctx);
          const cs = parseSignerInfo(v, certs, ctx, nesting + 1);
          timestamps.push({
            kind: "counterSignature",
            offset: v.offset,
            time: cs.signingTime,
            signerCN: cs.signerCN,
            digestAlgorithm: cs.digestAlgorithm,
          });
        }
      } else if (a.type === OID.rfc3161Timestamp) {
        hasRfc3161Timestamp = true;
        for (const v of a.values) {
          checkNesting(v, nesting, ctx);
          timestamps.push(parseRfc3161(v, ctx, nesting + 1));
        }
      }
    }
  }

  const cert = certificateIndex >= 0 ? certs[certificateIndex] : undefined;
  return {
    offset: t.offset,
    version,
    issuer,
    issuerRaw,
    serialNumber,
    subjectKeyIdentifier,
    certificateIndex,
    signerCN: cert?.subjectCN,
    digestAlgorithm: digestLabel(digestAlgorithmOid),
    digestAlgorithmOid,
    signatureAlgorithm: algLabel(signatureAlgorithmOid),
    signatureAlgorithmOid,
    signature,
    signedAttrsRaw: signedAttrs?.raw,
    signedAttrsOffset: signedAttrs?.offset ?? -1,
    signedAttrsSorted,
    signedAttributeTypes,
    contentType,
    messageDigest,
    signingTime,
    programName,
    moreInfoUrl,
    hasUnsignedAttrs: unsignedAttrs !== undefined,
    unsignedAttributeTypes,
    nestedSignatureCount,
    nestedSignatures,
    hasCounterSignature,
    hasRfc3161Timestamp,
    timestamps,
  };
}

function checkNesting(t: Tlv, nesting: number, ctx: Ctx): void {
  if (nesting >= ctx.maxNesting) {
    fail("limit", `signatures nested deeper than ${ctx.maxNesting} levels at ${at(t)}`, t.offset);
  }
}

/*
 * The value of the 1.3.6.1.4.1.311.3.3.1 attribute is an RFC 3161
 * TimeStampToken: a ContentInfo with SignedData whose eContent is TSTInfo.
 *
 * TSTInfo ::= SEQUENCE  {
 *    version                      INTEGER  { v1(1) },
 *    policy                       TSAPolicyId,
 *    messageImprint               MessageImprint,
 *    serialNumber                 INTEGER,
 *    genTime                      GeneralizedTime,
 *    accuracy                     Accuracy                 OPTIONAL,
 *    ordering                     BOOLEAN             DEFAULT FALSE,
 *    nonce                        INTEGER                  OPTIONAL,
 *    tsa                          [0] GeneralName          OPTIONAL,
 *    extensions                   [1] IMPLICIT Extensions   OPTIONAL  }
 *                                 -- RFC 3161 section 2.4.2
 */
function parseRfc3161(t: Tlv, ctx: Ctx, nesting: number): TimestampInfo {
  const ci = parseContentInfo(t, "TimeStampToken");
  if (ci.contentType !== OID.signedData) {
    fail("pkcs7-unexpected", `TimeStampToken at ${at(t)}: content type ${ci.contentType} is not signedData`, t.offset);
  }
  const sd = parseSignedData(ci.content, "TimeStampToken SignedData");
  if (sd.eContentType !== OID.tstInfo || sd.eContent === undefined) {
    fail("pkcs7-unexpected", `TimeStampToken at ${at(t)}: eContent is not TSTInfo`, t.offset);
  }
  const octets = readOctetString(sd.eContent, "TimeStampToken eContent");
  const tst = parseDer(octets, sd.eContent.contentOffset, { validate: false, ...sd.eContent.limits });
  checkDer(tst, ctx);
  expect(tst, TAG.SEQUENCE, "TSTInfo");
  const tf = children(tst);
  const genTimeTlv = tf[4];
  if (genTimeTlv === undefined) fail("asn1-malformed", `TSTInfo at ${at(tst)} has no genTime`, tst.offset);
  const time = readTime(expect(genTimeTlv, TAG.GENERALIZED_TIME, "TSTInfo.genTime"), "TSTInfo.genTime");
  const signers = sd.signerInfos.map((s) => parseSignerInfo(s, sd.certificates, ctx, nesting));
  const first = signers[0];
  return {
    kind: "rfc3161",
    offset: t.offset,
    time,
    signerCN: first?.signerCN,
    digestAlgorithm: first?.digestAlgorithm,
  };
}

/*
 * SpcIndirectDataContent ::= SEQUENCE {
 *     data                    SpcAttributeTypeAndOptionalValue,
 *     messageDigest           DigestInfo
 * } --#public--
 *
 * SpcAttributeTypeAndOptionalValue ::= SEQUENCE {
 *     type                    ObjectID,
 *     value                   [0] EXPLICIT ANY OPTIONAL
 * }
 *
 * DigestInfo ::= SEQUENCE {
 *     digestAlgorithm     AlgorithmIdentifier,
 *     digest              OCTETSTRING
 * }
 *                                 -- Authenticode PE specification
 *
 * (Despite the "[0] EXPLICIT", signers encode `value` untagged, e.g. the
 * SpcPeImageData SEQUENCE directly; any single value is accepted.)
 */
function parseSpcIndirectData(t: Tlv): {
  dataType: string;
  digestAlgorithmOid: string;
  digest: Uint8Array;
  digestOffset: number;
} {
  expect(t, TAG.SEQUENCE, "SpcIndirectDataContent");
  const [data, md] = childrenCount(t, 2, 2, "SpcIndirectDataContent") as [Tlv, Tlv];
  expect(data, TAG.SEQUENCE, "SpcAttributeTypeAndOptionalValue");
  const d = childrenCount(data, 1, 2, "SpcAttributeTypeAndOptionalValue");
  const dataType = readOid(d[0] as Tlv, "SpcAttributeTypeAndOptionalValue.type");
  expect(md, TAG.SEQUENCE, "DigestInfo");
  const [algTlv, digestTlv] = childrenCount(md, 2, 2, "DigestInfo") as [Tlv, Tlv];
  const digestAlgorithmOid = parseAlgorithmIdentifier(algTlv, "DigestInfo.digestAlgorithm").oid;
  const digest = readOctetString(digestTlv, "DigestInfo.digest");
  const name = digestNameOf(digestAlgorithmOid);
  if (name !== undefined && DIGEST_SIZES[name] !== digest.length) {
    fail(
      "pkcs7-unexpected",
      `DigestInfo at ${at(md)}: ${name} digest is ${digest.length} bytes, expected ${DIGEST_SIZES[name]}`,
      digestTlv.offset,
    );
  }
  return { dataType, digestAlgorithmOid, digest, digestOffset: digestTlv.contentOffset };
}

/** Parses a ContentInfo TLV as an Authenticode signature (no DER walk, no trailing check). */
function parseAuthenticode(t: Tlv, ctx: Ctx, nesting: number): AuthenticodeInfo {
  const ci = parseContentInfo(t, "ContentInfo");
  if (ci.contentType !== OID.signedData) {
    fail("pkcs7-unexpected", `ContentInfo at ${at(t)}: content type ${ci.contentType} is not signedData`, t.offset);
  }
  const sd = parseSignedData(ci.content, "SignedData");
  if (sd.eContentType !== OID.spcIndirectDataContent) {
    fail(
      "pkcs7-unexpected",
      `SignedData at ${at(ci.content)}: eContentType ${sd.eContentType} is not SpcIndirectDataContent`,
      ci.content.offset,
    );
  }
  if (sd.eContent === undefined) {
    fail("pkcs7-unexpected", `SignedData at ${at(ci.content)}: no eContent (detached signature)`, ci.content.offset);
  }
  let spc = sd.eContent;
  let eContentWrapped = false;
  if (spc.tag === TAG.OCTET_STRING) {
    eContentWrapped = true;
    spc = parseDer(spc.content, spc.contentOffset, { validate: false, ...spc.limits });
    checkDer(spc, ctx);
  }
  const spcInfo = parseSpcIndirectData(spc);
  const signerInfos = sd.signerInfos;
  if (signerInfos.length === 0) {
    fail("pkcs7-unexpected", `SignedData at ${at(ci.content)} has no SignerInfo`, ci.content.offset);
  }
  const signers = signerInfos.map((s) => parseSignerInfo(s, sd.certificates, ctx, nesting));
  return {
    offset: t.offset,
    length: t.end - t.offset,
    der: true,
    derIssue: undefined,
    trailingBytes: 0,
    trailingNonZero: false,
    signedDataVersion: sd.version,
    digestAlgorithms: sd.digestAlgorithms.map(digestLabel),
    contentType: sd.eContentType,
    eContentWrapped,
    spcIndirectDataRaw: spc.raw,
    signedContent: spc.content,
    dataType: spcInfo.dataType,
    digestAlgorithm: digestLabel(spcInfo.digestAlgorithmOid),
    digestAlgorithmOid: spcInfo.digestAlgorithmOid,
    digest: spcInfo.digest,
    digestOffset: spcInfo.digestOffset,
    certificates: sd.certificates,
    otherCertificateCount: sd.otherCertificateCount,
    crlCount: sd.crlCount,
    signers,
  };
}

/**
 * Reads an Authenticode signature: the `bCertificate` bytes of a
 * `WIN_CERTIFICATE` (a ContentInfo wrapping SignedData wrapping
 * SpcIndirectDataContent). Nothing is verified.
 *
 * The first DER value is parsed; bytes after it (WIN_CERTIFICATE padding is
 * included in dwLength in real files) are reported in `trailingBytes` /
 * `trailingNonZero` rather than rejected, unless `opts.strict`.
 *
 * @param pkcs7 The signature bytes.
 * @param base Absolute offset of `pkcs7[0]` in the outermost input (for errors and offsets).
 * @param opts See {@link ReadAuthenticodeOptions}.
 * @throws KimageError `truncated`, `asn1-malformed`, `asn1-not-der` for bad
 *   encodings; `pkcs7-unexpected` when the structure is not Authenticode
 *   SignedData; `limit` for oversized or too deeply nested input;
 *   `asn1-trailing-bytes` in strict mode.
 */
export function readAuthenticodeInfo(
  pkcs7: Uint8Array,
  base = 0,
  opts: ReadAuthenticodeOptions = {},
): AuthenticodeInfo {
  const strict = opts.strict ?? false;
  const top = readTlv(pkcs7, 0, { base });
  const trailingBytes = base + pkcs7.length - top.end;
  let trailingNonZero = false;
  for (let i = top.end - base; i < pkcs7.length; i++) {
    if (pkcs7[i] !== 0) {
      trailingNonZero = true;
      break;
    }
  }
  if (strict && trailingBytes > 0) {
    fail("asn1-trailing-bytes", `${trailingBytes} byte(s) follow the PKCS#7 DER value ending at 0x${top.end.toString(16)}`, top.end);
  }
  // Structure first (throws on anything unreadable), then the DER content rules.
  const ctx: Ctx = { strict, maxNesting: opts.maxNesting ?? 4, derIssue: undefined };
  checkDer(top, ctx);
  const info = parseAuthenticode(top, ctx, 0);
  const der = ctx.derIssue === undefined && trailingBytes === 0;
  const mark = (i: AuthenticodeInfo): void => {
    i.der = der;
    i.derIssue = ctx.derIssue;
    for (const s of i.signers) for (const n of s.nestedSignatures) mark(n);
  };
  mark(info);
  info.trailingBytes = trailingBytes;
  info.trailingNonZero = trailingNonZero;
  return info;
}
