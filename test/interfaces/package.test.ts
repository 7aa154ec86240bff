// Package shape: the browser-safe core imports nothing from node:, importing
// it has no global side effects, and the exports map points at built files.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

describe("package", () => {
  const pkg = JSON.parse(readFileSync("package.json", "utf8")) as {
    type: string;
    sideEffects: boolean;
    bin: Record<string, string>;
    engines: { node: string };
    exports: Record<string, { types: string; default: string }>;
  };

  it("is ESM with types, sideEffects false and the kimage bin", () => {
    expect(pkg.type).toBe("module");
    expect(pkg.sideEffects).toBe(false);
    expect(pkg.bin.kimage).toBe("dist/cli.js");
    for (const [k, v] of Object.entries(pkg.exports)) {
      if (k === "./package.json") continue;
      // types first; then `default`, which serves import and require() alike (require(esm), Node >= 20.19).
      expect(Object.keys(v), k).toEqual(["types", "default"]);
      expect(existsSync(v.default), v.default).toBe(true);
      expect(existsSync(v.types), v.types).toBe(true);
    }
    expect(pkg.engines.node).toBe(">=20.19");
    expect(readFileSync("dist/cli.js", "utf8").startsWith("#!/usr/bin/env node")).toBe(true);
  });

  it("the core (dist outside node/, cli/ and cli.js) has no node: imports", () => {
    const notCore = [join("dist", "node") + "/", join("dist", "cli") + "/", join("dist", "cli.js")];
    const core = files("dist").filter((f) => f.endsWith(".js") && !notCore.some((p) => f === p || f.startsWith(p)));
    expect(core.length).toBeGreaterThan(5);
    for (const f of core) {
      expect(readFileSync(f, "utf8"), f).not.toMatch(/from\s+["']node:|import\(["']node:|require\(/);
    }
  });

  it("importing the core changes no globals", async () => {
    const before = new Set(Object.getOwnPropertyNames(globalThis));
    await import(new URL("../../dist/index.js", import.meta.url).href);
    const added = Object.getOwnPropertyNames(globalThis).filter((n) => !before.has(n));
    expect(added).toEqual([]);
  });
});
