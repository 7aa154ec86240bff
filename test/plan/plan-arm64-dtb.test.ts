// The arm64 plan's device tree: dtc decompiles it, and /chosen holds what the
// plan states (bootargs, the initrd range as u64 cells, a u64 kaslr-seed and
// a 128-byte rng-seed drawn from the seed, linux,booted-from-kexec), with the
// initrd reserved in /memreserve/ and the first kernel's old initrd gone.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseFdt, findNode, getU64, getString, getProp, serializeFdt, setU64, ensureNode } from "../../src/fdt/index.js";
import { planArm64 } from "../../src/plan/arch/arm64.js";
import { memoryMap } from "../../src/plan/core/memory.js";
import { dumpVirtDtb, haveQemu } from "../support/qemu.js";
import { haveTool, readBytes, requireReal } from "../support/real.js";

const k = requireReal("arm64 kernel", (f) => f.arch === "arm64" && f.kind === "kernel" && f.suite === "trixie" && !f.path.includes("16k"));

describe.skipIf(k.length === 0 || !haveQemu("aarch64") || !haveTool("dtc", ["--version"]))("arm64 plan DTB", () => {
  it("dtc decompiles it and /chosen is as the plan states", async () => {
    // A first-kernel DTB that booted with an initrd at 0x48000000 (reserved), as a real one would.
    const first = parseFdt(dumpVirtDtb("aarch64", 1024));
    const chosen = ensureNode(first, "/chosen");
    setU64(chosen, "linux,initrd-start", 0x48000000n);
    setU64(chosen, "linux,initrd-end", 0x48001234n);
    first.reservations.push({ address: 0x48000000n, size: 0x1234n });
    const initrd = new Uint8Array(5000).fill(0x5a);
    const cmdline = "console=ttyAMA0 root=/dev/vda kimage.test=\"a b\"";
    const plan = await planArm64({
      kernel: readBytes(k[0]?.abs ?? ""),
      dtb: serializeFdt(first),
      initrd,
      cmdline,
      memory: memoryMap([{ start: 0x40000000n, size: 0x40000000n, type: "ram" }]),
      exclude: [{ start: 0x40000000n, size: 0x200000n }],
      seed: 1234,
    });
    const seg = plan.segments.find((s) => s.name === "dtb");
    const ird = plan.segments.find((s) => s.name === "initrd");
    if (!seg || !ird) throw new Error("missing segments");

    // Our own parser.
    const fdt = parseFdt(seg.bytes);
    const c = findNode(fdt, "/chosen");
    if (!c) throw new Error("no /chosen");
    expect(getString(c, "bootargs")).toBe(cmdline);
    expect(getU64(c, "linux,initrd-start")).toBe(ird.mem);
    expect(getU64(c, "linux,initrd-end")).toBe(ird.mem + BigInt(initrd.length));
    expect(getProp(c, "kaslr-seed")?.value.length).toBe(8);
    expect(getProp(c, "rng-seed")?.value.length).toBe(128);
    expect(getProp(c, "linux,booted-from-kexec")?.value.length).toBe(0);
    expect(fdt.reservations).toContainEqual({ address: ird.mem, size: BigInt(initrd.length) });
    expect(fdt.reservations).not.toContainEqual({ address: 0x48000000n, size: 0x1234n });

    // dtc, independently.
    const dir = mkdtempSync(join(tmpdir(), "kimage-dtb-"));
    writeFileSync(join(dir, "p.dtb"), seg.bytes);
    const r = spawnSync("dtc", ["-I", "dtb", "-O", "dts", join(dir, "p.dtb")], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const dts = r.stdout;
    const chosenDts = /chosen \{([\s\S]*?)\n\t\};/.exec(dts)?.[1] ?? "";
    expect(chosenDts).toContain(`bootargs = "console=ttyAMA0 root=/dev/vda kimage.test=\\"a b\\""`);
    const cells = (v: bigint) => `<0x${(v >> 32n).toString(16).padStart(2, "0")} 0x${(v & 0xffffffffn).toString(16)}>`;
    expect(chosenDts).toContain(`linux,initrd-start = ${cells(ird.mem)}`);
    expect(chosenDts).toContain(`linux,initrd-end = ${cells(ird.mem + BigInt(initrd.length))}`);
    expect(chosenDts).toMatch(/kaslr-seed = <0x[0-9a-f]+ 0x[0-9a-f]+>;/);
    expect(chosenDts).toMatch(/rng-seed = <(0x[0-9a-f]+ ){31}0x[0-9a-f]+>;/);
    expect(chosenDts).toContain("linux,booted-from-kexec;");
    expect(dts).toContain(`/memreserve/\t0x${ird.mem.toString(16).padStart(16, "0")} 0x${initrd.length.toString(16).padStart(16, "0")};`);

    // The same seed gives the same tree; another seed other seeds.
    const again = await planArm64({ kernel: readBytes(k[0]?.abs ?? ""), dtb: serializeFdt(first), initrd, cmdline, memory: memoryMap([{ start: 0x40000000n, size: 0x40000000n, type: "ram" }]), exclude: [{ start: 0x40000000n, size: 0x200000n }], seed: 1234 });
    expect(again.segments.find((s) => s.name === "dtb")?.bytes).toEqual(seg.bytes);
  });
});
