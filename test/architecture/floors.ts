/**
 * The floors of kimage's source tree (ARCHITECTURE.md) and the import rule
 * between them: a file may import from its own floor or any floor below it,
 * never from a floor above; a format never imports another format.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/** Floors from the ground up: [floor name, path prefixes under src/]. */
export const FLOORS: readonly (readonly [string, readonly string[]])[] = [
  ["core", ["core/", "hash/"]],
  ["data", ["codecs/", "asn1/", "fdt/"]],
  ["cms", ["cms/"]],
  ["format-contract", ["format/"]],
  ["formats", ["formats/"]],
  ["inspect", ["inspect/"]],
  ["signature", ["signature/"]],
  ["uki", ["uki/"]],
  ["plan-core", ["plan/core/"]],
  ["plan-protocol", ["plan/protocol/"]],
  ["plan-arch", ["plan/arch/"]],
  ["plan", ["plan/"]],
  ["entry", ["index.ts", "internals.ts", "node/", "cli/", "cli.ts", "web/"]],
];

/** The floor index of a path relative to src/ (-1 when no floor claims it). */
export function floorOf(rel: string): number {
  return FLOORS.findIndex(([, prefixes]) => prefixes.some((p) => rel === p || rel.startsWith(p)));
}

/** The format folder of a path relative to src/ (`formats/<name>/…`), or null. */
export function formatOf(rel: string): string | null {
  const m = /^formats\/([^/]+)\//.exec(rel);
  return m ? (m[1] ?? null) : null;
}

/** One import that breaks the rule. */
export interface Violation {
  from: string;
  to: string;
  why: string;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** Every relative import of every file under `srcDir`, checked against the floors. */
export function checkFloors(srcDir: string): { files: number; imports: number; violations: Violation[]; unplaced: string[] } {
  const violations: Violation[] = [];
  const unplaced: string[] = [];
  let imports = 0;
  const files = walk(srcDir);
  for (const file of files) {
    const rel = relative(srcDir, file).split("\\").join("/");
    const fromFloor = floorOf(rel);
    if (fromFloor < 0) unplaced.push(rel);
    const text = readFileSync(file, "utf8");
    // Static imports and re-exports, type-only ones included, and dynamic imports.
    const re = /(?:^|\n)\s*(?:import|export)\b[^"'`;]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
    for (const m of text.matchAll(re)) {
      const spec = m[1] ?? m[2];
      if (!spec || !spec.startsWith(".")) continue;
      imports++;
      const target = relative(srcDir, resolve(dirname(file), spec)).split("\\").join("/").replace(/\.js$/, ".ts");
      const toFloor = floorOf(target);
      if (toFloor > fromFloor) violations.push({ from: rel, to: target, why: `${FLOORS[fromFloor]?.[0] ?? "?"} imports upward from ${FLOORS[toFloor]?.[0] ?? "?"}` });
      const a = formatOf(rel), b = formatOf(target);
      if (a && b && a !== b) violations.push({ from: rel, to: target, why: `format ${a} imports format ${b}` });
    }
  }
  return { files: files.length, imports, violations, unplaced };
}
