/**
 * The small RFC 5280 pieces every CMS/X.509 structure uses: distinguished
 * names, AlgorithmIdentifier, serial numbers as hex, and the labels kimage
 * prints for algorithm OIDs.
 *
 * @module
 */

import { toHex } from "../core/bytes.js";
import { KimageError } from "../core/errors.js";
import { children, childrenCount, expect, parseDer, readOid, readString, TAG, type Tlv } from "../asn1/der.js";
import { digestNameOf, dnAttributeLabel, OID } from "../asn1/oids.js";
import { X509_LAYER } from "./errors.js";

/** Digest algorithms Authenticode images are hashed with, by name. */
export type AuthenticodeDigestName = "sha1" | "sha256" | "sha384" | "sha512";

/**
 * A digest algorithm: one of {@link AuthenticodeDigestName}, or the dotted
 * OID when it is none of them.
 */
export type DigestAlgorithm = AuthenticodeDigestName | (string & {});

/**
 * The label the Authenticode reader gives a digest OID: its name when it is
 * SHA-1/256/384/512, else the dotted OID (MD5 and SHA-224 included).
 */
export function authenticodeDigestLabel(oid: string): DigestAlgorithm {
  const n = digestNameOf(oid);
  return n === "sha1" || n === "sha256" || n === "sha384" || n === "sha512" ? n : oid;
}

/** One attribute of a distinguished name. */
export interface NameAttribute {
  /** Dotted OID of the attribute type. */
  type: string;
  /** Short label (`CN`, `O`, ...) or the dotted OID when unknown. */
  label: string;
  /** The value as text; `#hex` of the DER when it is not a string type. */
  value: string;
}

/** A parsed Name: its RDNs in encoding order, its RFC 4514 text and its last commonName. */
export interface ParsedName {
  /** The RelativeDistinguishedNames in encoding order (least specific first). */
  rdns: NameAttribute[][];
  /** RFC 4514: most specific RDN first, `+` between the values of one RDN. */
  text: string;
  /** The last commonName with a string value, if any. */
  cn: string | undefined;
}

/** The ASN.1 string types an attribute value may have. */
export const STRING_TAGS: ReadonlySet<number> = new Set([
  TAG.UTF8_STRING,
  TAG.PRINTABLE_STRING,
  TAG.IA5_STRING,
  TAG.VISIBLE_STRING,
  TAG.NUMERIC_STRING,
  TAG.T61_STRING,
  TAG.BMP_STRING,
  TAG.UNIVERSAL_STRING,
]);

/*
 * Name ::= CHOICE { -- only one possibility for now --
 *   rdnSequence  RDNSequence }
 * RDNSequence ::= SEQUENCE OF RelativeDistinguishedName
 * RelativeDistinguishedName ::= SET SIZE (1..MAX) OF AttributeTypeAndValue
 * AttributeTypeAndValue ::= SEQUENCE {
 *   type     AttributeType,
 *   value    AttributeValue }
 * AttributeType ::= OBJECT IDENTIFIER
 * AttributeValue ::= ANY -- DEFINED BY AttributeType
 *                                 -- RFC 5280 section 4.1.2.4
 */
/**
 * Parses a Name. Values that are not strings are written as `#` + hex of
 * their DER (RFC 4514 2.4); the text lists the last RDN first (RFC 4514 2.1).
 *
 * @param layer the layer errors name (the caller's format).
 * @throws KimageError `asn1-malformed` (an empty RDN, a bad structure), `asn1-*`.
 */
export function parseName(t: Tlv, what: string, layer: string): ParsedName {
  expect(t, TAG.SEQUENCE, what);
  const rdns: NameAttribute[][] = [];
  const rdnTexts: string[] = [];
  let cn: string | undefined;
  for (const rdn of children(t)) {
    expect(rdn, TAG.SET, `${what} RelativeDistinguishedName`);
    const atvs = children(rdn);
    if (atvs.length === 0) {
      throw new KimageError("asn1-malformed", `${what}: empty RelativeDistinguishedName at 0x${rdn.offset.toString(16)}`, { layer, offset: rdn.offset });
    }
    const attrs: NameAttribute[] = [];
    const parts: string[] = [];
    for (const atv of atvs) {
      expect(atv, TAG.SEQUENCE, `${what} AttributeTypeAndValue`);
      const [typeTlv, valueTlv] = childrenCount(atv, 2, 2, `${what} AttributeTypeAndValue`) as [Tlv, Tlv];
      const type = readOid(typeTlv, `${what} attribute type`);
      const isText = STRING_TAGS.has(valueTlv.tag);
      const value = isText ? readString(valueTlv, `${what} attribute value`) : `#${toHex(valueTlv.raw)}`;
      if (type === OID.commonName && isText) cn = value;
      const label = dnAttributeLabel(type) ?? type;
      attrs.push({ type, label, value });
      parts.push(`${label}=${isText ? escapeDn(value) : value}`);
    }
    rdns.push(attrs);
    rdnTexts.push(parts.join("+"));
  }
  return { rdns, text: rdnTexts.reverse().join(","), cn };
}

/**
 * An RFC 4514 string of a DER Name (e.g. a SignerInfo's issuer), most
 * specific RDN first.
 *
 * @throws KimageError `asn1-*` (layer `x509`) when `der` is not one DER Name.
 */
export function nameText(der: Uint8Array, base = 0): string {
  return parseName(parseDer(der, base, { layer: X509_LAYER }), "Name", X509_LAYER).text;
}

/** RFC 4514 section 2.4 escaping of an attribute value. */
export function escapeDn(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s.charAt(i);
    if (ch === "\0") out += "\\00";
    else if (',+"\\<>;'.includes(ch) || (i === 0 && (ch === "#" || ch === " ")) || (i === s.length - 1 && ch === " ")) out += `\\${ch}`;
    else out += ch;
  }
  return out;
}

/** A parsed AlgorithmIdentifier. */
export interface AlgorithmIdentifier {
  /** Dotted OID of the algorithm. */
  oid: string;
  /** The parameters TLV, when present. */
  parameters: Tlv | undefined;
}

/*
 * AlgorithmIdentifier  ::=  SEQUENCE  {
 *      algorithm               OBJECT IDENTIFIER,
 *      parameters              ANY DEFINED BY algorithm OPTIONAL  }
 *                                 -- RFC 5280 section 4.1.1.2
 */
/**
 * Parses an AlgorithmIdentifier.
 *
 * @throws KimageError `asn1-malformed` for anything but a SEQUENCE of an OID
 *   and at most one parameters value.
 */
export function parseAlgorithmIdentifier(t: Tlv, what: string): AlgorithmIdentifier {
  expect(t, TAG.SEQUENCE, what);
  const k = childrenCount(t, 1, 2, what);
  return { oid: readOid(k[0] as Tlv, `${what}.algorithm`), parameters: k[1] };
}

/** An INTEGER (e.g. a serial number) as lowercase hex of even length, `-` prefixed when negative. */
export function evenHex(v: bigint): string {
  const neg = v < 0n;
  let h = (neg ? -v : v).toString(16);
  if (h.length % 2) h = `0${h}`;
  return neg ? `-${h}` : h;
}
