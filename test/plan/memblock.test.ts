// memblock's view (/sys/kernel/debug/memblock/{memory,reserved}) as the map
// kexec_walk_memblock walks: parsing both line formats, the free ranges, and
// hostile input (typed errors with the line's offset, never a throw of another kind).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KimageError } from "../../src/core/errors.js";
import { ramRanges } from "../../src/plan/core/memory.js";
import { memoryMapFromMemblock, parseMemblock } from "../../src/plan/core/memblock.js";

const hex = (n: bigint) => `0x${n.toString(16)}`;

describe("parseMemblock", () => {
  it("reads 6.12's lines (node and flag) and 6.1's (range only)", () => {
    const v612 = "   0: 0x0000000040000000..0x000000007fffffff    0 NONE\n   1: 0x0000000080000000..0x00000000800fffff    x NOMAP\n";
    expect(parseMemblock(v612)).toEqual([
      { base: 0x40000000n, end: 0x7fffffffn, nid: 0, flags: "NONE" },
      { base: 0x80000000n, end: 0x800fffffn, flags: "NOMAP" },
    ]);
    expect(parseMemblock("   0: 0x0000000040000000..0x000000007fffffff\n")).toEqual([{ base: 0x40000000n, end: 0x7fffffffn, flags: "NONE" }]);
  });

  it("refuses a foreign line with memory-bad-syntax at its offset, an inverted range, and too many lines", () => {
    const text = "   0: 0x0000000040000000..0x000000007fffffff    0 NONE\nMemTotal: 1 kB\n";
    const e = (() => {
      try {
        parseMemblock(text);
      } catch (x) {
        return x;
      }
    })() as KimageError;
    expect(e).toBeInstanceOf(KimageError);
    expect(e.code).toBe("memory-bad-syntax");
    expect(e.offset).toBe(text.indexOf("MemTotal"));
    expect(() => parseMemblock("0: 0x2000..0x1000")).toThrow(expect.objectContaining({ code: "memory-bad-range" }));
    expect(() => parseMemblock("0: 0x1000..0x2000\n".repeat(3), { maxLines: 2 })).toThrow(expect.objectContaining({ code: "limit" }));
  });

  it("any text: a list or a KimageError", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        try {
          parseMemblock(s);
        } catch (x) {
          expect(x).toBeInstanceOf(KimageError);
        }
      }),
    );
  });
});

describe("memoryMapFromMemblock", () => {
  it("free = memory (NOMAP and DRV_MNG skipped) minus reserved", () => {
    const memory = "   0: 0x0000000040000000..0x000000007fffffff    0 NONE\n   1: 0x0000000080000000..0x00000000800fffff    0 NOMAP\n";
    const reserved = "   0: 0x0000000040000000..0x00000000400fffff    0 NONE\n   1: 0x0000000040c00000..0x0000000042ffffff    0 NONE\n";
    const free = ramRanges(memoryMapFromMemblock(memory, reserved)).map((r) => `${hex(r.start)}+${hex(r.size)}`);
    expect(free).toEqual(["0x40100000+0xb00000", "0x43000000+0x3d000000"]);
  });

  it("HOTPLUG memory is free unless the kernel runs with movable_node", () => {
    const memory = "   0: 0x0000000040000000..0x000000004fffffff    0 HOTPLUG\n";
    expect(ramRanges(memoryMapFromMemblock(memory, ""))).toHaveLength(1);
    expect(ramRanges(memoryMapFromMemblock(memory, "", { movableNode: true }))).toHaveLength(0);
  });
});
