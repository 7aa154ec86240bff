/**
 * Appended module signatures: the format `scripts/sign-file` appends to
 * kernel modules (and that IMA "modsig" uses), verified as the kernel's
 * `module_sig_check` → `mod_verify_sig` → `mod_check_sig` →
 * `verify_pkcs7_signature(VERIFYING_MODULE_SIGNATURE)` do
 * (kernel/module/signing.c, kernel/module_signature.c,
 * include/linux/module_signature.h):
 *
 * ```
 * #define MODULE_SIG_STRING "~Module signature appended~\n"
 *
 * struct module_signature {
 *     u8     algo;        // Public-key crypto algorithm [0]
 *     u8     hash;        // Digest algorithm [0]
 *     u8     id_type;     // Key identifier type [PKEY_ID_PKCS7 = 2]
 *     u8     signer_len;  // Length of signer's name [0]
 *     u8     key_id_len;  // Length of key identifier [0]
 *     u8     __pad[3];
 *     __be32 sig_len;     // Length of signature data
 * };
 * ```
 *
 * File layout: `content || PKCS#7 (sig_len bytes) || module_signature (12) || marker (28)`.
 * The PKCS#7 is a detached CMS SignedData of type id-data, without
 * authenticated attributes (`openssl cms -sign -binary -noattr -nocerts`),
 * so its signature is over the digest of the content directly.
 *
 * @module
 */

import { KimageError, isKimageError } from "../core/errors.js";
import { OID } from "../asn1/oids.js";
import { reasonVerdict, type Verdict, type VerdictReason, type VerifyOptions } from "./policy.js";
import { certificateProblem, parseCmsSignedData, verifySignerInfo, type CmsSignedData, type SignerOutcome } from "./pkcs7-verify.js";
import { resolveOptions, signerContext } from "./verify.js";

/** Layer id of errors about appended signatures. */
export const APPENDED_LAYER = "module-sig";

/** The marker at the very end of a signed module. */
export const MODULE_SIG_STRING = "~Module signature appended~\n";

/** Size of `struct module_signature`. */
export const MODULE_SIGNATURE_SIZE = 12;

/** `PKEY_ID_PKCS7`: the only id_type the kernel accepts. */
export const PKEY_ID_PKCS7 = 2;

const MARKER = new TextEncoder().encode(MODULE_SIG_STRING);

/** A parsed appended signature. Byte fields are views of the input. */
export interface AppendedSignature {
  /** The signed content: everything before the signature. */
  content: Uint8Array;
  /** The PKCS#7 (sig_len bytes). */
  signature: Uint8Array;
  /** Absolute offset of the PKCS#7. */
  signatureOffset: number;
  /** Absolute offset of `struct module_signature`. */
  infoOffset: number;
  /** The fields of `struct module_signature`. */
  info: { algo: number; hash: number; id_type: number; signer_len: number; key_id_len: number; pad: [number, number, number]; sig_len: number };
}

/** True when `bytes` ends with the module-signature marker. */
export function hasAppendedSignature(bytes: Uint8Array): boolean {
  if (bytes.length < MARKER.length) return false;
  const at = bytes.length - MARKER.length;
  for (let i = 0; i < MARKER.length; i++) if (bytes[at + i] !== MARKER[i]) return false;
  return true;
}

/**
 * Splits a module with an appended signature (see the module documentation)
 * into content, PKCS#7 and `struct module_signature`, with the checks of the
 * kernel's `mod_check_sig`:
 * `sig_len >= file_len - sizeof(struct module_signature)` → -EBADMSG;
 * `id_type != PKEY_ID_PKCS7` → -ENOPKG; non-zero algo, hash, signer_len,
 * key_id_len or pad → -EBADMSG. Returns null when there is no marker.
 *
 * @param base Absolute offset of `bytes[0]` (for offsets and errors).
 * @throws KimageError `truncated` when there is no room for the struct,
 *   when sig_len is too large, or when a reserved field is non-zero (the
 *   message names which); `unsupported` when id_type ≠ 2.
 */
export function parseAppendedSignature(bytes: Uint8Array, base = 0): AppendedSignature | null {
  if (!hasAppendedSignature(bytes)) return null;
  const fileLen = bytes.length - MARKER.length;
  const fail = (code: "truncated" | "unsupported", message: string, at: number): never => {
    throw new KimageError(code, message, { layer: APPENDED_LAYER, offset: base + at });
  };
  // mod_verify_sig: "if (modlen <= sizeof(ms)) return -EBADMSG;"
  if (fileLen <= MODULE_SIGNATURE_SIZE) fail("truncated", `${fileLen} byte(s) before the marker cannot hold struct module_signature`, 0);
  const s = fileLen - MODULE_SIGNATURE_SIZE;
  const dv = new DataView(bytes.buffer, bytes.byteOffset + s, MODULE_SIGNATURE_SIZE);
  const info = {
    algo: dv.getUint8(0),
    hash: dv.getUint8(1),
    id_type: dv.getUint8(2),
    signer_len: dv.getUint8(3),
    key_id_len: dv.getUint8(4),
    pad: [dv.getUint8(5), dv.getUint8(6), dv.getUint8(7)] as [number, number, number],
    sig_len: dv.getUint32(8, false),
  };
  if (info.sig_len >= fileLen - MODULE_SIGNATURE_SIZE) {
    fail("truncated", `sig_len ${info.sig_len} does not fit before struct module_signature (${fileLen - MODULE_SIGNATURE_SIZE} byte(s); mod_check_sig: -EBADMSG)`, s + 8);
  }
  if (info.id_type !== PKEY_ID_PKCS7) fail("unsupported", `id_type ${info.id_type} is not PKEY_ID_PKCS7 (2) (mod_check_sig: -ENOPKG)`, s + 2);
  if (info.algo !== 0 || info.hash !== 0 || info.signer_len !== 0 || info.key_id_len !== 0 || info.pad.some((p) => p !== 0)) {
    fail("truncated", "struct module_signature has non-zero algo, hash, signer_len, key_id_len or pad (mod_check_sig: \"PKCS#7 signature info has unexpected non-zero params\", -EBADMSG)", s);
  }
  const sigStart = s - info.sig_len;
  return {
    content: bytes.subarray(0, sigStart),
    signature: bytes.subarray(sigStart, s),
    signatureOffset: base + sigStart,
    infoOffset: base + s,
    info,
  };
}

/** The verdict of {@link verifyAppendedSignature}. */
export interface AppendedVerdict {
  verdict: Verdict;
  reason: VerdictReason;
  detail: string;
  /** One entry per SignerInfo (a module signature has one). */
  signatures: AppendedSignerVerdict[];
  /** The parsed trailer, when there is one. */
  appended: AppendedSignature | undefined;
}

/** The verdict of one SignerInfo of an appended signature. */
export interface AppendedSignerVerdict {
  index: number;
  verdict: Verdict;
  reason: VerdictReason;
  detail: string;
  /** Subject of the signer's certificate (from the message or the trust anchor), when known. */
  signer: string | undefined;
  /** Issuer of the signer's certificate as the SignerInfo names it. */
  issuer: string | undefined;
  /** Serial number (hex) as the SignerInfo names it. */
  serialNumber: string | undefined;
  /** subjectKeyIdentifier (hex) when the SignerInfo names the signer by key id. */
  subjectKeyIdentifier: string | undefined;
  /** Digest algorithm name or OID. */
  digestAlgorithm: string;
  /** Signature algorithm name or OID. */
  signatureAlgorithm: string;
  /** Subjects of the chain from the signer up. */
  chain: string[];
  /** Subject of the trust anchor reached. */
  trustedBy: string | undefined;
}

function fromOutcome(index: number, o: SignerOutcome, sd: CmsSignedData): AppendedSignerVerdict {
  const s = sd.signers[index];
  return {
    index,
    verdict: o.verdict,
    reason: o.reason,
    detail: o.detail,
    signer: o.signerCert?.subject,
    issuer: s?.issuer,
    serialNumber: s?.serialNumber,
    subjectKeyIdentifier: s?.subjectKeyIdentifier,
    digestAlgorithm: o.digestAlgorithm,
    signatureAlgorithm: o.signatureAlgorithm,
    chain: o.chain.map((c) => c.subject),
    trustedBy: o.anchor?.subject,
  };
}

/**
 * Verifies an appended module signature against the caller's trust anchors
 * (see {@link VerifyOptions}; `mode`, `strict` about PE tables and `sbatLevel`
 * do not apply). The kernel's module signing puts no certificate in the
 * PKCS#7 (`-nocerts`), so the signer is found among the trust anchors by
 * issuer and serial number (pkcs7_validate_trust_one's "last resort"); a
 * signer that is not an anchor is `untrusted` / `no-trusted-anchor`, with
 * the issuer, serial and algorithms still reported.
 *
 * Verdicts: `unsigned` without the marker; `malformed` for a bad trailer
 * (`module-signature-malformed`), bad DER, eContentType ≠ id-data
 * (`unexpected-content-type`) or authenticated attributes
 * (`unexpected-signed-attributes`); `unsupported` for id_type ≠ 2;
 * `digest-mismatch` / `content-digest-mismatch` when the anchor's key signed
 * another content digest (RSA); `untrusted` otherwise; `valid`.
 *
 * @throws KimageError `bad-argument` for invalid options.
 */
export async function verifyAppendedSignature(bytes: Uint8Array, options: VerifyOptions = {}): Promise<AppendedVerdict> {
  const r = resolveOptions(options);
  const out: AppendedVerdict = { verdict: "unsigned", reason: "no-signature", detail: "no \"~Module signature appended~\" marker", signatures: [], appended: undefined };
  const finish = (reason: VerdictReason, detail: string, verdict: Verdict = reasonVerdict(reason)): AppendedVerdict => {
    out.verdict = verdict;
    out.reason = reason;
    out.detail = detail;
    return out;
  };
  let sig: AppendedSignature | null;
  try {
    sig = parseAppendedSignature(bytes);
  } catch (e) {
    if (!isKimageError(e)) throw e;
    return e.code === "unsupported" ? finish("unsupported-id-type", e.message, "unsupported") : finish("module-signature-malformed", e.message, "malformed");
  }
  if (sig === null) return out;
  out.appended = sig;
  let sd: CmsSignedData;
  try {
    sd = parseCmsSignedData(sig.signature, sig.signatureOffset);
  } catch (e) {
    if (!isKimageError(e)) throw e;
    return finish(e.code, `pkcs7_parse_message: ${e.toLine()}`, "malformed");
  }
  // pkcs7_verify, VERIFYING_MODULE_SIGNATURE: "if (pkcs7->data_type != OID_data)" → -EKEYREJECTED.
  if (sd.eContentType !== OID.data) return finish("unexpected-content-type", `eContentType ${sd.eContentType} is not id-data ("Invalid module sig (not pkcs7-data)")`);
  if (sd.eContent !== undefined) return finish("unexpected-content-type", "the PKCS#7 carries its own content; a module signature is detached");
  if (sd.signers.length === 0) return finish("pkcs7-unexpected", "the SignedData has no SignerInfo", "malformed");
  const bad = certificateProblem(sd.certificates);
  if (bad !== undefined) return finish("certificate-malformed", `certificate ${bad.index} of the signature: ${bad.error.toLine()}`);
  const ctx = signerContext(r, sig.content, undefined, "forbidden", OID.data);
  const outcomes: SignerOutcome[] = [];
  for (const s of sd.signers) outcomes.push(await verifySignerInfo(s, sd.certificates, ctx));
  out.signatures = outcomes.map((o, i) => fromOutcome(i, o, sd));
  // pkcs7_verify stops at the first failing SignerInfo; pkcs7_validate_trust needs one trusted.
  const hard = out.signatures.find((s) => s.verdict !== "valid" && s.reason !== "no-trusted-anchor");
  const chosen = hard ?? out.signatures.find((s) => s.verdict === "valid") ?? (out.signatures[0] as AppendedSignerVerdict);
  return finish(chosen.reason, chosen.detail, chosen.verdict);
}
