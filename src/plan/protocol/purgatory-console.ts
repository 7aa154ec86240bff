/**
 * The console a purgatory writes its mismatch line to, found the way the
 * kernel's earlycon finds it: the device tree's `/chosen/stdout-path`
 * (Devicetree Specification 3.6: "stdout-path ... a string that specifies
 * the full path to the node representing the device to be used for boot
 * console output. If the character ":" is present in the value it
 * terminates the path."; the path may start with an alias name).
 *
 * Recognized: `arm,pl011` (arm64 QEMU virt's /pl011@9000000),
 * `ns16550a` / `ns16550` (riscv64 QEMU virt's /soc/serial@10000000, with
 * its `reg-shift`) and `hvterm1` (pseries' /vdevice/vty@71000000: the
 * hypervisor's virtual terminal, whose `reg` is its terminal number,
 * drivers/tty/hvc/hvc_vio.c: "termno = of_get_property(np, "reg", NULL)").
 * x86 has no device tree: its console is COM1, I/O port 0x3f8.
 *
 * @module
 */

import { parseFdt } from "../../fdt/parse.js";
import { addressCells, decodeReg, findNode, getProp, getString, getStringList, getU32, sizeCells } from "../../fdt/tree.js";
import type { FdtNode } from "../../fdt/spec.js";
import type { PurgatoryConsole } from "./purgatory.js";

/** COM1: the legacy PC serial port kimage's x86_64 purgatory writes to. */
export const X86_COM1_PORT = 0x3f8n;

/** The node path of `/chosen/stdout-path` (alias resolved), or undefined. */
function stdoutPath(dtb: Uint8Array): { path: string; node: FdtNode; parent: FdtNode } | undefined {
  const fdt = parseFdt(dtb);
  const chosen = findNode(fdt, "/chosen");
  const raw = chosen ? getString(chosen, "stdout-path") ?? getString(chosen, "linux,stdout-path") : undefined;
  if (!raw) return undefined;
  let path = raw.split(":")[0] ?? "";
  if (!path.startsWith("/")) {
    const aliases = findNode(fdt, "/aliases");
    const [alias, ...rest] = path.split("/");
    const target = aliases && alias ? getString(aliases, alias) : undefined;
    if (!target) return undefined;
    path = [target, ...rest].join("/");
  }
  const node = findNode(fdt, path);
  const parentPath = path.slice(0, path.lastIndexOf("/")) || "/";
  const parent = findNode(fdt, parentPath);
  return node && parent ? { path, node, parent } : undefined;
}

/**
 * The purgatory console named by a device tree's `stdout-path`, or
 * undefined when there is none or its device is neither a PL011, an
 * ns16550 nor a pseries hvterm. The address is the first `reg` entry, read with the parent's
 * `#address-cells` / `#size-cells` (a bus with a non-empty `ranges`
 * translation is not followed: QEMU's virt boards have none).
 *
 * @throws KimageError the device-tree parser's errors for a malformed tree.
 */
export function purgatoryConsoleFromDtb(dtb: Uint8Array): PurgatoryConsole | undefined {
  const found = stdoutPath(dtb);
  if (!found) return undefined;
  const compatible = getStringList(found.node, "compatible") ?? [];
  const reg = getProp(found.node, "reg");
  if (!reg) return undefined;
  const [first] = decodeReg(reg.value, addressCells(found.parent), sizeCells(found.parent));
  if (!first) return undefined;
  if (compatible.includes("arm,pl011")) return { kind: "pl011", addr: first.address };
  if (compatible.includes("ns16550a") || compatible.includes("ns16550")) return { kind: "ns16550", addr: first.address, shift: getU32(found.node, "reg-shift") ?? 0 };
  // hvc_vio.c's of_device_id table: { "serial", "hvterm1" } (the raw protocol; "hvterm-protocol" is hvsi, not supported).
  if (compatible.includes("hvterm1")) return { kind: "hvterm", addr: first.address };
  return undefined;
}
