/**
 * Verification of a unified kernel image: the envelope's Authenticode
 * verdict, each inner PE's own (`.linux` may be signed separately; the layer
 * walk verifies every PE layer, see {@link verifyChain}), and, for
 * `verify --uki-parts`, whether each part's bytes lie within what the
 * envelope's digest hashes.
 *
 * @module
 */

import { isKimageError, type Finding } from "../core/errors.js";
import { authenticodeRanges } from "../formats/pe/authenticode.js";
import { parsePe, type PeFile } from "../formats/pe/parse.js";
import { parseUki, type Uki, type UkiSection } from "../formats/pe/uki/parse.js";
import { isUnifiedSection } from "../formats/pe/uki/spec.js";
import { verifyChain, type AuthenticodeVerdict, type LayerVerdict, type VerifyChainOptions } from "./verify.js";

/** Why a part is or is not covered by the envelope's digest. */
export type UkiPartCoverageReason = "hashed" | "zero-fill-only" | "outside-hashed-ranges" | "in-certificate-table";

/** Whether one UKI section's bytes are covered by the envelope's Authenticode digest. */
export interface UkiPartCoverage {
  /** Section table index. */
  index: number;
  /** Section name. */
  name: string;
  /** The profile whose range holds it (null: the base). */
  profile: number | null;
  /** Absolute offset of its file bytes. */
  offset: number;
  /** File bytes of the part (min(VirtualSize, SizeOfRawData)). */
  fileSize: number;
  /** Zeros after them (VirtualSize − fileSize): fixed by VirtualSize, which the hashed headers hold. */
  zeroFill: number;
  /** True when every file byte of the part is hashed by the digest. */
  covered: boolean;
  /** Why. */
  reason: UkiPartCoverageReason;
}

/**
 * For every UKI section of `uki`: do its file bytes lie within the ranges
 * the Authenticode digest hashes ("hash the headers … hash the sections
 * sorted by PointerToRawData … hash the remaining bytes up to the
 * certificate table") and outside the certificate table, which is not
 * signed content? A part with no file bytes (all zero fill) is covered by
 * its VirtualSize, a hashed header field.
 *
 * @throws KimageError as {@link authenticodeRanges}.
 */
export function ukiPartsCoverage(pe: PeFile, uki: Uki): UkiPartCoverage[] {
  const layout = authenticodeRanges(pe);
  const hashed: [number, number][] = [];
  for (const r of layout.ranges) if (r.kind !== "padding") hashed.push([r.start, Math.min(r.end, layout.imageEnd)]);
  hashed.sort((a, b) => a[0] - b[0]);
  const covers = (start: number, end: number): boolean => {
    let at = start;
    for (const [s, e] of hashed) {
      if (s > at) break;
      if (e > at) at = e;
      if (at >= end) return true;
    }
    return at >= end;
  };
  const table = pe.certificateTable;
  return uki.sections
    .filter((s: UkiSection) => isUnifiedSection(s.name))
    .map((s) => {
      const start = s.PointerToRawData;
      const end = start + s.fileSize;
      let reason: UkiPartCoverageReason;
      if (s.fileSize === 0) reason = "zero-fill-only";
      else if (table && end > table.offset && start < table.offset + table.size) reason = "in-certificate-table";
      else reason = covers(start, end) ? "hashed" : "outside-hashed-ranges";
      return {
        index: s.index,
        name: s.name,
        profile: s.profile,
        offset: s.offset,
        fileSize: s.fileSize,
        zeroFill: s.zeroFill,
        covered: reason === "hashed" || reason === "zero-fill-only",
        reason,
      };
    });
}

/** The result of {@link verifyUki}. */
export interface UkiVerdict {
  /** The envelope's (the outer PE's) verdict. */
  envelope: AuthenticodeVerdict;
  /** The verdicts of the PEs inside (`.linux` and what it wraps), from the outermost in. */
  inner: LayerVerdict[];
  /** Each part's coverage by the envelope's digest (empty when the file is not a readable UKI). */
  parts: UkiPartCoverage[];
  /** The UKI's own findings (duplicates, zero fill, overlapping parts) and the walk's. */
  findings: Finding[];
}

/**
 * Verifies a UKI: the envelope as any PE (the given mode and trust), every
 * inner PE on its own, and the parts' coverage. A part is only as trusted
 * as the envelope: `covered` says its bytes are hashed, the envelope's
 * verdict says whether that hash is signed by a trusted key.
 *
 * @throws KimageError `bad-argument` for invalid options (as verifyAuthenticode).
 */
export async function verifyUki(bytes: Uint8Array, options: VerifyChainOptions = {}): Promise<UkiVerdict> {
  const chain = await verifyChain(bytes, options);
  const outer = chain.layers[0];
  const envelope: AuthenticodeVerdict = outer?.verdict ?? { verdict: chain.verdict, reason: chain.reason, detail: chain.detail, mode: options.mode ?? "kernel", strict: options.strict ?? true, signatures: [], findings: [], sbat: undefined };
  const findings: Finding[] = [...chain.findings];
  let parts: UkiPartCoverage[] = [];
  try {
    const pe = parsePe(bytes);
    const uki = parseUki(pe);
    findings.push(...uki.findings);
    parts = ukiPartsCoverage(pe, uki);
  } catch (e) {
    if (!isKimageError(e)) throw e;
    findings.push({ code: "uki-unreadable", severity: "warning", offset: e.offset, message: `the UKI's parts cannot be read: ${e.toLine()}` });
  }
  return { envelope, inner: chain.layers.slice(1), parts, findings };
}
