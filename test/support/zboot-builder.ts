/**
 * Builds EFI zboot images the way the kernel build does
 * (drivers/firmware/efi/libstub/Makefile.zboot and zboot-header.S), from a
 * real Image and the native compressors:
 *
 * 1. `vmlinux.bin`: the Image, optionally padded with zeros to its
 *    image_size ("cmd_copy_and_pad … truncate -s $(hexdump -s16 -n4 …)":
 *    the le32 at 16, arm64 image_size / LoongArch kernel_asize);
 * 2. `vmlinuz`: the compressed stream; for every method but gzip the le32
 *    uncompressed size is appended (`size_append`; zboot-size-len 4); gzip's
 *    own ISIZE plays that role (zboot-size-len 0);
 * 3. the PE: built with {@link buildPe} (the `.text` section holds stub
 *    filler, then `.gzdata`, then rodata filler, as zboot.lds lays it out),
 *    then the zboot header is written over the DOS header: "MZ", "zimg",
 *    payload offset, payload size (= stream + trailer - zboot-size-len),
 *    reserved 0, 0, the compression type, LINUX_PE_MAGIC at 0x38 and the PE
 *    header offset (0x40) at 0x3c; the CheckSum is recomputed.
 *
 * Compressed streams are cached under the OS temp directory by the input's
 * SHA-256 and the command line, so repeated test runs do not recompress.
 *
 * Like pe-builder, this imports nothing from `src/`.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MACHINE_ARM64, buildPe, field, filler, withFixedChecksum } from "./pe-builder.js";

/** The compression methods of Makefile.zboot (plus bzip2), by the codec id kimage uses. */
export type ZbootCodec = "gzip" | "zstd" | "lz4" | "xz" | "lzma" | "bzip2" | "lzo";

/** Every {@link ZbootCodec}. */
export const ZBOOT_CODECS: readonly ZbootCodec[] = ["gzip", "zstd", "lz4", "xz", "lzma", "bzip2", "lzo"];

/** Per codec: the `COMP_TYPE` string the header carries and the native command (reads stdin, writes stdout). */
export const ZBOOT_METHODS: Readonly<Record<ZbootCodec, { compType: string; cmd: string[] }>> = {
  // cmd_gzip: "$(KGZIP) -n -f -9"
  gzip: { compType: "gzip", cmd: ["gzip", "-n", "-f", "-9", "-c"] },
  // cmd_zstd22: "$(ZSTD) -22 --ultra"; the header says "zstd22" (v6.1-v6.7) or "zstd" (later)
  zstd: { compType: "zstd22", cmd: ["zstd", "-22", "--ultra", "--long=27", "-q", "-c"] },
  // cmd_lz4: "$(LZ4) -l -c1" (newer: -l -9 / --favor-decSpeed)
  lz4: { compType: "lz4", cmd: ["lz4", "-l", "-12", "--favor-decSpeed", "-q", "-c"] },
  // cmd_xzkern: scripts/xz_wrap.sh, for arm64: --check=crc32 --arm64 --lzma2=,dict=32MiB
  xz: { compType: "xzkern", cmd: ["xz", "--check=crc32", "--arm64", "--lzma2=dict=32MiB", "-c"] },
  // cmd_lzma: "$(LZMA) -9"
  lzma: { compType: "lzma", cmd: ["lzma", "-9", "-c"] },
  // cmd_bzip2: "$(KBZIP2) -9"
  bzip2: { compType: "bzip2", cmd: ["bzip2", "-9", "-c"] },
  // cmd_lzo: "$(KLZOP) -9"
  lzo: { compType: "lzo", cmd: ["lzop", "-9", "-c"] },
};

/** `LINUX_PE_MAGIC`. */
export const LINUX_PE_MAGIC = 0x818223cd;
/** `IMAGE_FILE_MACHINE_LOONGARCH64`. */
export const MACHINE_LOONGARCH64_ZBOOT = 0x6264;

const CACHE = join(tmpdir(), "kimage-zboot-cache");

function sha256(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Runs `cmd` with `input` on stdin; resolves to stdout. */
export function pipe(cmd: string[], input: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const [exe, ...args] = cmd as [string, ...string[]];
    const p = spawn(exe, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on("data", (d: Buffer) => out.push(d));
    p.stderr.on("data", (d: Buffer) => err.push(d));
    p.on("error", reject);
    p.on("close", (code) => {
      if (code !== 0) reject(new Error(`${cmd.join(" ")} exited ${code}: ${Buffer.concat(err).toString()}`));
      else {
        const b = Buffer.concat(out);
        resolve(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
      }
    });
    p.stdin.on("error", () => undefined);
    p.stdin.end(input);
  });
}

/** `cmd_copy_and_pad`: the image zero-padded to the le32 at offset 16 (when larger). */
export function copyAndPad(image: Uint8Array): Uint8Array {
  const size = new DataView(image.buffer, image.byteOffset, image.byteLength).getUint32(16, true);
  if (size <= image.length) return image;
  const out = new Uint8Array(size);
  out.set(image);
  return out;
}

/** The le32 `size_append` writes. */
export function le32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

/**
 * `vmlinuz` of Makefile.zboot: the compressed stream and, except for gzip,
 * the appended le32 size. Cached by input hash and command line.
 */
export async function compressLikeKbuild(input: Uint8Array, codec: ZbootCodec): Promise<{ stream: Uint8Array; vmlinuz: Uint8Array; sizeLen: 0 | 4 }> {
  const m = ZBOOT_METHODS[codec];
  const key = createHash("sha256").update(sha256(input)).update(m.cmd.join(" ")).digest("hex").slice(0, 32);
  mkdirSync(CACHE, { recursive: true });
  const file = join(CACHE, `${key}.${codec}`);
  let stream: Uint8Array;
  if (existsSync(file)) {
    const b = readFileSync(file);
    stream = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } else {
    stream = await pipe(m.cmd, input);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, stream);
    renameSync(tmp, file);
  }
  if (codec === "gzip") return { stream, vmlinuz: stream, sizeLen: 0 };
  const vmlinuz = new Uint8Array(stream.length + 4);
  vmlinuz.set(stream);
  vmlinuz.set(le32(input.length), stream.length);
  return { stream, vmlinuz, sizeLen: 4 };
}

/** Options of {@link buildZboot}. */
export interface ZbootSpec {
  /** `vmlinuz`: the compressed stream plus the trailer (if any). */
  vmlinuz: Uint8Array;
  /** zboot-size-len: 0 (gzip) or 4. */
  sizeLen: 0 | 4;
  /** `COMP_TYPE`. */
  compType: string;
  /** `MACHINE_TYPE`; default arm64. */
  machine?: number;
  /** Bytes of stub code before `.gzdata` in `.text` (default 0x1000). */
  stubSize?: number;
}

/** A built zboot image and where its parts are. */
export interface BuiltZboot {
  bytes: Uint8Array;
  payloadOffset: number;
  payloadSize: number;
  /** Offset of the le32 size trailer. */
  trailerOffset: number;
}

/** Builds a zboot PE around `vmlinuz` (see the module doc). */
export function buildZboot(spec: ZbootSpec): BuiltZboot {
  const stub = spec.stubSize ?? 0x1000;
  const rodata = filler(0x180, 7);
  const text = new Uint8Array(stub + spec.vmlinuz.length + rodata.length);
  text.set(filler(stub, 3));
  text.set(spec.vmlinuz, stub);
  text.set(rodata, stub + spec.vmlinuz.length);
  const built = buildPe({
    machine: spec.machine ?? MACHINE_ARM64,
    e_lfanew: 0x40,
    characteristics: 0x0206,
    dllCharacteristics: 0x0100,
    sections: [
      { name: ".text", data: text, characteristics: 0x60000020 },
      { name: ".data", data: 0x200, characteristics: 0xc0000040 },
    ],
  });
  const bytes = built.bytes.slice();
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const textSec = built.sections[0];
  if (!textSec) throw new Error("no .text");
  const payloadOffset = textSec.pointerToRawData + stub;
  // ".long __efistub__gzdata_size - ZBOOT_SIZE_LEN // payload size"
  const payloadSize = spec.vmlinuz.length - spec.sizeLen;
  bytes.fill(0, 0, 0x40);
  bytes[0] = 0x4d; // MZ_MAGIC
  bytes[1] = 0x5a;
  bytes.set([0x7a, 0x69, 0x6d, 0x67], 4); // "zimg"
  dv.setUint32(8, payloadOffset, true);
  dv.setUint32(12, payloadSize, true);
  for (let i = 0; i < spec.compType.length && i < 31; i++) bytes[0x18 + i] = spec.compType.charCodeAt(i);
  dv.setUint32(0x38, LINUX_PE_MAGIC, true);
  dv.setUint32(0x3c, 0x40, true);
  const fixed = withFixedChecksum(bytes, field(built, "CheckSum").offset);
  return { bytes: fixed, payloadOffset, payloadSize, trailerOffset: payloadOffset + spec.vmlinuz.length - 4 };
}

/** Compresses `image` with `codec` as Kbuild does and wraps it (padding with `copyAndPad` when `pad`). */
export async function zbootFromImage(image: Uint8Array, codec: ZbootCodec, options: { pad?: boolean; machine?: number; compType?: string } = {}): Promise<BuiltZboot & { input: Uint8Array }> {
  const input = options.pad ? copyAndPad(image) : image;
  const { vmlinuz, sizeLen } = await compressLikeKbuild(input, codec);
  const built = buildZboot({ vmlinuz, sizeLen, compType: options.compType ?? ZBOOT_METHODS[codec].compType, ...(options.machine !== undefined ? { machine: options.machine } : {}) });
  return { ...built, input };
}
