// The import direction of ARCHITECTURE.md, enforced: a file imports only from
// its own floor or a floor below, and a format never imports another format.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { checkFloors, FLOORS, floorOf } from "./floors.js";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));

describe("floors (ARCHITECTURE.md)", () => {
  it("every source file sits on a floor, and no import goes up or sideways between formats", () => {
    const r = checkFloors(SRC);
    expect(r.unplaced).toEqual([]);
    expect(r.violations).toEqual([]);
    expect(r.files).toBeGreaterThan(50);
    expect(r.imports).toBeGreaterThan(200);
  });

  it("catches an upward import and a format importing another format (so the check can fail)", () => {
    const dir = mkdtempSync(join(tmpdir(), "kimage-floors-"));
    try {
      const put = (p: string, text: string) => {
        mkdirSync(join(dir, p, ".."), { recursive: true });
        writeFileSync(join(dir, p), text);
      };
      put("core/errors.ts", 'import { inspect } from "../inspect/registry.js";\nexport const x = inspect;\n');
      put("inspect/registry.ts", "export const inspect = 1;\n");
      put("formats/a/format.ts", 'import type { B } from "../b/format.js";\nexport type A = B;\n');
      put("formats/b/format.ts", "export type B = number;\n");
      put("codecs/x.ts", 'export const y = await import("../plan/core/memory.js");\n');
      put("plan/core/memory.ts", "export const m = 1;\n");
      put("stray.ts", "export {};\n");
      const r = checkFloors(dir);
      expect(r.violations.map((v) => `${v.from} -> ${v.to}`).sort()).toEqual([
        "codecs/x.ts -> plan/core/memory.ts",
        "core/errors.ts -> inspect/registry.ts",
        "formats/a/format.ts -> formats/b/format.ts",
      ]);
      expect(r.unplaced).toEqual(["stray.ts"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("floors are listed ground first; a plan arch module sits above the plan core", () => {
    expect(FLOORS[0]?.[0]).toBe("core");
    expect(floorOf("plan/arch/arm64.ts")).toBeGreaterThan(floorOf("plan/core/memory.ts"));
    expect(floorOf("formats/pe/parse.ts")).toBeGreaterThan(floorOf("format/types.ts"));
    expect(floorOf("inspect/registry.ts")).toBeGreaterThan(floorOf("formats/pe/parse.ts"));
  });
});
