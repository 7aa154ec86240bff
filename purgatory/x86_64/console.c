/*
 * x86 console: a 16550 UART on I/O ports (COM1 is 0x3f8). THR at +0; LSR at
 * +5, bit 5 THRE "transmitter holding register empty".
 */
#include "../common/purgatory.h"

static inline void outb(u8 v, unsigned short port) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(unsigned short port) {
  u8 v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

void arch_console_putc(const struct kimage_purgatory_header *h, char c) {
  unsigned short port = (unsigned short)h->console_addr;
  for (unsigned i = 0; i < 100000 && !(inb(port + 5) & 0x20); i++) {}
  outb((u8)c, port);
}
