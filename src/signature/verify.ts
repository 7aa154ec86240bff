/**
 * Authenticode verification of PE images, in the order and with the outcomes
 * of the Linux kernel's `verify_pefile_signature`
 * (crypto/asymmetric_keys/verify_pefile.c):
 *
 * 1. `pefile_parse_binary`: parse the PE (`-ELIBBAD` → `malformed`);
 * 2. `pefile_strip_sig_wrapper`: the WIN_CERTIFICATE (revision 0x0200, type
 *    PKCS_SIGNED_DATA, `round_up(dwLength, 8) == Size` in `kernel` mode);
 * 3. `pkcs7_parse_message` + `mscode_parse`: the SignedData and its
 *    SpcIndirectDataContent (`-EBADMSG` → `malformed`);
 * 4. `pkcs7_verify`: messageDigest, signature, internal chain;
 * 5. `pkcs7_validate_trust`: a trust anchor (`-ENOKEY` → `untrusted`);
 * 6. `pefile_digest_pe`: the image digest equals the signed one
 *    (`-EKEYREJECTED` → `digest-mismatch`).
 *
 * Every certificate-table entry gets its own verdict with a reason and a
 * detail; nested signatures (1.3.6.1.4.1.311.2.4.1) are verified too. The
 * policy mode combines them ({@link PolicyMode}); image-level policy (image
 * hash denylist, SBAT) then applies.
 *
 * @module
 */

import { alignUp, toHex } from "../core/bytes.js";
import { isKimageError, KimageError, type Finding } from "../core/errors.js";
import { defaultHashProvider } from "../hash/index.js";
import type { HashAlgorithm, HashProvider } from "../hash/types.js";
import { authenticodeDigest } from "../formats/pe/authenticode.js";
import type { WinCertificate } from "../formats/pe/certificates.js";
import { PE_LAYER, parsePe, probePe, type PeFile } from "../formats/pe/parse.js";
import { parseSbat } from "../formats/pe/sbat.js";
import { inspect, type InspectOptions, type InspectResult } from "../inspect/registry.js";
import { OID, oidLabel } from "../asn1/oids.js";
import { parseAuthenticode, type AuthenticodeSignature } from "../cms/authenticode.js";
import { authenticodeDigestLabel } from "../cms/names.js";
import { signerCertificateIndex } from "../cms/signer-info.js";
import {
  checkSbat,
  normalizeDenyList,
  parseSbatLevel,
  reasonVerdict,
  type NormalizedDenyList,
  type PolicyMode,
  type SbatCheck,
  type SbatLevelEntry,
  type Verdict,
  type VerdictReason,
  type VerifyOptions,
} from "./policy.js";
import { certificateProblem, digestLabel, hashOf, verifySignerInfo, type SignerOutcome, type SignerVerifyContext } from "./pkcs7-verify.js";
import { certificateDers, parseTrustAnchors } from "./trust.js";
import type { ParsedCertificate } from "../cms/certificate.js";
import type { SubtleVerifier } from "./crypto.js";

/** The verdict of one signature: a certificate-table entry or a nested signature. */
export interface SignatureVerdict {
  /** Index of the entry in the certificate table, or of the nested signature under its parent. */
  index: number;
  /** Where it sits: `"0"`, `"1"`, `"0/nested 0"`. */
  path: string;
  /** Absolute offset of the PKCS#7 ContentInfo (bCertificate). */
  offset: number;
  verdict: Verdict;
  /** `ok` or why not; see `VERDICT_REASONS`. */
  reason: VerdictReason;
  /** One human-readable sentence. */
  detail: string;
  /** False when the mode ignores this signature (entries after the first in `kernel` mode; nested ones outside `any`). */
  counted: boolean;
  /** Subject of the signer's certificate, when known. */
  signer: string | undefined;
  /** Issuer of the signer's certificate as the SignerInfo names it. */
  issuer: string | undefined;
  /** Serial number of the signer's certificate as the SignerInfo names it (hex). */
  serialNumber: string | undefined;
  /** Image digest algorithm (SpcIndirectDataContent): `sha256`, ... or a dotted OID. */
  digestAlgorithm: string | undefined;
  /** SignerInfo signature algorithm: a name (`rsaEncryption`) or a dotted OID. */
  signatureAlgorithm: string | undefined;
  /** True when the image's Authenticode digest equals the signed one; undefined when it could not be computed. */
  digestMatch: boolean | undefined;
  /** The signed image digest (hex). */
  signedDigest: string | undefined;
  /** The image's digest with the same algorithm (hex). */
  imageDigest: string | undefined;
  /** Subjects of the chain from the signer up (the anchor last when trusted). */
  chain: string[];
  /** Subject of the trust anchor reached. */
  trustedBy: string | undefined;
  /** The signingTime attribute. */
  signingTime: Date | undefined;
  /** Observations that did not decide the verdict. */
  findings: Finding[];
  /** Nested signatures, verified the same way. */
  nested: SignatureVerdict[];
}

/** The verdict of {@link verifyAuthenticode}. */
export interface AuthenticodeVerdict {
  /** The overall verdict under `mode`. */
  verdict: Verdict;
  reason: VerdictReason;
  detail: string;
  mode: PolicyMode;
  strict: boolean;
  /** One verdict per certificate-table entry, in table order. */
  signatures: SignatureVerdict[];
  /** Parse findings of the PE and observations of the verifier. */
  findings: Finding[];
  /** The SBAT check, when `options.sbatLevel` was given. */
  sbat: SbatCheck | undefined;
}

/** {@link VerifyOptions} with the defaults applied, anchors parsed and the denylist normalized. */
export interface ResolvedVerifyOptions {
  mode: PolicyMode;
  strict: boolean;
  /** WebCrypto, or undefined when neither `options.crypto` nor `globalThis.crypto.subtle` exists. */
  subtle: SubtleVerifier | undefined;
  hash: HashProvider;
  anchors: ParsedCertificate[];
  deny: NormalizedDenyList;
  sbatLevel: SbatLevelEntry[] | undefined;
  /** The caller's options, as given. */
  options: VerifyOptions;
}

/**
 * Resolves options once per call: defaults, trust anchors parsed, denylist
 * normalized, SBAT level parsed, WebCrypto read from the global at call time.
 *
 * @throws KimageError `bad-argument` for an unknown mode, a trust input that
 *   is not a certificate, a denylist hash of unknown length or a malformed
 *   SBAT level.
 */
export function resolveOptions(options: VerifyOptions): ResolvedVerifyOptions {
  const mode = options.mode ?? "kernel";
  if (!["kernel", "shim", "any", "all"].includes(mode)) {
    throw new KimageError("bad-argument", `unknown mode ${JSON.stringify(mode)}`, { layer: "verify", offset: -1 });
  }
  const subtle = options.crypto ?? (globalThis as { crypto?: { subtle?: SubtleVerifier } }).crypto?.subtle;
  return {
    mode,
    strict: options.strict ?? true,
    subtle,
    hash: options.hash ?? defaultHashProvider(),
    anchors: parseTrustAnchors(options.trust ?? []),
    deny: normalizeDenyList(options.deny, certificateDers),
    sbatLevel: options.sbatLevel === undefined ? undefined : parseSbatLevel(options.sbatLevel),
    options,
  };
}

/** A signer context for an Authenticode SignedData. */
export function signerContext(r: ResolvedVerifyOptions, content: Uint8Array, contentTlv: Uint8Array | undefined, attributes: "required" | "forbidden", eContentType: string): SignerVerifyContext {
  return {
    subtle: r.subtle,
    hash: r.hash,
    anchors: r.anchors,
    allowSha1: r.options.allowSha1 ?? false,
    time: r.options.time,
    requireKeyUsage: r.options.requireKeyUsage ?? false,
    requireEku: r.options.requireEku ?? [],
    maxChainLength: r.options.maxChainLength ?? 8,
    deny: r.deny,
    attributes,
    eContentType,
    content,
    contentTlv,
  };
}

function blank(index: number, path: string, offset: number, reason: VerdictReason, detail: string, counted: boolean): SignatureVerdict {
  return {
    index,
    path,
    offset,
    verdict: reasonVerdict(reason),
    reason,
    detail,
    counted,
    signer: undefined,
    issuer: undefined,
    serialNumber: undefined,
    digestAlgorithm: undefined,
    signatureAlgorithm: undefined,
    digestMatch: undefined,
    signedDigest: undefined,
    imageDigest: undefined,
    chain: [],
    trustedBy: undefined,
    signingTime: undefined,
    findings: [],
    nested: [],
  };
}

/** Lazily computed Authenticode digests of one PE. */
type ImageDigests = (alg: HashAlgorithm) => Promise<string>;

function imageDigests(pe: PeFile, hash: HashProvider): ImageDigests {
  const cache = new Map<HashAlgorithm, Promise<string>>();
  return (alg) => {
    let p = cache.get(alg);
    if (!p) cache.set(alg, (p = authenticodeDigest(pe, alg, { hash }).then((d) => d.hex)));
    return p;
  };
}

/** The kernel's SignedData/SignerInfo version rules (pkcs7_note_signeddata_version, pkcs7_note_signerinfo_version). */
function cmsVersionProblem(sig: AuthenticodeSignature): string | undefined {
  const version = sig.signedData.version;
  if (version !== 1 && version !== 3) return `SignedData version ${version} (the kernel accepts 1 and 3)`;
  for (const { signerInfo: s } of sig.signers) {
    if (s.version === 1 && (version !== 1 || s.issuer === undefined)) return `SignerInfo version 1 needs SignedData version 1 and an issuerAndSerialNumber`;
    if (s.version === 3 && (version === 1 || s.subjectKeyIdentifier === undefined)) return `SignerInfo version 3 needs SignedData version 3 and a subjectKeyIdentifier`;
    if (s.version !== 1 && s.version !== 3) return `SignerInfo version ${s.version} (the kernel accepts 1 and 3)`;
  }
  return undefined;
}

/** Outcomes that end the kernel's pkcs7_verify loop over SignerInfos with an error. */
function hardFailure(o: SignerOutcome): boolean {
  return o.verdict === "malformed" || o.verdict === "digest-mismatch" || (o.verdict === "untrusted" && o.reason !== "no-trusted-anchor");
}

/**
 * Verifies one parsed Authenticode signature (an entry or a nested
 * signature) against the image: the verifier's reading of the CMS model.
 */
async function verifyInfo(sig: AuthenticodeSignature, index: number, path: string, counted: boolean, nestedCounted: boolean, r: ResolvedVerifyOptions, digestOf: ImageDigests): Promise<SignatureVerdict> {
  const { spc, signedData: sd } = sig;
  const imageDigestLabel = authenticodeDigestLabel(spc.digestAlgorithmOid);
  const v = blank(index, path, sig.offset, "ok", "", counted);
  v.digestAlgorithm = imageDigestLabel;
  v.signedDigest = toHex(spc.digest);
  const first = sig.signers[0]?.signerInfo;
  if (first) {
    v.issuer = first.issuer;
    v.serialNumber = first.serialNumber;
    v.signatureAlgorithm = oidLabel(first.signatureAlgorithmOid);
    v.signingTime = first.signingTime;
  }
  if (sig.derIssue !== undefined) {
    v.findings.push({ code: "not-der", severity: "warning", offset: sig.offset, message: `not strictly DER (the signature is verified over the original bytes): ${sig.derIssue}` });
  }
  // Nested signatures first, so that they are reported whatever the outer verdict.
  for (const s of sig.signers) {
    for (const [k, n] of s.nestedSignatures.entries()) {
      v.nested.push(await verifyInfo(n, k, `${path}/nested ${v.nested.length}`, nestedCounted, nestedCounted, r, digestOf));
    }
  }
  const done = (reason: VerdictReason, detail: string, verdict: Verdict = reasonVerdict(reason)): SignatureVerdict => {
    v.verdict = verdict;
    v.reason = reason;
    v.detail = detail;
    return v;
  };

  // The image digest (computed now, reported whatever the verdict).
  const imageAlg = hashOf(spc.digestAlgorithmOid);
  if (imageAlg !== undefined) {
    v.imageDigest = await digestOf(imageAlg);
    v.digestMatch = v.imageDigest === v.signedDigest;
  }

  // mscode_note_content_type: SpcPeImageData, or SPC_INDIVIDUAL_SP_KEY_PURPOSE_OBJID (an old pesign bug).
  if (spc.dataType !== OID.spcPeImageData && spc.dataType !== OID.spcIndividualSpKeyPurpose) {
    return done("unexpected-content-type", `SpcIndirectDataContent.data.type is ${spc.dataType}, not SpcPeImageData`);
  }
  const cms = cmsVersionProblem(sig);
  if (cms !== undefined) return done("cms-version", cms);
  if (sig.signers.length > 1 && r.strict) {
    return done("multiple-signers", `${sig.signers.length} SignerInfos; Authenticode allows exactly one (the kernel verifies each and needs one trusted)`);
  }
  // mscode_note_digest_algo.
  if (imageAlg === undefined) return done("unsupported-digest", `image digest algorithm ${imageDigestLabel} is not SHA-1/256/384/512`);
  if (imageAlg === "sha1" && !(r.options.allowSha1 ?? false)) return done("sha1-not-allowed", "the image digest is SHA-1 (options.allowSha1 is not set)");
  if (r.strict) {
    const digestAlgorithms = sd.digestAlgorithmOids.map(authenticodeDigestLabel);
    for (const { signerInfo: s } of sig.signers) {
      const label = digestLabel(s.digestAlgorithmOid);
      if (s.digestAlgorithmOid !== spc.digestAlgorithmOid || !digestAlgorithms.includes(label)) {
        return done(
          "digest-algorithm-mismatch",
          `SignedData.digestAlgorithms {${digestAlgorithms.join(", ")}}, SignerInfo ${label}, SpcIndirectDataContent ${imageDigestLabel} must agree (the kernel does not check)`,
        );
      }
    }
  }
  const bad = certificateProblem(sd.certificates);
  if (bad !== undefined) return done("certificate-malformed", `certificate ${bad.index} of the signature: ${bad.error.toLine()}`);

  const ctx = signerContext(r, spc.content, spc.raw, "required", OID.spcIndirectDataContent);
  const outcomes: SignerOutcome[] = [];
  for (const s of sig.signers) outcomes.push(await verifySignerInfo(s.signerInfo, sd.certificates, ctx));
  const chosen = outcomes.find(hardFailure) ?? outcomes.find((o) => o.verdict === "valid") ?? (outcomes[0] as SignerOutcome);
  const si = sig.signers[outcomes.indexOf(chosen)]?.signerInfo;
  if (si) {
    v.issuer = si.issuer;
    v.serialNumber = si.serialNumber;
    v.signingTime = si.signingTime;
  }
  v.signer = chosen.signerCert?.subject;
  v.signatureAlgorithm = chosen.signatureAlgorithm;
  v.chain = chosen.chain.map((c) => c.subject);
  v.trustedBy = chosen.anchor?.subject;
  if (chosen.verdict !== "valid") return done(chosen.reason, chosen.detail, chosen.verdict);

  // pefile_digest_pe: "Check that the PE file digest matches that in the MSCODE part of the PKCS#7 certificate."
  if (!v.digestMatch) {
    return done("image-digest-mismatch", `the image's ${imageAlg} Authenticode digest ${v.imageDigest ?? "?"} differs from the signed ${v.signedDigest}`);
  }
  return done("ok", `${chosen.detail}; the ${imageAlg} image digest matches`);
}

/** Fills the informational fields of a verdict from the entry's PKCS#7, if it can be read; never throws for bad input. */
async function describeEntry(v: SignatureVerdict, e: WinCertificate, digestOf: ImageDigests): Promise<void> {
  let sig: AuthenticodeSignature;
  try {
    sig = parseAuthenticode(e.bCertificate, e.contentOffset);
  } catch (err) {
    if (isKimageError(err)) return;
    throw err;
  }
  const s = sig.signers[0]?.signerInfo;
  const certs = sig.signedData.certificates;
  v.digestAlgorithm = authenticodeDigestLabel(sig.spc.digestAlgorithmOid);
  v.signedDigest = toHex(sig.spc.digest);
  v.issuer = s?.issuer;
  v.serialNumber = s?.serialNumber;
  v.signatureAlgorithm = s === undefined ? undefined : oidLabel(s.signatureAlgorithmOid);
  v.signingTime = s?.signingTime;
  const i = s === undefined ? -1 : signerCertificateIndex(s, certs);
  v.signer = i >= 0 ? certs[i]?.subject : undefined;
  const alg = hashOf(sig.spc.digestAlgorithmOid);
  if (alg !== undefined) {
    v.imageDigest = await digestOf(alg);
    v.digestMatch = v.imageDigest === v.signedDigest;
  }
}

/** Findings of the certificate table that make an entry (or the whole table) malformed. */
const STRUCTURAL = new Set(["cert-entry-too-short", "cert-entry-overflow", "cert-bad-revision", "cert-bad-type", "cert-table-size-mismatch"]);

/** How many length octets the kernel's pefile_strip_sig_wrapper accepts after the leading SEQUENCE tag. */
function kernelLengthProblem(e: WinCertificate): string | undefined {
  const b1 = e.bCertificate[1];
  if (b1 !== undefined && b1 >= 0x83 && b1 !== 0xff) return `the PKCS#7 length uses ${b1 & 0x7f} length octets; pefile_strip_sig_wrapper returns -EMSGSIZE above 2`;
  return undefined;
}

/**
 * Verifies the Authenticode signatures of a PE image.
 *
 * Returns a verdict for every certificate-table entry (and nested
 * signature) and an overall verdict under `options.mode`; never a bare
 * boolean. Bad input never throws: it is a `malformed` verdict whose reason
 * is the parse error's code.
 *
 * @throws KimageError `bad-argument` for invalid options (a trust anchor
 *   that is not a certificate, a hash of unknown length, a malformed
 *   `sbatLevel`, an unknown mode).
 */
export async function verifyAuthenticode(bytes: Uint8Array, options: VerifyOptions = {}): Promise<AuthenticodeVerdict> {
  return verifyResolved(bytes, resolveOptions(options), 0);
}

async function verifyResolved(bytes: Uint8Array, r: ResolvedVerifyOptions, base: number): Promise<AuthenticodeVerdict> {
  const out: AuthenticodeVerdict = { verdict: "malformed", reason: "", detail: "", mode: r.mode, strict: r.strict, signatures: [], findings: [], sbat: undefined };
  const finish = (reason: VerdictReason, detail: string, verdict: Verdict = reasonVerdict(reason)): AuthenticodeVerdict => {
    out.verdict = verdict;
    out.reason = reason;
    out.detail = detail;
    return out;
  };
  let pe: PeFile;
  try {
    pe = parsePe(bytes, { base });
  } catch (e) {
    if (!isKimageError(e)) throw e;
    return finish(e.code, `pefile_parse_binary: ${e.toLine()}`, "malformed");
  }
  out.findings.push(...pe.findings);
  const table = pe.certificateTable;
  if (table === null) return finish("no-signature", "the image has no certificate table (verify_pefile.c: \"Unsigned PE binary\")", "unsigned");

  const digestOf = imageDigests(pe, r.hash);
  const entries = table.entries;
  const certFindings = pe.findings.filter((f) => f.code.startsWith("cert-") && f.code !== "cert-directory-half-empty");
  const ownerOf = (f: Finding): number =>
    entries.findIndex((e) => f.offset >= e.offset && f.offset < e.offset + Math.max(8, alignUp(e.dwLength, 8)) && f.code !== "cert-table-not-at-end" && f.code !== "cert-table-size-mismatch");
  const tableLevel = certFindings.filter((f) => ownerOf(f) < 0 && (STRUCTURAL.has(f.code) || (r.strict && f.code === "cert-table-not-at-end")));

  if (entries.length === 0) {
    const f = tableLevel[0] ?? certFindings[0];
    return finish(f?.code ?? "no-entries", f?.message ?? "the certificate table holds no entry", "malformed");
  }

  for (const e of entries) {
    const counted = r.mode !== "kernel" || e.index === 0;
    const path = String(e.index);
    const mine = certFindings.filter((f) => ownerOf(f) === e.index);
    let v: SignatureVerdict | undefined;
    if (r.mode === "kernel" && e.index === 0) {
      // pefile_strip_sig_wrapper: "if (round_up(wrapper.length, 8) != ctx->sig_len)" → -ELIBBAD.
      if (alignUp(e.dwLength, 8) !== table.size) {
        v = blank(e.index, path, e.contentOffset, "kernel-wrapper-length", `round_up(dwLength ${e.dwLength}, 8) = ${alignUp(e.dwLength, 8)} != certificate table Size ${table.size}: pefile_strip_sig_wrapper returns -ELIBBAD ("Signature wrapper len wrong"); the kernel reads only the first entry and accepts only a table holding exactly that entry (this table has ${entries.length})`, counted);
      } else {
        const big = kernelLengthProblem(e);
        if (big !== undefined) v = blank(e.index, path, e.contentOffset, "kernel-signature-too-large", big, counted);
      }
    }
    if (v === undefined) {
      const blocking = mine.find((f) => STRUCTURAL.has(f.code) || (r.strict && f.code === "cert-trailing-bytes")) ?? tableLevel[0];
      if (blocking !== undefined) v = blank(e.index, path, e.contentOffset, blocking.code, blocking.message, counted);
    }
    if (v !== undefined) {
      // Blocked before the PKCS#7 was looked at: still say what it claims.
      await describeEntry(v, e, digestOf);
    } else {
      let sig: AuthenticodeSignature | undefined;
      try {
        sig = parseAuthenticode(e.bCertificate, e.contentOffset);
      } catch (err) {
        if (!isKimageError(err)) throw err;
        v = blank(e.index, path, e.contentOffset, err.code, `pkcs7_parse_message: ${err.toLine()}`, counted);
      }
      if (sig !== undefined) v = await verifyInfo(sig, e.index, path, counted, r.mode === "any", r, digestOf);
    }
    const verdict = v as SignatureVerdict;
    verdict.findings.unshift(...mine.filter((f) => f.code !== verdict.reason));
    out.signatures.push(verdict);
  }

  // Combine the entries under the mode.
  const sigs = out.signatures;
  const firstSig = sigs[0] as SignatureVerdict;
  let chosen: SignatureVerdict;
  switch (r.mode) {
    case "kernel":
      chosen = firstSig;
      break;
    case "all":
      chosen = sigs.find((s) => s.verdict !== "valid") ?? firstSig;
      break;
    case "shim": {
      const denied = sigs.find((s) => s.reason === "denied-certificate" || s.reason === "denied-tbs-hash");
      chosen = denied ?? sigs.find((s) => s.verdict === "valid") ?? firstSig;
      break;
    }
    case "any": {
      const all = (s: SignatureVerdict): SignatureVerdict[] => [s, ...s.nested.flatMap(all)];
      chosen = sigs.flatMap(all).find((s) => s.verdict === "valid") ?? firstSig;
      break;
    }
  }
  const where = sigs.length > 1 || chosen.path !== "0" ? `signature ${chosen.path}: ` : "";
  finish(chosen.reason, `${where}${chosen.detail}`, chosen.verdict);
  if (r.mode === "all" && out.verdict === "valid") out.detail = `all ${sigs.length} signature(s) are valid`;

  // Image-level policy: the image-hash denylist, then SBAT.
  for (const [alg, set] of r.deny.imageHashes) {
    const d = await digestOf(alg);
    if (set.has(d)) {
      const msg = `the image's ${alg} Authenticode digest ${d} is on the denylist`;
      if (out.verdict === "valid") finish("denied-image-hash", msg);
      else out.findings.push({ code: "denied-image-hash", severity: "warning", offset: -1, message: msg });
      break;
    }
  }
  if (r.sbatLevel !== undefined) {
    const f: Finding[] = [];
    const entries2 = parseSbat(pe, f);
    out.sbat = checkSbat(entries2, f, r.sbatLevel, r.options.sbatRequired ?? false);
    if (out.sbat.result !== "ok") {
      if (out.verdict === "valid") finish(out.sbat.result, out.sbat.detail);
      else out.findings.push({ code: out.sbat.result, severity: "warning", offset: -1, message: out.sbat.detail });
    }
  }
  return out;
}

/** The verdict of one layer in {@link verifyChain}. */
export interface LayerVerdict {
  /** Index of the layer in `inspect()`'s list. */
  index: number;
  /** Format id of the layer (`pe`). */
  format: string;
  /** Absolute offset of the layer, or -1 for decoded data. */
  offset: number;
  /** Size of the layer's input. */
  size: number;
  verdict: AuthenticodeVerdict;
}

/** The result of {@link verifyChain}. */
export interface ChainVerdict {
  /** The outermost PE layer's verdict (`unsigned` when no layer is a PE). */
  verdict: Verdict;
  reason: VerdictReason;
  detail: string;
  /** Every PE layer's verdict, from the outermost in. */
  layers: LayerVerdict[];
  /** Problems of the layer walk itself (e.g. an inner layer that failed to decode). */
  findings: Finding[];
}

/** Options of {@link verifyChain}. */
export interface VerifyChainOptions extends VerifyOptions {
  /** Options passed to `inspect()`. */
  inspect?: InspectOptions;
}

/**
 * Verifies the Authenticode signature of every PE layer of an image: the
 * layers and the bytes each one parsed (`InspectResult.inputs`) come from
 * `inspect()` (src/inspect/registry.ts), and every layer whose input is a PE
 * with bytes of its own is verified (an EFI stub that fronts the same bytes
 * is verified once). Today that is the outer PE; zboot and
 * UKI payloads that are PEs with their own certificate table are verified
 * as they become layers.
 *
 * @throws KimageError `bad-argument` for invalid options (as
 *   {@link verifyAuthenticode}).
 */
export async function verifyChain(bytes: Uint8Array, options: VerifyChainOptions = {}): Promise<ChainVerdict> {
  const r = resolveOptions(options);
  const findings: Finding[] = [];
  let walk: InspectResult;
  try {
    walk = await inspect(bytes, options.inspect);
  } catch (e) {
    if (!isKimageError(e)) throw e;
    if (!probePe(bytes)) {
      const unknown = e.code === "unknown-format";
      return { verdict: unknown ? "unsigned" : "malformed", reason: unknown ? "no-signature" : e.code, detail: e.toLine(), layers: [], findings };
    }
    // The outer PE is still verified when an inner layer cannot be walked.
    findings.push({ code: "layer-walk-failed", severity: "warning", offset: e.offset, message: `inspect() failed, only the outer PE is verified: ${e.toLine()}` });
    walk = { layers: [{ format: PE_LAYER, offset: 0, size: bytes.length, summary: "", fields: {}, findings: [] }], inputs: [bytes] };
  }
  const { layers, inputs } = walk;
  const out: LayerVerdict[] = [];
  let last: Uint8Array | undefined;
  for (const [index, layer] of layers.entries()) {
    // The bytes this layer parsed, and their absolute offset: where the layer before put its payload.
    const input = inputs[index] as Uint8Array;
    const inputOffset = index === 0 ? 0 : (layers[index - 1]?.payload?.offset ?? 0);
    const same = last !== undefined && last.buffer === input.buffer && last.byteOffset === input.byteOffset && last.length === input.length;
    if (layer.format === PE_LAYER && !same) {
      out.push({ index, format: layer.format, offset: layer.offset, size: layer.size, verdict: await verifyResolved(input, r, Math.max(inputOffset, 0)) });
      last = input;
    }
  }
  const outer = out[0];
  if (!outer) return { verdict: "unsigned", reason: "no-signature", detail: "no layer of the image is a PE", layers: out, findings };
  return { verdict: outer.verdict.verdict, reason: outer.verdict.reason, detail: outer.verdict.detail, layers: out, findings };
}
