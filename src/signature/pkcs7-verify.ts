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
 * It also holds a parser for detached SignedData (module signatures), whose
 * eContentType is id-data and which carries no eContent.
 *
 * @module
 */

import { toHex } from "../core/bytes.js";
import { KimageError } from "../core/errors.js";
import {
  DER_LAYER,
  TAG,
  bytesEqual,
  children,
  childrenCount,
  ctxTag,
  expect,
  parseDer,
  readInteger,
  readOctetString,
  readOid,
  readSmallInt,
  readTime,
  tagName,
  type Tlv,
} from "../asn1/der.js";
import { DIGEST_SIZES, OID, digestNameOf, oidName } from "../asn1/oids.js";
import type { HashAlgorithm, HashProvider } from "../hash/types.js";
import { type NormalizedDenyList, type Verdict, type VerdictReason } from "./policy.js";
import { buildTrustPath, identifies, type SignerIdentifier } from "./trust.js";
import {
  nameText,
  parseCertificate,
  readDigestInfo,
  rsaRecoverDigestInfo,
  signatureScheme,
  validAt,
  verifySignatureValue,
  type ParsedCertificate,
  type SignatureCheck,
  type SubtleVerifier,
} from "../cms/x509.js";

/** A SignerInfo as the verifier needs it (the fields of `SignerSummary` it uses). */
export interface SignerFields {
  /** CMSVersion. */
  version: number;
  /** Issuer (RFC 4514) of issuerAndSerialNumber. */
  issuer: string | undefined;
  /** DER of that issuer Name. */
  issuerRaw: Uint8Array | undefined;
  /** Serial number, lowercase even hex. */
  serialNumber: string | undefined;
  /** subjectKeyIdentifier (hex) when sid is `[0]`. */
  subjectKeyIdentifier: string | undefined;
  digestAlgorithmOid: string;
  signatureAlgorithmOid: string;
  signature: Uint8Array;
  /** Original `[0] IMPLICIT` signed attributes TLV, or undefined. */
  signedAttrsRaw: Uint8Array | undefined;
  /** OIDs of the signed attributes in order (duplicates kept). */
  signedAttributeTypes: string[];
  contentType: string | undefined;
  messageDigest: Uint8Array | undefined;
  signingTime: Date | undefined;
}

/** Everything {@link verifySignerInfo} needs besides the SignerInfo. */
export interface SignerVerifyContext {
  /** WebCrypto, or undefined when none is available (verdict `unsupported` / `no-crypto`). */
  subtle: SubtleVerifier | undefined;
  hash: HashProvider;
  anchors: readonly ParsedCertificate[];
  allowSha1: boolean;
  time: Date | undefined;
  requireKeyUsage: boolean;
  requireEku: readonly string[];
  maxChainLength: number;
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
  verdict: Verdict;
  reason: VerdictReason;
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

/** Parses the message's certificates; a malformed one is a `certificate-malformed` verdict. */
export function parseMessageCertificates(certs: readonly { raw: Uint8Array; offset: number }[]): ParsedCertificate[] | { error: KimageError; index: number } {
  const out: ParsedCertificate[] = [];
  for (const [index, c] of certs.entries()) {
    try {
      out.push(parseCertificate(c.raw, c.offset));
    } catch (e) {
      if (e instanceof KimageError) return { error: e, index };
      throw e;
    }
  }
  return out;
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
export async function verifySignerInfo(signer: SignerFields, certs: readonly ParsedCertificate[], ctx: SignerVerifyContext): Promise<SignerOutcome> {
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

/** A detached (or attached) CMS SignedData, parsed generically. */
export interface CmsSignedData {
  /** Absolute offset of the ContentInfo. */
  offset: number;
  /** Length of the ContentInfo. */
  length: number;
  version: number;
  /** Digest algorithm OIDs of SignedData.digestAlgorithms. */
  digestAlgorithms: string[];
  eContentType: string;
  /** eContent octets when present (undefined for a detached signature). */
  eContent: Uint8Array | undefined;
  /** The certificates (DER views with absolute offsets). */
  certificates: { raw: Uint8Array; offset: number }[];
  signers: SignerFields[];
}

function fail(message: string, offset: number): never {
  throw new KimageError("asn1-malformed", message, { layer: DER_LAYER, offset });
}

function algorithmOid(t: Tlv, what: string): string {
  expect(t, TAG.SEQUENCE, what);
  return readOid(childrenCount(t, 1, 2, what)[0] as Tlv, `${what}.algorithm`);
}

/*
 * ContentInfo ::= SEQUENCE {
 *   contentType ContentType,
 *   content [0] EXPLICIT ANY DEFINED BY contentType }      -- RFC 5652 section 3
 *
 * SignedData ::= SEQUENCE {
 *   version CMSVersion,
 *   digestAlgorithms DigestAlgorithmIdentifiers,
 *   encapContentInfo EncapsulatedContentInfo,
 *   certificates [0] IMPLICIT CertificateSet OPTIONAL,
 *   crls [1] IMPLICIT RevocationInfoChoices OPTIONAL,
 *   signerInfos SignerInfos }                                -- section 5.1
 *
 * EncapsulatedContentInfo ::= SEQUENCE {
 *   eContentType ContentType,
 *   eContent [0] EXPLICIT OCTET STRING OPTIONAL }            -- section 5.2
 *
 * SignerInfo ::= SEQUENCE {
 *   version CMSVersion,
 *   sid SignerIdentifier,
 *   digestAlgorithm DigestAlgorithmIdentifier,
 *   signedAttrs [0] IMPLICIT SignedAttributes OPTIONAL,
 *   signatureAlgorithm SignatureAlgorithmIdentifier,
 *   signature SignatureValue,
 *   unsignedAttrs [1] IMPLICIT UnsignedAttributes OPTIONAL } -- section 5.3
 *
 * SignerIdentifier ::= CHOICE {
 *   issuerAndSerialNumber IssuerAndSerialNumber,
 *   subjectKeyIdentifier [0] SubjectKeyIdentifier }
 *
 * Attribute ::= SEQUENCE { attrType OBJECT IDENTIFIER, attrValues SET OF AttributeValue }
 */
/**
 * Parses a CMS ContentInfo holding SignedData (RFC 5652, quoted above),
 * spanning all of `der`, checked against the DER rules. Used for module
 * signatures (`openssl cms -sign -binary -noattr -nocerts`), which the
 * Authenticode reader does not accept (they are detached and typed id-data).
 *
 * @throws KimageError `asn1-*`, `truncated`, `limit` for malformed DER;
 *   `pkcs7-unexpected` when the content type is not signedData.
 */
export function parseCmsSignedData(der: Uint8Array, base = 0): CmsSignedData {
  const top = parseDer(der, base);
  expect(top, TAG.SEQUENCE, "ContentInfo");
  const [ctTlv, wrapper] = childrenCount(top, 2, 2, "ContentInfo") as [Tlv, Tlv];
  const contentType = readOid(ctTlv, "ContentInfo.contentType");
  if (contentType !== OID.signedData) {
    throw new KimageError("pkcs7-unexpected", `ContentInfo content type ${contentType} is not signedData`, { layer: DER_LAYER, offset: ctTlv.offset });
  }
  expect(wrapper, ctxTag(0, true), "ContentInfo.content");
  const [sd] = childrenCount(wrapper, 1, 1, "ContentInfo.content") as [Tlv];
  expect(sd, TAG.SEQUENCE, "SignedData");
  const f = children(sd);
  if (f.length < 4) fail(`SignedData at 0x${sd.offset.toString(16)} has ${f.length} element(s), expected at least 4`, sd.offset);
  const version = readSmallInt(f[0] as Tlv, "SignedData.version");
  const digestAlgorithms = children(expect(f[1] as Tlv, TAG.SET, "SignedData.digestAlgorithms")).map((a) => algorithmOid(a, "DigestAlgorithmIdentifier"));
  const eci = expect(f[2] as Tlv, TAG.SEQUENCE, "EncapsulatedContentInfo");
  const e = childrenCount(eci, 1, 2, "EncapsulatedContentInfo");
  const eContentType = readOid(e[0] as Tlv, "eContentType");
  let eContent: Uint8Array | undefined;
  if (e[1] !== undefined) {
    const [oct] = childrenCount(expect(e[1], ctxTag(0, true), "eContent"), 1, 1, "eContent") as [Tlv];
    eContent = readOctetString(oct, "eContent");
  }
  let i = 3;
  const certificates: { raw: Uint8Array; offset: number }[] = [];
  if ((f[i] as Tlv).tag === ctxTag(0, true)) {
    for (const c of children(f[i] as Tlv)) {
      if (c.tag === TAG.SEQUENCE) certificates.push({ raw: c.raw, offset: c.offset });
    }
    i++;
  }
  if (f[i]?.tag === ctxTag(1, true)) i++;
  const si = f[i];
  if (si === undefined || i !== f.length - 1) fail(`SignedData at 0x${sd.offset.toString(16)}: signerInfos missing or not last`, sd.offset);
  const signers = children(expect(si, TAG.SET, "SignerInfos")).map(parseSignerFields);
  return { offset: top.offset, length: top.raw.length, version, digestAlgorithms, eContentType, eContent, certificates, signers };
}

function parseSignerFields(t: Tlv): SignerFields {
  expect(t, TAG.SEQUENCE, "SignerInfo");
  const f = childrenCount(t, 5, 7, "SignerInfo");
  const version = readSmallInt(f[0] as Tlv, "SignerInfo.version");
  const sid = f[1] as Tlv;
  let issuer: string | undefined;
  let issuerRaw: Uint8Array | undefined;
  let serialNumber: string | undefined;
  let subjectKeyIdentifier: string | undefined;
  if (sid.tag === TAG.SEQUENCE) {
    const [name, serial] = childrenCount(sid, 2, 2, "IssuerAndSerialNumber") as [Tlv, Tlv];
    expect(name, TAG.SEQUENCE, "IssuerAndSerialNumber.issuer");
    issuerRaw = name.raw;
    issuer = nameText(name.raw, name.offset);
    const v = readInteger(serial, "IssuerAndSerialNumber.serialNumber").value;
    let h = (v < 0n ? -v : v).toString(16);
    if (h.length % 2) h = `0${h}`;
    serialNumber = v < 0n ? `-${h}` : h;
  } else if (sid.tag === ctxTag(0, false)) {
    subjectKeyIdentifier = toHex(sid.content);
  } else fail(`SignerIdentifier: unexpected ${tagName(sid.tag)} at 0x${sid.offset.toString(16)}`, sid.offset);
  const digestAlgorithmOid = algorithmOid(f[2] as Tlv, "SignerInfo.digestAlgorithm");
  let i = 3;
  let attrs: Tlv | undefined;
  if ((f[i] as Tlv).tag === ctxTag(0, true)) attrs = f[i++];
  const sigAlg = f[i++];
  const sig = f[i++];
  if (sigAlg === undefined || sig === undefined) fail(`SignerInfo at 0x${t.offset.toString(16)}: missing signatureAlgorithm or signature`, t.offset);
  const signatureAlgorithmOid = algorithmOid(sigAlg, "SignerInfo.signatureAlgorithm");
  const signature = readOctetString(sig, "SignerInfo.signature");
  if (f[i] !== undefined) {
    expect(f[i] as Tlv, ctxTag(1, true), "SignerInfo.unsignedAttrs");
    i++;
  }
  if (i !== f.length) fail(`SignerInfo at 0x${t.offset.toString(16)} has unexpected elements`, t.offset);
  const signedAttributeTypes: string[] = [];
  let contentType: string | undefined;
  let messageDigest: Uint8Array | undefined;
  let signingTime: Date | undefined;
  if (attrs !== undefined) {
    for (const a of children(attrs)) {
      expect(a, TAG.SEQUENCE, "Attribute");
      const [typeTlv, values] = childrenCount(a, 2, 2, "Attribute") as [Tlv, Tlv];
      const type = readOid(typeTlv, "Attribute.attrType");
      signedAttributeTypes.push(type);
      const vals = children(expect(values, TAG.SET, "Attribute.attrValues"));
      const one = vals.length === 1 ? (vals[0] as Tlv) : undefined;
      if (type === OID.contentType || type === OID.messageDigest || type === OID.signingTime) {
        // "We permit max one item per AuthenticatedAttribute": a multi-valued one counts as repeated.
        if (one === undefined) for (let k = 1; k < vals.length; k++) signedAttributeTypes.push(type);
        else if (type === OID.contentType) contentType = readOid(one, "contentType");
        else if (type === OID.messageDigest) messageDigest = readOctetString(one, "messageDigest");
        else signingTime = readTime(one, "signingTime");
      }
    }
  }
  return {
    version,
    issuer,
    issuerRaw,
    serialNumber,
    subjectKeyIdentifier,
    digestAlgorithmOid,
    signatureAlgorithmOid,
    signature,
    signedAttrsRaw: attrs?.raw,
    signedAttributeTypes,
    contentType,
    messageDigest,
    signingTime,
  };
}
