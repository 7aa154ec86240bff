/**
 * Memory maps from what a loader has: a devicetree, the text of
 * /proc/iomem, an e820 table, or a compact command-line form.
 *
 * Every parser is bounded (line, entry and depth limits) and reports bad
 * input as a {@link KimageError} (`memory-bad-syntax`, `memory-bad-range`,
 * `memory-iomem-unprivileged`, `limit`, or the `fdt-*` codes of the tree).
 *
 * @module
 */

import { hex } from "../../core/bytes.js";
import { KimageError, type ErrorCode } from "../../core/errors.js";
import { type Fdt, type FdtNode } from "../../fdt/spec.js";
import { addressCells, decodeReg, findChild, getProp, getString, sizeCells } from "../../fdt/tree.js";
import { ADDRESS_LIMIT, MEMORY_LAYER, isMemoryType, memoryMap, type MemoryMap, type MemoryType } from "./memory.js";

/** A typed range before normalization (what a source states). */
export interface MemoryEntry {
  start: bigint;
  size: bigint;
  type: MemoryType;
  /** Where the entry came from, e.g. `"/memory@40000000"` or `"Crash kernel"`. */
  source?: string;
}

function bad(code: ErrorCode, message: string, offset = -1): never {
  throw new KimageError(code, message, { layer: MEMORY_LAYER, offset });
}

function checkRange(start: bigint, size: bigint, what: string, offset = -1): void {
  if (start < 0n || size < 0n || start + size > ADDRESS_LIMIT) bad("memory-bad-range", `${what}: ${hex(start)}+${hex(size)} wraps past 2^64`, offset);
}

// ---------------------------------------------------------------------------
// Devicetree

/**
 * The memory a devicetree describes, as entries:
 *
 * - **RAM**: every child of the root whose `device_type` is `"memory"` and
 *   whose `status` is absent, `"okay"` or `"ok"`, with its
 *   `linux,usable-memory` if present, else its `reg`, decoded with the
 *   root's `#address-cells` / `#size-cells`. drivers/of/fdt.c
 *   `early_init_dt_scan_memory`: `fdt_for_each_subnode(node, fdt, 0) { type =
 *   of_get_flat_dt_prop(node, "device_type", NULL); if (type == NULL ||
 *   strcmp(type, "memory") != 0) continue; if (!of_fdt_device_is_available(fdt,
 *   node)) continue; reg = of_get_flat_dt_prop(node, "linux,usable-memory", &l);
 *   if (reg == NULL) reg = of_get_flat_dt_prop(node, "reg", &l);` ...
 * - **reserved**: each child of `/reserved-memory` with a `reg` (static
 *   allocations; bindings/reserved-memory: "reg (optional) - standard
 *   definition" / "size (optional) - ... dynamically allocated" — those
 *   without `reg` have no address yet and are skipped), decoded with
 *   `/reserved-memory`'s own `#address-cells` / `#size-cells` ("#address-cells,
 *   #size-cells (required) - standard definition - Should use the same values
 *   as the root node"). Both `no-map` ("Indicates the operating system must
 *   not create a virtual mapping of the region") and mapped regions are
 *   unavailable to kexec, so both become `reserved`. Disabled children are
 *   skipped.
 * - **reserved**: each /memreserve/ entry (spec 5.3: "the client program
 *   shall not access memory in a reserved region").
 */
export function memoryEntriesFromFdt(fdt: Fdt): MemoryEntry[] {
  const out: MemoryEntry[] = [];
  const root = fdt.root;
  const rootAc = addressCells(root);
  const rootSc = sizeCells(root);
  for (const node of root.children) {
    if (stringProp(node, "device_type") !== "memory" || !available(node)) continue;
    const usable = getProp(node, "linux,usable-memory");
    const reg = usable ?? getProp(node, "reg");
    if (!reg) continue;
    for (const e of decodeReg(reg.value, rootAc, rootSc, reg.name)) {
      checkRange(e.address, e.size, `/${node.name} ${reg.name}`);
      out.push({ start: e.address, size: e.size, type: "ram", source: `/${node.name}` });
    }
  }
  const rm = findChild(root, "reserved-memory");
  if (rm) {
    const ac = addressCells(rm, rootAc);
    const sc = sizeCells(rm, rootSc);
    for (const child of rm.children) {
      if (!available(child)) continue;
      const reg = getProp(child, "reg");
      if (!reg) continue;
      for (const e of decodeReg(reg.value, ac, sc)) {
        checkRange(e.address, e.size, `/reserved-memory/${child.name} reg`);
        out.push({ start: e.address, size: e.size, type: "reserved", source: `/reserved-memory/${child.name}${getProp(child, "no-map") ? " (no-map)" : ""}` });
      }
    }
  }
  fdt.reservations.forEach((r, i) => {
    checkRange(r.address, r.size, `/memreserve/ ${i}`);
    out.push({ start: r.address, size: r.size, type: "reserved", source: `/memreserve/ ${i}` });
  });
  return out;
}

/** {@link memoryEntriesFromFdt}, normalized into a {@link MemoryMap}. */
export function memoryMapFromFdt(fdt: Fdt): MemoryMap {
  return memoryMap(memoryEntriesFromFdt(fdt));
}

function stringProp(node: FdtNode, name: string): string | undefined {
  try {
    return getString(node, name);
  } catch {
    return undefined;
  }
}

/** drivers/of/fdt.c `of_fdt_device_is_available`: no status, or "okay" / "ok". */
function available(node: FdtNode): boolean {
  const s = stringProp(node, "status");
  return s === undefined || s === "okay" || s === "ok";
}

// ---------------------------------------------------------------------------
// /proc/iomem

/** Bounds of {@link parseIomem}. */
export interface IomemLimits {
  /** Most lines. Default 100 000. */
  maxLines: number;
  /** Longest line in characters. Default 1024. */
  maxLineLength: number;
  /** Deepest nesting. Default 32. */
  maxDepth: number;
}

/** One line of /proc/iomem. */
export interface IomemResource {
  start: bigint;
  /** Inclusive end, as printed. */
  end: bigint;
  name: string;
  /** Nesting depth (indentation / 2). */
  depth: number;
  /** 1-based line number. */
  line: number;
  children: IomemResource[];
}

/**
 * Parses the text of /proc/iomem into its resource tree.
 *
 * kernel/resource.c `r_show()` prints each resource as
 * `seq_printf(m, "%*s%0*llx-%0*llx : %s\n", depth * 2, "", width, start,
 * width, end, r->name ? r->name : "<BAD>")`: two spaces per nesting level,
 * hex start and **inclusive** end, `" : "`, the name. A child lies inside its
 * parent.
 *
 * @throws KimageError `memory-bad-syntax` for a malformed line, odd
 *   indentation, a jump of more than one level, or a child outside its
 *   parent; `memory-bad-range` when end < start; `limit` beyond the bounds.
 */
export function parseIomem(text: string, limits: Partial<IomemLimits> = {}): IomemResource[] {
  const lim: IomemLimits = { maxLines: 100_000, maxLineLength: 1024, maxDepth: 32, ...limits };
  const roots: IomemResource[] = [];
  const stack: IomemResource[] = [];
  let lineNo = 0;
  let pos = 0;
  while (pos < text.length) {
    let nl = text.indexOf("\n", pos);
    if (nl < 0) nl = text.length;
    const raw = text.slice(pos, nl);
    const lineStart = pos;
    pos = nl + 1;
    lineNo++;
    if (lineNo > lim.maxLines) bad("limit", `more than ${lim.maxLines} lines`, lineStart);
    if (raw.length > lim.maxLineLength) bad("limit", `line ${lineNo} is longer than ${lim.maxLineLength} characters`, lineStart);
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") continue;
    const m = /^( *)([0-9a-fA-F]{1,16})-([0-9a-fA-F]{1,16}) : (.*)$/.exec(line);
    if (!m) bad("memory-bad-syntax", `line ${lineNo}: "${line}" is not "start-end : name"`, lineStart);
    const indent = m[1]!.length;
    if (indent % 2 !== 0) bad("memory-bad-syntax", `line ${lineNo}: indentation of ${indent} spaces is not a multiple of 2`, lineStart);
    const depth = indent / 2;
    if (depth > lim.maxDepth) bad("limit", `line ${lineNo}: nesting deeper than ${lim.maxDepth}`, lineStart);
    if (depth > stack.length) bad("memory-bad-syntax", `line ${lineNo}: nested ${depth} levels under a depth-${stack.length - 1} line`, lineStart);
    const start = BigInt("0x" + m[2]!);
    const end = BigInt("0x" + m[3]!);
    if (end < start) bad("memory-bad-range", `line ${lineNo}: end ${hex(end)} is below start ${hex(start)}`, lineStart);
    const r: IomemResource = { start, end, name: m[4]!, depth, line: lineNo, children: [] };
    stack.length = depth;
    const parent = stack[depth - 1];
    if (parent) {
      if (start < parent.start || end > parent.end) {
        bad("memory-bad-syntax", `line ${lineNo}: ${hex(start)}-${hex(end)} lies outside its parent ${hex(parent.start)}-${hex(parent.end)} (line ${parent.line})`, lineStart);
      }
      parent.children.push(r);
    } else roots.push(r);
    stack.push(r);
  }
  return roots;
}

/**
 * The memory type of an iomem resource name, or undefined for names that
 * are not memory (devices, PCI windows, "Kernel code", …).
 *
 * Names come from arch/x86/kernel/e820.c `e820_type_to_string()` ("System
 * RAM", "Reserved", "ACPI Tables", "ACPI Non-volatile Storage", "Unusable
 * memory", "Persistent Memory", "Persistent Memory (legacy)", "Soft
 * Reserved"), kernel/crash_reserve.c / arch setup (`crashk_res.name =
 * "Crash kernel"`) and arm64's nested "reserved" (memblock reservations).
 * "System RAM (kmem)" is driver-managed memory (IORESOURCE_SYSRAM_DRIVER_MANAGED),
 * which kexec's locate_mem_hole_callback skips: "Don't use memory that will
 * be detected and handled by a driver", so it is not `ram` here.
 */
export function iomemType(name: string): MemoryType | undefined {
  switch (name) {
    case "System RAM":
      return "ram";
    case "Reserved":
    case "reserved":
    case "System RAM (kmem)":
      return "reserved";
    case "ACPI Tables":
      return "acpi";
    case "ACPI Non-volatile Storage":
      return "nvs";
    case "Unusable memory":
      return "unusable";
    case "Persistent Memory":
    case "Persistent Memory (legacy)":
      return "pmem";
    case "Crash kernel":
      return "crash";
    case "Soft Reserved":
      return "soft-reserved";
    default:
      return undefined;
  }
}

/**
 * Memory entries from /proc/iomem text: every resource, at any depth, whose
 * name {@link iomemType} knows. Nesting matters through precedence: a
 * "Crash kernel" or "reserved" nested under "System RAM" carves it (see
 * {@link memoryMap}); "Kernel code" / "Kernel data" / "Kernel bss" stay RAM
 * (kexec may overwrite the running kernel: the copy happens at reboot).
 *
 * @throws KimageError `memory-iomem-unprivileged` when every range is
 *   `00000000-00000000`: kernel/resource.c `r_show()` prints real
 *   addresses only `if (file_ns_capable(m->file, &init_user_ns,
 *   CAP_SYS_ADMIN))`, else `start = end = 0`.
 */
export function memoryEntriesFromIomem(text: string, limits: Partial<IomemLimits> = {}): MemoryEntry[] {
  const roots = parseIomem(text, limits);
  const out: MemoryEntry[] = [];
  let any = false;
  let nonZero = false;
  const stack = [...roots].reverse();
  while (stack.length > 0) {
    const r = stack.pop()!;
    any = true;
    if (r.start !== 0n || r.end !== 0n) nonZero = true;
    const type = iomemType(r.name);
    if (type) out.push({ start: r.start, size: r.end - r.start + 1n, type, source: `iomem line ${r.line}: ${r.name}` });
    for (let i = r.children.length - 1; i >= 0; i--) stack.push(r.children[i]!);
  }
  if (any && !nonZero) {
    bad("memory-iomem-unprivileged", "every /proc/iomem range is 00000000-00000000: read it as root (CAP_SYS_ADMIN)");
  }
  return out;
}

/** {@link memoryEntriesFromIomem}, normalized. */
export function memoryMapFromIomem(text: string, limits: Partial<IomemLimits> = {}): MemoryMap {
  return memoryMap(memoryEntriesFromIomem(text, limits));
}

// ---------------------------------------------------------------------------
// e820

/** One e820 entry (`struct boot_e820_entry { __u64 addr; __u64 size; __u32 type; }`). */
export interface E820Entry {
  addr: bigint | number;
  size: bigint | number;
  type: number;
}

/**
 * The memory type of an e820 type number (arch/x86/include/asm/e820/types.h):
 * `E820_TYPE_RAM = 1`, `E820_TYPE_RESERVED = 2`, `E820_TYPE_ACPI = 3`,
 * `E820_TYPE_NVS = 4`, `E820_TYPE_UNUSABLE = 5`, `E820_TYPE_PMEM = 7`,
 * `E820_TYPE_PRAM = 12`, `E820_TYPE_SOFT_RESERVED = 0xefffffff`,
 * `E820_TYPE_RESERVED_KERN = 128` (RAM the kernel reserved, still "System
 * RAM" in iomem). Any other type is treated as reserved, as
 * `e820_type_to_string()` prints "Reserved" for it.
 */
export function e820Type(type: number): MemoryType {
  switch (type) {
    case 1:
    case 128:
      return "ram";
    case 3:
      return "acpi";
    case 4:
      return "nvs";
    case 5:
      return "unusable";
    case 7:
    case 12:
      return "pmem";
    case 0xefffffff:
      return "soft-reserved";
    default:
      return "reserved";
  }
}

/**
 * Memory entries from an e820 list. Sizes of 0 are dropped, as the kernel's
 * `e820__range_add` ignores them.
 *
 * @throws KimageError `memory-bad-syntax` for non-integer fields,
 *   `memory-bad-range` for a range past 2^64, `limit` beyond `maxEntries`
 *   (default 1024; E820_MAX_ENTRIES is 128 + 3 * MAX_NUMNODES).
 */
export function memoryEntriesFromE820(list: readonly E820Entry[], maxEntries = 1024): MemoryEntry[] {
  if (list.length > maxEntries) bad("limit", `${list.length} e820 entries exceed the limit ${maxEntries}`);
  return list.flatMap((e, i) => {
    const addr = toBig(e.addr, `e820[${i}].addr`);
    const size = toBig(e.size, `e820[${i}].size`);
    if (!Number.isInteger(e.type) || e.type < 0 || e.type > 0xffffffff) bad("memory-bad-syntax", `e820[${i}].type ${e.type} is not a u32`);
    checkRange(addr, size, `e820[${i}]`);
    return size === 0n ? [] : [{ start: addr, size, type: e820Type(e.type), source: `e820[${i}] type ${e.type}` }];
  });
}

/** {@link memoryEntriesFromE820}, normalized. */
export function memoryMapFromE820(list: readonly E820Entry[], maxEntries = 1024): MemoryMap {
  return memoryMap(memoryEntriesFromE820(list, maxEntries));
}

function toBig(v: bigint | number, what: string): bigint {
  if (typeof v === "bigint") return v;
  if (!Number.isSafeInteger(v)) bad("memory-bad-syntax", `${what} = ${v} is not a safe integer (pass a bigint)`);
  return BigInt(v);
}

// ---------------------------------------------------------------------------
// CLI form

const SUFFIX: Record<string, bigint> = { "": 1n, k: 1n << 10n, m: 1n << 20n, g: 1n << 30n, t: 1n << 40n, p: 1n << 50n };

/**
 * Parses a size or address: decimal or `0x` hex, optionally followed by a
 * binary suffix K, M, G, T or P (case-insensitive; `1G` = 2^30), optionally
 * followed by `iB` or `B`.
 */
export function parseSize(s: string, what = "size"): bigint {
  const m = /^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})([kKmMgGtTpP]?)(?:i?[bB])?$/.exec(s.trim());
  if (!m) bad("memory-bad-syntax", `${what} "${s}" is not a number with an optional K/M/G/T/P suffix`);
  const v = BigInt(m[1]!) * SUFFIX[m[2]!.toLowerCase()]!;
  if (v >= ADDRESS_LIMIT) bad("memory-bad-range", `${what} "${s}" is 2^64 or more`);
  return v;
}

/**
 * Parses the compact CLI form `ADDR:SIZE[@TYPE][,ADDR:SIZE[@TYPE]…]`, e.g.
 * `--memory 0x40000000:1G` or `0x40000000:1G,0x100000000:2G,0x7f000000:16M@reserved`.
 * TYPE is a {@link MemoryType} (default `ram`). At most `maxEntries`
 * (default 256) entries; input at most 64 KiB.
 */
export function memoryEntriesFromCli(spec: string, maxEntries = 256): MemoryEntry[] {
  if (spec.length > 65536) bad("limit", "the --memory value is longer than 64 KiB");
  const items = spec.split(",").map((s) => s.trim());
  if (items.length > maxEntries) bad("limit", `${items.length} --memory entries exceed the limit ${maxEntries}`);
  return items.map((item, i) => {
    const m = /^([^:@\s]+):([^:@\s]+)(?:@([a-z-]+))?$/.exec(item);
    if (!m) bad("memory-bad-syntax", `--memory entry ${i + 1} "${item}" is not ADDR:SIZE[@TYPE]`);
    const start = parseSize(m[1]!, `address of entry ${i + 1}`);
    const size = parseSize(m[2]!, `size of entry ${i + 1}`);
    const t = m[3] ?? "ram";
    if (!isMemoryType(t)) bad("memory-bad-syntax", `--memory entry ${i + 1}: unknown type "${t}"`);
    if (size === 0n) bad("memory-bad-range", `--memory entry ${i + 1} "${item}" has size 0`);
    checkRange(start, size, `--memory entry ${i + 1}`);
    return { start, size, type: t, source: `--memory ${item}` };
  });
}

/** {@link memoryEntriesFromCli}, normalized. */
export function memoryMapFromCli(spec: string, maxEntries = 256): MemoryMap {
  return memoryMap(memoryEntriesFromCli(spec, maxEntries));
}
