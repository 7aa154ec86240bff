/*
 * ppc64 console: the pseries hypervisor's virtual terminal. H_PUT_TERM_CHAR
 * (include/asm/hvcall.h: "#define H_PUT_TERM_CHAR 0x58") takes r4 = the
 * terminal number, r5 = the byte count, r6/r7 = up to 16 bytes, first byte
 * in the most significant byte of r6 (drivers/tty/hvc/hvc_vio.c
 * hvterm_raw_put_chars → hvc_put_chars: "lbuf[0] = be64_to_cpu(((__be64
 * *)buf)[0]); ... plpar_hcall_norets(H_PUT_TERM_CHAR, vtermno, count,
 * lbuf[0], lbuf[1])"). The terminal number is the vty node's `reg`
 * (hvc_vio.c: "termno = of_get_property(np, "reg", NULL)"); QEMU's pseries
 * vty is 0x71000000 and it also accepts 0 ("Hack for kernel early debug,
 * which always specifies reg==0", hw/ppc/spapr_vio.c vty_lookup).
 * The hypervisor call is "sc 1" (hvcall.S: HVSC).
 */
#include "../common/purgatory.h"

static long h_put_term_char(u64 termno, u64 c) {
  register u64 r3 __asm__("r3") = 0x58;
  register u64 r4 __asm__("r4") = termno;
  register u64 r5 __asm__("r5") = 1;
  register u64 r6 __asm__("r6") = c << 56;
  register u64 r7 __asm__("r7") = 0;
  __asm__ volatile("sc 1" : "+r"(r3), "+r"(r4), "+r"(r5), "+r"(r6), "+r"(r7) : : "r0", "r8", "r9", "r10", "r11", "r12", "ctr", "xer", "cr0", "memory");
  return (long)r3;
}

void arch_console_putc(const struct kimage_purgatory_header *h, char c) {
  /* H_BUSY (1) or a long-busy code: try again a bounded number of times. */
  for (unsigned i = 0; i < 1000 && h_put_term_char(h->console_addr, (u8)c) != 0; i++) {}
}
