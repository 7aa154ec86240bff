/**
 * `kimage plan --arch arm64 --kernel FILE [--initrd FILE] [--cmdline STR]
 * [--dtb FILE] [--memory SPEC | --iomem FILE] [--exclude START:SIZE …]
 * [--seed N] [--out DIR] [--json]`: where every byte goes and how to enter
 * the kernel. `--out DIR` writes `plan.json` and one file per segment.
 *
 * @module
 */

import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { planArm64 } from "../plan/arm64.js";
import type { MemoryMap, Range } from "../plan/memory.js";
import { memoryEntriesFromCli, memoryMapFromCli, memoryMapFromIomem } from "../plan/memory-parse.js";
import type { Plan } from "../plan/types.js";
import { readInput } from "./io.js";
import { jsonReplacer } from "./json.js";
import { UnreadableError, UsageError, type Command } from "./types.js";

const hex = (n: bigint) => `0x${n.toString(16)}`;

/** The JSON form of a plan, as `plan.json` holds it (addresses as hex strings). */
export function planJson(plan: Plan, files?: string[]): Record<string, unknown> {
  return {
    arch: plan.arch,
    kind: plan.kind,
    cmdline: plan.cmdline,
    entry: { pc: hex(plan.entry.pc), registers: Object.fromEntries(Object.entries(plan.entry.registers).map(([k, v]) => [k, hex(v)])) },
    segments: plan.segments.map((s, i) => ({
      name: s.name,
      ...(files ? { file: files[i] } : {}),
      mem: hex(s.mem),
      memsz: hex(s.memsz),
      bufsz: hex(BigInt(s.bytes.length)),
      ...(s.align !== undefined ? { align: hex(s.align) } : {}),
    })),
    bootParams: JSON.parse(JSON.stringify(plan.bootParams, jsonReplacer)) as unknown,
    notes: plan.notes,
  };
}

/** A readable table of the segments, then the entry state and the notes. */
export function renderPlan(plan: Plan): string {
  const rows = plan.segments.map((s) => [s.name, hex(s.mem), hex(s.mem + s.memsz), hex(s.memsz), String(s.bytes.length)]);
  const head = ["segment", "mem", "end", "memsz", "bytes"];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i] as number)).join("  ");
  return [
    `${plan.arch} ${plan.kind} plan`,
    line(head),
    ...rows.map(line),
    `entry: pc=${hex(plan.entry.pc)} ${Object.entries(plan.entry.registers).map(([k, v]) => `${k}=${hex(v)}`).join(" ")}`,
    `cmdline: ${JSON.stringify(plan.cmdline)}`,
    "why:",
    ...plan.notes.map((n) => `  - ${n}`),
  ].join("\n");
}

async function readOptional(path: unknown): Promise<Uint8Array | undefined> {
  return path === undefined ? undefined : readInput(String(path));
}

function parseRangeSpec(spec: string): Range {
  const entries = memoryEntriesFromCli(spec);
  const e = entries[0];
  if (!e || entries.length !== 1) throw new UsageError(`expected one START:SIZE range, got ${JSON.stringify(spec)}`);
  return { start: e.start, size: e.size };
}

/** The plan command. */
export const planCommand: Command = {
  name: "plan",
  usage: "plan --arch arm64 --kernel FILE [--initrd FILE] [--cmdline STR] --dtb FILE [--memory SPEC | --iomem FILE] [--exclude START:SIZE …] [--seed N] [--out DIR] [--json]",
  summary: "a placement plan: segments, entry state, boot parameters",
  options: {
    arch: { type: "string" },
    kernel: { type: "string" },
    initrd: { type: "string" },
    cmdline: { type: "string" },
    dtb: { type: "string" },
    memory: { type: "string" },
    iomem: { type: "string" },
    exclude: { type: "string", multiple: true },
    seed: { type: "string" },
    out: { type: "string" },
    json: { type: "boolean", default: false },
  },
  positionals: [],
  async run({ io, values }) {
    const arch = values.arch === undefined ? undefined : String(values.arch);
    if (arch === undefined) throw new UsageError("plan: --arch is required (arm64)");
    if (arch !== "arm64") throw new UsageError(`plan: --arch ${arch} is not supported yet (arm64 is)`);
    if (values.kernel === undefined) throw new UsageError("plan: --kernel FILE is required");
    if (values.memory !== undefined && values.iomem !== undefined) throw new UsageError("plan: give --memory or --iomem, not both");
    if (values.dtb === undefined) throw new UsageError("plan: --dtb FILE (the first kernel's device tree) is required for arm64");
    const kernel = await readInput(String(values.kernel));
    const initrd = await readOptional(values.initrd);
    const dtb = await readInput(String(values.dtb));
    let memory: MemoryMap | undefined;
    if (values.memory !== undefined) memory = memoryMapFromCli(String(values.memory));
    if (values.iomem !== undefined) {
      let text: string;
      try {
        text = await readFile(String(values.iomem), "utf8");
      } catch (e) {
        throw new UnreadableError(`cannot read ${String(values.iomem)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      memory = memoryMapFromIomem(text);
    }
    const exclude = ((values.exclude as string[] | undefined) ?? []).map(parseRangeSpec);
    let seed: bigint | undefined;
    if (values.seed !== undefined) {
      try {
        seed = BigInt(String(values.seed));
      } catch {
        throw new UsageError("--seed must be an integer");
      }
    }
    const plan = await planArm64({
      kernel,
      dtb,
      ...(initrd ? { initrd } : {}),
      ...(values.cmdline !== undefined ? { cmdline: String(values.cmdline) } : {}),
      ...(memory ? { memory } : {}),
      ...(exclude.length > 0 ? { exclude } : {}),
      ...(seed !== undefined ? { seed } : {}),
    });
    if (values.out !== undefined) {
      const dir = String(values.out);
      await mkdir(dir, { recursive: true });
      const files = plan.segments.map((_, i) => `seg-${i}.bin`);
      await Promise.all(plan.segments.map((s, i) => writeFile(join(dir, files[i] as string), s.bytes)));
      await writeFile(join(dir, "plan.json"), JSON.stringify(planJson(plan, files), null, 2) + "\n");
      io.err(`kimage: wrote ${dir}/plan.json and ${files.length} segment file(s)`);
    }
    io.out(values.json ? JSON.stringify(planJson(plan), null, 2) : renderPlan(plan));
    return 0;
  },
};
