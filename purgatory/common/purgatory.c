/*
 * The architecture-neutral part of kimage's purgatory: the digest check.
 *
 * What the kernel's own purgatory does (arch/x86/purgatory/purgatory.c):
 *   static int verify_sha256_digest(void) {
 *     ...
 *     end = purgatory_sha_regions + ARRAY_SIZE(purgatory_sha_regions);
 *     for (ptr = purgatory_sha_regions; ptr < end; ptr++)
 *       sha256_update(&sctx, (uint8_t *)(ptr->start), ptr->len);
 *     sha256_final(&sctx, digest);
 *     if (memcmp(digest, purgatory_sha256_digest, sizeof(digest)) != 0)
 *       return 1;
 *     return 0;
 *   }
 *   void purgatory(void) {
 *     ret = verify_sha256_digest();
 *     if (ret) { for (;;) ; }   (loop forever)
 *     copy_backup_region();
 *   }
 * kimage's regions are the plan's hashed segments, in planDigest's order:
 * each segment's mem, memsz (data then zero fill, as loaded). There is no
 * backup region: the x86 kdump backup of the first 640 KiB was removed from
 * the kernel in 2019.
 */
#include "purgatory.h"
#include "sha256.h"

static const char MISMATCH[] = "kimage purgatory: digest mismatch\r\n";

static int verify_sha256_digest(const struct kimage_purgatory_header *h) {
  struct sha256_state s;
  u8 digest[32];
  u32 n = h->nr_regions;
  if (n > KIMAGE_PURGATORY_MAX_REGIONS) return 1;
  sha256_init(&s);
  for (u32 i = 0; i < n; i++) sha256_update(&s, (const u8 *)(unsigned long)h->regions[i].start, h->regions[i].len);
  sha256_final(&s, digest);
  u8 diff = 0;
  for (int i = 0; i < 32; i++) diff |= (u8)(digest[i] ^ h->sha256[i]);
  return diff != 0;
}

void purgatory_main(void) {
  const struct kimage_purgatory_header *h = &kimage_purgatory_header;
  if (!verify_sha256_digest(h)) return;
  if (h->console_kind != KIMAGE_CONSOLE_NONE)
    for (const char *p = MISMATCH; *p; p++) arch_console_putc(h, *p);
  arch_halt();
}

void *memset(void *d, int c, unsigned long n) {
  u8 *p = d;
  while (n--) *p++ = (u8)c;
  return d;
}

void *memcpy(void *d, const void *s, unsigned long n) {
  u8 *p = d;
  const u8 *q = s;
  while (n--) *p++ = *q++;
  return d;
}
