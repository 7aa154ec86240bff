// No test may pin what the Debian archive changes with every point release:
// kernel ABI versions (shaped like "9.8.7-65-amd64", "9.8.7+deb99"), package versions,
// or the byte sizes of real files. Expectations about real files come from the
// files themselves (their headers, the peer tools) or from the package name the
// fetcher recorded in fixtures/real/manifest.json.
//
// Two checks over every file under test/ (this one excepted):
// - patterns: anything shaped like a Debian kernel ABI or a linux-image package
//   with an ABI in it, whatever the manifest holds today;
// - the manifest: every version, ABI and real-file size it records (files of
//   64 KiB and more, in decimal, with digit separators, and in hex), and the
//   image_size of every arm64/RISC-V Image header.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readHead, realFixtures } from "./support/real.js";

const TEST_DIR = fileURLToPath(new URL(".", import.meta.url));
const SELF = fileURLToPath(import.meta.url);
/**
 * Files exempt, with the reason: the fetcher's own test builds a synthetic
 * archive whose kernels must look like Debian's ABIs (1.0.x+deb9, flavour "fake").
 */
const EXEMPT = new Set([fileURLToPath(new URL("./fetcher-fallback.test.ts", import.meta.url))]);

function testFiles(dir = TEST_DIR, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) testFiles(p, out);
    else if (/\.(ts|mjs|js|json|sh)$/.test(e.name) && p !== SELF && !EXEMPT.has(p)) out.push(p);
  }
  return out;
}

const FLAVOURS = "amd64|arm64|arm64-16k|686|686-pae|armmp|armmp-lpae|powerpc64le|powerpc64le-64k|s390x|riscv64|loong64|cloud-amd64|cloud-arm64|rt-amd64|rt-arm64";
/** Shapes of a Debian kernel ABI or versioned kernel package name. */
export const PIN_PATTERNS: readonly RegExp[] = [
  new RegExp(`\\b\\d+\\.\\d+\\.\\d+-\\d+-(?:${FLAVOURS})\\b`), // 9.8.7-65-amd64
  /\b\d+\.\d+\.\d+\+deb\d+\b/, // 9.8.7+deb99
  /\blinux-(?:image|binary|headers)-(?:unsigned-)?\d/, // linux-image-9.8.7-65-…
];

/** The lines of `text` that match a pattern or contain a literal. */
export function findPins(text: string, literals: ReadonlySet<string>): string[] {
  const hits: string[] = [];
  for (const line of text.split("\n")) {
    if (PIN_PATTERNS.some((re) => re.test(line))) hits.push(line.trim());
    else {
      for (const lit of literals) {
        // Whole tokens only: 0x1db8e00 must not match inside 0x1db8e000.
        const re = new RegExp(`(?<![0-9A-Za-z_.])${lit.replace(/[.+]/g, "\\$&")}(?![0-9A-Za-z_])`);
        if (re.test(line)) {
          hits.push(`${line.trim()}  [${lit}]`);
          break;
        }
      }
    }
  }
  return hits;
}

/** The literals the manifest makes forbidden: versions, ABIs, file sizes, Image sizes. */
function manifestLiterals(): Set<string> {
  const lits = new Set<string>();
  const addNumber = (n: number | bigint) => {
    const d = n.toString();
    lits.add(d);
    lits.add(d.replace(/\B(?=(\d{3})+(?!\d))/g, "_"));
    lits.add(`0x${n.toString(16)}`);
  };
  for (const f of realFixtures()) {
    if (f.kind === "kernel") {
      lits.add(f.version);
      const abi = /^linux-(?:image|binary)-(?:unsigned-)?(.+?)(?:-unsigned)?$/.exec(f.package)?.[1];
      if (abi) lits.add(abi);
    }
    const size = statSync(f.abs).size;
    if (size >= 64 * 1024) addNumber(size);
    if (f.kind === "kernel") {
      const h = readHead(f.abs, 0x40);
      const dv = new DataView(h.buffer, h.byteOffset, h.byteLength);
      // arm64 "ARM\x64" at 0x38, RISC-V "RSC\x05" at 0x38: image_size is le64 at 0x10.
      if (h.length === 0x40 && (dv.getUint32(0x38, true) === 0x644d5241 || dv.getUint32(0x38, true) === 0x05435352)) addNumber(dv.getBigUint64(0x10, true));
    }
  }
  return lits;
}

describe("no test pins the archive's versions or sizes", () => {
  it("the patterns catch the pins that turned CI red (so this check can fail)", () => {
    const lits = new Set(["31165952", "0x1db8e00"]);
    expect(findPins('const named = ["/linux-image-9.8.7-65-amd64/"];', new Set())).toHaveLength(1);
    expect(findPins('"linux-image-9.8.7+deb99-arm64/"', new Set())).toHaveLength(1);
    expect(findPins("expect(k.bytes.length).toBe(0x1db8e00);", lits)).toHaveLength(1);
    expect(findPins("expect(n).toBe(31_165_952);", new Set(["31_165_952"]))).toHaveLength(1);
    // (The versions above are made up: a real one here would be a pin itself.) Synthetic banners and unrelated numbers are fine.
    expect(findPins('"Linux version 6.1.0-test-amd64 (builder@kimage) #1 SMP Debian 6.1.0-1"', lits)).toEqual([]);
    expect(findPins("expect(x).toBe(0x1db8e000);", lits)).toEqual([]);
  });

  it("no file under test/ contains a kernel ABI, a kernel package version or a real file's size", () => {
    const lits = manifestLiterals();
    const found: string[] = [];
    for (const f of testFiles()) {
      for (const hit of findPins(readFileSync(f, "utf8"), lits)) found.push(`${relative(TEST_DIR, f)}: ${hit}`);
    }
    expect(found).toEqual([]);
  });
});
