/*
 * SHA-256 as FIPS 180-4 section 6.2 defines it. Bytes are read one at a time
 * and words are assembled big-endian by hand, so no access is ever unaligned
 * (arm64 runs this with the MMU off, where an unaligned access faults).
 */
#include "sha256.h"

/* FIPS 180-4 4.2.2: "the first thirty-two bits of the fractional parts of the cube roots of the first sixty-four prime numbers" */
static const u32 K[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline u32 ror(u32 x, unsigned n) { return (x >> n) | (x << (32 - n)); }

static void compress(u32 h[8], const u8 *p) {
  u32 w[64];
  for (int t = 0; t < 16; t++) w[t] = (u32)p[4 * t] << 24 | (u32)p[4 * t + 1] << 16 | (u32)p[4 * t + 2] << 8 | p[4 * t + 3];
  /* FIPS 180-4 6.2.2 step 1: W_t = sigma1(W_t-2) + W_t-7 + sigma0(W_t-15) + W_t-16 */
  for (int t = 16; t < 64; t++) {
    u32 s0 = ror(w[t - 15], 7) ^ ror(w[t - 15], 18) ^ (w[t - 15] >> 3);
    u32 s1 = ror(w[t - 2], 17) ^ ror(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = s1 + w[t - 7] + s0 + w[t - 16];
  }
  u32 a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (int t = 0; t < 64; t++) {
    u32 t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t];
    u32 t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void sha256_init(struct sha256_state *s) {
  /* FIPS 180-4 5.3.3 */
  static const u32 H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  for (int i = 0; i < 8; i++) s->h[i] = H0[i];
  s->count = 0;
}

void sha256_update(struct sha256_state *s, const u8 *p, u64 len) {
  unsigned fill = (unsigned)(s->count & 63);
  s->count += len;
  if (fill) {
    while (len && fill < 64) { s->buf[fill++] = *p++; len--; }
    if (fill < 64) return;
    compress(s->h, s->buf);
  }
  for (; len >= 64; len -= 64, p += 64) compress(s->h, p);
  for (unsigned i = 0; i < len; i++) s->buf[i] = p[i];
}

void sha256_final(struct sha256_state *s, u8 out[32]) {
  /* FIPS 180-4 5.1.1: append 1, then zeros to 448 mod 512 bits, then the 64-bit big-endian length in bits */
  u64 bits = s->count * 8;
  unsigned fill = (unsigned)(s->count & 63);
  s->buf[fill++] = 0x80;
  if (fill > 56) {
    while (fill < 64) s->buf[fill++] = 0;
    compress(s->h, s->buf);
    fill = 0;
  }
  while (fill < 56) s->buf[fill++] = 0;
  for (int i = 0; i < 8; i++) s->buf[56 + i] = (u8)(bits >> (56 - 8 * i));
  compress(s->h, s->buf);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (u8)(s->h[i] >> 24);
    out[4 * i + 1] = (u8)(s->h[i] >> 16);
    out[4 * i + 2] = (u8)(s->h[i] >> 8);
    out[4 * i + 3] = (u8)s->h[i];
  }
}
