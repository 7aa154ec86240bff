/*
 * arm64 console: an ARM PL011 (PrimeCell UART) over MMIO. UARTDR at +0x00;
 * UARTFR at +0x18, bit 5 TXFF "transmit FIFO full". 32-bit accesses.
 */
#include "../common/purgatory.h"

void arch_console_putc(const struct kimage_purgatory_header *h, char c) {
  volatile u32 *base = (volatile u32 *)(unsigned long)h->console_addr;
  for (unsigned i = 0; i < 100000 && (base[0x18 / 4] & 0x20); i++) {}
  base[0] = (u8)c;
}
