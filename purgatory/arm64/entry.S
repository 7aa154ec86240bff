/*
 * arm64 entry. The kernel's cpu_soft_restart enters here with the MMU and
 * the D-cache off. Documentation/arch/arm64/booting.rst: "x0 = physical
 * address of device tree blob (dtb) in system RAM; x1 = 0 (reserved for
 * future use); x2 = 0; x3 = 0", "MMU must be off". The blob must be loaded
 * 4 KiB-aligned (adrp).
 */
  .section .text.entry, "ax"
  .globl _start
_start:
  adrp x9, stack_top
  add x9, x9, :lo12:stack_top
  mov sp, x9
  bl purgatory_main
  adrp x9, kimage_purgatory_header
  add x9, x9, :lo12:kimage_purgatory_header
  ldr x0, [x9, #0x48]          /* arg0: the DTB */
  mov x1, xzr
  mov x2, xzr
  mov x3, xzr
  ldr x4, [x9, #0x40]          /* entry: the Image */
  br x4

  .globl arch_halt
arch_halt:
1:
  wfe
  b 1b

  .bss
  .balign 16
  .space 8192
stack_top:
