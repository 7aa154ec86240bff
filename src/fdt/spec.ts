/**
 * Constants, types and limits of the Flattened Devicetree (DTB) format.
 *
 * Quotes are from the Devicetree Specification v0.4, chapter 5 "Flattened
 * Devicetree (DTB) Format".
 *
 * @module
 */

/** Format id used in errors raised by the FDT layer. */
export const FDT_LAYER = "fdt";

/**
 * 5.2 Header: "magic This field shall contain the value 0xd00dfeed
 * (big-endian)."
 */
export const FDT_MAGIC = 0xd00dfeed;

/**
 * The header is ten big-endian u32 fields (5.2, `struct fdt_header`):
 * magic, totalsize, off_dt_struct, off_dt_strings, off_mem_rsvmap, version,
 * last_comp_version, boot_cpuid_phys, size_dt_strings, size_dt_struct.
 */
export const FDT_HEADER_SIZE = 40;

/**
 * 5.2: "version This field shall contain the version of the devicetree data
 * structure. The version is 17 if using the structure as defined in this
 * document." / "last_comp_version ... shall contain the value 16 if using the
 * structure as defined in this document."
 */
export const FDT_VERSION = 17;
/** See {@link FDT_VERSION}. */
export const FDT_LAST_COMP_VERSION = 16;

/**
 * 5.4.1 Lexical structure: "FDT_BEGIN_NODE (0x00000001) ... followed by the
 * node's unit name as extra data. The name is stored as a null-terminated
 * string, and shall include the unit address, if any. The node name is
 * followed by zeroed padding bytes, if necessary for alignment".
 */
export const FDT_BEGIN_NODE = 0x1;
/** 5.4.1: "FDT_END_NODE (0x00000002) ... has no extra data". */
export const FDT_END_NODE = 0x2;
/**
 * 5.4.1: "FDT_PROP (0x00000003) ... followed by extra data describing the
 * property. This data consists first of the property's length and name
 * represented as the following C structure: `struct { uint32_t len; uint32_t
 * nameoff; }` ... After this structure, the property's value is given as a
 * byte string of length len. This value is followed by zeroed padding bytes
 * (if necessary) to align to the next 32-bit boundary".
 */
export const FDT_PROP = 0x3;
/**
 * 5.4.1: "FDT_NOP (0x00000004) The FDT_NOP token will be ignored by any
 * program parsing the device tree. ... it can be used to overwrite a property
 * or node definition in the tree with FDT_NOP tokens to remove it from the
 * tree without needing to move other sections of the tree's representation".
 */
export const FDT_NOP = 0x4;
/**
 * 5.4.1: "FDT_END (0x00000009) The FDT_END token marks the end of the
 * structure block. There shall be only one FDT_END token, and it shall be the
 * last token in the structure block."
 */
export const FDT_END = 0x9;

/**
 * Bounds every parse and every edit helper respects. Exceeding one throws
 * `limit` (never an out-of-memory or a stack overflow).
 */
export interface FdtLimits {
  /** Largest accepted totalsize (and input length). Default 64 MiB. */
  maxTotalSize: number;
  /** Deepest node nesting (the root is depth 1). Default 64, as the kernel's FDT_MAX_DEPTH. */
  maxDepth: number;
  /** Most nodes in one tree. Default 100 000. */
  maxNodes: number;
  /** Most properties in one tree. Default 1 000 000. */
  maxProperties: number;
  /** Largest single property value in bytes. Default 16 MiB. */
  maxPropertySize: number;
  /** Longest node name or property name in bytes (without the NUL). Default 4096. */
  maxNameLength: number;
  /** Most memory reservation entries. Default 4096. */
  maxReservations: number;
}

/** The default {@link FdtLimits}. */
export const DEFAULT_FDT_LIMITS: Readonly<FdtLimits> = Object.freeze({
  maxTotalSize: 64 << 20,
  maxDepth: 64,
  maxNodes: 100_000,
  maxProperties: 1_000_000,
  maxPropertySize: 16 << 20,
  maxNameLength: 4096,
  maxReservations: 4096,
});

/**
 * One property: a name and a value (big-endian cells, strings, or bytes).
 *
 * Invariant: `name` is non-empty and contains no NUL. `value` may be a view
 * of the parsed input (zero-copy); setters replace it, never write into it.
 */
export interface FdtProperty {
  /** Property name, e.g. `"bootargs"`. */
  name: string;
  /** The raw value bytes (length = the FDT_PROP `len`). */
  value: Uint8Array;
  /**
   * Where the name sat in the original strings block (`nameoff`). Only a
   * hint for exact re-serialization: it is used when the string at that
   * offset still spells `name`, and ignored otherwise.
   */
  nameOffset?: number;
  /** FDT_NOP tokens that preceded this property's FDT_PROP in the input. */
  nopsBefore?: number;
  /**
   * The padding bytes after the value when the input had non-zero ones
   * (5.4.1 asks for "zeroed padding bytes", but QEMU's libfdt edits leave
   * stale bytes there). Written back only while the value length is
   * unchanged; {@link setProp} drops it.
   */
  pad?: Uint8Array;
}

/**
 * One node. 5.4.2 Tree structure: "all property definitions for a particular
 * node precede any subnode definitions for that node", so properties and
 * children are two ordered lists.
 */
export interface FdtNode {
  /** Unit name with unit address, e.g. `"memory@40000000"`; `""` for the root. */
  name: string;
  /** Properties in blob order. */
  props: FdtProperty[];
  /** Subnodes in blob order. */
  children: FdtNode[];
  /** FDT_NOP tokens that preceded this node's FDT_BEGIN_NODE in the input. */
  nopsBefore?: number;
  /** FDT_NOP tokens between the last property/child and this node's FDT_END_NODE. */
  nopsBeforeEnd?: number;
  /** Non-zero padding bytes after the name in the input (see {@link FdtProperty.pad}). */
  namePad?: Uint8Array;
}

/**
 * 5.3 Memory reservation block: "Each entry gives the physical address and
 * the size in bytes of a reserved memory region" (`struct fdt_reserve_entry
 * { uint64_t address; uint64_t size; }`), "terminated with an entry where both
 * address and size are equal to 0".
 */
export interface FdtReservation {
  address: bigint;
  size: bigint;
}

/**
 * How the input blob was laid out, kept so that an unmodified (or same-size)
 * tree serializes to the identical bytes. `serializeFdt` uses it only while
 * every block still has its original size; otherwise it lays the blob out
 * the way dtc does.
 */
export interface FdtLayout {
  totalSize: number;
  offMemRsvmap: number;
  offDtStruct: number;
  offDtStrings: number;
  sizeDtStruct: number;
  sizeDtStrings: number;
  /** Bytes of the memory reservation block including the (0, 0) terminator. */
  sizeMemRsvmap: number;
  /** The original strings block (a view of the input): its order, sharing and unused strings. */
  strings: Uint8Array;
  /** Bytes inside totalsize that belong to no block (padding), as views of the input. */
  gaps: { offset: number; bytes: Uint8Array }[];
  /** Bytes of the input after totalsize (e.g. QEMU's dumpdtb writes its whole buffer). */
  trailing: Uint8Array;
}

/** A parsed, editable devicetree. */
export interface Fdt {
  /** The root node (name `""`). */
  root: FdtNode;
  /** The memory reservation block's entries (without the terminator). */
  reservations: FdtReservation[];
  /** 5.2 "boot_cpuid_phys ... the physical ID of the system's boot CPU". */
  bootCpuidPhys: number;
  /** Header `version` (17 when written by kimage). */
  version: number;
  /** Header `last_comp_version` (16 when written by kimage). */
  lastCompVersion: number;
  /** FDT_NOP tokens before the root's FDT_BEGIN_NODE. */
  nopsBeforeRoot?: number;
  /** FDT_NOP tokens between the root's FDT_END_NODE and FDT_END. */
  nopsAfterRoot?: number;
  /** The input's layout, when parsed; absent for trees built in code. */
  layout?: FdtLayout;
}
