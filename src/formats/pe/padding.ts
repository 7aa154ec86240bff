/**
 * The signature padding of a decoded PE: the PE format's
 * {@link FormatModule.trimPadding} hook.
 *
 * Why: Makefile.zboot pads the image before compressing it ("Pad the file
 * to the size of the uncompressed image in memory, including BSS"). A
 * signed PE ends at its certificate table, and Authenticode hashes every
 * byte up to it; padding after the table would make the signature look
 * wrong. So a decoded PE whose certificate table ends before the data and
 * is followed only by zeros is cut at the end of that table, and the cut is
 * reported by the layer that decoded it.
 *
 * @module
 */

import { hex } from "../../core/bytes.js";
import { isKimageError, type Finding } from "../../core/errors.js";
import type { FormatModule, PaddingTrim } from "../../format/types.js";
import { parsePe, probePe } from "./parse.js";

/** How a decompressed signed PE was cut (see the module doc). */
export interface PeCut {
  /** Length kept: the end of the certificate table. */
  at: number;
  /** Zero bytes dropped after it. */
  dropped: number;
}

/**
 * If `bytes` is a PE whose certificate table ends before the end of
 * `bytes` and only zeros follow, the cut point; otherwise null (and a
 * finding when non-zero data follows the table). Never throws.
 */
export function signedPeCut(bytes: Uint8Array, findings: Finding[] = []): PeCut | null {
  if (!probePe(bytes)) return null;
  let end: number;
  try {
    const pe = parsePe(bytes);
    if (!pe.certificateTable) return null;
    end = pe.certificateTable.offset + pe.certificateTable.size;
  } catch (e) {
    if (isKimageError(e)) return null;
    throw e;
  }
  if (end >= bytes.length) return null;
  for (let i = end; i < bytes.length; i++) {
    if (bytes[i] !== 0) {
      findings.push({
        code: "data-after-certificate-table",
        severity: "warning",
        offset: -1,
        message: `the decompressed PE has non-zero data at ${hex(i)}, after its certificate table (ends at ${hex(end)}); not cut`,
      });
      return null;
    }
  }
  return { at: end, dropped: bytes.length - end };
}

/**
 * The PE format's {@link FormatModule.trimPadding} hook: {@link signedPeCut},
 * with the reason and the `signed-pe-cut` finding the decoding layer
 * reports. Never throws.
 */
export const peTrimPadding: NonNullable<FormatModule["trimPadding"]> = (bytes, findings): PaddingTrim | null => {
  const cut = signedPeCut(bytes, findings);
  if (!cut) return null;
  return {
    ...cut,
    reason: "signed PE: kept through its certificate table, dropped the zero padding after it",
    finding: {
      code: "signed-pe-cut",
      severity: "info",
      offset: -1,
      message: `decompressed signed PE cut at the end of its certificate table (${hex(cut.at)}), ${cut.dropped} zero byte(s) dropped`,
    },
  };
};
