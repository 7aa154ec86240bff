/*
 * kimage purgatory: the parameter block and the interfaces between the
 * architecture-neutral part (the digest check) and each architecture's part
 * (entry, console, halt).
 *
 * The parameter block sits at offset 0 of the blob (section .header, first in
 * purgatory.ld). A plan writes the fields marked "plan" before it hands the
 * blob to kexec_load(2); src/plan/protocol/purgatory.ts is the other reader
 * of this layout and must change with it. Every field is in the CPU's own
 * byte order (header.S emits it so, the C code reads it natively):
 * little-endian on x86_64, arm64 and riscv64, big-endian on s390x; a reader
 * tells which from the version field (1).
 */
#ifndef KIMAGE_PURGATORY_H
#define KIMAGE_PURGATORY_H

/* Every symbol is local to the blob: no GOT, PC-relative addressing only. */
#pragma GCC visibility push(hidden)

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;

/* include/linux/kexec.h: #define KEXEC_SEGMENT_MAX 16 */
#define KIMAGE_PURGATORY_MAX_REGIONS 16

/* console kinds (header.console_kind) */
#define KIMAGE_CONSOLE_NONE 0
#define KIMAGE_CONSOLE_X86_PIO_16550 1 /* x86 I/O port (0x3f8): outb to THR, LSR at +5 */
#define KIMAGE_CONSOLE_PL011 2         /* ARM PL011 MMIO: UARTDR at +0, UARTFR at +0x18 */
#define KIMAGE_CONSOLE_NS16550 3       /* ns16550 MMIO, 8-bit accesses, registers 1 << console_shift apart */
#define KIMAGE_CONSOLE_S390_SCLP 4     /* s390 SCLP ASCII (VT220) console events; console_addr unused */
#define KIMAGE_CONSOLE_HVTERM 5        /* pseries hypervisor vterm: H_PUT_TERM_CHAR, console_addr = the terminal number */

/* kernel/kexec_file.c: struct kexec_sha_region { unsigned long start; unsigned long len; }; */
struct kimage_sha_region {
  u64 start;
  u64 len;
};

struct kimage_purgatory_header {
  u8 magic[8];          /* 0x00 "KIMGPURG" */
  u32 version;          /* 0x08 1 */
  u32 header_size;      /* 0x0c sizeof(struct kimage_purgatory_header) = 0x170 */
  u64 entry_offset;     /* 0x10 where the CPU enters, from the blob's first byte */
  u64 image_memsz;      /* 0x18 bytes the blob needs in memory (code, data, stack) */
  u8 sha256[32];        /* 0x20 plan: purgatory_sha256_digest */
  u64 entry;            /* 0x40 plan: x86_64 rip, arm64/riscv64 pc, s390x the PSW address, ppc64 the kernel's first instruction */
  u64 arg0;             /* 0x48 plan: x86_64 rsi (boot_params), arm64 x0 (DTB), riscv64 a0 (hart id), ppc64 r3 (DT) */
  u64 arg1;             /* 0x50 plan: riscv64 a1 (DTB), ppc64 r4 (kernel base); 0 elsewhere */
  u32 console_kind;     /* 0x58 plan: KIMAGE_CONSOLE_* */
  u32 console_shift;    /* 0x5c plan: ns16550 reg-shift */
  u64 console_addr;     /* 0x60 plan: I/O port, MMIO base or vterm number */
  u32 nr_regions;       /* 0x68 plan: entries used in regions[] */
  u32 reserved;         /* 0x6c 0 */
  struct kimage_sha_region regions[KIMAGE_PURGATORY_MAX_REGIONS]; /* 0x70 plan: purgatory_sha_regions */
};

extern struct kimage_purgatory_header kimage_purgatory_header;

/* The architecture's part. */
void arch_console_putc(const struct kimage_purgatory_header *h, char c);
void arch_halt(void) __attribute__((noreturn));

/* The common part: returns when the digest matches, never otherwise. */
void purgatory_main(void);

void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);

#pragma GCC visibility pop

#endif
