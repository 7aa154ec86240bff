#!/usr/bin/env node
// npm run bench -- MODE [ARG]
//   digest [FILE]      in-library Authenticode digest vs raw node:crypto (below)
//   decompress         in-library decoders vs the native CLIs (below)
//   inspect [KERNEL]   whole-process kimage inspect (default, --full) vs xz -dc
//   extract            whole-process kimage extract vs each native decoder CLI
//   verify [KERNEL]    whole-process kimage verify --cert vs sbverify --cert, and node -e 0
//   memory             peak RSS of inspect, inspect --full, verify, extract
// The whole-process modes run each command as its own process, interleaved
// (a, b, c, a, b, c, …) after one warm-up each, and print medians of 5.
//
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
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

const [what = "digest", fileArg] = process.argv.slice(2);
/** Whole-process modes: rounds of interleaved runs (medians of 5). */
const RUNS = 5;
const CLI = new URL("../dist/cli.js", import.meta.url).pathname;
let scratchDir; // see scratch()
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
if (what === "extract") {
  await benchExtract();
  process.exit(0);
}
if (what === "verify") {
  await benchVerify(fileArg);
  process.exit(0);
}
if (what === "memory") {
  await benchMemory();
  process.exit(0);
}
if (what !== "digest") {
  console.error(`bench: unknown benchmark ${JSON.stringify(what)} (available: digest, decompress, inspect, extract, verify, memory)`);
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
  const codecs = await import(new URL("../dist/codecs/index.js", import.meta.url));
  const node = await import(new URL("../dist/node/index.js", import.meta.url));
  const streams = await import(new URL("../dist/codecs/stream.js", import.meta.url));
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
    // The streaming decoder, fed 1 MiB chunks, lending its window to a sink that only counts
    // (borrow: true): the same decoding without a fresh 66 MB output array to write into.
    const streamRun = () => {
      let n = 0;
      const d = streams.createStreamDecoder(t.codec, (c) => (n += c.length), { borrow: true, maxOutput: raw.length, expectedSize: raw.length });
      for (let i = 0; i < input.length; i += 1 << 20) d.write(input.subarray(i, i + (1 << 20)));
      d.end();
      if (n !== raw.length) throw new Error(`${t.codec}: the stream decoded ${n} bytes`);
    };
    const stream = await timeIt(streamRun, runs);
    rows.push({ codec: t.codec, compressed: input.length, lib, nat, stream });
  }
  console.log("");
  console.log("| codec | compressed | native CLI (process) | kimage in-library one-shot | MB/s | ratio kimage/native | kimage streaming (borrow) | streaming/one-shot |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    console.log(
      `| ${r.codec} | ${r.compressed} | ${r.nat.toFixed(0)} ms | ${r.lib.toFixed(0)} ms | ${(raw.length / MB / (r.lib / 1000)).toFixed(0)} | ${(r.lib / r.nat).toFixed(2)}x | ${r.stream.toFixed(0)} ms (${(r.stream / r.nat).toFixed(2)}x) | ${(r.stream / r.lib).toFixed(2)} |`,
    );
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
  const kernel = kernelArg ?? defaultFile();
  if (!kernel) throw new Error("no kernel: run npm run fixtures");
  const payload = join(scratch(), "inspect-payload.xz");
  writeFileSync(payload, bzImagePayload(readFileSync(kernel)));
  const json = execFileSync("node", [CLI, "inspect", "--json", kernel], { maxBuffer: 64 << 20 }).toString();
  const layers = JSON.parse(json).layers.map((l) => l.format).join(" -> ");
  const [native, quick, full] = timeProcesses(
    [
      ["xz", ["-dc", payload]],
      ["node", [CLI, "inspect", kernel]],
      ["node", [CLI, "inspect", "--full", kernel]],
    ],
    RUNS,
  );
  console.log(`kernel: ${kernel} (${statSync(kernel).size} bytes)`);
  console.log(`layers: ${layers}`);
  console.log(`whole processes, interleaved, median of ${RUNS}:`);
  console.log(`xz -dc on the payload (${statSync(payload).size} bytes) : ${native.toFixed(0)} ms`);
  console.log(`kimage inspect                      : ${quick.toFixed(0)} ms  ratio ${(quick / native).toFixed(2)}x`);
  console.log(`kimage inspect --full               : ${full.toFixed(0)} ms  ratio ${(full / native).toFixed(2)}x`);
}

// ---------------------------------------------------------------------------
// Whole-process machinery
// ---------------------------------------------------------------------------

/** fixtures/real/.bench/, created on first use (cached inputs, scratch outputs). */
function benchCache() {
  const dir = new URL("../fixtures/real/.bench/", import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  return dir;
}

function manifest() {
  const m = new URL("../fixtures/real/manifest.json", import.meta.url);
  if (!existsSync(m)) throw new Error("no fetched kernels: run npm run fixtures");
  return JSON.parse(readFileSync(m, "utf8")).map((e) => ({ ...e, abs: new URL(`../fixtures/real/${e.path}`, import.meta.url).pathname })).filter((e) => existsSync(e.abs));
}

/** The xz payload of a bzImage (without the 4-byte size trailer), from its setup header. */
function bzImagePayload(b) {
  const setupSects = b[0x1f1] || 4;
  const start = (setupSects + 1) * 512 + b.readUInt32LE(0x248);
  const len = b.readUInt32LE(0x24c);
  return b.subarray(start, start + len - 4);
}

/**
 * Runs one process to its end: stdout to `stdoutFile` (truncated) or
 * /dev/null, stderr captured. Throws on a status not in `ok`.
 */
function runProcess([cmd, args, opts = {}]) {
  const fd = openSync(opts.stdoutFile ?? "/dev/null", "w");
  try {
    const r = spawnSync(cmd, args, { stdio: ["ignore", fd, "pipe"], maxBuffer: 64 << 20, env: opts.env ?? process.env });
    const ok = opts.ok ?? [0];
    if (!ok.includes(r.status)) throw new Error(`${cmd} ${args.join(" ")}: exit status ${r.status}: ${String(r.stderr).slice(0, 500)}`);
    return r;
  } finally {
    closeSync(fd);
  }
}

/**
 * Times whole processes interleaved: one warm-up of each, then `runs` rounds
 * of a, b, c…; returns each one's median wall time in ms.
 */
function timeProcesses(procs, runs) {
  for (const p of procs) runProcess(p);
  const times = procs.map(() => []);
  for (let i = 0; i < runs; i++) {
    procs.forEach((p, j) => {
      const t0 = performance.now();
      runProcess(p);
      times[j].push(performance.now() - t0);
    });
  }
  return times.map(median);
}

/** A private scratch directory for outputs (removed at exit). */
function scratch() {
  if (!scratchDir) {
    scratchDir = mkdtempSync(join(tmpdir(), "kimage-bench-"));
    process.on("exit", () => rmSync(scratchDir, { recursive: true, force: true }));
  }
  return scratchDir;
}

/** The 1-minute load average, so that figures taken on a busy machine say so. */
function loadNote() {
  if (!existsSync("/proc/loadavg")) return "load average unknown";
  const l1 = Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
  return `load average ${l1.toFixed(2)} on ${availableParallelism()} CPUs${l1 > 0.5 ? " (NOT idle: the figures are noisy)" : ""}`;
}

// ---------------------------------------------------------------------------
// npm run bench -- extract
//
// The sid loong64 Image (27 MB; `kimage extract --innermost` of the sid
// loong64 zboot, once), compressed by each kbuild codec at the kernel build's
// settings (cached under fixtures/real/.bench/), as a whole-file compressed
// kernel (Image.gz, Image.zst, …: kimage recognises each by its magic). Then
// per codec, whole processes, interleaved, median of 5, both writing the
// decoded bytes to a file:
//   kimage : node dist/cli.js extract --innermost -o OUT Image.X
//   native : X -dc Image.X > OUT
// The output of each is checked once against the Image, byte for byte.
// ---------------------------------------------------------------------------
async function benchExtract() {
  const cache = benchCache();
  const image = join(cache, "loong64.Image");
  if (!existsSync(image)) {
    const z = manifest().find((e) => e.suite === "sid" && e.arch === "loong64" && e.kind === "kernel");
    if (!z) throw new Error("no sid loong64 kernel: run FIXTURES_SET=loong64 npm run fixtures");
    runProcess(["node", [CLI, "extract", "--innermost", "-o", `${image}.tmp`, z.abs]]);
    renameSync(`${image}.tmp`, image);
  }
  const raw = readFileSync(image);
  // kbuild's settings (scripts/Makefile.lib, scripts/xz_wrap.sh: LoongArch has no BCJ filter).
  const table = [
    { codec: "gzip", ext: "gz", make: "gzip -n -9 -c", dc: ["gzip", "-dc"] },
    { codec: "zstd", ext: "zst", make: "zstd -q -19 --long=27 -T1 -c", dc: ["zstd", "-q", "-dc", "--long=27"] },
    { codec: "xz", ext: "xz", make: "xz -T1 --check=crc32 --lzma2=dict=32MiB -c", dc: ["xz", "-dc"] },
    { codec: "lzma", ext: "lzma", make: "lzma -9 -c", dc: ["lzma", "-dc"] },
    { codec: "bzip2", ext: "bz2", make: "bzip2 -9 -c", dc: ["bzip2", "-dc"] },
    { codec: "lzo", ext: "lzo", make: "lzop -9 -c", dc: ["lzop", "-dc"] },
    { codec: "lz4", ext: "lz4", make: "lz4 -q -l -12 --favor-decSpeed -c", dc: ["lz4", "-q", "-dc"] },
  ];
  console.log(`Image: ${image} (${raw.length} bytes, the sid loong64 Image); ${loadNote()}`);
  const rows = [];
  for (const t of table) {
    const file = join(cache, `loong64.Image.${t.ext}`);
    if (!existsSync(file) || statSync(file).size === 0) {
      process.stderr.write(`compressing with ${t.make} (once; cached)...\n`);
      execFileSync("sh", ["-c", `${t.make} '${image}' > '${file}.tmp' && mv '${file}.tmp' '${file}'`]);
    }
    const outK = join(scratch(), `out-kimage.${t.ext}`);
    const outN = join(scratch(), `out-native.${t.ext}`);
    const kimage = ["node", [CLI, "extract", "--innermost", "-o", outK, file]];
    const native = [t.dc[0], [...t.dc.slice(1), file], { stdoutFile: outN }];
    runProcess(kimage);
    runProcess(native);
    for (const [who, out] of [["kimage", outK], ["native", outN]]) {
      if (Buffer.compare(readFileSync(out), raw) !== 0) throw new Error(`${t.codec}: ${who} output differs from the Image`);
    }
    const [k, n] = timeProcesses([kimage, native], RUNS);
    rows.push({ codec: t.codec, make: t.make.replace(/ -c$/, ""), compressed: statSync(file).size, k, n });
    rmSync(outK, { force: true });
    rmSync(outN, { force: true });
  }
  console.log(`whole processes, interleaved, median of ${RUNS}; both write the ${raw.length}-byte Image to a file`);
  console.log("");
  console.log("| codec | compressed by | compressed | kimage extract | native -dc | ratio kimage/native |");
  console.log("|---|---|---|---|---|---|");
  for (const r of rows) console.log(`| ${r.codec} | \`${r.make}\` | ${r.compressed} | ${r.k.toFixed(0)} ms | ${r.n.toFixed(0)} ms | ${(r.k / r.n).toFixed(2)}x |`);
}

/** The Debian Secure Boot CA (from the vendor certificate in Debian's unsigned shim), as PEM in the bench cache. */
async function debianCaPem() {
  const pem = join(benchCache(), "debian-ca.pem");
  if (existsSync(pem)) return pem;
  const shim = manifest().find((e) => e.path.endsWith("shim-unsigned/shimx64.efi"));
  if (!shim) throw new Error("no Debian unsigned shim (the Debian CA): run npm run fixtures");
  const der = lib.parseShimVendorCert(lib.parsePe(new Uint8Array(readFileSync(shim.abs))))?.certificates[0];
  if (!der) throw new Error("no vendor certificate in Debian's shim");
  const b64 = Buffer.from(der).toString("base64").match(/.{1,64}/g).join("\n");
  writeFileSync(pem, `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`);
  return pem;
}

function isPeFile(abs) {
  const b = readFileSync(abs).subarray(0, 0x40);
  if (b.length < 0x40 || b[0] !== 0x4d || b[1] !== 0x5a) return false;
  return true;
}

/** The largest real kernels by file size. */
function largestKernels(filter = () => true) {
  return manifest()
    .filter((e) => e.kind === "kernel" && filter(e))
    .map((e) => ({ ...e, size: statSync(e.abs).size }))
    .sort((a, b) => b.size - a.size);
}

// ---------------------------------------------------------------------------
// npm run bench -- verify [KERNEL]
//
// On the largest Debian-signed kernel (default; the sid arm64 16K, 48.7 MB)
// with the Debian CA, whole processes, interleaved, median of 5:
//   kimage   : node dist/cli.js verify --cert CA KERNEL
//   sbverify : sbverify --cert CA KERNEL
//   node -e 0: Node's own start, the floor under any kimage command.
// The goal (issue 12): kimage − node -e 0 ≤ sbverify.
// ---------------------------------------------------------------------------
async function benchVerify(kernelArg) {
  const kernel = kernelArg ?? largestKernels((e) => e.signedPackage && isPeFile(e.abs))[0]?.abs;
  if (!kernel) throw new Error("no signed kernel: run npm run fixtures");
  const ca = await debianCaPem();
  const haveSbverify = spawnSync("sbverify", ["--help"], { stdio: "ignore" }).status !== null;
  const procs = [
    ["node", [CLI, "verify", "--cert", ca, kernel]],
    ["node", ["-e", "0"]],
    ...(haveSbverify ? [["sbverify", ["--cert", ca, kernel]]] : []),
  ];
  const [k, n0, sb] = timeProcesses(procs, RUNS);
  console.log(`kernel: ${kernel} (${statSync(kernel).size} bytes); CA: ${ca}; ${loadNote()}`);
  console.log(`whole processes, interleaved, median of ${RUNS}:`);
  console.log(`kimage verify --cert   : ${k.toFixed(0)} ms  (beyond node -e 0: ${(k - n0).toFixed(0)} ms)`);
  console.log(`node -e 0              : ${n0.toFixed(0)} ms`);
  if (sb === undefined) {
    console.log("sbverify               : not installed");
    return;
  }
  console.log(`sbverify --cert        : ${sb.toFixed(0)} ms`);
  console.log(`ratio kimage/sbverify  : ${(k / sb).toFixed(2)}x`);
  console.log(`goal (kimage − node -e 0 ≤ sbverify): ${(k - n0).toFixed(0)} ms vs ${sb.toFixed(0)} ms: ${k - n0 <= sb ? "met" : "missed"}`);
}

// ---------------------------------------------------------------------------
// npm run bench -- memory
//
// Peak RSS (getrusage ru_maxrss of the child, reported by a preloaded
// `process.on("exit")` hook: the same figure `/usr/bin/time -f %M` prints)
// of `kimage inspect`, `inspect --full`, `verify --cert` (Debian CA) and
// `extract --innermost` on the three largest real kernels and the bookworm
// amd64 kernel, next to the file size, the payload size (the innermost
// layer's bytes, as extract writes them) and `node -e 0`'s RSS. Median of 3.
// The bound for inspect --full: file + 64 MB + node -e 0.
// ---------------------------------------------------------------------------
async function benchMemory() {
  const hook = join(scratch(), "maxrss-hook.cjs");
  writeFileSync(hook, 'process.on("exit", () => require("node:fs").writeSync(2, `\\nkimage-bench-maxrss-kb=${process.resourceUsage().maxRSS}\\n`));\n');
  const ca = await debianCaPem();
  const out = join(scratch(), "memory-extract.out");
  const rss = (args, ok = [0]) => {
    const xs = [];
    let stderr = "";
    for (let i = 0; i < 3; i++) {
      const r = runProcess(["node", ["--require", hook, ...args], { ok }]);
      stderr = String(r.stderr);
      const m = /kimage-bench-maxrss-kb=(\d+)/.exec(stderr);
      if (!m) throw new Error(`no maxRSS from node ${args.join(" ")}`);
      xs.push(Number(m[1]) * 1024);
    }
    return { bytes: median(xs), stderr };
  };
  const baseline = rss(["-e", "0"]).bytes;
  const all = largestKernels();
  const picks = all.slice(0, 3);
  const bookworm = all.find((e) => e.suite === "bookworm" && e.arch === "amd64" && e.signedPackage);
  if (bookworm && !picks.some((p) => p.abs === bookworm.abs)) picks.push(bookworm);
  const MiB = (n) => `${(n / 1048576).toFixed(1)}`;
  console.log(`peak RSS (MiB), median of 3 runs; node -e 0: ${MiB(baseline)} MiB; ${loadNote()}`);
  console.log("");
  console.log("| kernel | file | payload | inspect | inspect --full | verify | extract | bound for --full (file + 64 + node) |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const k of picks) {
    const inspectRss = rss([CLI, "inspect", k.abs]).bytes;
    const fullRss = rss([CLI, "inspect", "--full", k.abs]).bytes;
    const verifyRss = rss([CLI, "verify", "--cert", ca, k.abs], [0, 1]).bytes;
    const ex = rss([CLI, "extract", "--innermost", "-o", out, k.abs]);
    const payload = Number(/wrote (\d+) bytes/.exec(ex.stderr)?.[1] ?? NaN);
    rmSync(out, { force: true });
    const bound = k.size + 64 * 1048576 + baseline;
    console.log(
      `| ${k.suite} ${k.arch} ${k.path.split("/").at(-1)} | ${MiB(k.size)} | ${MiB(payload)} | ${MiB(inspectRss)} | ${MiB(fullRss)} | ${MiB(verifyRss)} | ${MiB(ex.bytes)} | ${MiB(bound)} (${fullRss <= bound ? "within" : "over"}) |`,
    );
  }
}
