// The real path on s390x: a Debian s390x kernel built with CONFIG_KEXEC (the
// config fixture beside it says so) boots first with an initramfs whose
// /init is the static helper; it reads a kimage s390x plan (segments and
// entry), calls kexec_load(2) and reboot(LINUX_REBOOT_CMD_KEXEC). The s390
// normal kexec needs no purgatory (relocate_kernel copies the segments,
// writes the restart PSW to the entry at absolute 0 and resets with diag
// 0x308, as for kexec-tools' s390 plans): the second kernel must print the
// plan's command line and run /init from the plan's initrd.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { planS390 } from "../../src/plan/arch/s390.js";
import { memoryMap } from "../../src/plan/core/memory.js";
import { helperInitramfs } from "../support/kexec-guest.js";
import { bootFirstS390, buildS390Helper, haveQemuS390 } from "../support/qemu-s390.js";
import { readBytes, requireReal } from "../support/real.js";

const MEM_MIB = 512;
/** include/uapi/linux/kexec.h: `#define KEXEC_ARCH_S390 (22 << 16)`. */
const KEXEC_ARCH_S390 = 22 << 16;
const enc = new TextEncoder();

const withKexec = requireReal("s390x kernel", (f) => f.arch === "s390x" && f.kind === "kernel").filter((k) => {
  // Only a first kernel built with CONFIG_KEXEC has kexec_load(2) (trixie's s390x kernel has neither KEXEC nor KEXEC_FILE).
  try {
    const dir = dirname(k.abs);
    const config = readFileSync(join(dir, k.path.split("/").pop()!.replace(/^vmlinuz-/, "config-")), "utf8");
    return /^CONFIG_KEXEC=y$/m.test(config);
  } catch {
    return false;
  }
});
const helper = haveQemuS390() ? buildS390Helper() : null;

describe.skipIf(withKexec.length === 0 || helper === null)("s390x: kexec_load(2) of a kimage plan boots the second kernel", () => {
  it(`${withKexec[0]?.suite ?? ""}`, async () => {
    const k = withKexec[0]!;
    const h = helper!;
    const cmdline = `console=ttysclp0 panic=-1 kimage.mode=second kimage.word=kexec-s390x`;
    const plan = await planS390({ kernel: readBytes(k.abs), initrd: helperInitramfs(h), cmdline, memory: memoryMap([{ start: 0n, size: BigInt(MEM_MIB) << 20n, type: "ram" }]) });
    const files = plan.segments.map((_, i) => `seg-${i}.bin`);
    const hex = (v: bigint | number) => `0x${v.toString(16)}`;
    const json = {
      kexec_load: {
        entry: hex(plan.entry.pc),
        flags: hex(KEXEC_ARCH_S390),
        segments: plan.segments.map((s, i) => ({ buf: files[i], bufsz: hex(s.bytes.length), mem: hex(s.mem), memsz: hex(s.memsz) })),
      },
    };
    const initramfs = helperInitramfs(h, [{ name: "plan/plan.json", data: enc.encode(JSON.stringify(json, null, 2) + "\n") }, ...plan.segments.map((s, i) => ({ name: `plan/${files[i]!}`, data: s.bytes }))]);
    const boot = await bootFirstS390({ kernel: k.abs, initramfs, cmdline: "console=ttysclp0 panic=-1 kimage.mode=kexec", memMiB: MEM_MIB, timeoutMs: 200_000, until: /KIMAGE-SECOND-INIT[^\n]*\n|kimage helper: [^\n]* failed|Kernel panic/ });
    const log = boot.console;
    mkdirSync("test-results", { recursive: true });
    writeFileSync("test-results/kexec-load-s390x.log", `${plan.notes.join("\n")}\n\n${log}`);
    expect(log, log.slice(-3000)).toContain("kimage helper: loaded; reboot(LINUX_REBOOT_CMD_KEXEC)");
    const after = log.slice(log.indexOf("kimage helper: loaded; reboot(LINUX_REBOOT_CMD_KEXEC)"));
    expect(after, after.slice(-3000)).toMatch(/Kernel command line: console=ttysclp0 panic=-1 kimage.mode=second kimage.word=kexec-s390x/);
    expect(after).toMatch(/KIMAGE-SECOND-INIT [^\n]*kimage.word=kexec-s390x/);
  }, 300_000);
});
