/**
 * `.pcrsig` verification: the JSON systemd-measure signs (and ukify embeds
 * with `--pcr-private-key`) holds, per PCR bank, one entry per boot phase:
 * `{"pcrs": [11], "pkfp": <hex>, "pol": <hex>, "sig": <base64>}`. `pol` is
 * the TPM2 PolicyPCR policy digest of the expected PCR 11 value, `sig` its
 * signature by the key whose public half is `.pcrpkey`, and `pkfp` the
 * SHA-256 of that public key as OpenSSL's `i2d_PublicKey` writes it (the
 * subjectPublicKey bits: PKCS#1 RSAPublicKey, or the EC point).
 *
 * Sources: systemd `src/measure/measure-tool.c` (`build_policy_digest`:
 * `tpm2_calculate_policy_pcr`, `digest_and_sign(p->md, privkey, pol…)`,
 * `pubkey_fingerprint(pubkey, EVP_sha256())`), `src/shared/tpm2-util.c`
 * (`tpm2_calculate_policy_pcr`), and TPM 2.0 Library Part 3,
 * TPM2_PolicyPCR: "policyDigest_new := H_policyAlg(policyDigest_old ||
 * TPM_CC_PolicyPCR || pcrs || digestTPM)", where digestTPM is the digest
 * of the selected PCR values with the session's hash (SHA-256 here).
 *
 * @module
 */

import { TAG, childrenCount, expect, parseDer, readBitString, readInteger, readOid, type Tlv } from "../asn1/der.js";
import { OID } from "../asn1/oids.js";
import { parseAlgorithmIdentifier } from "../cms/names.js";
import type { PublicKeyInfo } from "../cms/certificate.js";
import { toHex } from "../core/bytes.js";
import { isKimageError, KimageError } from "../core/errors.js";
import { defaultHashProvider, HASH_LENGTH, isHashAlgorithm, type HashAlgorithm, type HashProvider } from "../hash/index.js";
import { verifySignatureValue, type SubtleVerifier } from "../signature/crypto.js";
import { readPemBlocks } from "../signature/keys.js";
import { PCR_KERNEL_BOOT, type Pcr11Prediction } from "./pcr11.js";
import { UKI_LAYER } from "./sections.js";

/** TPM_CC_PolicyPCR (TPM 2.0 Part 2, "TPM_CC"). */
export const TPM_CC_POLICY_PCR = 0x0000017f;

/** TPM_ALG_ID of each bank (TPM 2.0 Part 2, "TPM_ALG_ID"). */
export const TPM_ALG: Readonly<Record<HashAlgorithm, number>> = { sha1: 0x0004, sha256: 0x000b, sha384: 0x000c, sha512: 0x000d };

/** `sizeofSelect` systemd writes: TPM2_PCRS_MAX (24) / 8. */
const PCR_SELECT_BYTES = 3;

/** Largest `.pcrsig` kimage parses (it holds a few hundred bytes per entry). */
export const MAX_PCRSIG = 1 << 20;

/** One entry of a `.pcrsig` bank array. */
export interface PcrSigEntry {
  /** The PCRs the policy covers (systemd-measure: `[11]`). */
  pcrs: number[];
  /** SHA-256 fingerprint of the public key, hex, when present. */
  pkfp?: string;
  /** The PolicyPCR digest that is signed, hex. */
  pol: string;
  /** The signature over `pol`, base64, when present. */
  sig?: string;
}

/** A parsed `.pcrsig`: entries by bank name (`sha256`…), in the JSON's order. */
export type PcrSig = Record<string, PcrSigEntry[]>;

function malformed(message: string, offset = -1): never {
  throw new KimageError("pcrsig-malformed", message, { layer: UKI_LAYER, offset });
}

/**
 * Parses a `.pcrsig` section (trailing NULs, the zero fill up to
 * VirtualSize, are ignored).
 *
 * @throws KimageError `pcrsig-malformed` when it is not JSON of the shape
 *   systemd-measure writes; `limit` when above {@link MAX_PCRSIG}.
 */
export function parsePcrSig(bytes: Uint8Array, base = -1): PcrSig {
  if (bytes.length > MAX_PCRSIG) throw new KimageError("limit", `.pcrsig of ${bytes.length} bytes is above kimage's limit of ${MAX_PCRSIG}`, { layer: UKI_LAYER, offset: base });
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, end)));
  } catch (e) {
    malformed(`.pcrsig is not UTF-8 JSON: ${e instanceof Error ? e.message : String(e)}`, base);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) malformed(".pcrsig is not a JSON object of banks", base);
  const out: PcrSig = {};
  for (const [bank, list] of Object.entries(json as Record<string, unknown>)) {
    if (!Array.isArray(list)) malformed(`.pcrsig bank ${JSON.stringify(bank)} is not an array`, base);
    out[bank] = list.map((e: unknown, i) => {
      const where = `.pcrsig ${bank}[${i}]`;
      if (typeof e !== "object" || e === null) malformed(`${where} is not an object`, base);
      const o = e as Record<string, unknown>;
      if (!Array.isArray(o.pcrs) || !o.pcrs.every((p) => Number.isInteger(p) && (p as number) >= 0 && (p as number) < 8 * PCR_SELECT_BYTES)) malformed(`${where}.pcrs is not a list of PCR numbers (0..23)`, base);
      if (typeof o.pol !== "string" || !/^([0-9a-fA-F]{2})+$/.test(o.pol)) malformed(`${where}.pol is not hex`, base);
      if (o.pkfp !== undefined && (typeof o.pkfp !== "string" || !/^([0-9a-fA-F]{2})+$/.test(o.pkfp))) malformed(`${where}.pkfp is not hex`, base);
      if (o.sig !== undefined && (typeof o.sig !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(o.sig) || o.sig.length % 4 !== 0)) malformed(`${where}.sig is not base64`, base);
      return {
        pcrs: o.pcrs as number[],
        pol: o.pol.toLowerCase(),
        ...(o.pkfp !== undefined ? { pkfp: (o.pkfp as string).toLowerCase() } : {}),
        ...(o.sig !== undefined ? { sig: o.sig as string } : {}),
      };
    });
  }
  return out;
}

/**
 * The TPM2 PolicyPCR digest of a trial session (SHA-256) that starts empty
 * and selects PCR 11 of `bank` with the value `pcr11` (tpm2-util.c
 * `tpm2_calculate_policy_pcr`):
 * SHA256(0^32 || TPM_CC_PolicyPCR || TPML_PCR_SELECTION || SHA256(pcr11)),
 * with TPML_PCR_SELECTION = count (u32, 1), hash (TPM_ALG_ID, u16),
 * sizeofSelect (u8, 3), pcrSelect (3 bytes, bit 11 set); big-endian.
 */
export async function pcrPolicyDigest(bank: HashAlgorithm, pcr11: Uint8Array, hash: HashProvider = defaultHashProvider()): Promise<Uint8Array> {
  if (pcr11.length !== HASH_LENGTH[bank]) throw new KimageError("bad-argument", `a ${bank} PCR value has ${HASH_LENGTH[bank]} bytes, not ${pcr11.length}`, { layer: UKI_LAYER, offset: -1 });
  const head = new Uint8Array(32 + 4 + 4 + 2 + 1 + PCR_SELECT_BYTES);
  const v = new DataView(head.buffer);
  v.setUint32(32, TPM_CC_POLICY_PCR);
  v.setUint32(36, 1);
  v.setUint16(40, TPM_ALG[bank]);
  v.setUint8(42, PCR_SELECT_BYTES);
  head[43 + (PCR_KERNEL_BOOT >> 3)] = 1 << (PCR_KERNEL_BOOT & 7);
  return hash.digest("sha256", [head, await hash.digest("sha256", [pcr11])]);
}

/** A `.pcrpkey`: the DER SubjectPublicKeyInfo and what kimage can use of the key. */
export interface PcrPublicKey {
  /** DER SubjectPublicKeyInfo. */
  spki: Uint8Array;
  /**
   * The subjectPublicKey bits: what OpenSSL's `i2d_PublicKey` writes, and what
   * systemd's `pubkey_fingerprint` ("a message digest of the DER encoded
   * public key") hashes into `pkfp`.
   */
  keyBits: Uint8Array;
  /** The key's kind (RSA, or EC on a named curve). */
  publicKey: PublicKeyInfo;
}

const CURVES: Readonly<Record<string, "P-256" | "P-384" | "P-521">> = { [OID.secp256r1]: "P-256", [OID.secp384r1]: "P-384", [OID.secp521r1]: "P-521" };

/**
 * Reads a `.pcrpkey`: a PEM `PUBLIC KEY` (as systemd-measure and ukify
 * write it) or a DER SubjectPublicKeyInfo (RFC 5280 4.1.2.7).
 *
 * @throws KimageError `pcrpkey-invalid`.
 */
export function readPcrPublicKey(bytes: Uint8Array): PcrPublicKey {
  const fail = (why: string, cause?: unknown): never => {
    throw new KimageError("pcrpkey-invalid", `.pcrpkey: ${why}`, { layer: UKI_LAYER, offset: -1, ...(cause !== undefined ? { cause } : {}) });
  };
  let der: Uint8Array;
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  const text = new TextDecoder("latin1").decode(bytes.subarray(0, Math.min(end, 1 << 16)));
  if (text.includes("-----BEGIN ")) {
    let blocks;
    try {
      blocks = readPemBlocks(text);
    } catch (e) {
      return fail("unreadable PEM", e);
    }
    const b = blocks.find((x) => x.label === "PUBLIC KEY");
    if (!b) return fail("no PEM PUBLIC KEY block");
    der = b.der;
  } else {
    der = bytes.subarray(0, end);
  }
  try {
    const spki: Tlv = expect(parseDer(der, 0, { layer: UKI_LAYER }), TAG.SEQUENCE, "SubjectPublicKeyInfo");
    const [algTlv, keyTlv] = childrenCount(spki, 2, 2, "SubjectPublicKeyInfo") as [Tlv, Tlv];
    const alg = parseAlgorithmIdentifier(algTlv, "SubjectPublicKeyInfo.algorithm");
    const key = readBitString(keyTlv, "SubjectPublicKeyInfo.subjectPublicKey");
    if (alg.oid === OID.rsaEncryption) {
      const inner = expect(parseDer(key.bytes, 0, { layer: UKI_LAYER }), TAG.SEQUENCE, "RSAPublicKey");
      const [n, e] = childrenCount(inner, 2, 2, "RSAPublicKey") as [Tlv, Tlv];
      const modulus = readInteger(n, "RSAPublicKey.modulus").value;
      const exponent = readInteger(e, "RSAPublicKey.publicExponent").value;
      if (modulus <= 0n || exponent <= 0n) return fail("RSA modulus or exponent not positive");
      return { spki: der, keyBits: key.bytes, publicKey: { kind: "rsa", bits: modulus.toString(2).length, modulus, exponent } };
    }
    if (alg.oid === OID.ecPublicKey && alg.parameters?.tag === TAG.OID) {
      const curve = CURVES[readOid(alg.parameters, "ECParameters.namedCurve")];
      if (curve) return { spki: der, keyBits: key.bytes, publicKey: { kind: "ec", curve } };
    }
    return fail(`key algorithm ${alg.oid} is neither RSA nor EC on P-256, P-384 or P-521`);
  } catch (e) {
    if (isKimageError(e, "pcrpkey-invalid")) throw e;
    return fail(`not a DER SubjectPublicKeyInfo (${e instanceof Error ? e.message : String(e)})`, e);
  }
}

/** The check of one `.pcrsig` entry. */
export interface PcrSigEntryCheck {
  /** Bank name as in the JSON. */
  bank: string;
  /** Index in the bank's array. */
  index: number;
  /** The signed policy digest, hex. */
  pol: string;
  /**
   * The phase whose predicted PCR 11 value gives this policy digest, when a
   * prediction was given; null when none does (or none was given).
   */
  phase: string | null;
  /** Whether `pkfp` is the SHA-256 of `.pcrpkey`; null when the entry has no `pkfp`. */
  fingerprintMatches: boolean | null;
  /** The signature's verdict. */
  signature: "valid" | "invalid" | "unsupported" | "absent";
  /** Why the entry does not verify (empty when it does). */
  reasons: string[];
}

/** What {@link verifyPcrSig} concludes. */
export interface PcrSigVerdict {
  /** `valid` when every entry's signature verifies with `.pcrpkey` (and matches a predicted phase when a prediction was given). */
  verdict: "valid" | "invalid";
  /** SHA-256 of `.pcrpkey`'s key bits ({@link PcrPublicKey.keyBits}), hex: what `pkfp` must be. */
  keyFingerprint: string;
  /** Every entry, bank by bank. */
  entries: PcrSigEntryCheck[];
  /** The reasons for an `invalid` verdict, one per failing entry or overall problem. */
  reasons: string[];
}

/** Options of {@link verifyPcrSig}. */
export interface VerifyPcrSigOptions {
  /** WebCrypto (default `globalThis.crypto.subtle`). */
  subtle?: SubtleVerifier;
  /** Hash provider (default {@link defaultHashProvider}). */
  hash?: HashProvider;
  /**
   * The predicted PCR 11 values (from `predictPcr11` on the same profile):
   * each entry must sign the policy of one of them.
   */
  prediction?: Pcr11Prediction;
}

function base64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Verifies a `.pcrsig` against a `.pcrpkey`: each entry's signature over
 * its `pol` (RSASSA-PKCS1-v1_5 or ECDSA with the bank's hash, as
 * systemd-measure's `digest_and_sign(p->md, …)` makes it), its `pkfp`, and,
 * given a prediction, that `pol` is the PolicyPCR digest of a predicted
 * PCR 11 value. Returns reasons; throws only for unreadable sections.
 *
 * @throws KimageError `pcrsig-malformed`, `pcrpkey-invalid`, `limit`.
 */
export async function verifyPcrSig(pcrsig: Uint8Array, pcrpkey: Uint8Array, options: VerifyPcrSigOptions = {}): Promise<PcrSigVerdict> {
  const hash = options.hash ?? defaultHashProvider();
  const subtle = options.subtle ?? (globalThis as { crypto?: { subtle?: SubtleVerifier } }).crypto?.subtle;
  const sig = parsePcrSig(pcrsig);
  const key = readPcrPublicKey(pcrpkey);
  const keyFingerprint = toHex(await hash.digest("sha256", [key.keyBits]));
  const entries: PcrSigEntryCheck[] = [];
  const reasons: string[] = [];
  if (Object.values(sig).every((l) => l.length === 0)) reasons.push(".pcrsig holds no signature");
  for (const [bank, list] of Object.entries(sig)) {
    // The policy digests of the predicted values of this bank, by phase.
    const expected = new Map<string, string>();
    if (options.prediction && isHashAlgorithm(bank)) {
      for (const v of options.prediction[bank] ?? []) {
        const value = Uint8Array.from(v.hash.match(/../g) ?? [], (h) => parseInt(h, 16));
        expected.set(toHex(await pcrPolicyDigest(bank, value, hash)), v.phase);
      }
    }
    for (const [index, e] of list.entries()) {
      const r: string[] = [];
      const where = `${bank}[${index}]`;
      const phase = expected.get(e.pol) ?? null;
      if (options.prediction) {
        if (!isHashAlgorithm(bank)) r.push(`${where}: unknown bank ${JSON.stringify(bank)}`);
        else if (!options.prediction[bank]) r.push(`${where}: no prediction was made for bank ${bank}`);
        else if (phase === null) r.push(`${where}: signs a policy for a PCR 11 value none of the predicted phases has`);
      }
      if (e.pcrs.length !== 1 || e.pcrs[0] !== PCR_KERNEL_BOOT) r.push(`${where}: covers PCRs [${e.pcrs.join(", ")}], not [11]`);
      const fingerprintMatches = e.pkfp === undefined ? null : e.pkfp === keyFingerprint;
      if (fingerprintMatches === false) r.push(`${where}: pkfp ${e.pkfp} is not the fingerprint of .pcrpkey (${keyFingerprint})`);
      let signature: PcrSigEntryCheck["signature"] = "absent";
      if (e.sig === undefined) r.push(`${where}: no signature`);
      else if (!isHashAlgorithm(bank)) {
        signature = "unsupported";
        r.push(`${where}: unknown bank ${JSON.stringify(bank)}, no hash to verify with`);
      } else if (!subtle) {
        signature = "unsupported";
        r.push(`${where}: no WebCrypto to verify with`);
      } else {
        const pol = Uint8Array.from(e.pol.match(/../g) ?? [], (h) => parseInt(h, 16));
        const check = await verifySignatureValue(subtle, { spkiRaw: key.spki, publicKey: key.publicKey }, { key: key.publicKey.kind === "ec" ? "ec" : "rsa", hash: bank }, bank, pol, base64(e.sig));
        signature = check.ok ? "valid" : check.why;
        if (!check.ok) r.push(`${where}: ${check.detail}`);
      }
      entries.push({ bank, index, pol: e.pol, phase, fingerprintMatches, signature, reasons: r });
      reasons.push(...r);
    }
  }
  return { verdict: reasons.length === 0 ? "valid" : "invalid", keyFingerprint, entries, reasons };
}
