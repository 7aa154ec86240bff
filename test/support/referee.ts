/**
 * The placement referee (issue 13, item 5): the real kernel's own
 * kexec_file_load(2) placements, recorded in QEMU guests by `npm run
 * referee` (scripts/referee.mjs) and replayed against kimage's
 * deterministic plans by test/plan/referee.test.ts on every run.
 *
 * A recording is a directory test/plan/referee/<arch>-<kernel series>/:
 *   iomem.txt              the first kernel's /proc/iomem
 *   memblock-memory.txt    /sys/kernel/debug/memblock/memory
 *   memblock-reserved.txt  /sys/kernel/debug/memblock/reserved
 *   fdt.hex                /sys/firmware/fdt as hex (arm64)
 *   segments.txt           the kernel's own lines about the load (kexec_file.c's
 *                          "Loading segment N: … bufsz=… mem=… memsz=…", and the
 *                          arch loader's "Loaded …" lines)
 *   setup.hex              the loaded bzImage's real-mode part (x86: the setup
 *                          header the kernel reads), so the replay does not depend
 *                          on which point release fixtures/real holds today; the
 *                          file's length is the header's own kern16 size + syssize × 16
 *                          (checked when recording)
 *   recording.json         what was loaded and how: the command line, the initrd's
 *                          size, the flags the call took, QEMU's
 *                          machine and memory, the call's result
 *   kernel.txt             which kernel was recorded: its series, class and SHA-256 (no
 *                          archive version: the recording outlives the package name)
 *
 * The recording boots a Debian kernel with QEMU's own Linux loader
 * (`-kernel`, `-initrd`): that is not what is tested; the guest's
 * kexec_file_load of the same kernel is.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bootFirstKernel, buildHelper, helperInitramfs, marked, type GuestArch } from "./kexec-guest.js";
import { requireReal, readBytes, type RealFixture } from "./real.js";

/** Where the recordings live. */
export const REFEREE_DIR = fileURLToPath(new URL("../plan/referee/", import.meta.url));
const REFEREE_SRC = fileURLToPath(new URL("./referee-helper/referee.c", import.meta.url));

/** One kernel to referee. */
export interface RefereeTarget {
  /** The recording's directory name: `<arch>-<series>`. */
  id: string;
  arch: GuestArch;
  /** QEMU machine arguments. */
  machine: string[];
  memMiB: number;
  console: string;
  /** Picks the kernel from fixtures/real (by suite and arch, never by version). */
  pick: (f: RealFixture) => boolean;
  /**
   * Instead of a fixture: the environment variable naming a kernel built for
   * the referee (arm64: Debian's kernels lack CONFIG_KEXEC_FILE, so the
   * referee is built from Debian's linux-source with it; see the README).
   */
  kernelEnv?: string;
}

/** The targets, in the order. */
export const REFEREE_TARGETS: readonly RefereeTarget[] = [
  { id: "x86_64-6.12", arch: "x86_64", machine: ["-M", "pc"], memMiB: 1024, console: "ttyS0", pick: (f) => f.kind === "kernel" && f.arch === "amd64" && f.suite === "trixie" && !f.signedPackage },
  { id: "x86_64-6.1", arch: "x86_64", machine: ["-M", "pc"], memMiB: 1024, console: "ttyS0", pick: (f) => f.kind === "kernel" && f.arch === "amd64" && f.suite === "bookworm" && !f.signedPackage },
  { id: "x86_64-7.x", arch: "x86_64", machine: ["-M", "pc"], memMiB: 1024, console: "ttyS0", pick: (f) => f.kind === "kernel" && f.arch === "amd64" && f.suite === "sid" && !f.signedPackage },
  // lpa2=off: 6.12 crashes inside kexec with 52-bit VAs (../shared/REFERENCES.md); harmless for kexec_file_load, kept for the same machine as the kexec_load proof.
  { id: "arm64-6.12", arch: "aarch64", machine: ["-M", "virt", "-cpu", "max,lpa2=off"], memMiB: 1024, console: "ttyAMA0", pick: () => false, kernelEnv: "KIMAGE_REFEREE_ARM64_IMAGE" },
];

/** The initrd every recording loads: 1234 bytes, byte i = (31 i + 7) mod 256 (any content; only its size places it). */
export function refereeInitrd(size = 1234): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (31 * i + 7) & 0xff;
  return b;
}

/** What recording.json holds. */
export interface RecordingMeta {
  arch: GuestArch;
  /** The command line passed to kexec_file_load (without its NUL). */
  cmdline: string;
  initrdSize: number;
  /** arm64: the loaded Image's length (a kernel built for the referee, not a Debian file); x86 takes it from setup.hex. */
  kernelLength?: number;
  /** The flags the successful call took: 8 (KEXEC_FILE_DEBUG) on 6.8+, 0 on 6.1 (EINVAL for 8; dynamic debug instead). */
  flags: number;
  /** kexec_file_load's return value (0: loaded). */
  result: number;
  machine: string[];
  memMiB: number;
  /** The first kernel's command line. */
  firstCmdline: string;
  /** arm64: /sys/firmware/fdt's length; fdt.hex stops after its last non-zero word (QEMU pads the blob to 1 MiB with zeros). */
  fdtLength?: number;
  /** The kernel had said "random: crng init done" before the load (rng_is_initialized(): arm64 then adds kaslr-seed and rng-seed to the DTB). */
  rngReady?: boolean;
}

/** A segment as the kernel printed it. */
export interface KernelSegment {
  index: number;
  bufsz: bigint;
  mem: bigint;
  memsz: bigint;
}

/**
 * The segments in kexec_file.c's lines, e.g. (6.12, KEXEC_FILE_DEBUG)
 * `kexec_file: segment[0]: buf=0x(____ptrval____) bufsz=0x4000 mem=0x3ffdb000 memsz=0x5000`
 * (6.1: `Loading segment 0: buf=0x… bufsz=… mem=… memsz=…`).
 * The last complete series wins (indices restart at 0).
 */
export function parseKernelSegments(text: string): KernelSegment[] {
  // 6.1 (pr_debug): "Loading segment 0: buf=0x… bufsz=0x… mem=0x… memsz=0x…";
  // 6.8+ (kexec_dprintk, KEXEC_FILE_DEBUG): "segment[0]: buf=0x(____ptrval____) bufsz=0x… mem=0x… memsz=0x…".
  const re = /(?:Loading segment (\d+):|segment\[(\d+)\]:) buf=\S+ bufsz=0x([0-9a-f]+) mem=0x([0-9a-f]+) memsz=0x([0-9a-f]+)/g;
  let out: KernelSegment[] = [];
  for (const m of text.matchAll(re)) {
    const index = Number(m[1] ?? m[2]);
    if (index === 0) out = [];
    out.push({ index, bufsz: BigInt(`0x${m[3]!}`), mem: BigInt(`0x${m[4]!}`), memsz: BigInt(`0x${m[5]!}`) });
  }
  return out;
}

/** A recording read back. */
export interface Recording {
  id: string;
  dir: string;
  meta: RecordingMeta;
  iomem: string;
  memblockMemory?: string;
  memblockReserved?: string;
  fdt?: Uint8Array;
  setup?: Uint8Array;
  /** arm64: the Image header. */
  image?: Uint8Array;
  segments: KernelSegment[];
  segmentLines: string;
}

const hexBytes = (t: string) => new Uint8Array(t.replace(/[^0-9a-f]/g, "").match(/../g)?.map((b) => parseInt(b, 16)) ?? []);
const padTo = (b: Uint8Array, n: number | undefined) => {
  if (n === undefined || n <= b.length) return b;
  const out = new Uint8Array(n);
  out.set(b);
  return out;
};
const toHex = (b: Uint8Array) => (Buffer.from(b).toString("hex").match(/.{1,64}/g) ?? []).join("\n") + "\n";

/** Reads the recording `id` (undefined when it was never recorded). */
export function readRecording(id: string): Recording | undefined {
  const dir = join(REFEREE_DIR, id);
  if (!existsSync(join(dir, "recording.json"))) return undefined;
  const opt = (n: string) => (existsSync(join(dir, n)) ? readFileSync(join(dir, n), "utf8") : undefined);
  const segmentLines = readFileSync(join(dir, "segments.txt"), "utf8");
  const fdt = opt("fdt.hex");
  const setup = opt("setup.hex");
  const image = opt("image.hex");
  const mm = opt("memblock-memory.txt");
  const mr = opt("memblock-reserved.txt");
  const meta = JSON.parse(readFileSync(join(dir, "recording.json"), "utf8")) as RecordingMeta;
  return {
    id,
    dir,
    meta,
    iomem: readFileSync(join(dir, "iomem.txt"), "utf8"),
    ...(mm !== undefined ? { memblockMemory: mm } : {}),
    ...(mr !== undefined ? { memblockReserved: mr } : {}),
    ...(fdt !== undefined ? { fdt: padTo(hexBytes(fdt), meta.fdtLength) } : {}),
    ...(setup !== undefined ? { setup: hexBytes(setup) } : {}),
    ...(image !== undefined ? { image: hexBytes(image) } : {}),
    segments: parseKernelSegments(segmentLines),
    segmentLines,
  };
}

/** x86: the real-mode part of a bzImage ((setup_sects + 1) × 512 bytes; a PE-wrapped bzImage is a bzImage throughout). */
function setupPart(kernel: Uint8Array): Uint8Array {
  const raw = kernel[0x1f1] ?? 0;
  const sects = raw === 0 ? 4 : raw;
  return kernel.subarray(0, (sects + 1) * 512);
}

/**
 * x86: the bzImage's length as its setup header gives it: the real-mode part
 * plus `syssize` (0x1f4, "The size of the protected-mode code in units of
 * 16-byte paragraphs", boot.rst) × 16.
 */
export function bzImageLength(setup: Uint8Array): number {
  const syssize = new DataView(setup.buffer, setup.byteOffset, setup.byteLength).getUint32(0x1f4, true);
  return setupPart(setup).length + syssize * 16;
}

/**
 * Records `t`: boots its kernel in QEMU with the referee as /init, which
 * loads the same kernel with kexec_file_load; writes the recording.
 */
export async function recordReferee(t: RefereeTarget, log: (s: string) => void = () => {}): Promise<Recording> {
  const built = t.kernelEnv ? process.env[t.kernelEnv] : undefined;
  if (t.kernelEnv && !built) throw new Error(`${t.id}: set ${t.kernelEnv} to the kernel built for the referee`);
  const fx = built ? { abs: built, path: built } : requireReal(`${t.id} kernel`, t.pick)[0];
  if (!fx) throw new Error(`no fixture for ${t.id}: run npm run fixtures`);
  const kernel = readBytes(fx.abs);
  const initrd = refereeInitrd();
  const cmdline = `console=${t.console} panic=-1 kimage.referee=${t.id}`;
  const firstCmdline = `console=${t.console} nokaslr panic=-1 loglevel=4`;
  const helper = buildHelper(t.arch, REFEREE_SRC);
  const enc = new TextEncoder();
  const initramfs = helperInitramfs(helper, [
    { name: "ref/kernel", data: kernel },
    { name: "ref/initrd", data: initrd },
    { name: "ref/cmdline", data: enc.encode(cmdline) },
  ]);
  log(`${t.id}: booting ${fx.path} (${t.machine.join(" ")}, -m ${t.memMiB})`);
  const boot = await bootFirstKernel({ arch: t.arch, kernel: fx.abs, initramfs, cmdline: firstCmdline, memMiB: t.memMiB + 0, machine: t.machine, timeoutMs: 600_000, until: /KIMAGE-END dmesg/ });
  const c = boot.console;
  const res = /KIMAGE-REFEREE flags (\d+) result (-?\d+)/.exec(c);
  const iomem = marked(c, "iomem");
  const dmesg = marked(c, "dmesg");
  if (!res || iomem === undefined || dmesg === undefined) throw new Error(`${t.id}: the referee printed no result (timed out: ${boot.timedOut})\n${c.slice(-3000)}`);
  const dir = join(REFEREE_DIR, t.id);
  mkdirSync(dir, { recursive: true });
  const loadAt = dmesg.search(/kexec_file|kexec-bzImage64|kexec_image/);
  const rngReady = /crng init done/.test(loadAt < 0 ? dmesg : dmesg.slice(0, loadAt));
  const meta: RecordingMeta = { arch: t.arch, cmdline, initrdSize: initrd.length, ...(t.arch === "aarch64" ? { kernelLength: kernel.length } : {}), flags: Number(res[1]), result: Number(res[2]), machine: t.machine, memMiB: t.memMiB, firstCmdline, rngReady };
  writeFileSync(join(dir, "iomem.txt"), iomem);
  const mm = marked(c, "memblock-memory");
  const mr = marked(c, "memblock-reserved");
  if (mm !== undefined) writeFileSync(join(dir, "memblock-memory.txt"), mm);
  if (mr !== undefined) writeFileSync(join(dir, "memblock-reserved.txt"), mr);
  const fdt = marked(c, "fdt");
  if (fdt !== undefined) {
    const bytes = hexBytes(fdt);
    let n = bytes.length;
    while (n > 0 && bytes[n - 1] === 0) n--;
    writeFileSync(join(dir, "fdt.hex"), toHex(bytes.subarray(0, (n + 3) & ~3)));
    meta.fdtLength = bytes.length;
  }
  // arm64: the Image header (64 bytes: text_offset, image_size, flags) is all image_load reads.
  if (t.arch === "aarch64") writeFileSync(join(dir, "image.hex"), toHex(kernel.subarray(0, 64)));
  if (t.arch === "x86_64") {
    if (bzImageLength(kernel) !== kernel.length) throw new Error(`${t.id}: the file is ${kernel.length} bytes, not kern16 + syssize × 16 = ${bzImageLength(kernel)}: setup.hex alone cannot stand for it`);
    writeFileSync(join(dir, "setup.hex"), toHex(setupPart(kernel)));
  }
  // The kernel's lines about the load, without their timestamps.
  const lines = dmesg
    .split("\n")
    .filter((l) => /Loading segment|kexec_file|kexec-bzimage64|Loaded |purgatory|kexec_image/i.test(l))
    .map((l) => l.replace(/^(<\d+>)?\[\s*[\d.]+\]\s*/, ""));
  writeFileSync(join(dir, "segments.txt"), lines.join("\n") + "\n");
  writeFileSync(join(dir, "recording.json"), JSON.stringify(meta, null, 2) + "\n");
  // Which kernel: its series and SHA-256, and its class (suite, arch) for a Debian one. No
  // archive version or package name: those change with every point release.
  const series = /Linux version (\d+\.\d+)/.exec(dmesg)?.[1] ?? "unknown";
  const cls = built ? "built from Debian's linux-source (see the README's referee section)" : `${(fx as RealFixture).suite} ${(fx as RealFixture).arch} ${(fx as RealFixture).signedPackage ? "Debian-signed" : "unsigned"} kernel`;
  writeFileSync(join(dir, "kernel.txt"), `series: ${series}\nkernel: ${cls}\nsha256: ${createHash("sha256").update(kernel).digest("hex")}\n`);
  log(`${t.id}: result ${meta.result}, flags ${meta.flags}, ${parseKernelSegments(lines.join("\n")).length} segments (${Math.round(boot.ms / 1000)} s)`);
  return readRecording(t.id)!;
}
