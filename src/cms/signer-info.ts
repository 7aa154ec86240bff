/**
 * SignerInfo (RFC 5652 section 5.3): who signed, with which algorithms,
 * over which signed attributes. Parsed once, for the Authenticode
 * description, the Authenticode verifier and the module-signature verifier
 * alike; the original DER of the signed attributes is kept, since that is
 * what the signature covers.
 *
 * The attributes read here are the ones every reader needs: contentType,
 * messageDigest and signingTime (RFC 5652 section 11) and Authenticode's
 * SpcSpOpusInfo. Unsigned attributes are kept as parsed {@link Attribute}s
 * for the reader that interprets them (nested signatures and timestamps:
 * `authenticode.ts`).
 *
 * @module
 */

import { toHex } from "../core/bytes.js";
import {
  TAG,
  bytesEqual,
  children,
  childrenCount,
  ctxTag,
  expect,
  isSetOfSorted,
  readInteger,
  readOctetString,
  readOid,
  readSmallInt,
  readTime,
  tagName,
  type Tlv,
} from "../asn1/der.js";
import { OID } from "../asn1/oids.js";
import type { ParsedCertificate } from "./certificate.js";
import { X509_LAYER, asLayer, at, fail, type CmsDialect } from "./errors.js";
import { evenHex, parseAlgorithmIdentifier, parseName } from "./names.js";
import { readOpusInfo } from "./spc.js";

/** One Attribute: its type and its values (RFC 5652 section 5.3). */
export interface Attribute {
  /** Dotted OID of attrType. */
  type: string;
  /** The attrValues, in encoding order. */
  values: Tlv[];
  /** Absolute offset of the Attribute SEQUENCE. */
  offset: number;
}

/** A parsed SignerInfo. Byte fields are views of the input. */
export interface SignerInfo {
  /** Absolute offset of the SignerInfo SEQUENCE. */
  offset: number;
  /** CMSVersion: 1 for issuerAndSerialNumber, 3 for subjectKeyIdentifier. */
  version: number;
  /** Issuer (RFC 4514) of the signer certificate when sid is issuerAndSerialNumber. */
  issuer: string | undefined;
  /** DER of that issuer Name. */
  issuerRaw: Uint8Array | undefined;
  /** Serial number as lowercase even hex (`-` prefix if negative) when sid is issuerAndSerialNumber. */
  serialNumber: string | undefined;
  /** The serial number's INTEGER content octets, as encoded. */
  serialNumberBytes: Uint8Array | undefined;
  /** Hex key identifier when sid is `[0] subjectKeyIdentifier`. */
  subjectKeyIdentifier: string | undefined;
  /** Dotted OID of the digest algorithm. */
  digestAlgorithmOid: string;
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
  /**
   * Dotted OIDs of the signed attributes, in order. In the `cms` dialect a
   * contentType, messageDigest or signingTime with n values is listed n
   * times (a verifier counts it as repeated).
   */
  signedAttributeTypes: string[];
  /** The contentType signed attribute. */
  contentType: string | undefined;
  /** The messageDigest signed attribute (subarray). */
  messageDigest: Uint8Array | undefined;
  /** The signingTime signed attribute. */
  signingTime: Date | undefined;
  /** SpcSpOpusInfo.programName, if present (`authenticode` dialect). */
  programName: string | undefined;
  /** SpcSpOpusInfo.moreInfo URL, if present (`authenticode` dialect). */
  moreInfoUrl: string | undefined;
  /** True when `[1] unsignedAttrs` is present. */
  hasUnsignedAttrs: boolean;
  /** The unsigned attributes, in order (`authenticode` dialect; empty in the `cms` dialect, which does not read them). */
  unsignedAttributes: Attribute[];
}

/** Options of {@link readSignerInfo}. */
export interface ReadSignerInfoOptions {
  /** Which reader's wording and leniency to use (see {@link CmsDialect}). */
  dialect: CmsDialect;
  /**
   * Called when the signed attributes are not in DER SET OF order (the
   * generic DER walk cannot know that `[0] IMPLICIT` is a SET OF). May
   * throw (strict readers) or record it.
   */
  notDer?: (message: string, offset: number) => void;
}

/*
 * Attribute ::= SEQUENCE {
 *   attrType OBJECT IDENTIFIER,
 *   attrValues SET OF AttributeValue }
 * AttributeValue ::= ANY
 *                                 -- RFC 5652 section 5.3
 */
function readAttribute(a: Tlv, what: { attribute: string; type: string; values: string }): Attribute {
  expect(a, TAG.SEQUENCE, what.attribute);
  const [typeTlv, valuesTlv] = childrenCount(a, 2, 2, what.attribute) as [Tlv, Tlv];
  const type = readOid(typeTlv, what.type);
  expect(valuesTlv, TAG.SET, what.values);
  return { type, values: children(valuesTlv), offset: a.offset };
}

/**
 * Reads every Attribute of a `[0]` or `[1]` IMPLICIT SET OF Attribute, as
 * the Authenticode reader names them (`signedAttrs Attribute`, ...).
 *
 * @throws KimageError `asn1-malformed` for a bad structure.
 */
export function readAttributes(t: Tlv, what: string): Attribute[] {
  const names = { attribute: `${what} Attribute`, type: `${what} attrType`, values: `${what} attrValues` };
  return children(t).map((a) => readAttribute(a, names));
}

const CMS_ATTRIBUTE = { attribute: "Attribute", type: "Attribute.attrType", values: "Attribute.attrValues" };

/** The one value of an attribute the Authenticode reader requires to be single-valued. */
function single(attr: Attribute, what: string): Tlv {
  if (attr.values.length !== 1) {
    fail("pkcs7-unexpected", `${what} attribute at 0x${attr.offset.toString(16)} has ${attr.values.length} values, expected 1`, attr.offset);
  }
  return attr.values[0] as Tlv;
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
 *
 * ContentType ::= OBJECT IDENTIFIER
 * MessageDigest ::= OCTET STRING
 * SigningTime  ::= Time
 *                                 -- RFC 5652 sections 11.1, 11.2, 11.3
 */
/**
 * Reads a SignerInfo TLV (see {@link ReadSignerInfoOptions}).
 *
 * @throws KimageError `asn1-malformed`, `asn1-not-der` for a bad structure
 *   (the issuer Name of the `cms` dialect names the `x509` layer);
 *   `pkcs7-unexpected` for a multi-valued contentType, messageDigest,
 *   signingTime or SpcSpOpusInfo (`authenticode` dialect).
 */
export function readSignerInfo(t: Tlv, opts: ReadSignerInfoOptions): SignerInfo {
  const cms = opts.dialect === "cms";
  expect(t, TAG.SEQUENCE, "SignerInfo");
  const f = childrenCount(t, 5, 7, "SignerInfo");
  const version = readSmallInt(f[0] as Tlv, "SignerInfo.version");
  const sid = f[1] as Tlv;
  let issuer: string | undefined;
  let issuerRaw: Uint8Array | undefined;
  let serialNumber: string | undefined;
  let serialNumberBytes: Uint8Array | undefined;
  let subjectKeyIdentifier: string | undefined;
  if (sid.tag === TAG.SEQUENCE) {
    const [nameTlv, serialTlv] = childrenCount(sid, 2, 2, "IssuerAndSerialNumber") as [Tlv, Tlv];
    if (cms) {
      // The module-signature reader reads the issuer as a Name of its own (layer x509).
      expect(nameTlv, TAG.SEQUENCE, "IssuerAndSerialNumber.issuer");
      issuer = parseName(asLayer(nameTlv, X509_LAYER), "Name", X509_LAYER).text;
    } else {
      issuer = parseName(nameTlv, "IssuerAndSerialNumber.issuer", t.limits.layer).text;
    }
    issuerRaw = nameTlv.raw;
    const serial = readInteger(serialTlv, "IssuerAndSerialNumber.serialNumber");
    serialNumber = evenHex(serial.value);
    serialNumberBytes = serial.bytes;
  } else if (sid.tag === ctxTag(0, false)) {
    subjectKeyIdentifier = toHex(sid.content);
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
    if (cms) fail("asn1-malformed", `SignerInfo at ${at(t)} has unexpected elements`, t.offset);
    fail("asn1-malformed", `SignerInfo: unexpected ${tagName(extra.tag)} at ${at(extra)}`, extra.offset);
  }

  // [0] IMPLICIT SET OF: the generic walker cannot know it is a SET, so check DER order here.
  const signedAttrsSorted = signedAttrs === undefined || isSetOfSorted(children(signedAttrs));
  if (!signedAttrsSorted && signedAttrs !== undefined) {
    opts.notDer?.(`signedAttrs at ${at(signedAttrs)} are not in DER SET OF order`, signedAttrs.offset);
  }

  const signedAttributeTypes: string[] = [];
  let contentType: string | undefined;
  let messageDigest: Uint8Array | undefined;
  let signingTime: Date | undefined;
  let programName: string | undefined;
  let moreInfoUrl: string | undefined;
  if (signedAttrs !== undefined && cms) {
    for (const a of children(signedAttrs)) {
      const { type, values } = readAttribute(a, CMS_ATTRIBUTE);
      signedAttributeTypes.push(type);
      if (type !== OID.contentType && type !== OID.messageDigest && type !== OID.signingTime) continue;
      // "We permit max one item per AuthenticatedAttribute": a multi-valued one counts as repeated.
      const one = values.length === 1 ? (values[0] as Tlv) : undefined;
      if (one === undefined) for (let k = 1; k < values.length; k++) signedAttributeTypes.push(type);
      else if (type === OID.contentType) contentType = readOid(one, "contentType");
      else if (type === OID.messageDigest) messageDigest = readOctetString(one, "messageDigest");
      else signingTime = readTime(one, "signingTime");
    }
  } else if (signedAttrs !== undefined) {
    for (const a of readAttributes(signedAttrs, "signedAttrs")) {
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
          ({ programName, moreInfoUrl } = readOpusInfo(single(a, "SpcSpOpusInfo")));
          break;
        default:
          break;
      }
    }
  }
  const unsignedAttributes = unsignedAttrs !== undefined && !cms ? readAttributes(unsignedAttrs, "unsignedAttrs") : [];

  return {
    offset: t.offset,
    version,
    issuer,
    issuerRaw,
    serialNumber,
    serialNumberBytes,
    subjectKeyIdentifier,
    digestAlgorithmOid,
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
    unsignedAttributes,
  };
}

/**
 * The index in `certs` of the certificate a SignerInfo names (issuer Name
 * and serial-number octets byte for byte, or subjectKeyIdentifier), or -1.
 * This is the Authenticode description's match; the verifier's is
 * `identifies` (signature/trust.ts).
 */
export function signerCertificateIndex(signer: SignerInfo, certs: readonly ParsedCertificate[]): number {
  const { issuerRaw, serialNumberBytes, subjectKeyIdentifier } = signer;
  if (issuerRaw !== undefined && serialNumberBytes !== undefined) {
    return certs.findIndex((c) => bytesEqual(c.issuerRaw, issuerRaw) && bytesEqual(c.serialBytes, serialNumberBytes));
  }
  if (subjectKeyIdentifier !== undefined) return certs.findIndex((c) => c.subjectKeyIdentifier === subjectKeyIdentifier);
  return -1;
}
