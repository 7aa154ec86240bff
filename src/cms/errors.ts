/**
 * The error vocabulary of the CMS/X.509 model: the two layers its errors
 * name, the two dialects its readers speak, and small helpers to raise and
 * re-label {@link KimageError}s.
 *
 * - `"pkcs7"` (`DER_LAYER` of asn1/der.ts) is the layer of everything read from a
 *   PKCS#7 / CMS message: the Authenticode reader, the module-signature
 *   reader and the DER reader itself.
 * - `"x509"` ({@link X509_LAYER}) is the layer of the certificate checks a
 *   verifier needs: a certificate that the Authenticode reader describes but
 *   the verifier cannot use carries an `x509` error (`problem`), exactly as
 *   when it is read on its own with `parseCertificate`.
 *
 * @module
 */

import { KimageError, type ErrorCode } from "../core/errors.js";
import { DER_LAYER, readTlv, type Tlv } from "../asn1/der.js";

/** Layer id used in errors raised while parsing certificates. */
export const X509_LAYER = "x509";

/**
 * How a CMS reader words and bounds what it reads; both dialects read the
 * same structures into the same model.
 *
 * - `"authenticode"`: the Authenticode reader (`readAuthenticodeInfo`,
 *   `verifyAuthenticode`). Certificates are read leniently (what the
 *   description needs must parse; what only the verifier needs is recorded
 *   as the certificate's `problem`), unsigned attributes are parsed, and
 *   messages name fields the way that reader always has
 *   (`SignedData.encapContentInfo`, `signedAttrs Attribute`, ...).
 * - `"cms"`: the reader of detached CMS signatures (kernel module
 *   signatures). The whole message has already been checked to be DER;
 *   certificates are read strictly (their first error becomes `problem`),
 *   unsigned attributes are not interpreted, a multi-valued contentType,
 *   messageDigest or signingTime counts as repeated (the kernel's
 *   "Repeated/multivalue AuthAttrs not permitted"), and messages keep that
 *   reader's wording (`EncapsulatedContentInfo`, `Attribute.attrType`, ...).
 */
export type CmsDialect = "authenticode" | "cms";

/** Throws a {@link KimageError} (layer `pkcs7` unless given). */
export function fail(code: ErrorCode, message: string, offset: number, layer: string = DER_LAYER): never {
  throw new KimageError(code, message, { layer, offset });
}

/** `0x…` of a TLV's offset, for messages. */
export function at(t: Tlv): string {
  return `0x${t.offset.toString(16)}`;
}

/** The same error (code, message, offset) named by another layer. */
export function withLayer(e: KimageError, layer: string): KimageError {
  return e.layer === layer ? e : new KimageError(e.code, e.message, { layer, offset: e.offset });
}

/**
 * The TLV `t` read again under `layer` (only its header is decoded again:
 * its children, read on demand, then raise errors naming `layer`). The
 * caller guarantees that `t` was already read and walked under the same
 * limits, so this never throws.
 */
export function asLayer(t: Tlv, layer: string): Tlv {
  return t.limits.layer === layer ? t : readTlv(t.raw, 0, { ...t.limits, base: t.offset, layer });
}
