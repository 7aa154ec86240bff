import { describe, it, expect } from "vitest";
import fc from "fast-check";
import {
  TAG,
  children,
  childrenCount,
  compareSetOfEncodings,
  ctxTag,
  isSetOfSorted,
  expect as expectTag,
  parseDer,
  readBitString,
  readBoolean,
  readInteger,
  readNull,
  readOctetString,
  readOid,
  readSmallInt,
  readString,
  readTime,
  readTlv,
  walkDer,
  type Tlv,
} from "../../src/asn1/der.js";
import { OID, digestNameOf, oidLabel, oidName, dnAttributeLabel } from "../../src/asn1/oids.js";
import { KimageError, type ErrorCode } from "../../src/core/errors.js";
import {
  bitString,
  bmp,
  bool,
  concat,
  ctx,
  generalizedTime,
  ia5,
  int,
  nul,
  octet,
  oid,
  printable,
  rawTlv,
  seq,
  set,
  timeString,
  tlv,
  utcTime,
  utf8,
} from "../support/der-builder.js";

/** Runs `fn` and returns the KimageError it throws (failing on anything else). */
function kerr(fn: () => unknown): KimageError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KimageError) return e;
    throw new Error(`expected a KimageError, got ${String(e)}`, { cause: e });
  }
  throw new Error("expected a KimageError, nothing was thrown");
}

function expectCode(fn: () => unknown, code: ErrorCode, offset?: number): KimageError {
  const e = kerr(fn);
  expect(e.code, e.message).toBe(code);
  expect(e.layer).toBe("pkcs7");
  if (offset !== undefined) expect(e.offset).toBe(offset);
  return e;
}

const b = (...xs: number[]): Uint8Array => Uint8Array.from(xs);

describe("readTlv", () => {
  it("decodes a short-form primitive with absolute offsets and zero-copy views", () => {
    const buf = b(0xff, 0xff, 0x04, 0x03, 1, 2, 3, 0xee);
    const t = readTlv(buf, 2, { base: 100 });
    expect(t.tag).toBe(0x04);
    expect(t.tagClass).toBe("universal");
    expect(t.constructed).toBe(false);
    expect(t.tagNumber).toBe(4);
    expect(t.headerLength).toBe(2);
    expect(t.length).toBe(3);
    expect(t.offset).toBe(102);
    expect(t.contentOffset).toBe(104);
    expect(t.end).toBe(107);
    expect([...t.content]).toEqual([1, 2, 3]);
    expect([...t.raw]).toEqual([0x04, 0x03, 1, 2, 3]);
    expect(t.content.buffer).toBe(buf.buffer);
    expect(t.content.byteOffset).toBe(4);
  });

  it("decodes long-form lengths (0x81, 0x82, 0x83)", () => {
    for (const n of [128, 255, 256, 65535, 65536]) {
      const enc = octet(new Uint8Array(n));
      const t = readTlv(enc, 0);
      expect(t.length).toBe(n);
      expect(t.end).toBe(enc.length);
      expect(t.headerLength).toBe(n < 256 ? 3 : n < 65536 ? 4 : 5);
    }
  });

  it("decodes tag classes and constructed bits", () => {
    expect(readTlv(b(0xa0, 0x00), 0).tagClass).toBe("context");
    expect(readTlv(b(0xa0, 0x00), 0).constructed).toBe(true);
    expect(readTlv(b(0x80, 0x00), 0).tagNumber).toBe(0);
    expect(readTlv(b(0x61, 0x00), 0).tagClass).toBe("application");
    expect(readTlv(b(0xc2, 0x00), 0).tagClass).toBe("private");
  });

  it("decodes multi-byte (high-tag-number) tags", () => {
    const t = readTlv(b(0x9f, 0x1f, 0x01, 0xaa), 0);
    expect(t.tagNumber).toBe(31);
    expect(t.tag).toBe(0x9f1f);
    expect(t.headerLength).toBe(3);
    const t2 = readTlv(b(0xbf, 0x81, 0x00, 0x00), 0);
    expect(t2.tagNumber).toBe(128);
    expect(t2.tag).toBe(0xbf8100);
    expect(t2.constructed).toBe(true);
  });

  it("rejects non-minimal and oversized tag numbers", () => {
    expectCode(() => readTlv(b(0x9f, 0x80, 0x01, 0x00), 0), "asn1-malformed"); // leading 0x80
    expectCode(() => readTlv(b(0x9f, 0x05, 0x00), 0), "asn1-malformed"); // high form for < 31
    expectCode(() => readTlv(b(0x9f, 0x81, 0x81, 0x81, 0x01, 0x00), 0), "limit");
    expectCode(() => readTlv(b(0x9f, 0x81), 0), "truncated");
  });

  it("rejects tag 0 (end-of-contents)", () => {
    expectCode(() => readTlv(b(0x00, 0x00), 0), "asn1-malformed");
  });

  it("rejects indefinite length as not DER", () => {
    expectCode(() => readTlv(b(0x30, 0x80, 0x02, 0x01, 0x00, 0x00, 0x00), 0, { base: 7 }), "asn1-not-der", 8);
  });

  it("rejects non-minimal lengths as not DER", () => {
    // long form for a value < 128
    expectCode(() => readTlv(rawTlv([0x04], [0x81, 0x01], [0xaa]), 0), "asn1-not-der", 1);
    // leading zero length octet
    expectCode(() => readTlv(b(0x04, 0x82, 0x00, 0x80, ...new Array(0x80).fill(0)), 0), "asn1-not-der");
    // two octets where one suffices
    expectCode(() => readTlv(concat(b(0x04, 0x82, 0x00, 0xff), new Uint8Array(0xff)), 0), "asn1-not-der");
  });

  it("rejects the reserved length octet 0xff", () => {
    expectCode(() => readTlv(b(0x04, 0xff, 0x00), 0), "asn1-malformed");
  });

  it("rejects lengths past the end with truncated", () => {
    expectCode(() => readTlv(b(0x04, 0x05, 1, 2), 0, { base: 16 }), "truncated", 16);
    expectCode(() => readTlv(b(0x04, 0x82, 0x01), 0), "truncated");
    expectCode(() => readTlv(b(0x04, 0x84, 0x7f, 0xff, 0xff, 0xff), 0), "truncated");
    expectCode(() => readTlv(b(0x04, 0x88, 1, 2, 3, 4, 5, 6, 7, 8), 0), "truncated");
    expectCode(() => readTlv(b(0x04, 0xfe, ...new Array(126).fill(1)), 0), "truncated");
    expectCode(() => readTlv(b(0x30), 0), "truncated");
    expectCode(() => readTlv(b(), 0), "truncated");
    expectCode(() => readTlv(b(0x30, 0x00), 2), "truncated");
    expectCode(() => readTlv(b(0x30, 0x00), -1), "truncated");
    expectCode(() => readTlv(b(0x30, 0x00), 0.5), "truncated");
  });

  it("enforces the depth limit on the TLV being read", () => {
    expectCode(() => readTlv(b(0x30, 0x00), 0, { depth: 65 }), "limit");
    expect(readTlv(b(0x30, 0x00), 0, { depth: 64 }).depth).toBe(64);
  });
});

describe("children / walkDer / parseDer", () => {
  it("iterates children with absolute offsets", () => {
    const enc = seq(int(1), octet(b(9, 9)), seq());
    const t = parseDer(enc, 1000);
    const k = children(t);
    expect(k.map((c) => c.tag)).toEqual([0x02, 0x04, 0x30]);
    expect(k[0]?.offset).toBe(1002);
    expect(k[1]?.offset).toBe(1005);
    expect(k[1]?.contentOffset).toBe(1007);
    expect(k[2]?.depth).toBe(1);
    expect(childrenCount(t, 3, 3, "x")).toHaveLength(3);
    expectCode(() => childrenCount(t, 1, 2, "x"), "asn1-malformed");
  });

  it("rejects a child running past its parent's content", () => {
    // SEQUENCE of length 3 holds a child claiming 5 bytes, though the buffer has them.
    const enc = b(0x30, 0x03, 0x04, 0x05, 1, 2, 3, 4, 5);
    const t = readTlv(enc, 0);
    expectCode(() => children(t), "asn1-malformed", 2);
  });

  it("rejects children() of a primitive", () => {
    expectCode(() => children(readTlv(octet(b(1)), 0)), "asn1-malformed");
  });

  it("limits the number of children", () => {
    const many = seq(...Array.from({ length: 20 }, () => nul()));
    expect(children(readTlv(many, 0, { maxChildren: 20 }))).toHaveLength(20);
    expectCode(() => children(readTlv(many, 0, { maxChildren: 19 })), "limit");
  });

  it("rejects trailing bytes after the outermost value", () => {
    const enc = concat(seq(int(5)), b(0));
    expectCode(() => parseDer(enc, 0x40), "asn1-trailing-bytes", 0x40 + 5);
  });

  it("throws limit (not a stack overflow) for 10000 nested SEQUENCEs", () => {
    const depth = 10_000;
    // Build the nesting bottom-up without recursion.
    let inner: Uint8Array = b();
    for (let i = 0; i < depth; i++) inner = tlv(0x30, inner);
    const e = expectCode(() => parseDer(inner), "limit");
    expect(e.message).toMatch(/nesting/);
    // Also bounded when walking from a readTlv result.
    expectCode(() => walkDer(readTlv(inner, 0)), "limit");
    // 64 levels are fine.
    let ok: Uint8Array = b();
    for (let i = 0; i < 65; i++) ok = tlv(0x30, ok);
    expect(walkDer(parseDer(ok, 0, { validate: false }))).toBe(65);
  });

  it("limits the total number of nodes", () => {
    const enc = seq(...Array.from({ length: 10 }, () => seq(nul(), nul())));
    expect(walkDer(parseDer(enc))).toBe(31);
    expectCode(() => parseDer(enc, 0, { maxNodes: 30 }), "limit");
  });

  it("walks in pre-order", () => {
    const seen: number[] = [];
    walkDer(parseDer(seq(int(1), set(bool(true), nul()), octet(b()))), { visit: (t) => seen.push(t.tag) });
    expect(seen).toEqual([0x30, 0x02, 0x31, 0x01, 0x05, 0x04]);
  });

  it("checks DER content rules deep in the tree", () => {
    expectCode(() => parseDer(seq(seq(b(0x02, 0x02, 0x00, 0x01)))), "asn1-not-der"); // non-minimal INTEGER
    expectCode(() => parseDer(seq(b(0x01, 0x01, 0x01))), "asn1-not-der"); // BOOLEAN 0x01
    expectCode(() => parseDer(seq(b(0x24, 0x03, 0x04, 0x01, 0xaa))), "asn1-not-der"); // constructed OCTET STRING
    expectCode(() => parseDer(seq(b(0x10, 0x00))), "asn1-malformed"); // primitive SEQUENCE
    expectCode(() => parseDer(seq(b(0x05, 0x01, 0x00))), "asn1-malformed"); // NULL with content
    expectCode(() => parseDer(seq(b(0x06, 0x02, 0x80, 0x01))), "asn1-malformed"); // bad OID
    expectCode(() => parseDer(seq(timeString(0x17, "2401010000Z"))), "asn1-not-der"); // UTCTime without seconds
    expectCode(() => parseDer(seq(b(0x03, 0x02, 0x01, 0x01))), "asn1-not-der"); // unused bit set
    expectCode(() => parseDer(seq(b(0x2c, 0x03, 0x0c, 0x01, 0x41))), "asn1-not-der"); // constructed UTF8String
    expectCode(() => parseDer(seq(set(int(2), int(1)))), "asn1-not-der"); // SET OF out of order
    expect(() => parseDer(set(int(1), int(1), int(2)))).not.toThrow(); // equal elements are fine
    // ...but only structure when asked.
    expect(walkDer(parseDer(seq(seq(b(0x02, 0x02, 0x00, 0x01))), 0, { validate: false }), { checkPrimitives: false })).toBe(3);
  });

  it("orders SET OF encodings as X.690 11.6 says (zero-padded comparison)", () => {
    expect(compareSetOfEncodings(b(1), b(1, 0))).toBe(0);
    expect(compareSetOfEncodings(b(1), b(1, 1))).toBeLessThan(0);
    expect(compareSetOfEncodings(b(2), b(1, 0xff))).toBeGreaterThan(0);
    expect(isSetOfSorted(children(parseDer(set(int(1), int(300)))))).toBe(true);
    expect(isSetOfSorted(children(parseDer(seq(int(300), int(1)))))).toBe(false);
  });

  it("expect() checks the tag with a chosen code", () => {
    const t = readTlv(seq(), 0, { base: 3 });
    expect(expectTag(t, TAG.SEQUENCE, "x")).toBe(t);
    expectCode(() => expectTag(t, TAG.SET, "thing"), "asn1-malformed", 3);
    expectCode(() => expectTag(t, TAG.SET, "thing", "pkcs7-unexpected"), "pkcs7-unexpected");
    expect(ctxTag(0, true)).toBe(0xa0);
    expect(ctxTag(1, false)).toBe(0x81);
  });
});

describe("readOid", () => {
  const cases = [
    "1.2.840.113549.1.7.2",
    "1.3.6.1.4.1.311.2.1.4",
    "2.16.840.1.101.3.4.2.1",
    "1.3.14.3.2.26",
    "0.9.2342.19200300.100.1.25",
    "2.5.4.3",
    "0.0",
    "1.39",
    "2.999.1",
    "2.25.329800735698586629295641978511506172918", // UUID arc > 2^53
  ];
  for (const dotted of cases) {
    it(`round-trips ${dotted}`, () => {
      expect(readOid(parseDer(oid(dotted)))).toBe(dotted);
    });
  }

  it("rejects malformed OIDs", () => {
    expectCode(() => readOid(parseDer(b(0x06, 0x00), 0, { validate: false })), "asn1-malformed"); // empty
    expectCode(() => readOid(parseDer(b(0x06, 0x02, 0x2a, 0x86), 0, { validate: false })), "asn1-malformed"); // truncated arc
    expectCode(() => readOid(parseDer(b(0x06, 0x03, 0x2a, 0x80, 0x01), 0, { validate: false })), "asn1-malformed"); // 0x80 pad
    expectCode(() => readOid(parseDer(b(0x06, 0x02, 0x80, 0x01), 0, { validate: false })), "asn1-malformed"); // 0x80 pad in first
    expectCode(() => readOid(parseDer(b(0x26, 0x01, 0x2a), 0, { validate: false })), "asn1-malformed"); // constructed
    expectCode(() => readOid(parseDer(int(1))), "asn1-malformed"); // wrong tag
    const long = tlv(0x06, new Uint8Array(200).fill(0x01));
    expectCode(() => readOid(parseDer(long, 0, { validate: false })), "limit");
  });
});

describe("oids", () => {
  it("names the OIDs it knows and only those", () => {
    expect(oidName(OID.signedData)).toBe("signedData");
    expect(oidName("1.3.6.1.4.1.311.2.1.4")).toBe("spcIndirectDataContent");
    expect(oidName("1.3.6.1.4.1.311.2.4.1")).toBe("nestedSignature");
    expect(oidName("1.2.3.4")).toBeUndefined();
    expect(oidLabel("1.2.3.4")).toBe("1.2.3.4");
    expect(digestNameOf(OID.sha256)).toBe("sha256");
    expect(digestNameOf(OID.sha1)).toBe("sha1");
    expect(digestNameOf(OID.sha256WithRSAEncryption)).toBeUndefined();
    expect(dnAttributeLabel(OID.commonName)).toBe("CN");
  });

  it("has unique, well-formed values that survive a DER round trip", () => {
    const values = Object.values(OID);
    expect(new Set(values).size).toBe(values.length);
    for (const v of values) expect(readOid(parseDer(oid(v)))).toBe(v);
  });
});

describe("readInteger / readSmallInt", () => {
  const values = [0n, 1n, 127n, 128n, 255n, 256n, -1n, -128n, -129n, 2n ** 64n + 5n, -(2n ** 70n)];
  for (const v of values) {
    it(`round-trips ${v}`, () => {
      const r = readInteger(parseDer(int(v)));
      expect(r.value).toBe(v);
    });
  }

  it("returns the raw content bytes", () => {
    const r = readInteger(parseDer(int(0x80)));
    expect([...r.bytes]).toEqual([0x00, 0x80]);
  });

  it("rejects non-minimal and empty integers", () => {
    expectCode(() => readInteger(parseDer(b(0x02, 0x02, 0x00, 0x7f), 0, { validate: false })), "asn1-not-der");
    expectCode(() => readInteger(parseDer(b(0x02, 0x02, 0xff, 0x80), 0, { validate: false })), "asn1-not-der");
    expectCode(() => readInteger(parseDer(b(0x02, 0x00), 0, { validate: false })), "asn1-malformed");
    expectCode(() => readInteger(parseDer(octet(b(1)))), "asn1-malformed");
  });

  it("bounds integer size", () => {
    const big = int(2n ** 8000n);
    expectCode(() => readInteger(parseDer(big, 0, { maxIntegerBytes: 100 })), "limit");
    expect(readSmallInt(parseDer(int(3)))).toBe(3);
    expectCode(() => readSmallInt(parseDer(int(2n ** 60n))), "limit");
  });
});

describe("readTime", () => {
  it("reads UTCTime with the RFC 5280 century rule", () => {
    expect(readTime(parseDer(timeString(0x17, "491231235959Z"))).toISOString()).toBe("2049-12-31T23:59:59.000Z");
    expect(readTime(parseDer(timeString(0x17, "500101000000Z"))).toISOString()).toBe("1950-01-01T00:00:00.000Z");
    const d = new Date(Date.UTC(2022, 1, 28, 12, 34, 56));
    expect(readTime(parseDer(utcTime(d))).getTime()).toBe(d.getTime());
  });

  it("reads GeneralizedTime, with DER fractions", () => {
    const d = new Date(Date.UTC(2099, 11, 31, 1, 2, 3));
    expect(readTime(parseDer(generalizedTime(d))).getTime()).toBe(d.getTime());
    expect(readTime(parseDer(timeString(0x18, "20240229120000.5Z"))).toISOString()).toBe("2024-02-29T12:00:00.500Z");
    expect(readTime(parseDer(timeString(0x18, "00010101000000Z"))).toISOString()).toBe("0001-01-01T00:00:00.000Z");
  });

  it("rejects BER-only forms as not DER", () => {
    for (const s of ["2401010000Z", "240101000000+0100", "240101000000-0000"]) {
      expectCode(() => readTime(parseDer(timeString(0x17, s), 0, { validate: false })), "asn1-not-der");
    }
    for (const s of ["20240101000000", "20240101000000.50Z", "20240101000000,5Z", "202401010000Z", "20240101000000+0000", "20240101000000.Z"]) {
      const code = s.endsWith(".Z") ? "asn1-malformed" : "asn1-not-der";
      expectCode(() => readTime(parseDer(timeString(0x18, s), 0, { validate: false })), code);
    }
  });

  it("rejects invalid dates and garbage", () => {
    for (const s of ["241301000000Z", "240230000000Z", "230229000000Z", "240101240000Z", "240101006000Z", "240101000060Z", "24010100000aZ", "", "Z"]) {
      expectCode(() => readTime(parseDer(timeString(0x17, s), 0, { validate: false })), "asn1-malformed");
    }
    expectCode(() => readTime(parseDer(int(1))), "asn1-malformed");
    expectCode(() => readTime(parseDer(timeString(0x18, "2".repeat(100) + "Z"), 0, { validate: false })), "asn1-malformed");
  });
});

describe("readString and other primitives", () => {
  it("decodes the string types", () => {
    expect(readString(parseDer(utf8("Grüße ✓")))).toBe("Grüße ✓");
    expect(readString(parseDer(printable("Debian")))).toBe("Debian");
    expect(readString(parseDer(ia5("a@b.c")))).toBe("a@b.c");
    expect(readString(parseDer(bmp("Ω ok")))).toBe("Ω ok");
    expect(readString(parseDer(tlv(0x14, b(0x41, 0xe9))))).toBe("Aé"); // T61 as Latin-1
    expect(readString(parseDer(tlv(0x1c, b(0, 1, 0xf6, 0x00))))).toBe("\u{1f600}");
  });

  it("rejects bad string content", () => {
    expectCode(() => readString(parseDer(tlv(0x0c, b(0xc3, 0x28)))), "asn1-malformed"); // bad UTF-8
    expectCode(() => readString(parseDer(tlv(0x13, b(0x41, 0xe9)))), "asn1-malformed"); // 8-bit Printable
    expectCode(() => readString(parseDer(tlv(0x1e, b(0, 0x41, 0)))), "asn1-malformed"); // odd BMP
    expectCode(() => readString(parseDer(tlv(0x1c, b(0, 0x11, 0, 0)))), "asn1-malformed"); // > U+10FFFF
    expectCode(() => readString(parseDer(tlv(0x2c, utf8("x")), 0, { validate: false })), "asn1-not-der");
    expectCode(() => readString(parseDer(int(5))), "asn1-malformed");
  });

  it("reads BOOLEAN, NULL, OCTET STRING, BIT STRING", () => {
    expect(readBoolean(parseDer(bool(true)))).toBe(true);
    expect(readBoolean(parseDer(bool(false)))).toBe(false);
    expectCode(() => readBoolean(parseDer(b(0x01, 0x02, 0, 0), 0, { validate: false })), "asn1-malformed");
    expect(readNull(parseDer(nul()))).toBeNull();
    expect([...readOctetString(parseDer(octet(b(1, 2))))]).toEqual([1, 2]);
    const bs = readBitString(parseDer(bitString(b(0xf0), 4)));
    expect(bs.unusedBits).toBe(4);
    expect([...bs.bytes]).toEqual([0xf0]);
    expectCode(() => readBitString(parseDer(b(0x03, 0x00), 0, { validate: false })), "asn1-malformed");
    expectCode(() => readBitString(parseDer(b(0x03, 0x01, 0x01), 0, { validate: false })), "asn1-malformed");
    expectCode(() => readBitString(parseDer(b(0x03, 0x02, 0x08, 0x00), 0, { validate: false })), "asn1-malformed");
  });
});

describe("mutations of a valid structure", () => {
  const sample = seq(
    oid("1.2.840.113549.1.7.2"),
    ctx(0, seq(int(1), set(seq(oid(OID.sha256), nul())), octet(new Uint8Array(40).fill(7)))),
    utf8("hello"),
    utcTime(new Date(Date.UTC(2024, 0, 2, 3, 4, 5))),
  );

  /** Reads everything reachable, like a consumer would. */
  function consume(bytes: Uint8Array): void {
    const root = parseDer(bytes, 0x1000);
    walkDer(root, {
      visit: (t: Tlv) => {
        if (t.tag === TAG.OID) readOid(t);
        else if (t.tag === TAG.INTEGER) readInteger(t);
        else if (t.tag === TAG.UTF8_STRING) readString(t);
        else if (t.tag === TAG.UTC_TIME) readTime(t);
      },
    });
  }

  it("the sample is valid", () => {
    expect(() => consume(sample)).not.toThrow();
  });

  it("every single-byte change and every truncation fails only with KimageError", () => {
    for (let i = 0; i < sample.length; i++) {
      for (const v of [0x00, 0x01, 0x7f, 0x80, 0x81, 0x82, 0xff, (sample[i] as number) ^ 0x20]) {
        const m = Uint8Array.from(sample);
        m[i] = v;
        try {
          consume(m);
        } catch (e) {
          expect(e).toBeInstanceOf(KimageError);
        }
      }
      try {
        consume(sample.subarray(0, i));
      } catch (e) {
        expect(e).toBeInstanceOf(KimageError);
        expect((e as KimageError).code).toMatch(/^(truncated|asn1-malformed|asn1-trailing-bytes)$/);
      }
    }
  });

  it("long-form length on a small value is caught wherever it is", () => {
    // Re-encode the utf8("hello") length as 0x81 0x05.
    const idx = sample.indexOf(0x0c);
    const m = concat(sample.subarray(0, idx + 1), b(0x81), sample.subarray(idx + 1));
    m[1] = (m[1] as number) + 1; // keep the outer length consistent
    expectCode(() => consume(m), "asn1-not-der", 0x1000 + idx + 1);
  });
});

describe("property: arbitrary bytes", () => {
  it("never throw anything but KimageError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat({ max: 1 << 20 }), (bytes, base) => {
        try {
          const t = readTlv(bytes, 0, { base });
          walkDer(t, {
            visit: (x) => {
              for (const f of [readOid, readInteger, readTime, readString, readBoolean, readOctetString, readBitString, readNull]) {
                try {
                  f(x);
                } catch (e) {
                  if (!(e instanceof KimageError)) throw e;
                }
              }
            },
          });
          parseDer(bytes, base);
        } catch (e) {
          if (!(e instanceof KimageError)) throw e;
          expect(e.offset).toBeGreaterThanOrEqual(-1);
        }
      }),
      { numRuns: 3000, seed: 0x6b696d },
    );
  });

  it("structured random trees parse and walk", () => {
    const leaf = fc.oneof(
      fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(int),
      fc.uint8Array({ maxLength: 40 }).map(octet),
      fc.string({ maxLength: 20 }).map(utf8),
      fc.constant(nul()),
    );
    const tree = fc.letrec<{ node: Uint8Array }>((tie) => ({
      node: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        leaf,
        fc.array(tie("node"), { maxLength: 5 }).map((xs) => seq(...xs)),
        fc.array(tie("node"), { maxLength: 5 }).map((xs) => ctx(0, ...xs)),
      ),
    })).node;
    fc.assert(
      fc.property(tree, (enc) => {
        const t = parseDer(enc, 5);
        expect(t.end).toBe(5 + enc.length);
      }),
      { numRuns: 500, seed: 42 },
    );
  });
});
