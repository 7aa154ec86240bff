// HoleSearch: the two ways 6.1's kexec_file searched differently (walk order of top-down
// buffers, first candidate), on the map QEMU's -M pc gives a 1 GiB guest. The referee
// (test/plan/referee.test.ts) checks the same against the kernel's own placements.
import { describe, expect, it } from "vitest";
import { CURRENT_HOLE_SEARCH, LEGACY_HOLE_SEARCH, locateMemHole } from "../../src/plan/core/allocator.js";
import { memoryMap } from "../../src/plan/core/memory.js";

const map = memoryMap([
  { start: 0x1000n, size: 0x9ec00n, type: "ram" },
  { start: 0x100000n, size: 0x3fee0000n, type: "ram" },
]);

describe("HoleSearch", () => {
  it("top-down: current kernels take the top of the highest range, 6.1 the top of the lowest that fits", () => {
    const req = { memsz: 0x5000n, bufMin: 0x3000n, topDown: true };
    expect(locateMemHole(map, req).mem).toBe(0x3ffdb000n);
    expect(locateMemHole(map, req, { search: CURRENT_HOLE_SEARCH }).mem).toBe(0x3ffdb000n);
    expect(locateMemHole(map, req, { search: LEGACY_HOLE_SEARCH }).mem).toBe(0x9a000n);
  });

  it("6.1's first candidate is temp_end - memsz: a page-multiple buffer lands one page lower", () => {
    const req = { memsz: 0x1000n, bufMin: 0x1000000n, topDown: true };
    expect(locateMemHole(map, req).mem).toBe(0x3ffdf000n);
    expect(locateMemHole(map, req, { search: LEGACY_HOLE_SEARCH }).mem).toBe(0x3ffde000n);
    expect(locateMemHole(map, req, { search: { topDownWalk: "descending", topDownFirst: "end-memsz" } }).mem).toBe(0x3ffde000n);
  });

  it("bottom-up requests do not change", () => {
    const req = { memsz: 0x1000n, bufMin: 0x1000000n, topDown: false };
    expect(locateMemHole(map, req, { search: LEGACY_HOLE_SEARCH }).mem).toBe(locateMemHole(map, req).mem);
  });
});
