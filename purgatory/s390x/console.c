/*
 * s390x console: the SCLP's ASCII console (the VT220 event, type 0x1a, that
 * QEMU's -serial "sclpconsole" and the kernel's sclp_vt220 driver use),
 * one "Write Event Data" service call per line, after one "Write Event Mask"
 * that says this program sends VT220 events, as the kernel's early console
 * does (drivers/s390/char/sclp_early_core.c: sclp_early_setup sets the
 * masks with sclp_early_set_event_mask, then sclp_early_print_vt220 writes
 * "sccb->msg.header.type = EVTYP_VT220MSG; sclp_early_cmd(SCLP_CMDW_WRITE_EVENT_DATA, sccb);").
 *
 * drivers/s390/char/sclp.h: "#define SCLP_CMDW_WRITE_EVENT_DATA 0x00760005",
 * "#define SCLP_CMDW_WRITE_EVENT_MASK 0x00780005", "struct sccb_header { u16
 * length; u8 function_code; u8 control_mask[3]; u16 response_code; }",
 * "struct evbuf_header { u16 length; u8 type; u8 flags; u16 _reserved; }",
 * "struct init_sccb { struct sccb_header header; u16 _reserved; u16
 * mask_length; u8 masks[...]; }" (receive, send, sclp_receive, sclp_send
 * masks of mask_length bytes each); "#define EVTYP_VT220MSG 0x1A". A 4-byte
 * mask (SCLP_MASK_SIZE_COMPAT) is accepted by every SCLP; in it the VT220
 * bit is 0x80000000 >> (0x1a - 1) = 0x00000040.
 *
 * The SCCB must be 8-byte aligned, below 2 GiB, outside the first 8 KiB and
 * inside one 4 KiB page: it is 256 bytes aligned to 256 in the blob, which
 * the plan loads page-aligned below 2 GiB.
 */
#include "../common/purgatory.h"

typedef unsigned short u16;

#define SCLP_CMDW_WRITE_EVENT_DATA 0x00760005u
#define SCLP_CMDW_WRITE_EVENT_MASK 0x00780005u
#define EVTYP_VT220MSG 0x1a
#define EVTYP_VT220MSG_MASK 0x00000040u
#define SCCB_SIZE 256
#define HEADERS 14 /* sccb_header + evbuf_header */

struct sccb_header {
  u16 length;
  u8 function_code;
  u8 control_mask[3];
  u16 response_code;
} __attribute__((packed));

union sccb {
  struct sccb_header h;
  struct {
    struct sccb_header h;
    u16 reserved;
    u16 mask_length;
    u32 receive_mask, send_mask, sclp_receive_mask, sclp_send_mask;
  } __attribute__((packed)) mask;
  struct {
    struct sccb_header h;
    u16 ev_length;
    u8 ev_type;
    u8 ev_flags;
    u16 ev_reserved;
    char data[SCCB_SIZE - HEADERS];
  } __attribute__((packed)) vt220;
  u8 bytes[SCCB_SIZE];
} __attribute__((aligned(256)));

static union sccb sccb;
static char line[SCCB_SIZE - HEADERS];
static unsigned pending;
static int masked;

/* servc (B220 RRE) with command word `cmd` on the SCCB; waits for its response code. */
static void service_call(u32 cmd) {
  for (unsigned tries = 0; tries < 100000; tries++) {
    register unsigned long r1 __asm__("r1") = cmd;
    register unsigned long r2 __asm__("r2") = (unsigned long)&sccb;
    int cc;
    /* servc %r1,%r2: cc 0 started, 2 busy, 3 not operational */
    __asm__ volatile(".long 0xb2200012\n ipm %0\n srl %0,28" : "=d"(cc) : "d"(r1), "d"(r2) : "cc", "memory");
    if (cc != 2) break;
  }
  /* the SCLP writes the response code when it is done (QEMU: before servc returns) */
  for (unsigned i = 0; i < 1000000 && ((volatile union sccb *)&sccb)->h.response_code == 0; i++) {}
}

static void flush(void) {
  if (!masked) {
    memset(&sccb, 0, sizeof sccb);
    sccb.mask.h.length = sizeof sccb.mask;
    sccb.mask.mask_length = 4;
    sccb.mask.send_mask = EVTYP_VT220MSG_MASK;
    service_call(SCLP_CMDW_WRITE_EVENT_MASK);
    masked = 1;
  }
  memset(&sccb, 0, sizeof sccb);
  sccb.vt220.h.length = (u16)(HEADERS + pending);
  sccb.vt220.ev_length = (u16)(HEADERS - sizeof(struct sccb_header) + pending);
  sccb.vt220.ev_type = EVTYP_VT220MSG;
  memcpy(sccb.vt220.data, line, pending);
  service_call(SCLP_CMDW_WRITE_EVENT_DATA);
  pending = 0;
}

void arch_console_putc(const struct kimage_purgatory_header *h, char c) {
  (void)h;
  line[pending++] = c;
  if (c == '\n' || pending == sizeof line) flush();
}
