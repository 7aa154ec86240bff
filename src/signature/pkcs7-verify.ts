/**
 * Verification of one CMS SignerInfo (RFC 5652 section 5.6) against its
 * content, the certificates the message carries and the caller's trust
 * anchors, in the order of the kernel's `pkcs7_verify_one`
 * (crypto/asymmetric_keys/pkcs7_verify.c) followed by
 * `pkcs7_validate_trust_one` (pkcs7_trust.c):
 *
 * 1. algorithms (the kernel rejects unknown ones while parsing);
 * 2. authenticated attributes: present for Authenticode, absent for module
 *    signatures; contentType and messageDigest exactly once
 *    (pkcs7_sig_note_set_of_authattrs, pkcs7_sig_note_authenticated_attr);
 * 3. `pkcs7_digest`: messageDigest = H(content);
 * 4. `pkcs7_find_key`: the signer's certificate in the message;
 * 5. signingTime within the signer's validity ("PKCS#7 signing time outside
 *    validity" / "Message signed outside of X.509 validity window");
 * 6. `public_key_verify_signature` over the authenticated attributes with
 *    their `[0] IMPLICIT` tag read as SET OF (0x31), or over the content
 *    when there are none;
 * 7. `pkcs7_verify_sig_chain` + `pkcs7_validate_trust_one` (see
 *    {@link buildTrustPath}), with denylisted certificates rejected first,
 *    as the kernel's blacklist check does inside the chain walk;
 * 8. the caller's extra policy: `time`, `requireKeyUsage`, `requireEku`.
 *
 * It also holds the reader of detached SignedData (module signatures), whose
 * eContentType is id-data and which carries no eContent: the CMS model read
 * in its `cms` dialect.
 *
 * @module
 */

import { toHex } from "../core/bytes.js";
import type { KimageError } from "../core/errors.js";
import { TAG, bytesEqual, parseDer } from "../asn1/der.js";
import { DIGEST_SIZES, OID, digestNameOf, oidName } from "../asn1/oids.js";
import type { HashAlgorithm, HashProvider } from "../hash/types.js";
import { validAt, type ParsedCertificate } from "../cms/certificate.js";
import { readDigestInfo } from "../cms/digest-info.js";
import { readSignedData, readSignedDataContentInfo } from "../cms/signed-data.js";
import { readSignerInfo, type SignerInfo } from "../cms/signer-info.js";
import { rsaRecoverDigestInfo, signatureScheme, verifySignatureValue, type SignatureCheck, type SubtleVerifier } from "./crypto.js";
import { type NormalizedDenyList, type Verdict, type VerdictReason } from "./policy.js";
import { buildTrustPath, identifies, type SignerIdentifier } from "./trust.js";

/** Everything {@link verifySignerInfo} needs besides the SignerInfo. */
export interface SignerVerifyContext {
  /** WebCrypto, or undefined when none is available (verdict `unsupported` / `no-crypto`). */
  subtle: SubtleVerifier | undefined;
  /** Computes messageDigest and the denylist hashes. */
  hash: HashProvider;
  /** The caller's trust anchors. */
  anchors: readonly ParsedCertificate[];
  /** Accept SHA-1 digests and signatures. */
  allowSha1: boolean;
  /** Every certificate of the chain must be valid at this time, when given. */
  time: Date | undefined;
  /** The signer's certificate must have keyUsage digitalSignature. */
  requireKeyUsage: boolean;
  /** Extended key usages the signer's certificate must have. */
  requireEku: readonly string[];
  /** Longest chain walked. */
  maxChainLength: number;
  /** Denied certificates and TBS hashes. */
  deny: NormalizedDenyList;
  /** Authenticated attributes: `required` (Authenticode), `forbidden` (module signatures). */
  attributes: "required" | "forbidden";
  /** The message's eContentType (the contentType attribute must equal it). */
  eContentType: string;
  /** The bytes messageDigest covers (or the signature, without attributes). */
  content: Uint8Array;
  /** The whole TLV around `content`, to explain a messageDigest computed over it. */
  contentTlv?: Uint8Array;
}

/** The outcome of verifying one SignerInfo. */
export interface SignerOutcome {
  /** The verdict class. */
  verdict: Verdict;
  /** `ok` or why not. */
  reason: VerdictReason;
  /** One human-readable sentence. */
  detail: string;
  /** The signer's certificate (from the message, or the anchor standing in for it). */
  signerCert: ParsedCertificate | undefined;
  /** Certificates walked from the signer up. */
  chain: ParsedCertificate[];
  /** The trust anchor reached. */
  anchor: ParsedCertificate | undefined;
  /** Digest algorithm name (`sha256`) or dotted OID. */
  digestAlgorithm: string;
  /** Signature algorithm name or dotted OID. */
  signatureAlgorithm: string;
}

const AUTH_HASHES: ReadonlySet<string> = new Set(["sha1", "sha256", "sha384", "sha512"]);

/** The kimage hash name of a digest OID, or undefined for MD5, SHA-224 and unknown OIDs. */
export function hashOf(oid: string): HashAlgorithm | undefined {
  const n = digestNameOf(oid);
  return n !== undefined && AUTH_HASHES.has(n) ? (n as HashAlgorithm) : undefined;
}

/** Name of a digest OID (`sha256`), or the dotted OID. */
export function digestLabel(oid: string): string {
  return digestNameOf(oid) ?? oid;
}

/**
 * The first certificate of a message that a verifier cannot use (its
 * `problem`, an `x509` error) and its index: a `certificate-malformed`
 * verdict. Undefined when every certificate is usable.
 */
export function certificateProblem(certs: readonly ParsedCertificate[]): { error: KimageError; index: number } | undefined {
  for (const [index, c] of certs.entries()) if (c.problem !== undefined) return { error: c.problem, index };
  return undefined;
}

/** Hex digests of `data` for every algorithm in `algs`. */
async function digests(hash: HashProvider, algs: Iterable<HashAlgorithm>, data: Uint8Array): Promise<Map<HashAlgorithm, string>> {
  const out = new Map<HashAlgorithm, string>();
  for (const a of algs) out.set(a, toHex(await hash.digest(a, [data])));
  return out;
}

/** The first denied certificate of `chain` (by DER or TBS hash), or undefined. */
export async function deniedInChain(chain: readonly ParsedCertificate[], deny: NormalizedDenyList, hash: HashProvider): Promise<{ reason: "denied-certificate" | "denied-tbs-hash"; cert: ParsedCertificate } | undefined> {
  for (const c of chain) {
    if (deny.certificates.has(toHex(c.raw))) return { reason: "denied-certificate", cert: c };
    if (deny.tbsHashes.size > 0) {
      const d = await digests(hash, deny.tbsHashes.keys(), c.tbsRaw);
      for (const [alg, hex] of d) if (deny.tbsHashes.get(alg)?.has(hex)) return { reason: "denied-tbs-hash", cert: c };
    }
  }
  return undefined;
}

function outcome(verdict: Verdict, reason: VerdictReason, detail: string, base: Pick<SignerOutcome, "digestAlgorithm" | "signatureAlgorithm">, more: Partial<SignerOutcome> = {}): SignerOutcome {
  return { verdict, reason, detail, signerCert: undefined, chain: [], anchor: undefined, ...base, ...more };
}

/**
 * Verifies one SignerInfo (see the module documentation for the order).
 * `certs` are the message's certificates, already parsed. Never throws for
 * bad input; every problem is an outcome with a reason.
 */
export async function verifySignerInfo(signer: SignerInfo, certs: readonly ParsedCertificate[], ctx: SignerVerifyContext): Promise<SignerOutcome> {
  const base = {
    digestAlgorithm: digestLabel(signer.digestAlgorithmOid),
    signatureAlgorithm: oidName(signer.signatureAlgorithmOid) ?? signer.signatureAlgorithmOid,
  };

  // 1. Algorithms.
  const hash = hashOf(signer.digestAlgorithmOid);
  if (hash === undefined) return outcome("unsupported", "unsupported-digest", `digest algorithm ${base.digestAlgorithm} is not SHA-1/256/384/512`, base);
  if (hash === "sha1" && !ctx.allowSha1) return outcome("unsupported", "sha1-not-allowed", "the SignerInfo digest algorithm is SHA-1 (options.allowSha1 is not set)", base);
  const scheme = signatureScheme(signer.signatureAlgorithmOid);
  if (scheme === undefined) return outcome("unsupported", "unsupported-signature-algorithm", `signature algorithm ${base.signatureAlgorithm} is not RSA PKCS#1 v1.5 or ECDSA`, base);
  if (scheme.hash !== undefined && scheme.hash !== hash) {
    return outcome("malformed", "signature-algorithm-mismatch", `signature algorithm ${base.signatureAlgorithm} names ${scheme.hash}, the digest algorithm is ${hash}`, base);
  }

  // 2. Authenticated attributes.
  let signedData: Uint8Array;
  if (signer.signedAttrsRaw === undefined) {
    if (ctx.attributes === "required") return outcome("malformed", "missing-signed-attributes", "Authenticode requires authenticated attributes (pkcs7_note_signed_info: -EBADMSG)", base);
    signedData = ctx.content;
  } else {
    if (ctx.attributes === "forbidden") return outcome("malformed", "unexpected-signed-attributes", "a module signature must have no authenticated attributes (pkcs7_verify: \"Invalid module sig (has authattrs)\")", base);
    const counts = new Map<string, number>();
    for (const t of signer.signedAttributeTypes) counts.set(t, (counts.get(t) ?? 0) + 1);
    for (const [t, n] of counts) {
      if (n > 1) return outcome("malformed", "duplicate-attribute", `authenticated attribute ${oidName(t) ?? t} appears ${n} times ("Repeated/multivalue AuthAttrs not permitted")`, base);
    }
    if (!counts.has(OID.contentType)) return outcome("malformed", "missing-content-type", "no contentType authenticated attribute (\"Missing required AuthAttr\", -EBADMSG)", base);
    if (!counts.has(OID.messageDigest) || signer.messageDigest === undefined) {
      return outcome("malformed", "missing-message-digest", "no messageDigest authenticated attribute (\"Missing required AuthAttr\", -EBADMSG)", base);
    }
    if (signer.contentType !== ctx.eContentType) {
      return outcome("malformed", "content-type-mismatch", `contentType attribute ${signer.contentType ?? "?"} differs from eContentType ${ctx.eContentType}`, base);
    }
    if (signer.messageDigest.length !== DIGEST_SIZES[hash]) {
      return outcome("malformed", "message-digest-length", `messageDigest is ${signer.messageDigest.length} bytes, ${hash} gives ${DIGEST_SIZES[hash]}`, base);
    }
    // 3. pkcs7_digest: messageDigest = H(content octets).
    const md = await ctx.hash.digest(hash, [ctx.content]);
    if (!bytesEqual(md, signer.messageDigest)) {
      let detail = `messageDigest ${toHex(signer.messageDigest)} != ${hash}(signed content) ${toHex(md)}`;
      if (ctx.contentTlv !== undefined && bytesEqual(await ctx.hash.digest(hash, [ctx.contentTlv]), signer.messageDigest)) {
        detail += "; it is the digest of the whole SpcIndirectDataContent TLV (tag and length included), not of its content octets";
      }
      return outcome("digest-mismatch", "message-digest-mismatch", detail, base);
    }
    // "We need to switch the 'CONT 0' to a 'SET OF' when we digest."
    signedData = Uint8Array.from(signer.signedAttrsRaw);
    signedData[0] = TAG.SET;
  }

  if (ctx.subtle === undefined) return outcome("unsupported", "no-crypto", "no WebCrypto SubtleCrypto is available (pass options.crypto)", base);
  const subtle = ctx.subtle;

  const checkWith = async (key: ParsedCertificate): Promise<SignatureCheck & { reason?: VerdictReason; verdict?: Verdict }> => {
    if (key.publicKey.kind === "ec-explicit") return { ok: false, why: "unsupported", reason: "ec-explicit-parameters", verdict: "unsupported", detail: `${key.subject} has an EC key with explicit curve parameters (CVE-2020-0601)` };
    if (key.publicKey.kind === "unsupported") return { ok: false, why: "unsupported", reason: "unsupported-key", verdict: "unsupported", detail: `${key.subject}: public key ${key.publicKey.algorithm} is not supported` };
    if (key.publicKey.kind !== scheme.key) return { ok: false, why: "invalid", reason: "key-algorithm-mismatch", verdict: "untrusted", detail: `${key.subject} has an ${key.publicKey.kind.toUpperCase()} key; the SignerInfo is signed with ${base.signatureAlgorithm}` };
    const r = await verifySignatureValue(subtle, key, scheme, hash, signedData, signer.signature);
    if (r.ok || r.why === "unsupported") return r.ok ? r : { ...r, reason: "unsupported-key", verdict: "unsupported" };
    if (signer.signedAttrsRaw === undefined) {
      // Without attributes the signature is over H(content): say whether the key signed another digest.
      const di = rsaRecoverDigestInfo(key.publicKey, signer.signature);
      const parsed = di === null ? null : readDigestInfo(di);
      if (parsed !== null && hashOf(parsed.oid) === hash) {
        const md = await ctx.hash.digest(hash, [ctx.content]);
        return { ok: false, why: "invalid", reason: "content-digest-mismatch", verdict: "digest-mismatch", detail: `${key.subject}'s key signed ${hash} ${toHex(parsed.digest)}; the content's is ${toHex(md)}` };
      }
    }
    return { ...r, reason: "bad-signature", verdict: "untrusted", detail: `the SignerInfo signature does not verify with ${key.subject}'s key` };
  };

  // 4. pkcs7_find_key.
  const sid: SignerIdentifier = { issuerRaw: signer.issuerRaw, serialNumber: signer.serialNumber, subjectKeyIdentifier: signer.subjectKeyIdentifier };
  const signerCert = certs.find((c) => identifies(sid, c));
  if (signerCert !== undefined) {
    // 5. "Check that the PKCS#7 signing time is valid according to the X.509 certificate."
    if (signer.signingTime !== undefined && !validAt(signerCert, signer.signingTime)) {
      return outcome(
        "untrusted",
        "signing-time-outside-validity",
        `signingTime ${signer.signingTime.toISOString()} is outside ${signerCert.subject}'s validity ${signerCert.notBefore.toISOString()} .. ${signerCert.notAfter.toISOString()}`,
        base,
        { signerCert, chain: [signerCert] },
      );
    }
    // 6. public_key_verify_signature(sinfo->signer->pub, sinfo->sig).
    const r = await checkWith(signerCert);
    if (!r.ok) return outcome(r.verdict ?? "untrusted", r.reason ?? "bad-signature", r.detail, base, { signerCert, chain: [signerCert] });
  }

  // 7. The chain, the denylist, the trust anchors.
  const path = await buildTrustPath(signerCert, sid, checkWith, certs, ctx.anchors, { subtle, allowSha1: ctx.allowSha1, maxChainLength: ctx.maxChainLength });
  const more = { signerCert: signerCert ?? (path.trusted ? path.chain[0] : undefined), chain: path.chain, anchor: path.anchor };
  // The chain with the anchor itself (a certificate of the message may stand for it by issuer and serial).
  const all = path.anchor !== undefined && !path.chain.includes(path.anchor) ? [...path.chain, path.anchor] : path.chain;
  const denied = await deniedInChain(all, ctx.deny, ctx.hash);
  if (denied !== undefined) {
    return outcome("untrusted", denied.reason, `${denied.cert.subject} (serial ${denied.cert.serialNumber}) is on the denylist${denied.reason === "denied-tbs-hash" ? " by its TBSCertificate hash" : ""}`, base, more);
  }
  if (!path.trusted) return outcome(path.verdict, path.reason, path.detail, base, more);

  // 8. Caller policy.
  if (ctx.time !== undefined) {
    const t = ctx.time;
    const bad = all.find((c) => !validAt(c, t));
    if (bad !== undefined) {
      return outcome("untrusted", "certificate-not-valid-at-time", `${bad.subject} is valid ${bad.notBefore.toISOString()} .. ${bad.notAfter.toISOString()}, not at ${t.toISOString()}`, base, more);
    }
  }
  const leaf = path.chain[0];
  if (ctx.requireKeyUsage && leaf !== undefined && !(leaf.keyUsage?.includes("digitalSignature") ?? false)) {
    return outcome("untrusted", "key-usage", `${leaf.subject} has ${leaf.keyUsage === undefined ? "no keyUsage extension" : `keyUsage ${leaf.keyUsage.join(",") || "(none)"}`}; digitalSignature is required`, base, more);
  }
  for (const eku of ctx.requireEku) {
    if (leaf !== undefined && !(leaf.extKeyUsage?.includes(eku) ?? false)) {
      return outcome("untrusted", "eku-missing", `${leaf.subject} lacks extended key usage ${oidName(eku) ?? eku}`, base, more);
    }
  }
  return outcome("valid", "ok", path.detail, base, more);
}

/** A detached (or attached) CMS SignedData, read in the model's `cms` dialect. */
export interface CmsSignedData {
  /** Absolute offset of the ContentInfo. */
  offset: number;
  /** Length of the ContentInfo. */
  length: number;
  /** SignedData version. */
  version: number;
  /** Digest algorithm OIDs of SignedData.digestAlgorithms. */
  digestAlgorithms: string[];
  /** encapContentInfo.eContentType. */
  eContentType: string;
  /** eContent octets when present (undefined for a detached signature). */
  eContent: Uint8Array | undefined;
  /** The certificates, read strictly (a failure is the certificate's `problem`). */
  certificates: ParsedCertificate[];
  /** The SignerInfos. */
  signers: SignerInfo[];
}

/**
 * Reads a CMS ContentInfo holding SignedData (RFC 5652 sections 3 and 5),
 * spanning all of `der`, checked against the DER rules first. Used for
 * module signatures (`openssl cms -sign -binary -noattr -nocerts`), which the
 * Authenticode reader does not accept (they are detached and typed id-data).
 *
 * @throws KimageError `asn1-*`, `truncated`, `limit` for malformed DER;
 *   `pkcs7-unexpected` when the content type is not signedData.
 */
export function parseCmsSignedData(der: Uint8Array, base = 0): CmsSignedData {
  const top = parseDer(der, base);
  const sd = readSignedData(readSignedDataContentInfo(top, "ContentInfo", "cms"), "SignedData", { dialect: "cms" });
  return {
    offset: top.offset,
    length: top.raw.length,
    version: sd.version,
    digestAlgorithms: sd.digestAlgorithmOids,
    eContentType: sd.eContentType,
    eContent: sd.eContent?.content,
    certificates: sd.certificates,
    signers: sd.signerInfos.map((s) => readSignerInfo(s, { dialect: "cms" })),
  };
}
