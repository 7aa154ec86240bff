// kimage's purgatory from the plan's side: the committed blobs' parameter
// block, patching and reading it back (hostile blobs give KimageError codes),
// withPurgatory (the segment it adds, the entry it takes over, the digest
// and regions it writes, the console it finds in the DTB) and the
// kexec_load(2) arguments of a plan.
import { describe, expect, it } from "vitest";
import { ensureNode, setString, setU32, setProp, u64Value, stringListValue } from "../../src/fdt/tree.js";
import { planArm64 } from "../../src/plan/arch/arm64.js";
import { S390_RESTART_PSW_MASK, STARTUP_NORMAL_OFFSET, type S390Plan } from "../../src/plan/arch/s390.js";
import { planPpc64 } from "../../src/plan/arch/ppc64.js";
import { buildElf } from "../support/elf-builder.js";
import { planDigest } from "../../src/plan/core/digest.js";
import { memoryMap } from "../../src/plan/core/memory.js";
import { kexecLoadCall, KEXEC_ON_CRASH } from "../../src/plan/kexec-load.js";
import {
  parsePurgatoryHeader,
  patchPurgatory,
  purgatoryBlob,
  readPurgatoryParameters,
  PURGATORY_ARCHES,
  PURGATORY_FIELDS,
  PURGATORY_HEADER_SIZE,
} from "../../src/plan/protocol/purgatory.js";
import { purgatoryConsoleFromDtb } from "../../src/plan/protocol/purgatory-console.js";
import { withPurgatory } from "../../src/plan/purgatory.js";
import { fakeArm64Image, firstKernelDtb, pseriesDtb, rejectionCode } from "../support/plan-builders.js";
import { KimageError } from "../../src/core/errors.js";

const RAM = { start: 0x40000000n, size: 0x40000000n };

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof KimageError) return e.code;
    throw e;
  }
  return "no error";
}

const params = (n = 2) => ({
  sha256: new Uint8Array(32).map((_, i) => i + 1),
  regions: Array.from({ length: n }, (_, i) => ({ start: 0x1000n * BigInt(i + 1), len: 0x1000n })),
  entry: 0x40200000n,
  arg0: 0x7fe00000n,
  arg1: 0n,
  console: { kind: "pl011" as const, addr: 0x9000000n },
});

describe("the committed purgatory blobs", () => {
  it.each(PURGATORY_ARCHES)("%s: a valid parameter block, entry after it, memsz covering the stack", (arch) => {
    const blob = purgatoryBlob(arch);
    const h = parsePurgatoryHeader(blob);
    expect(h.version).toBe(1);
    expect(h.header_size).toBe(PURGATORY_HEADER_SIZE);
    expect(h.entry_offset).toBeGreaterThanOrEqual(BigInt(PURGATORY_HEADER_SIZE));
    // 8 KiB of stack in .bss beyond the file's bytes.
    expect(h.image_memsz - BigInt(blob.length)).toBeGreaterThanOrEqual(8192n);
    // Nothing patched yet: no regions, no console, no digest.
    const p = readPurgatoryParameters(blob);
    expect(p.regions).toEqual([]);
    expect(p.console).toBeUndefined();
    expect(p.sha256.every((b) => b === 0)).toBe(true);
  });

  it("each call returns a fresh copy", () => {
    const a = purgatoryBlob("x86_64");
    a[0] = 0;
    expect(purgatoryBlob("x86_64")[0]).toBe("K".charCodeAt(0));
  });

  it("refuses an arch without a blob", () => {
    expect(code(() => purgatoryBlob("generic"))).toBe("unsupported");
  });
});

describe("patchPurgatory / readPurgatoryParameters", () => {
  it("round-trips every field and leaves the code untouched", () => {
    const blob = purgatoryBlob("arm64");
    const out = patchPurgatory(blob, params(3));
    const back = readPurgatoryParameters(out);
    expect(back.regions).toEqual(params(3).regions);
    expect([...back.sha256]).toEqual([...params().sha256]);
    expect([back.entry, back.arg0, back.arg1]).toEqual([0x40200000n, 0x7fe00000n, 0n]);
    expect(back.console).toEqual({ kind: "pl011", addr: 0x9000000n, shift: 0 });
    expect(out.subarray(PURGATORY_HEADER_SIZE)).toEqual(blob.subarray(PURGATORY_HEADER_SIZE));
    expect(out.subarray(0, PURGATORY_FIELDS.sha256)).toEqual(blob.subarray(0, PURGATORY_FIELDS.sha256));
  });

  it("refuses bad parameters", () => {
    const blob = purgatoryBlob("x86_64");
    expect(code(() => patchPurgatory(blob, { ...params(), sha256: new Uint8Array(31) }))).toBe("bad-argument");
    expect(code(() => patchPurgatory(blob, params(17)))).toBe("bad-argument");
    expect(code(() => patchPurgatory(blob, { ...params(), entry: 1n << 64n }))).toBe("bad-argument");
    expect(code(() => patchPurgatory(blob, { ...params(), console: { kind: "ns16550", addr: 0n, shift: 32 } }))).toBe("bad-argument");
  });

  it("hostile blobs: every header field checked, with its offset", () => {
    const blob = purgatoryBlob("riscv64");
    const mut = (off: number, v: number) => {
      const b = blob.slice();
      b[off] = v;
      return b;
    };
    const offsetOf = (b: Uint8Array) => {
      try {
        parsePurgatoryHeader(b);
      } catch (e) {
        return (e as KimageError).offset;
      }
      return undefined;
    };
    expect(code(() => parsePurgatoryHeader(blob.subarray(0, PURGATORY_HEADER_SIZE - 1)))).toBe("truncated");
    expect(code(() => parsePurgatoryHeader(mut(0, 0x4c)))).toBe("bad-argument");
    expect(code(() => parsePurgatoryHeader(mut(PURGATORY_FIELDS.version, 2)))).toBe("unsupported");
    expect(offsetOf(mut(PURGATORY_FIELDS.header_size, 0x10))).toBe(PURGATORY_FIELDS.header_size);
    expect(offsetOf(mut(PURGATORY_FIELDS.entry_offset + 3, 0xff))).toBe(PURGATORY_FIELDS.entry_offset);
    expect(offsetOf(mut(PURGATORY_FIELDS.image_memsz + 7, 0xff))).toBe(PURGATORY_FIELDS.image_memsz);
    const many = patchPurgatory(blob, params());
    many[PURGATORY_FIELDS.nr_regions] = 17;
    expect(code(() => readPurgatoryParameters(many))).toBe("bad-argument");
    const kind = patchPurgatory(blob, params());
    kind[PURGATORY_FIELDS.console_kind] = 9;
    expect(code(() => readPurgatoryParameters(kind))).toBe("bad-argument");
  });
});

/** A device tree with a stdout-path, as QEMU's virt boards write them. */
function dtbWithConsole(kind: "pl011" | "ns16550" | "alias" | "virtio"): Uint8Array {
  return firstKernelDtb({
    ram: RAM,
    edit: (fdt) => {
      const soc = ensureNode(fdt, "/soc");
      setU32(soc, "#address-cells", 2);
      setU32(soc, "#size-cells", 2);
      const node = ensureNode(fdt, kind === "pl011" ? "/soc/pl011@9000000" : "/soc/serial@10000000");
      setProp(node, "compatible", stringListValue(kind === "pl011" ? ["arm,pl011", "arm,primecell"] : kind === "virtio" ? ["virtio,mmio"] : ["ns16550a"]));
      setProp(node, "reg", new Uint8Array([...u64Value(kind === "pl011" ? 0x9000000n : 0x10000000n), ...u64Value(0x1000n)]));
      if (kind !== "pl011") setU32(node, "reg-shift", 2);
      const chosen = ensureNode(fdt, "/chosen");
      if (kind === "alias") {
        setString(ensureNode(fdt, "/aliases"), "serial0", "/soc/serial@10000000");
        setString(chosen, "stdout-path", "serial0:115200n8");
      } else setString(chosen, "stdout-path", kind === "pl011" ? "/soc/pl011@9000000" : "/soc/serial@10000000");
    },
  });
}

describe("purgatoryConsoleFromDtb", () => {
  it("finds a PL011, an ns16550 (with reg-shift) and an alias; nothing for other devices", () => {
    expect(purgatoryConsoleFromDtb(dtbWithConsole("pl011"))).toEqual({ kind: "pl011", addr: 0x9000000n });
    expect(purgatoryConsoleFromDtb(dtbWithConsole("ns16550"))).toEqual({ kind: "ns16550", addr: 0x10000000n, shift: 2 });
    expect(purgatoryConsoleFromDtb(dtbWithConsole("alias"))).toEqual({ kind: "ns16550", addr: 0x10000000n, shift: 2 });
    expect(purgatoryConsoleFromDtb(dtbWithConsole("virtio"))).toBeUndefined();
    expect(purgatoryConsoleFromDtb(firstKernelDtb({ ram: RAM }))).toBeUndefined();
  });
});

async function arm64Plan(crash = false) {
  const dtb = dtbWithConsole("pl011");
  const memory = crash
    ? memoryMap([
        { start: RAM.start, size: RAM.size, type: "ram" },
        { start: 0x60000000n, size: 0x4000000n, type: "crash" },
      ])
    : undefined;
  const plan = await planArm64({
    kernel: fakeArm64Image(8n << 20n),
    initrd: new Uint8Array(5000).fill(7),
    cmdline: "console=ttyAMA0",
    dtb,
    ...(memory ? { memory } : {}),
    ...(crash ? { crash: { cpuNotes: [{ addr: 0x48000000n, size: 0x1000n }], vmcoreinfo: { addr: 0x48001000n, size: 0x1000n } } } : {}),
  });
  return { plan, dtb, memory };
}

describe("withPurgatory", () => {
  it("adds the patched blob last, takes over entry.pc and keeps every other segment", async () => {
    const { plan, dtb } = await arm64Plan();
    const p = await withPurgatory(plan, { dtb });
    expect(p.segments.slice(0, -1)).toEqual(plan.segments);
    const seg = p.segments[p.segments.length - 1]!;
    expect(seg.name).toBe("purgatory");
    expect(seg.mem % 4096n).toBe(0n);
    expect(seg.memsz).toBe((parsePurgatoryHeader(seg.bytes).image_memsz + 4095n) & ~4095n);
    // top-down: the last pages of RAM
    expect(seg.mem + seg.memsz).toBe(RAM.start + RAM.size);
    expect(p.entry).toEqual({ pc: seg.mem + p.purgatory.entryOffset, registers: {} });
    expect(p.purgatory.kernelEntry).toEqual(plan.entry);
    const d = await planDigest(plan);
    const got = readPurgatoryParameters(seg.bytes);
    expect(Buffer.from(got.sha256).toString("hex")).toBe(d.hex);
    expect(got.regions).toEqual(d.regions.map((r) => ({ start: r.start, len: r.len })));
    expect([got.entry, got.arg0, got.arg1]).toEqual([plan.entry.pc, plan.entry.registers.x0, 0n]);
    expect(got.console).toEqual({ kind: "pl011", addr: 0x9000000n, shift: 0 });
    // The digest of the plan with its purgatory is the plan's: the purgatory segment is skipped.
    expect((await planDigest(p)).hex).toBe(d.hex);
  });

  it("console: none, or an explicit one", async () => {
    const { plan, dtb } = await arm64Plan();
    const none = await withPurgatory(plan, { dtb, console: "none" });
    expect(readPurgatoryParameters(none.segments.at(-1)!.bytes).console).toBeUndefined();
    const mine = await withPurgatory(plan, { dtb, console: { kind: "ns16550", addr: 0x1000n, shift: 2 } });
    expect(readPurgatoryParameters(mine.segments.at(-1)!.bytes).console).toEqual({ kind: "ns16550", addr: 0x1000n, shift: 2 });
  });

  it("a crash plan's purgatory goes in the crash region; kexec_load gets KEXEC_ON_CRASH", async () => {
    const { plan, dtb, memory } = await arm64Plan(true);
    const p = await withPurgatory(plan, { dtb, ...(memory ? { memory } : {}) });
    const seg = p.segments.at(-1)!;
    expect(seg.mem >= 0x60000000n && seg.mem + seg.memsz <= 0x64000000n).toBe(true);
    const call = kexecLoadCall(p);
    expect(call.flags).toBe(((183 << 16) | KEXEC_ON_CRASH) >>> 0);
    expect(call.flagNames).toEqual(["KEXEC_ARCH_AARCH64", "KEXEC_ON_CRASH"]);
  });

  it("refuses a second purgatory and a plan with no map", async () => {
    const { plan, dtb } = await arm64Plan();
    const p = await withPurgatory(plan, { dtb });
    expect(await rejectionCode(withPurgatory(p, { dtb }))).toBe("bad-argument");
    expect(await rejectionCode(withPurgatory(plan, {}))).toBe("bad-argument");
  });
});

describe("kexecLoadCall", () => {
  it("the arguments of kexec_load(2): entry, nr_segments, segments, flags", async () => {
    const { plan, dtb } = await arm64Plan();
    const p = await withPurgatory(plan, { dtb });
    const files = p.segments.map((_, i) => `seg-${i}.bin`);
    const call = kexecLoadCall(p, files);
    expect(call.entry).toBe(p.entry.pc);
    expect(call.nr_segments).toBe(p.segments.length);
    expect(call.flags).toBe(183 << 16);
    expect(call.segments).toEqual(p.segments.map((s, i) => ({ name: s.name, file: files[i], bufsz: BigInt(s.bytes.length), mem: s.mem, memsz: s.memsz })));
  });

  it("refuses what sanity_check_segment_list refuses", async () => {
    const { plan } = await arm64Plan();
    const s = plan.segments[0]!;
    expect(code(() => kexecLoadCall({ ...plan, segments: [{ ...s, mem: s.mem + 1n }] }))).toBe("bad-argument");
    expect(code(() => kexecLoadCall({ ...plan, segments: [{ ...s, memsz: 0x1000n, bytes: new Uint8Array(0x1001) }] }))).toBe("bad-argument");
    expect(code(() => kexecLoadCall({ ...plan, arch: "generic" } as unknown as typeof plan))).toBe("unsupported");
  });
});

describe("s390x: a big-endian blob entered through the restart PSW at 0", () => {
  const GiB = 1n << 30n;
  // A synthetic s390x plan: the kernel at 0 (its first 8 bytes the restart PSW to STARTUP_NORMAL_OFFSET), an initrd after it.
  const s390Plan = (): S390Plan => {
    const kernel = new Uint8Array(0x20000).map((_, i) => (i * 7) & 0xff);
    new DataView(kernel.buffer).setBigUint64(0, S390_RESTART_PSW_MASK + STARTUP_NORMAL_OFFSET, false);
    return {
      arch: "s390x",
      kind: "normal",
      segments: [
        { name: "kernel", bytes: kernel, mem: 0n, memsz: 0x20000n },
        { name: "initrd", bytes: new Uint8Array(0x1800).fill(9), mem: 0x20000n, memsz: 0x2000n },
      ],
      entry: { pc: STARTUP_NORMAL_OFFSET, registers: {} },
      cmdline: "",
      bootParams: {
        parmarea: { initrd_start: 0x20000n, initrd_size: 0x1800n, oldmem_base: 0n, oldmem_size: 0n, max_command_line_size: 0n, command_line: "" },
        restartPsw: S390_RESTART_PSW_MASK + STARTUP_NORMAL_OFFSET,
        signature: null,
        ram: [{ start: 0n, size: 4n * GiB }],
      },
      notes: [],
    };
  };

  it("header.S writes the parameter block in the CPU's order: s390x big-endian, the others little-endian", () => {
    for (const arch of PURGATORY_ARCHES) {
      const blob = purgatoryBlob(arch);
      expect(parsePurgatoryHeader(blob).littleEndian, arch).toBe(arch !== "s390x");
      expect([...blob.subarray(8, 12)], arch).toEqual(arch === "s390x" ? [0, 0, 0, 1] : [1, 0, 0, 0]);
    }
  });

  it("patches and reads back big-endian fields and the SCLP console", () => {
    const blob = purgatoryBlob("s390x");
    const p = { ...params(3), entry: 0x10000n, arg0: 0n, console: { kind: "sclp" as const, addr: 0n, shift: 0 } };
    const out = patchPurgatory(blob, p);
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    expect(dv.getBigUint64(PURGATORY_FIELDS.entry, false)).toBe(0x10000n);
    expect(dv.getUint32(PURGATORY_FIELDS.console_kind, false)).toBe(4);
    expect(dv.getUint32(PURGATORY_FIELDS.nr_regions, false)).toBe(3);
    expect(dv.getBigUint64(PURGATORY_FIELDS.regions + 16, false)).toBe(0x2000n);
    expect(readPurgatoryParameters(out)).toEqual(p);
  });

  it("refuses a version that reads as 1 in neither byte order", () => {
    const blob = purgatoryBlob("s390x");
    blob[11] = 2;
    expect(code(() => parsePurgatoryHeader(blob))).toBe("unsupported");
  });

  it("withPurgatory: the restart PSW at 0 enters the purgatory below 2 GiB, entry 0, the digest covers the PSW", async () => {
    const plan = s390Plan();
    const before = plan.segments[0]!.bytes.slice();
    const memory = memoryMap([{ start: 0n, size: 4n * GiB, type: "ram" }]);
    const p = await withPurgatory(plan, { memory });
    const seg = p.segments.at(-1)!;
    expect(seg.name).toBe("purgatory");
    // The restart PSW's address is 31 bits: the whole blob lies below 2 GiB, top-down.
    expect(seg.mem + seg.memsz).toBe(2n * GiB);
    expect(seg.mem % 0x1000n).toBe(0n);
    const pc = seg.mem + parsePurgatoryHeader(seg.bytes).entry_offset;
    // machine_kexec_file.c: "restart_psw += image->start; memcpy(data.kernel_buf, &restart_psw, ...); image->start = 0;"
    const psw = new DataView(p.segments[0]!.bytes.buffer, p.segments[0]!.bytes.byteOffset).getBigUint64(0, false);
    expect(psw).toBe(S390_RESTART_PSW_MASK + pc);
    expect(p.bootParams.restartPsw).toBe(psw);
    expect(p.entry).toEqual({ pc: 0n, registers: {} });
    expect(p.purgatory.kernelEntry.pc).toBe(STARTUP_NORMAL_OFFSET);
    // Only those 8 bytes change, in a copy.
    expect([...p.segments[0]!.bytes.subarray(8)]).toEqual([...before.subarray(8)]);
    expect(plan.segments[0]!.bytes).toEqual(before);
    // The digest is the patched plan's: what relocate_kernel leaves in memory.
    const d = await planDigest(p);
    const read = readPurgatoryParameters(seg.bytes);
    expect(read.sha256).toEqual(d.digest);
    expect(read.regions).toEqual(d.regions.map((r) => ({ start: r.start, len: r.len })));
    expect(read.entry).toBe(STARTUP_NORMAL_OFFSET);
    expect(read.console).toEqual({ kind: "sclp", addr: 0n, shift: 0 });
    const call = kexecLoadCall(p);
    expect(call.entry).toBe(0n);
    expect(call.flags).toBe(22 << 16);
    expect(call.flagNames).toEqual(["KEXEC_ARCH_S390"]);
  });

  it("withPurgatory: an s390x plan without a kernel segment at 0 is refused", async () => {
    const plan = s390Plan();
    const moved = { ...plan, segments: plan.segments.map((s) => ({ ...s, mem: s.mem + 0x100000n })) };
    expect(await rejectionCode(withPurgatory(moved, { memory: memoryMap([{ start: 0n, size: 4n * GiB, type: "ram" }]) }))).toBe("bad-argument");
  });
});


/** A ppc64el-shaped vmlinux: one PT_LOAD at p_paddr 0 (virtual 0xc000000000000000), entry at its first byte. */
function fakePpc64Vmlinux(): Uint8Array {
  const base = 0xc000000000000000n;
  return buildElf({ class: 64, le: true, machine: 21, entry: base, segments: [{ vaddr: base, paddr: 0n, data: new Uint8Array(0x30000).fill(0x60), memsz: 0x48000n, align: 0x10000n }] }).bytes;
}

describe("ppc64: the blob, the hvterm console and withPurgatory", () => {
  it("the blob's first 0x100 bytes from the entry (kexec_sequence copies them to 0): a branch to the master, and a big-endian 'b .' at 0x60 for secondaries", () => {
    const blob = purgatoryBlob("ppc64");
    const e = Number(parsePurgatoryHeader(blob).entry_offset);
    expect(e + 0x100).toBeLessThanOrEqual(blob.length);
    const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    // Power ISA "b target": primary opcode 18, AA = LK = 0; read little-endian (the purgatory runs with MSR_LE set).
    const first = dv.getUint32(e, true);
    expect(first >>> 26).toBe(18);
    expect(first & 3).toBe(0);
    expect(dv.getUint32(e + 0x60, false)).toBe(0x48000000);
  });

  it("finds the pseries vterm (hvterm1) and its terminal number", () => {
    expect(purgatoryConsoleFromDtb(pseriesDtb())).toEqual({ kind: "hvterm", addr: 0x71000000n });
  });

  it("a ppc64 plan with loadAbove: the purgatory below the RMA, at or above loadAbove, 64 KiB pages; r3/r4 in arg0/arg1; KEXEC_ARCH_PPC64", async () => {
    const dtb = pseriesDtb();
    const plan = await planPpc64({ kernel: fakePpc64Vmlinux(), initrd: new Uint8Array(3000).fill(4), cmdline: "console=hvc0", dtb, loadAbove: 0x2880000n, rmaSize: 0x10000000n });
    const p = await withPurgatory(plan, { dtb });
    const seg = p.segments.at(-1)!;
    expect(seg.mem % 0x10000n).toBe(0n);
    expect(seg.memsz % 0x10000n).toBe(0n);
    expect(seg.mem).toBeGreaterThanOrEqual(0x2880000n);
    expect(seg.mem + seg.memsz).toBeLessThanOrEqual(0x10000000n);
    const got = readPurgatoryParameters(seg.bytes);
    expect([got.entry, got.arg0, got.arg1]).toEqual([plan.entry.pc, plan.entry.registers.r3, plan.entry.registers.r4]);
    expect(got.console).toEqual({ kind: "hvterm", addr: 0x71000000n, shift: 0 });
    const call = kexecLoadCall(p, undefined, 0x10000n);
    expect(call.flags).toBe(21 << 16);
    expect(call.flagNames).toEqual(["KEXEC_ARCH_PPC64"]);
    expect(call.segments.every((s) => s.mem >= 0x2880000n)).toBe(true);
  });

  it("refuses a ppc64 entry state whose r5 is not 0", async () => {
    const dtb = pseriesDtb();
    const plan = await planPpc64({ kernel: fakePpc64Vmlinux(), dtb });
    expect(await rejectionCode(withPurgatory({ ...plan, entry: { ...plan.entry, registers: { ...plan.entry.registers, r5: 1n } } }, { dtb }))).toBe("bad-argument");
  });
});

describe("KEXEC_ARCH", () => {
  it("include/uapi/linux/kexec.h: one value per plan-table arch", async () => {
    const { KEXEC_ARCH } = await import("../../src/plan/kexec-load.js");
    expect(Object.fromEntries(Object.entries(KEXEC_ARCH).map(([k, v]) => [k, [v.name, v.value >>> 16]]))).toEqual({
      x86_64: ["KEXEC_ARCH_X86_64", 62],
      arm64: ["KEXEC_ARCH_AARCH64", 183],
      riscv64: ["KEXEC_ARCH_RISCV", 243],
      arm: ["KEXEC_ARCH_ARM", 40],
      loongarch64: ["KEXEC_ARCH_LOONGARCH", 258],
      s390x: ["KEXEC_ARCH_S390", 22],
      ppc64: ["KEXEC_ARCH_PPC64", 21],
    });
  });
});
