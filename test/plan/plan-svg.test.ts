// The plan drawn as a memory map (src/plan/svg.ts): `kimage plan --svg FILE`
// on real kernels (x86_64 bzImage, arm64 Image with Debian's juno.dtb,
// riscv64 Image with QEMU virt's device tree) writes one
// [data-segment=NAME] element per segment whose data-mem/data-memsz equal
// `plan --json`'s segments, in order; the map's regions equal the memory
// map; the log scale keeps addresses in order and makes a 4 KiB segment
// visible beside gigabytes.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { memoryMap } from "../../src/plan/core/memory.js";
import type { AnyPlan } from "../../src/plan/core/types.js";
import { formatSize, MIN_SEGMENT_PX, planSvg } from "../../src/plan/svg.js";
import { dumpVirtDtb, haveQemu } from "../support/qemu.js";
import { requireReal } from "../support/real.js";

const x86 = requireReal("amd64 kernel", (f) => f.arch === "amd64" && f.kind === "kernel" && f.suite === "trixie" && f.signedPackage);
const arm64 = requireReal("arm64 kernel", (f) => f.arch === "arm64" && f.kind === "kernel" && f.suite === "trixie" && !f.path.includes("16k") && f.signedPackage);
const juno = requireReal("arm64 juno.dtb", (f) => f.arch === "arm64" && f.kind === "dtb" && f.suite === "trixie");
const riscv = requireReal("riscv64 kernel", (f) => f.arch === "riscv64" && f.kind === "kernel");

/** The segments an SVG draws: [name, mem, memsz] in document order. */
export function svgSegments(svg: string): [string, string, string][] {
  return [...svg.matchAll(/<g data-segment="([^"]*)" data-mem="(0x[0-9a-f]+)" data-memsz="(0x[0-9a-f]+)"/g)].map((m) => [m[1] ?? "", m[2] ?? "", m[3] ?? ""]);
}

function cliPlan(args: string[]): { json: { segments: { name: string; mem: string; memsz: string }[]; entry: { pc: string } }; svg: string; logSvg: string } {
  const dir = mkdtempSync(join(tmpdir(), "kimage-svg-"));
  const run = (extra: string[]) => {
    const r = spawnSync("node", ["dist/cli.js", "plan", ...args, "--seed", "7", ...extra], { encoding: "utf8", maxBuffer: 64 << 20 });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  };
  const json = JSON.parse(run(["--json", "--svg", join(dir, "p.svg")])) as ReturnType<typeof cliPlan>["json"];
  run(["--svg", join(dir, "log.svg"), "--log-scale"]);
  return { json, svg: readFileSync(join(dir, "p.svg"), "utf8"), logSvg: readFileSync(join(dir, "log.svg"), "utf8") };
}

function expectSameSegments(p: ReturnType<typeof cliPlan>): void {
  const want = p.json.segments.map((s) => [s.name, s.mem, s.memsz]);
  expect(want.length).toBeGreaterThan(1);
  expect(svgSegments(p.svg)).toEqual(want);
  expect(svgSegments(p.logSvg)).toEqual(want);
  expect(p.svg).toContain(`data-entry="${p.json.entry.pc}"`);
  expect(p.logSvg).toContain('data-scale="log"');
}

describe("plan --svg on real kernels", () => {
  it.skipIf(x86.length === 0)("x86_64: the SVG's segments equal plan --json's, the map's regions the --memory map", () => {
    const k = x86[0]?.abs ?? "";
    const p = cliPlan(["--arch", "x86_64", "--kernel", k, "--memory", "0x1000:0x9e000,0x100000:0x7ff00000,0x100000000:0x80000000", "--initrd", k, "--exclude", "0x1000000:0x1000000"]);
    expectSameSegments(p);
    const regions = [...p.svg.matchAll(/data-region="(\w+)" data-start="(0x[0-9a-f]+)" data-size="(0x[0-9a-f]+)"/g)].map((m) => m.slice(1));
    expect(regions).toEqual([
      ["ram", "0x1000", "0x9e000"],
      ["ram", "0x100000", "0x7ff00000"],
      ["ram", "0x100000000", "0x80000000"],
    ]);
    expect(p.svg).toContain('data-excluded="" data-start="0x1000000" data-size="0x1000000"');
    expect(p.json.segments.map((s) => s.name)).toContain("initrd");
  });

  it.skipIf(arm64.length === 0 || juno.length === 0)("arm64 with Debian's juno.dtb: the SVG's segments equal plan --json's; RAM comes from the tree", () => {
    const p = cliPlan(["--arch", "arm64", "--kernel", arm64[0]?.abs ?? "", "--dtb", juno[0]?.abs ?? "", "--cmdline", "console=ttyAMA0"]);
    expectSameSegments(p);
    expect(p.svg).toMatch(/data-region="ram"/);
  });

  it.skipIf(riscv.length === 0 || !haveQemu("riscv64"))("riscv64 with QEMU virt's device tree: the SVG's segments equal plan --json's", () => {
    const dir = mkdtempSync(join(tmpdir(), "kimage-svg-dtb-"));
    writeFileSync(join(dir, "virt.dtb"), dumpVirtDtb("riscv64", 512));
    const p = cliPlan(["--arch", "riscv64", "--kernel", riscv[0]?.abs ?? "", "--dtb", join(dir, "virt.dtb")]);
    expectSameSegments(p);
  });
});

describe("planSvg", () => {
  const seg = (name: string, mem: bigint, memsz: bigint) => ({ name, mem, memsz, bytes: new Uint8Array(0) });
  const plan: AnyPlan = {
    arch: "x86_64",
    kind: "normal",
    segments: [seg("kernel", 0x1000000n, 0x2000000n), seg("bootparams<&>", 0xfffff000n, 0x1000n)],
    entry: { pc: 0x1000200n, registers: {} },
    cmdline: "",
    bootParams: {},
    notes: [],
  };
  const memory = memoryMap([{ start: 0n, size: 0x100000000n, type: "ram" }, { start: 0xa0000n, size: 0x60000n, type: "reserved" }]);
  const widthOf = (svg: string, name: string) => Number(new RegExp(`data-segment="${name}"[^>]*>(?:<title>[^<]*</title>)<rect x="[0-9.]+" y="[0-9.]+" width="([0-9.]+)"`).exec(svg)?.[1]);
  const xOf = (svg: string, name: string) => Number(new RegExp(`data-segment="${name}"[^>]*>(?:<title>[^<]*</title>)<rect x="([0-9.]+)"`).exec(svg)?.[1]);

  it("escapes names, draws segments at scale with a minimum width, and the log scale widens small segments in order", () => {
    const lin = planSvg(plan, { memory });
    const log = planSvg(plan, { memory, scale: "log" });
    expect(lin).toContain('data-segment="bootparams&lt;&amp;&gt;"');
    expect(lin).not.toContain("<&>");
    // Linear over 4 GiB at 928 px: the 32 MiB kernel is ~7 px, a 4 KiB page gets the minimum.
    expect(widthOf(lin, "kernel")).toBeCloseTo((928 * 0x2000000) / 0x100000000, 0);
    expect(widthOf(lin, "bootparams&lt;&amp;&gt;")).toBe(MIN_SEGMENT_PX);
    expect(widthOf(log, "bootparams&lt;&amp;&gt;")).toBeGreaterThan(20);
    expect(xOf(log, "kernel")).toBeLessThan(xOf(log, "bootparams&lt;&amp;&gt;"));
    expect([...lin.matchAll(/data-region="(\w+)"/g)].map((m) => m[1])).toEqual(["ram", "reserved", "ram"]);
  });

  it("draws a plan without a memory map, and sizes in binary units", () => {
    const svg = planSvg({ ...plan, segments: [] });
    expect(svg.startsWith("<svg ")).toBe(true);
    expect(svgSegments(svg)).toEqual([]);
    expect(formatSize(0x1000n)).toBe("4 KiB");
    expect(formatSize(0x37ef000n)).toBe("55.9 MiB");
    expect(formatSize(300n)).toBe("300 B");
  });
});
