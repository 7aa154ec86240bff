/**
 * The s390x plan: what arch/s390/kernel/kexec_image.c and
 * machine_kexec_file.c `kexec_file_add_components` decide, as a pure
 * function, with the parmarea fields written where setup.h puts them.
 *
 * - kernel: the whole image at address 0 ("buf.mem = 0;", `buf.memsz =
 *   buf.bufsz`), the parmarea at PARMAREA 0x10400 inside it (`data->parm =
 *   image->kernel_buf + PARMAREA`);
 * - command line: "memcpy(data.parm->command_line, image->cmdline_buf,
 *   image->cmdline_buf_len);" at COMMAND_LINE_OFFSET 0x10480, refused when
 *   "image->cmdline_buf_len >= max_command_line_size" (the parmarea's
 *   `max_command_line_size`, "LEGACY_COMMAND_LINE_SIZE" 896 when 0);
 * - initrd: right after the kernel, "data->memsz = ALIGN(data->memsz,
 *   PAGE_SIZE); buf.mem = data->memsz;", and "data->parm->initrd_start =
 *   data->memsz; data->parm->initrd_size = buf.memsz;";
 * - entry: the kernel's own entry STARTUP_NORMAL_OFFSET 0x10000 (setup.h
 *   "#define STARTUP_NORMAL_OFFSET 0x10000"); the first 8 bytes of the image
 *   become the restart PSW that enters it: "if (data.kernel_mem == 0) {
 *   unsigned long restart_psw = 0x0008000080000000UL; restart_psw +=
 *   image->start; memcpy(data.kernel_buf, &restart_psw, sizeof(restart_psw));"
 *   so that relocate_kernel's final "diag %r0,%r0,0x308" (a load-normal
 *   reset, which loads the PSW at absolute 0) starts the kernel. The s390 entry
 *   takes no register arguments: everything is in the parmarea.
 *
 * The kernel's kexec_file also adds its purgatory (which then becomes the
 * restart PSW's target) and an IPL report (the secure-IPL component list and
 * certificates of the running system); a userspace plan for `kexec_load(2)`
 * has neither, as kexec-tools' s390 loader (kexec/arch/s390/kexec-image.c)
 * has neither for a normal kexec.
 *
 * Appended signatures (the s390 secure-IPL path, `s390_verify_sig`): the
 * kernel buffer is the whole file, signature included. With `secureIpl`, the
 * plan refuses what `s390_verify_sig` refuses ("Skip signature verification
 * when not secure IPLed" otherwise) and, given trust anchors, what
 * `verify_pkcs7_signature(..., VERIFYING_MODULE_SIGNATURE)` refuses.
 *
 * @module
 */

import { KimageError, isKimageError } from "../../core/errors.js";
import { hex } from "../../core/bytes.js";
import { COMMAND_LINE_OFFSET, LEGACY_COMMAND_LINE_SIZE, PARMAREA, parseS390Image, S390_LAYER, type S390Image } from "../../formats/s390/format.js";
import { parseAppendedSignature, verifyAppendedSignature, MODULE_SIG_STRING, PKEY_ID_PKCS7, type AppendedSignature } from "../../signature/appended.js";
import type { VerifyOptions } from "../../signature/policy.js";
import { PLAN_LAYER } from "../core/allocator.js";
import { alignUpBig, checkSegments, formatRange, rangesOverlap, regionsOfType, type MemoryMap, type Range, type Segment } from "../core/memory.js";
import type { PlanOf } from "../core/types.js";
import { unwrapKernel, type KernelLayer } from "../core/unwrap.js";

/** setup.h: `#define STARTUP_NORMAL_OFFSET 0x10000`. */
export const STARTUP_NORMAL_OFFSET = 0x10000n;
/** machine_kexec_file.c: `unsigned long restart_psw = 0x0008000080000000UL;` (31-bit addressing, the address in the low word). */
export const S390_RESTART_PSW_MASK = 0x0008000080000000n;
/** The page size of s390: `PAGE_SIZE` 4 KiB. */
export const S390_PAGE_SIZE = 0x1000n;
/** `struct parmarea` field offsets from PARMAREA (setup.h: INITRD_START_OFFSET 0x10408, INITRD_SIZE_OFFSET 0x10410, OLDMEM_BASE_OFFSET 0x10418, OLDMEM_SIZE_OFFSET 0x10420; `max_command_line_size` at 0x10430). */
export const PARMAREA_FIELDS = { initrd_start: 0x08, initrd_size: 0x10, oldmem_base: 0x18, oldmem_size: 0x20, max_command_line_size: 0x30 } as const;

/** The layer an s390x plan boots, and where it reads the image header (the IPL header and parmarea). */
export const S390_KERNEL: KernelLayer<S390Image> = { format: S390_LAYER, header: (bytes) => parseS390Image(bytes) };

/** The secure-IPL check of an appended signature (`s390_verify_sig`). */
export interface S390SecureIpl {
  /** Trust anchors etc.; without them only the structure is checked (what `s390_verify_sig` checks before `verify_pkcs7_signature`). */
  verify?: VerifyOptions;
}

/** Inputs of an s390x plan. */
export interface S390PlanInput {
  /** The s390 image (IPL header, parmarea, compressed kernel), possibly with an appended module signature. */
  kernel: Uint8Array;
  initrd?: Uint8Array;
  cmdline?: string;
  /** The first kernel's memory (RAM from 0). */
  memory: MemoryMap;
  /** Ranges no segment may touch (firmware, a loader's own code). */
  exclude?: Range[];
  /** Check the appended signature as a secure-IPLed first kernel would (`ipl_secure_flag`). */
  secureIpl?: S390SecureIpl;
}

/** The appended signature as the plan saw it. */
export interface S390SignatureInfo {
  /** Offset of the PKCS#7 in the kernel file. */
  offset: number;
  sigLen: number;
  /** `structure` (s390_verify_sig's checks), `verified` (and verify_pkcs7_signature against the given anchors), or `not-checked` (no secure IPL). */
  checked: "not-checked" | "structure" | "verified";
}

/** What an s390x plan reports in `bootParams`. */
export interface S390BootParams {
  /** The parmarea fields written into the kernel segment. */
  parmarea: { initrd_start: bigint; initrd_size: bigint; oldmem_base: bigint; oldmem_size: bigint; max_command_line_size: bigint; command_line: string };
  /** The restart PSW written at address 0 (the image's first 8 bytes). */
  restartPsw: bigint;
  /** The appended signature, or null. */
  signature: S390SignatureInfo | null;
  /** The first kernel's RAM. */
  ram: Range[];
}

/** An s390x plan. */
export type S390Plan = PlanOf<"s390x", S390BootParams>;

function refuse(message: string): never {
  throw new KimageError("plan-refused", message, { layer: PLAN_LAYER, offset: -1 });
}

/**
 * s390_verify_sig's checks of the appended signature, in its order, each with
 * its errno: no marker → -EKEYREJECTED; "if (sig_len >= kernel_len) return
 * -EKEYREJECTED;"; "if (ms->id_type != PKEY_ID_PKCS7) return -EKEYREJECTED;";
 * a non-zero algo, hash, signer_len, key_id_len or pad → -EBADMSG.
 */
function secureIplStructure(kernel: Uint8Array): AppendedSignature {
  const marker = MODULE_SIG_STRING.length;
  // "if (memcmp(kernel + kernel_len - marker_len, MODULE_SIG_STRING, marker_len)) return -EKEYREJECTED;"
  let sig: AppendedSignature | null;
  try {
    sig = parseAppendedSignature(kernel);
  } catch (e) {
    if (!isKimageError(e)) throw e;
    const bytes = kernel.subarray(Math.max(0, kernel.length - marker - 12), kernel.length - marker);
    const idType = bytes[2];
    const errno = idType !== undefined && idType !== PKEY_ID_PKCS7 ? "-EKEYREJECTED" : /sig_len/.test(e.message) ? "-EKEYREJECTED" : "-EBADMSG";
    refuse(`s390_verify_sig refuses the appended signature (${errno}): ${e.message}`);
  }
  if (!sig) refuse(`s390_verify_sig refuses the image (-EKEYREJECTED): a secure-IPLed kernel loads only images that end with "~Module signature appended~"`);
  return sig;
}

/**
 * Plans an s390x kexec load: the image at 0 with its parmarea written
 * (command line, initrd start and size), the initrd after it.
 *
 * @throws KimageError `plan-refused` when kexec_file_add_components would
 *   refuse (image shorter than the parmarea and its command line, command
 *   line too long), when the secure-IPL check refuses the signature, or when
 *   a segment is outside RAM or inside an excluded range; the s390 image
 *   layer's parse errors.
 */
export async function planS390(input: S390PlanInput): Promise<S390Plan> {
  const notes: string[] = [];
  const file = input.kernel;
  let signature: S390SignatureInfo | null = null;
  let content = file;
  if (input.secureIpl) {
    const sig = secureIplStructure(file);
    content = sig.content;
    signature = { offset: sig.signatureOffset, sigLen: sig.info.sig_len, checked: "structure" };
    if (input.secureIpl.verify) {
      // "ret = verify_pkcs7_signature(kernel, kernel_len, kernel + kernel_len, sig_len, VERIFY_USE_SECONDARY_KEYRING, VERIFYING_MODULE_SIGNATURE, ...)"
      const v = await verifyAppendedSignature(file, input.secureIpl.verify);
      if (v.verdict !== "valid") refuse(`s390_verify_sig: verify_pkcs7_signature refuses the image (${v.reason}): ${v.detail}`);
      signature.checked = "verified";
    }
    notes.push(`secure IPL: the appended signature (${sig.info.sig_len} bytes at ${sig.signatureOffset}) passes s390_verify_sig's checks${signature.checked === "verified" ? " and verifies against the given trust anchors" : ""}`);
  } else {
    let sig: AppendedSignature | null = null;
    try {
      sig = parseAppendedSignature(file);
    } catch (e) {
      if (!isKimageError(e)) throw e;
      notes.push(`the appended signature is malformed (${e.message}); not checked: "Skip signature verification when not secure IPLed."`);
    }
    if (sig) {
      content = sig.content;
      signature = { offset: sig.signatureOffset, sigLen: sig.info.sig_len, checked: "not-checked" };
      notes.push(`an appended signature (${sig.info.sig_len} bytes) is loaded with the image but not checked: "Skip signature verification when not secure IPLed."`);
    }
  }
  const image = await unwrapKernel(content, S390_KERNEL);
  if (image.chain.length !== 1) {
    // The s390 image is the file itself (nothing wraps it): a wrapped one is not what kexec_file_load receives.
    refuse(`the s390 image is inside ${image.chain.slice(0, -1).join(" → ")}: kexec_file_load takes the s390 image itself`);
  }
  notes.push(`kernel: ${image.chain.join(" → ")}${image.header.kernelVersion ? ` (${image.header.kernelVersion.split(" ")[0] ?? ""})` : ""}; ${file.length} bytes loaded whole, as kexec_file_add_kernel_image does ("buf.bufsz = image->kernel_buf_len")`);

  // "minsize = PARMAREA + offsetof(struct parmarea, command_line); if (image->kernel_buf_len < minsize) goto out;"
  const minsize = COMMAND_LINE_OFFSET;
  if (file.length < minsize) refuse(`kexec_file_add_components refuses the image (-EINVAL): ${file.length} bytes end before the parmarea's command line at 0x${minsize.toString(16)}`);
  const bytes = file.slice();
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parm = (field: keyof typeof PARMAREA_FIELDS): number => PARMAREA + PARMAREA_FIELDS[field];
  // "if (data.parm->max_command_line_size) max_command_line_size = data.parm->max_command_line_size;"
  const declared = dv.getBigUint64(parm("max_command_line_size"), false);
  const maxCmd = declared !== 0n ? declared : BigInt(LEGACY_COMMAND_LINE_SIZE);
  // "if (image->kernel_buf_len < minsize + max_command_line_size) goto out;"
  if (BigInt(file.length) < BigInt(minsize) + maxCmd) refuse(`kexec_file_add_components refuses the image (-EINVAL): ${file.length} bytes cannot hold a ${maxCmd}-byte command line at 0x${minsize.toString(16)}`);
  let cmdline: string;
  if (input.cmdline === undefined) {
    // No command line: "memcpy(data.parm->command_line, image->cmdline_buf, image->cmdline_buf_len);" copies
    // nothing (and kexec-tools writes only "if (info->command_line)"), so the image's own line stays.
    cmdline = image.header.parmarea?.command_line ?? "";
    notes.push(`no command line given: the image's own stays in the parmarea (${JSON.stringify(cmdline)})`);
  } else {
    cmdline = input.cmdline;
    const cmdBytes = new TextEncoder().encode(cmdline);
    if (cmdBytes.includes(0)) throw new KimageError("bad-argument", "the command line contains a NUL byte", { layer: PLAN_LAYER, offset: -1 });
    // cmdline_buf_len counts the NUL: "if (image->cmdline_buf_len >= max_command_line_size) goto out;"
    if (BigInt(cmdBytes.length + 1) >= maxCmd) refuse(`kexec_file_add_components refuses the command line (-EINVAL): ${cmdBytes.length + 1} bytes with its NUL, the kernel takes less than ${maxCmd}`);
    // "memcpy(data.parm->command_line, image->cmdline_buf, image->cmdline_buf_len);" — and the rest zeroed, as
    // kexec-tools' "strncpy(dest, info->command_line, maxsize-1);" pads it, so no tail of the built-in line remains.
    bytes.fill(0, COMMAND_LINE_OFFSET, COMMAND_LINE_OFFSET + Number(maxCmd));
    bytes.set(cmdBytes, COMMAND_LINE_OFFSET);
    notes.push(`command line written at 0x${COMMAND_LINE_OFFSET.toString(16)} (${cmdBytes.length + 1} of ${maxCmd} bytes${declared === 0n ? ", LEGACY_COMMAND_LINE_SIZE: the parmarea declares no max_command_line_size" : ""})`);
  }

  // "buf.mem = 0; ... buf.memsz = buf.bufsz;" then kexec_add_buffer rounds memsz to the page.
  const kernel: Segment = { name: "kernel", bytes, mem: 0n, memsz: alignUpBig(BigInt(bytes.length), S390_PAGE_SIZE) };
  const segments: Segment[] = [kernel];
  let initrdStart = 0n;
  let initrdSize = 0n;
  if (input.initrd) {
    // "data->memsz = ALIGN(data->memsz, PAGE_SIZE); buf.mem = data->memsz;"
    const mem = alignUpBig(BigInt(bytes.length), S390_PAGE_SIZE);
    const initrd: Segment = { name: "initrd", bytes: input.initrd, mem, memsz: alignUpBig(BigInt(input.initrd.length), S390_PAGE_SIZE) };
    segments.push(initrd);
    initrdStart = mem;
    initrdSize = BigInt(input.initrd.length);
    notes.push(`initrd at 0x${mem.toString(16)}: right after the kernel, page-aligned`);
  }
  // "data->parm->initrd_start = data->memsz; data->parm->initrd_size = buf.memsz;" (0 and 0 without an initrd)
  dv.setBigUint64(parm("initrd_start"), initrdStart, false);
  dv.setBigUint64(parm("initrd_size"), initrdSize, false);
  // oldmem_base/oldmem_size: "if (image->type == KEXEC_TYPE_CRASH) { data.parm->oldmem_base = crashk_res.start; ...}":
  // a normal plan leaves the image's (0, 0).
  const oldmemBase = dv.getBigUint64(parm("oldmem_base"), false);
  const oldmemSize = dv.getBigUint64(parm("oldmem_size"), false);
  if (oldmemBase !== 0n || oldmemSize !== 0n) notes.push(`the image's parmarea already names oldmem ${hex(oldmemBase)}+${hex(oldmemSize)}: a normal kexec leaves it as it is`);

  // "restart_psw += image->start; memcpy(data.kernel_buf, &restart_psw, sizeof(restart_psw));"
  const restartPsw = S390_RESTART_PSW_MASK + STARTUP_NORMAL_OFFSET;
  dv.setBigUint64(0, restartPsw, false);
  notes.push(`restart PSW 0x${restartPsw.toString(16).padStart(16, "0")} written at 0: a load-normal reset (relocate_kernel's "diag %r0,%r0,0x308") enters the kernel at 0x${STARTUP_NORMAL_OFFSET.toString(16)}`);

  for (const s of segments) {
    const r = { start: s.mem, size: s.memsz };
    const hit = (input.exclude ?? []).find((x) => rangesOverlap(x, r));
    if (hit) refuse(`${s.name} ${formatRange(r)} is at a fixed address (kexec_image.c places it there) and overlaps the excluded ${formatRange(hit)}`);
  }
  const violations = checkSegments(segments, input.memory, { pageSize: S390_PAGE_SIZE });
  if (violations.length > 0) refuse(`the s390 layout does not fit this memory: ${violations.map((v) => v.message).join("; ")}`);

  return {
    arch: "s390x",
    kind: "normal",
    segments,
    entry: { pc: STARTUP_NORMAL_OFFSET, registers: {} },
    cmdline,
    bootParams: {
      parmarea: { initrd_start: initrdStart, initrd_size: initrdSize, oldmem_base: oldmemBase, oldmem_size: oldmemSize, max_command_line_size: declared, command_line: cmdline },
      restartPsw,
      signature,
      ram: regionsOfType(input.memory, "ram"),
    },
    notes,
  };
}
