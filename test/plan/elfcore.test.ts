// The ELF core header (crash_prepare_elf64_headers): every field, read back
// by kimage's own ELF parser and by binutils `readelf -h -l -W`.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseElf } from "../../src/formats/elf/index.js";
import {
  buildElfCoreHeaders,
  CRASH_NOTE_BYTES,
  DEFAULT_PAGE_OFFSET,
  EM_AARCH64,
  EM_RISCV,
  EM_X86_64,
  elfCoreHeaderSize,
  vmcoreinfoNoteSize,
  type ElfCoreInput,
} from "../../src/plan/protocol/elfcore.js";
import { haveTool, run } from "../support/real.js";

/**
 * In a core header p_offset is a physical address (the offset in /proc/vmcore
 * to be), far past the 4 KiB buffer: parse it as the prefix of a file that
 * large, or the kexec_elf.c check "ELF segment not in file." stops the table.
 */
function parseCore(b: Uint8Array) {
  return parseElf(b, { fileSize: Number.MAX_SAFE_INTEGER });
}

const M = 1n << 20n;
const G = 1n << 30n;

const arm64Input: ElfCoreInput = {
  arch: "arm64",
  cpuNotes: [0, 1, 2, 3].map((i) => ({ addr: 0x7fbf0000n + BigInt(i) * 0x10000n, size: CRASH_NOTE_BYTES.arm64 })),
  vmcoreinfo: { addr: 0x7f000000n, size: vmcoreinfoNoteSize() },
  ram: [
    { start: 0x40000000n, size: 0x20000000n },
    { start: 0x70000000n, size: 0x10000000n },
    { start: 0x100000000n, size: 2n * G },
  ],
  kernelText: { vaddr: 0xffff800080000000n, paddr: 0x40200000n, size: 0x2a00000n },
};

interface Phdr {
  type: string;
  offset: bigint;
  vaddr: bigint;
  paddr: bigint;
  filesz: bigint;
  memsz: bigint;
  flags: string;
  align: bigint;
}

function readelf(bytes: Uint8Array): { header: Map<string, string>; phdrs: Phdr[] } {
  const dir = mkdtempSync(join(tmpdir(), "kimage-core-"));
  const f = join(dir, "core");
  writeFileSync(f, bytes);
  const out = run("readelf", ["-h", "-l", "-W", f]);
  const header = new Map<string, string>();
  for (const line of out.split("\n")) {
    const m = /^\s{2}([A-Za-z][^:]*):\s+(.*)$/.exec(line);
    if (m) header.set(m[1]!.trim(), m[2]!.trim());
  }
  const phdrs: Phdr[] = [];
  for (const line of out.split("\n")) {
    const t = line.trim().split(/\s+/);
    if (t[0] !== "NOTE" && t[0] !== "LOAD") continue;
    // Type Offset VirtAddr PhysAddr FileSiz MemSiz [Flg] Align (Flg is blank for p_flags 0)
    const flags = t.length === 8 ? t[6]! : "";
    phdrs.push({ type: t[0], offset: BigInt(t[1]!), vaddr: BigInt(t[2]!), paddr: BigInt(t[3]!), filesz: BigInt(t[4]!), memsz: BigInt(t[5]!), flags, align: BigInt(t[t.length - 1]!) });
  }
  return { header, phdrs };
}

describe("buildElfCoreHeaders", () => {
  it("sizes the buffer as the kernel: ALIGN(64 + (cpus + 1 + ranges + 1) * 56, 4096)", () => {
    expect(elfCoreHeaderSize(4, 3)).toBe(4096n); // 64 + 9 * 56 = 568
    expect(elfCoreHeaderSize(70, 3)).toBe(8192n); // 64 + 75 * 56 = 4264
    expect(elfCoreHeaderSize(1, 69)).toBe(4096n); // 64 + 72 * 56 = 4096 exactly
  });

  it("counts the kernel-text slot even without need_kernel_map", () => {
    // 64 + (1 + 1 + 70 + 1) * 56 = 4152 > 4096 although only 72 headers are written
    expect(elfCoreHeaderSize(1, 70)).toBe(8192n);
    const b = buildElfCoreHeaders({ cpuNotes: [{ addr: 0x1000n, size: 8n }], vmcoreinfo: { addr: 0x2000n, size: 8n }, ram: Array.from({ length: 70 }, (_, i) => ({ start: BigInt(i + 1) * G, size: M })) });
    expect(b.length).toBe(8192);
    expect(parseCore(b).phnum).toBe(72);
  });

  it("writes every field as crash_prepare_elf64_headers (kimage's ELF parser)", () => {
    const b = buildElfCoreHeaders(arm64Input);
    expect(b.length).toBe(4096);
    const e = parseCore(b);
    const h = e.header;
    expect([h.class, h.data, h.ei_version, h.ei_osabi, h.ei_abiversion]).toEqual([64, "LSB", 1, 0, 0]);
    expect([h.e_type, h.e_machine, h.e_version, h.e_entry, h.e_phoff, h.e_shoff, h.e_flags]).toEqual([4, EM_AARCH64, 1, 0n, 64n, 0n, 0]);
    expect([h.e_ehsize, h.e_phentsize, h.e_phnum, h.e_shentsize, h.e_shnum, h.e_shstrndx]).toEqual([64, 56, 4 + 1 + 1 + 3, 0, 0, 0]);
    const ph = e.programHeaders;
    expect(ph).toHaveLength(9);
    arm64Input.cpuNotes.forEach((n, i) => {
      expect(ph[i]).toMatchObject({ p_type: 4, p_flags: 0, p_offset: n.addr, p_vaddr: 0n, p_paddr: n.addr, p_filesz: 424n, p_memsz: 424n, p_align: 0n });
    });
    expect(ph[4]).toMatchObject({ p_type: 4, p_flags: 0, p_offset: 0x7f000000n, p_vaddr: 0n, p_paddr: 0x7f000000n, p_filesz: 4132n, p_memsz: 4132n, p_align: 0n });
    expect(ph[5]).toMatchObject({ p_type: 1, p_flags: 7, p_offset: 0x40200000n, p_vaddr: 0xffff800080000000n, p_paddr: 0x40200000n, p_filesz: 0x2a00000n, p_memsz: 0x2a00000n, p_align: 0n });
    arm64Input.ram.forEach((r, i) => {
      expect(ph[6 + i]).toMatchObject({ p_type: 1, p_flags: 7, p_offset: r.start, p_vaddr: r.start + DEFAULT_PAGE_OFFSET.arm64, p_paddr: r.start, p_filesz: r.size, p_memsz: r.size, p_align: 0n });
    });
    // vzalloc: everything after the last header is zero
    expect(b.subarray(64 + 9 * 56).every((x) => x === 0)).toBe(true);
  });

  it("uses __va(x) = x - physOffset + pageOffset and the per-arch e_machine", () => {
    const ram = [{ start: 0x80000000n, size: 0x1000000n }];
    const base = { cpuNotes: [], vmcoreinfo: { addr: 0x1000n, size: 4132n }, ram };
    expect(parseCore(buildElfCoreHeaders({ ...base, arch: "riscv64" })).header.e_machine).toBe(EM_RISCV);
    expect(parseCore(buildElfCoreHeaders({ ...base, arch: "x86_64" })).header.e_machine).toBe(EM_X86_64);
    const e = parseCore(buildElfCoreHeaders({ ...base, arch: "riscv64", pageOffset: 0xff60000000000000n, physOffset: 0x80000000n }));
    expect(e.programHeaders[1]?.p_vaddr).toBe(0xff60000000000000n);
    expect(e.programHeaders[1]?.p_offset).toBe(0x80000000n);
  });

  it("refuses empty RAM ranges", () => {
    expect(() => buildElfCoreHeaders({ ...arm64Input, ram: [{ start: 0x1000n, size: 0n }] })).toThrow(/empty/);
  });

  it.runIf(haveTool("readelf"))("readelf -h -l reads every field the same", () => {
    const b = buildElfCoreHeaders(arm64Input);
    const { header, phdrs } = readelf(b);
    expect(header.get("Class")).toBe("ELF64");
    expect(header.get("Data")).toMatch(/little endian/);
    expect(header.get("Version")).toMatch(/^1 \(current\)$|^0x1$/);
    expect(header.get("OS/ABI")).toBe("UNIX - System V");
    expect(header.get("Type")).toMatch(/^CORE/);
    expect(header.get("Machine")).toBe("AArch64");
    expect(header.get("Entry point address")).toBe("0x0");
    expect(header.get("Start of program headers")).toMatch(/^64 /);
    expect(header.get("Start of section headers")).toMatch(/^0 /);
    expect(header.get("Flags")).toBe("0x0");
    expect(header.get("Size of this header")).toMatch(/^64 /);
    expect(header.get("Size of program headers")).toMatch(/^56 /);
    expect(header.get("Number of program headers")).toBe("9");
    expect(header.get("Number of section headers")).toBe("0");
    const mine = parseCore(b).programHeaders;
    expect(phdrs).toHaveLength(mine.length);
    phdrs.forEach((p, i) => {
      const m = mine[i]!;
      expect(p.type).toBe(m.p_type === 4 ? "NOTE" : "LOAD");
      expect([p.offset, p.vaddr, p.paddr, p.filesz, p.memsz, p.align]).toEqual([m.p_offset, m.p_vaddr, m.p_paddr, m.p_filesz, m.p_memsz, m.p_align]);
      expect(p.flags).toBe(m.p_flags === 7 ? "RWE" : "");
    });
  });
});
