/**
 * The attribute certificate table (spec: "The Attribute Certificate Table
 * (Image Only)"): a list of WIN_CERTIFICATE entries, each 8-byte aligned.
 *
 * ```
 * typedef struct _WIN_CERTIFICATE {
 *     DWORD dwLength;          // length of the entry, header included
 *     WORD  wRevision;         // WIN_CERT_REVISION_2_0 = 0x0200
 *     WORD  wCertificateType;  // WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002
 *     BYTE  bCertificate[ANYSIZE_ARRAY];
 * } WIN_CERTIFICATE;
 * ```
 *
 * Problems inside the table do not change the image digest (the table is not
 * hashed), so they are reported as findings with stable `cert-*` codes rather
 * than thrown; a verifier turns them into a `malformed` verdict.
 *
 * @module
 */

import { ByteView, alignUp } from "../../core/bytes.js";
import { readTlv } from "../../asn1/der.js";
import { isKimageError, type Finding } from "../../core/errors.js";
import {
  WIN_CERTIFICATE_HEADER_SIZE,
  WIN_CERT_REVISION_2_0,
  WIN_CERT_TYPE_NAMES,
  WIN_CERT_TYPE_PKCS_SIGNED_DATA,
} from "./spec.js";

/** One WIN_CERTIFICATE entry. */
export interface WinCertificate {
  /** Index in the table. */
  index: number;
  /** Absolute offset of the entry (its dwLength field). */
  offset: number;
  dwLength: number;
  wRevision: number;
  wCertificateType: number;
  /** Name of wCertificateType, e.g. `PKCS_SIGNED_DATA`. */
  typeName: string;
  /** `bCertificate`: the `dwLength - 8` bytes after the header (a view, not a copy). */
  bCertificate: Uint8Array;
  /** Absolute offset of `bCertificate[0]`. */
  contentOffset: number;
}

/** The parsed certificate table. */
export interface CertificateTable {
  /** Absolute file offset of the table (the directory's VirtualAddress). */
  offset: number;
  /** The directory's Size. */
  size: number;
  /** Entries that could be read, in order. */
  entries: WinCertificate[];
}

/**
 * Reads the WIN_CERTIFICATE entries of the table at `[offset, offset + size)`
 * (offsets relative to `v`). Never throws for problems inside the table; each
 * one is pushed to `findings` with a `cert-*` code, and reading stops at the
 * first entry whose length is unusable.
 */
export function parseCertificateTable(
  v: ByteView,
  offset: number,
  size: number,
  findings: Finding[],
): CertificateTable {
  const entries: WinCertificate[] = [];
  const end = offset + size;
  let at = offset;
  // Each entry takes at least 8 bytes, so this loop runs at most size / 8 times.
  while (at < end) {
    const index = entries.length;
    if (end - at < WIN_CERTIFICATE_HEADER_SIZE) {
      findings.push(finding("cert-table-size-mismatch", at, v, `${end - at} byte(s) at the end of the table are too short for a WIN_CERTIFICATE header`));
      break;
    }
    const dwLength = v.u32le(at, "dwLength");
    const wRevision = v.u16le(at + 4, "wRevision");
    const wCertificateType = v.u16le(at + 6, "wCertificateType");
    if (dwLength < WIN_CERTIFICATE_HEADER_SIZE) {
      findings.push(finding("cert-entry-too-short", at, v, `entry ${index}: dwLength = ${dwLength} is smaller than the 8-byte header`));
      break;
    }
    if (dwLength > end - at) {
      findings.push(finding("cert-entry-overflow", at, v, `entry ${index}: dwLength = ${dwLength} runs past the table end (0x${v.abs(end).toString(16)})`));
      break;
    }
    if (wRevision !== WIN_CERT_REVISION_2_0) {
      findings.push(finding("cert-bad-revision", at + 4, v, `entry ${index}: wRevision = 0x${wRevision.toString(16)}, expected 0x0200`));
    }
    if (wCertificateType !== WIN_CERT_TYPE_PKCS_SIGNED_DATA) {
      findings.push(finding("cert-bad-type", at + 6, v, `entry ${index}: wCertificateType = 0x${wCertificateType.toString(16)}, expected PKCS_SIGNED_DATA (2)`));
    }
    const bCertificate = v.slice(at + WIN_CERTIFICATE_HEADER_SIZE, dwLength - WIN_CERTIFICATE_HEADER_SIZE, "bCertificate");
    const trailing = nonZeroAfterDer(bCertificate, v.abs(at + WIN_CERTIFICATE_HEADER_SIZE));
    if (trailing >= 0) {
      findings.push(finding("cert-trailing-bytes", at + WIN_CERTIFICATE_HEADER_SIZE + trailing, v, `entry ${index}: non-zero byte(s) follow the DER signature inside dwLength (CVE-2013-3900)`));
    }
    entries.push({
      index,
      offset: v.abs(at),
      dwLength,
      wRevision,
      wCertificateType,
      typeName: WIN_CERT_TYPE_NAMES[wCertificateType] ?? `0x${wCertificateType.toString(16)}`,
      bCertificate,
      contentOffset: v.abs(at + WIN_CERTIFICATE_HEADER_SIZE),
    });
    // "each attribute certificate ... begins on an octaword boundary": the next entry is 8-aligned.
    const next = at + alignUp(dwLength, 8);
    if (next > end) {
      // verify_pefile.c: "if (round_up(wrapper.length, 8) != ctx->sig_len) ... -ELIBBAD".
      findings.push(finding("cert-table-size-mismatch", at, v, `entry ${index}: dwLength = ${dwLength} rounded up to 8 runs past the table end (Size = ${size})`));
      break;
    }
    at = next;
  }
  return { offset: v.abs(offset), size, entries };
}

function finding(code: string, at: number, v: ByteView, message: string): Finding {
  return { code, severity: "warning", offset: v.abs(at), message };
}

/**
 * Offset (relative to `content`) of the first non-zero byte after the
 * outermost DER value, or -1 when there is none or the DER header cannot be
 * read (an unreadable signature is reported when it is parsed).
 */
function nonZeroAfterDer(content: Uint8Array, base: number): number {
  let end: number;
  try {
    end = readTlv(content, 0, { base }).raw.length;
  } catch (e) {
    if (isKimageError(e)) return -1;
    throw e;
  }
  for (let i = end; i < content.length; i++) if (content[i] !== 0) return i;
  return -1;
}
