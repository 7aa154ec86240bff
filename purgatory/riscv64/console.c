/*
 * riscv64 console: an ns16550 UART over MMIO (the DT's stdout-path, e.g.
 * /soc/serial@10000000 on QEMU virt). THR at +0; LSR at +(5 << reg-shift),
 * bit 5 THRE. 8-bit accesses (reg-io-width 1).
 */
#include "../common/purgatory.h"

void arch_console_putc(const struct kimage_purgatory_header *h, char c) {
  volatile u8 *base = (volatile u8 *)(unsigned long)h->console_addr;
  unsigned shift = h->console_shift;
  for (unsigned i = 0; i < 100000 && !(base[5u << shift] & 0x20); i++) {}
  base[0] = (u8)c;
}
