// The x86_64 crash plan: every segment inside the crash region, the ELF core
// header first (checked by readelf and kimage's ELF parser), the kdump e820
// in the boot_params, and "elfcorehdr=0x… " before the command line.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkSegments, memoryMap, parseElf, planX86_64Crash } from "../../src/internals.js";
import { haveTool, readBytes, requireReal } from "../support/real.js";

const k = requireReal("trixie amd64 kernel", (f) => f.suite === "trixie" && f.arch === "amd64" && f.kind === "kernel" && !f.signedPackage);

describe.skipIf(k.length === 0 || !haveTool("readelf", ["-v"]))("x86_64 crash plan", () => {
  it("confines segments, builds the core header and the kdump command line", async () => {
    const region = { start: 0x10000000n, size: 0x8000000n }; // 256 MiB .. 384 MiB
    const memory = memoryMap([
      { start: 0n, size: 0x9fc00n, type: "ram" },
      { start: 0x9fc00n, size: 0x400n, type: "reserved" },
      { start: 0x100000n, size: 0x3ff00000n, type: "ram" },
      { start: 0x40000000n, size: 0x10000n, type: "acpi" },
    ]);
    const cmdline = "console=ttyS0 irqpoll nr_cpus=1 reset_devices";
    const plan = await planX86_64Crash({
      kernel: readBytes(k[0]?.abs ?? ""),
      initrd: new Uint8Array(4096).fill(1),
      cmdline,
      memory,
      crash: { region, cpuNotes: [{ addr: 0x3ff00000n, size: 368n }], vmcoreinfo: { addr: 0x3ff01000n, size: 4096n } },
    });
    expect(plan.kind).toBe("crash");
    expect(plan.segments[0]?.name).toBe("elfcorehdr");
    const crashMap = memoryMap([...memory.regions, { ...region, type: "crash" }]);
    expect(checkSegments(plan.segments, crashMap, { crash: true }).filter((v) => v.code === "outside-crash")).toEqual([]);
    for (const s of plan.segments) {
      expect(s.mem >= region.start && s.mem + s.memsz <= region.start + region.size, s.name).toBe(true);
    }
    const elf = plan.segments[0];
    if (!elf) throw new Error("no header");
    expect(plan.cmdline.startsWith(`elfcorehdr=0x${elf.mem.toString(16)} `)).toBe(true);
    expect(plan.cmdline.endsWith(cmdline)).toBe(true);

    // The core header, by readelf and by kimage.
    const dir = mkdtempSync(join(tmpdir(), "kimage-x86crash-"));
    writeFileSync(join(dir, "core"), elf.bytes);
    const r = spawnSync("readelf", ["-h", "-l", join(dir, "core")], { encoding: "utf8" });
    expect(r.stdout).toMatch(/Type:\s+CORE/);
    expect(r.stdout).toMatch(/Machine:\s+Advanced Micro Devices X86-64/);
    const loads = [...r.stdout.matchAll(/^\s+LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)/gm)];
    // System RAM minus the low 1 MiB and the crash region: [1M, 256M) and [384M, 1G).
    expect(loads.map((m) => [BigInt(m[1] ?? ""), BigInt(m[3] ?? "")])).toEqual([
      [0x100000n, 0x100000n],
      [0x18000000n, 0x18000000n],
    ]);
    expect(r.stdout.match(/^\s+NOTE\s/gm)?.length).toBe(2);
    const parsed = parseElf(elf.bytes, { fileSize: Number.MAX_SAFE_INTEGER });
    expect(parsed.header.e_type).toBe(4);

    // The kdump e820 in boot_params: entries at 0x2d0, count at 0x1e8; the crash region minus the header is usable.
    const bp = plan.segments.find((s) => s.name === "bootparams");
    if (!bp) throw new Error("no bootparams");
    const dv = new DataView(bp.bytes.buffer, bp.bytes.byteOffset, bp.bytes.byteLength);
    const n = bp.bytes[0x1e8] ?? 0;
    const e820 = Array.from({ length: n }, (_, i) => ({ addr: dv.getBigUint64(0x2d0 + i * 20, true), size: dv.getBigUint64(0x2d8 + i * 20, true), type: dv.getUint32(0x2e0 + i * 20, true) }));
    expect(e820[0]).toEqual({ addr: 0n, size: 0x9fc00n, type: 1 });
    expect(e820.some((e) => e.type === 3 && e.addr === 0x40000000n)).toBe(true);
    const usableInCrash = e820.filter((e) => e.type === 1 && e.addr >= region.start && e.addr < region.start + region.size);
    expect(usableInCrash.length).toBeGreaterThan(0);
    for (const e of usableInCrash) expect(e.addr + e.size <= elf.mem || e.addr >= elf.mem + BigInt(elf.bytes.length)).toBe(true);
  });
});
