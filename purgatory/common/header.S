/*
 * The parameter block at offset 0 of every kimage purgatory blob
 * (struct kimage_purgatory_header in purgatory.h). Only the magic, the
 * version, the sizes and the entry offset are filled at build time; the plan
 * writes the rest. __purgatory_entry_offset and __purgatory_memsz are
 * absolute symbols from purgatory.ld.
 */
  .section .header, "aw"
  .globl kimage_purgatory_header
  .type kimage_purgatory_header, %object
kimage_purgatory_header:
  .ascii "KIMGPURG"
  .long 1
  .long 0x170
  .quad __purgatory_entry_offset
  .quad __purgatory_memsz
  .fill 0x170 - 0x20, 1, 0
  .size kimage_purgatory_header, 0x170
