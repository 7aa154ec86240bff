// Builds the static page into dist/web/ (run by `npm run build` after the
// library): index.html and style.css copied from web/, app.js (the page, one
// classic script: module scripts and module workers are refused from file://
// in Chromium, a classic script is not) with the worker's bundled source
// inside it as a string (the page starts it from a blob: URL, which file://
// pages may do), and anchors.js, the built-in public trust anchors
// (scripts/web-anchors.mjs says where they come from).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { webAnchors } from "./web-anchors.mjs";

const out = "dist/web";
mkdirSync(out, { recursive: true });
const common = { bundle: true, platform: "browser", target: "es2022", format: "iife", minify: true, write: false, logLevel: "warning", metafile: true };

const worker = await build({ ...common, entryPoints: ["web/worker.ts"] });
// The core must not reach for Node (as scripts/bundle.mjs checks for the library bundle).
for (const input of Object.keys(worker.metafile.inputs)) {
  if (/(^|\/)src\/node\/|node:/.test(input)) throw new Error(`the web worker pulls in ${input}`);
}
const workerSource = worker.outputFiles[0].text;
const app = await build({ ...common, entryPoints: ["web/app.ts"], define: { __WORKER_SOURCE__: JSON.stringify(workerSource) } });
writeFileSync(`${out}/app.js`, app.outputFiles[0].contents);
copyFileSync("web/index.html", `${out}/index.html`);
copyFileSync("web/style.css", `${out}/style.css`);
const anchors = await webAnchors();
writeFileSync(
  `${out}/anchors.js`,
  `// Built-in public trust anchors of the kimage page, derived by scripts/web-anchors.mjs from Debian packages (see "source").\n` +
    `globalThis.KIMAGE_ANCHORS = ${JSON.stringify(anchors, null, 1)};\n`,
);
console.error(`kimage: wrote ${out}/ (app.js ${(app.outputFiles[0].contents.length / 1024).toFixed(0)} KiB, worker ${(workerSource.length / 1024).toFixed(0)} KiB inside it, ${anchors.length} built-in anchor(s))`);
