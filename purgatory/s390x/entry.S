/*
 * s390x entry. kimage enters its purgatory the way the kernel's kexec_file
 * does (arch/s390/kernel/machine_kexec_file.c): the plan writes the restart
 * PSW into the kernel segment's first 8 bytes, "unsigned long restart_psw =
 * 0x0008000080000000UL; restart_psw += image->start;" (image->start being
 * this entry), and gives kexec_load(2) entry 0, "image->start = 0;", so that
 * relocate_kernel.S skips its own PSW ("cghi %r3,0; je .diag") and its
 * "diag %r0,%r0,0x308" (a reset, then a load of the PSW at absolute 0)
 * starts us with that ESA/390-format PSW: 31-bit addressing, DAT and
 * interrupts off, prefix 0. As arch/s390/purgatory/head.S does ("The
 * purgatory might be called after a diag308 so better set architecture and
 * addressing mode"), switch to z/Architecture ("sigp %r1,%r0,SIGP_SET_ARCHITECTURE"
 * with %r1 = 1) and 64-bit addressing ("sam64") first.
 *
 * After the digest check, start the kernel as head.S's START_NEXT_KERNEL
 * does: "lg %r4,kernel_entry; lg %r5,load_psw_mask; ogr %r4,%r5; stg
 * %r4,0(%r0)" then "xgr %r0,%r0; lghi %r1,0; diag %r0,%r1,0x308": the same
 * 31-bit PSW mask, the kernel's entry (STARTUP_NORMAL_OFFSET 0x10000) at
 * absolute 0, and the same reset. The blob must sit below 2 GiB (the PSW's
 * 31-bit address) and is position independent (larl only).
 */
  .section .text.entry, "ax"
  .globl _start
_start:
  lhi %r1, 1
  sigp %r1, %r0, 0x12          /* SIGP_SET_ARCHITECTURE (asm/sigp.h 18): z/Architecture */
  sam64
  larl %r15, stack_top
  aghi %r15, -160              /* the ABI's register save area */
  xc 0(8,%r15), 0(%r15)        /* a zero back chain */
  brasl %r14, purgatory_main
  larl %r13, kimage_purgatory_header
  lg %r4, 0x40(%r13)           /* entry: the kernel's STARTUP_NORMAL_OFFSET */
  larl %r5, load_psw_mask
  og %r4, 0(%r5)
  stg %r4, 0(%r0)              /* the restart PSW at absolute 0 */
  xgr %r0, %r0
  lghi %r1, 0                  /* diag 308 subcode 0: reset, then load the PSW at 0 */
  diag %r0, %r1, 0x308
  j arch_halt

  .globl arch_halt
arch_halt:
  larl %r1, disabled_wait_psw
  lpswe 0(%r1)
  j arch_halt

  .section .rodata
  .balign 8
load_psw_mask:
  .long 0x00080000, 0x80000000  /* relocate_kernel.S load_psw / head.S load_psw_mask */
  .balign 16
/*
 * A z/Architecture disabled-wait PSW (head.S "disabled_wait_psw: .quad
 * 0x0002000180000000": wait, EA, BA, no interrupts) whose address is the
 * code 0x4b494d47 ("KIMG"): QEMU stops the guest and, with -d guest_errors,
 * prints "disabled-wait" and "PSW: 0x0002000180000000 0x000000004b494d47".
 */
disabled_wait_psw:
  .quad 0x0002000180000000
  .quad 0x000000004b494d47

  .bss
  .balign 16
  .space 8192
stack_top:
