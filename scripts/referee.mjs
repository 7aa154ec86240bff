#!/usr/bin/env node
// npm run referee [-- ID…]: records the real kernel's own kexec_file_load(2)
// placements in QEMU guests into test/plan/referee/<id>/ (see
// test/support/referee.ts). Not run in CI: test/plan/referee.test.ts replays
// kimage against the committed recordings on every run.
// IDs: x86_64-6.12, x86_64-6.1, x86_64-7.x (default: all of them).
import { build } from "esbuild";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL, fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "kimage-referee-"));
const out = join(dir, "referee.mjs");
try {
  // Bundled so the test support's TypeScript runs under plain node; import.meta.url keeps its
  // meaning because the bundle's paths are rewritten to the source's.
  await build({
    entryPoints: [join(root, "test/support/referee.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    outfile: out,
    logLevel: "warning",
    define: {},
    plugins: [
      {
        name: "meta-url",
        setup(b) {
          b.onLoad({ filter: /test\/support\/.*\.ts$/ }, async (args) => {
            const { readFile } = await import("node:fs/promises");
            const src = await readFile(args.path, "utf8");
            return { contents: src.replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href)), loader: "ts" };
          });
        },
      },
    ],
  });
  const m = await import(pathToFileURL(out).href);
  const want = process.argv.slice(2);
  const targets = m.REFEREE_TARGETS.filter((t) => want.length === 0 || want.includes(t.id));
  if (targets.length === 0) throw new Error(`unknown id; known: ${m.REFEREE_TARGETS.map((t) => t.id).join(", ")}`);
  for (const t of targets) await m.recordReferee(t, (s) => console.log(s));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
