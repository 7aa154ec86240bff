/**
 * A strict, bounded, zero-copy DER reader (ITU-T X.690 Distinguished Encoding
 * Rules).
 *
 * - Every TLV is a set of subarrays of the caller's buffer; nothing is copied.
 * - Every offset reported (in {@link Tlv} and in errors) is absolute: relative
 *   to the outermost input, given the `base` of the bytes being read.
 * - BER-only forms (indefinite lengths, non-minimal lengths, constructed
 *   strings, non-minimal integers, non-canonical booleans and times) throw
 *   `asn1-not-der`; impossible encodings throw `asn1-malformed`; lengths past
 *   the end of the input throw `truncated`.
 * - Nesting depth, children per value and total node count are limited
 *   ({@link DEFAULT_DER_LIMITS}), and the tree walker is iterative, so no
 *   input can recurse without bound or hang: limits throw `limit`.
 *
 * Only {@link KimageError} is ever thrown for bad input.
 *
 * @module
 */

import { KimageError, type ErrorCode } from "../core/errors.js";
import { toHex } from "../core/bytes.js";

/** Layer id used in errors raised by the DER reader and the PKCS#7 parsers. */
export const DER_LAYER = "pkcs7";

/** Universal tags, as identifier bytes (class + constructed bit + number). */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  NUMERIC_STRING: 0x12,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  VISIBLE_STRING: 0x1a,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/**
 * The identifier byte of a context-specific tag `[n]` (n < 31), e.g.
 * `ctxTag(0, true) === 0xa0` for a constructed `[0]`.
 */
export function ctxTag(n: number, constructed: boolean): number {
  return 0x80 | (constructed ? 0x20 : 0) | (n & 0x1f);
}

/** The four ASN.1 tag classes. */
export type TagClass = "universal" | "application" | "context" | "private";

const CLASSES: readonly TagClass[] = ["universal", "application", "context", "private"];

/** Resource limits of the DER reader; every field is a hard maximum. */
export interface DerLimits {
  /** Format id used in errors. */
  readonly layer: string;
  /** Deepest nesting level a TLV may sit at (the outermost TLV is depth 0). */
  readonly maxDepth: number;
  /** Most children a single constructed value may hold. */
  readonly maxChildren: number;
  /** Most TLVs {@link walkDer} visits in one tree. */
  readonly maxNodes: number;
  /** Longest OBJECT IDENTIFIER content, in bytes, {@link readOid} accepts. */
  readonly maxOidBytes: number;
  /** Longest INTEGER content, in bytes, {@link readInteger} converts to a bigint. */
  readonly maxIntegerBytes: number;
}

/** Default limits: generous for any real certificate chain, small enough to be safe. */
export const DEFAULT_DER_LIMITS: DerLimits = Object.freeze({
  layer: DER_LAYER,
  maxDepth: 64,
  maxChildren: 100_000,
  maxNodes: 1_000_000,
  maxOidBytes: 128,
  maxIntegerBytes: 8192,
});

/** Options of {@link readTlv} and {@link parseDer}. */
export interface DerOptions extends Partial<DerLimits> {
  /** Absolute offset of `bytes[0]` in the outermost input (default 0). */
  base?: number;
  /** Nesting depth of the TLV being read (default 0; used by {@link children}). */
  depth?: number;
}

/**
 * One decoded tag-length-value. All offsets are absolute; `content` and `raw`
 * are subarrays of the input (no copy).
 */
export interface Tlv {
  /**
   * The identifier octet(s) as one number, big-endian: e.g. `0x30` for
   * SEQUENCE, `0xa0` for `[0]` constructed, `0x9f1f` for a primitive
   * context tag `[31]` in high-tag-number form.
   */
  readonly tag: number;
  /** Tag class. */
  readonly tagClass: TagClass;
  /** True when the constructed bit (0x20) is set. */
  readonly constructed: boolean;
  /** The tag number within its class. */
  readonly tagNumber: number;
  /** Length of the identifier and length octets. */
  readonly headerLength: number;
  /** Length of the content octets. */
  readonly length: number;
  /** Absolute offset of the first identifier octet. */
  readonly offset: number;
  /** Absolute offset of the first content octet. */
  readonly contentOffset: number;
  /** Absolute offset just past the last content octet. */
  readonly end: number;
  /** The content octets (subarray of the input). */
  readonly content: Uint8Array;
  /** The whole TLV, header included (subarray of the input). */
  readonly raw: Uint8Array;
  /** Nesting depth (the outermost TLV is 0). */
  readonly depth: number;
  /** The limits this TLV was read under; its children inherit them. */
  readonly limits: DerLimits;
}

function resolveLimits(opts: Partial<DerLimits>): DerLimits {
  if (
    opts.layer === undefined &&
    opts.maxDepth === undefined &&
    opts.maxChildren === undefined &&
    opts.maxNodes === undefined &&
    opts.maxOidBytes === undefined &&
    opts.maxIntegerBytes === undefined
  ) {
    return DEFAULT_DER_LIMITS;
  }
  return Object.freeze({
    layer: opts.layer ?? DEFAULT_DER_LIMITS.layer,
    maxDepth: opts.maxDepth ?? DEFAULT_DER_LIMITS.maxDepth,
    maxChildren: opts.maxChildren ?? DEFAULT_DER_LIMITS.maxChildren,
    maxNodes: opts.maxNodes ?? DEFAULT_DER_LIMITS.maxNodes,
    maxOidBytes: opts.maxOidBytes ?? DEFAULT_DER_LIMITS.maxOidBytes,
    maxIntegerBytes: opts.maxIntegerBytes ?? DEFAULT_DER_LIMITS.maxIntegerBytes,
  });
}

function fail(code: ErrorCode, message: string, offset: number, layer: string): never {
  throw new KimageError(code, message, { layer, offset });
}

/** A short human name of a tag for messages: `SEQUENCE`, `[0]`, `tag 0x5f21`. */
export function tagName(tag: number): string {
  for (const [name, value] of Object.entries(TAG)) if (value === tag) return name;
  if (tag < 0x100 && (tag & 0xc0) === 0x80) return `[${tag & 0x1f}]${tag & 0x20 ? "" : " primitive"}`;
  return `tag 0x${tag.toString(16)}`;
}

/**
 * Decodes the TLV at `offset` of `bytes` (whose first byte sits at absolute
 * offset `base`). `overrun` is the code raised when the content runs past the
 * end of `bytes`: `truncated` at the top level, `asn1-malformed` for a child
 * running past its parent.
 */
function decode(
  bytes: Uint8Array,
  offset: number,
  base: number,
  depth: number,
  limits: DerLimits,
  overrun: ErrorCode,
): Tlv {
  const layer = limits.layer;
  const at = base + offset;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= bytes.length) {
    fail("truncated", `DER identifier at 0x${at.toString(16)} is past the end of the input`, at, layer);
  }
  if (depth > limits.maxDepth) {
    fail("limit", `DER nesting deeper than ${limits.maxDepth} levels at 0x${at.toString(16)}`, at, layer);
  }
  const b0 = bytes[offset] as number;
  const tagClass = CLASSES[b0 >> 6] as TagClass;
  const constructed = (b0 & 0x20) !== 0;
  let tagNumber = b0 & 0x1f;
  let tag = b0;
  let p = offset + 1;
  if (tagNumber === 0x1f) {
    // High-tag-number form (X.690 8.1.2.4): base-128, first subsequent octet not 0x80.
    tagNumber = 0;
    for (let n = 1; ; n++) {
      if (p >= bytes.length) {
        fail("truncated", `DER tag at 0x${at.toString(16)} runs past the end of the input`, at, layer);
      }
      const b = bytes[p++] as number;
      if (n === 1 && b === 0x80) {
        fail("asn1-malformed", `DER tag at 0x${at.toString(16)} has a leading 0x80 in its tag number`, at, layer);
      }
      if (n > 3) {
        fail("limit", `DER tag number at 0x${at.toString(16)} is longer than 3 octets`, at, layer);
      }
      tagNumber = tagNumber * 128 + (b & 0x7f);
      tag = tag * 256 + b;
      if ((b & 0x80) === 0) break;
    }
    if (tagNumber < 31) {
      fail(
        "asn1-malformed",
        `DER tag at 0x${at.toString(16)} uses the high-tag-number form for tag number ${tagNumber}`,
        at,
        layer,
      );
    }
  }
  if (tagClass === "universal" && tagNumber === 0) {
    fail("asn1-malformed", `DER tag 0 (end-of-contents) at 0x${at.toString(16)}`, at, layer);
  }
  if (p >= bytes.length) {
    fail("truncated", `DER length at 0x${(base + p).toString(16)} is past the end of the input`, base + p, layer);
  }
  const lenAt = base + p;
  const l0 = bytes[p++] as number;
  let length: number;
  if (l0 < 0x80) {
    length = l0;
  } else if (l0 === 0x80) {
    fail("asn1-not-der", `indefinite length (BER) at 0x${lenAt.toString(16)}`, lenAt, layer);
  } else if (l0 === 0xff) {
    fail("asn1-malformed", `reserved length octet 0xff at 0x${lenAt.toString(16)}`, lenAt, layer);
  } else {
    const n = l0 & 0x7f;
    if (n > bytes.length - p) {
      fail("truncated", `DER length at 0x${lenAt.toString(16)} runs past the end of the input`, lenAt, layer);
    }
    if (bytes[p] === 0) {
      fail("asn1-not-der", `non-minimal length (leading zero octet) at 0x${lenAt.toString(16)}`, lenAt, layer);
    }
    if (n > 6) {
      // At least 2^48 bytes: cannot fit in any buffer.
      fail("truncated", `DER length at 0x${lenAt.toString(16)} (${n} octets) runs past the end of the input`, lenAt, layer);
    }
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (bytes[p + i] as number);
    p += n;
    if (length < 0x80) {
      fail("asn1-not-der", `long-form length ${length} (< 128) at 0x${lenAt.toString(16)}`, lenAt, layer);
    }
  }
  if (length > bytes.length - p) {
    fail(
      overrun,
      `${tagName(tag)} at 0x${at.toString(16)}: ${length} content byte(s) run past the end` +
        ` (${bytes.length - p} available)`,
      at,
      layer,
    );
  }
  const headerLength = p - offset;
  return {
    tag,
    tagClass,
    constructed,
    tagNumber,
    headerLength,
    length,
    offset: at,
    contentOffset: base + p,
    end: base + p + length,
    content: bytes.subarray(p, p + length),
    raw: bytes.subarray(offset, p + length),
    depth,
    limits,
  };
}

/**
 * Reads one TLV at `offset` of `bytes` (relative to `bytes`; the TLV's
 * absolute position is `opts.base + offset`). Checks the header strictly
 * (DER lengths, tag form, bounds) but not the content.
 *
 * @throws KimageError `truncated` when the header or content runs past the end
 *   of `bytes`; `asn1-not-der` for indefinite or non-minimal lengths;
 *   `asn1-malformed` for impossible tags; `limit` when `opts.depth` exceeds
 *   the depth limit or the tag number is too long.
 */
export function readTlv(bytes: Uint8Array, offset: number, opts: DerOptions = {}): Tlv {
  return decode(bytes, offset, opts.base ?? 0, opts.depth ?? 0, resolveLimits(opts), "truncated");
}

/**
 * The child TLVs of a constructed value, in order. The children must exactly
 * fill the parent's content: a child running past the parent is
 * `asn1-malformed`.
 *
 * @throws KimageError `asn1-malformed` if `tlv` is primitive; `limit` when
 *   the children are nested too deep or there are too many of them.
 */
export function children(tlv: Tlv): Tlv[] {
  const layer = tlv.limits.layer;
  if (!tlv.constructed) {
    fail("asn1-malformed", `${tagName(tlv.tag)} at 0x${tlv.offset.toString(16)} is primitive, expected constructed`, tlv.offset, layer);
  }
  const out: Tlv[] = [];
  const content = tlv.content;
  let pos = 0;
  while (pos < content.length) {
    if (out.length >= tlv.limits.maxChildren) {
      fail(
        "limit",
        `${tagName(tlv.tag)} at 0x${tlv.offset.toString(16)} has more than ${tlv.limits.maxChildren} children`,
        tlv.offset,
        layer,
      );
    }
    const child = decode(content, pos, tlv.contentOffset, tlv.depth + 1, tlv.limits, "asn1-malformed");
    out.push(child);
    pos = child.end - tlv.contentOffset;
  }
  return out;
}

/**
 * Returns `tlv` when its identifier is `tag`, else throws `code`
 * (`asn1-malformed` by default) naming `what`.
 */
export function expect(tlv: Tlv, tag: number, what: string, code: ErrorCode = "asn1-malformed"): Tlv {
  if (tlv.tag !== tag) {
    fail(code, `${what}: expected ${tagName(tag)}, found ${tagName(tlv.tag)} at 0x${tlv.offset.toString(16)}`, tlv.offset, tlv.limits.layer);
  }
  return tlv;
}

/**
 * Throws `asn1-malformed` (naming `what`) unless the constructed value `tlv`
 * has between `min` and `max` children; returns the children.
 */
export function childrenCount(tlv: Tlv, min: number, max: number, what: string): Tlv[] {
  const kids = children(tlv);
  if (kids.length < min || kids.length > max) {
    const want = min === max ? `${min}` : `${min}..${max}`;
    fail(
      "asn1-malformed",
      `${what} at 0x${tlv.offset.toString(16)}: expected ${want} element(s), found ${kids.length}`,
      tlv.offset,
      tlv.limits.layer,
    );
  }
  return kids;
}

function primitive(tlv: Tlv, tag: number, what: string): void {
  expect(tlv, tag, what);
}

/**
 * Decodes an OBJECT IDENTIFIER (X.690 8.19) to dotted-decimal form.
 * Arcs of any size are supported (via bigint past 2^53); the content length
 * is bounded by `maxOidBytes`.
 *
 * @throws KimageError `asn1-malformed` for an empty OID, a leading 0x80 in an
 *   arc (non-minimal), or a truncated last arc; `limit` when too long.
 */
export function readOid(tlv: Tlv, what = "OBJECT IDENTIFIER"): string {
  primitive(tlv, TAG.OID, what);
  const layer = tlv.limits.layer;
  const c = tlv.content;
  if (c.length === 0) fail("asn1-malformed", `${what} at 0x${tlv.offset.toString(16)} is empty`, tlv.offset, layer);
  if (c.length > tlv.limits.maxOidBytes) {
    fail("limit", `${what} at 0x${tlv.offset.toString(16)} is longer than ${tlv.limits.maxOidBytes} bytes`, tlv.offset, layer);
  }
  const arcs: string[] = [];
  let i = 0;
  while (i < c.length) {
    const start = i;
    if (c[i] === 0x80) {
      fail("asn1-malformed", `${what} at 0x${tlv.offset.toString(16)}: non-minimal arc encoding (leading 0x80)`, tlv.contentOffset + i, layer);
    }
    let small = 0;
    let big: bigint | undefined;
    for (;;) {
      if (i >= c.length) {
        fail("asn1-malformed", `${what} at 0x${tlv.offset.toString(16)}: last arc is truncated`, tlv.contentOffset + start, layer);
      }
      const b = c[i++] as number;
      if (big === undefined && small >= 2 ** 45) big = BigInt(small);
      if (big === undefined) small = small * 128 + (b & 0x7f);
      else big = big * 128n + BigInt(b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
    if (arcs.length === 0) {
      // The first subidentifier encodes the first two arcs: X * 40 + Y.
      if (big === undefined) {
        if (small < 40) arcs.push("0", String(small));
        else if (small < 80) arcs.push("1", String(small - 40));
        else arcs.push("2", String(small - 80));
      } else {
        arcs.push("2", String(big - 80n));
      }
    } else {
      arcs.push(big === undefined ? String(small) : String(big));
    }
  }
  return arcs.join(".");
}

/** A decoded INTEGER. */
export interface DerInteger {
  /** The value (two's complement decoded). */
  value: bigint;
  /** The content octets exactly as encoded (subarray, no copy). */
  bytes: Uint8Array;
}

function checkIntegerContent(tlv: Tlv, what: string): void {
  const c = tlv.content;
  const layer = tlv.limits.layer;
  if (c.length === 0) fail("asn1-malformed", `${what} at 0x${tlv.offset.toString(16)} has no content octets`, tlv.offset, layer);
  if (c.length > 1) {
    const a = c[0] as number;
    const b = c[1] as number;
    if ((a === 0x00 && b < 0x80) || (a === 0xff && b >= 0x80)) {
      fail("asn1-not-der", `${what} at 0x${tlv.offset.toString(16)} is not minimally encoded`, tlv.offset, layer);
    }
  }
}

/**
 * Decodes an INTEGER (X.690 8.3) to a bigint plus its raw content octets.
 *
 * @throws KimageError `asn1-malformed` if empty or not an INTEGER;
 *   `asn1-not-der` if not minimally encoded; `limit` past `maxIntegerBytes`.
 */
export function readInteger(tlv: Tlv, what = "INTEGER"): DerInteger {
  primitive(tlv, TAG.INTEGER, what);
  checkIntegerContent(tlv, what);
  const c = tlv.content;
  if (c.length > tlv.limits.maxIntegerBytes) {
    fail("limit", `${what} at 0x${tlv.offset.toString(16)} is longer than ${tlv.limits.maxIntegerBytes} bytes`, tlv.offset, tlv.limits.layer);
  }
  let value = BigInt(`0x${toHex(c)}`);
  if (((c[0] as number) & 0x80) !== 0) value -= 1n << BigInt(c.length * 8);
  return { value, bytes: c };
}

/**
 * Decodes a small INTEGER (e.g. a version number) to a `number`.
 *
 * @throws KimageError as {@link readInteger}, and `limit` when the value is
 *   not a safe integer.
 */
export function readSmallInt(tlv: Tlv, what = "INTEGER"): number {
  primitive(tlv, TAG.INTEGER, what);
  checkIntegerContent(tlv, what);
  if (tlv.content.length > 6) {
    fail("limit", `${what} at 0x${tlv.offset.toString(16)} does not fit a safe integer`, tlv.offset, tlv.limits.layer);
  }
  return Number(readInteger(tlv, what).value);
}

/**
 * Decodes a BOOLEAN; DER requires the content to be exactly 0x00 or 0xff.
 *
 * @throws KimageError `asn1-malformed` for a wrong length; `asn1-not-der`
 *   for any other non-zero value.
 */
export function readBoolean(tlv: Tlv, what = "BOOLEAN"): boolean {
  primitive(tlv, TAG.BOOLEAN, what);
  const layer = tlv.limits.layer;
  if (tlv.length !== 1) fail("asn1-malformed", `${what} at 0x${tlv.offset.toString(16)} must have 1 content octet`, tlv.offset, layer);
  const v = tlv.content[0] as number;
  if (v !== 0 && v !== 0xff) fail("asn1-not-der", `${what} at 0x${tlv.offset.toString(16)} is 0x${v.toString(16)}, DER needs 0x00 or 0xff`, tlv.offset, layer);
  return v === 0xff;
}

/** Checks a NULL (no content octets). */
export function readNull(tlv: Tlv, what = "NULL"): null {
  primitive(tlv, TAG.NULL, what);
  if (tlv.length !== 0) fail("asn1-malformed", `${what} at 0x${tlv.offset.toString(16)} has content`, tlv.offset, tlv.limits.layer);
  return null;
}

/**
 * The content of a primitive OCTET STRING (subarray, no copy). A constructed
 * OCTET STRING is BER-only and throws `asn1-not-der`.
 */
export function readOctetString(tlv: Tlv, what = "OCTET STRING"): Uint8Array {
  if (tlv.tag === (TAG.OCTET_STRING | 0x20)) {
    fail("asn1-not-der", `${what} at 0x${tlv.offset.toString(16)} uses the constructed (BER) form`, tlv.offset, tlv.limits.layer);
  }
  primitive(tlv, TAG.OCTET_STRING, what);
  return tlv.content;
}

/** A decoded BIT STRING. */
export interface DerBitString {
  /** Number of unused bits in the last octet (0..7). */
  unusedBits: number;
  /** The bit-string octets, without the leading unused-bits octet (subarray). */
  bytes: Uint8Array;
}

/**
 * Decodes a primitive BIT STRING (X.690 8.6, 11.2): unused-bit count at most
 * 7, zero when empty, and (DER) the unused bits must be zero.
 */
export function readBitString(tlv: Tlv, what = "BIT STRING"): DerBitString {
  const layer = tlv.limits.layer;
  if (tlv.tag === (TAG.BIT_STRING | 0x20)) {
    fail("asn1-not-der", `${what} at 0x${tlv.offset.toString(16)} uses the constructed (BER) form`, tlv.offset, layer);
  }
  primitive(tlv, TAG.BIT_STRING, what);
  const c = tlv.content;
  if (c.length === 0) fail("asn1-malformed", `${what} at 0x${tlv.offset.toString(16)} has no unused-bits octet`, tlv.offset, layer);
  const unusedBits = c[0] as number;
  if (unusedBits > 7 || (c.length === 1 && unusedBits !== 0)) {
    fail("asn1-malformed", `${what} at 0x${tlv.offset.toString(16)} has an invalid unused-bits count ${unusedBits}`, tlv.offset, layer);
  }
  if (unusedBits !== 0 && ((c[c.length - 1] as number) & ((1 << unusedBits) - 1)) !== 0) {
    fail("asn1-not-der", `${what} at 0x${tlv.offset.toString(16)} has non-zero unused bits`, tlv.offset, layer);
  }
  return { unusedBits, bytes: c.subarray(1) };
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digits(c: Uint8Array, from: number, n: number): number {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const d = (c[i] as number) - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/**
 * Decodes a UTCTime or GeneralizedTime in the only forms DER allows
 * (X.690 11.7, 11.8): `YYMMDDHHMMSSZ` and `YYYYMMDDHHMMSS[.f*]Z` with no
 * trailing zero in the fraction. UTCTime years 50..99 are 19xx, 00..49 are
 * 20xx (RFC 5280 4.1.2.5.1).
 *
 * @throws KimageError `asn1-not-der` for BER forms (missing seconds, time-zone
 *   offsets, fraction with trailing zeros, comma); `asn1-malformed` for
 *   anything that is not a valid time.
 */
export function readTime(tlv: Tlv, what = "Time"): Date {
  const layer = tlv.limits.layer;
  const at = tlv.offset;
  const where = `${what} at 0x${at.toString(16)}`;
  if (tlv.tag === (TAG.UTC_TIME | 0x20) || tlv.tag === (TAG.GENERALIZED_TIME | 0x20)) {
    fail("asn1-not-der", `${where} uses the constructed (BER) form`, at, layer);
  }
  if (tlv.tag !== TAG.UTC_TIME && tlv.tag !== TAG.GENERALIZED_TIME) {
    fail("asn1-malformed", `${where}: expected UTCTime or GeneralizedTime, found ${tagName(tlv.tag)}`, at, layer);
  }
  const c = tlv.content;
  const utc = tlv.tag === TAG.UTC_TIME;
  const yLen = utc ? 2 : 4;
  const base = yLen + 10; // YY(YY) MM DD HH MM SS
  const text = String.fromCharCode(...c.subarray(0, 64));
  // Classify: DER forms are strict subsets of the BER forms.
  const berUtc = /^\d{10}(\d{2})?(Z|[+-]\d{4})$/;
  const berGen = /^\d{10}(\d{2}(\d{2}([.,]\d+)?)?)?(Z|[+-]\d{4})?$/;
  const derUtc = /^\d{12}Z$/;
  const derGen = /^\d{14}(\.\d*[1-9])?Z$/;
  if (c.length > 64 || !(utc ? berUtc : berGen).test(text)) {
    fail("asn1-malformed", `${where}: ${JSON.stringify(text)} is not a valid ${utc ? "UTCTime" : "GeneralizedTime"}`, at, layer);
  }
  if (!(utc ? derUtc : derGen).test(text)) {
    fail("asn1-not-der", `${where}: ${JSON.stringify(text)} is not in DER form`, at, layer);
  }
  let year = digits(c, 0, yLen);
  if (utc) year += year >= 50 ? 1900 : 2000;
  const month = digits(c, yLen, 2);
  const day = digits(c, yLen + 2, 2);
  const hour = digits(c, yLen + 4, 2);
  const minute = digits(c, yLen + 6, 2);
  const second = digits(c, yLen + 8, 2);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const dim = month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > dim || hour > 23 || minute > 59 || second > 59) {
    fail("asn1-malformed", `${where}: ${JSON.stringify(text)} is not a valid date and time`, at, layer);
  }
  let ms = 0;
  if (c.length > base + 1) {
    // ".fff...Z": keep millisecond precision.
    const frac = text.slice(base + 1, -1);
    ms = Number(`0.${frac}`) * 1000;
    ms = Math.floor(ms + 1e-6);
  }
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, ms);
  return d;
}

let utf8: TextDecoder | undefined;

/**
 * Decodes a character string: UTF8String (must be valid UTF-8),
 * PrintableString / IA5String / VisibleString / NumericString (must be 7-bit),
 * T61String (read as Latin-1), BMPString (UCS-2/UTF-16BE, even length) and
 * UniversalString (UTF-32BE, length multiple of 4).
 *
 * @throws KimageError `asn1-malformed` for another tag or invalid content;
 *   `asn1-not-der` for the constructed (BER) form of a string type.
 */
export function readString(tlv: Tlv, what = "string"): string {
  const layer = tlv.limits.layer;
  const at = tlv.offset;
  const where = `${what} at 0x${at.toString(16)}`;
  const c = tlv.content;
  const stringTag = tlv.tag & ~0x20;
  const isStringTag =
    stringTag === TAG.UTF8_STRING ||
    stringTag === TAG.PRINTABLE_STRING ||
    stringTag === TAG.IA5_STRING ||
    stringTag === TAG.VISIBLE_STRING ||
    stringTag === TAG.NUMERIC_STRING ||
    stringTag === TAG.T61_STRING ||
    stringTag === TAG.BMP_STRING ||
    stringTag === TAG.UNIVERSAL_STRING;
  if (isStringTag && tlv.constructed) fail("asn1-not-der", `${where} uses the constructed (BER) form`, at, layer);
  switch (tlv.tag) {
    case TAG.UTF8_STRING: {
      utf8 ??= new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
      try {
        return utf8.decode(c);
      } catch {
        return fail("asn1-malformed", `${where} is not valid UTF-8`, at, layer);
      }
    }
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case TAG.VISIBLE_STRING:
    case TAG.NUMERIC_STRING: {
      let s = "";
      for (let i = 0; i < c.length; i++) {
        const b = c[i] as number;
        if (b >= 0x80) fail("asn1-malformed", `${where} holds a non-ASCII byte 0x${b.toString(16)}`, tlv.contentOffset + i, layer);
        s += String.fromCharCode(b);
      }
      return s;
    }
    case TAG.T61_STRING: {
      let s = "";
      for (let i = 0; i < c.length; i++) s += String.fromCharCode(c[i] as number);
      return s;
    }
    case TAG.BMP_STRING: {
      if (c.length % 2 !== 0) fail("asn1-malformed", `${where} has an odd length`, at, layer);
      let s = "";
      for (let i = 0; i < c.length; i += 2) s += String.fromCharCode(((c[i] as number) << 8) | (c[i + 1] as number));
      return s;
    }
    case TAG.UNIVERSAL_STRING: {
      if (c.length % 4 !== 0) fail("asn1-malformed", `${where} length is not a multiple of 4`, at, layer);
      let s = "";
      for (let i = 0; i < c.length; i += 4) {
        const cp = (c[i] as number) * 0x1000000 + ((c[i + 1] as number) << 16) + ((c[i + 2] as number) << 8) + (c[i + 3] as number);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) fail("asn1-malformed", `${where} holds an invalid code point`, tlv.contentOffset + i, layer);
        s += String.fromCodePoint(cp);
      }
      return s;
    }
    default:
      return fail("asn1-malformed", `${where}: ${tagName(tlv.tag)} is not a string type`, at, layer);
  }
}

/**
 * Checks the content rules DER places on universal primitive types: BOOLEAN
 * (0x00/0xff), INTEGER/ENUMERATED (minimal), BIT STRING (unused bits), NULL
 * (empty), OBJECT IDENTIFIER (well-formed arcs), UTCTime/GeneralizedTime
 * (DER forms); SEQUENCE/SET must be constructed; string types, OCTET STRING
 * and BIT STRING must be primitive.
 */
function checkUniversal(t: Tlv): void {
  if (t.tagClass !== "universal") return;
  const n = t.tagNumber;
  const layer = t.limits.layer;
  switch (n) {
    case 16:
    case 17:
      if (!t.constructed) fail("asn1-malformed", `${n === 16 ? "SEQUENCE" : "SET"} at 0x${t.offset.toString(16)} is primitive`, t.offset, layer);
      return;
    case 1:
    case 2:
    case 5:
    case 6:
    case 9:
    case 10:
      if (t.constructed) fail("asn1-malformed", `${tagName(n)} at 0x${t.offset.toString(16)} is constructed`, t.offset, layer);
      if (n === 1) readBoolean(t);
      else if (n === 2) checkIntegerContent(t, "INTEGER");
      else if (n === 10) checkIntegerContent(t, "ENUMERATED");
      else if (n === 5) readNull(t);
      else if (n === 6) readOid(t);
      return;
    case 3:
      readBitString(t);
      return;
    case 4:
      readOctetString(t);
      return;
    case 23:
    case 24:
      readTime(t);
      return;
    case 12:
    case 18:
    case 19:
    case 20:
    case 21:
    case 22:
    case 25:
    case 26:
    case 27:
    case 28:
    case 30:
      if (t.constructed) fail("asn1-not-der", `string (tag ${n}) at 0x${t.offset.toString(16)} uses the constructed (BER) form`, t.offset, layer);
      return;
    default:
      return;
  }
}

/**
 * Compares two encodings the way DER orders SET OF components (X.690 11.6):
 * as octet strings, the shorter one padded at its end with zero octets.
 * Returns a negative number, zero or a positive number.
 */
export function compareSetOfEncodings(a: Uint8Array, b: Uint8Array): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x - y;
  }
  return 0;
}

/** True when `items` are in DER SET OF order (ascending encodings). */
export function isSetOfSorted(items: readonly Tlv[]): boolean {
  for (let i = 1; i < items.length; i++) {
    if (compareSetOfEncodings((items[i - 1] as Tlv).raw, (items[i] as Tlv).raw) > 0) return false;
  }
  return true;
}

function checkSetOrder(t: Tlv, kids: readonly Tlv[]): void {
  for (let i = 1; i < kids.length; i++) {
    const k = kids[i] as Tlv;
    if (compareSetOfEncodings((kids[i - 1] as Tlv).raw, k.raw) > 0) {
      fail(
        "asn1-not-der",
        `SET at 0x${t.offset.toString(16)}: element at 0x${k.offset.toString(16)} is out of DER SET OF order`,
        k.offset,
        t.limits.layer,
      );
    }
  }
}

/** Options of {@link walkDer}. */
export interface WalkOptions {
  /**
   * Also check the DER content rules (default true): universal primitives'
   * contents (see readers), primitive/constructed forms, and SET elements in
   * ascending encoding order (X.690 11.6; every SET in CMS and X.509 is a
   * SET OF).
   */
  checkPrimitives?: boolean;
  /** Called for every TLV in depth-first pre-order. */
  visit?: (tlv: Tlv) => void;
}

/**
 * Walks the whole tree under `root` iteratively (no recursion), decoding
 * every constructed value's children, so that the entire encoding is checked
 * to be well-formed DER. Returns the number of TLVs visited.
 *
 * @throws KimageError on the first malformed or non-DER TLV; `limit` when the
 *   tree is deeper than `maxDepth`, wider than `maxChildren` or has more than
 *   `maxNodes` TLVs.
 */
export function walkDer(root: Tlv, opts: WalkOptions = {}): number {
  const check = opts.checkPrimitives ?? true;
  const stack: Tlv[] = [root];
  let nodes = 0;
  while (stack.length > 0) {
    const t = stack.pop() as Tlv;
    if (++nodes > root.limits.maxNodes) {
      fail("limit", `DER value at 0x${root.offset.toString(16)} has more than ${root.limits.maxNodes} TLVs`, t.offset, root.limits.layer);
    }
    if (check) checkUniversal(t);
    opts.visit?.(t);
    if (t.constructed) {
      const kids = children(t);
      if (check && t.tag === TAG.SET) checkSetOrder(t, kids);
      for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i] as Tlv);
    }
  }
  return nodes;
}

/** Options of {@link parseDer}. */
export interface ParseDerOptions extends Partial<DerLimits> {
  /** Walk and check the whole tree (default true); otherwise only the outer header. */
  validate?: boolean;
}

/**
 * Reads exactly one DER value spanning all of `bytes` (whose first byte is at
 * absolute offset `base`), and by default checks the whole tree with
 * {@link walkDer}.
 *
 * @throws KimageError `asn1-trailing-bytes` when bytes follow the value, or
 *   any error of {@link readTlv} / {@link walkDer}.
 */
export function parseDer(bytes: Uint8Array, base = 0, opts: ParseDerOptions = {}): Tlv {
  const tlv = decode(bytes, 0, base, 0, resolveLimits(opts), "truncated");
  if (tlv.end !== base + bytes.length) {
    fail(
      "asn1-trailing-bytes",
      `${base + bytes.length - tlv.end} byte(s) follow the DER value ending at 0x${tlv.end.toString(16)}`,
      tlv.end,
      tlv.limits.layer,
    );
  }
  if (opts.validate ?? true) walkDer(tlv);
  return tlv;
}

/** True when two byte arrays hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
