/**
 * DigestInfo: the digest-algorithm-and-value pair that both Authenticode's
 * SpcIndirectDataContent and an RSASSA-PKCS1-v1_5 signature block carry.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { TAG, childrenCount, expect, readOctetString, readTlv, type Tlv } from "../asn1/der.js";
import { X509_LAYER } from "./errors.js";
import { parseAlgorithmIdentifier } from "./names.js";

/** A parsed DigestInfo. */
export interface DigestInfo {
  /** Dotted OID of the digest algorithm. */
  oid: string;
  /** The digest octets (subarray of the input). */
  digest: Uint8Array;
  /** The `digest` OCTET STRING TLV (for its offsets). */
  digestTlv: Tlv;
}

/*
 * DigestInfo ::= SEQUENCE {
 *     digestAlgorithm DigestAlgorithmIdentifier,
 *     digest OCTET STRING }            -- RFC 8017 section 9.2 (EMSA-PKCS1-v1_5),
 *                                      -- Authenticode PE specification
 */
/**
 * Reads a DigestInfo TLV.
 *
 * @throws KimageError `asn1-malformed` (and `asn1-not-der` for a constructed
 *   OCTET STRING) naming the TLV's layer.
 */
export function parseDigestInfo(t: Tlv): DigestInfo {
  expect(t, TAG.SEQUENCE, "DigestInfo");
  const [alg, dig] = childrenCount(t, 2, 2, "DigestInfo") as [Tlv, Tlv];
  const oid = parseAlgorithmIdentifier(alg, "DigestInfo.digestAlgorithm").oid;
  return { oid, digest: readOctetString(dig, "DigestInfo.digest"), digestTlv: dig };
}

/**
 * The digest algorithm OID and digest of a DER DigestInfo spanning all of
 * `der`, or null when it is not one (e.g. what an RSA public operation
 * recovered from a signature by another key).
 */
export function readDigestInfo(der: Uint8Array): { oid: string; digest: Uint8Array } | null {
  try {
    const t = readTlv(der, 0, { layer: X509_LAYER });
    if (t.raw.length !== der.length) return null;
    const { oid, digest } = parseDigestInfo(t);
    return { oid, digest };
  } catch (e) {
    if (e instanceof KimageError) return null;
    throw e;
  }
}
