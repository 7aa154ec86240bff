/**
 * Trust anchors and certificate chains.
 *
 * {@link parseTrustAnchors} reads the caller's anchors (DER, or PEM text with
 * any number of CERTIFICATE blocks and any comment text around them).
 * {@link buildTrustPath} walks from a signer to an anchor the way the kernel
 * combines `pkcs7_verify_sig_chain` (crypto/asymmetric_keys/pkcs7_verify.c)
 * and `pkcs7_validate_trust_one` (pkcs7_trust.c):
 *
 * 1. a certificate of the chain that is itself a trust anchor (same DER, or
 *    the same issuer and serial number, the kernel's key id) ends the walk;
 *    the anchor's own key must verify what that certificate signed;
 * 2. otherwise a trust anchor that issued the current certificate (the
 *    kernel's "root cert signer is a trusted key") ends it;
 * 3. otherwise the issuer is looked for among the certificates carried in
 *    the signature, and the walk continues from it;
 * 4. when the signer's certificate is not in the signature at all, an anchor
 *    with the signer's issuer and serial (or key identifier) must verify the
 *    SignerInfo directly (the kernel's "last resort").
 *
 * Where the kernel matches issuers by authorityKeyIdentifier alone, kimage
 * requires RFC 5280 name chaining (issuer Name = subject Name) and a
 * consistent authorityKeyIdentifier, and checks basicConstraints and
 * pathLenConstraint on the issuing certificates carried in the signature;
 * anchors are trusted as given (UEFI `db` semantics). Walks are bounded by
 * `maxChainLength` and by loop detection.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { bytesEqual } from "../asn1/der.js";
import { VERIFY_LAYER, type Verdict, type VerdictReason } from "./policy.js";
import { parseCertificate, type ParsedCertificate } from "../cms/certificate.js";
import { nameText } from "../cms/names.js";
import { signatureScheme, verifySignatureValue, type SignatureCheck, type SubtleVerifier } from "./crypto.js";

/** One PEM block. */
export interface PemBlock {
  /** The label, e.g. `CERTIFICATE`. */
  label: string;
  /** The decoded bytes. */
  der: Uint8Array;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_VALUES: ReadonlyMap<string, number> = new Map(Array.from(B64, (c, i) => [c, i] as const));

/** Strict base64 (RFC 4648 section 4) decoding; whitespace is ignored. Returns null when invalid. */
export function base64Decode(text: string): Uint8Array | null {
  const s = text.replace(/\s+/g, "");
  if (s.length % 4 !== 0) return null;
  const pad = s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const ch = s.charAt(i + j);
      const last = i + 4 === s.length;
      let v: number | undefined;
      if (ch === "=" && last && j >= 4 - pad) v = 0;
      else v = B64_VALUES.get(ch);
      if (v === undefined) return null;
      n = n * 64 + v;
    }
    const bytes = [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
    for (const b of bytes) if (o < out.length) out[o++] = b;
  }
  return out;
}

/**
 * The PEM blocks in `text` (RFC 7468): `-----BEGIN label-----`, base64,
 * `-----END label-----`. Text before, between and after the blocks (such as
 * `openssl x509 -text` output) is ignored.
 *
 * @throws KimageError `bad-argument` for a block whose END is missing or
 *   does not match, or whose body is not base64.
 */
export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(text)) !== null) {
    const [, label, body, endLabel] = m as unknown as [string, string, string, string];
    if (label !== endLabel) {
      throw new KimageError("bad-argument", `PEM block BEGIN ${label} ends with END ${endLabel}`, { layer: VERIFY_LAYER, offset: m.index });
    }
    const der = base64Decode(body);
    if (der === null) throw new KimageError("bad-argument", `PEM block ${label} at character ${m.index} is not valid base64`, { layer: VERIFY_LAYER, offset: m.index });
    out.push({ label, der });
    consumed = re.lastIndex;
  }
  if (text.indexOf("-----BEGIN ", consumed) >= 0) {
    throw new KimageError("bad-argument", "a PEM BEGIN line has no matching END line", { layer: VERIFY_LAYER, offset: consumed });
  }
  return out;
}

const PEM_MARK = "-----BEGIN ";

function looksLikePem(b: Uint8Array): boolean {
  // DER certificates start with 0x30; PEM files are text that contains a BEGIN line.
  if (b[0] === 0x30) return false;
  const head = new TextDecoder("latin1").decode(b.subarray(0, Math.min(b.length, 1 << 20)));
  return head.includes(PEM_MARK);
}

/**
 * The DER certificates in one input: PEM text (string, or bytes holding a
 * BEGIN line) gives every `CERTIFICATE` / `X509 CERTIFICATE` / `TRUSTED
 * CERTIFICATE` block; anything else is taken as one DER certificate.
 *
 * @throws KimageError `bad-argument` for text without a certificate block.
 */
export function certificateDers(input: Uint8Array | string): Uint8Array[] {
  if (typeof input !== "string" && !looksLikePem(input)) return [input];
  const text = typeof input === "string" ? input : new TextDecoder("latin1").decode(input);
  const ders = pemBlocks(text)
    .filter((b) => b.label === "CERTIFICATE" || b.label === "X509 CERTIFICATE" || b.label === "TRUSTED CERTIFICATE")
    .map((b) => b.der);
  if (ders.length === 0) throw new KimageError("bad-argument", "no PEM CERTIFICATE block in the trust input", { layer: VERIFY_LAYER, offset: -1 });
  return ders;
}

/**
 * Parses trust anchors: each input is DER bytes or PEM (string or bytes),
 * possibly with several certificates per PEM.
 *
 * @throws KimageError `bad-argument` when an input is not a certificate
 *   (the DER error is its cause).
 */
export function parseTrustAnchors(inputs: ReadonlyArray<Uint8Array | string>): ParsedCertificate[] {
  const out: ParsedCertificate[] = [];
  inputs.forEach((input, i) => {
    for (const der of certificateDers(input)) {
      try {
        out.push(parseCertificate(der));
      } catch (e) {
        if (!(e instanceof KimageError)) throw e;
        throw new KimageError("bad-argument", `trust anchor ${i} is not a DER X.509 certificate: ${e.message}`, { layer: VERIFY_LAYER, offset: -1, cause: e });
      }
    }
  });
  return out;
}

/** What the chain walk needs besides the certificates. */
export interface ChainContext {
  subtle: SubtleVerifier;
  allowSha1: boolean;
  maxChainLength: number;
}

/** The signer as a SignerInfo identifies it (RFC 5652 SignerIdentifier). */
export interface SignerIdentifier {
  /** issuerAndSerialNumber.issuer DER. */
  issuerRaw: Uint8Array | undefined;
  /** issuerAndSerialNumber.serialNumber as lowercase even hex (as {@link ParsedCertificate.serialNumber}). */
  serialNumber: string | undefined;
  /** subjectKeyIdentifier as lowercase hex. */
  subjectKeyIdentifier: string | undefined;
}

/** The result of {@link buildTrustPath}. */
export interface TrustPath {
  /** True when the chain reaches a trust anchor. */
  trusted: boolean;
  /** Verdict class when not trusted. */
  verdict: Verdict;
  /** `ok` or why the chain is not trusted. */
  reason: VerdictReason;
  detail: string;
  /** The certificates walked, from the signer up (the anchor last when trusted and distinct). */
  chain: ParsedCertificate[];
  /** The trust anchor reached. */
  anchor: ParsedCertificate | undefined;
}

function issuerText(raw: Uint8Array): string {
  try {
    return nameText(raw);
  } catch (e) {
    if (e instanceof KimageError) return "(unreadable Name)";
    throw e;
  }
}

/** True when `sid` names `cert` (issuer + serial, or subject key identifier). */
export function identifies(sid: SignerIdentifier, cert: ParsedCertificate): boolean {
  if (sid.issuerRaw !== undefined && sid.serialNumber !== undefined) {
    return bytesEqual(sid.issuerRaw, cert.issuerRaw) && sid.serialNumber === cert.serialNumber;
  }
  return sid.subjectKeyIdentifier !== undefined && sid.subjectKeyIdentifier === cert.subjectKeyIdentifier;
}

/**
 * True when `child`'s authorityKeyIdentifier is consistent with `issuer`:
 * keyIdentifier equals the issuer's subjectKeyIdentifier (when both exist),
 * and authorityCertIssuer + serial name the issuer (when present).
 */
export function akidMatches(child: ParsedCertificate, issuer: ParsedCertificate): boolean {
  const akid = child.authorityKeyIdentifier;
  if (!akid) return true;
  if (akid.keyIdentifier !== undefined && issuer.subjectKeyIdentifier !== undefined && akid.keyIdentifier !== issuer.subjectKeyIdentifier) return false;
  if (akid.issuerRaw !== undefined && akid.serialBytes !== undefined) {
    return bytesEqual(akid.issuerRaw, issuer.issuerRaw) && bytesEqual(akid.serialBytes, issuer.serialBytes);
  }
  return true;
}

/** The kernel's key id: the same issuer Name and serial number. */
function sameId(a: ParsedCertificate, b: ParsedCertificate): boolean {
  return bytesEqual(a.raw, b.raw) || (bytesEqual(a.issuerRaw, b.issuerRaw) && bytesEqual(a.serialBytes, b.serialBytes));
}

/** Outcome of {@link verifyCertificateSignature}. */
export type CertSignatureCheck = SignatureCheck & { reason?: VerdictReason };

/**
 * Verifies that `issuer`'s key signed `child` (its tbsCertificate), with the
 * algorithm `child` names.
 */
export async function verifyCertificateSignature(child: ParsedCertificate, issuer: ParsedCertificate, ctx: ChainContext): Promise<CertSignatureCheck> {
  const scheme = signatureScheme(child.signatureAlgorithmOid);
  if (scheme === undefined || scheme.hash === undefined) {
    return { ok: false, why: "unsupported", reason: "unsupported-signature-algorithm", detail: `certificate ${child.subject} is signed with ${child.signatureAlgorithmOid}` };
  }
  if (!child.signatureAlgorithmsMatch) {
    return { ok: false, why: "invalid", reason: "signature-algorithm-mismatch", detail: `certificate ${child.subject}: tbsCertificate.signature differs from signatureAlgorithm` };
  }
  if (scheme.hash === "sha1" && !ctx.allowSha1) {
    return { ok: false, why: "unsupported", reason: "sha1-not-allowed", detail: `certificate ${child.subject} is signed with SHA-1` };
  }
  const r = await verifySignatureValue(ctx.subtle, issuer, scheme, scheme.hash, child.tbsRaw, child.signature);
  if (r.ok) return r;
  const reason: VerdictReason =
    r.why === "invalid" ? "bad-chain-signature" : issuer.publicKey.kind === "ec-explicit" ? "ec-explicit-parameters" : "unsupported-key";
  return { ...r, reason, detail: `certificate ${child.subject} by ${issuer.subject}: ${r.detail}` };
}

function untrusted(reason: VerdictReason, detail: string, chain: ParsedCertificate[], verdict: Verdict = "untrusted"): TrustPath {
  return { trusted: false, verdict, reason, detail, chain, anchor: undefined };
}

function failed(r: CertSignatureCheck, chain: ParsedCertificate[]): TrustPath {
  const reason = r.ok ? "ok" : (r.reason ?? (r.why === "invalid" ? "bad-chain-signature" : "unsupported-key"));
  const verdict: Verdict = reason === "signature-algorithm-mismatch" ? "malformed" : !r.ok && r.why === "unsupported" ? "unsupported" : "untrusted";
  return untrusted(reason, r.ok ? "" : r.detail, chain, verdict);
}

/**
 * Walks from the signer to a trust anchor (see the module documentation for
 * the order). `signer` is the signer's certificate when the signature carries
 * it; `verifySigner` checks the SignerInfo signature with a given
 * certificate's key (used when an anchor stands in for the signer).
 * `certs` are the certificates the signature carries.
 */
export async function buildTrustPath(
  signer: ParsedCertificate | undefined,
  sid: SignerIdentifier,
  verifySigner: (key: ParsedCertificate) => Promise<SignatureCheck & { reason?: VerdictReason; verdict?: Verdict }>,
  certs: readonly ParsedCertificate[],
  anchors: readonly ParsedCertificate[],
  ctx: ChainContext,
): Promise<TrustPath> {
  if (signer === undefined) {
    // pkcs7_validate_trust_one: "As a last resort, see if we have a trusted
    // public key that matches the signed info directly."
    const a = anchors.find((x) => identifies(sid, x));
    if (a === undefined) {
      const who = sid.issuerRaw !== undefined ? `issuer ${issuerText(sid.issuerRaw)}, serial ${sid.serialNumber ?? "?"}` : `key identifier ${sid.subjectKeyIdentifier ?? "?"}`;
      return untrusted("no-trusted-anchor", `the signer's certificate (${who}) is neither in the signature nor among the trust anchors`, []);
    }
    const r = await verifySigner(a);
    if (!r.ok) {
      return untrusted(r.reason ?? (r.why === "invalid" ? "bad-signature" : "unsupported-key"), `trust anchor ${a.subject}: ${r.detail}`, [a], r.verdict ?? (r.why === "invalid" ? "untrusted" : "unsupported"));
    }
    return { trusted: true, verdict: "valid", reason: "ok", detail: `signed directly by trust anchor ${a.subject}`, chain: [a], anchor: a };
  }

  const chain: ParsedCertificate[] = [];
  const seen = new Set<ParsedCertificate>();
  let x = signer;
  for (;;) {
    chain.push(x);
    seen.add(x);
    if (chain.length > ctx.maxChainLength) {
      return untrusted("chain-too-long", `the chain is longer than ${ctx.maxChainLength} certificates`, chain);
    }

    // 1. The certificate itself is trusted (x509_request_asymmetric_key(trust_keyring, x509->id)).
    const self = anchors.find((a) => sameId(a, x));
    if (self !== undefined) {
      if (!bytesEqual(self.raw, x.raw)) {
        // "Verify that the trusted variant can also validate the signature on the descendant."
        const below = chain[chain.length - 2];
        const r = below === undefined ? await verifySigner(self) : await verifyCertificateSignature(below, self, ctx);
        if (!r.ok) return below === undefined ? untrusted(r.reason ?? "bad-signature", `trust anchor ${self.subject}: ${r.detail}`, chain) : failed(r, chain);
      }
      return { trusted: true, verdict: "valid", reason: "ok", detail: `${x.subject} is a trust anchor`, chain, anchor: self };
    }

    // 2. A trust anchor issued it.
    let akidMismatch: ParsedCertificate | undefined;
    let anchorFailure: CertSignatureCheck | undefined;
    for (const a of anchors) {
      if (!bytesEqual(a.subjectRaw, x.issuerRaw)) continue;
      if (!akidMatches(x, a)) {
        akidMismatch ??= a;
        continue;
      }
      const r = await verifyCertificateSignature(x, a, ctx);
      if (r.ok) {
        chain.push(a);
        return { trusted: true, verdict: "valid", reason: "ok", detail: `${x.subject} is issued by trust anchor ${a.subject}`, chain, anchor: a };
      }
      anchorFailure ??= r;
    }
    if (anchorFailure !== undefined) return failed(anchorFailure, chain);

    // 3. A self-issued certificate that is not an anchor roots a chain of its own.
    if (x.selfIssued) {
      return untrusted("no-trusted-anchor", `the chain ends at self-issued ${x.subject}, which is not a trust anchor`, chain);
    }

    // 4. The issuer among the certificates of the signature: every candidate
    //    with the right name and a consistent authorityKeyIdentifier is tried
    //    in order, so that a decoy cannot hide the real issuer.
    const named = certs.filter((p) => p !== x && bytesEqual(p.subjectRaw, x.issuerRaw));
    const issuers = named.filter((p) => akidMatches(x, p));
    if (issuers.length === 0) {
      const mismatch = akidMismatch ?? named[0];
      if (mismatch !== undefined) {
        return untrusted(
          "akid-mismatch",
          `${x.subject}: authorityKeyIdentifier ${x.authorityKeyIdentifier?.keyIdentifier ?? "(issuer+serial)"} does not match ${mismatch.subject} (subjectKeyIdentifier ${mismatch.subjectKeyIdentifier ?? "none"})`,
          chain,
        );
      }
      return untrusted("no-trusted-anchor", `no certificate for issuer ${x.issuer} in the signature or among the trust anchors`, chain);
    }
    const fresh = issuers.filter((c) => !seen.has(c));
    if (fresh.length === 0) return untrusted("chain-loop", `the chain loops back to ${(issuers[0] as ParsedCertificate).subject}`, chain);
    let p: ParsedCertificate | undefined;
    let firstFailure: CertSignatureCheck | undefined;
    for (const c of fresh) {
      const r = await verifyCertificateSignature(x, c, ctx);
      if (r.ok) {
        p = c;
        break;
      }
      firstFailure ??= r;
    }
    if (p === undefined) return failed(firstFailure as CertSignatureCheck, chain);
    // RFC 5280 6.1.4 (k), (l), (n): an issuer must be a CA, within its path length, allowed to sign certificates.
    if (p.version === 2 && p.basicConstraints?.cA !== true) {
      return untrusted("not-a-ca", `${p.subject} issued ${x.subject} but has no basicConstraints cA=TRUE`, [...chain, p]);
    }
    if (p.keyUsage !== undefined && !p.keyUsage.includes("keyCertSign")) {
      return untrusted("not-a-ca", `${p.subject} issued ${x.subject} but its keyUsage lacks keyCertSign`, [...chain, p]);
    }
    const below = chain.slice(1).filter((c) => !c.selfIssued).length;
    if (p.basicConstraints?.pathLen !== undefined && below > p.basicConstraints.pathLen) {
      return untrusted("path-length-exceeded", `${p.subject} has pathLenConstraint ${p.basicConstraints.pathLen} but ${below} intermediate certificate(s) follow it`, [...chain, p]);
    }
    x = p;
  }
}
