/*
 * x86_64 entry. kexec's relocate_kernel jumps here in 64-bit mode with an
 * identity map of RAM. Like kexec-tools' purgatory/arch/x86_64/entry64.S,
 * load our own GDT (boot.rst, 64-bit boot protocol: "a GDT must be loaded
 * with the descriptors for selectors __BOOT_CS(0x10) and __BOOT_DS(0x18);
 * both descriptors must be 4G flat segment; __BOOT_CS must have execute/read
 * permission, and __BOOT_DS must have read/write permission"), switch to a
 * stack inside the purgatory, check the digest, then enter the kernel with
 * the seeds' entry64_regs (kexec-bzimage64.c): "regs64.rbx = 0;" (the
 * bootstrap processor), "regs64.rsi = bootparam_load_addr;",
 * "regs64.rip = kernel_load_addr + 0x200;"
 */
  .section .text.entry, "ax"
  .code64
  .globl _start
_start:
  cli
  cld
  leaq stack_top(%rip), %rsp
  leaq gdt(%rip), %rax
  movq %rax, gdt_desc + 2(%rip)
  lgdt gdt_desc(%rip)
  leaq 1f(%rip), %rax
  pushq $0x10
  pushq %rax
  lretq
1:
  movl $0x18, %eax
  movl %eax, %ds
  movl %eax, %es
  movl %eax, %ss
  movl %eax, %fs
  movl %eax, %gs
  call purgatory_main
  leaq kimage_purgatory_header(%rip), %rcx
  movq 0x48(%rcx), %rsi        /* arg0: boot_params */
  movq 0x40(%rcx), %rax        /* entry: kernel + 0x200 */
  xorl %ebx, %ebx
  xorl %ebp, %ebp
  xorl %edi, %edi
  xorl %ecx, %ecx
  xorl %edx, %edx
  jmpq *%rax

  .globl arch_halt
arch_halt:
  cli
2:
  hlt
  jmp 2b

  .data
  .balign 16
gdt:
  .quad 0
  .quad 0
  .quad 0x00af9a000000ffff     /* 0x10 __BOOT_CS: 64-bit code, execute/read */
  .quad 0x00cf92000000ffff     /* 0x18 __BOOT_DS: flat data, read/write */
gdt_end:
  .balign 8
gdt_desc:
  .word gdt_end - gdt - 1
  .quad 0                      /* the base, written at run time */

  .bss
  .balign 16
  .space 8192
stack_top:
