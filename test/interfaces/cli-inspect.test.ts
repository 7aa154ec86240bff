// `kimage inspect`'s default view: a concise summary of at most 20 lines and
// 100 columns for every real kernel of fixtures/real/manifest.json, whose
// facts agree with `inspect --json` (version, layer chain, build-id, size,
// signer); `-v` is the full tree; colour only on a terminal without NO_COLOR.
// Runs the built dist/cli.js (npm test builds first).
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { shouldColor, stripAnsi } from "../../src/cli/colour.js";
import { bannerParts, commonName, renderSummary, sizeText, SUMMARY_WIDTH } from "../../src/cli/summary.js";
import type { Layer } from "../../src/format/types.js";
import { haveTool, REAL_DIR, requireReal } from "../support/real.js";

const CLI = resolve("dist/cli.js");
const FIX = "fixtures/synthetic";

function cli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync("node", [CLI, ...args], { encoding: "utf8", maxBuffer: 256 << 20, ...opts });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

interface InspectJson {
  file: string;
  identity: { version: string | null; buildId: string | null };
  layers: Array<{ format: string; certificates?: Array<{ signers?: Array<{ commonName: string }> }> }>;
}

const kernels = requireReal("real kernels", (f) => f.kind === "kernel");

describe.skipIf(kernels.length === 0)("the concise view of every real kernel", () => {
  // As a user types it: relative to where the files are (the file name line is the name as given).
  const names = kernels.map((k) => k.path);
  let blocks: string[] = [];
  let docs: InspectJson[] = [];

  it("at most 20 lines and 100 columns each, no @0x-1, one block per FILE in order", () => {
    const r = cli(["inspect", ...names], { cwd: REAL_DIR });
    expect(r.code, r.err).toBe(0);
    expect(r.err).toBe("");
    blocks = r.out.trimEnd().split("\n\n");
    expect(blocks).toHaveLength(names.length);
    blocks.forEach((b, i) => {
      const lines = b.split("\n");
      expect(lines[0], b).toBe(names[i]);
      expect(lines.length, b).toBeLessThanOrEqual(20);
      for (const l of lines) expect([...l].length, `${names[i]}: ${l}`).toBeLessThanOrEqual(SUMMARY_WIDTH);
      expect(b).not.toContain("0x-1");
      expect(b).not.toContain("\x1b[");
    });
  });

  it("agrees with inspect --json (the same FILEs, one JSON array): version, layer chain, build-id, size, signer", () => {
    const r = cli(["inspect", "--json", ...names], { cwd: REAL_DIR });
    expect(r.code, r.err).toBe(0);
    docs = JSON.parse(r.out) as InspectJson[];
    expect(docs.map((d) => d.file)).toEqual(names);
    kernels.forEach((k, i) => {
      const b = blocks[i] ?? "";
      const d = docs[i] as InspectJson;
      const field = (label: string) => new RegExp(`^  ${label}: +(.*)$`, "m").exec(b)?.[1];
      expect(field("layers"), k.path).toBe(d.layers.map((l) => l.format).join(" → "));
      if (d.identity.version) expect(field("version"), k.path).toBe(d.identity.version);
      else expect(field("version"), k.path).toMatch(/^\(not found; --full/);
      expect(field("build-id"), k.path).toBe(d.identity.buildId ?? "(not found)");
      expect(field("size"), k.path).toMatch(/^\d+ bytes \(\d+\.\d MiB\)$/);
      const pe = d.layers[0]?.format === "pe" ? d.layers[0] : undefined;
      const signer = pe?.certificates?.[0]?.signers?.[0]?.commonName;
      if (!pe) expect(field("signature"), k.path).toBe("none (no PE certificate table)");
      else if (signer) expect(field("signature"), k.path).toMatch(new RegExp(`^signed by ${signer}, issuer `));
      else expect(field("signature"), k.path).toBe("unsigned");
      expect(field("arch"), k.path).toBeDefined();
    });
  });

  it("arch and page size where the headers state them", () => {
    kernels.forEach((k, i) => {
      const arch = /^ {2}arch: +(.*)$/m.exec(blocks[i] ?? "")?.[1] ?? "";
      const want: Record<string, RegExp> = {
        amd64: /^x86_64, 64-bit entry, boot protocol 2\.\d+$/,
        i386: /^i386, 32-bit entry only/,
        arm64: k.path.includes("16k") ? /^arm64, little-endian, 16K pages$/ : /^arm64, little-endian, 4K pages$/,
        armhf: /^arm, little-endian$/,
        riscv64: /^riscv64/,
        loong64: /^loongarch64$/,
        ppc64el: /^ppc64le$/,
        s390x: /^s390x$/,
      };
      expect(arch, k.path).toMatch(want[k.arch] ?? /./);
    });
  });
});

describe("inspect views", () => {
  it("the default view of a synthetic PE: a summary, no tree", () => {
    const r = cli(["inspect", `${FIX}/pe32-i386.efi`]);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      [
        `${FIX}/pe32-i386.efi`,
        "  version:   (none: an EFI application, not a Linux kernel)",
        "  layers:    pe",
        "  arch:      i386",
        "  signature: unsigned",
        "  build-id:  (not found)",
        `  size:      ${sizeText(statSync(`${FIX}/pe32-i386.efi`).size)}`,
        "",
      ].join("\n"),
    );
    expect(r.out).not.toMatch(/[├└]─/);
  });

  it.skipIf(kernels.length === 0)("-v is the tree; offsets of decoded data read (decoded), never @0x-1", () => {
    const k = kernels.find((f) => f.arch === "amd64" && f.suite === "trixie") ?? kernels[0];
    const r = cli(["inspect", "-v", k?.abs ?? ""]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^[├└]─ \[0\] (pe|elf|s390-image) @0x0: /m);
    expect(r.out).not.toContain("@0x-1");
    if (r.out.includes("elf-prefix")) expect(r.out).toMatch(/! info elf-prefix \(decoded\): /);
    expect(cli(["inspect", "--verbose", k?.abs ?? ""]).out).toBe(r.out);
  });
});

describe("colour", () => {
  it("only on a terminal, and not with NO_COLOR (non-empty) or TERM=dumb", () => {
    expect(shouldColor({ isTTY: true }, {})).toBe(true);
    expect(shouldColor({ isTTY: true }, { NO_COLOR: "" })).toBe(true);
    expect(shouldColor({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(shouldColor({ isTTY: true }, { TERM: "dumb" })).toBe(false);
    expect(shouldColor({ isTTY: false }, {})).toBe(false);
    expect(shouldColor({}, {})).toBe(false);
  });

  it("renderSummary colours only when asked, and the text is the same without the escapes", () => {
    const input = {
      file: "x",
      size: 3 << 20,
      layers: [{ format: "pe", offset: 0, size: 3 << 20, summary: "", fields: { machine: "AMD64", certificates: [] }, findings: [] }] as Layer[],
      identity: { version: null, versionString: null, banner: null, buildId: null, config: null, sources: { version: null, buildId: null, config: null }, searched: 0 },
    };
    const plain = renderSummary(input);
    const coloured = renderSummary({ ...input, color: true });
    expect(plain).not.toContain("\x1b[");
    expect(coloured).toContain("\x1b[");
    expect(stripAnsi(coloured)).toBe(plain);
  });

  it.skipIf(!haveTool("script", ["--version"]))("a pseudo-terminal gets colour; NO_COLOR=1 or a pipe does not", () => {
    const file = `${FIX}/pe32-i386.efi`;
    const env: NodeJS.ProcessEnv = { ...process.env, TERM: "xterm" };
    delete env.NO_COLOR;
    const pty = (extra: NodeJS.ProcessEnv) => spawnSync("script", ["-qec", `node ${CLI} inspect ${file}`, "/dev/null"], { encoding: "utf8", env: { ...env, ...extra } });
    const withColour = pty({});
    expect(withColour.status).toBe(0);
    expect(withColour.stdout).toContain("\x1b[");
    expect(stripAnsi(withColour.stdout)).toContain("signature: unsigned");
    const noColour = pty({ NO_COLOR: "1" });
    expect(noColour.status).toBe(0);
    expect(noColour.stdout).toContain("signature: unsigned");
    expect(noColour.stdout).not.toContain("\x1b[");
    expect(cli(["inspect", file], { env }).out).not.toContain("\x1b[");
  });
});

describe("summary helpers", () => {
  it("bannerParts splits linux_banner after the release", () => {
    expect(bannerParts("9.9.9-test-amd64 (builder@kimage) (x86_64-linux-gnu-gcc-14 (Debian 14.2.0-19) 14.2.0, GNU ld 2.44) #1 SMP PREEMPT_DYNAMIC Debian 9.9.9-test (2026-11-12)", "9.9.9-test-amd64")).toEqual({
      compiler: "x86_64-linux-gnu-gcc-14 (Debian 14.2.0-19) 14.2.0, GNU ld 2.44",
      build: "#1 SMP PREEMPT_DYNAMIC Debian 9.9.9-test (2026-11-12)",
    });
    expect(bannerParts("9.9.0-test-amd64 (builder@kimage) #1 SMP", "9.9.0-test-amd64")).toEqual({ build: "#1 SMP" });
  });
  it("commonName takes CN out of a DN", () => {
    expect(commonName("CN=Microsoft Corporation UEFI CA 2011,O=Microsoft Corporation,L=Redmond")).toBe("Microsoft Corporation UEFI CA 2011");
    expect(commonName("O=x,CN=a\\,b")).toBe("a,b");
    expect(commonName("O=only")).toBe("O=only");
  });
});
