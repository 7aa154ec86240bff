/**
 * The riscv64 boot-proof harness: QEMU `-M virt` with OpenSBI's `fw_jump`
 * as firmware and **no** `-kernel`. Every plan segment is a `-device
 * loader,file=…,addr=…,force-raw=on`; the CPU starts in QEMU's reset vector
 * and OpenSBI as on real hardware (no `cpu-num` loader: that would skip the
 * M-mode firmware the S-mode kernel needs for SBI calls).
 *
 * OpenSBI's generic `fw_jump` (Debian's opensbi 1.1, read from the binary:
 * `fw_next_addr` loads the dword 0x80200000, `fw_next_arg1` is `addiw
 * a0,zero,1041; slli a0,a0,21` = 0x82200000, `fw_next_mode` returns 1)
 * copies the FDT QEMU passes it in a1 to FW_JUMP_FDT_ADDR = 0x82200000,
 * fixes it up (a /reserved-memory node for its own PMP-protected region)
 * and jumps in S-mode to FW_JUMP_ADDR = 0x80200000 with a0 = hart id,
 * a1 = 0x82200000. The trampoline below sits there.
 *
 * riscv64 trampoline (32 bytes; a0 is kept as OpenSBI set it):
 * ```
 *   0: auipc t0, 0         ; t0 = address of the trampoline
 *   4: ld    a1, 16(t0)    ; a1 = the plan's DTB address
 *   8: ld    t1, 24(t0)    ; t1 = the plan's kernel entry
 *  12: jr    t1            ; jalr x0, 0(t1)
 *  16: .dword dtb
 *  24: .dword entry
 * ```
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loaderArgs, runQemu, type LoaderBlob } from "./qemu.js";

/** OpenSBI's generic fw_jump as Debian ships it. */
export const FW_JUMP = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin";
/** Start of RAM on QEMU's riscv virt machine. */
export const RISCV_VIRT_RAM = 0x80000000n;
/** FW_JUMP_ADDR of the generic platform (rv64): FW_TEXT_START + 2 MiB. */
export const FW_JUMP_ADDR = 0x80200000n;
/** FW_JUMP_FDT_ADDR of the generic platform: where OpenSBI copies the FDT it hands over. */
export const FW_JUMP_FDT_ADDR = 0x82200000n;

/** Register numbers of the RV64 ABI names used here. */
const T0 = 5;
const T1 = 6;
const A1 = 11;

/** U-type `auipc rd, imm20`: opcode 0010111. */
function auipc(rd: number, imm20: number): number {
  return ((imm20 << 12) | (rd << 7) | 0x17) >>> 0;
}
/** I-type `ld rd, imm(rs1)`: opcode 0000011, funct3 011. */
function ld(rd: number, rs1: number, imm: number): number {
  return (((imm & 0xfff) << 20) | (rs1 << 15) | (3 << 12) | (rd << 7) | 0x03) >>> 0;
}
/** I-type `jalr rd, imm(rs1)`: opcode 1100111, funct3 000; `jr rs` is `jalr x0, 0(rs)`. */
function jalr(rd: number, rs1: number, imm: number): number {
  return (((imm & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x67) >>> 0;
}

/** The 32-bytes riscv64 trampoline: a1 = dtb, a0 kept, jump to entry. */
export function riscvTrampoline(dtb: bigint, entry: bigint): Uint8Array {
  const b = new Uint8Array(32);
  const dv = new DataView(b.buffer);
  const words = [auipc(T0, 0), ld(A1, T0, 16), ld(T1, T0, 24), jalr(0, T1, 0)];
  words.forEach((w, i) => dv.setUint32(i * 4, w, true));
  dv.setBigUint64(16, dtb, true);
  dv.setBigUint64(24, entry, true);
  return b;
}

/** `j .` (jal x0, 0): a trampoline that parks the hart. */
export const RISCV_PARK = new Uint8Array([0x6f, 0x00, 0x00, 0x00]);

/** Common QEMU arguments of the riscv virt runs. */
function virtArgs(memMiB: number, bios: string): string[] {
  return ["-M", "virt", "-m", String(memMiB), "-nographic", "-no-reboot", "-bios", bios];
}

/** Writes the blobs to files and returns their `-device loader` arguments. */
/** Sends QMP commands one by one over a unix socket and resolves with every reply line. */
function qmp(socket: string, commands: object[], timeoutMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const c = createConnection(socket);
    const replies: string[] = [];
    let buf = "";
    let sent = 0;
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`QMP timed out; replies so far: ${replies.join(" | ")}`));
    }, timeoutMs);
    const next = () => {
      const cmd = commands[sent++];
      if (cmd === undefined) {
        clearTimeout(timer);
        c.end();
        resolve(replies);
        return;
      }
      c.write(`${JSON.stringify(cmd)}\n`);
    };
    c.on("data", (d) => {
      buf += d.toString("utf8");
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === "") continue;
        replies.push(line);
        // The greeting and each {"return": …} or {"error": …} move on to the next command; events do not.
        if (line.startsWith('{"QMP"') || line.startsWith('{"return"') || line.startsWith('{"error"')) next();
      }
    });
    c.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The device tree OpenSBI really hands to the next stage: boots QEMU with
 * `fw_jump` and a parking loop at FW_JUMP_ADDR, waits until the hart sits
 * there (its S-mode pc, read over QMP), and reads the FDT at a1 =
 * FW_JUMP_FDT_ADDR with `pmemsave`. Unlike `dumpdtb` it carries OpenSBI's
 * fixups (/reserved-memory/mmode_resv0 for its own PMP-protected region).
 */
export async function firmwareDtb(memMiB: number, bios = FW_JUMP, timeoutMs = 30_000): Promise<{ dtb: Uint8Array; a0: bigint; a1: bigint }> {
  const dir = mkdtempSync(join(tmpdir(), "kimage-rvfw-"));
  const sock = join(dir, "qmp.sock");
  const out = join(dir, "fw.dtb");
  const args = [...virtArgs(memMiB, bios), "-monitor", "none", "-serial", "null", "-qmp", `unix:${sock},server=on,wait=off`, ...loaderArgs(dir, [{ name: "park", bytes: RISCV_PARK, addr: FW_JUMP_ADDR }])];
  const p = spawn("qemu-system-riscv64", args, { stdio: "ignore" });
  const t0 = Date.now();
  try {
    for (;;) {
      if (Date.now() - t0 > timeoutMs) throw new Error("OpenSBI did not reach FW_JUMP_ADDR in time");
      await sleep(300);
      let regs: string[];
      try {
        regs = await qmp(sock, [{ execute: "qmp_capabilities" }, { execute: "human-monitor-command", arguments: { "command-line": "info registers" } }], 5_000);
      } catch {
        continue; // the socket is not there yet
      }
      const text = JSON.parse(regs[regs.length - 1] ?? "{}") as { return?: string };
      const reg = (name: string) => {
        const m = new RegExp(`${name}\\s+([0-9a-f]{16})`).exec(text.return ?? "");
        return m?.[1] === undefined ? undefined : BigInt(`0x${m[1]}`);
      };
      if (reg("pc") !== FW_JUMP_ADDR) continue;
      const a0 = reg("x10/a0") ?? -1n;
      const a1 = reg("x11/a1") ?? -1n;
      await qmp(sock, [{ execute: "qmp_capabilities" }, { execute: "pmemsave", arguments: { val: Number(a1), size: 0x10000, filename: out } }], 5_000);
      const raw = new Uint8Array(readFileSync(out));
      const total = new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getUint32(4, false);
      return { dtb: raw.slice(0, total), a0, a1 };
    }
  } finally {
    p.kill("SIGKILL");
  }
}

/** Options of {@link bootRiscv}. */
export interface RiscvBootOptions {
  memMiB: number;
  /** The plan's segments plus the trampoline at FW_JUMP_ADDR. */
  blobs: LoaderBlob[];
  bios?: string;
  /** Hard timeout; the run is killed after it. */
  timeoutMs: number;
  /** Stop early once the console matches this. */
  until?: RegExp;
}

/** What a boot printed. */
export interface RiscvBootResult {
  console: string;
  timedOut: boolean;
  ms: number;
  args: string[];
}

/** Boots QEMU riscv virt: firmware from `-bios`, blobs by `-device loader`; never `-kernel`. */
export function bootRiscv(o: RiscvBootOptions): Promise<RiscvBootResult> {
  const dir = mkdtempSync(join(tmpdir(), "kimage-rvboot-"));
  const args = [...virtArgs(o.memMiB, o.bios ?? FW_JUMP), "-monitor", "none", "-serial", "stdio", ...loaderArgs(dir, o.blobs)];
  return runQemu("qemu-system-riscv64", args, o);
}
