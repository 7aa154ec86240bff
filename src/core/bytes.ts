/**
 * The bounded byte layer: every read names the field it reads, checks bounds
 * first, and reports failures as {@link KimageError} with the absolute offset.
 *
 * A {@link ByteView} wraps a `Uint8Array` view (never a copy) with one
 * `DataView` of explicit length. Sub-views keep track of their absolute
 * position in the outermost input so that errors always point at the file.
 *
 * @module
 */

import { KimageError } from "./errors.js";

/** Largest byte count kimage ever treats as a plain `number`. */
export const MAX_SAFE_SIZE = Number.MAX_SAFE_INTEGER;

/**
 * A bounded, zero-copy reader over a byte range.
 *
 * Invariant: `0 <= offset` and `offset + length` never exceed the view for
 * any successful read; every failing read throws `truncated`.
 */
export class ByteView {
  /** The bytes of this view (a subarray of the caller's buffer, not a copy). */
  readonly bytes: Uint8Array;
  /** Absolute offset of `bytes[0]` in the outermost input. */
  readonly base: number;
  /** Format id used in errors raised by this view. */
  readonly layer: string;
  private readonly dv: DataView;

  constructor(bytes: Uint8Array, layer: string, base = 0) {
    this.bytes = bytes;
    this.base = base;
    this.layer = layer;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Number of bytes in the view. */
  get length(): number {
    return this.bytes.length;
  }

  /** Absolute offset (in the outermost input) of a view-relative offset. */
  abs(offset: number): number {
    return this.base + offset;
  }

  /** True when `[offset, offset + size)` lies inside the view. */
  has(offset: number, size: number): boolean {
    return (
      Number.isSafeInteger(offset) &&
      Number.isSafeInteger(size) &&
      offset >= 0 &&
      size >= 0 &&
      offset <= this.bytes.length - size
    );
  }

  /** Throws `truncated` unless `[offset, offset + size)` lies inside the view. */
  need(offset: number, size: number, field: string): void {
    if (!this.has(offset, size)) {
      throw new KimageError(
        "truncated",
        `${field}: ${size} byte(s) at 0x${this.abs(offset).toString(16)} run past the end (0x${this.abs(this.bytes.length).toString(16)})`,
        { layer: this.layer, offset: this.abs(offset) },
      );
    }
  }

  /** An unsigned 8-bit field. */
  u8(offset: number, field: string): number {
    this.need(offset, 1, field);
    return this.dv.getUint8(offset);
  }
  /** An unsigned little-endian 16-bit field. */
  u16le(offset: number, field: string): number {
    this.need(offset, 2, field);
    return this.dv.getUint16(offset, true);
  }
  /** An unsigned big-endian 16-bit field. */
  u16be(offset: number, field: string): number {
    this.need(offset, 2, field);
    return this.dv.getUint16(offset, false);
  }
  /** An unsigned little-endian 32-bit field. */
  u32le(offset: number, field: string): number {
    this.need(offset, 4, field);
    return this.dv.getUint32(offset, true);
  }
  /** An unsigned big-endian 32-bit field. */
  u32be(offset: number, field: string): number {
    this.need(offset, 4, field);
    return this.dv.getUint32(offset, false);
  }
  /** An unsigned little-endian 64-bit field, as `bigint`. */
  u64le(offset: number, field: string): bigint {
    this.need(offset, 8, field);
    return this.dv.getBigUint64(offset, true);
  }
  /** An unsigned big-endian 64-bit field, as `bigint`. */
  u64be(offset: number, field: string): bigint {
    this.need(offset, 8, field);
    return this.dv.getBigUint64(offset, false);
  }

  /** A zero-copy sub-view of `[offset, offset + size)`, keeping absolute offsets. */
  sub(offset: number, size: number, field: string, layer = this.layer): ByteView {
    this.need(offset, size, field);
    return new ByteView(this.bytes.subarray(offset, offset + size), layer, this.abs(offset));
  }

  /** A zero-copy `Uint8Array` of `[offset, offset + size)`. */
  slice(offset: number, size: number, field: string): Uint8Array {
    this.need(offset, size, field);
    return this.bytes.subarray(offset, offset + size);
  }

  /**
   * A NUL-terminated (or `max`-bounded) Latin-1 string starting at `offset`.
   * Reads at most `max` bytes; stops at the end of the view.
   */
  cstring(offset: number, max: number, field: string): string {
    this.need(offset, 0, field);
    const end = Math.min(this.bytes.length, offset + max);
    let s = "";
    for (let i = offset; i < end; i++) {
      const c = this.bytes[i] as number;
      if (c === 0) break;
      s += String.fromCharCode(c);
    }
    return s;
  }

  /** True when the bytes at `offset` equal `magic` (never throws). */
  matches(offset: number, magic: Uint8Array | string): boolean {
    const m = typeof magic === "string" ? ascii(magic) : magic;
    if (!this.has(offset, m.length)) return false;
    for (let i = 0; i < m.length; i++) if (this.bytes[offset + i] !== m[i]) return false;
    return true;
  }
}

/** Bytes of an ASCII string (each char code must be < 0x80). */
export function ascii(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0x7f;
  return out;
}

/** Lowercase hex of a byte array. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += (b < 16 ? "0" : "") + b.toString(16);
  return s;
}

/** `0x`-prefixed lowercase hex of a number or bigint. */
export function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

/**
 * Converts a `bigint` size or offset to a `number`, throwing `unsafe-integer`
 * when it does not fit exactly.
 */
export function toSafeNumber(v: bigint, field: string, layer: string, offset: number): number {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new KimageError("unsafe-integer", `${field} = ${hex(v)} does not fit a safe integer`, {
      layer,
      offset,
    });
  }
  return Number(v);
}

/** Rounds `n` up to a multiple of `align` (a power of two or any positive integer). */
export function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}
