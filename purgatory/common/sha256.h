/* SHA-256 (FIPS 180-4), freestanding: the purgatory's only cryptography. */
#ifndef KIMAGE_SHA256_H
#define KIMAGE_SHA256_H
#include "purgatory.h"

struct sha256_state {
  u32 h[8];
  u64 count;   /* bytes hashed so far */
  u8 buf[64];  /* a partial block */
};

void sha256_init(struct sha256_state *s);
void sha256_update(struct sha256_state *s, const u8 *p, u64 len);
void sha256_final(struct sha256_state *s, u8 out[32]);

#endif
