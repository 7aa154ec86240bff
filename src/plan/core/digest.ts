/**
 * The purgatory digest of a plan: what kernel/kexec_file.c
 * `kexec_calculate_store_digests` computes at load time and purgatory's
 * `verify_sha256_digest` recomputes before jumping to the new kernel.
 *
 * The kernel, quoted:
 *
 * ```
 * for (j = i = 0; i < image->nr_segments; i++) {
 *     ksegment = &image->segment[i];
 * #ifdef CONFIG_CRASH_HOTPLUG
 *     /* Exclude elfcorehdr segment to allow future changes via hotplug *\/
 *     if (i == image->elfcorehdr_index) continue;
 * #endif
 *     /* Skip purgatory as it will be modified once we put digest info in purgatory. *\/
 *     if (ksegment->kbuf == pi->purgatory_buf) continue;
 *     sha256_update(&state, ksegment->kbuf, ksegment->bufsz);
 *     /* Assume rest of the buffer is filled with zero and update digest accordingly. *\/
 *     nullsz = ksegment->memsz - ksegment->bufsz;
 *     while (nullsz) { ... sha256_update(&state, zero_buf, bytes); nullsz -= bytes; }
 *     sha_regions[j].start = ksegment->mem;
 *     sha_regions[j].len = ksegment->memsz;
 *     j++;
 * }
 * ... kexec_purgatory_get_set_symbol(image, "purgatory_sha_regions", sha_regions, sha_region_sz, 0);
 * ... kexec_purgatory_get_set_symbol(image, "purgatory_sha256_digest", digest, SHA256_DIGEST_SIZE, 0);
 * ```
 * and purgatory (arch/x86/purgatory/purgatory.c `verify_sha256_digest`):
 * `for (ptr = purgatory_sha_regions; ptr < end; ptr++) sha256_update(&sctx,
 * (uint8_t *)(ptr->start), ptr->len);` then `memcmp` with
 * `purgatory_sha256_digest`; on a mismatch it loops forever.
 *
 * **What is skipped.** The purgatory segment (kimage plans have none: they
 * describe the segments and entry state, and a loader that adds its own
 * purgatory names that segment `"purgatory"`, which is skipped by default);
 * with `CONFIG_CRASH_HOTPLUG`, the elfcorehdr segment of an x86_64 (or
 * powerpc) crash image, whose `elfcorehdr_index` is set by
 * `crash_load_segments` — arm64 and riscv64 never set it, so their
 * elfcorehdr **is** hashed. Pass `skip` to model that.
 *
 * Only the hashing goes through a {@link HashProvider} (no `node:` import):
 * the core default is {@link defaultHashProvider}.
 *
 * @module
 */

import { hex } from "../../core/bytes.js";
import { KimageError } from "../../core/errors.js";
import { defaultHashProvider, type HashProvider } from "../../hash/index.js";
import { PLAN_LAYER } from "./allocator.js";
import { KEXEC_SEGMENT_MAX, type Segment } from "./memory.js";
import type { AnyPlan } from "./types.js";

/** One `struct kexec_sha_region { unsigned long start; unsigned long len; }`, with the segment's name. */
export interface DigestRegion {
  name: string;
  /** `ksegment->mem`. */
  start: bigint;
  /** `ksegment->memsz`: contents plus zero fill. */
  len: bigint;
}

/** The digest purgatory checks, with its regions. */
export interface PlanDigest {
  alg: "sha256";
  /** The regions in the kernel's order (the hashed segments only): `purgatory_sha_regions`. */
  regions: DigestRegion[];
  /** `purgatory_sha256_digest`. */
  digest: Uint8Array;
  /** The digest as lowercase hex. */
  hex: string;
}

/** Options of {@link planDigest} and {@link verifyPlanDigest}. */
export interface DigestOptions {
  /** Default: {@link defaultHashProvider} (WebCrypto, else pure JS). */
  hash?: HashProvider;
  /**
   * Segments to leave out (by name and index). Default: the purgatory
   * segment (`name === "purgatory"`), as the kernel always skips it. A
   * function given here replaces the default; include the purgatory test if
   * the plan has one.
   */
  skip?: (segmentName: string, index: number) => boolean;
}

/** The kernel's own skip: the purgatory segment. */
export function skipPurgatory(segmentName: string): boolean {
  return segmentName === "purgatory";
}

/** The zero buffer reused for zero fill (the kernel uses ZERO_PAGE, one page at a time). */
const ZERO_CHUNK = 1 << 20;
let zeros: Uint8Array | undefined;
function zeroChunk(): Uint8Array {
  zeros ??= new Uint8Array(ZERO_CHUNK);
  return zeros;
}

/** The parts a segment contributes: its bytes, then zeros up to memsz (as views of one shared zero chunk). */
function segmentParts(s: Segment): Uint8Array[] {
  const parts: Uint8Array[] = [s.bytes];
  let nullsz = s.memsz - BigInt(s.bytes.length);
  if (nullsz < 0n) throw new KimageError("bad-argument", `${s.name}: ${s.bytes.length} bytes exceed memsz ${hex(s.memsz)}`, { layer: PLAN_LAYER, offset: -1 });
  const z = zeroChunk();
  while (nullsz > 0n) {
    const n = nullsz > BigInt(z.length) ? z.length : Number(nullsz);
    parts.push(n === z.length ? z : z.subarray(0, n));
    nullsz -= BigInt(n);
  }
  return parts;
}

function hashedSegments(plan: AnyPlan, options: DigestOptions): Array<{ seg: Segment; index: number }> {
  const skip = options.skip ?? skipPurgatory;
  const out = plan.segments.map((seg, index) => ({ seg, index })).filter(({ seg, index }) => !skip(seg.name, index));
  // sha_region_sz = KEXEC_SEGMENT_MAX * sizeof(struct kexec_sha_region)
  if (out.length > KEXEC_SEGMENT_MAX) throw new KimageError("limit", `${out.length} hashed segments exceed KEXEC_SEGMENT_MAX (${KEXEC_SEGMENT_MAX})`, { layer: PLAN_LAYER, offset: -1 });
  return out;
}

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * The SHA-256 over every hashed segment in the plan's (the kernel's) order:
 * each segment's bytes, then zeros up to its memsz; the regions are
 * `(mem, memsz)`. What purgatory will find in `purgatory_sha256_digest` and
 * `purgatory_sha_regions`.
 *
 * @throws KimageError `limit` beyond KEXEC_SEGMENT_MAX regions, `bad-argument`
 *   for a segment whose bytes exceed its memsz.
 */
export async function planDigest(plan: AnyPlan, options: DigestOptions = {}): Promise<PlanDigest> {
  const hash = options.hash ?? defaultHashProvider();
  const segs = hashedSegments(plan, options);
  const parts = segs.flatMap(({ seg }) => segmentParts(seg));
  const digest = await hash.digest("sha256", parts);
  return { alg: "sha256", regions: segs.map(({ seg }) => ({ name: seg.name, start: seg.mem, len: seg.memsz })), digest, hex: toHex(digest) };
}

/** Reads guest memory: `len` bytes at physical `addr` (a loader's view after copying the segments). */
export type MemoryReader = (addr: bigint, len: number) => Uint8Array | Promise<Uint8Array>;

/** The outcome of {@link verifyPlanDigest}. */
export interface DigestVerification {
  /** True when the memory's digest equals the plan's. */
  ok: boolean;
  /** The digest of the memory read. */
  digest: Uint8Array;
  /** The plan's digest ({@link planDigest}). */
  expected: Uint8Array;
  /** The first region whose contents differ, and the first differing byte's offset in it. */
  mismatch?: { segment: string; offset: bigint };
}

/** The most bytes asked of the reader in one call. */
const READ_CHUNK = 64 << 20;

/**
 * What purgatory's `verify_sha256_digest` does, from a loader's side:
 * re-reads every hashed region `(mem, memsz)` from memory, in order, and
 * compares the SHA-256 with the plan's. On a mismatch it hashes region by
 * region to find the first differing segment, then the first differing byte
 * in it.
 *
 * @throws KimageError `digest-short-read` when the reader returns a
 *   different number of bytes than asked.
 */
export async function verifyPlanDigest(plan: AnyPlan, readMemory: MemoryReader, options: DigestOptions = {}): Promise<DigestVerification> {
  const hash = options.hash ?? defaultHashProvider();
  const expected = (await planDigest(plan, options)).digest;
  const segs = hashedSegments(plan, options);
  const read: Uint8Array[][] = [];
  for (const { seg } of segs) {
    const chunks: Uint8Array[] = [];
    for (let off = 0n; off < seg.memsz; ) {
      const n = seg.memsz - off > BigInt(READ_CHUNK) ? READ_CHUNK : Number(seg.memsz - off);
      const b = await readMemory(seg.mem + off, n);
      if (b.length !== n) {
        throw new KimageError("digest-short-read", `reading ${n} bytes at ${hex(seg.mem + off)} (${seg.name}) returned ${b.length}`, { layer: PLAN_LAYER, offset: -1 });
      }
      chunks.push(b);
      off += BigInt(n);
    }
    read.push(chunks);
  }
  const digest = await hash.digest("sha256", read.flat());
  const ok = equal(digest, expected);
  if (ok) return { ok, digest, expected };
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!.seg;
    const chunks = read[i]!;
    const want = await hash.digest("sha256", segmentParts(seg));
    const got = await hash.digest("sha256", chunks);
    if (equal(want, got)) continue;
    return { ok, digest, expected, mismatch: { segment: seg.name, offset: firstDifference(seg, chunks) } };
  }
  return { ok, digest, expected };
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The offset of the first byte where `chunks` (memory) differs from the segment's bytes plus zero fill. */
function firstDifference(seg: Segment, chunks: readonly Uint8Array[]): bigint {
  let off = 0;
  for (const c of chunks) {
    for (let i = 0; i < c.length; i++, off++) {
      const want = off < seg.bytes.length ? seg.bytes[off]! : 0;
      if (c[i] !== want) return BigInt(off);
    }
  }
  return -1n;
}
