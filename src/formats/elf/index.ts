/**
 * ELF (vmlinux): headers, program headers, section headers, notes, and the
 * checks of the kernel's kexec ELF loader.
 *
 * @module
 */

export * from "./spec.js";
export * from "./parse.js";
export * from "./format.js";
