/*
 * ppc64 (little-endian, ELFv2) entry. How the running kernel enters here
 * (arch/powerpc/kernel/misc_64.S, kexec_sequence): it copies the segments,
 * switches to real mode (real_mode: MSR_IR and MSR_DR cleared, MSR_LE and
 * MSR_SF kept), then "copy 0x100 bytes starting at start to 0" and
 * "mr r3,r25 # my phys cpu; mr r4,r30 # start, aka phys mem offset;
 * mtlr 4; li r5,0; blr", commented "image->start(physid, image->start, 0)":
 * r3 = the physical id of this CPU, r4 = this entry, r5 = 0. Secondary CPUs
 * (none with -smp 1) are released to 0x60 of that 0x100-byte copy with
 * MSR_LE cleared (kexec_wait: "clrrdi r11,r11,1", Clear MSR_LE).
 *
 * What kexec-tools' purgatory does before it enters the kernel
 * (purgatory/arch/ppc64/v2wrap.S): "mr 17,3 # save cpu id to r17", sets
 * its TOC and stack, "bl purgatory" (the digest check), then with the
 * device tree in r3 "lwbrx 6,3,4 # fetch BE version number", "cmpwi 0,6,2
 * # v2 ?" and "stwbrx 17,3,4 # Store my cpu as BE value" at offset 28
 * (boot_cpuid_phys), "ld 4,0(6) # load the kernel address", "li 5,0 # r5
 * will be 0 for kernel" and enters the kernel: "kernel(device-tree,
 * phys-offset, 0)". kimage's blob does the same with its parameter block:
 * arg0 = the device tree (r3), arg1 = the kernel base (r4), entry = the
 * kernel's first instruction. It enters little-endian with bctr (the
 * kernel's FIXUP_ENDIAN accepts either endianness; kexec-tools' rfid to
 * big-endian is not needed), and leaves the kernel's __run_at_load (offset
 * 0x5c) as the plan loaded it: 0, so head_64.S copies the kernel down to 0.
 *
 * Position independence: the TOC pointer (r2), the stack and the parameter
 * block are found from the address "bcl 20,31" puts in the link register.
 */
  .abiversion 2
  .section .text.entry, "ax"
  .globl _start
_start:
  b master
  /* The 0x100 bytes copied to 0: a secondary CPU would enter at 0x60 big-endian; "b ." read big-endian is 0x48000000. */
  .org _start + 0x60
  .long 0x00000048
  .org _start + 0x100
master:
  mr 30, 3                     /* the physical CPU id */
  bcl 20, 31, 1f
1:
  mflr 31                      /* r31 = the run-time address of 1b */
  addis 2, 31, (.TOC. - 1b)@ha
  addi 2, 2, (.TOC. - 1b)@l
  addis 1, 31, (stack_top - 1b)@ha
  addi 1, 1, (stack_top - 1b)@l
  li 0, 0
  stdu 0, -32(1)               /* ELFv2: a back chain of 0 and the 32-byte minimum frame */
  bl purgatory_main
  nop
  addis 9, 31, (kimage_purgatory_header - 1b)@ha
  addi 9, 9, (kimage_purgatory_header - 1b)@l
  ld 3, 0x48(9)                /* arg0: the device tree */
  li 6, 20
  lwbrx 7, 3, 6                /* fdt_header.version (big-endian, at 20) */
  cmpwi 0, 7, 2
  blt 2f
  li 6, 28
  stwbrx 30, 3, 6              /* boot_cpuid_phys (at 28) = this CPU, big-endian */
2:
  ld 4, 0x50(9)                /* arg1: the kernel base */
  ld 12, 0x40(9)               /* entry: the kernel */
  li 5, 0                      /* no Open Firmware client interface */
  mtctr 12
  bctr

  .globl arch_halt
arch_halt:
  or 1, 1, 1                   /* low thread priority */
3:
  b 3b

  .bss
  .balign 16
  .space 8192
stack_top:
