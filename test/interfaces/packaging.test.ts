// Packaging: the tarball `npm pack` makes, installed as a user would into
// throwaway projects, works from ESM, CommonJS and TypeScript (module
// node16, nodenext, bundler; ESM and CommonJS projects; lib es2022 + @types/node
// and lib es2022 + dom; skipLibCheck false), on Node 20 (this machine's), 22
// and 24. Each consumer calls the library for real: inspect a small PE, gunzip
// with the core and with the browser bundle, sign with a throwaway EC key and
// verify the result, import a generated CryptoKey, and hash with WebCrypto.
//
// Network: `npm pack` and its file list need none. Installing the tarball
// (its dependency @noble/hashes) and @types/node, and fetching Node 22 and 24
// with `npx -p node@N`, use the npm registry (npm's cache serves them after the
// first run). Without a registry those parts print `SKIP: …` and skip; under
// KIMAGE_REQUIRE_REAL=1 (CI) they fail instead.
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authenticodeDigest, inspect } from "../../src/index.js";
import { haveTool } from "../support/real.js";
import { buildPe } from "../support/pe-builder.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const REQUIRED = process.env.KIMAGE_REQUIRE_REAL === "1";
const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  name: string;
  version: string;
  bin: Record<string, string>;
  files: string[];
  exports: Record<string, string | { types: string; default: string }>;
  devDependencies: Record<string, string>;
};
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
const HELLO = "hello from kimage\n";
/**
 * Per-test timeout. The whole file costs about 40 s of CPU (measured: 32 s
 * user, 9 s system; the tsc build with skipLibCheck false is most of it, then
 * 39 Node processes); on a shared machine the wall time stretches with the
 * load, which must not fail the test.
 */
const SLOW = { timeout: 600_000 };

// ---------------------------------------------------------------------------
// Processes

type Run = Pick<SpawnSyncReturns<string>, "status" | "stdout" | "stderr"> & { error?: Error };

/** The environment of child processes, without what `npm test` and Vitest set for this package. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_package_|npm_lifecycle_|npm_config_(local_)?prefix$|VITEST|NODE_OPTIONS$|INIT_CWD$)/.test(k)) continue;
    env[k] = v;
  }
  return env;
}

function run(cmd: string, args: string[], cwd: string, timeout = 300_000): Run {
  const r = spawnSync(cmd, args, { cwd, env: childEnv(), encoding: "utf8", timeout, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "", error: r.error };
}

/** Like {@link run}, without blocking: at most `availableParallelism()` (≤ 4) run at once. */
async function runAsync(cmd: string, args: string[], cwd: string, timeout = 300_000): Promise<Run> {
  await slot.take();
  try {
    return await new Promise<Run>((resolve) => {
      const child = spawn(cmd, args, { cwd, env: childEnv(), timeout });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.on("error", (error) => resolve({ status: null, stdout, stderr, error }));
      child.on("close", (status) => resolve({ status, stdout, stderr }));
    });
  } finally {
    slot.give();
  }
}

const slot = (() => {
  let free = Math.max(1, Math.min(4, availableParallelism()));
  const waiting: (() => void)[] = [];
  return {
    take: (): Promise<void> => (free > 0 ? (free--, Promise.resolve()) : new Promise<void>((r) => waiting.push(r))),
    give: (): void => {
      const next = waiting.shift();
      if (next) next();
      else free++;
    },
  };
})();

function describeRun(cmd: string, args: string[], r: Run): string {
  return `${cmd} ${args.join(" ")} exited ${r.status}${r.error ? ` (${r.error.message})` : ""}:\n${r.stdout}${r.stderr}`.trim();
}

/** How a registry that cannot be reached shows in npm's output. */
const NO_REGISTRY = /E(NOTFOUND|AI_AGAIN|CONNREFUSED|CONNRESET|TIMEDOUT|NETUNREACH|HOSTUNREACH|NOTCACHED)|network|offline|fetch failed|socket hang up/i;

/**
 * Runs a step that needs the npm registry (or npm's cache). Returns its output;
 * or, when it failed for want of a registry, prints `SKIP: …` and returns null,
 * unless KIMAGE_REQUIRE_REAL=1, which makes that an error. Other failures throw.
 */
function networkStep(what: string, cmd: string, args: string[], cwd: string): string | null {
  return networkOutcome(what, cmd, args, run(cmd, args, cwd));
}

function networkOutcome(what: string, cmd: string, args: string[], r: Run): string | null {
  if (r.status === 0) return r.stdout;
  const msg = `${what} needs the npm registry (or npm's cache) and failed: ${describeRun(cmd, args, r)}`;
  if (REQUIRED) throw new Error(`${msg}\nKIMAGE_REQUIRE_REAL=1 makes this an error: the packaging test must run every part.`);
  if (!NO_REGISTRY.test(`${r.stdout}${r.stderr}`)) throw new Error(msg);
  const why = `${r.stdout}${r.stderr}`.split("\n").find((l) => NO_REGISTRY.test(l))?.trim() ?? "";
  console.warn(`SKIP: ${what} needs the npm registry (or npm's cache): ${why}`);
  return null;
}

/** {@link networkStep}, without blocking. */
async function networkStepAsync(what: string, cmd: string, args: string[], cwd: string): Promise<string | null> {
  return networkOutcome(what, cmd, args, await runAsync(cmd, args, cwd));
}

// ---------------------------------------------------------------------------
// Consumer sources

/** A TypeScript resolution mode, in a project of the given package type. */
interface Mode {
  id: string;
  type: "module" | "commonjs";
  module: string;
  moduleResolution: string;
  /**
   * CommonJS under `module: node16` cannot `require()` an ES module (TS1479):
   * such a project loads kimage with `await import()`; `nodenext` (TypeScript
   * ≥ 5.8) allows require(esm), as Node ≥ 20.19 does.
   */
  dynamicImport: boolean;
}

const MODES: Mode[] = [
  { id: "node16-esm", type: "module", module: "node16", moduleResolution: "node16", dynamicImport: false },
  { id: "node16-cjs", type: "commonjs", module: "node16", moduleResolution: "node16", dynamicImport: true },
  { id: "nodenext-esm", type: "module", module: "nodenext", moduleResolution: "nodenext", dynamicImport: false },
  { id: "nodenext-cjs", type: "commonjs", module: "nodenext", moduleResolution: "nodenext", dynamicImport: false },
  { id: "bundler", type: "module", module: "preserve", moduleResolution: "bundler", dynamicImport: false },
];

/** The libraries a consumer compiles with: Node without the DOM, or a browser project without @types/node. */
const LIBS = [
  { id: "node", lib: ["es2022"], types: ["node"] },
  { id: "dom", lib: ["es2022", "dom"], types: [] as string[] },
] as const;

type Lib = (typeof LIBS)[number];

const VARIANTS = LIBS.flatMap((lib: Lib) => MODES.map((mode) => ({ id: `${mode.id} lib ${lib.id}`, mode, lib })));

/** What every consumer prints (one JSON line). */
interface ConsumerOutput {
  layers: string[];
  text: string;
  browserText: string;
  digest: string;
  signedLayers: string[];
  verdict: string;
  key: unknown;
  internals: boolean;
}

/**
 * The body every consumer runs, given `k` (kimage), `browser`
 * (kimage/browser), `internals` (kimage/internals), `subtle`, and the inputs
 * `pe`, `gz`, `keyPem`, `certPem` (and `n`, kimage/node, for `hashOption`).
 */
function body(ts: boolean, hashOption: string): string {
  const optionsType = ts ? ": Parameters<typeof k.signAuthenticode>[1]" : "";
  return `
  const layers = (await k.inspect(pe)).layers.map((l) => l.format);
  const text = new TextDecoder().decode(k.decompressSync(gz, "gzip").bytes);
  const browserText = new TextDecoder().decode(browser.decompressSync(gz, "gzip").bytes);
  const digest = (await k.authenticodeDigest(pe, "sha256", { hash: k.webCryptoHashProvider(subtle) })).hex;
  const options${optionsType} = { key: keyPem, certs: [certPem], crypto: subtle${hashOption} };
  const signed = await k.signAuthenticode(pe, options);
  const signedLayers = (await k.inspect(signed)).layers.map((l) => l.format);
  const verdict = (await k.verifyAuthenticode(signed, { trust: [certPem], crypto: subtle })).verdict;
  const pair = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, false, ["sign", "verify"]);
  const key = (await k.importSigningKey(pair.privateKey, "sha384", subtle)).algorithm;
  console.log(JSON.stringify({ layers, text, browserText, digest, signedLayers, verdict, key, internals: typeof internals.parsePe === "function" }));
`;
}

/** A Node consumer: reads its inputs with kimage/node from the directory in argv[2]. */
function nodeProgram(kind: "ts" | "esm" | "cjs", mode?: Mode): string {
  const ts = kind === "ts";
  const esmSyntax = kind === "esm" || (ts && !mode?.dynamicImport);
  const imports = esmSyntax
    ? `import * as k from "kimage";
import * as n from "kimage/node";
import * as browser from "kimage/browser";
import * as internals from "kimage/internals";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { webcrypto } from "node:crypto";`
    : kind === "cjs"
      ? `const k = require("kimage");
const n = require("kimage/node");
const browser = require("kimage/browser");
const internals = require("kimage/internals");
const { readFileSync } = require("node:fs");
const { join } = require("node:path");
const { webcrypto } = require("node:crypto");`
      : `import { readFileSync } from "node:fs";
import { join } from "node:path";
import { webcrypto } from "node:crypto";`;
  const dynamic = ts && mode?.dynamicImport
    ? `  const k = await import("kimage");
  const n = await import("kimage/node");
  const browser = await import("kimage/browser");
  const internals = await import("kimage/internals");
`
    : "";
  return `${imports}

async function main()${ts ? ": Promise<void>" : ""} {
${dynamic}  const dir = process.argv[2] ?? ".";
  const pe = await n.readImage(join(dir, "tiny.efi"));
  const gz = await n.readImage(join(dir, "hello.gz"));
  const keyPem = readFileSync(join(dir, "key.pem"), "utf8");
  const certPem = readFileSync(join(dir, "cert.pem"), "utf8");
  const subtle = webcrypto.subtle;
${body(ts, ", hash: n.nodeHashProvider")}}

main().catch((e${ts ? ": unknown" : ""}) => {
  console.error(e);
  process.exitCode = 1;
});
`;
}

/** A browser-typed consumer (no @types/node): its inputs are embedded in data.ts; globals only. */
function domProgram(mode: Mode): string {
  const imports = mode.dynamicImport
    ? ""
    : `import * as k from "kimage";
import * as browser from "kimage/browser";
import * as internals from "kimage/internals";
`;
  const dynamic = mode.dynamicImport
    ? `  const k = await import("kimage");
  const browser = await import("kimage/browser");
  const internals = await import("kimage/internals");
`
    : "";
  return `${imports}import { DATA } from "./data.js";

const bytes = (b64: string): Uint8Array => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

async function main(): Promise<void> {
${dynamic}  const pe = bytes(DATA.pe);
  const gz = bytes(DATA.gz);
  const keyPem = DATA.key;
  const certPem = DATA.cert;
  const subtle = globalThis.crypto.subtle;
${body(true, "")}}

main().catch((e: unknown) => {
  console.error(e);
  throw e;
});
`;
}

/** The directory of a TypeScript consumer project. */
function tsDir(mode: Mode, lib: Lib): string {
  return `ts-${mode.id}-${lib.id}`;
}

/**
 * Writes a TypeScript consumer project: package.json (its type), tsconfig.json
 * (composite, for `tsc -b`; skipLibCheck false) and main.ts (and data.ts, the
 * inputs, for the DOM projects, which cannot read files).
 */
function writeTsProject(dir: string, mode: Mode, lib: Lib, data: string): void {
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ private: true, type: mode.type }));
  const compilerOptions = {
    target: "es2022",
    module: mode.module,
    moduleResolution: mode.moduleResolution,
    lib: lib.lib,
    types: lib.types,
    strict: true,
    skipLibCheck: false,
    noEmitOnError: true,
    composite: true,
    rootDir: ".",
    outDir: "out",
  };
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files: lib.id === "dom" ? ["main.ts", "data.ts"] : ["main.ts"] }));
  if (lib.id === "dom") {
    const b64 = (f: string): string => (data ? readFileSync(join(data, f)).toString("base64") : "");
    const text = (f: string): string => (data ? readFileSync(join(data, f), "utf8") : "");
    const d = { pe: b64("tiny.efi"), gz: b64("hello.gz"), key: text("key.pem"), cert: text("cert.pem") };
    writeFileSync(join(dir, "data.ts"), `export const DATA = ${JSON.stringify(d)};\n`);
    writeFileSync(join(dir, "main.ts"), domProgram(mode));
  } else {
    writeFileSync(join(dir, "main.ts"), nodeProgram("ts", mode));
  }
}

// ---------------------------------------------------------------------------
// The test

interface PackedFile {
  path: string;
  size: number;
}

describe("packaging: the packed tarball in ESM, CommonJS and TypeScript projects", () => {
  let tmp = "";
  let tarball = "";
  let packed: PackedFile[] = [];
  let consumers = ""; // the consumers' root (node_modules with kimage and @types/node), or "" without a registry
  let data = ""; // tiny.efi, hello.gz, key.pem, cert.pem; "" without openssl
  const expected: Partial<ConsumerOutput> = {};
  const compiled = new Map<string, string>(); // "ts <variant id>" -> the emitted entry
  const jsPrograms = new Map<string, string>(); // "js esm" / "js cjs" -> the program

  beforeAll(async () => {
    if (!existsSync(join(ROOT, "dist", "index.js"))) throw new Error("dist/ is missing: run `npm run build` (npm test builds first)");
    tmp = mkdtempSync(join(tmpdir(), "kimage-packaging-"));

    // 1. npm pack (no network).
    const args = ["pack", "--ignore-scripts", "--json", "--pack-destination", tmp];
    const r = run("npm", args, ROOT);
    if (r.status !== 0) throw new Error(describeRun("npm", args, r));
    const info = (JSON.parse(r.stdout) as { filename: string; files: PackedFile[] }[])[0]!;
    tarball = join(tmp, info.filename);
    packed = info.files;

    // 2. The inputs the consumers read, and what they must print.
    data = join(tmp, "data");
    mkdirSync(data);
    const pe = buildPe().bytes;
    writeFileSync(join(data, "tiny.efi"), pe);
    writeFileSync(join(data, "hello.gz"), gzipSync(HELLO));
    Object.assign(expected, {
      layers: (await inspect(pe)).layers.map((l) => l.format),
      text: HELLO,
      browserText: HELLO,
      digest: (await authenticodeDigest(pe, "sha256")).hex,
      signedLayers: ["pe"],
      verdict: "valid",
      key: { kind: "ec", curve: "P-384" },
      internals: true,
    } satisfies ConsumerOutput);
    if (haveTool("openssl", ["version"])) {
      const req = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-subj", "/CN=kimage packaging test", "-days", "2"];
      const o = run("openssl", req, data);
      if (o.status !== 0) throw new Error(describeRun("openssl", req, o));
    } else {
      data = "";
    }

    // 3. The consumers' root: the tarball and @types/node, installed by npm (needs the registry or its cache).
    const root = join(tmp, "consumers");
    mkdirSync(root);
    writeFileSync(join(root, "package.json"), JSON.stringify({ name: "kimage-consumers", version: "0.0.0", private: true }));
    const install = ["install", "--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts", tarball, `@types/node@${PKG.devDependencies["@types/node"]}`];
    if (networkStep("installing the packed tarball", "npm", install, root) === null) return;
    consumers = root;
    for (const [kind, type, file] of [["esm", "module", "main.mjs"], ["cjs", "commonjs", "main.cjs"]] as const) {
      const dir = join(root, `js-${kind}`);
      mkdirSync(dir);
      writeFileSync(join(dir, "package.json"), JSON.stringify({ private: true, type }));
      writeFileSync(join(dir, file), nodeProgram(kind));
      jsPrograms.set(`js ${kind}`, join(dir, file));
    }
  });

  afterAll(() => {
    if (tmp && !process.env.KIMAGE_KEEP_PACKAGING) rmSync(tmp, { recursive: true, force: true });
  });

  it("npm pack ships only what is used: no source maps, no unbundled CLI modules; LICENSE, CHANGELOG, README", () => {
    const paths = packed.map((f) => f.path).sort();
    expect(paths.filter((p) => p.endsWith(".map"))).toEqual([]);
    expect(paths.filter((p) => p.startsWith("dist/cli/") || p === "dist/cli.d.ts")).toEqual([]);
    for (const f of ["LICENSE", "CHANGELOG.md", "README.md", "package.json", PKG.bin.kimage!]) expect(paths, f).toContain(f);
    for (const [sub, target] of Object.entries(PKG.exports)) {
      for (const t of typeof target === "string" ? [target] : [target.types, target.default]) {
        expect(paths, `${sub} -> ${t}`).toContain(t.replace(/^\.\//, ""));
      }
    }
    // Every published .js outside the bundles is reachable from an entry point: the library
    // modules (dist/**) and the two bundles; nothing else at the top of dist/.
    const top = paths.filter((p) => /^dist\/[^/]+$/.test(p));
    expect(top.sort()).toEqual(["dist/cli.js", "dist/index.d.ts", "dist/index.js", "dist/internals.d.ts", "dist/internals.js"]);
  });

  // One `tsc -b` builds the ten projects (composite, referenced from one solution file): it
  // parses the shared declarations once, about half the CPU of ten `tsc -p` runs. Its
  // --verbose output says which project each error belongs to; each variant's test reports its own.
  describe("TypeScript consumers", () => {
    const sections = new Map<string, string>(); // project dir -> tsc's output while building it
    let build: Run | undefined;

    beforeAll(async () => {
      if (!consumers) return;
      for (const { mode, lib } of VARIANTS) writeTsProject(join(consumers, tsDir(mode, lib)), mode, lib, data);
      const solution = join(consumers, "tsconfig.json");
      writeFileSync(solution, JSON.stringify({ files: [], references: VARIANTS.map(({ mode, lib }) => ({ path: tsDir(mode, lib) })) }));
      build = await runAsync(process.execPath, [TSC, "-b", "--verbose", solution], consumers);
      let current = "";
      for (const line of `${build.stdout}${build.stderr}`.split("\n")) {
        const m = /Building project '(.+)[\\/]tsconfig\.json'/.exec(line);
        if (m) current = m[1]!;
        else if (current) sections.set(current, `${sections.get(current) ?? ""}${line}\n`);
      }
    }, SLOW.timeout);

    it.for(VARIANTS)("$id: tsc (skipLibCheck false) compiles a consumer", ({ mode, lib }, ctx) => {
      if (!consumers || build === undefined) return ctx.skip();
      const dir = join(consumers, tsDir(mode, lib));
      const out = sections.get(dir);
      expect(out, `tsc -b did not build ${dir}:\n${build.stdout}${build.stderr}`).toBeDefined();
      expect(out, `${mode.id} lib ${lib.id}`).not.toMatch(/error TS\d+/);
      expect(existsSync(join(dir, "out", "main.js")), `${dir}/out/main.js`).toBe(true);
      compiled.set(`ts ${mode.id} lib ${lib.id}`, join(dir, "out", "main.js"));
    });
  });

  // After the compilations: each Node version runs the thirteen programs (JS ESM, JS
  // CommonJS, the ten compiled projects, the bin); the three versions run concurrently.
  describe("runs", () => {
    it.concurrent.for([20, 22, 24])("on Node %i: every consumer (JS ESM and CommonJS, each compiled TypeScript project) and the kimage bin", SLOW, async (major, ctx) => {
      if (!consumers) return ctx.skip();
      if (!data) return ctx.skip(); // haveTool printed why (and threw under KIMAGE_REQUIRE_REAL=1)
      let node = process.execPath;
      if (major !== Number(process.versions.node.split(".")[0])) {
        const args = ["--prefer-offline", "-y", "-p", `node@${major}`, "node", "-p", "process.execPath"];
        const out = await networkStepAsync(`fetching Node ${major} (npx -p node@${major})`, "npx", args, tmp);
        if (out === null) return ctx.skip();
        node = out.trim();
      }
      expect((await runAsync(node, ["-p", "process.versions.node"], tmp)).stdout.trim().split(".")[0]).toBe(String(major));

      const programs = new Map([...jsPrograms, ...compiled]);
      const results = await Promise.all(
        [...programs].map(async ([id, entry]) => {
          const r = await runAsync(node, [entry, data], consumers);
          let output: unknown = undefined;
          try {
            output = JSON.parse(r.stdout);
          } catch {
            // reported below with the process's output
          }
          return { id, ok: r.status === 0, output, log: describeRun(node, [entry], r) };
        }),
      );
      for (const { id, ok, output, log } of results) {
        expect(ok, `${id} on Node ${major}: ${log}`).toBe(true);
        expect(output, `${id} on Node ${major}`).toEqual(expected);
      }
      // Every TypeScript variant compiled (a failed compilation is also reported by its own test).
      expect([...programs.keys()].sort()).toEqual(["js cjs", "js esm", ...VARIANTS.map((v) => `ts ${v.id}`)].sort());

      const bin = join(consumers, "node_modules", ".bin", "kimage");
      const r = await runAsync(node, [bin, "inspect", "--json", join(data, "tiny.efi")], consumers);
      expect(r.status, describeRun(node, [bin], r)).toBe(0);
      const json = JSON.parse(r.stdout) as { layers: { format: string }[] } | { layers: { format: string }[] }[];
      expect((Array.isArray(json) ? json[0]! : json).layers.map((l) => l.format)).toEqual(expected.layers);
    });
  });
});
