/**
 * Authenticode's own structures (the "SPC" types of the Authenticode PE
 * specification): SpcIndirectDataContent, the content an Authenticode
 * SignedData signs, and SpcSpOpusInfo, the signed attribute that names the
 * program.
 *
 * @module
 */

import { TAG, childrenCount, ctxTag, expect, readOid, readString, tagName, type Tlv } from "../asn1/der.js";
import { DIGEST_SIZES, digestNameOf } from "../asn1/oids.js";
import { parseDigestInfo } from "./digest-info.js";
import { at, fail } from "./errors.js";

/** What SpcIndirectDataContent says. */
export interface SpcIndirectDataContent {
  /** DER of SpcIndirectDataContent (subarray). */
  raw: Uint8Array;
  /**
   * The bytes the messageDigest signed attribute is computed over: the
   * content octets of SpcIndirectDataContent (without its tag and length).
   */
  content: Uint8Array;
  /** SpcAttributeTypeAndOptionalValue.type, e.g. SpcPeImageData `1.3.6.1.4.1.311.2.1.15`. */
  dataType: string;
  /** Dotted OID of the image digest algorithm (DigestInfo.digestAlgorithm). */
  digestAlgorithmOid: string;
  /** The image digest the signer embedded (subarray). */
  digest: Uint8Array;
  /** Absolute offset of the digest octets. */
  digestOffset: number;
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
/**
 * Reads SpcIndirectDataContent. A digest of a known algorithm must have
 * that algorithm's size.
 *
 * @throws KimageError `asn1-malformed` for a bad structure;
 *   `pkcs7-unexpected` for a digest of the wrong size.
 */
export function readSpcIndirectData(t: Tlv): SpcIndirectDataContent {
  expect(t, TAG.SEQUENCE, "SpcIndirectDataContent");
  const [data, md] = childrenCount(t, 2, 2, "SpcIndirectDataContent") as [Tlv, Tlv];
  expect(data, TAG.SEQUENCE, "SpcAttributeTypeAndOptionalValue");
  const d = childrenCount(data, 1, 2, "SpcAttributeTypeAndOptionalValue");
  const dataType = readOid(d[0] as Tlv, "SpcAttributeTypeAndOptionalValue.type");
  const { oid, digest, digestTlv } = parseDigestInfo(md);
  const name = digestNameOf(oid);
  if (name !== undefined && DIGEST_SIZES[name] !== digest.length) {
    fail(
      "pkcs7-unexpected",
      `DigestInfo at ${at(md)}: ${name} digest is ${digest.length} bytes, expected ${DIGEST_SIZES[name]}`,
      digestTlv.offset,
    );
  }
  return { raw: t.raw, content: t.content, dataType, digestAlgorithmOid: oid, digest, digestOffset: digestTlv.contentOffset };
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
function readSpcString(t: Tlv, what: string): string {
  if (t.tag === ctxTag(0, false)) return implicitString(t, TAG.BMP_STRING, what);
  if (t.tag === ctxTag(1, false)) return implicitString(t, TAG.IA5_STRING, what);
  return fail("asn1-malformed", `${what}: unexpected ${tagName(t.tag)} at ${at(t)} in SpcString`, t.offset);
}

/** What SpcSpOpusInfo says. */
export interface SpcSpOpusInfo {
  /** programName, if present. */
  programName: string | undefined;
  /** moreInfo as a URL (or an SpcString file name), if present. */
  moreInfoUrl: string | undefined;
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
/**
 * Reads SpcSpOpusInfo (a moniker link is accepted and ignored).
 *
 * @throws KimageError `asn1-malformed` for a bad structure or string.
 */
export function readOpusInfo(t: Tlv): SpcSpOpusInfo {
  expect(t, TAG.SEQUENCE, "SpcSpOpusInfo");
  let programName: string | undefined;
  let moreInfoUrl: string | undefined;
  for (const x of childrenCount(t, 0, 2, "SpcSpOpusInfo")) {
    if (x.tag === ctxTag(0, true) && programName === undefined && moreInfoUrl === undefined) {
      const [s] = childrenCount(x, 1, 1, "SpcSpOpusInfo.programName") as [Tlv];
      programName = readSpcString(s, "SpcSpOpusInfo.programName");
    } else if (x.tag === ctxTag(1, true) && moreInfoUrl === undefined) {
      const [link] = childrenCount(x, 1, 1, "SpcSpOpusInfo.moreInfo") as [Tlv];
      if (link.tag === ctxTag(0, false)) moreInfoUrl = implicitString(link, TAG.IA5_STRING, "SpcLink.url");
      else if (link.tag === ctxTag(2, true)) {
        const [s] = childrenCount(link, 1, 1, "SpcLink.file") as [Tlv];
        moreInfoUrl = readSpcString(s, "SpcLink.file");
      } else if (link.tag !== ctxTag(1, true)) {
        fail("asn1-malformed", `SpcLink: unexpected ${tagName(link.tag)} at ${at(link)}`, link.offset);
      }
    } else {
      fail("asn1-malformed", `SpcSpOpusInfo: unexpected ${tagName(x.tag)} at ${at(x)}`, x.offset);
    }
  }
  return { programName, moreInfoUrl };
}
