/**
 * The one error type kimage throws, and the stable codes it carries.
 *
 * Every failure caused by input bytes is a {@link KimageError}: it names a
 * stable `code` (safe to switch on; never renamed once released), the `layer`
 * (format id) that found the problem, and the absolute byte `offset` in the
 * outermost input where the offending field sits (or `-1` when the problem is
 * not tied to one place).
 *
 * @module
 */

/**
 * Stable error codes, each with a one-line meaning. The object doubles as the
 * list of valid codes, so a code can always print what it means.
 */
export const ERROR_CODES = {
  // generic byte layer
  truncated: "a field or table runs past the end of its buffer",
  "unsafe-integer": "a 64-bit value does not fit a JavaScript number where one is required",
  "bad-argument": "a caller-supplied argument is invalid",
  limit: "a configured size or count limit was exceeded",
  unsupported: "the input uses a feature kimage does not implement",
  "unknown-format": "no format in the probe table recognises the input",

  // codecs
  "codec-corrupt": "compressed data is corrupt (a bad header, reference or code)",
  "codec-checksum": "a checksum of the compressed stream does not match its data",
  "codec-size-mismatch": "the decompressed size differs from the size the container states",

  // PE/COFF headers
  "pe-bad-dos-magic": "the file does not start with the MZ signature",
  "pe-bad-lfanew": "e_lfanew points outside the file or into the DOS header",
  "pe-bad-signature": "no PE\\0\\0 signature at e_lfanew",
  "pe-optional-header-truncated":
    "SizeOfOptionalHeader is too small for the fixed fields, or the optional header runs past the end of the file",
  "pe-bad-optional-magic": "the optional header magic is neither PE32 (0x10b) nor PE32+ (0x20b)",
  "pe-data-dirs-overflow":
    "NumberOfRvaAndSizes describes more data directories than SizeOfOptionalHeader holds",
  "pe-headers-size-invalid":
    "SizeOfHeaders is past the end of the file or smaller than the end of the section table",
  "pe-section-table-out-of-bounds": "the section table runs past SizeOfHeaders or the end of the file",
  "pe-section-out-of-bounds": "a section's raw data runs past the end of the file",
  "pe-section-size-wrap": "the raw sizes of the hashed sections add up past 2^32",
  "pe-cert-table-out-of-bounds": "the certificate table runs past the end of the file",
  "pe-cert-table-in-headers": "the certificate table starts inside the headers",
  "pe-no-cert-directory": "NumberOfRvaAndSizes is too small to hold the certificate-table entry",

  // PE certificate table entries (WIN_CERTIFICATE)
  "cert-entry-too-short": "a WIN_CERTIFICATE dwLength is smaller than its 8-byte header",
  "cert-entry-overflow": "a WIN_CERTIFICATE dwLength runs past the certificate table",
  "cert-bad-revision": "a WIN_CERTIFICATE wRevision is not 0x0200",
  "cert-bad-type": "a WIN_CERTIFICATE wCertificateType is not PKCS_SIGNED_DATA (2)",
  "cert-table-size-mismatch": "the 8-aligned entry lengths do not add up to the table's Size",
  "cert-trailing-bytes": "non-zero bytes follow the DER signature inside dwLength (CVE-2013-3900)",

  // ASN.1 / PKCS#7
  "asn1-malformed": "the DER encoding is malformed",
  "asn1-not-der": "the encoding is BER, not DER (indefinite length or non-minimal length)",
  "asn1-trailing-bytes": "bytes follow the outermost DER value",
  "pkcs7-unexpected": "the PKCS#7 structure is not the expected Authenticode SignedData",

  // signatures (signing)
  "sign-key-invalid": "the private key cannot be read (bad PEM, DER or PKCS#8) or WebCrypto refuses it",
  "sign-key-unsupported":
    "the private key is encrypted or not RSA PKCS#1 v1.5 / ECDSA on P-256, P-384 or P-521, or was imported for another hash",
  "sign-key-mismatch": "the private key does not belong to the signer certificate",
  "sign-cert-invalid": "a certificate given for signing is not a readable X.509 certificate",
  "sign-no-crypto": "no WebCrypto SubtleCrypto is available to sign with",
  "sign-table-unsupported":
    "the image's existing certificate table cannot be kept or extended (not at the end of the file, misaligned or malformed)",
  "sign-nothing-to-nest": "nest mode needs an existing signature to nest the new one into",

  // bzImage / ELF / zImage / s390
  "bzimage-too-short": "the file is shorter than two 512-byte sectors (kexec: \"File is too short to be a bzImage\")",
  "bzimage-no-hdrs": "no \"HdrS\" signature at 0x202 (kexec: \"Not a bzImage\")",
  "bzimage-no-boot-flag": "boot_flag at 0x1fe is not 0xAA55 (kexec: \"No x86 boot sector present\")",
  "bzimage-old-protocol": "the boot protocol version is below 2.12 (kexec: \"Must be at least protocol version 2.12\")",
  "bzimage-not-loaded-high": "loadflags lacks LOADED_HIGH (kexec: \"zImage not a bzImage\")",
  "bzimage-not-64": "xloadflags lacks XLF_KERNEL_64 (kexec: \"Not a bzImage64. XLF_KERNEL_64 is not set.\")",
  "bzimage-not-above-4g": "xloadflags lacks XLF_CAN_BE_LOADED_ABOVE_4G (kexec: \"XLF_CAN_BE_LOADED_ABOVE_4G is not set.\")",
  "bzimage-truncated": "the real-mode setup ((setup_sects + 1) * 512 bytes) runs past the end of the file",
  "bzimage-payload-out-of-bounds": "payload_offset/payload_length describe bytes outside the protected-mode code",
  "bzimage-bad-kernel-info": "kernel_info_offset does not point at a bounded \"LToP\" kernel_info",
  "elf-too-short": "the buffer is too small to hold the ELF header",
  "elf-bad-magic": "e_ident does not start with 0x7f 'E' 'L' 'F'",
  "elf-bad-class": "e_ident[EI_CLASS] is neither ELFCLASS32 nor ELFCLASS64",
  "elf-bad-data": "e_ident[EI_DATA] is neither ELFDATA2LSB nor ELFDATA2MSB",
  "elf-bad-version": "e_ident[EI_VERSION] or e_version is not EV_CURRENT",
  "elf-bad-ehsize": "e_ehsize is not the size of the ELF header of its class",
  "elf-bad-phentsize": "e_phentsize is not the size of a program header of its class",
  "elf-bad-shentsize": "e_shentsize is not the size of a section header of its class",
  "elf-phdrs-wrap": "e_phoff + the program header table size wraps around",
  "elf-phdrs-truncated": "the program header table runs past the end of the file",
  "elf-shdrs-wrap": "e_shoff + the section header table size wraps around",
  "elf-shdrs-truncated": "the section header table runs past the end of the file",
  "elf-bad-shstrndx": "e_shstrndx names no section, or the section-name table runs past the end of the file",
  "elf-segment-offset-wrap": "a segment's p_offset + p_filesz wraps around",
  "elf-segment-not-in-file": "a segment's p_offset + p_filesz runs past the end of the file",
  "elf-segment-address-wrap": "a segment's p_paddr + p_memsz wraps around",
  "elf-not-executable": "e_type is neither ET_EXEC nor ET_DYN",
  "elf-no-phdrs": "the file has no program headers",
  "elf-interp": "a PT_INTERP segment asks for an ELF interpreter",
  "elf-bad-note": "a note's name or descriptor runs past the end of its segment or section",
  "zimage-bad-endian": "the zImage endianness magic at 0x30 is not 0x04030201",
  "zimage-bad-range": "the zImage start/end addresses at 0x28/0x2c do not describe a range inside the file",
  "zimage-bad-table": "the zImage extension table (0x45454545 at 0x34, offset at 0x38) is malformed",
  "payload-not-found": "the compressed payload could not be located from the image's own structures",
  "s390-bad-parmarea": "the s390 parmarea at 0x10400 runs past the end of the image",

  // fdt / plans
  "fdt-bad-magic": "the devicetree blob does not start with the magic 0xd00dfeed",
  "fdt-bad-header": "a devicetree header offset or size lies outside totalsize, is misaligned, or blocks overlap",
  "fdt-bad-version": "the devicetree blob's version / last_comp_version is not one kimage reads (version >= 17, last_comp_version <= 17)",
  "fdt-bad-memrsv": "the memory reservation block runs past its space without a (0, 0) terminator, or an entry wraps",
  "fdt-bad-token": "an unknown or misplaced token in the structure block",
  "fdt-bad-structure": "the structure block nests wrongly (unbalanced nodes, a property after a subnode, no FDT_END)",
  "fdt-bad-string": "a name or nameoff is unterminated, empty or points outside its block",
  "fdt-bad-property": "a property value does not have the size or shape the accessor expects",
  "fdt-no-node": "no node matches the devicetree path",
  "memory-bad-syntax": "a memory description (/proc/iomem, e820 list, CLI form) is malformed",
  "memory-bad-range": "a memory range is empty, wraps past 2^64 or is not contained where it must be",
  "memory-iomem-unprivileged": "every /proc/iomem range reads as zero: the file was read without CAP_SYS_ADMIN",
  "plan-no-hole": "no free, aligned hole satisfies a placement request (kexec_locate_mem_hole: -EADDRNOTAVAIL)",
  // plans (lead)
  "plan-refused": "the kernel's loader would refuse this image or request (with its reason)",
  // crash plans / digest
  "crash-no-region": "a crash-kernel plan needs a crash kernel region (crashk_res) and none was given or found in the memory map",
  "digest-short-read": "a memory reader returned fewer or more bytes than asked while verifying a plan's digest",
  // riscv / elf plans
  "plan-elf-rejected": "the ELF kernel fails kexec's ELF checks (kexec_build_elf_info, elf_check_arch) and would be refused",
  "plan-elf-no-load": "the ELF kernel has no PT_LOAD segment with bytes to load",
  "plan-elf-misaligned": "a PT_LOAD's p_paddr is not a multiple of max(p_align, PAGE_SIZE): kexec would move it elsewhere",
  "plan-elf-overlap": "two PT_LOAD segments of the ELF kernel overlap in physical memory",
  "plan-elf-outside-ram": "a PT_LOAD segment of the ELF kernel does not lie inside one RAM region of the memory map",
  "plan-elf-excluded": "a PT_LOAD segment of the ELF kernel overlaps a range the caller excluded",
  "plan-elf-entry": "the ELF entry point lies in no PT_LOAD segment",
  // UKIs: PCR 11, .pcrsig, uki build (issue 14)
  "uki-no-profile": "the UKI has no profile with the requested number",
  "uki-no-linux": "the UKI (or the chosen profile) has no .linux section",
  "pcrsig-malformed": "the .pcrsig section is not the JSON systemd-measure writes (bank arrays of {pcrs, pkfp, pol, sig})",
  "pcrpkey-invalid": "the .pcrpkey section is not a PEM or DER SubjectPublicKeyInfo of an RSA or named-curve EC key",
} as const;

/** A stable error code; see {@link ERROR_CODES} for the meanings. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Options accepted by the {@link KimageError} constructor. */
export interface KimageErrorOptions {
  /** Format id of the layer that detected the problem, e.g. `"pe"`. */
  layer: string;
  /** Absolute byte offset of the offending field, or -1. */
  offset: number;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * The single error class thrown by kimage for bad input, limits and bad
 * arguments. `message` is human-readable; `code`, `layer` and `offset` are
 * for programs.
 */
export class KimageError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** Format id of the layer that detected the problem. */
  readonly layer: string;
  /** Absolute byte offset in the outermost input, or -1. */
  readonly offset: number;

  constructor(code: ErrorCode, message: string, options: KimageErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KimageError";
    this.code = code;
    this.layer = options.layer;
    this.offset = options.offset;
  }

  /** One line: `code [layer @ 0xoffset]: message`. */
  toLine(): string {
    const at = this.offset >= 0 ? ` @ 0x${this.offset.toString(16)}` : "";
    return `${this.code} [${this.layer}${at}]: ${this.message}`;
  }

  /** A plain object for JSON output. */
  toJSON(): { code: ErrorCode; layer: string; offset: number; message: string } {
    return { code: this.code, layer: this.layer, offset: this.offset, message: this.message };
  }
}

/** True when `e` is a {@link KimageError}, optionally with the given code. */
export function isKimageError(e: unknown, code?: ErrorCode): e is KimageError {
  return e instanceof KimageError && (code === undefined || e.code === code);
}

/**
 * A non-fatal observation about the input: something peers disagree on, or
 * that the spec allows but a verifier should know. Findings never change
 * what kimage computes silently; they say where a result may differ from a
 * peer's.
 */
export interface Finding {
  /** Stable id of the finding, e.g. `"section-gap"`. */
  code: string;
  /** `warning` may change a peer's result; `info` is informational. */
  severity: "warning" | "info";
  /** Absolute byte offset of the relevant field, or -1. */
  offset: number;
  /** Human-readable description. */
  message: string;
}
