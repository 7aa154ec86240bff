/**
 * Reads what an Authenticode signature says, without verifying anything: the
 * description reader of the CMS model (`authenticode.ts`).
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
 * `KimageError` is thrown, with layer `"pkcs7"`.
 *
 * @module
 */

import { oidLabel } from "../asn1/oids.js";
import { parseAuthenticode, type AuthenticodeSignature, type AuthenticodeSigner, type AuthenticodeTimestamp, type ReadAuthenticodeOptions } from "./authenticode.js";
import type { ParsedCertificate } from "./certificate.js";
import { authenticodeDigestLabel, type DigestAlgorithm, type NameAttribute } from "./names.js";
import { signerCertificateIndex } from "./signer-info.js";

export type { AuthenticodeDigestName, DigestAlgorithm } from "./names.js";
export type { ReadAuthenticodeOptions } from "./authenticode.js";

export type { NameAttribute } from "./names.js";

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


/** The description of one certificate. */
function describeCertificate(c: ParsedCertificate): CertificateInfo {
  return {
    offset: c.offset,
    raw: c.raw,
    version: c.version,
    serialNumber: c.serialNumber,
    serialNumberBytes: c.serialBytes,
    subject: c.subject,
    issuer: c.issuer,
    subjectAttributes: c.subjectName.rdns.flat(),
    issuerAttributes: c.issuerName.rdns.flat(),
    subjectCN: c.subjectName.cn,
    issuerCN: c.issuerName.cn,
    subjectRaw: c.subjectRaw,
    issuerRaw: c.issuerRaw,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    signatureAlgorithm: oidLabel(c.signatureAlgorithmOid),
    publicKeyAlgorithm: oidLabel(c.publicKeyAlgorithmOid),
    subjectKeyIdentifier: c.subjectKeyIdentifier,
    selfIssued: c.selfIssued,
  };
}

/** The subject CN of the certificate a signer names, if it is among `certs`. */
function signerCN(s: AuthenticodeSigner, certs: readonly ParsedCertificate[]): string | undefined {
  const i = signerCertificateIndex(s.signerInfo, certs);
  return i >= 0 ? certs[i]?.subjectName.cn : undefined;
}

function describeTimestamp(t: AuthenticodeTimestamp): TimestampInfo {
  const first = t.signers[0];
  return {
    kind: t.kind,
    offset: t.offset,
    time: t.time,
    signerCN: first === undefined ? undefined : signerCN(first, t.certificates),
    digestAlgorithm: first === undefined ? undefined : authenticodeDigestLabel(first.signerInfo.digestAlgorithmOid),
  };
}

function describeSigner(s: AuthenticodeSigner, certs: readonly ParsedCertificate[]): SignerSummary {
  const si = s.signerInfo;
  const certificateIndex = signerCertificateIndex(si, certs);
  return {
    offset: si.offset,
    version: si.version,
    issuer: si.issuer,
    issuerRaw: si.issuerRaw,
    serialNumber: si.serialNumber,
    subjectKeyIdentifier: si.subjectKeyIdentifier,
    certificateIndex,
    signerCN: signerCN(s, certs),
    digestAlgorithm: authenticodeDigestLabel(si.digestAlgorithmOid),
    digestAlgorithmOid: si.digestAlgorithmOid,
    signatureAlgorithm: oidLabel(si.signatureAlgorithmOid),
    signatureAlgorithmOid: si.signatureAlgorithmOid,
    signature: si.signature,
    signedAttrsRaw: si.signedAttrsRaw,
    signedAttrsOffset: si.signedAttrsOffset,
    signedAttrsSorted: si.signedAttrsSorted,
    signedAttributeTypes: si.signedAttributeTypes,
    contentType: si.contentType,
    messageDigest: si.messageDigest,
    signingTime: si.signingTime,
    programName: si.programName,
    moreInfoUrl: si.moreInfoUrl,
    hasUnsignedAttrs: si.hasUnsignedAttrs,
    unsignedAttributeTypes: si.unsignedAttributes.map((a) => a.type),
    nestedSignatureCount: s.nestedSignatureCount,
    nestedSignatures: s.nestedSignatures.map(describe),
    hasCounterSignature: s.hasCounterSignature,
    hasRfc3161Timestamp: s.hasRfc3161Timestamp,
    timestamps: s.timestamps.map(describeTimestamp),
  };
}

/** The description of a parsed Authenticode signature. */
function describe(sig: AuthenticodeSignature): AuthenticodeInfo {
  const sd = sig.signedData;
  return {
    offset: sig.offset,
    length: sig.length,
    der: sig.der,
    derIssue: sig.derIssue,
    trailingBytes: sig.trailingBytes,
    trailingNonZero: sig.trailingNonZero,
    signedDataVersion: sd.version,
    digestAlgorithms: sd.digestAlgorithmOids.map(authenticodeDigestLabel),
    contentType: sd.eContentType,
    eContentWrapped: sig.eContentWrapped,
    spcIndirectDataRaw: sig.spc.raw,
    signedContent: sig.spc.content,
    dataType: sig.spc.dataType,
    digestAlgorithm: authenticodeDigestLabel(sig.spc.digestAlgorithmOid),
    digestAlgorithmOid: sig.spc.digestAlgorithmOid,
    digest: sig.spc.digest,
    digestOffset: sig.spc.digestOffset,
    certificates: sd.certificates.map(describeCertificate),
    otherCertificateCount: sd.otherCertificateCount,
    crlCount: sd.crlCount,
    signers: sig.signers.map((s) => describeSigner(s, sd.certificates)),
  };
}

/**
 * Reads an Authenticode signature: the `bCertificate` bytes of a
 * `WIN_CERTIFICATE` (a ContentInfo wrapping SignedData wrapping
 * SpcIndirectDataContent). Nothing is verified: this is the description of
 * what {@link parseAuthenticode} parsed.
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
export function readAuthenticodeInfo(pkcs7: Uint8Array, base = 0, opts: ReadAuthenticodeOptions = {}): AuthenticodeInfo {
  return describe(parseAuthenticode(pkcs7, base, opts));
}
