/**
 * A tiny deterministic ELF builder for tests: ELF32 or ELF64, little- or
 * big-endian, with PT_LOAD segments, one PT_NOTE segment holding the given
 * notes, and section headers (one per segment, ".notes", ".shstrtab").
 *
 * Layout: Ehdr | Phdrs | segment data (16-aligned) | notes | shstrtab | Shdrs.
 * {@link ElfLayout} gives the offsets of every header field, so that
 * mutation tests can poke exactly one field.
 */

export interface BuildSegment {
  type?: number; // default PT_LOAD
  flags?: number; // default R+X (5)
  vaddr: bigint;
  paddr?: bigint; // default vaddr
  data: Uint8Array;
  memsz?: bigint; // default data.length
  align?: bigint; // default 0x1000
}

export interface BuildNote {
  owner: string;
  type: number;
  desc: Uint8Array;
}

export interface BuildElf {
  class: 32 | 64;
  le: boolean;
  type?: number; // default ET_EXEC
  machine?: number; // default EM_X86_64 (62)
  entry?: bigint;
  segments?: BuildSegment[];
  notes?: BuildNote[];
  /** Omit the section headers (e_shoff = 0, e_shnum = 0). */
  noSections?: boolean;
}

/** Offsets of the header fields in a built file. */
export interface ElfLayout {
  bytes: Uint8Array;
  is64: boolean;
  le: boolean;
  /** Offsets of Ehdr fields. */
  ehdr: Record<
    "e_type" | "e_machine" | "e_version" | "e_entry" | "e_phoff" | "e_shoff" | "e_flags" | "e_ehsize" | "e_phentsize" | "e_phnum" | "e_shentsize" | "e_shnum" | "e_shstrndx",
    number
  >;
  /** Offset of each program header, and of its fields. */
  phdr: Array<Record<"p_type" | "p_flags" | "p_offset" | "p_vaddr" | "p_paddr" | "p_filesz" | "p_memsz" | "p_align", number>>;
  /** Offset of each section header. */
  shdr: number[];
  /** Offset of the note data. */
  notesOffset: number;
}

const enc = new TextEncoder();

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** Writes unsigned integers of 1-8 bytes in the file's byte order. */
class Writer {
  readonly dv: DataView;
  constructor(
    readonly buf: Uint8Array,
    readonly le: boolean,
  ) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  u16(o: number, v: number): void {
    this.dv.setUint16(o, v, this.le);
  }
  u32(o: number, v: number): void {
    this.dv.setUint32(o, v >>> 0, this.le);
  }
  u64(o: number, v: bigint): void {
    this.dv.setBigUint64(o, BigInt.asUintN(64, v), this.le);
  }
  /** A class-sized word. */
  word(o: number, v: bigint, is64: boolean): void {
    if (is64) this.u64(o, v);
    else this.u32(o, Number(BigInt.asUintN(32, v)));
  }
}

/** Field offsets of the Ehdr for a class. */
export function ehdrOffsets(is64: boolean): ElfLayout["ehdr"] {
  const w = is64 ? 8 : 4;
  const o = 24 + 3 * w;
  return {
    e_type: 16,
    e_machine: 18,
    e_version: 20,
    e_entry: 24,
    e_phoff: 24 + w,
    e_shoff: 24 + 2 * w,
    e_flags: o,
    e_ehsize: o + 4,
    e_phentsize: o + 6,
    e_phnum: o + 8,
    e_shentsize: o + 10,
    e_shnum: o + 12,
    e_shstrndx: o + 14,
  };
}

/** Field offsets inside a program header. */
export function phdrFieldOffsets(is64: boolean): Record<"p_type" | "p_flags" | "p_offset" | "p_vaddr" | "p_paddr" | "p_filesz" | "p_memsz" | "p_align", number> {
  return is64
    ? { p_type: 0, p_flags: 4, p_offset: 8, p_vaddr: 16, p_paddr: 24, p_filesz: 32, p_memsz: 40, p_align: 48 }
    : { p_type: 0, p_offset: 4, p_vaddr: 8, p_paddr: 12, p_filesz: 16, p_memsz: 20, p_flags: 24, p_align: 28 };
}

/** Builds the ELF described by `spec`. Deterministic: same spec, same bytes. */
export function buildElf(spec: BuildElf): ElfLayout {
  const is64 = spec.class === 64;
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const shentsize = is64 ? 64 : 40;
  const segments = spec.segments ?? [{ vaddr: 0x100000n, data: enc.encode("kernel text") }];
  const notes = spec.notes ?? [];
  const nph = segments.length + (notes.length ? 1 : 0);

  // Note data (4-byte aligned name and desc).
  const noteParts: Uint8Array[] = [];
  for (const n of notes) {
    const name = enc.encode(`${n.owner}\0`);
    const part = new Uint8Array(12 + align(name.length, 4) + align(n.desc.length, 4));
    const w = new Writer(part, spec.le);
    w.u32(0, name.length);
    w.u32(4, n.desc.length);
    w.u32(8, n.type);
    part.set(name, 12);
    part.set(n.desc, 12 + align(name.length, 4));
    noteParts.push(part);
  }
  const noteData = new Uint8Array(noteParts.reduce((s, p) => s + p.length, 0));
  noteParts.reduce((o, p) => (noteData.set(p, o), o + p.length), 0);

  // Section names.
  const names = ["", ...segments.map((_, i) => `.seg${i}`), ...(notes.length ? [".notes"] : []), ".shstrtab"];
  const nameOff: number[] = [];
  let strtab = "";
  for (const n of names) {
    nameOff.push(n === "" ? 0 : strtab.length + 1);
    if (n !== "") strtab += `${n}\0`;
  }
  const shstr = enc.encode(`\0${strtab}`);

  let pos = ehsize + nph * phentsize;
  const segOff: number[] = [];
  for (const s of segments) {
    pos = align(pos, 16);
    segOff.push(pos);
    pos += s.data.length;
  }
  pos = align(pos, 4);
  const notesOffset = pos;
  pos += noteData.length;
  const shstrOff = pos;
  pos += shstr.length;
  pos = align(pos, 8);
  const shoff = spec.noSections ? 0 : pos;
  const nsh = spec.noSections ? 0 : names.length;
  pos += nsh * shentsize;

  const buf = new Uint8Array(pos);
  const w = new Writer(buf, spec.le);
  buf.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, spec.le ? 1 : 2, 1, 0], 0);
  const eh = ehdrOffsets(is64);
  w.u16(eh.e_type, spec.type ?? 2);
  w.u16(eh.e_machine, spec.machine ?? 62);
  w.u32(eh.e_version, 1);
  w.word(eh.e_entry, spec.entry ?? segments[0]?.vaddr ?? 0n, is64);
  w.word(eh.e_phoff, BigInt(ehsize), is64);
  w.word(eh.e_shoff, BigInt(shoff), is64);
  w.u32(eh.e_flags, 0);
  w.u16(eh.e_ehsize, ehsize);
  w.u16(eh.e_phentsize, phentsize);
  w.u16(eh.e_phnum, nph);
  w.u16(eh.e_shentsize, shentsize);
  w.u16(eh.e_shnum, nsh);
  w.u16(eh.e_shstrndx, nsh ? names.length - 1 : 0);

  const pf = phdrFieldOffsets(is64);
  const phdr: ElfLayout["phdr"] = [];
  const writePhdr = (i: number, type: number, flags: number, off: number, vaddr: bigint, paddr: bigint, filesz: number, memsz: bigint, al: bigint): void => {
    const p = ehsize + i * phentsize;
    w.u32(p + pf.p_type, type);
    w.u32(p + pf.p_flags, flags);
    w.word(p + pf.p_offset, BigInt(off), is64);
    w.word(p + pf.p_vaddr, vaddr, is64);
    w.word(p + pf.p_paddr, paddr, is64);
    w.word(p + pf.p_filesz, BigInt(filesz), is64);
    w.word(p + pf.p_memsz, memsz, is64);
    w.word(p + pf.p_align, al, is64);
    const rec = {} as ElfLayout["phdr"][number];
    for (const [k, v] of Object.entries(pf)) rec[k as keyof typeof pf] = p + v;
    phdr.push(rec);
  };
  segments.forEach((s, i) => {
    buf.set(s.data, segOff[i] as number);
    writePhdr(i, s.type ?? 1, s.flags ?? 5, segOff[i] as number, s.vaddr, s.paddr ?? s.vaddr, s.data.length, s.memsz ?? BigInt(s.data.length), s.align ?? 0x1000n);
  });
  if (notes.length) writePhdr(segments.length, 4, 4, notesOffset, 0n, 0n, noteData.length, BigInt(noteData.length), 4n);
  buf.set(noteData, notesOffset);
  buf.set(shstr, shstrOff);

  const shdr: number[] = [];
  for (let i = 0; i < nsh; i++) {
    const s = shoff + i * shentsize;
    shdr.push(s);
    if (i === 0) continue;
    const isSeg = i <= segments.length;
    const isNotes = !isSeg && notes.length > 0 && i === segments.length + 1;
    const type = isSeg ? 1 : isNotes ? 7 : 3;
    const off = isSeg ? (segOff[i - 1] as number) : isNotes ? notesOffset : shstrOff;
    const size = isSeg ? (segments[i - 1] as BuildSegment).data.length : isNotes ? noteData.length : shstr.length;
    const addr = isSeg ? (segments[i - 1] as BuildSegment).vaddr : 0n;
    w.u32(s, nameOff[i] as number);
    w.u32(s + 4, type);
    const x = is64 ? 8 : 4;
    w.word(s + 8, isSeg ? 6n : 0n, is64); // sh_flags: ALLOC|EXECINSTR
    w.word(s + 8 + x, addr, is64);
    w.word(s + 8 + 2 * x, BigInt(off), is64);
    w.word(s + 8 + 3 * x, BigInt(size), is64);
    w.u32(s + 8 + 4 * x, 0);
    w.u32(s + 12 + 4 * x, 0);
    w.word(s + 16 + 4 * x, isNotes ? 4n : 1n, is64);
    w.word(s + 16 + 5 * x, 0n, is64);
  }
  return { bytes: buf, is64, le: spec.le, ehdr: eh, phdr, shdr, notesOffset };
}

/** Writes a class-sized or fixed-size unsigned field into a copy of `l.bytes`. */
export function poke(l: ElfLayout, offset: number, size: 2 | 4 | 8 | "word", value: bigint | number): Uint8Array {
  const out = l.bytes.slice();
  const w = new Writer(out, l.le);
  const v = BigInt(value);
  if (size === 2) w.u16(offset, Number(v));
  else if (size === 4) w.u32(offset, Number(BigInt.asUintN(32, v)));
  else if (size === 8) w.u64(offset, v);
  else w.word(offset, v, l.is64);
  return out;
}
