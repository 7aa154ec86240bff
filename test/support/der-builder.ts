/**
 * A tiny deterministic DER writer for building synthetic ASN.1 structures in
 * tests. Every function returns a fresh `Uint8Array` holding one complete TLV
 * (or, for {@link concat}, several).
 *
 * It always produces DER (minimal lengths, minimal integers); use
 * {@link rawTlv} with an explicit length encoding to build deliberately bad
 * inputs.
 *
 * @module
 */

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The DER (minimal) length octets of `n`. */
export function derLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** A TLV with identifier octet(s) `tag` (a number < 256 or an array) and DER length. */
export function tlv(tag: number | number[], ...content: Uint8Array[]): Uint8Array {
  const body = concat(...content);
  const id = typeof tag === "number" ? Uint8Array.of(tag) : Uint8Array.from(tag);
  return concat(id, derLength(body.length), body);
}

/** A TLV with explicit identifier and length octets (for malformed inputs). */
export function rawTlv(id: number[], lengthOctets: number[], content: Uint8Array | number[] = []): Uint8Array {
  return concat(Uint8Array.from(id), Uint8Array.from(lengthOctets), Uint8Array.from(content));
}

/** SEQUENCE { ...items }. */
export function seq(...items: Uint8Array[]): Uint8Array {
  return tlv(0x30, ...items);
}

/** SET { ...items } in the given order (sort them yourself for DER SET OF). */
export function set(...items: Uint8Array[]): Uint8Array {
  return tlv(0x31, ...items);
}

/** SET OF { ...items } sorted by their encodings, as DER requires (X.690 11.6). */
export function setOf(...items: Uint8Array[]): Uint8Array {
  const sorted = [...items].sort((a, b) => {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
    return a.length - b.length;
  });
  return tlv(0x31, ...sorted);
}

/** `[n]` constructed (EXPLICIT, or IMPLICIT of a constructed type). */
export function ctx(n: number, ...items: Uint8Array[]): Uint8Array {
  return tlv(0xa0 | n, ...items);
}

/** `[n]` primitive (IMPLICIT of a primitive type) with raw content. */
export function ctxPrim(n: number, content: Uint8Array): Uint8Array {
  return tlv(0x80 | n, content);
}

/** Replaces the identifier octet of a single-byte-tag TLV (e.g. SET → `[0]` IMPLICIT). */
export function retag(encoded: Uint8Array, tag: number): Uint8Array {
  const out = Uint8Array.from(encoded);
  out[0] = tag;
  return out;
}

/** OBJECT IDENTIFIER from dotted form. */
export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map((s) => BigInt(s));
  const first = (arcs[0] ?? 0n) * 40n + (arcs[1] ?? 0n);
  const subs = [first, ...arcs.slice(2)];
  const out: number[] = [];
  for (const s of subs) {
    const chunk: number[] = [];
    let v = s;
    do {
      chunk.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i] = (chunk[i] as number) | 0x80;
    out.push(...chunk);
  }
  return tlv(0x06, Uint8Array.from(out));
}

/** INTEGER (minimal two's complement) from a number or bigint. */
export function int(value: number | bigint): Uint8Array {
  let v = BigInt(value);
  const bytes: number[] = [];
  if (v === 0n) bytes.push(0);
  else if (v > 0n) {
    while (v > 0n) {
      bytes.unshift(Number(v & 0xffn));
      v >>= 8n;
    }
    if (((bytes[0] as number) & 0x80) !== 0) bytes.unshift(0);
  } else {
    let n = 1;
    while (v < -(1n << BigInt(8 * n - 1))) n++;
    let u = v + (1n << BigInt(8 * n));
    for (let i = 0; i < n; i++) {
      bytes.unshift(Number(u & 0xffn));
      u >>= 8n;
    }
  }
  return tlv(0x02, Uint8Array.from(bytes));
}

/** INTEGER whose content octets are `bytes` verbatim. */
export function intBytes(bytes: Uint8Array): Uint8Array {
  return tlv(0x02, bytes);
}

/** OCTET STRING. */
export function octet(bytes: Uint8Array): Uint8Array {
  return tlv(0x04, bytes);
}

/** BIT STRING with `unused` unused bits. */
export function bitString(bytes: Uint8Array, unused = 0): Uint8Array {
  return tlv(0x03, Uint8Array.of(unused), bytes);
}

/** NULL. */
export function nul(): Uint8Array {
  return Uint8Array.of(0x05, 0x00);
}

/** BOOLEAN (DER: 0xff / 0x00). */
export function bool(v: boolean): Uint8Array {
  return Uint8Array.of(0x01, 0x01, v ? 0xff : 0x00);
}

/** UTF8String. */
export function utf8(s: string): Uint8Array {
  return tlv(0x0c, new TextEncoder().encode(s));
}

/** PrintableString (ASCII). */
export function printable(s: string): Uint8Array {
  return tlv(0x13, Uint8Array.from(s, (c) => c.charCodeAt(0)));
}

/** IA5String (ASCII). */
export function ia5(s: string): Uint8Array {
  return tlv(0x16, Uint8Array.from(s, (c) => c.charCodeAt(0)));
}

/** UTF-16BE bytes of a string (the content of a BMPString). */
export function utf16be(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    out[2 * i] = s.charCodeAt(i) >> 8;
    out[2 * i + 1] = s.charCodeAt(i) & 0xff;
  }
  return out;
}

/** ASCII bytes of a string (the content of an IA5String / PrintableString). */
export function asciiBytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0x7f);
}

/** BMPString (UTF-16BE). */
export function bmp(s: string): Uint8Array {
  return tlv(0x1e, utf16be(s));
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** UTCTime `YYMMDDHHMMSSZ` of a date (years 1950..2049). */
export function utcTime(d: Date): Uint8Array {
  const s =
    pad2(d.getUTCFullYear() % 100) +
    pad2(d.getUTCMonth() + 1) +
    pad2(d.getUTCDate()) +
    pad2(d.getUTCHours()) +
    pad2(d.getUTCMinutes()) +
    pad2(d.getUTCSeconds()) +
    "Z";
  return tlv(0x17, Uint8Array.from(s, (c) => c.charCodeAt(0)));
}

/** GeneralizedTime `YYYYMMDDHHMMSSZ` of a date. */
export function generalizedTime(d: Date): Uint8Array {
  const s =
    String(d.getUTCFullYear()).padStart(4, "0") +
    pad2(d.getUTCMonth() + 1) +
    pad2(d.getUTCDate()) +
    pad2(d.getUTCHours()) +
    pad2(d.getUTCMinutes()) +
    pad2(d.getUTCSeconds()) +
    "Z";
  return tlv(0x18, Uint8Array.from(s, (c) => c.charCodeAt(0)));
}

/** A time string with an explicit tag (0x17 UTCTime, 0x18 GeneralizedTime), verbatim. */
export function timeString(tag: 0x17 | 0x18, s: string): Uint8Array {
  return tlv(tag, Uint8Array.from(s, (c) => c.charCodeAt(0)));
}

/** AlgorithmIdentifier { algorithm, parameters } (parameters omitted when `null` is not wanted). */
export function algId(dotted: string, params: Uint8Array | null = nul()): Uint8Array {
  return params === null ? seq(oid(dotted)) : seq(oid(dotted), params);
}

/** A Name from `[oid, value]` pairs, one RDN each, values as UTF8String unless given as bytes. */
export function name(...rdns: [string, string | Uint8Array][]): Uint8Array {
  return seq(...rdns.map(([t, v]) => set(seq(oid(t), typeof v === "string" ? utf8(v) : v))));
}

/** Hex string to bytes. */
export function fromHex(h: string): Uint8Array {
  const clean = h.replace(/[^0-9a-fA-F]/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}
