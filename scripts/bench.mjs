#!/usr/bin/env node
// npm run bench -- digest [FILE]
//
// Runs, in one process and on the same file:
//   - kimage's in-library SHA-256 Authenticode digest (parse + ranges + node:crypto hashing),
//   - raw node:crypto SHA-256 over the same bytes (one update over the whole buffer),
// and prints both throughputs and their ratio. When pesign is installed, the
// native peer's whole-process time (`pesign -h -i FILE`) is printed too.
// Each figure is the median of several timed runs after a warm-up.
import { createHash } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const [what = "digest", fileArg] = process.argv.slice(2);
const lib = await import(new URL("../dist/index.js", import.meta.url));
const { nodeHashProvider } = await import(new URL("../dist/node/index.js", import.meta.url));

function defaultFile() {
  const manifest = new URL("../fixtures/real/manifest.json", import.meta.url);
  if (!existsSync(manifest)) return undefined;
  const entries = JSON.parse(readFileSync(manifest, "utf8"));
  const pick = entries.find((e) => e.kind === "kernel" && e.arch === "amd64" && e.signedPackage) ?? entries[0];
  return pick ? new URL(`../fixtures/real/${pick.path}`, import.meta.url).pathname : undefined;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timeIt(fn, runs) {
  await fn(); // warm-up
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** Times `a` and `b` alternately (so drift in clock speed hits both), returning both medians. */
async function timePair(a, b, runs) {
  await a();
  await b();
  const ta = [];
  const tb = [];
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now();
    await a();
    ta.push(performance.now() - t0);
    t0 = performance.now();
    await b();
    tb.push(performance.now() - t0);
  }
  return [median(ta), median(tb)];
}

if (what !== "digest") {
  console.error(`bench: unknown benchmark ${JSON.stringify(what)} (available: digest)`);
  process.exit(2);
}
const file = fileArg ?? defaultFile();
if (!file || !existsSync(file)) {
  console.error("bench: no FILE given and no fetched kernel found; run `npm run fixtures` or pass a PE file");
  process.exit(2);
}
const buf = readFileSync(file);
const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
const runs = 41;
const MB = 1e6;

const [ours, raw] = await timePair(
  () => lib.authenticodeDigest(bytes, "sha256", { hash: nodeHashProvider }),
  () => createHash("sha256").update(bytes).digest(),
  runs,
);
const hashedBytes = bytes.length;
console.log(`file: ${file} (${bytes.length} bytes), median of ${runs} interleaved runs; throughput = file size / time`);
console.log(`kimage authenticodeDigest sha256 : ${(ours).toFixed(2)} ms  ${(hashedBytes / MB / (ours / 1000)).toFixed(0)} MB/s`);
console.log(`raw node:crypto sha256            : ${(raw).toFixed(2)} ms  ${(hashedBytes / MB / (raw / 1000)).toFixed(0)} MB/s`);
console.log(`ratio (kimage throughput / raw)   : ${(raw / ours).toFixed(3)}x`);

if (spawnSync("pesign", ["--help"], { stdio: "ignore" }).status !== null) {
  const pesignMs = await timeIt(() => {
    execFileSync("pesign", ["-h", "-P", "-i", file], { stdio: ["ignore", "pipe", "pipe"] });
  }, 5);
  const inprocMs = ours;
  console.log(`pesign -h -P (whole process)      : ${pesignMs.toFixed(2)} ms`);
  console.log(`ratio (kimage in-library / pesign): ${(inprocMs / pesignMs).toFixed(3)}x time`);
}
