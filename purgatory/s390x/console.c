/*
 * s390x console: the SCLP's ASCII console (the VT220 event, type 0x1a, that
 * QEMU's -serial "sclpconsole" and the kernel's sclp_vt220 driver use),
 * written with one "Write Event Data" service call per line.
 *
 * drivers/s390/char/sclp.h: "#define SCLP_CMDW_WRITE_EVENT_DATA 0x00760005",
 * "struct sccb_header { u16 length; u8 function_code; u8 control_mask[3];
 * u16 response_code; }", "struct evbuf_header { u16 length; u8 type; u8
 * flags; u16 _reserved; }"; sclp_vt220.c: "#define SCLP_VT220_EVENT_TYPE
 * 0x1A". The SCCB must be 8-byte aligned, below 2 GiB, outside the first
 * 8 KiB and inside one 4 KiB page: it is 256 bytes aligned to 256 in the
 * blob, which the plan loads page-aligned below 2 GiB.
 */
#include "../common/purgatory.h"

typedef unsigned short u16;

#define SCLP_CMDW_WRITE_EVENT_DATA 0x00760005u
#define SCLP_VT220_EVENT_TYPE 0x1a
#define SCCB_SIZE 256

struct write_sccb {
  u16 length;
  u8 function_code;
  u8 control_mask[3];
  u16 response_code;
  u16 ev_length;
  u8 ev_type;
  u8 ev_flags;
  u16 ev_reserved;
  char data[SCCB_SIZE - 14];
} __attribute__((packed, aligned(256)));

static struct write_sccb sccb;
static unsigned pending;

static void flush(void) {
  memset(&sccb, 0, 14);
  sccb.length = (u16)(14 + pending);
  sccb.ev_length = (u16)(6 + pending);
  sccb.ev_type = SCLP_VT220_EVENT_TYPE;
  for (unsigned tries = 0; tries < 100000; tries++) {
    register unsigned long cmd __asm__("r1") = SCLP_CMDW_WRITE_EVENT_DATA;
    register unsigned long addr __asm__("r2") = (unsigned long)&sccb;
    int cc;
    /* servc %r1,%r2 (B220 RRE): cc 0 started, 2 busy, 3 not operational */
    __asm__ volatile(".long 0xb2200012\n ipm %0\n srl %0,28" : "=d"(cc) : "d"(cmd), "d"(addr) : "cc", "memory");
    if (cc != 2) break;
  }
  /* the SCLP writes the response code when it is done (QEMU: before servc returns) */
  for (unsigned i = 0; i < 1000000 && ((volatile struct write_sccb *)&sccb)->response_code == 0; i++) {}
  pending = 0;
}

void arch_console_putc(const struct kimage_purgatory_header *h, char c) {
  (void)h;
  sccb.data[pending++] = c;
  if (c == '\n' || pending == sizeof sccb.data) flush();
}
