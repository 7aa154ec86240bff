/**
 * The ELF entry of the probe table: the innermost layer of x86 (the
 * decompressed vmlinux) and ppc64el (the shipped vmlinux) kernels. It has no
 * payload; its typed header is the {@link ElfFile}. Its `inspectionPrefix`
 * hook tells a decoder how much of a compressed vmlinux inspection needs
 * (through the last PT_NOTE).
 *
 * @module
 */

import { hex } from "../../core/bytes.js";
import type { Finding } from "../../core/errors.js";
import type { FormatModule, JsonValue, Layer, ParseContext } from "../../format/types.js";
import { withHeader } from "../../format/layer.js";
import { isElf, noteValue, parseElf, type ElfFile } from "./parse.js";
import { EM_NAMES, ET_NAMES, ELF_LAYER, PF_FLAGS, PT_NAMES, SHT_NAMES } from "./spec.js";

/**
 * A {@link ParseContext} that may say the bytes are a prefix of a larger
 * file (a partial decompression made for inspection).
 */
export interface PrefixParseContext extends ParseContext {
  /** The size of the whole file when the bytes handed over are only its first part. */
  fileSize?: number;
  /**
   * The size the previous layer states for these bytes (`LayerPayload.expectedSize`
   * as `inspect` forwards it). When it exceeds the bytes, they are taken as a
   * prefix of a file of that size, as with `fileSize`.
   */
  expectedSize?: number;
}

function flags(value: number, table: ReadonlyArray<readonly [number, string]>): string {
  let s = "";
  for (const [bit, name] of table) if (value & bit) s += name;
  return s;
}

/** The JSON-ready layer of a parsed ELF file; its typed header is `elf`. */
export function elfLayer(elf: ElfFile, offset: number): Layer<ElfFile> {
  const h = elf.header;
  const le = h.data === "LSB";
  const fields: { [key: string]: JsonValue } = {
    class: `ELF${h.class}`,
    data: h.data === "LSB" ? "ELFDATA2LSB" : "ELFDATA2MSB",
    ei_version: h.ei_version,
    ei_osabi: h.ei_osabi,
    ei_abiversion: h.ei_abiversion,
    e_type: ET_NAMES[h.e_type] ?? hex(h.e_type),
    e_machine: EM_NAMES[h.e_machine] ?? hex(h.e_machine),
    e_version: h.e_version,
    e_entry: hex(h.e_entry),
    e_phoff: hex(h.e_phoff),
    e_shoff: hex(h.e_shoff),
    e_flags: hex(h.e_flags),
    e_ehsize: h.e_ehsize,
    e_phentsize: h.e_phentsize,
    e_phnum: h.e_phnum,
    e_shentsize: h.e_shentsize,
    e_shnum: h.e_shnum,
    e_shstrndx: h.e_shstrndx,
    programHeaders: elf.programHeaders.map((p) => ({
      index: p.index,
      p_type: PT_NAMES[p.p_type] ?? hex(p.p_type),
      p_flags: flags(p.p_flags, PF_FLAGS),
      p_offset: hex(p.p_offset),
      p_vaddr: hex(p.p_vaddr),
      p_paddr: hex(p.p_paddr),
      p_filesz: hex(p.p_filesz),
      p_memsz: hex(p.p_memsz),
      p_align: hex(p.p_align),
    })),
    sections:
      elf.sectionHeaders?.map((s) => ({
        index: s.index,
        name: s.name,
        sh_type: SHT_NAMES[s.sh_type] ?? hex(s.sh_type),
        sh_flags: hex(s.sh_flags),
        sh_addr: hex(s.sh_addr),
        sh_offset: hex(s.sh_offset),
        sh_size: hex(s.sh_size),
        sh_link: s.sh_link,
        sh_info: s.sh_info,
        sh_addralign: hex(s.sh_addralign),
        sh_entsize: hex(s.sh_entsize),
      })) ?? null,
    notes: elf.notes.map((n) => ({ owner: n.owner, type: hex(n.type), typeName: n.typeName, value: noteValue(n, le), offset: n.offset })),
    buildId: elf.buildId,
    pvhEntry: elf.pvhEntry === null ? null : hex(elf.pvhEntry),
    buildSalt: elf.buildSalt,
    ltoInfo: elf.ltoInfo,
    kexecLoadable: elf.kexecErrors.length === 0,
    kexecErrors: elf.kexecErrors.map((c) => ({ code: c.code, message: c.message, offset: c.offset })),
    fileSize: elf.fileSize,
    available: elf.available,
    complete: elf.available >= elf.fileSize,
  };
  const findings: Finding[] = [
    ...elf.kexecErrors.map((c): Finding => ({ code: c.code, severity: "warning", offset: c.offset, message: `kexec_elf: ${c.message}` })),
    ...elf.findings,
  ];
  const loads = elf.programHeaders.filter((p) => p.p_type === 1).length;
  const parts = [`ELF${h.class} ${h.data} ${ET_NAMES[h.e_type] ?? hex(h.e_type)} ${EM_NAMES[h.e_machine] ?? hex(h.e_machine)}`, `entry ${hex(h.e_entry)}`, `${loads} PT_LOAD`];
  if (elf.buildId) parts.push(`build-id ${elf.buildId}`);
  if (elf.available < elf.fileSize) parts.push(`first ${elf.available} of ${elf.fileSize} bytes read`);
  return withHeader({ format: ELF_LAYER, offset, size: elf.fileSize, summary: parts.join(", "), fields, findings }, elf);
}

/**
 * The ELF format (ELF32/ELF64, LSB/MSB). Probes the magic and a known class
 * and byte order. With a {@link PrefixParseContext} whose `fileSize` (or
 * `expectedSize`) exceeds the bytes — a partial decompression — parses the
 * prefix and checks bounds against the full size. Its `inspectionPrefix`
 * hook is {@link elfInspectionPrefix}.
 */
export const elfFormat: FormatModule<ElfFile> = {
  id: ELF_LAYER,
  description: "ELF executable (vmlinux): headers, program headers, sections, notes, kexec ELF checks",
  probe(bytes: Uint8Array): boolean {
    return isElf(bytes);
  },
  parse(bytes: Uint8Array, ctx: PrefixParseContext): Layer<ElfFile> {
    const opts: { base: number; fileSize?: number; holes?: readonly (readonly [number, number])[] } = { base: Math.max(0, ctx.offset) };
    const full = ctx.fileSize ?? ctx.expectedSize;
    if (full !== undefined && full > bytes.length) opts.fileSize = full;
    if (ctx.holes && ctx.holes.length > 0) opts.holes = ctx.holes;
    return elfLayer(parseElf(bytes, opts), ctx.offset);
  },
  inspectionPrefix: elfInspectionPrefix,
  inspectionRanges: elfInspectionRanges,
};

/**
 * How many leading bytes of an ELF file inspection needs: the headers, the
 * program header table and every PT_NOTE segment (the build-id, Xen/PVH and
 * Linux notes). Given at least the first 64 bytes; returns null when the
 * bytes are not ELF or the program header table is not yet in `bytes` (ask
 * again with more). A codec layer can decode a small prefix, call this, and
 * decode once more up to the answer instead of the whole payload.
 */
export function elfInspectionPrefix(bytes: Uint8Array): number | null {
  if (!isElf(bytes)) return null;
  try {
    const elf = parseElf(bytes, { fileSize: Number.MAX_SAFE_INTEGER });
    const h = elf.header;
    const sz = h.class === 64 ? 56 : 32;
    let need = Math.max(h.class === 64 ? 64 : 52, Number(h.e_phoff) + elf.phnum * sz);
    if (need > bytes.length) return need;
    for (const p of elf.programHeaders) if (p.p_type === 4) need = Math.max(need, Number(p.p_offset + p.p_filesz));
    return need;
  } catch {
    return null;
  }
}

/**
 * The byte ranges of an ELF file inspection reads, from a prefix that holds
 * its program header table: the ELF header and the program headers, every
 * PT_NOTE segment, and the section header table (`e_shoff`, `e_shnum` ×
 * `e_shentsize`). The section names (`.shstrtab`) are found through the
 * section headers, so a scan keeps the file's tail for them. Null when the
 * prefix is not ELF or does not reach the end of the program header table.
 */
export function elfInspectionRanges(prefix: Uint8Array): readonly (readonly [number, number])[] | null {
  const need = elfInspectionPrefix(prefix);
  if (need === null) return null;
  try {
    const elf = parseElf(prefix, { fileSize: Number.MAX_SAFE_INTEGER });
    const h = elf.header;
    const phEnd = Math.max(h.class === 64 ? 64 : 52, Number(h.e_phoff) + elf.phnum * (h.class === 64 ? 56 : 32));
    if (phEnd > prefix.length) return null;
    const ranges: [number, number][] = [[0, phEnd]];
    for (const p of elf.programHeaders) {
      if (p.p_type === 4 && p.p_filesz > 0n) ranges.push([Number(p.p_offset), Number(p.p_offset + p.p_filesz)]);
    }
    // e_shnum may be 0 with the real count in section 0 (extended numbering): keep section 0 at least.
    if (h.e_shoff > 0n && h.e_shentsize > 0) ranges.push([Number(h.e_shoff), Number(h.e_shoff) + Math.max(1, h.e_shnum) * h.e_shentsize]);
    return ranges.filter(([a, b]) => Number.isSafeInteger(a) && Number.isSafeInteger(b) && b > a);
  } catch {
    return null;
  }
}
