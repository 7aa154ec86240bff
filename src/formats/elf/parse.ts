/**
 * ELF32/ELF64, both byte orders: the file header, program headers, section
 * headers (names through the section-name table), and notes; with the checks
 * of the kernel's ELF kexec loader (kernel/kexec_elf.c: `elf_read_ehdr`,
 * `elf_is_ehdr_sane`, `elf_read_phdr`/`elf_is_phdr_sane`,
 * `kexec_build_elf_info`), each with a typed code and the kernel's message.
 *
 * Only a header that cannot be read at all (too short, no magic, unknown
 * class or byte order) throws. Every other check is recorded in
 * {@link ElfFile.kexecErrors} and reported, and parsing goes on where it
 * safely can (a table that fails its bounds check is not read).
 *
 * The bytes may be a prefix of the file (a partial decompression, for
 * inspection): pass the full size as `fileSize`. Bounds checks are then made
 * against the full size, and tables or notes past the prefix are left unread
 * with an `elf-prefix` finding.
 *
 * @module
 */

import { ByteView, hex } from "../../core/bytes.js";
import { KimageError, type ErrorCode, type Finding } from "../../core/errors.js";
import {
  EI_ABIVERSION,
  EI_CLASS,
  EI_DATA,
  EI_OSABI,
  EI_VERSION,
  ELFCLASS32,
  ELFCLASS64,
  ELFDATA2LSB,
  ELFDATA2MSB,
  ELFMAG,
  ELF_LAYER,
  ET_DYN,
  ET_EXEC,
  EV_CURRENT,
  GNU_NOTE_NAMES,
  LINUX_ELFNOTE_BUILD_SALT,
  LINUX_ELFNOTE_LTO_INFO,
  LINUX_NOTE_NAMES,
  NT_GNU_BUILD_ID,
  PN_XNUM,
  PT_INTERP,
  PT_NOTE,
  SHN_LORESERVE,
  SHN_UNDEF,
  SHN_XINDEX,
  SHT_NOBITS,
  SHT_NOTE,
  SIZES,
  XEN_ELFNOTE_PHYS32_ENTRY,
  XEN_NOTES,
} from "./spec.js";

/** The ELF file header (Elf32_Ehdr / Elf64_Ehdr), addresses and offsets as bigints. */
export interface ElfHeader {
  /** 32 or 64, from e_ident[EI_CLASS]. */
  class: 32 | 64;
  /** Byte order, from e_ident[EI_DATA]. */
  data: "LSB" | "MSB";
  /** e_ident[EI_VERSION]. */
  ei_version: number;
  /** e_ident[EI_OSABI]. */
  ei_osabi: number;
  /** e_ident[EI_ABIVERSION]. */
  ei_abiversion: number;
  e_type: number;
  e_machine: number;
  e_version: number;
  e_entry: bigint;
  e_phoff: bigint;
  e_shoff: bigint;
  e_flags: number;
  e_ehsize: number;
  e_phentsize: number;
  /** e_phnum as stored (PN_XNUM means the count is in section 0's sh_info). */
  e_phnum: number;
  e_shentsize: number;
  /** e_shnum as stored (0 with e_shoff set means the count is in section 0's sh_size). */
  e_shnum: number;
  /** e_shstrndx as stored (SHN_XINDEX means the index is in section 0's sh_link). */
  e_shstrndx: number;
}

/** A program header (Elf32_Phdr / Elf64_Phdr). */
export interface ProgramHeader {
  index: number;
  /** Absolute offset of this header. */
  headerOffset: number;
  p_type: number;
  p_flags: number;
  p_offset: bigint;
  p_vaddr: bigint;
  p_paddr: bigint;
  p_filesz: bigint;
  p_memsz: bigint;
  p_align: bigint;
}

/** A section header (Elf32_Shdr / Elf64_Shdr) with its name. */
export interface ElfSectionHeader {
  index: number;
  /** Absolute offset of this header. */
  headerOffset: number;
  /** The name from the section-name table, or null when it cannot be read. */
  name: string | null;
  sh_name: number;
  sh_type: number;
  sh_flags: bigint;
  sh_addr: bigint;
  sh_offset: bigint;
  sh_size: bigint;
  sh_link: number;
  sh_info: number;
  sh_addralign: bigint;
  sh_entsize: bigint;
}

/** One note (Elf_Nhdr + name + descriptor). */
export interface ElfNote {
  /** The owner name without its NUL. */
  owner: string;
  /** n_type. */
  type: number;
  /** The type's name for known owners, else null. */
  typeName: string | null;
  /** The descriptor bytes (a view). */
  desc: Uint8Array;
  /** Absolute offset of the note header. */
  offset: number;
  /** Where it was found. */
  source: string;
}

/** A failed kexec_elf.c check. */
export interface ElfCheck {
  code: ErrorCode;
  /** The kernel's pr_debug/pr_err message, verbatim (without the newline). */
  message: string;
  /** Absolute offset of the field tested, or -1. */
  offset: number;
}

/** A parsed ELF file. */
export interface ElfFile {
  /** Absolute offset of the file in the outermost input (or 0 for decoded data). */
  base: number;
  /** The size of the whole file (≥ the bytes available). */
  fileSize: number;
  /** The bytes available (the whole file, or a prefix of it). */
  available: number;
  header: ElfHeader;
  /** Effective program header count (after PN_XNUM). */
  phnum: number;
  /** Effective section header count (after extended numbering). */
  shnum: number;
  /** Effective section-name table index. */
  shstrndx: number;
  programHeaders: ProgramHeader[];
  /** Section headers, or null when there are none or they could not be read. */
  sectionHeaders: ElfSectionHeader[] | null;
  notes: ElfNote[];
  /** NT_GNU_BUILD_ID as lowercase hex, or null. */
  buildId: string | null;
  /** XEN_ELFNOTE_PHYS32_ENTRY (the PVH entry point), or null. */
  pvhEntry: bigint | null;
  /** LINUX_ELFNOTE_BUILD_SALT (a string), or null. */
  buildSalt: string | null;
  /** LINUX_ELFNOTE_LTO_INFO, or null. */
  ltoInfo: number | null;
  /** Failed kexec_elf.c checks, in the kernel's order. Empty: kexec's ELF loader would accept it. */
  kexecErrors: ElfCheck[];
  findings: Finding[];
}

/** Options of {@link parseElf}. */
export interface ParseElfOptions {
  /** Absolute offset of `bytes[0]` in the outermost input (default 0). */
  base?: number;
  /** The size of the whole file when `bytes` is a prefix of it (default `bytes.length`). */
  fileSize?: number;
  /**
   * Ranges `[start, end)` of `bytes` that were not decoded (a streamed scan
   * keeps only the start and the tail of a large payload; the holes read as
   * zeros). A structure that overlaps one is reported as not read, as past
   * the end of a prefix.
   */
  holes?: readonly (readonly [number, number])[];
  /** Most notes read (default 4096): the note loop is bounded. */
  maxNotes?: number;
  /** Most section headers read (default 65536). */
  maxSections?: number;
}

/** An endian- and class-aware reader over a {@link ByteView}. */
class ElfReader {
  constructor(
    readonly v: ByteView,
    readonly le: boolean,
    readonly is64: boolean,
  ) {}
  u16(o: number, f: string): number {
    return this.le ? this.v.u16le(o, f) : this.v.u16be(o, f);
  }
  u32(o: number, f: string): number {
    return this.le ? this.v.u32le(o, f) : this.v.u32be(o, f);
  }
  u64(o: number, f: string): bigint {
    return this.le ? this.v.u64le(o, f) : this.v.u64be(o, f);
  }
  /** An Elf_Addr / Elf_Off / Elf_Xword-sized field, widened to bigint. */
  word(o: number, f: string): bigint {
    return this.is64 ? this.u64(o, f) : BigInt(this.u32(o, f));
  }
}

/** True when `bytes` starts with the ELF magic and a known class and byte order. Never throws. */
export function isElf(bytes: Uint8Array): boolean {
  if (bytes.length < 16) return false;
  for (let i = 0; i < 4; i++) if (bytes[i] !== ELFMAG[i]) return false;
  const c = bytes[EI_CLASS];
  const d = bytes[EI_DATA];
  return (c === ELFCLASS32 || c === ELFCLASS64) && (d === ELFDATA2LSB || d === ELFDATA2MSB);
}

/** The 32-bit gABI note alignment is 4; PT_NOTE with p_align 8 uses 8 (GNU property notes). */
function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (const c of b) {
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * Parses an ELF file (or a prefix of one). Throws {@link KimageError} only
 * when the file header cannot be read: `elf-too-short` ("Buffer is too small
 * to hold ELF header."), `elf-bad-magic` ("No ELF header magic."),
 * `elf-bad-class` ("Not a supported ELF class."), `elf-bad-data` ("Not a
 * supported ELF data format.").
 */
export function parseElf(bytes: Uint8Array, options: ParseElfOptions = {}): ElfFile {
  const base = options.base ?? 0;
  const fileSize = Math.max(options.fileSize ?? bytes.length, bytes.length);
  const maxNotes = options.maxNotes ?? 4096;
  const maxSections = options.maxSections ?? 65536;
  const holes = options.holes ?? [];
  /** True when `[off, off + len)` is not all decoded: past the end of `bytes`, or over a hole. */
  const missing = (off: bigint, len: bigint): boolean => {
    if (off + len > BigInt(bytes.length)) return true;
    for (const [a, b] of holes) if (off < BigInt(b) && off + len > BigInt(a)) return true;
    return false;
  };
  const v = new ByteView(bytes, ELF_LAYER, base);
  const fail = (code: ErrorCode, message: string, offset: number): never => {
    throw new KimageError(code, message, { layer: ELF_LAYER, offset: base + offset });
  };
  if (bytes.length < 16) fail("elf-too-short", "Buffer is too small to hold ELF header.", 0);
  // elf_is_elf_file: "memcmp(ehdr->e_ident, ELFMAG, SELFMAG) == 0"
  if (!v.matches(0, new Uint8Array(ELFMAG))) fail("elf-bad-magic", "No ELF header magic.", 0);
  const cls = bytes[EI_CLASS];
  // "if (ehdr->e_ident[EI_CLASS] != ELF_CLASS)": the kernel takes its own class; both are read here.
  if (cls !== ELFCLASS32 && cls !== ELFCLASS64) fail("elf-bad-class", "Not a supported ELF class.", EI_CLASS);
  const data = bytes[EI_DATA];
  // "else if (ehdr->e_ident[EI_DATA] != ELFDATA2LSB && ehdr->e_ident[EI_DATA] != ELFDATA2MSB)"
  if (data !== ELFDATA2LSB && data !== ELFDATA2MSB) fail("elf-bad-data", "Not a supported ELF data format.", EI_DATA);
  const is64 = cls === ELFCLASS64;
  const size = is64 ? SIZES[64] : SIZES[32];
  // "if (len < sizeof(*buf_ehdr)) { pr_debug("Buffer is too small to hold ELF header.\n");"
  if (bytes.length < size.ehdr) fail("elf-too-short", "Buffer is too small to hold ELF header.", 0);
  const r = new ElfReader(v, data === ELFDATA2LSB, is64);
  const w = is64 ? 8 : 4;
  // Elf_Ehdr: e_ident[16], e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags,
  // e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx.
  let o = 16;
  const e_type = r.u16(o, "e_type");
  const e_machine = r.u16(o + 2, "e_machine");
  const e_version = r.u32(o + 4, "e_version");
  o += 8;
  const e_entry = r.word(o, "e_entry");
  const e_phoff = r.word(o + w, "e_phoff");
  const e_shoff = r.word(o + 2 * w, "e_shoff");
  o += 3 * w;
  const header: ElfHeader = {
    class: is64 ? 64 : 32,
    data: data === ELFDATA2LSB ? "LSB" : "MSB",
    ei_version: bytes[EI_VERSION] as number,
    ei_osabi: bytes[EI_OSABI] as number,
    ei_abiversion: bytes[EI_ABIVERSION] as number,
    e_type,
    e_machine,
    e_version,
    e_entry,
    e_phoff,
    e_shoff,
    e_flags: r.u32(o, "e_flags"),
    e_ehsize: r.u16(o + 4, "e_ehsize"),
    e_phentsize: r.u16(o + 6, "e_phentsize"),
    e_phnum: r.u16(o + 8, "e_phnum"),
    e_shentsize: r.u16(o + 10, "e_shentsize"),
    e_shnum: r.u16(o + 12, "e_shnum"),
    e_shstrndx: r.u16(o + 14, "e_shstrndx"),
  };
  const ehOff = o; // offset of e_flags; the 16-bit fields follow
  const kexecErrors: ElfCheck[] = [];
  const findings: Finding[] = [];
  const check = (code: ErrorCode, message: string, offset: number): void => {
    kexecErrors.push({ code, message, offset: offset < 0 ? -1 : base + offset });
  };
  const prefix = (what: string, at: bigint): void => {
    findings.push({ code: "elf-prefix", severity: "info", offset: -1, message: `${what} at ${hex(at)} ${holes.length ? "is not among the decoded bytes" : `lies past the ${bytes.length} decoded bytes`} of this ${fileSize}-byte file; not read` });
  };
  const mask = is64 ? (1n << 64n) - 1n : (1n << 32n) - 1n;
  const fsz = BigInt(fileSize);

  // "if (elf16_to_cpu(ehdr, buf_ehdr->e_ehsize) != sizeof(*buf_ehdr))"
  if (header.e_ehsize !== size.ehdr) check("elf-bad-ehsize", "Bad ELF header size.", ehOff + 4);

  // Extended numbering (gABI): section 0 holds the real counts when they overflow.
  let shnum = header.e_shnum;
  let phnum = header.e_phnum;
  let shstrndx = header.e_shstrndx;
  const sh0 = Number(e_shoff);
  if (e_shoff > 0n && header.e_shentsize === size.shdr && !missing(e_shoff, BigInt(size.shdr))) {
    if (header.e_shnum === 0) shnum = Number(r.word(sh0 + (is64 ? 32 : 20), "sh_size of section 0 (e_shnum)"));
    if (header.e_shstrndx === SHN_XINDEX) shstrndx = r.u32(sh0 + (is64 ? 40 : 24), "sh_link of section 0 (e_shstrndx)");
    if (header.e_phnum === PN_XNUM) phnum = r.u32(sh0 + (is64 ? 44 : 28), "sh_info of section 0 (e_phnum)");
  }

  // elf_is_ehdr_sane
  let phdrsOk = true;
  let shdrsOk = true;
  if (phnum > 0 && header.e_phentsize !== size.phdr) {
    check("elf-bad-phentsize", "Bad program header size.", ehOff + 6);
    phdrsOk = false;
  } else if (shnum > 0 && header.e_shentsize !== size.shdr) {
    check("elf-bad-shentsize", "Bad section header size.", ehOff + 10);
    shdrsOk = false;
  } else if (header.ei_version !== EV_CURRENT || header.e_version !== EV_CURRENT) {
    check("elf-bad-version", "Unknown ELF version.", header.ei_version !== EV_CURRENT ? EI_VERSION : 20);
  }
  if (shnum > 0 && header.e_shentsize !== size.shdr) shdrsOk = false;
  if (e_phoff > 0n && phnum > 0) {
    const phdrSize = BigInt(size.phdr * phnum);
    if (((e_phoff + phdrSize) & mask) < e_phoff) {
      check("elf-phdrs-wrap", "Program headers at invalid location.", 16 + 8 + w);
      phdrsOk = false;
    } else if (e_phoff + phdrSize > fsz) {
      check("elf-phdrs-truncated", "Program headers truncated.", 16 + 8 + w);
      phdrsOk = false;
    }
  }
  if (e_shoff > 0n && shnum > 0) {
    const shdrSize = BigInt(size.shdr * shnum);
    if (((e_shoff + shdrSize) & mask) < e_shoff) {
      check("elf-shdrs-wrap", "Section headers at invalid location.", 16 + 8 + 2 * w);
      shdrsOk = false;
    } else if (e_shoff + shdrSize > fsz) {
      check("elf-shdrs-truncated", "Section headers truncated.", 16 + 8 + 2 * w);
      shdrsOk = false;
    }
  }

  // elf_read_phdrs / elf_read_phdr / elf_is_phdr_sane
  const programHeaders: ProgramHeader[] = [];
  if (e_phoff > 0n && phnum > 0 && phdrsOk) {
    if (missing(e_phoff, BigInt(size.phdr * phnum))) {
      prefix("the program header table", e_phoff);
    } else {
      const at0 = Number(e_phoff);
      for (let i = 0; i < phnum; i++) {
        const p = at0 + i * size.phdr;
        // Elf32_Phdr: type, offset, vaddr, paddr, filesz, memsz, flags, align.
        // Elf64_Phdr: type, flags, offset, vaddr, paddr, filesz, memsz, align.
        const ph: ProgramHeader = is64
          ? {
              index: i,
              headerOffset: base + p,
              p_type: r.u32(p, "p_type"),
              p_flags: r.u32(p + 4, "p_flags"),
              p_offset: r.u64(p + 8, "p_offset"),
              p_vaddr: r.u64(p + 16, "p_vaddr"),
              p_paddr: r.u64(p + 24, "p_paddr"),
              p_filesz: r.u64(p + 32, "p_filesz"),
              p_memsz: r.u64(p + 40, "p_memsz"),
              p_align: r.u64(p + 48, "p_align"),
            }
          : {
              index: i,
              headerOffset: base + p,
              p_type: r.u32(p, "p_type"),
              p_offset: BigInt(r.u32(p + 4, "p_offset")),
              p_vaddr: BigInt(r.u32(p + 8, "p_vaddr")),
              p_paddr: BigInt(r.u32(p + 12, "p_paddr")),
              p_filesz: BigInt(r.u32(p + 16, "p_filesz")),
              p_memsz: BigInt(r.u32(p + 20, "p_memsz")),
              p_flags: r.u32(p + 24, "p_flags"),
              p_align: BigInt(r.u32(p + 28, "p_align")),
            };
        programHeaders.push(ph);
        if (((ph.p_offset + ph.p_filesz) & mask) < ph.p_offset) {
          check("elf-segment-offset-wrap", "ELF segment location wraps around.", p);
          break;
        } else if (ph.p_offset + ph.p_filesz > fsz) {
          check("elf-segment-not-in-file", "ELF segment not in file.", p);
          break;
        } else if (((ph.p_paddr + ph.p_memsz) & mask) < ph.p_paddr) {
          check("elf-segment-address-wrap", "ELF segment address wraps around.", p);
          break;
        }
      }
    }
  }

  // kexec_build_elf_info: "/* Big endian vmlinux has type ET_DYN. */"
  if (e_type !== ET_EXEC && e_type !== ET_DYN) check("elf-not-executable", "Not an ELF executable.", 16);
  else if (!(e_phoff > 0n && phnum > 0)) check("elf-no-phdrs", "No ELF program header.", 16 + 8 + w);
  if (programHeaders.some((p) => p.p_type === PT_INTERP)) {
    const p = programHeaders.find((x) => x.p_type === PT_INTERP) as ProgramHeader;
    check("elf-interp", "Requires an ELF interpreter.", p.headerOffset - base);
  }

  // Section headers and their names.
  let sectionHeaders: ElfSectionHeader[] | null = null;
  if (e_shoff > 0n && shnum > 0 && shdrsOk) {
    if (shnum > maxSections) {
      throw new KimageError("limit", `e_shnum ${shnum} exceeds the limit of ${maxSections} sections`, { layer: ELF_LAYER, offset: base + 16 + 8 + 2 * w });
    }
    if (missing(e_shoff, BigInt(size.shdr * shnum))) {
      prefix("the section header table", e_shoff);
    } else {
      sectionHeaders = [];
      const at0 = Number(e_shoff);
      for (let i = 0; i < shnum; i++) {
        const s = at0 + i * size.shdr;
        sectionHeaders.push({
          index: i,
          headerOffset: base + s,
          name: null,
          sh_name: r.u32(s, "sh_name"),
          sh_type: r.u32(s + 4, "sh_type"),
          sh_flags: r.word(s + 8, "sh_flags"),
          sh_addr: r.word(s + 8 + w, "sh_addr"),
          sh_offset: r.word(s + 8 + 2 * w, "sh_offset"),
          sh_size: r.word(s + 8 + 3 * w, "sh_size"),
          sh_link: r.u32(s + 8 + 4 * w, "sh_link"),
          sh_info: r.u32(s + 12 + 4 * w, "sh_info"),
          sh_addralign: r.word(s + 16 + 4 * w, "sh_addralign"),
          sh_entsize: r.word(s + 16 + 5 * w, "sh_entsize"),
        });
      }
      // e_shstrndx: SHN_UNDEF means no names; it must name a section.
      if (shstrndx !== SHN_UNDEF) {
        const strtab = shstrndx < shnum && shstrndx < SHN_LORESERVE ? sectionHeaders[shstrndx] : undefined;
        if (!strtab) {
          check("elf-bad-shstrndx", `e_shstrndx ${shstrndx} names no section (e_shnum ${shnum})`, ehOff + 14);
        } else if (strtab.sh_type === SHT_NOBITS || strtab.sh_offset + strtab.sh_size > fsz) {
          check("elf-bad-shstrndx", `the section-name table (section ${shstrndx}) runs past the end of the file`, strtab.headerOffset - base);
        } else if (missing(strtab.sh_offset, strtab.sh_size)) {
          prefix("the section-name table", strtab.sh_offset);
        } else {
          const t0 = Number(strtab.sh_offset);
          const tlen = Number(strtab.sh_size);
          for (const sh of sectionHeaders) {
            if (sh.sh_name < tlen) sh.name = v.cstring(t0 + sh.sh_name, Math.min(256, tlen - sh.sh_name), "section name");
          }
        }
      }
    }
  }

  // Notes: PT_NOTE segments; the SHT_NOTE sections when there are no program headers.
  const notes: ElfNote[] = [];
  const readNotes = (off: bigint, len: bigint, alignment: bigint, source: string): void => {
    if (off + len > fsz) return; // reported by the segment/section checks
    if (missing(off, len)) {
      prefix(`the notes of ${source}`, off);
      return;
    }
    const a = alignment === 8n ? 8 : 4;
    let p = Number(off);
    const end = p + Number(len);
    while (p + 12 <= end) {
      if (notes.length >= maxNotes) {
        findings.push({ code: "elf-note-limit", severity: "warning", offset: base + p, message: `more than ${maxNotes} notes; the rest are not read` });
        return;
      }
      const namesz = r.u32(p, "n_namesz");
      const descsz = r.u32(p + 4, "n_descsz");
      const type = r.u32(p + 8, "n_type");
      const nameAt = p + 12;
      const descAt = nameAt + align(namesz, a);
      const next = descAt + align(descsz, a);
      if (nameAt + namesz > end || descAt + descsz > end) {
        findings.push({ code: "elf-bad-note", severity: "warning", offset: base + p, message: `a note in ${source} (n_namesz ${namesz}, n_descsz ${descsz}) runs past the end of its ${Number(len)} bytes` });
        return;
      }
      const owner = latin1(bytes.subarray(nameAt, nameAt + namesz));
      const typeName =
        owner === "GNU" ? (GNU_NOTE_NAMES[type] ?? null) : owner === "Linux" ? (LINUX_NOTE_NAMES[type] ?? null) : owner === "Xen" ? (XEN_NOTES[type]?.[0] ?? null) : null;
      notes.push({ owner, type, typeName, desc: bytes.subarray(descAt, descAt + descsz), offset: base + p, source });
      if (next <= p) return;
      p = next;
    }
  };
  const notePhdrs = programHeaders.filter((p) => p.p_type === PT_NOTE);
  if (notePhdrs.length > 0) {
    for (const p of notePhdrs) readNotes(p.p_offset, p.p_filesz, p.p_align, `PT_NOTE segment ${p.index}`);
  } else if (sectionHeaders) {
    for (const s of sectionHeaders) if (s.sh_type === SHT_NOTE) readNotes(s.sh_offset, s.sh_size, s.sh_addralign, `section ${s.name ?? s.index}`);
  }

  const num = (d: Uint8Array): bigint | null => {
    if (d.length !== 4 && d.length !== 8) return null;
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    return d.length === 4 ? BigInt(dv.getUint32(0, r.le)) : dv.getBigUint64(0, r.le);
  };
  const gnuId = notes.find((n) => n.owner === "GNU" && n.type === NT_GNU_BUILD_ID);
  let buildId: string | null = null;
  if (gnuId) {
    buildId = "";
    for (const b of gnuId.desc) buildId += (b < 16 ? "0" : "") + b.toString(16);
  }
  const pvh = notes.find((n) => n.owner === "Xen" && n.type === XEN_ELFNOTE_PHYS32_ENTRY);
  const salt = notes.find((n) => n.owner === "Linux" && n.type === LINUX_ELFNOTE_BUILD_SALT);
  const lto = notes.find((n) => n.owner === "Linux" && n.type === LINUX_ELFNOTE_LTO_INFO);
  const ltoNum = lto ? num(lto.desc) : null;

  return {
    base,
    fileSize,
    available: bytes.length,
    header,
    phnum,
    shnum,
    shstrndx,
    programHeaders,
    sectionHeaders,
    notes,
    buildId,
    pvhEntry: pvh ? num(pvh.desc) : null,
    buildSalt: salt ? latin1(salt.desc) : null,
    ltoInfo: ltoNum === null ? null : Number(ltoNum),
    kexecErrors,
    findings,
  };
}

/** A note's descriptor, JSON-ready: strings for string notes, `0x…` for numbers, hex otherwise (at most 256 bytes). */
export function noteValue(n: ElfNote, le: boolean): string | null {
  const kind =
    n.owner === "Xen" ? (XEN_NOTES[n.type]?.[1] ?? "bytes") : n.owner === "Linux" && n.type === LINUX_ELFNOTE_BUILD_SALT ? "string" : n.owner === "GNU" && n.type === 4 ? "string" : "number-or-bytes";
  const d = n.desc;
  if (kind === "string") return latin1(d);
  if ((kind === "number" || kind === "number-or-bytes") && (d.length === 4 || d.length === 8) && !(n.owner === "GNU" && n.type === NT_GNU_BUILD_ID)) {
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    return hex(d.length === 4 ? dv.getUint32(0, le) : dv.getBigUint64(0, le));
  }
  let s = "";
  for (const b of d.subarray(0, 256)) s += (b < 16 ? "0" : "") + b.toString(16);
  return s;
}
