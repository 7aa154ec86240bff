/**
 * `kimage plan --arch arm64|riscv64|x86_64|arm|loongarch64|s390x|ppc64 --kernel FILE [--initrd FILE]
 * [--cmdline STR] [--dtb FILE] [--memory SPEC | --iomem FILE]
 * [--exclude START:SIZE …] [--crash START:SIZE --vmcoreinfo ADDR:SIZE
 * [--cpu-note ADDR:SIZE …]] [--seed N] [--purgatory [--purgatory-console
 * auto|none|sclp|KIND:ADDR[:SHIFT]]] [--out DIR] [--svg FILE [--log-scale]]
 * [--json]`: where every byte goes, how to enter the kernel, and the SHA-256
 * digest a purgatory checks. `--out DIR` writes `plan.json` and one file per
 * segment; `--svg FILE` writes the plan drawn as a memory map (the picture
 * the web page draws, `planSvg`). `--purgatory` adds kimage's purgatory
 * segment (entry.pc becomes its entry) and `plan.json` then holds the
 * `kexec_load(2)` arguments (`kexec_load`).
 *
 * `--kernel` may be a unified kernel image: the plan then takes what
 * systemd-stub would hand over (`.linux`, `.ucode` + `.initrd` + the stub's
 * generated cpios, `.cmdline` unless `--cmdline`, the chosen `.dtbauto`/`.dtb`)
 * for `--profile N` (default 0) and the `--addon FILE`s, and `plan.json`
 * gains a `uki` block with the envelope's verdict against the `--cert`
 * anchors (src/plan/uki.ts).
 *
 * To mirror where the running kernel's own `kexec_file_load` would put
 * everything (the placement referee, test/plan/referee/): `--memblock DIR`
 * reads memblock's view (`DIR/memory`, `DIR/reserved`: copies of
 * /sys/kernel/debug/memblock/*) instead of a memory map (arm64, riscv64
 * walk it); x86_64 `--running-kernel 6.1|6.12|7.x` takes Debian's values of
 * the loading kernel's purgatory and hole search (`X86_RUNNING_KERNELS`),
 * `--kernel-purgatory [BUFSZ:]MEMSZ` states the purgatory's size, and
 * `--efi-map-size BYTES` the EFI runtime map an EFI-booted kernel adds to boot_params;
 * arm64 `--dtb-seed N` says the loading kernel's RNG is ready (the DTB gets
 * kaslr-seed and rng-seed, drawn from N; the placement stays deterministic).
 *
 * ppc64 `--load-above ADDR` is the running kernel's `__pa(_end)` (its
 * /proc/device-tree/chosen/linux,kernel-end): for `kexec_load(2)` every
 * segment must lie above it (machine_kexec_prepare's -ETXTBSY), so the
 * kernel is loaded there and copies itself down to 0 at start
 * (`Ppc64PlanInput.loadAbove`).
 *
 * @module
 */

import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { planDigest, type PlanDigest } from "../plan/core/digest.js";
import type { CoreNoteRange } from "../plan/protocol/elfcore.js";
import type { CrashInput } from "../plan/protocol/kdump.js";
import { PLAN_TABLE, planTableRow, type PlanRequest } from "../plan/table.js";
import { nodeHashProvider } from "../node/hash.js";
import type { MemoryMap, Range } from "../plan/core/memory.js";
import { memoryEntriesFromCli, memoryMapFromCli, memoryMapFromFdt, memoryMapFromIomem } from "../plan/core/memory-parse.js";
import type { AnyPlan } from "../plan/core/types.js";
import { planSvg } from "../plan/svg.js";
import { parseFdt } from "../fdt/index.js";
import type { PurgatoryConsole } from "../plan/protocol/purgatory.js";
import { withPurgatory } from "../plan/purgatory.js";
import { probeUki } from "../formats/pe/uki/format.js";
import { ukiPlanInputs, ukiPlanRequest, type UkiPlanInputs } from "../plan/uki.js";
import { readCertificateFiles } from "./certs.js";
import { memoryMapFromMemblock } from "../plan/core/memblock.js";
import { X86_RUNNING_KERNELS, type X86KernelPurgatory } from "../plan/arch/x86.js";
import type { HoleSearch } from "../plan/core/allocator.js";
import { readInput } from "./io.js";
import { planJson } from "./plan-json.js";
import { UnreadableError, UsageError, type Command } from "./types.js";

const hex = (n: bigint) => `0x${n.toString(16)}`;

export { planJson };

/** The table's architectures: "arm64|riscv64|x86_64|s390x|ppc64" and "arm64, riscv64, x86_64, s390x or ppc64". */
const ARCHES = PLAN_TABLE.map((row) => row.arch);
const ARCH_CHOICES = ARCHES.join("|");

/** A readable table of the segments, then the entry state and the notes. */
export function renderPlan(plan: AnyPlan, digest?: PlanDigest): string {
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
    ...(digest ? [`purgatory digest (sha256 over ${digest.regions.length} region(s), data + zero fill): ${digest.hex}`] : []),
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

/** `--purgatory-console auto|none|sclp|x86-pio:PORT|pl011:ADDR|ns16550:ADDR[:SHIFT]|hvterm:TERMNO`. */
function parseConsole(v: unknown): PurgatoryConsole | "auto" | "none" {
  if (v === undefined || v === "auto" || v === "none") return v ?? "auto";
  if (v === "sclp") return { kind: "sclp", addr: 0n };
  const m = /^(x86-pio|pl011|ns16550|hvterm):(0x[0-9a-f]+|[0-9]+)(?::([0-9]+))?$/i.exec(String(v));
  if (!m) throw new UsageError(`--purgatory-console must be auto, none, sclp or x86-pio|pl011|ns16550|hvterm:ADDR[:SHIFT] (got ${JSON.stringify(v)})`);
  const shift = m[3] === undefined ? undefined : Number(m[3]);
  if (shift !== undefined && shift > 31) throw new UsageError("--purgatory-console: the shift is at most 31");
  return { kind: (m[1] as string).toLowerCase() as PurgatoryConsole["kind"], addr: BigInt(m[2] as string), ...(shift !== undefined ? { shift } : {}) };
}

/** `--profile`, `--addon`, `--cert` and `--cmdline` applied to a UKI given as `--kernel`. */
async function ukiInputs(bytes: Uint8Array, values: Record<string, unknown>, initrd: Uint8Array | undefined, dtb: Uint8Array | undefined): Promise<UkiPlanInputs> {
  if (initrd) throw new UsageError("plan: a UKI carries its own initrd (.ucode, .initrd): --initrd cannot be given with it");
  let profile: number | undefined;
  if (values.profile !== undefined) {
    profile = Number(values.profile);
    if (!/^[0-9]+$/.test(String(values.profile)) || !Number.isSafeInteger(profile)) throw new UsageError(`--profile must be a profile number (got ${JSON.stringify(values.profile)})`);
  }
  const addonPaths = (values.addon as string[] | undefined) ?? [];
  const addons = await Promise.all(addonPaths.map(async (p) => ({ name: basename(p), bytes: await readInput(p) })));
  const trust = await readCertificateFiles((values.cert as string[] | undefined) ?? []);
  return ukiPlanInputs(bytes, {
    ...(profile !== undefined ? { profile } : {}),
    ...(values.cmdline !== undefined ? { cmdline: String(values.cmdline) } : {}),
    ...(dtb ? { dtbauto: { firmwareDtb: dtb } } : {}),
    addons,
    verify: { trust, hash: nodeHashProvider },
  });
}

/** plan.json with the `uki` block: where each input came from and the envelope's verdict. */
function withUki(json: Record<string, unknown>, uki: UkiPlanInputs | undefined): Record<string, unknown> {
  if (!uki) return json;
  const off = (n: number) => (n < 0 ? null : hex(BigInt(n)));
  return {
    ...json,
    uki: {
      profile: uki.profile,
      profileId: uki.profileId,
      profileTitle: uki.profileTitle,
      stub: uki.stub,
      cmdlineSource: uki.cmdlineSource,
      initrd: uki.initrdParts.map((p) => ({ source: p.source, at: hex(BigInt(p.at)), length: p.length, pad: p.pad, offset: off(p.offset) })),
      dtb: uki.dtb ? { source: uki.dtb.source, offset: off(uki.dtb.offset), matchedBy: uki.dtb.choice?.by ?? null, compatible: uki.dtb.choice?.compatible ?? null } : null,
      addons: uki.addons,
      envelope: uki.envelope,
      findings: uki.findings,
    },
  };
}

/** `--kernel-purgatory [BUFSZ:]MEMSZ` (hex with 0x, or decimal). */
function parseKernelPurgatory(v: string): X86KernelPurgatory {
  const m = /^(?:(0x[0-9a-f]+|[0-9]+):)?(0x[0-9a-f]+|[0-9]+)$/i.exec(v);
  if (!m) throw new UsageError(`--kernel-purgatory must be [BUFSZ:]MEMSZ (got ${JSON.stringify(v)})`);
  const memsz = BigInt(m[2] as string);
  const bufsz = m[1] === undefined ? memsz : BigInt(m[1]);
  if (memsz === 0n || bufsz > memsz || memsz >= 1n << 64n) throw new UsageError("--kernel-purgatory: need 0 < BUFSZ <= MEMSZ < 2^64");
  return { bufsz, memsz };
}

/** The plan command. */
export const planCommand: Command = {
  name: "plan",
  usage: `plan --arch ${ARCH_CHOICES} --kernel FILE|UKI [--profile N] [--addon FILE …] [--cert CERT …] [--initrd FILE] [--cmdline STR] [--dtb FILE] [--memory SPEC | --iomem FILE | --memblock DIR] [--exclude START:SIZE …] [--crash START:SIZE --vmcoreinfo ADDR:SIZE [--cpu-note ADDR:SIZE …]] [--seed N] [--running-kernel 6.1|6.12|7.x] [--kernel-purgatory [BUFSZ:]MEMSZ] [--efi-map-size BYTES] [--dtb-seed N] [--load-above ADDR] [--purgatory [--purgatory-console auto|none|sclp|KIND:ADDR[:SHIFT]]] [--out DIR] [--svg FILE [--log-scale]] [--json]`,
  summary: "a placement plan: segments, entry state, boot parameters",
  options: {
    arch: { type: "string" },
    kernel: { type: "string" },
    profile: { type: "string" },
    addon: { type: "string", multiple: true },
    cert: { type: "string", multiple: true },
    initrd: { type: "string" },
    cmdline: { type: "string" },
    dtb: { type: "string" },
    memory: { type: "string" },
    iomem: { type: "string" },
    memblock: { type: "string" },
    "running-kernel": { type: "string" },
    "kernel-purgatory": { type: "string" },
    "efi-map-size": { type: "string" },
    "dtb-seed": { type: "string" },
    "load-above": { type: "string" },
    exclude: { type: "string", multiple: true },
    seed: { type: "string" },
    crash: { type: "string" },
    vmcoreinfo: { type: "string" },
    "cpu-note": { type: "string", multiple: true },
    "hart-id": { type: "string" },
    purgatory: { type: "boolean", default: false },
    "purgatory-console": { type: "string" },
    out: { type: "string" },
    svg: { type: "string" },
    "log-scale": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
  positionals: [],
  async run({ io, values }) {
    const arch = values.arch === undefined ? undefined : String(values.arch);
    if (arch === undefined) throw new UsageError("plan: --arch is required (the usage below lists them)");
    const row = planTableRow(arch);
    if (row === undefined) throw new UsageError(`plan: unknown --arch ${arch} (the usage below lists them)`);
    if (values.kernel === undefined) throw new UsageError("plan: --kernel FILE is required");
    if ([values.memory, values.iomem, values.memblock].filter((v) => v !== undefined).length > 1) throw new UsageError("plan: give one of --memory, --iomem and --memblock");
    if (row.needs.input === "dtb" && values.dtb === undefined) throw new UsageError(`plan: --dtb FILE (${row.needs.why}) is required for ${arch}`);
    if (row.needs.input === "memory" && values.memory === undefined && values.iomem === undefined && values.memblock === undefined) {
      throw new UsageError(`plan: --memory SPEC or --iomem FILE is required for ${arch} (${row.needs.why})`);
    }
    let kernelPurgatory: X86KernelPurgatory | undefined;
    let search: HoleSearch | undefined;
    let dtbSeed: bigint | undefined;
    if (values["dtb-seed"] !== undefined) {
      if (arch !== "arm64") throw new UsageError("plan: --dtb-seed is an arm64 input (the loading kernel's RNG is ready: kaslr-seed and rng-seed in the DTB)");
      try {
        dtbSeed = BigInt(String(values["dtb-seed"]));
      } catch {
        throw new UsageError("--dtb-seed must be an integer");
      }
    }
    let loadAbove: bigint | undefined;
    if (values["load-above"] !== undefined) {
      if (arch !== "ppc64") throw new UsageError("plan: --load-above is a ppc64 input (the running kernel's __pa(_end), /proc/device-tree/chosen/linux,kernel-end)");
      const v = String(values["load-above"]);
      if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(v) || BigInt(v) >= 1n << 64n) throw new UsageError(`plan: --load-above must be an address below 2^64 (got ${JSON.stringify(v)})`);
      loadAbove = BigInt(v);
    }
    let efiMapSize: number | undefined;
    if (values["efi-map-size"] !== undefined) {
      if (arch !== "x86_64") throw new UsageError("plan: --efi-map-size is an x86_64 input (boot_params' EFI runtime map)");
      const v = String(values["efi-map-size"]);
      efiMapSize = /^(0x[0-9a-f]+|[0-9]+)$/i.test(v) ? Number(v) : NaN;
      if (!Number.isSafeInteger(efiMapSize) || efiMapSize > 1 << 20) throw new UsageError(`plan: --efi-map-size must be a byte count up to 1 MiB (got ${JSON.stringify(v)})`);
    }
    if (values["running-kernel"] !== undefined || values["kernel-purgatory"] !== undefined) {
      if (arch !== "x86_64") throw new UsageError("plan: --running-kernel and --kernel-purgatory are x86_64 inputs (arm64 and riscv64 kexec_file_load has no purgatory of the kernel's to keep free)");
      if (values["running-kernel"] !== undefined) {
        const series = String(values["running-kernel"]);
        const model = (X86_RUNNING_KERNELS as Record<string, (typeof X86_RUNNING_KERNELS)["6.12"] | undefined>)[series];
        if (!model || !Object.hasOwn(X86_RUNNING_KERNELS, series)) throw new UsageError(`plan: --running-kernel must be ${Object.keys(X86_RUNNING_KERNELS).join("|")} (got ${JSON.stringify(series)})`);
        kernelPurgatory = model.kernelPurgatory;
        search = model.search;
      }
      if (values["kernel-purgatory"] !== undefined) kernelPurgatory = parseKernelPurgatory(String(values["kernel-purgatory"]));
    }
    const kernel = await readInput(String(values.kernel));
    const initrd = await readOptional(values.initrd);
    const dtb = await readOptional(values.dtb);
    let memory: MemoryMap | undefined;
    const uki = probeUki(kernel) ? await ukiInputs(kernel, values, initrd, dtb) : undefined;
    if (!uki && (values.profile !== undefined || values.addon !== undefined)) throw new UsageError("plan: --profile and --addon need a UKI as --kernel");

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
    if (values.memblock !== undefined) {
      const dir = String(values.memblock);
      const read = async (name: string) => {
        try {
          return await readFile(join(dir, name), "utf8");
        } catch (e) {
          throw new UnreadableError(`cannot read ${join(dir, name)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
      };
      memory = memoryMapFromMemblock(await read("memory"), await read("reserved"));
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
    let crash: CrashInput | undefined;
    if (values.crash !== undefined) {
      if (values.vmcoreinfo === undefined) throw new UsageError("plan: --crash needs --vmcoreinfo ADDR:SIZE (/sys/kernel/vmcoreinfo)");
      const note = (spec: string): CoreNoteRange => {
        const r = parseRangeSpec(spec);
        return { addr: r.start, size: r.size };
      };
      crash = {
        region: parseRangeSpec(String(values.crash)),
        vmcoreinfo: note(String(values.vmcoreinfo)),
        cpuNotes: ((values["cpu-note"] as string[] | undefined) ?? []).map(note),
      };
    }
    let hartId: bigint | undefined;
    if (row.hartId && values["hart-id"] !== undefined) hartId = BigInt(String(values["hart-id"]));
    const given: PlanRequest = {
      kernel,
      ...(initrd ? { initrd } : {}),
      ...(values.cmdline !== undefined ? { cmdline: String(values.cmdline) } : {}),
      ...(exclude.length > 0 ? { exclude } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(dtb ? { dtb } : {}),
      ...(memory ? { memory } : {}),
      ...(hartId !== undefined ? { hartId } : {}),
      ...(kernelPurgatory ? { kernelPurgatory } : {}),
      ...(search ? { search } : {}),
      ...(efiMapSize ? { efiMapSize } : {}),
      ...(dtbSeed !== undefined ? { dtbSeed } : {}),
      ...(loadAbove !== undefined ? { loadAbove } : {}),
    };
    // A UKI: kernel, initrd and cmdline from it; its device tree in place of the first kernel's (the memory map stays the first kernel's).
    const request: PlanRequest = uki ? ukiPlanRequest(uki, given) : given;
    if (crash && !row.crash) throw new UsageError(`plan: --crash is not supported for ${arch} yet`);
    const planned = crash && row.crash ? await row.crash(request, crash) : await row.plan(request);
    const base = uki ? { ...planned, notes: [...uki.notes.map((n) => `UKI ${n}`), ...planned.notes] } : planned;
    if (values["purgatory-console"] !== undefined && !values.purgatory) throw new UsageError("plan: --purgatory-console needs --purgatory");
    const plan = values.purgatory
      ? await withPurgatory(base, {
          ...(memory ? { memory } : {}),
          ...(dtb ? { dtb } : {}),
          exclude,
          console: parseConsole(values["purgatory-console"]),
          hash: nodeHashProvider,
        })
      : base;
    const digest = await planDigest(plan, { hash: nodeHashProvider });
    if (values.out !== undefined) {
      const dir = String(values.out);
      await mkdir(dir, { recursive: true });
      const files = plan.segments.map((_, i) => `seg-${i}.bin`);
      await Promise.all(plan.segments.map((s, i) => writeFile(join(dir, files[i] as string), s.bytes)));
      await writeFile(join(dir, "plan.json"), JSON.stringify(withUki(planJson(plan, files, digest), uki), null, 2) + "\n");
      io.err(`kimage: wrote ${dir}/plan.json and ${files.length} segment file(s)`);
    }
    if (values.svg !== undefined) {
      // The map drawn is the one the plan used: given, or the device tree's (/memory, /reserved-memory, /memreserve/).
      const map = memory ?? (dtb ? memoryMapFromFdt(parseFdt(dtb)) : undefined);
      const svg = planSvg(plan, { ...(map ? { memory: map } : {}), exclude, scale: values["log-scale"] ? "log" : "linear" });
      await writeFile(String(values.svg), svg);
      io.err(`kimage: wrote ${String(values.svg)}`);
    }
    io.out(values.json ? JSON.stringify(withUki(planJson(plan, undefined, digest), uki), null, 2) : renderPlan(plan, digest));
    return 0;
  },
};
