/**
 * ContentInfo and SignedData (RFC 5652 sections 3 and 5): the envelope of
 * every signature kimage reads. The certificates are parsed here, once,
 * into the certificate model; the SignerInfos are handed back as TLVs for
 * the reader to parse after the content (so that errors surface in the
 * order of the message: content first, then signers).
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { TAG, children, childrenCount, ctxTag, expect, readOctetString, readOid, readSmallInt, tagName, type Tlv } from "../asn1/der.js";
import { OID } from "../asn1/oids.js";
import { readCertificate, unreadableCertificate, type ParsedCertificate } from "./certificate.js";
import { X509_LAYER, asLayer, at, fail, type CmsDialect } from "./errors.js";
import { parseAlgorithmIdentifier } from "./names.js";

/*
 * ContentInfo ::= SEQUENCE {
 *   contentType ContentType,
 *   content [0] EXPLICIT ANY DEFINED BY contentType }
 * ContentType ::= OBJECT IDENTIFIER
 *                                 -- RFC 5652 section 3
 */
/**
 * Reads a ContentInfo that must hold SignedData and returns its content
 * (the SignedData TLV, not yet checked). `what` names the ContentInfo in
 * messages (`ContentInfo`, `TimeStampToken`).
 *
 * @throws KimageError `asn1-malformed` for a bad structure;
 *   `pkcs7-unexpected` when the content is missing or not signedData.
 */
export function readSignedDataContentInfo(t: Tlv, what: string, dialect: CmsDialect): Tlv {
  expect(t, TAG.SEQUENCE, what);
  const k = childrenCount(t, dialect === "cms" ? 2 : 1, 2, what);
  const ctTlv = k[0] as Tlv;
  const contentType = readOid(ctTlv, `${what}.contentType`);
  if (dialect === "cms" && contentType !== OID.signedData) {
    fail("pkcs7-unexpected", `${what} content type ${contentType} is not signedData`, ctTlv.offset);
  }
  const wrapper = k[1];
  if (wrapper === undefined) fail("pkcs7-unexpected", `${what} at ${at(t)} has no content`, t.offset);
  expect(wrapper, ctxTag(0, true), `${what}.content`);
  const [content] = childrenCount(wrapper, 1, 1, `${what}.content`) as [Tlv];
  if (contentType !== OID.signedData) {
    fail("pkcs7-unexpected", `${what} at ${at(t)}: content type ${contentType} is not signedData`, t.offset);
  }
  return content;
}

/** A parsed SignedData. */
export interface SignedData {
  /** Absolute offset of the SignedData SEQUENCE. */
  offset: number;
  /** CMSVersion. */
  version: number;
  /** Dotted OIDs of digestAlgorithms, in order. */
  digestAlgorithmOids: string[];
  /** encapContentInfo.eContentType. */
  eContentType: string;
  /**
   * The value inside `eContent [0] EXPLICIT` (undefined for a detached
   * signature): an OCTET STRING in CMS, the SpcIndirectDataContent SEQUENCE
   * itself in most Authenticode signatures.
   */
  eContent: Tlv | undefined;
  /** The X.509 certificates (CertificateChoices `certificate`), in order. */
  certificates: ParsedCertificate[];
  /** Number of other CertificateChoices (skipped). */
  otherCertificateCount: number;
  /** Number of revocation entries in `crls`. */
  crlCount: number;
  /** The SignerInfo TLVs, in order (read them with `readSignerInfo`). */
  signerInfos: Tlv[];
}

/** Options of {@link readSignedData}. */
export interface ReadSignedDataOptions {
  /** Which reader's wording and leniency to use (see {@link CmsDialect}). */
  dialect: CmsDialect;
  /**
   * `authenticode` dialect: check each certificate's DER content rules too
   * (needed when the message as a whole was not found to be DER).
   */
  checkCertificateDer?: boolean;
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
 * an OCTET STRING; the `authenticode` dialect accepts both forms and leaves
 * eContent to its reader, the `cms` dialect requires the OCTET STRING.)
 */
/**
 * Reads SignedData. `what` names it in messages (`SignedData`,
 * `TimeStampToken SignedData`). Certificates are read leniently in the
 * `authenticode` dialect and strictly in the `cms` dialect, where a
 * certificate that fails is kept with its `problem` (and CertificateChoices
 * other than `certificate` are skipped silently).
 *
 * @throws KimageError `asn1-malformed`, `asn1-not-der`, `limit` for a bad
 *   structure (and for the structure of a certificate the description needs,
 *   in the `authenticode` dialect).
 */
export function readSignedData(t: Tlv, what: string, opts: ReadSignedDataOptions): SignedData {
  const cms = opts.dialect === "cms";
  expect(t, TAG.SEQUENCE, what);
  const f = children(t);
  if (f.length < 4) fail("asn1-malformed", `${what} at ${at(t)} has ${f.length} element(s), expected at least 4`, t.offset);
  const version = readSmallInt(f[0] as Tlv, `${what}.version`);
  const algSet = expect(f[1] as Tlv, TAG.SET, `${what}.digestAlgorithms`);
  const digestAlgorithmOids = children(algSet).map((a) => parseAlgorithmIdentifier(a, "DigestAlgorithmIdentifier").oid);
  const eci = expect(f[2] as Tlv, TAG.SEQUENCE, cms ? "EncapsulatedContentInfo" : `${what}.encapContentInfo`);
  const e = childrenCount(eci, 1, 2, "EncapsulatedContentInfo");
  const eContentType = readOid(e[0] as Tlv, cms ? "eContentType" : "EncapsulatedContentInfo.eContentType");
  let eContent: Tlv | undefined;
  if (e[1] !== undefined) {
    const w = cms ? "eContent" : "EncapsulatedContentInfo.eContent";
    expect(e[1], ctxTag(0, true), w);
    [eContent] = childrenCount(e[1], 1, 1, w) as [Tlv];
    if (cms) readOctetString(eContent, "eContent");
  }
  let i = 3;
  const certificates: ParsedCertificate[] = [];
  let otherCertificateCount = 0;
  let crlCount = 0;
  if ((f[i] as Tlv).tag === ctxTag(0, true)) {
    for (const c of children(f[i] as Tlv)) {
      if (c.tag === TAG.SEQUENCE) certificates.push(cms ? strictCertificate(c) : readCertificate(c, { mode: "lenient", checkDer: opts.checkCertificateDer ?? false }));
      else if (c.tag >= ctxTag(0, true) && c.tag <= ctxTag(3, true)) otherCertificateCount++;
      else if (!cms) fail("asn1-malformed", `CertificateChoices: unexpected ${tagName(c.tag)} at ${at(c)}`, c.offset);
    }
    i++;
  }
  if (f[i] !== undefined && (f[i] as Tlv).tag === ctxTag(1, true)) {
    crlCount = children(f[i] as Tlv).length;
    i++;
  }
  const si = f[i];
  if (cms) {
    if (si === undefined || i !== f.length - 1) fail("asn1-malformed", `${what} at ${at(t)}: signerInfos missing or not last`, t.offset);
    expect(si, TAG.SET, "SignerInfos");
  } else {
    if (si === undefined) fail("asn1-malformed", `${what} at ${at(t)} has no signerInfos`, t.offset);
    expect(si, TAG.SET, `${what}.signerInfos`);
    if (i !== f.length - 1) {
      const extra = f[i + 1] as Tlv;
      fail("asn1-malformed", `${what}: unexpected ${tagName(extra.tag)} at ${at(extra)} after signerInfos`, extra.offset);
    }
  }
  return {
    offset: t.offset,
    version,
    digestAlgorithmOids,
    eContentType,
    eContent,
    certificates,
    otherCertificateCount,
    crlCount,
    signerInfos: children(si),
  };
}

/** A certificate read strictly, under the `x509` layer; a failure is kept as its `problem`. */
function strictCertificate(c: Tlv): ParsedCertificate {
  const t = asLayer(c, X509_LAYER);
  try {
    return readCertificate(t, { mode: "strict" });
  } catch (e) {
    if (!(e instanceof KimageError)) throw e;
    return unreadableCertificate(t, e);
  }
}
