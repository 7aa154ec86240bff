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

if (what === "decompress") {
  await benchDecompress(fileArg);
  process.exit(0);
}
if (what === "inspect") {
  await benchInspect(fileArg);
  process.exit(0);
}
if (what !== "digest") {
  console.error(`bench: unknown benchmark ${JSON.stringify(what)} (available: digest, decompress, inspect)`);
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

// ---------------------------------------------------------------------------
// npm run bench -- decompress [KERNEL]
//
// The payload: the vmlinux inside the bookworm amd64 bzImage (its xz payload,
// decompressed once with `xz -dc`). It is compressed once per codec with the
// native tool at the kernel build's settings, cached under
// fixtures/real/.bench/. Then, for each codec on the same file:
//   native   : the native CLI, whole process, `X -dc FILE > /dev/null`;
//   kimage   : kimage's in-library one-shot decode (decompress(), Node providers);
// each the median of several interleaved runs, and the ratio kimage / native.
// ---------------------------------------------------------------------------
async function benchDecompress(kernelArg) {
  const { mkdirSync, statSync, writeFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const codecs = await import(new URL("../dist/codecs/index.js", import.meta.url));
  const node = await import(new URL("../dist/node/index.js", import.meta.url));
  const providers = node.nodeCodecProviders ?? (node.nodeInflater ? { inflater: node.nodeInflater } : {});
  const cache = new URL("../fixtures/real/.bench/", import.meta.url).pathname;
  mkdirSync(cache, { recursive: true });

  const vmlinux = join(cache, "vmlinux");
  if (!existsSync(vmlinux)) {
    const kernel = kernelArg ?? (() => {
      const m = JSON.parse(readFileSync(new URL("../fixtures/real/manifest.json", import.meta.url), "utf8"));
      const k = m.find((e) => e.suite === "bookworm" && e.arch === "amd64" && e.kind === "kernel" && e.signedPackage);
      if (!k) throw new Error("no bookworm amd64 kernel: run npm run fixtures");
      return new URL(`../fixtures/real/${k.path}`, import.meta.url).pathname;
    })();
    const b = readFileSync(kernel);
    const setupSects = b[0x1f1] || 4;
    const payloadOffset = b.readUInt32LE(0x248);
    const payloadLength = b.readUInt32LE(0x24c);
    const start = (setupSects + 1) * 512 + payloadOffset;
    writeFileSync(join(cache, "payload.xz"), b.subarray(start, start + payloadLength - 4));
    execFileSync("sh", ["-c", `xz -dc '${join(cache, "payload.xz")}' > '${vmlinux}'`]);
  }
  const raw = readFileSync(vmlinux);
  const MB = 1e6;
  console.log(`payload: ${vmlinux} (${raw.length} bytes, the bookworm amd64 vmlinux)`);

  const table = [
    { codec: "gzip", ext: "gz", make: "gzip -n -9 -c", dc: "gzip -dc" },
    { codec: "zstd", ext: "zst", make: "zstd -q -22 --ultra --long=27 -T2 -c", dc: "zstd -q -dc --long=27" },
    { codec: "xz", ext: "xz", make: "xz -T2 --check=crc32 --x86 --lzma2=dict=32MiB -c", dc: "xz -dc" },
    { codec: "lzma", ext: "lzma", make: "lzma -9 -c", dc: "lzma -dc" },
    { codec: "bzip2", ext: "bz2", make: "bzip2 -9 -c", dc: "bzip2 -dc" },
    { codec: "lzo", ext: "lzo", make: "lzop -9 -c", dc: "lzop -dc" },
    { codec: "lz4", ext: "lz4", make: "lz4 -q -l -12 --favor-decSpeed -c", dc: "lz4 -q -dc" },
  ];
  const rows = [];
  for (const t of table) {
    const file = join(cache, `vmlinux.${t.ext}`);
    if (!existsSync(file) || statSync(file).size === 0) {
      process.stderr.write(`compressing with ${t.make} (once; cached)...\n`);
      execFileSync("sh", ["-c", `${t.make} '${vmlinux}' > '${file}.tmp' && mv '${file}.tmp' '${file}'`]);
    }
    const input = new Uint8Array(readFileSync(file));
    const check = await codecs.decompress(input, t.codec, { expectedSize: raw.length, maxOutput: raw.length, providers });
    if (Buffer.compare(Buffer.from(check.bytes.buffer, check.bytes.byteOffset, check.bytes.length), raw) !== 0) {
      throw new Error(`${t.codec}: kimage output differs from the original`);
    }
    const runs = ["xz", "lzma", "bzip2"].includes(t.codec) ? 3 : 5;
    const [lib, nat] = await timePair(
      () => codecs.decompress(input, t.codec, { expectedSize: raw.length, maxOutput: raw.length, providers }),
      () => execFileSync("sh", ["-c", `${t.dc} '${file}' > /dev/null`]),
      runs,
    );
    rows.push({ codec: t.codec, compressed: input.length, lib, nat });
  }
  console.log("");
  console.log("| codec | compressed | native CLI (process) | kimage in-library | MB/s | ratio kimage/native |");
  console.log("|---|---|---|---|---|---|");
  for (const r of rows) {
    console.log(`| ${r.codec} | ${r.compressed} | ${r.nat.toFixed(0)} ms | ${r.lib.toFixed(0)} ms | ${(raw.length / MB / (r.lib / 1000)).toFixed(0)} | ${(r.lib / r.nat).toFixed(2)}x |`);
  }
}

// ---------------------------------------------------------------------------
// npm run bench -- inspect [KERNEL]
//
// Whole-process times, interleaved, on the same kernel (default: the bookworm
// amd64 signed vmlinuz, 66 MB xz payload):
//   xz -dc             : native xz on the bzImage's payload (extracted once);
//   kimage inspect     : default depth (decodes only what inspection needs);
//   kimage inspect --full : every layer decoded completely.
// ---------------------------------------------------------------------------
async function benchInspect(kernelArg) {
  const { writeFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const kernel = kernelArg ?? defaultFile();
  if (!kernel) throw new Error("no kernel: run npm run fixtures");
  const b = readFileSync(kernel);
  const setupSects = b[0x1f1] || 4;
  const start = (setupSects + 1) * 512 + b.readUInt32LE(0x248);
  const len = b.readUInt32LE(0x24c);
  const payload = join(new URL("../fixtures/real/", import.meta.url).pathname, ".bench-inspect-payload");
  writeFileSync(payload, b.subarray(start, start + len - 4));
  const cli = new URL("../dist/cli.js", import.meta.url).pathname;
  const codec = execFileSync("node", [cli, "inspect", "--json", kernel], { maxBuffer: 64 << 20 }).toString();
  const layers = JSON.parse(codec).layers.map((l) => l.format).join(" -> ");
  const runs = 7;
  const xzCmd = () => execFileSync("sh", ["-c", `xz -dc '${payload}' > /dev/null`]);
  const [native, quick] = await timePair(xzCmd, () => execFileSync("node", [cli, "inspect", kernel], { stdio: "ignore" }), runs);
  const [native2, full] = await timePair(xzCmd, () => execFileSync("node", [cli, "inspect", "--full", kernel], { stdio: "ignore" }), 3);
  console.log(`kernel: ${kernel}`);
  console.log(`layers: ${layers}`);
  console.log(`xz -dc on the payload (process)    : ${native.toFixed(0)} ms`);
  console.log(`kimage inspect (process)           : ${quick.toFixed(0)} ms  ratio ${(quick / native).toFixed(2)}x`);
  console.log(`kimage inspect --full (process)    : ${full.toFixed(0)} ms  ratio ${(full / native2).toFixed(2)}x (xz -dc ${native2.toFixed(0)} ms)`);
}
