/**
 * x86 bzImage: the boot protocol setup header, kernel_info, the kexec
 * bzImage64 probe rules and the compressed payload.
 *
 * @module
 */

export * from "./header.js";
export * from "./format.js";
