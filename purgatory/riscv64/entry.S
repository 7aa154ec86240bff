/*
 * riscv64 entry. The kernel's kexec_relocate.S enters in S-mode with the
 * MMU off (satp = 0). Documentation/arch/riscv/boot.rst: "$a0 to contain the
 * hartid of the current core", "$a1 to contain the address of the
 * devicetree in memory"; kexec_relocate.S: "mv a0, s3", "mv a1, s2",
 * "jr a2". The plan gives a0 (its hart id) and a1 (its DTB).
 */
  .option norelax
  .section .text.entry, "ax"
  .globl _start
_start:
  lla sp, stack_top
  call purgatory_main
  lla t0, kimage_purgatory_header
  ld a0, 0x48(t0)              /* arg0: the hart id */
  ld a1, 0x50(t0)              /* arg1: the DTB */
  ld t1, 0x40(t0)              /* entry: the Image */
  jr t1

  .globl arch_halt
arch_halt:
1:
  wfi
  j 1b

  .bss
  .balign 16
  .space 8192
stack_top:
