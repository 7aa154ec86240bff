/**
 * A small, strict DER encoder (ITU-T X.690 Distinguished Encoding Rules),
 * the writing counterpart of `der.ts`.
 *
 * Every function returns a fresh `Uint8Array` holding exactly one complete
 * TLV, always in DER form:
 *
 * - lengths in the shortest form (X.690 10.1), up to 2^48 - 1 bytes;
 * - INTEGERs in the fewest octets of two's complement (X.690 8.3.2);
 * - SET OF components sorted by their encodings (X.690 11.6) by
 *   {@link derSet};
 * - BIT STRINGs with zero unused bits (X.690 11.2.1);
 * - UTCTime / GeneralizedTime in `YYMMDDHHMMSSZ` / `YYYYMMDDHHMMSSZ` form
 *   (X.690 11.7, 11.8);
 * - strings in the primitive form, checked against their character sets.
 *
 * An argument that cannot be encoded (an unparsable OID, a non-printable
 * character in a PrintableString, a date out of range...) throws
 * {@link KimageError} `bad-argument` with layer `"asn1"`; nothing is ever
 * silently changed.
 *
 * @module
 */

import { KimageError } from "../core/errors.js";
import { compareSetOfEncodings, readTlv } from "./der.js";

const LAYER = "asn1";

function bad(message: string): never {
  throw new KimageError("bad-argument", message, { layer: LAYER, offset: -1 });
}

/** Concatenates byte arrays into one new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The DER length octets of a content length `n` (X.690 8.1.3, 10.1): one
 * octet below 128, else `0x80 | k` followed by the k big-endian octets of `n`
 * with no leading zero.
 *
 * @throws KimageError `bad-argument` when `n` is not a safe non-negative integer.
 */
export function derLength(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) bad(`DER length ${n} is not a non-negative safe integer`);
  if (n < 0x80) return Uint8Array.of(n);
  const octets: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) octets.unshift(v % 256);
  return Uint8Array.of(0x80 | octets.length, ...octets);
}

/**
 * A TLV with the single identifier octet `tag` (class, constructed bit and a
 * tag number below 31) and the concatenation of `content` as its content.
 *
 * @throws KimageError `bad-argument` for a tag that needs the high-tag-number
 *   form, or for universal tag 0.
 */
export function derTlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) {
    bad(`DER identifier 0x${tag.toString(16)} is not a single-octet tag`);
  }
  if (tag === 0 || tag === 0x20) bad("DER tag 0 (end-of-contents) cannot be written");
  let n = 0;
  for (const c of content) n += c.length;
  const len = derLength(n);
  const out = new Uint8Array(1 + len.length + n);
  out[0] = tag;
  out.set(len, 1);
  let at = 1 + len.length;
  for (const c of content) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** `SEQUENCE { items }`, in the given order. */
export function derSequence(...items: Uint8Array[]): Uint8Array {
  return derTlv(0x30, ...items);
}

/**
 * `SET OF { items }` with the components sorted by their encodings, as DER
 * requires (X.690 11.6: compared as octet strings, the shorter padded with
 * trailing zeros). The caller's array is not reordered.
 */
export function derSet(...items: Uint8Array[]): Uint8Array {
  return derTlv(0x31, ...sortSetOf(items));
}

/** The encodings `items` in DER SET OF order (a new array; stable for equal encodings). */
export function sortSetOf(items: readonly Uint8Array[]): Uint8Array[] {
  return [...items].sort(compareSetOfEncodings);
}

/**
 * `OBJECT IDENTIFIER` from dotted-decimal form (X.690 8.19): the first two
 * arcs are combined as `40 * X + Y`, each subidentifier in base 128 with no
 * leading 0x80 octet. Arcs of any size are accepted.
 *
 * @throws KimageError `bad-argument` unless the OID has at least two arcs,
 *   the first is 0, 1 or 2, and the second is below 40 when the first is 0 or 1.
 */
export function derOid(dotted: string): Uint8Array {
  if (!/^\d+(\.\d+)+$/.test(dotted)) bad(`${JSON.stringify(dotted)} is not a dotted-decimal OID with at least two arcs`);
  const arcs = dotted.split(".").map((s) => BigInt(s));
  const [a0, a1] = arcs as [bigint, bigint];
  if (a0 > 2n || (a0 < 2n && a1 >= 40n)) bad(`OID ${dotted}: invalid first arcs ${a0}.${a1}`);
  const subs = [a0 * 40n + a1, ...arcs.slice(2)];
  const out: number[] = [];
  for (const s of subs) {
    const chunk: number[] = [];
    let v = s;
    do {
      chunk.unshift(Number(v & 0x7fn) | (chunk.length > 0 ? 0x80 : 0));
      v >>= 7n;
    } while (v > 0n);
    out.push(...chunk);
  }
  return derTlv(0x06, Uint8Array.from(out));
}

/**
 * `INTEGER` in its minimal two's-complement form (X.690 8.3.2).
 *
 * - a `bigint` or safe-integer `number` is encoded as a signed value;
 * - a `Uint8Array` is read as an **unsigned** big-endian magnitude (a
 *   certificate serial number, an RSA modulus, ECDSA r and s): leading zero
 *   octets are dropped and one 0x00 is prepended when the high bit is set, so
 *   the value stays positive. An empty array is 0.
 *
 * @throws KimageError `bad-argument` for a non-integer `number`.
 */
export function derInteger(value: bigint | number | Uint8Array): Uint8Array {
  if (value instanceof Uint8Array) {
    let i = 0;
    while (i < value.length - 1 && value[i] === 0) i++;
    const mag = value.subarray(i);
    if (mag.length === 0) return Uint8Array.of(0x02, 0x01, 0x00);
    return (mag[0] as number) & 0x80 ? derTlv(0x02, Uint8Array.of(0), mag) : derTlv(0x02, mag);
  }
  if (typeof value === "number" && !Number.isSafeInteger(value)) bad(`INTEGER ${value} is not a safe integer`);
  const v = BigInt(value);
  // Fewest octets n with -2^(8n-1) <= v < 2^(8n-1).
  let n = 1;
  while (v >= 1n << BigInt(8 * n - 1) || v < -(1n << BigInt(8 * n - 1))) n++;
  let u = BigInt.asUintN(8 * n, v);
  const out = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(u & 0xffn);
    u >>= 8n;
  }
  return derTlv(0x02, out);
}

/** `BOOLEAN` (DER: 0xff for TRUE, 0x00 for FALSE). */
export function derBoolean(value: boolean): Uint8Array {
  return Uint8Array.of(0x01, 0x01, value ? 0xff : 0x00);
}

/** `NULL`. */
export function derNull(): Uint8Array {
  return Uint8Array.of(0x05, 0x00);
}

/** `OCTET STRING` (primitive). */
export function derOctetString(bytes: Uint8Array): Uint8Array {
  return derTlv(0x04, bytes);
}

/**
 * `BIT STRING` (primitive) of `bytes` with `unusedBits` unused bits in the
 * last octet.
 *
 * @throws KimageError `bad-argument` when `unusedBits` is not 0..7, is
 *   non-zero for an empty string, or the unused bits are not zero (DER).
 */
export function derBitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7) bad(`BIT STRING unused-bit count ${unusedBits} is not 0..7`);
  if (bytes.length === 0 && unusedBits !== 0) bad("an empty BIT STRING has no unused bits");
  if (unusedBits !== 0 && ((bytes[bytes.length - 1] as number) & ((1 << unusedBits) - 1)) !== 0) {
    bad("the unused bits of a DER BIT STRING must be zero");
  }
  return derTlv(0x03, Uint8Array.of(unusedBits), bytes);
}

function checkContextNumber(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > 30) bad(`context tag number ${n} is not 0..30`);
}

/** `[n] EXPLICIT`: a constructed context-specific TLV wrapping `items` (n 0..30). */
export function derExplicit(n: number, ...items: Uint8Array[]): Uint8Array {
  checkContextNumber(n);
  return derTlv(0xa0 | n, ...items);
}

/**
 * `[n] IMPLICIT`: `encoded` (one complete TLV with a single-octet tag) with
 * its identifier replaced by context tag `[n]`, keeping its constructed bit;
 * e.g. `derImplicit(0, derSet(...))` is the `[0] IMPLICIT SET OF` of CMS
 * signed attributes (tag 0xa0).
 *
 * @throws KimageError `bad-argument` when `encoded` is not exactly one TLV.
 */
export function derImplicit(n: number, encoded: Uint8Array): Uint8Array {
  checkContextNumber(n);
  derRaw(encoded);
  const out = Uint8Array.from(encoded);
  out[0] = 0x80 | ((encoded[0] as number) & 0x20) | n;
  return out;
}

/** A primitive context-specific `[n]` TLV with the raw `content` octets (n 0..30). */
export function derContextPrimitive(n: number, content: Uint8Array): Uint8Array {
  checkContextNumber(n);
  return derTlv(0x80 | n, content);
}

let utf8: TextEncoder | undefined;

/** `UTF8String` (the string must not hold lone surrogates). */
export function derUtf8String(s: string): Uint8Array {
  if (/\p{Cs}/u.test(s)) bad("UTF8String holds a lone surrogate");
  utf8 ??= new TextEncoder();
  return derTlv(0x0c, utf8.encode(s));
}

/** The characters of PrintableString (X.680 41.4). */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/**
 * `PrintableString`.
 *
 * @throws KimageError `bad-argument` for characters outside
 *   `A-Z a-z 0-9 space ' ( ) + , - . / : = ?`.
 */
export function derPrintableString(s: string): Uint8Array {
  if (!PRINTABLE.test(s)) bad(`${JSON.stringify(s)} holds characters PrintableString cannot carry`);
  return derTlv(0x13, latin1(s));
}

/**
 * `IA5String` (7-bit ASCII).
 *
 * @throws KimageError `bad-argument` for a character above U+007F.
 */
export function derIa5String(s: string): Uint8Array {
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]*$/.test(s)) bad(`${JSON.stringify(s)} holds characters IA5String cannot carry`);
  return derTlv(0x16, latin1(s));
}

/**
 * The UTF-16BE code units of `s` (the content of a BMPString; characters
 * beyond U+FFFF become surrogate pairs, as Windows writes them).
 */
export function bmpBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[2 * i] = c >> 8;
    out[2 * i + 1] = c & 0xff;
  }
  return out;
}

/** `BMPString`: UTF-16BE code units (see {@link bmpBytes}). */
export function derBmpString(s: string): Uint8Array {
  return derTlv(0x1e, bmpBytes(s));
}

function latin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

function checkDate(d: Date, what: string): void {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) bad(`${what}: not a valid Date`);
}

/**
 * `UTCTime` as `YYMMDDHHMMSSZ` (X.690 11.8; milliseconds are dropped).
 *
 * @throws KimageError `bad-argument` for an invalid date or a year outside
 *   1950..2049 (RFC 5280 4.1.2.5.1: those years use GeneralizedTime).
 */
export function derUtcTime(d: Date): Uint8Array {
  checkDate(d, "UTCTime");
  const y = d.getUTCFullYear();
  if (y < 1950 || y > 2049) bad(`UTCTime cannot carry the year ${y} (1950..2049 only)`);
  const text =
    pad(y % 100, 2) +
    pad(d.getUTCMonth() + 1, 2) +
    pad(d.getUTCDate(), 2) +
    pad(d.getUTCHours(), 2) +
    pad(d.getUTCMinutes(), 2) +
    pad(d.getUTCSeconds(), 2) +
    "Z";
  return derTlv(0x17, latin1(text));
}

/**
 * `GeneralizedTime` as `YYYYMMDDHHMMSSZ` (X.690 11.7). By default the
 * milliseconds are dropped (RFC 5280 4.1.2.5.2 forbids fractional seconds);
 * with `fractional` they are written as `.f` without trailing zeros, which
 * DER also allows.
 *
 * @throws KimageError `bad-argument` for an invalid date or a year outside 0..9999.
 */
export function derGeneralizedTime(d: Date, fractional = false): Uint8Array {
  checkDate(d, "GeneralizedTime");
  const y = d.getUTCFullYear();
  if (y < 0 || y > 9999) bad(`GeneralizedTime cannot carry the year ${y}`);
  let text =
    pad(y, 4) +
    pad(d.getUTCMonth() + 1, 2) +
    pad(d.getUTCDate(), 2) +
    pad(d.getUTCHours(), 2) +
    pad(d.getUTCMinutes(), 2) +
    pad(d.getUTCSeconds(), 2);
  const ms = d.getUTCMilliseconds();
  if (fractional && ms !== 0) text += `.${pad(ms, 3).replace(/0+$/, "")}`;
  return derTlv(0x18, latin1(`${text}Z`));
}

/**
 * A `Time` as RFC 5652 (11.3, signingTime) and RFC 5280 (4.1.2.5) require:
 * UTCTime for the years 1950..2049, GeneralizedTime otherwise.
 */
export function derTime(d: Date): Uint8Array {
  checkDate(d, "Time");
  const y = d.getUTCFullYear();
  return y >= 1950 && y <= 2049 ? derUtcTime(d) : derGeneralizedTime(d);
}

/**
 * Passes an already-encoded value through unchanged (e.g. a certificate or
 * a Name copied from another structure), after checking that it is exactly
 * one TLV with a well-formed DER header. Its content is not re-checked.
 *
 * @throws KimageError `bad-argument` when `encoded` is not exactly one TLV.
 */
export function derRaw(encoded: Uint8Array): Uint8Array {
  let end: number;
  try {
    end = readTlv(encoded, 0).raw.length;
  } catch (e) {
    if (e instanceof KimageError) bad(`raw DER value is not one well-formed TLV: ${e.message}`);
    throw e;
  }
  if (end !== encoded.length) bad(`raw DER value has ${encoded.length - end} byte(s) after its TLV`);
  return encoded;
}
