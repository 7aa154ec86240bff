// The curated public API of `kimage` (src/index.ts): its list of exports is
// committed in test/interfaces/api-exports.txt, so it changes only on purpose
// (`UPDATE_API=1 npx vitest run test/interfaces/api.test.ts` rewrites the list;
// review the diff). At most 200 symbols, each with TSDoc.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { apiSurface } from "../support/api-surface.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const LIST = fileURLToPath(new URL("./api-exports.txt", import.meta.url));

describe("the public API (src/index.ts)", () => {
  const api = apiSurface(`${ROOT}src/index.ts`, ROOT);
  const lines = api.map((s) => `${s.name} ${s.kind} ${s.file}`);

  it("is the committed list of exports", () => {
    if (process.env.UPDATE_API === "1" || !existsSync(LIST)) writeFileSync(LIST, lines.join("\n") + "\n");
    expect(lines).toEqual(readFileSync(LIST, "utf8").trimEnd().split("\n"));
  });

  it("has at most 200 symbols, each documented", () => {
    expect(api.length).toBeLessThanOrEqual(200);
    expect(api.filter((s) => !s.documented).map((s) => s.name)).toEqual([]);
  });

  it("exports no internals: nothing from the CLI or node adapters, no spec-constant tables", () => {
    for (const s of api) {
      expect(s.file, s.name).not.toMatch(/^src\/(cli|node)\//);
      expect(s.name, s.file).not.toMatch(/_OFFSETS$|_LAYER$|^zstdFrameEnd$|^x86HotplugElfcorehdrMemsz$/);
    }
  });

  it("kimage/internals still offers the lower-level pieces", () => {
    const internals = apiSurface(`${ROOT}src/internals.ts`, ROOT).map((s) => s.name);
    for (const name of ["zstdFrameEnd", "x86HotplugElfcorehdrMemsz", "ARM64_OFFSETS", "locateMemHole", "inspect"]) expect(internals, name).toContain(name);
  });
});
