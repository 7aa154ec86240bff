/**
 * Module-style appended signatures, as the kernel's `scripts/sign-file`
 * writes them for modules (and as kexec_file and IMA verify them on other
 * images):
 *
 * ```
 * content ‖ PKCS#7 ‖ struct module_signature ‖ "~Module signature appended~\n"
 *
 * struct module_signature {
 *     u8      algo;        // Public-key crypto algorithm [0]
 *     u8      hash;        // Digest algorithm [0]
 *     u8      id_type;     // Key identifier type [PKEY_ID_PKCS7 = 2]
 *     u8      signer_len;  // Length of signer's name [0]
 *     u8      key_id_len;  // Length of key identifier [0]
 *     u8      __pad[3];
 *     __be32  sig_len;     // Length of signature data
 * };                                   -- include/linux/module_signature.h
 * ```
 *
 * The PKCS#7 is what sign-file's default (`CMS_sign` with `CMS_NOCERTS |
 * CMS_BINARY | CMS_DETACHED`, `CMS_add1_signer` with `CMS_NOATTR`) produces,
 * which is also what `openssl cms -sign -binary -noattr -nocerts -outform
 * DER -md <alg>` produces: a detached SignedData with no certificates, one
 * SignerInfo identified by issuerAndSerialNumber and no signed attributes,
 * so the signature is directly over the content's digest.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { OID } from "../asn1/oids.js";
import { derExplicit, derInteger, derOctetString, derOid, derSequence, derSet } from "../asn1/der-writer.js";
import type { HashAlgorithm } from "../hash/types.js";
import type { SubtleSigner } from "../hash/webcrypto-types.js";
import {
  SIGN_LAYER,
  importSigningKey,
  readCertificates,
  readSignerCertificate,
  resolveSubtle,
  signData,
  type CertificateInput,
  type SigningKeyInput,
} from "./keys.js";

/** Digest algorithms of appended signatures. */
export type AppendedSignAlgorithm = "sha256" | "sha384" | "sha512";

/** Options of {@link signAppended} and {@link createAppendedSignature}. */
export interface SignAppendedOptions {
  /** The private key: a `CryptoKey`, PKCS#8 (or PKCS#1 / SEC1) DER, or PEM text. */
  key: SigningKeyInput;
  /** The signer's certificate (DER or PEM); it is referenced, not included. */
  cert: CertificateInput;
  /** Digest algorithm; default `sha256`. */
  alg?: AppendedSignAlgorithm;
  /** WebCrypto to sign with; default `globalThis.crypto.subtle`, read at call time. */
  crypto?: SubtleSigner;
}

const ALGS: readonly AppendedSignAlgorithm[] = ["sha256", "sha384", "sha512"];

/** "~Module signature appended~\n" (MODULE_SIGNATURE_MARKER). */
const MARKER = "~Module signature appended~\n";
/** sizeof(struct module_signature). */
const SIG_INFO_SIZE = 12;
/** PKEY_ID_PKCS7 / MODULE_SIGNATURE_TYPE_PKCS7. */
const ID_TYPE_PKCS7 = 2;

/*
 * ContentInfo ::= SEQUENCE {
 *   contentType ContentType,
 *   content [0] EXPLICIT ANY DEFINED BY contentType }
 *
 * SignedData ::= SEQUENCE {
 *   version CMSVersion,
 *   digestAlgorithms DigestAlgorithmIdentifiers,
 *   encapContentInfo EncapsulatedContentInfo,
 *   certificates [0] IMPLICIT CertificateSet OPTIONAL,
 *   crls [1] IMPLICIT RevocationInfoChoices OPTIONAL,
 *   signerInfos SignerInfos }
 *
 * EncapsulatedContentInfo ::= SEQUENCE {
 *   eContentType ContentType,
 *   eContent [0] EXPLICIT OCTET STRING OPTIONAL }
 *
 * SignerInfo ::= SEQUENCE {
 *   version CMSVersion,
 *   sid SignerIdentifier,
 *   digestAlgorithm DigestAlgorithmIdentifier,
 *   signedAttrs [0] IMPLICIT SignedAttributes OPTIONAL,
 *   signatureAlgorithm SignatureAlgorithmIdentifier,
 *   signature SignatureValue,
 *   unsignedAttrs [1] IMPLICIT UnsignedAttributes OPTIONAL }
 *                                 -- RFC 5652 sections 3, 5.1, 5.2, 5.3
 *
 * Here: version 1 (id-data content, issuerAndSerialNumber, RFC 5652 5.1),
 * eContentType id-data with eContent absent (detached), no certificates,
 * no signed attributes ("When the [signedAttrs] field is absent, the result
 * is just the message digest of the content", RFC 5652 5.4), and the
 * digest algorithms with absent parameters, as OpenSSL writes them.
 */
/**
 * The detached PKCS#7 (CMS) SignedData, DER, that signs `content` as
 * sign-file does.
 *
 * @throws KimageError `bad-argument` for an unknown algorithm;
 *   `sign-cert-invalid`, `sign-key-invalid`, `sign-key-unsupported`,
 *   `sign-key-mismatch`, `sign-no-crypto`.
 */
export async function createAppendedSignature(content: Uint8Array, options: SignAppendedOptions): Promise<Uint8Array> {
  const alg = options.alg ?? "sha256";
  if (!ALGS.includes(alg)) {
    throw new KimageError("bad-argument", `unknown appended-signature digest algorithm ${JSON.stringify(alg)}`, { layer: SIGN_LAYER, offset: -1 });
  }
  const [certDer, ...extra] = readCertificates([options.cert]);
  if (certDer === undefined || extra.length > 0) {
    throw new KimageError("sign-cert-invalid", `options.cert must hold exactly one certificate (found ${extra.length + (certDer ? 1 : 0)})`, { layer: SIGN_LAYER, offset: -1 });
  }
  const signer = readSignerCertificate(certDer);
  const subtle = resolveSubtle(options.crypto);
  const h = alg as HashAlgorithm;
  const key = await importSigningKey(options.key, h, subtle);
  const sig = await signData(key, h, content, subtle, signer);
  const digestAlgorithm = derSequence(derOid(OID[h]));
  const signerInfo = derSequence(
    derInteger(1),
    derSequence(signer.issuer, signer.serialNumber),
    digestAlgorithm,
    sig.algorithm,
    derOctetString(sig.value),
  );
  const signedData = derSequence(derInteger(1), derSet(digestAlgorithm), derSequence(derOid(OID.data)), derSet(signerInfo));
  return derSequence(derOid(OID.signedData), derExplicit(0, signedData));
}

/**
 * Appends a kernel module signature to `content`: `content ‖ PKCS#7 ‖
 * module_signature { id_type = 2, sig_len } ‖ "~Module signature appended~\n"`.
 * Returns a new array. An already-signed input is signed again as it is,
 * as sign-file does (the kernel then reads only the last signature).
 *
 * @throws KimageError as {@link createAppendedSignature}.
 */
export async function signAppended(content: Uint8Array, options: SignAppendedOptions): Promise<Uint8Array> {
  const p7 = await createAppendedSignature(content, options);
  const out = new Uint8Array(content.length + p7.length + SIG_INFO_SIZE + MARKER.length);
  out.set(content, 0);
  out.set(p7, content.length);
  const info = content.length + p7.length;
  out[info + 2] = ID_TYPE_PKCS7;
  new DataView(out.buffer).setUint32(info + 8, p7.length, false);
  for (let i = 0; i < MARKER.length; i++) out[info + SIG_INFO_SIZE + i] = MARKER.charCodeAt(i);
  return out;
}
