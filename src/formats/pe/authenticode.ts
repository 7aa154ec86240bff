/**
 * The Authenticode image digest ("Windows Authenticode Portable Executable
 * Signature Format", "Calculating the PE Image Hash"), computed the way
 * EDK2, pesign and the Linux kernel (crypto/asymmetric_keys/verify_pefile.c)
 * compute it:
 *
 * 1. hash the headers up to SizeOfHeaders, skipping CheckSum and the
 *    certificate-table directory entry;
 * 2. hash each section's raw data (SizeOfRawData > 0), sorted by
 *    PointerToRawData ("Sort the section headers ... by PointerToRawData");
 * 3. "If FILE_SIZE is greater than SUM_OF_BYTES_HASHED, the file contains
 *    extra data that must be added to the hash. This data begins at the
 *    SUM_OF_BYTES_HASHED file offset, and its length is:
 *    (File Size) - ((Size of AttributeCertificateTable) + SUM_OF_BYTES_HASHED)";
 * 4. an unsigned file whose length is not a multiple of 8 is hashed as if
 *    zero-padded to 8, since signing pads it so (`pesign -h -P`).
 *
 * @module
 */

import { toHex } from "../../core/bytes.js";
import { KimageError, type Finding } from "../../core/errors.js";
import { defaultHashProvider } from "../../hash/index.js";
import { HASH_ALGORITHMS, type HashAlgorithm, type HashProvider } from "../../hash/types.js";
import { PE_LAYER, parsePe, type PeFile, type Section } from "./parse.js";

/** One hashed range, in hashing order. Offsets are relative to the PE's bytes. */
export type AuthenticodeRange =
  | {
      /** Header bytes, the remaining data after the sections, or a section's raw data. */
      kind: "headers" | "section" | "remaining";
      /** First byte (inclusive). */
      start: number;
      /** End (exclusive). */
      end: number;
      /** For `section`: the section name. */
      name?: string;
    }
  | {
      /** Zero bytes appended to an unsigned file to a multiple of 8. */
      kind: "padding";
      /** Number of zero bytes. */
      length: number;
    };

/** Options for {@link authenticodeRanges} and {@link authenticodeDigest}. */
export interface AuthenticodeOptions {
  /**
   * Zero-pad an unsigned file to a multiple of 8, as signing does
   * (pesign -P). Default `true`; has no effect on signed files.
   */
  padUnsigned?: boolean;
}

/** The ranges of a PE that the digest covers, with the findings that affect them. */
export interface AuthenticodeLayout {
  ranges: AuthenticodeRange[];
  /**
   * SUM_OF_BYTES_HASHED: SizeOfHeaders plus the raw sizes of the hashed
   * sections; the remaining data starts here.
   */
  sumOfBytesHashed: number;
  /** The file size minus the certificate table's size: where the remaining data ends. */
  imageEnd: number;
  /** Findings from the parse and from the digest layout itself. */
  findings: Finding[];
}

/**
 * The kernel's canonical section order (pefile_compare_shdrs): by
 * PointerToRawData, then VirtualAddress, Name, VirtualSize, SizeOfRawData;
 * ties keep table order, as its insertion sort does.
 */
function compareSections(a: Section, b: Section): number {
  return (
    a.PointerToRawData - b.PointerToRawData ||
    a.VirtualAddress - b.VirtualAddress ||
    (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0) ||
    a.VirtualSize - b.VirtualSize ||
    a.SizeOfRawData - b.SizeOfRawData
  );
}

/**
 * The exact byte ranges the Authenticode digest hashes, in the spec's order.
 *
 * @throws KimageError `pe-section-size-wrap` when the hashed sizes add up
 *   past 2^32 (32-bit peers would wrap).
 */
export function authenticodeRanges(pe: PeFile, options: AuthenticodeOptions = {}): AuthenticodeLayout {
  if (pe.fileSize !== undefined) {
    throw new KimageError("bad-argument", `the PE holds only the first ${pe.bytes.length} of its ${pe.fileSize} bytes; the digest needs all of them`, { layer: PE_LAYER, offset: pe.base });
  }
  const findings = [...pe.findings];
  const { checksum, certDirectoryEntry } = pe.layout;
  const headersEnd = pe.optional.SizeOfHeaders;
  const ranges: AuthenticodeRange[] = [{ kind: "headers", start: 0, end: checksum }];
  if (certDirectoryEntry !== null) {
    ranges.push({ kind: "headers", start: checksum + 4, end: certDirectoryEntry });
    ranges.push({ kind: "headers", start: certDirectoryEntry + 8, end: headersEnd });
  } else {
    ranges.push({ kind: "headers", start: checksum + 4, end: headersEnd });
  }

  let sum = headersEnd;
  const hashed = pe.sections.filter((s) => s.SizeOfRawData > 0).sort(compareSections);
  for (const s of hashed) {
    ranges.push({ kind: "section", start: s.PointerToRawData, end: s.PointerToRawData + s.SizeOfRawData, name: s.Name });
    sum += s.SizeOfRawData;
  }
  if (sum > 0xffffffff) {
    throw new KimageError(
      "pe-section-size-wrap",
      `SizeOfHeaders plus the raw section sizes is 0x${sum.toString(16)}, past 2^32`,
      { layer: PE_LAYER, offset: pe.base + pe.layout.sectionTable },
    );
  }

  const table = pe.certificateTable;
  const fileSize = pe.bytes.length;
  const imageEnd = table ? fileSize - table.size : fileSize;
  if (imageEnd > sum) {
    ranges.push({ kind: "remaining", start: sum, end: imageEnd });
  } else if (imageEnd < sum) {
    findings.push({
      code: "sections-exceed-image",
      severity: "warning",
      offset: pe.base + pe.layout.sectionTable,
      message: `SUM_OF_BYTES_HASHED = 0x${sum.toString(16)} exceeds the image size without the certificate table (0x${imageEnd.toString(16)}): overlapping or double-counted sections`,
    });
  }
  if (!table && (options.padUnsigned ?? true) && fileSize % 8 !== 0) {
    ranges.push({ kind: "padding", length: 8 - (fileSize % 8) });
  }
  return { ranges, sumOfBytesHashed: sum, imageEnd, findings };
}

/** The result of {@link authenticodeDigest}. */
export interface AuthenticodeDigest {
  alg: HashAlgorithm;
  /** The digest bytes. */
  digest: Uint8Array;
  /** Lowercase hex of `digest`. */
  hex: string;
  /** The ranges hashed, and any findings that a peer might treat differently. */
  layout: AuthenticodeLayout;
}

/** Options for {@link authenticodeDigest}. */
export interface AuthenticodeDigestOptions extends AuthenticodeOptions {
  /** Where hashing happens; default {@link defaultHashProvider}. */
  hash?: HashProvider;
}

const ZEROS = new Uint8Array(8);

/** The byte views (zero-copy) that the ranges of `layout` cover, in order. */
export function authenticodeParts(bytes: Uint8Array, layout: AuthenticodeLayout): Uint8Array[] {
  return layout.ranges.map((r) => (r.kind === "padding" ? ZEROS.subarray(0, r.length) : bytes.subarray(r.start, r.end)));
}

/**
 * Computes the Authenticode digest of a PE image (given as bytes or as an
 * already-parsed {@link PeFile}).
 *
 * @throws KimageError from {@link parsePe} or {@link authenticodeRanges}, or
 *   `bad-argument` for an unknown algorithm.
 */
export async function authenticodeDigest(
  input: Uint8Array | PeFile,
  alg: HashAlgorithm = "sha256",
  options: AuthenticodeDigestOptions = {},
): Promise<AuthenticodeDigest> {
  if (!HASH_ALGORITHMS.includes(alg)) {
    throw new KimageError("bad-argument", `unknown digest algorithm ${JSON.stringify(alg)}`, { layer: PE_LAYER, offset: -1 });
  }
  const pe = input instanceof Uint8Array ? parsePe(input) : input;
  const layout = authenticodeRanges(pe, options);
  const hash = options.hash ?? defaultHashProvider();
  const digest = await hash.digest(alg, authenticodeParts(pe.bytes, layout));
  return { alg, digest, hex: toHex(digest), layout };
}
