// The DER writer, checked against the strict reader (src/asn1/der.ts) and the
// independent test-side builder (test/support/der-builder.ts).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  concatBytes,
  derBitString,
  derBmpString,
  derBoolean,
  derContextPrimitive,
  derExplicit,
  derGeneralizedTime,
  derIa5String,
  derImplicit,
  derInteger,
  derLength,
  derNull,
  derOctetString,
  derOid,
  derPrintableString,
  derRaw,
  derSequence,
  derSet,
  derTime,
  derTlv,
  derUtcTime,
  derUtf8String,
  sortSetOf,
} from "../../src/asn1/der-writer.js";
import {
  children,
  isSetOfSorted,
  parseDer,
  readBitString,
  readBoolean,
  readInteger,
  readNull,
  readOctetString,
  readOid,
  readString,
  readTime,
  walkDer,
} from "../../src/asn1/der.js";
import { isKimageError } from "../../src/core/errors.js";
import * as ref from "../support/der-builder.js";

const bad = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return isKimageError(e, "bad-argument");
  }
  return false;
};

describe("lengths", () => {
  for (const len of [0, 1, 127, 128, 255, 256, 65535, 65536, 0x1000000]) {
    it(`content of ${len} bytes`, () => {
      const enc = derOctetString(new Uint8Array(len));
      const t = parseDer(enc);
      expect(t.length).toBe(len);
      expect(t.headerLength).toBe(1 + derLength(len).length);
      expect(readOctetString(t).length).toBe(len);
      expect(derLength(len)).toEqual(ref.derLength(len));
    });
  }
  it("length octets are minimal", () => {
    expect([...derLength(127)]).toEqual([0x7f]);
    expect([...derLength(128)]).toEqual([0x81, 0x80]);
    expect([...derLength(256)]).toEqual([0x82, 0x01, 0x00]);
    expect([...derLength(65536)]).toEqual([0x83, 0x01, 0x00, 0x00]);
    expect(bad(() => derLength(-1))).toBe(true);
    expect(bad(() => derLength(1.5))).toBe(true);
  });
});

describe("INTEGER", () => {
  const cases: [bigint | number, string][] = [
    [0, "020100"],
    [127, "02017f"],
    [128, "02020080"],
    [255, "020200ff"],
    [256, "02020100"],
    [-1, "0201ff"],
    [-128, "020180"],
    [-129, "0202ff7f"],
    [2n ** 64n, "0209010000000000000000"],
    [-(2n ** 64n), "0209ff0000000000000000"],
  ];
  for (const [v, hex] of cases) {
    it(`${v}`, () => {
      const enc = derInteger(v);
      expect(Buffer.from(enc).toString("hex")).toBe(hex);
      expect(readInteger(parseDer(enc)).value).toBe(BigInt(v));
    });
  }
  it("bytes are an unsigned magnitude: high bit gets 0x00, leading zeros are dropped", () => {
    expect(Buffer.from(derInteger(Uint8Array.of(0x80, 0x01))).toString("hex")).toBe("0203008001");
    expect(Buffer.from(derInteger(Uint8Array.of(0, 0, 0x7f))).toString("hex")).toBe("02017f");
    expect(Buffer.from(derInteger(Uint8Array.of(0, 0, 0x80))).toString("hex")).toBe("02020080");
    expect(Buffer.from(derInteger(new Uint8Array(0))).toString("hex")).toBe("020100");
    expect(Buffer.from(derInteger(new Uint8Array(3))).toString("hex")).toBe("020100");
    // A 20-byte certificate serial with the high bit set.
    const serial = Uint8Array.from({ length: 20 }, (_, i) => 0xff - i);
    const t = parseDer(derInteger(serial));
    expect(t.length).toBe(21);
    expect(readInteger(t).value).toBe(BigInt(`0x${Buffer.from(serial).toString("hex")}`));
  });
  it("round-trips any bigint and matches the reference builder", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 300n), max: 2n ** 300n }), (v) => {
        const enc = derInteger(v);
        expect(readInteger(parseDer(enc)).value).toBe(v);
        expect(enc).toEqual(ref.int(v));
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
        const v = b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString("hex")}`);
        expect(readInteger(parseDer(derInteger(b))).value).toBe(v);
      }),
      { numRuns: 300 },
    );
  });
  it("refuses unsafe numbers", () => {
    expect(bad(() => derInteger(2 ** 60))).toBe(true);
    expect(bad(() => derInteger(0.5))).toBe(true);
  });
});

describe("OBJECT IDENTIFIER", () => {
  for (const oid of ["1.2.840.113549.1.7.2", "2.16.840.1.101.3.4.2.1", "1.3.6.1.4.1.311.2.1.4", "0.9.2342.19200300.100.1.25", "2.999.3", "2.25.329800735698586629295641978511506172918", "1.39", "0.0"]) {
    it(oid, () => {
      const enc = derOid(oid);
      expect(readOid(parseDer(enc))).toBe(oid);
      expect(enc).toEqual(ref.oid(oid));
    });
  }
  it("refuses malformed OIDs", () => {
    for (const o of ["", "1", "1.", ".1.2", "3.1", "1.40", "0.40", "1.2.x", "1..2"]) expect(bad(() => derOid(o)), o).toBe(true);
  });
});

describe("SET OF", () => {
  it("sorts by encoding, shorter-is-zero-padded (X.690 11.6), without reordering the input", () => {
    const a = derOctetString(Uint8Array.of(2));
    const b = derOctetString(Uint8Array.of(1, 0xff));
    const c = derInteger(5);
    const d = derSequence();
    const items = [d, a, b, c];
    const enc = derSet(...items);
    expect(items[0]).toBe(d);
    const kids = children(parseDer(enc)).map((k) => Buffer.from(k.raw).toString("hex"));
    expect(kids).toEqual(["020105", "040102", "040201ff", "3000"]);
    expect(isSetOfSorted(children(parseDer(enc)))).toBe(true);
    expect(enc).toEqual(ref.setOf(...items));
  });
  it("any SET of random values walks as DER", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }), (vals) => {
        const enc = derSet(...vals.map((v) => derOctetString(v)));
        const t = parseDer(enc);
        walkDer(t);
        expect(isSetOfSorted(children(t))).toBe(true);
        expect(sortSetOf(children(t).map((k) => k.raw))).toEqual(children(t).map((k) => k.raw));
      }),
      { numRuns: 200 },
    );
  });
});

describe("other types", () => {
  it("BOOLEAN, NULL, OCTET STRING, BIT STRING", () => {
    expect(readBoolean(parseDer(derBoolean(true)))).toBe(true);
    expect(readBoolean(parseDer(derBoolean(false)))).toBe(false);
    expect(readNull(parseDer(derNull()))).toBeNull();
    expect(readOctetString(parseDer(derOctetString(Uint8Array.of(1, 2))))).toEqual(Uint8Array.of(1, 2));
    const bs = readBitString(parseDer(derBitString(Uint8Array.of(0xa0), 5)));
    expect(bs).toEqual({ unusedBits: 5, bytes: Uint8Array.of(0xa0) });
    expect([...derBitString(new Uint8Array(0))]).toEqual([3, 1, 0]);
    expect(bad(() => derBitString(Uint8Array.of(0xa1), 5))).toBe(true);
    expect(bad(() => derBitString(new Uint8Array(0), 1))).toBe(true);
    expect(bad(() => derBitString(Uint8Array.of(0), 8))).toBe(true);
  });

  it("strings", () => {
    expect(readString(parseDer(derUtf8String("Grüße ✓ 𝄞")))).toBe("Grüße ✓ 𝄞");
    expect(readString(parseDer(derPrintableString("Test CA (1), Inc.")))).toBe("Test CA (1), Inc.");
    expect(readString(parseDer(derIa5String("https://x.invalid/?a=b")))).toBe("https://x.invalid/?a=b");
    expect(readString(parseDer(derBmpString("<<<Obsolete>>> ✓")))).toBe("<<<Obsolete>>> ✓");
    expect(bad(() => derPrintableString("a@b"))).toBe(true);
    expect(bad(() => derPrintableString("*"))).toBe(true);
    expect(bad(() => derIa5String("é"))).toBe(true);
    expect(bad(() => derUtf8String("\ud800"))).toBe(true);
  });

  it("times", () => {
    const d = new Date(Date.UTC(2026, 10, 22, 3, 21, 49, 250));
    expect(new TextDecoder().decode(parseDer(derUtcTime(d)).content)).toBe("261122032149Z");
    expect(readTime(parseDer(derUtcTime(d))).getTime()).toBe(d.getTime() - 250);
    expect(new TextDecoder().decode(parseDer(derGeneralizedTime(d)).content)).toBe("20261122032149Z");
    expect(new TextDecoder().decode(parseDer(derGeneralizedTime(d, true)).content)).toBe("20261122032149.25Z");
    expect(readTime(parseDer(derGeneralizedTime(d, true))).getTime()).toBe(d.getTime());
    expect(parseDer(derTime(new Date(Date.UTC(2049, 11, 31, 23, 59, 59)))).tag).toBe(0x17);
    expect(parseDer(derTime(new Date(Date.UTC(2050, 0, 1)))).tag).toBe(0x18);
    expect(parseDer(derTime(new Date(Date.UTC(1949, 11, 31)))).tag).toBe(0x18);
    expect(bad(() => derUtcTime(new Date(Date.UTC(2050, 0, 1))))).toBe(true);
    expect(bad(() => derTime(new Date(NaN)))).toBe(true);
    fc.assert(
      fc.property(fc.date({ min: new Date(Date.UTC(1950, 0, 1)), max: new Date(Date.UTC(9999, 11, 31)), noInvalidDate: true }), (t) => {
        const whole = Math.floor(t.getTime() / 1000) * 1000;
        expect(readTime(parseDer(derTime(t))).getTime()).toBe(whole);
        expect(readTime(parseDer(derGeneralizedTime(t, true))).getTime()).toBe(t.getTime());
      }),
      { numRuns: 300 },
    );
  });

  it("context tags, raw passthrough, tag checks", () => {
    const set = derSet(derInteger(2), derInteger(1));
    const imp = derImplicit(0, set);
    expect(imp[0]).toBe(0xa0);
    expect(imp.subarray(1)).toEqual(set.subarray(1));
    expect(derImplicit(1, derIa5String("x"))[0]).toBe(0x81);
    expect(Buffer.from(derExplicit(2, derNull())).toString("hex")).toBe("a2020500");
    expect(Buffer.from(derContextPrimitive(0, Uint8Array.of(0, 0x3c))).toString("hex")).toBe("8002003c");
    expect(derRaw(set)).toBe(set);
    expect(bad(() => derRaw(concatBytes([set, Uint8Array.of(0)])))).toBe(true);
    expect(bad(() => derRaw(Uint8Array.of(0x30, 0x80, 0, 0)))).toBe(true);
    expect(bad(() => derImplicit(31, set))).toBe(true);
    expect(bad(() => derTlv(0x1f))).toBe(true);
    expect(bad(() => derTlv(0x00))).toBe(true);
    expect(derTlv(0x30, Uint8Array.of(5, 0), Uint8Array.of())).toEqual(derSequence(derNull()));
    expect(derSequence(derInteger(1), derNull())).toEqual(ref.seq(ref.int(1), ref.nul()));
  });
});
