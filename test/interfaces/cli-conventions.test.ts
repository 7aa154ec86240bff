// The CLI's conventions, as git, readelf and coreutils have them: help within
// 80 columns (global, `help CMD`, `CMD --help`), -V/--version, per-command
// usage on a usage error (exit 2, one clean message line), `-` for standard
// input and `-o -` for standard output, several FILEs, write errors on
// standard output (ENOSPC: one line; EPIPE: silent, 141), certificate files.
// Runs the built dist/cli.js (npm test builds first).
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { COMMANDS, VERSION } from "../../src/cli.js";
import { HELP_WIDTH } from "../../src/cli/usage.js";
import { readBytes, requireReal } from "../support/real.js";

const FIX = "fixtures/synthetic";
const MINIMAL = `${FIX}/pe32plus-minimal.efi`;
const I386 = `${FIX}/pe32-i386.efi`;
const dir = mkdtempSync(join(tmpdir(), "kimage-conv-"));

interface Run {
  code: number | null;
  out: string;
  err: string;
}
function cli(args: string[], opts: { input?: Uint8Array | string; stdout?: number } = {}): Run {
  const r = spawnSync("node", ["dist/cli.js", ...args], {
    encoding: "utf8",
    maxBuffer: 256 << 20,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    ...(opts.stdout !== undefined ? { stdio: ["pipe", opts.stdout, "pipe"] } : {}),
  }) as SpawnSyncReturns<string>;
  return { code: r.status, out: r.stdout ?? "", err: r.stderr ?? "" };
}
/** Runs with binary stdout. */
function cliBytes(args: string[], input?: Uint8Array): { code: number | null; out: Buffer; err: string } {
  const r = spawnSync("node", ["dist/cli.js", ...args], { maxBuffer: 256 << 20, ...(input ? { input } : {}) });
  return { code: r.status, out: r.stdout, err: r.stderr.toString() };
}
const widest = (text: string) => Math.max(0, ...text.split("\n").map((l) => [...l].length));
const NO_STACK = /^\s+at |node:internal|Error:/m;

describe("help and version", () => {
  it("kimage --help and kimage help fit 80 columns and list every command", () => {
    const r = cli(["--help"]);
    expect(r.code).toBe(0);
    expect(widest(r.out)).toBeLessThanOrEqual(HELP_WIDTH);
    for (const c of COMMANDS) expect(r.out.split("\n")).toContain(`  ${c.name.padEnd(7)}  ${c.summary}`);
    expect(r.out).toMatch(/exit status/);
    expect(cli(["help"]).out).toBe(r.out);
    expect(cli(["-h"]).out).toBe(r.out);
    // No arguments: the same text on stderr, exit 2.
    expect(cli([])).toMatchObject({ code: 2, out: "", err: r.out });
  });

  it("kimage help CMD = kimage CMD --help: the command's usage and every option, within 80 columns", () => {
    for (const c of COMMANDS) {
      const h = cli(["help", c.name]);
      expect(h.code, c.name).toBe(0);
      expect(h.out.startsWith(`usage: kimage ${c.name} `), c.name).toBe(true);
      expect(widest(h.out), `${c.name}:\n${h.out}`).toBeLessThanOrEqual(HELP_WIDTH);
      for (const name of Object.keys(c.options)) expect(h.out, `${c.name} --${name}`).toContain(`--${name}`);
      expect(cli([c.name, "--help"]).out, c.name).toBe(h.out);
      expect(cli([c.name, "-h"]).out, c.name).toBe(h.out);
      // Only this command's usage.
      for (const other of COMMANDS) if (other !== c) expect(h.out).not.toContain(`usage: kimage ${other.name} `);
    }
    const bad = cli(["help", "frobnicate"]);
    expect(bad.code).toBe(2);
    expect(bad.err.split("\n")[0]).toBe('kimage: help: no command "frobnicate"');
  });

  it("-V, --version and -v print the version", () => {
    for (const flag of ["-V", "--version", "-v"]) expect(cli([flag]), flag).toMatchObject({ code: 0, out: `${VERSION}\n`, err: "" });
  });
});

describe("usage errors: that command's usage, one clean line, exit 2", () => {
  const cases: Array<[string, string[], RegExp]> = [
    ["digest", ["digest"], /^kimage: digest: missing FILE$/],
    ["digest", ["digest", "--alg", "md5", MINIMAL], /^kimage: digest: --alg must be sha1, sha256, sha384 or sha512$/],
    ["digest", ["digest", MINIMAL, "--alg"], /^kimage: digest: option --alg needs a value$/],
    ["extract", ["extract", MINIMAL, "extra", "-o", "x"], /^kimage: extract: unexpected argument "extra"$/],
    ["inspect", ["inspect", "--bogus", MINIMAL], /^kimage: inspect: unknown option --bogus$/],
    ["inspect", ["inspect", "--json=yes", MINIMAL], /^kimage: inspect: option --json takes no value$/],
    ["verify", ["verify", MINIMAL, "--mode", "bogus"], /^kimage: verify: --mode must be one of auto, kernel, shim, any, all$/],
    ["plan", ["plan", "--kernel", MINIMAL], /^kimage: plan: --arch is required/],
    ["sign", ["sign", MINIMAL, "--frob"], /^kimage: sign: unknown option --frob$/],
  ];
  for (const [cmd, args, first] of cases) {
    it(args.join(" "), () => {
      const r = cli(args);
      expect(r.code).toBe(2);
      expect(r.out).toBe("");
      const lines = r.err.trimEnd().split("\n");
      expect(lines[0]).toMatch(first);
      expect(lines[1]).toMatch(new RegExp(`^usage: kimage ${cmd} `));
      expect(lines.at(-1)).toBe(`Try 'kimage ${cmd} --help' for more information.`);
      expect(widest(r.err)).toBeLessThanOrEqual(HELP_WIDTH);
      // Not Node's raw parseArgs text, not the global usage.
      expect(r.err).not.toMatch(/To specify a positional argument|Option '/);
      for (const other of COMMANDS) if (other.name !== cmd) expect(r.err).not.toContain(`usage: kimage ${other.name} `);
      expect(r.err).not.toContain("usage: kimage COMMAND");
    });
  }

  it("an unknown command or option before the command: exit 2 with the short global usage", () => {
    for (const a of ["frobnicate", "--bogus"]) {
      const r = cli([a, MINIMAL]);
      expect(r.code).toBe(2);
      expect(r.err.split("\n")[0]).toBe(a.startsWith("-") ? `kimage: unknown option ${a}` : `kimage: unknown command "${a}"`);
      expect(r.err).toMatch(/^usage: kimage COMMAND/m);
    }
  });
});

describe("- is standard input, -o - is standard output", () => {
  it("inspect, digest and verify read FILE - from stdin", () => {
    const bytes = readFileSync(MINIMAL);
    const fromFile = JSON.parse(cli(["inspect", "--json", MINIMAL]).out) as { file: string };
    const fromStdin = JSON.parse(cli(["inspect", "--json", "-"], { input: bytes }).out) as { file: string };
    expect(fromStdin.file).toBe("-");
    expect({ ...fromStdin, file: MINIMAL }).toEqual(fromFile);
    expect(cli(["digest", "-"], { input: bytes }).out).toBe(cli(["digest", MINIMAL]).out);
    expect(cli(["verify", "-"], { input: bytes })).toMatchObject({ code: 1, out: expect.stringMatching(/^verdict: unsigned/) });
    // An empty stdin is read, and is not a kernel (exit 1), not an unreadable file.
    expect(cli(["inspect", "-"], { input: "" }).code).toBe(1);
  });

  it("extract -o - writes the bytes to stdout (and no file named -)", () => {
    const r = cliBytes(["extract", MINIMAL, "--layer", "0", "-o", "-"]);
    expect(r.code, r.err).toBe(0);
    expect(Buffer.compare(r.out, readFileSync(MINIMAL))).toBe(0);
    expect(r.err).toMatch(/wrote \d+ bytes to standard output/);
    const piped = cliBytes(["extract", "-", "--layer", "0", "-o", "-"], readFileSync(I386));
    expect(Buffer.compare(piped.out, readFileSync(I386))).toBe(0);
    expect(spawnSync("test", ["-e", "-"]).status).not.toBe(0);
  });

  const loong = requireReal("sid loong64 zboot kernel", (f) => f.arch === "loong64" && f.kind === "kernel");
  it.skipIf(loong.length === 0)("extract --innermost -o - of a real zboot kernel equals -o FILE", () => {
    const f = loong[0]?.abs ?? "";
    const out = join(dir, "inner.bin");
    expect(cli(["extract", f, "--innermost", "-o", out]).code).toBe(0);
    const r = cliBytes(["extract", f, "--innermost", "-o", "-"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out.length).toBeGreaterThan(1 << 20);
    expect(Buffer.compare(r.out, readFileSync(out))).toBe(0);
  });
});

describe("several FILEs: one result each, the highest exit status", () => {
  it("digest: one DIGEST  FILE line per file (sha256sum style); --json: an array", () => {
    const a = cli(["digest", MINIMAL]).out.trim();
    const b = cli(["digest", I386]).out.trim();
    expect(cli(["digest", MINIMAL, I386])).toMatchObject({ code: 0, out: `${a}  ${MINIMAL}\n${b}  ${I386}\n` });
    const j = JSON.parse(cli(["digest", "--json", MINIMAL, I386]).out) as unknown[];
    expect(j).toEqual([
      { file: MINIMAL, ...(JSON.parse(cli(["digest", "--json", MINIMAL]).out) as object) },
      { file: I386, ...(JSON.parse(cli(["digest", "--json", I386]).out) as object) },
    ]);
  });

  it("a failing file is reported with its name, the others still run; exit 2 > 1 > 0", () => {
    const text = join(dir, "text");
    writeFileSync(text, "hello, not a kernel\n");
    const r = cli(["inspect", MINIMAL, text, I386]);
    expect(r.code).toBe(1);
    expect(r.err.trim()).toMatch(new RegExp(`^kimage: ${text}: unknown-format`));
    expect(r.err.trim().split("\n")).toHaveLength(1);
    const blocks = r.out.trimEnd().split("\n\n");
    expect(blocks.map((b) => b.split("\n")[0])).toEqual([MINIMAL, I386]);
    const r2 = cli(["digest", MINIMAL, "/nonexistent/x", text]);
    expect(r2.code).toBe(2);
    expect(r2.out.trim().split("\n")).toHaveLength(1);
    expect(r2.err).toMatch(/cannot read \/nonexistent\/x: ENOENT/);
    const j = JSON.parse(cli(["inspect", "--json", MINIMAL, text, "/nonexistent/x"]).out) as Array<{ file: string; error?: { code: string } }>;
    expect(j.map((e) => [e.file, e.error?.code])).toEqual([
      [MINIMAL, undefined],
      [text, "unknown-format"],
      ["/nonexistent/x", "unreadable"],
    ]);
  });

  it("inspect --json with one FILE is the single document, with several an array of the same documents", () => {
    const one = cli(["inspect", "--json", MINIMAL]).out;
    expect(one.startsWith('{\n  "file": ')).toBe(true);
    const two = JSON.parse(cli(["inspect", "--json", MINIMAL, I386]).out) as unknown[];
    expect(two).toEqual([JSON.parse(one), JSON.parse(cli(["inspect", "--json", I386]).out)]);
  });
});

describe("write errors on standard output", () => {
  it("> /dev/full: one line naming ENOSPC, exit 2, no stack trace", () => {
    for (const args of [["inspect", "-v", MINIMAL], ["digest", MINIMAL], ["extract", MINIMAL, "--layer", "0", "-o", "-"]]) {
      const fd = openSync("/dev/full", "w");
      try {
        const r = cli(args, { stdout: fd });
        expect(r.code, args.join(" ")).toBe(2);
        expect(r.err.trimEnd().split("\n"), r.err).toHaveLength(1);
        expect(r.err).toMatch(/^kimage: cannot write standard output: ENOSPC/);
        expect(r.err).not.toMatch(NO_STACK);
      } finally {
        closeSync(fd);
      }
    }
    const r = cli(["extract", MINIMAL, "--layer", "0", "-o", "/dev/full"]);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toMatch(/^kimage: cannot write \/dev\/full: ENOSPC/);
  });

  it("EPIPE (the reader is gone): silent, exit 141 as with SIGPIPE", async () => {
    const child = spawn("node", ["dist/cli.js", "inspect", "-v", MINIMAL, I386], { stdio: ["ignore", "pipe", "pipe"] });
    // Close the read end before the CLI writes anything.
    child.stdout.destroy();
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    expect(err).toBe("");
    expect(code).toBe(141);
  });

  const big = requireReal("a real kernel (larger than a pipe buffer)", (f) => f.kind === "kernel" && f.arch === "amd64" && f.suite === "trixie");
  it.skipIf(big.length === 0)("EPIPE in a shell pipeline (extract -o - of a 12 MB kernel | head -c 1): silent, 141", () => {
    const f = big[0]?.abs ?? "";
    const r = spawnSync("bash", ["-c", 'node dist/cli.js extract "$1" --layer 0 -o - 2>"$2" | head -c 1 >/dev/null; echo "${PIPESTATUS[0]}"; cat "$2"', "sh", f, join(dir, "err.txt")], { encoding: "utf8" });
    expect(r.stdout).toBe("141\n");
  });
});

describe("--cert: PEM (several blocks) or DER, else 'not a certificate (PEM or DER)'", () => {
  const bad: Array<[string, string | Uint8Array, RegExp]> = [
    ["text.txt", "root:x:0:0:root:/root:/bin/bash\n", /not a certificate \(PEM or DER\): it looks like text without a PEM BEGIN line \("root:x:0:0/],
    ["empty", "", /not a certificate \(PEM or DER\): it is empty/],
    ["key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", /not a certificate \(PEM or DER\): it is PEM holding PRIVATE KEY but no CERTIFICATE block/],
    ["seq.der", new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x05]), /not a certificate \(PEM or DER\): it looks like DER \(an ASN\.1 SEQUENCE\) but it is not an X\.509 certificate/],
    ["bad.pem", "-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\n", /not a certificate \(PEM or DER\): it is PEM, but its CERTIFICATE block 1 of 1 is not an X\.509 certificate/],
  ];
  for (const [name, content, want] of bad) {
    it(name, () => {
      const p = join(dir, name);
      writeFileSync(p, content);
      const r = cli(["verify", MINIMAL, "--cert", p]);
      expect(r.code).toBe(2);
      expect(r.err.trimEnd().split("\n")).toHaveLength(1);
      expect(r.err).toMatch(new RegExp(`^kimage: ${p}: `));
      expect(r.err).toMatch(want);
    });
  }
  it("a PE given as --cert says it looks like a PE, neither PEM nor DER", () => {
    expect(cli(["verify", MINIMAL, "--cert", I386]).err).toMatch(/not a certificate \(PEM or DER\): it looks like a PE\/MZ executable \(starting 4d 5a/);
  });
  it("/etc/passwd", () => {
    const r = cli(["verify", MINIMAL, "--cert", "/etc/passwd"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^kimage: \/etc\/passwd: not a certificate \(PEM or DER\): it looks like text/);
  });

  const ms = requireReal("Microsoft UEFI CAs", (f) => f.kind === "cert" && /MicrosoftCorporationUEFICA2011\.pem$|MicrosoftUEFICA2023\.pem$/.test(f.path));
  const shim = requireReal("trixie amd64 shim-signed", (f) => f.path === "trixie/amd64/shim-signed/shimx64.efi.signed");
  it.skipIf(ms.length < 2 || shim.length === 0)("a PEM file with several certificates (and text around them), from a file or from stdin (--cert -)", () => {
    const both = join(dir, "ms-both.pem");
    writeFileSync(both, ms.map((f) => readFileSync(f.abs, "utf8")).join("\n"));
    const shimFile = shim[0]?.abs ?? "";
    const r = cli(["verify", "--json", "--mode", "all", shimFile, "--cert", both]);
    expect(r.code, r.err).toBe(0);
    expect((JSON.parse(r.out) as { verdict: string }).verdict).toBe("valid");
    const s = cli(["verify", "--mode", "all", shimFile, "--cert", "-"], { input: readBytes(both) });
    expect(s.code, s.err).toBe(0);
  });
});
