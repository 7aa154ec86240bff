// Builders the plan and boot tests share: fake arm64 and RISC-V Image
// headers, a first kernel's device tree, a VMCOREINFO note, and small
// helpers for reading plans and their errors.
import { isKimageError } from "../../src/core/errors.js";
import { createFdt, ensureNode, serializeFdt, setProp, setString, setU32, stringListValue, u64Value, type Fdt } from "../../src/fdt/index.js";
import type { Range, Segment } from "../../src/plan/core/memory.js";
import type { AnyPlan } from "../../src/plan/core/types.js";

/**
 * A synthetic arm64 Image (Documentation/arch/arm64/booting.rst header):
 * code0 `b #0x40`, text_offset 0, `image_size`, flags 0xa (little-endian,
 * 4K pages, anywhere in RAM), magic "ARM\x64"; then `length - 64` bytes of
 * code (`(i * 31) & 0xff`).
 */
export function fakeArm64Image(imageSize: bigint, length = 1 << 20): Uint8Array {
  const b = new Uint8Array(length);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x14000010, true);
  dv.setBigUint64(16, imageSize, true);
  dv.setBigUint64(24, 0xan, true);
  dv.setUint32(0x38, 0x644d5241, true);
  for (let i = 64; i < b.length; i++) b[i] = (i * 31) & 0xff;
  return b;
}

/** The header fields of {@link fakeRiscvImage}. */
export interface FakeRiscvImage {
  /** Default 0x200000 (2 MiB, the RV64 alignment). */
  text_offset?: bigint;
  /** Default 0x1500000 (21 MiB). */
  image_size?: bigint;
  /** Default 0 (little-endian). */
  flags?: bigint;
  /** File length; default 8192. */
  length?: number;
  /** Fill the bytes after the header with `(i * 31) & 0xff` (default: zeros). */
  code?: boolean;
}

/**
 * A synthetic RISC-V Image (Documentation/arch/riscv/boot-image-header.rst):
 * code0 `j 0x40`, text_offset, image_size, flags, version 0.2, magic
 * "RISCV\0\0\0" and magic2 "RSC\x05".
 */
export function fakeRiscvImage(over: FakeRiscvImage = {}): Uint8Array {
  const b = new Uint8Array(over.length ?? 8192);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x0000006f, true);
  dv.setBigUint64(8, over.text_offset ?? 0x200000n, true);
  dv.setBigUint64(16, over.image_size ?? 0x1500000n, true);
  dv.setBigUint64(24, over.flags ?? 0n, true);
  dv.setUint32(32, 2, true);
  dv.setBigUint64(48, 0x5643534952n, true);
  dv.setUint32(56, 0x05435352, true);
  if (over.code) for (let i = 64; i < b.length; i++) b[i] = (i * 31) & 0xff;
  return b;
}

/** What {@link firstKernelDtb} puts in the tree. */
export interface FirstDtb {
  /** The one /memory node's range (`/memory@<start>`). */
  ram: Range;
  /** The root's `compatible` (default: none). */
  compatible?: string;
  /** /chosen `bootargs` (default: none; /chosen exists either way). */
  bootargs?: string;
  /** Further edits before the tree is serialized. */
  edit?: (fdt: Fdt) => void;
}

/** A first kernel's device tree: 2 address / 2 size cells, one /memory node, /chosen. */
export function firstKernelDtb(o: FirstDtb): Uint8Array {
  const fdt = createFdt();
  setU32(fdt.root, "#address-cells", 2);
  setU32(fdt.root, "#size-cells", 2);
  if (o.compatible !== undefined) setString(fdt.root, "compatible", o.compatible);
  const mem = ensureNode(fdt, `/memory@${o.ram.start.toString(16)}`);
  setString(mem, "device_type", "memory");
  setProp(mem, "reg", new Uint8Array([...u64Value(o.ram.start), ...u64Value(o.ram.size)]));
  const chosen = ensureNode(fdt, "/chosen");
  if (o.bootargs !== undefined) setString(chosen, "bootargs", o.bootargs);
  o.edit?.(fdt);
  return serializeFdt(fdt);
}

/**
 * A VMCOREINFO ELF note as the kernel's append_elf_note writes it: namesz,
 * descsz, type 0, "VMCOREINFO\0" and the text each padded to 4, then
 * final_note()'s zero header.
 */
export function vmcoreinfoNote(text: string): Uint8Array {
  const name = new TextEncoder().encode("VMCOREINFO\0");
  const desc = new TextEncoder().encode(text);
  const pad = (n: number) => (n + 3) & ~3;
  const b = new Uint8Array(12 + pad(name.length) + pad(desc.length) + 12);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, name.length, true);
  dv.setUint32(4, desc.length, true);
  b.set(name, 12);
  b.set(desc, 12 + pad(name.length));
  return b;
}

/** The plan's segment called `name` (throws when there is none). */
export function segmentNamed(plan: AnyPlan, name: string): Segment {
  const s = plan.segments.find((x) => x.name === name);
  if (!s) throw new Error(`no ${name}`);
  return s;
}

/** The KimageError code `p` rejects with, "no error" when it resolves (other errors as text). */
export async function rejectionCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "no error";
  } catch (e) {
    return isKimageError(e) ? e.code : String(e);
  }
}

/** A pseries-like first kernel's tree: 1 GiB at 0, the hypervisor vterm as stdout-path (QEMU's /vdevice/vty@71000000). */
export function pseriesDtb(): Uint8Array {
  return firstKernelDtb({
    ram: { start: 0n, size: 1n << 30n },
    edit: (fdt) => {
      const vdev = ensureNode(fdt, "/vdevice");
      setU32(vdev, "#address-cells", 1);
      setU32(vdev, "#size-cells", 0);
      const vty = ensureNode(fdt, "/vdevice/vty@71000000");
      setProp(vty, "compatible", stringListValue(["hvterm1"]));
      setString(vty, "device_type", "serial");
      setU32(vty, "reg", 0x71000000);
      setString(ensureNode(fdt, "/chosen"), "stdout-path", "/vdevice/vty@71000000");
    },
  });
}
