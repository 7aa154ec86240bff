/**
 * The one error type kimage throws, and the stable codes it carries.
 *
 * Every failure caused by input bytes is a {@link KimageError}: it names a
 * stable `code` (safe to switch on; never renamed once released), the `layer`
 * (format id) that found the problem, and the absolute byte `offset` in the
 * outermost input where the offending field sits (or `-1` when the problem is
 * not tied to one place).
 *
 * @module
 */

/**
 * Stable error codes, each with a one-line meaning. The object doubles as the
 * list of valid codes, so a code can always print what it means.
 */
export const ERROR_CODES = {
  // generic byte layer
  truncated: "a field or table runs past the end of its buffer",
  "unsafe-integer": "a 64-bit value does not fit a JavaScript number where one is required",
  "bad-argument": "a caller-supplied argument is invalid",
  limit: "a configured size or count limit was exceeded",
  unsupported: "the input uses a feature kimage does not implement",
  "unknown-format": "no format in the probe table recognises the input",

  // codecs
  "codec-corrupt": "compressed data is corrupt (a bad header, reference or code)",
  "codec-checksum": "a checksum of the compressed stream does not match its data",
  "codec-size-mismatch": "the decompressed size differs from the size the container states",

  // PE/COFF headers
  "pe-bad-dos-magic": "the file does not start with the MZ signature",
  "pe-bad-lfanew": "e_lfanew points outside the file or into the DOS header",
  "pe-bad-signature": "no PE\\0\\0 signature at e_lfanew",
  "pe-optional-header-truncated":
    "SizeOfOptionalHeader is too small for the fixed fields, or the optional header runs past the end of the file",
  "pe-bad-optional-magic": "the optional header magic is neither PE32 (0x10b) nor PE32+ (0x20b)",
  "pe-data-dirs-overflow":
    "NumberOfRvaAndSizes describes more data directories than SizeOfOptionalHeader holds",
  "pe-headers-size-invalid":
    "SizeOfHeaders is past the end of the file or smaller than the end of the section table",
  "pe-section-table-out-of-bounds": "the section table runs past SizeOfHeaders or the end of the file",
  "pe-section-out-of-bounds": "a section's raw data runs past the end of the file",
  "pe-section-size-wrap": "the raw sizes of the hashed sections add up past 2^32",
  "pe-cert-table-out-of-bounds": "the certificate table runs past the end of the file",
  "pe-cert-table-in-headers": "the certificate table starts inside the headers",
  "pe-no-cert-directory": "NumberOfRvaAndSizes is too small to hold the certificate-table entry",

  // PE certificate table entries (WIN_CERTIFICATE)
  "cert-entry-too-short": "a WIN_CERTIFICATE dwLength is smaller than its 8-byte header",
  "cert-entry-overflow": "a WIN_CERTIFICATE dwLength runs past the certificate table",
  "cert-bad-revision": "a WIN_CERTIFICATE wRevision is not 0x0200",
  "cert-bad-type": "a WIN_CERTIFICATE wCertificateType is not PKCS_SIGNED_DATA (2)",
  "cert-table-size-mismatch": "the 8-aligned entry lengths do not add up to the table's Size",
  "cert-trailing-bytes": "non-zero bytes follow the DER signature inside dwLength (CVE-2013-3900)",

  // ASN.1 / PKCS#7
  "asn1-malformed": "the DER encoding is malformed",
  "asn1-not-der": "the encoding is BER, not DER (indefinite length or non-minimal length)",
  "asn1-trailing-bytes": "bytes follow the outermost DER value",
  "pkcs7-unexpected": "the PKCS#7 structure is not the expected Authenticode SignedData",
} as const;

/** A stable error code; see {@link ERROR_CODES} for the meanings. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Options accepted by the {@link KimageError} constructor. */
export interface KimageErrorOptions {
  /** Format id of the layer that detected the problem, e.g. `"pe"`. */
  layer: string;
  /** Absolute byte offset of the offending field, or -1. */
  offset: number;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * The single error class thrown by kimage for bad input, limits and bad
 * arguments. `message` is human-readable; `code`, `layer` and `offset` are
 * for programs.
 */
export class KimageError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** Format id of the layer that detected the problem. */
  readonly layer: string;
  /** Absolute byte offset in the outermost input, or -1. */
  readonly offset: number;

  constructor(code: ErrorCode, message: string, options: KimageErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KimageError";
    this.code = code;
    this.layer = options.layer;
    this.offset = options.offset;
  }

  /** One line: `code [layer @ 0xoffset]: message`. */
  toLine(): string {
    const at = this.offset >= 0 ? ` @ 0x${this.offset.toString(16)}` : "";
    return `${this.code} [${this.layer}${at}]: ${this.message}`;
  }

  /** A plain object for JSON output. */
  toJSON(): { code: ErrorCode; layer: string; offset: number; message: string } {
    return { code: this.code, layer: this.layer, offset: this.offset, message: this.message };
  }
}

/** True when `e` is a {@link KimageError}, optionally with the given code. */
export function isKimageError(e: unknown, code?: ErrorCode): e is KimageError {
  return e instanceof KimageError && (code === undefined || e.code === code);
}

/**
 * A non-fatal observation about the input: something peers disagree on, or
 * that the spec allows but a verifier should know. Findings never change
 * what kimage computes silently; they say where a result may differ from a
 * peer's.
 */
export interface Finding {
  /** Stable id of the finding, e.g. `"section-gap"`. */
  code: string;
  /** `warning` may change a peer's result; `info` is informational. */
  severity: "warning" | "info";
  /** Absolute byte offset of the relevant field, or -1. */
  offset: number;
  /** Human-readable description. */
  message: string;
}
