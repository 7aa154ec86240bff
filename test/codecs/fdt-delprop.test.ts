// deleteProp keeps the FDT_NOP tokens before a deleted property, as libfdt's
// fdt_delprop does (it splices out the property's own bytes only): the kernel's
// kexec_file DTB keeps the 11 NOPs where early boot NOPed QEMU's rng-seed.
import { describe, expect, it } from "vitest";
import { parseFdt, serializeFdt } from "../../src/fdt/index.js";
import { deleteProp, findChild } from "../../src/fdt/tree.js";
import type { Fdt } from "../../src/fdt/spec.js";

const chosenOf = (fdt: Fdt) => findChild(fdt.root, "chosen")!;

function tree(nops: number, withChild: boolean): Fdt {
  const chosen = { name: "chosen", props: [{ name: "bootargs", value: new Uint8Array([0x61, 0]) }, { name: "kaslr-seed", value: new Uint8Array(8), ...(nops ? { nopsBefore: nops } : {}) }], children: withChild ? [{ name: "sub", props: [], children: [] }] : [] };
  return { version: 17, lastCompVersion: 16, bootCpuid: 0, reservations: [], root: { name: "", props: [], children: [chosen] } } as unknown as Fdt;
}

describe("deleteProp and FDT_NOP", () => {
  it("the NOPs before a deleted last property stay: the blob shrinks by the property only (12 + 8 bytes)", () => {
    for (const withChild of [false, true]) {
      const fdt = parseFdt(serializeFdt(tree(11, withChild)));
      const before = serializeFdt(fdt).length;
      expect(deleteProp(chosenOf(fdt), "kaslr-seed")).toBe(true);
      const after = serializeFdt(fdt);
      expect(before - after.length).toBe(12 + 8);
      expect(parseFdt(after)).toBeDefined();
    }
  });

  it("they move to the next property when one follows", () => {
    const fdt = parseFdt(serializeFdt(tree(3, false)));
    const c = chosenOf(fdt);
    c.props.push({ name: "z", value: new Uint8Array(4) });
    deleteProp(c, "kaslr-seed");
    expect(c.props.find((p) => p.name === "z")?.nopsBefore).toBe(3);
  });
});
