import { crc32 as zcrc } from "node:zlib";
import { describe, expect, it } from "vitest";
import { crc32 } from "../../src/codecs/crc32.js";

describe("crc32", () => {
  it("matches the check value and node:zlib, incrementally", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    const data = new Uint8Array(100_003).map((_, i) => (i * 2654435761) >>> 24);
    const whole = crc32(data);
    expect(crc32(data.subarray(37), crc32(data.subarray(0, 37)))).toBe(whole);
    if (typeof zcrc === "function") expect(whole).toBe(zcrc(data));
  });
});
