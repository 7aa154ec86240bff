/**
 * Verification policy: the options every verifier of `kimage` takes, the
 * verdicts and reason codes it returns, the denylist (image hashes,
 * certificates, TBS hashes, EFI signature lists such as shim's vendor dbx)
 * and SBAT revocation levels.
 *
 * Defaults follow the Linux kernel (`verify_pefile_signature`, mode
 * `kernel`): the first certificate-table entry only, no wall clock, no
 * keyUsage or EKU checks. `strict` (default on) rejects what the kernel
 * tolerates but Authenticode forbids; see {@link VerifyOptions.strict}.
 *
 * @module
 */

import { toHex } from "../core/bytes.js";
import { KimageError } from "../core/errors.js";
import { HASH_LENGTH, type HashAlgorithm, type HashProvider } from "../hash/types.js";
import type { SbatEntry } from "../formats/pe/sbat.js";
import { efiSignatureDatabase, parseEfiSignatureLists } from "./efi-siglist.js";
import type { SubtleVerifier } from "./crypto.js";

/** Layer id of errors about verification options. */
export const VERIFY_LAYER = "verify";

/** The outcome classes of a verification. */
export type Verdict = "valid" | "unsigned" | "malformed" | "digest-mismatch" | "untrusted" | "unsupported";

/**
 * Every reason code a verdict can carry, with its verdict class and meaning.
 * Parse errors and `cert-*` findings of the PE and DER layers also appear as
 * reasons (with verdict `malformed`) under their own {@link ErrorCode}s,
 * e.g. `pe-bad-lfanew`, `asn1-not-der`, `pkcs7-unexpected`,
 * `cert-trailing-bytes`; see {@link reasonVerdict}.
 */
export const VERDICT_REASONS = {
  ok: ["valid", "the signature verifies up to a trust anchor and the digest matches"],
  "no-signature": ["unsigned", "there is no signature (no certificate table, or no module-signature marker)"],

  "kernel-wrapper-length": ["malformed", "verify_pefile.c: round_up(dwLength, 8) != certificate table Size (-ELIBBAD): the kernel accepts only a table holding exactly one entry"],
  "kernel-signature-too-large": ["malformed", "verify_pefile.c: the PKCS#7 length uses more than 2 length octets (-EMSGSIZE)"],
  "cert-table-not-at-end": ["malformed", "data follows the certificate table (strict mode)"],
  "no-entries": ["malformed", "the certificate table holds no readable entry"],
  "certificate-malformed": ["malformed", "a certificate in the signature or among the trust anchors is not well-formed DER X.509"],
  "cms-version": ["malformed", "SignedData or SignerInfo version is not one the kernel accepts (1 or 3, consistent with the signer identifier)"],
  "multiple-signers": ["malformed", "more than one SignerInfo (strict mode; Authenticode allows exactly one)"],
  "missing-signed-attributes": ["malformed", "Authenticode requires authenticated attributes (pkcs7_parser.c: -EBADMSG)"],
  "unexpected-signed-attributes": ["malformed", "a module signature must not have authenticated attributes (pkcs7_verify.c: -EKEYREJECTED)"],
  "missing-content-type": ["malformed", "the contentType authenticated attribute is missing (-EBADMSG)"],
  "missing-message-digest": ["malformed", "the messageDigest authenticated attribute is missing (-EBADMSG)"],
  "duplicate-attribute": ["malformed", "an authenticated attribute appears more than once (pkcs7_parser.c: repeated AuthAttrs)"],
  "content-type-mismatch": ["malformed", "the contentType attribute differs from eContentType (-EBADMSG)"],
  "unexpected-content-type": ["malformed", "eContentType is not the one this kind of signature needs"],
  "digest-algorithm-mismatch": ["malformed", "the digest algorithms of SignedData, SignerInfo and SpcIndirectDataContent differ (strict mode)"],
  "signature-algorithm-mismatch": ["malformed", "the signature algorithm names a different hash than the digest algorithm, or tbsCertificate.signature differs from signatureAlgorithm"],
  "message-digest-length": ["malformed", "the messageDigest attribute is not as long as the digest algorithm's output (-EBADMSG)"],
  "module-signature-malformed": ["malformed", "the module_signature trailer is inconsistent (sig_len, signer_len, key_id_len)"],
  "sbat-malformed": ["malformed", "the .sbat section is not a valid SBAT CSV (shim: each line needs 6 non-empty fields, the first being sbat,1)"],

  "image-digest-mismatch": ["digest-mismatch", "the Authenticode digest of the image differs from the signed one (verify_pefile.c: -EKEYREJECTED)"],
  "message-digest-mismatch": ["digest-mismatch", "the messageDigest attribute differs from the digest of the signed content (pkcs7_verify.c: -EKEYREJECTED)"],
  "content-digest-mismatch": ["digest-mismatch", "the signature is by the key but over a different content digest (the content changed)"],

  "bad-signature": ["untrusted", "the SignerInfo signature does not verify with the signer's key (-EKEYREJECTED)"],
  "bad-chain-signature": ["untrusted", "a certificate's signature does not verify with its issuer's key (-EKEYREJECTED)"],
  "key-algorithm-mismatch": ["untrusted", "the signer certificate's key type does not match the signature algorithm"],
  "no-trusted-anchor": ["untrusted", "no certificate of the chain is, or is issued by, a trust anchor (pkcs7_trust.c: -ENOKEY)"],
  "akid-mismatch": ["untrusted", "authorityKeyIdentifier does not match the issuer's subjectKeyIdentifier (pkcs7_verify.c: -EKEYREJECTED)"],
  "chain-loop": ["untrusted", "the certificate chain loops"],
  "chain-too-long": ["untrusted", "the chain is longer than maxChainLength"],
  "not-a-ca": ["untrusted", "an issuing certificate in the signature lacks basicConstraints cA=TRUE or keyUsage keyCertSign"],
  "path-length-exceeded": ["untrusted", "a basicConstraints pathLenConstraint is exceeded"],
  "signing-time-outside-validity": ["untrusted", "signingTime lies outside the signer certificate's validity (pkcs7_verify.c: -EKEYREJECTED)"],
  "certificate-not-valid-at-time": ["untrusted", "a certificate of the chain is not valid at options.time"],
  "key-usage": ["untrusted", "the signer certificate lacks keyUsage digitalSignature (options.requireKeyUsage)"],
  "eku-missing": ["untrusted", "the signer certificate lacks a required extended key usage (options.requireEku)"],
  "denied-image-hash": ["untrusted", "the image digest is on the denylist"],
  "denied-certificate": ["untrusted", "a certificate of the chain is on the denylist"],
  "denied-tbs-hash": ["untrusted", "the TBSCertificate hash of a certificate of the chain is on the denylist"],
  "sbat-revoked": ["untrusted", "an SBAT component generation is below the revocation level"],
  "sbat-missing": ["untrusted", "the image has no .sbat section and options.sbatRequired is set"],

  "unsupported-digest": ["unsupported", "the digest algorithm is not SHA-1/256/384/512"],
  "sha1-not-allowed": ["unsupported", "SHA-1 is used and options.allowSha1 is not set"],
  "unsupported-signature-algorithm": ["unsupported", "the signature algorithm is not RSA PKCS#1 v1.5 or ECDSA"],
  "unsupported-key": ["unsupported", "the public key is not RSA or EC on P-256/P-384/P-521, or WebCrypto refused it"],
  "ec-explicit-parameters": ["unsupported", "an EC key uses explicit curve parameters (CVE-2020-0601); it is never used"],
  "no-crypto": ["unsupported", "no WebCrypto SubtleCrypto is available (pass options.crypto)"],
  "unsupported-id-type": ["unsupported", "module_signature id_type is not PKEY_ID_PKCS7 (2)"],
} as const satisfies Record<string, readonly [Verdict, string]>;

/**
 * A reason code: a key of {@link VERDICT_REASONS}, or the code of a parse
 * error or parse finding (`pe-*`, `cert-*`, `asn1-*`, `pkcs7-unexpected`,
 * `truncated`, `limit`), which always means `malformed`.
 */
export type VerdictReason = keyof typeof VERDICT_REASONS | (string & {});

/** The verdict class of a reason code (`malformed` for parse error and finding codes). */
export function reasonVerdict(reason: VerdictReason): Verdict {
  const r = (VERDICT_REASONS as Record<string, readonly [Verdict, string]>)[reason];
  return r ? r[0] : "malformed";
}

/** How the entries of a certificate table combine into one verdict. */
export type PolicyMode = "kernel" | "shim" | "any" | "all";

/**
 * A denylist. Hashes are hex strings (any case, `:` and spaces ignored) or
 * bytes; the algorithm follows from the length (20, 32, 48, 64 bytes →
 * SHA-1, -256, -384, -512).
 */
export interface DenyList {
  /** Authenticode image digests (shim/UEFI dbx EFI_CERT_SHA*_GUID). */
  imageHashes?: ReadonlyArray<string | Uint8Array>;
  /** Certificates (DER bytes or PEM text) that must not appear in a chain. */
  certificates?: ReadonlyArray<Uint8Array | string>;
  /** Hashes of TBSCertificate (dbx EFI_CERT_X509_SHA256/384/512_GUID; the kernel's "tbs:" blacklist entries). */
  tbsHashes?: ReadonlyArray<string | Uint8Array>;
  /** EFI_SIGNATURE_LIST buffers (e.g. shim's vendor dbx, a dbx variable); their entries are added to the lists above. */
  efiSignatureLists?: ReadonlyArray<Uint8Array>;
}

/** Options of every verifier. */
export interface VerifyOptions {
  /**
   * Trust anchors: DER certificates, or PEM text (several CERTIFICATE blocks
   * allowed; text before and between the blocks is ignored), as strings or
   * bytes. Default none: every signature is at best `untrusted`.
   */
  trust?: ReadonlyArray<Uint8Array | string>;
  /**
   * How table entries combine (Authenticode only). Default `kernel`.
   * - `kernel`: the first entry only, with verify_pefile.c's wrapper rule
   *   (a table of two entries is `malformed` / `kernel-wrapper-length`);
   *   nested signatures are ignored, as the kernel ignores unsigned attributes.
   * - `shim`: valid when any entry is valid, as shim does; a denylisted
   *   certificate or TBS hash in any entry rejects the image.
   * - `any`: valid when any entry or any nested signature is valid (sbverify).
   * - `all`: valid only when every entry is valid.
   */
  mode?: PolicyMode;
  /**
   * Reject what the kernel tolerates but Authenticode forbids. Default
   * `true`: non-zero bytes after the DER inside dwLength (`cert-trailing-bytes`,
   * CVE-2013-3900), data after the certificate table (`cert-table-not-at-end`),
   * digest algorithms that differ between SignedData, SignerInfo and
   * SpcIndirectDataContent (`digest-algorithm-mismatch`) and more than one
   * SignerInfo (`multiple-signers`) are `malformed`. With `false`, these are
   * reported as findings only, as the kernel does (it ignores padding contents).
   */
  strict?: boolean;
  /** Accept SHA-1 digests and signatures. Default `false` (verdict `unsupported`, reason `sha1-not-allowed`). */
  allowSha1?: boolean;
  /**
   * Check every certificate of the chain (trust anchor included) against this
   * time. Default: never (the kernel and UEFI never look at the clock; only
   * signingTime is checked against the signer's validity).
   */
  time?: Date;
  /** Require keyUsage digitalSignature on the signer certificate. Default `false` (as the kernel). */
  requireKeyUsage?: boolean;
  /** Extended key usages (dotted OIDs, e.g. code signing `1.3.6.1.5.5.7.3.3`) the signer certificate must all carry. Default none. */
  requireEku?: readonly string[];
  /** Hashes and certificates that make a signature `untrusted`. Default none. */
  deny?: DenyList;
  /**
   * SBAT revocation level (the CSV of shim's SbatLevel variable, e.g.
   * `"sbat,1,2023012900\nshim,2\ngrub,3\n"`): an image whose `.sbat` lists a
   * component with a lower generation is `untrusted` / `sbat-revoked`.
   * Default none (no SBAT check).
   */
  sbatLevel?: string;
  /** With `sbatLevel`, also reject images that have no `.sbat` section (`sbat-missing`). Default `false`. */
  sbatRequired?: boolean;
  /** WebCrypto to verify signatures with. Default `globalThis.crypto.subtle`, read at call time. */
  crypto?: SubtleVerifier;
  /** Where the image and content digests are computed. Default: the library's default provider. */
  hash?: HashProvider;
  /** Longest certificate chain followed (signer to anchor). Default 8. */
  maxChainLength?: number;
}

/** A {@link DenyList} reduced to sets of lowercase hex, by algorithm. */
export interface NormalizedDenyList {
  imageHashes: Map<HashAlgorithm, Set<string>>;
  /** Hex of the DER of each denied certificate. */
  certificates: Set<string>;
  tbsHashes: Map<HashAlgorithm, Set<string>>;
}

const ALG_BY_LENGTH: ReadonlyMap<number, HashAlgorithm> = new Map(
  (Object.keys(HASH_LENGTH) as HashAlgorithm[]).map((a) => [HASH_LENGTH[a], a] as const),
);

function hashHex(h: string | Uint8Array, what: string): { alg: HashAlgorithm; hex: string } {
  const hex = typeof h === "string" ? h.replace(/[\s:]/g, "").toLowerCase() : toHex(h);
  const alg = ALG_BY_LENGTH.get(hex.length / 2);
  if (!/^[0-9a-f]*$/.test(hex) || hex.length % 2 !== 0 || alg === undefined) {
    throw new KimageError("bad-argument", `${what}: ${JSON.stringify(typeof h === "string" ? h : hex)} is not a SHA-1/256/384/512 hash`, { layer: VERIFY_LAYER, offset: -1 });
  }
  return { alg, hex };
}

function add(map: Map<HashAlgorithm, Set<string>>, alg: HashAlgorithm, hex: string): void {
  let s = map.get(alg);
  if (!s) map.set(alg, (s = new Set()));
  s.add(hex);
}

/**
 * Normalizes a {@link DenyList}: hashes to lowercase hex by algorithm,
 * certificates to DER hex, and the entries of EFI signature lists sorted in.
 * `certificateDer` turns one certificate input (DER or PEM) into DER blocks.
 *
 * @throws KimageError `bad-argument` for a hash of no known length;
 *   `truncated`/`limit` from a malformed EFI signature list.
 */
export function normalizeDenyList(deny: DenyList | undefined, certificateDer: (c: Uint8Array | string) => Uint8Array[]): NormalizedDenyList {
  const out: NormalizedDenyList = { imageHashes: new Map(), certificates: new Set(), tbsHashes: new Map() };
  if (!deny) return out;
  for (const h of deny.imageHashes ?? []) {
    const { alg, hex } = hashHex(h, "deny.imageHashes");
    add(out.imageHashes, alg, hex);
  }
  for (const h of deny.tbsHashes ?? []) {
    const { alg, hex } = hashHex(h, "deny.tbsHashes");
    add(out.tbsHashes, alg, hex);
  }
  for (const c of deny.certificates ?? []) for (const der of certificateDer(c)) out.certificates.add(toHex(der));
  for (const esl of deny.efiSignatureLists ?? []) {
    const db = efiSignatureDatabase(parseEfiSignatureLists(esl));
    for (const h of db.imageHashes) add(out.imageHashes, h.alg, h.hex);
    for (const h of db.tbsHashes) add(out.tbsHashes, h.alg, h.hex);
    for (const c of db.certificates) out.certificates.add(toHex(c));
  }
  return out;
}

/** One line of an SBAT revocation level: component name and minimum generation. */
export interface SbatLevelEntry {
  component_name: string;
  component_generation: number;
}

/**
 * Parses an SBAT revocation level in the CSV format of shim's `SbatLevel`
 * variable (shim `sbat.c` parse_sbat_var_data): one
 * `component_name,component_generation[,datestamp]` per line, the first
 * being `sbat,1,<datestamp>`. A UTF-8 BOM and blank lines are ignored.
 *
 * @throws KimageError `bad-argument` for a line without a name or with a
 *   non-decimal generation.
 */
export function parseSbatLevel(csv: string): SbatLevelEntry[] {
  const out: SbatLevelEntry[] = [];
  const text = csv.startsWith("\ufeff") ? csv.slice(1) : csv;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === "") continue;
    const [name, gen] = line.split(",");
    if (!name || gen === undefined || !/^\d+$/.test(gen)) {
      throw new KimageError("bad-argument", `sbatLevel line ${i + 1} ${JSON.stringify(line)}: expected component_name,component_generation[,datestamp]`, { layer: VERIFY_LAYER, offset: -1 });
    }
    out.push({ component_name: name, component_generation: Number(gen) });
  }
  return out;
}

/** The outcome of {@link checkSbat}. */
export interface SbatCheck {
  /** `ok`, or the reason the image is rejected. */
  result: "ok" | "sbat-revoked" | "sbat-malformed" | "sbat-missing";
  detail: string;
  /** The image's entries, when its `.sbat` could be read. */
  entries: SbatEntry[] | null;
}

/**
 * Compares an image's SBAT entries (from `parseSbat`, with the parse
 * findings it reported) with a revocation level, as shim's
 * `verify_sbat_helper` does: an entry whose component is listed in the level
 * with a higher generation revokes the image. Stricter than shim's parser
 * about malformed data: every line needs 6 non-empty fields, a decimal
 * generation, and the first line must be `sbat,1,...` (SBAT.md).
 */
export function checkSbat(entries: SbatEntry[] | null, parseFindings: readonly { code: string; message: string }[], level: readonly SbatLevelEntry[], required: boolean): SbatCheck {
  if (entries === null) {
    return required
      ? { result: "sbat-missing", detail: "the image has no .sbat section", entries }
      : { result: "ok", detail: "the image has no .sbat section; nothing to revoke", entries };
  }
  const bad = parseFindings.find((f) => f.code === "sbat-malformed");
  if (bad) return { result: "sbat-malformed", detail: bad.message, entries };
  if (entries.length === 0) return { result: "sbat-malformed", detail: ".sbat holds no entry", entries };
  const first = entries[0] as SbatEntry;
  if (first.component_name !== "sbat" || first.component_generation !== 1) {
    return { result: "sbat-malformed", detail: `the first .sbat entry is ${JSON.stringify(`${first.component_name},${first.component_generation}`)}, expected sbat,1`, entries };
  }
  for (const e of entries) {
    const fields = [e.component_name, e.vendor_name, e.vendor_package_name, e.vendor_version, e.vendor_url];
    if (Number.isNaN(e.component_generation) || fields.some((f) => f === "")) {
      return { result: "sbat-malformed", detail: `.sbat entry ${JSON.stringify(e.component_name)} lacks one of the 6 fields or has a non-decimal generation`, entries };
    }
  }
  for (const e of entries) {
    for (const l of level) {
      if (l.component_name === e.component_name && e.component_generation < l.component_generation) {
        return {
          result: "sbat-revoked",
          detail: `component ${e.component_name} generation ${e.component_generation} is below the revocation level's ${l.component_generation}`,
          entries,
        };
      }
    }
  }
  return { result: "ok", detail: "no component is below the revocation level", entries };
}
