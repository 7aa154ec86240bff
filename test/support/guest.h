/*
 * What kimage's freestanding guest programs share (test/support/kexec-helper/helper.c,
 * test/support/referee-helper/referee.c): raw system calls for each architecture they are
 * built for (no libc), the program entry, and a few console helpers. Each program adds the
 * system calls only it makes.
 */
#ifndef KIMAGE_GUEST_H
#define KIMAGE_GUEST_H

typedef unsigned long ul;
typedef long sl;

#if defined(__x86_64__)
enum { SYS_ioctl = 16, SYS_nanosleep = 35, SYS_pread64 = 17, SYS_read = 0, SYS_write = 1, SYS_close = 3, SYS_mmap = 9, SYS_mount = 165, SYS_reboot = 169, SYS_kexec_load = 246, SYS_exit = 60, SYS_openat = 257 };
static sl sys6(sl n, sl a, sl b, sl c, sl d, sl e, sl f) {
  register sl r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
  sl ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
  return ret;
}
__asm__(".globl _start\n_start:\n xor %ebp, %ebp\n and $-16, %rsp\n call cmain\n hlt\n");
#elif defined(__aarch64__)
enum { SYS_ioctl = 29, SYS_nanosleep = 101, SYS_pread64 = 67, SYS_read = 63, SYS_write = 64, SYS_close = 57, SYS_mmap = 222, SYS_mount = 40, SYS_reboot = 142, SYS_kexec_load = 104, SYS_exit = 93, SYS_openat = 56 };
static sl sys6(sl n, sl a, sl b, sl c, sl d, sl e, sl f) {
  register sl x8 __asm__("x8") = n, x0 __asm__("x0") = a, x1 __asm__("x1") = b, x2 __asm__("x2") = c, x3 __asm__("x3") = d, x4 __asm__("x4") = e, x5 __asm__("x5") = f;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
  return x0;
}
__asm__(".globl _start\n_start:\n mov x29, xzr\n bl cmain\n 1: b 1b\n");
#elif defined(__riscv)
enum { SYS_ioctl = 29, SYS_nanosleep = 101, SYS_pread64 = 67, SYS_read = 63, SYS_write = 64, SYS_close = 57, SYS_mmap = 222, SYS_mount = 40, SYS_reboot = 142, SYS_kexec_load = 104, SYS_exit = 93, SYS_openat = 56 };
static sl sys6(sl n, sl a, sl b, sl c, sl d, sl e, sl f) {
  register sl a7 __asm__("a7") = n, a0 __asm__("a0") = a, a1 __asm__("a1") = b, a2 __asm__("a2") = c, a3 __asm__("a3") = d, a4 __asm__("a4") = e, a5 __asm__("a5") = f;
  __asm__ volatile("ecall" : "+r"(a0) : "r"(a7), "r"(a1), "r"(a2), "r"(a3), "r"(a4), "r"(a5) : "memory");
  return a0;
}
__asm__(".globl _start\n_start:\n .option push\n .option norelax\n call cmain\n .option pop\n 1: j 1b\n");
#elif defined(__s390x__)
/* arch/s390/kernel/syscalls/syscall.tbl (64-bit); mmap (90) is old_mmap, which takes a pointer to its six arguments. */
enum { SYS_ioctl = 54, SYS_nanosleep = 162, SYS_pread64 = 180, SYS_read = 3, SYS_write = 4, SYS_close = 6, SYS_mmap = 90, SYS_mount = 21, SYS_reboot = 88, SYS_kexec_load = 277, SYS_exit = 1, SYS_openat = 288 };
static sl sys6(sl n, sl a, sl b, sl c, sl d, sl e, sl f) {
  sl args[6] = {a, b, c, d, e, f};
  if (n == SYS_mmap) a = (sl)args;
  register sl r1 __asm__("r1") = n, r2 __asm__("r2") = a, r3 __asm__("r3") = b, r4 __asm__("r4") = c, r5 __asm__("r5") = d, r6 __asm__("r6") = e, r7 __asm__("r7") = f;
  __asm__ volatile("svc 0" : "+r"(r2) : "r"(r1), "r"(r3), "r"(r4), "r"(r5), "r"(r6), "r"(r7), "m"(args) : "memory");
  return r2;
}
__asm__(".globl _start\n_start:\n aghi %r15,-160\n xc 0(8,%r15),0(%r15)\n brasl %r14,cmain\n 1: j 1b\n");
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
/* arch/powerpc/kernel/syscalls/syscall.tbl; "sc" with r0 = the number, r3..r8 the arguments; the kernel sets CR0.SO on
 * an error and returns the positive errno in r3 (negated here, as the other arches return it). */
enum { SYS_ioctl = 54, SYS_nanosleep = 162, SYS_pread64 = 179, SYS_read = 3, SYS_write = 4, SYS_close = 6, SYS_mmap = 90, SYS_mount = 21, SYS_reboot = 88, SYS_kexec_load = 268, SYS_exit = 1, SYS_openat = 286 };
#define TCSBRK_ 0x2000741d /* arch/powerpc/include/uapi/asm/ioctls.h: _IO('t', 29) */
static sl sys6(sl n, sl a, sl b, sl c, sl d, sl e, sl f) {
  register sl r0 __asm__("r0") = n, r3 __asm__("r3") = a, r4 __asm__("r4") = b, r5 __asm__("r5") = c, r6 __asm__("r6") = d, r7 __asm__("r7") = e, r8 __asm__("r8") = f;
  __asm__ volatile("sc\n bns+ 1f\n neg 3, 3\n1:" : "+r"(r0), "+r"(r3), "+r"(r4), "+r"(r5), "+r"(r6), "+r"(r7), "+r"(r8) : : "r9", "r10", "r11", "r12", "cr0", "ctr", "xer", "memory");
  return r3;
}
/* ELFv2: r2 = .TOC., found from the program counter; a 16-byte aligned stack with a null back chain. */
__asm__(".globl _start\n_start:\n bcl 20, 31, 1f\n1: mflr 2\n addis 2, 2, (.TOC. - 1b)@ha\n addi 2, 2, (.TOC. - 1b)@l\n clrrdi 1, 1, 4\n li 0, 0\n stdu 0, -32(1)\n bl cmain\n nop\n2: b 2b\n");
#else
#error "unsupported architecture"
#endif

#ifndef TCSBRK_
#define TCSBRK_ 0x5409 /* include/uapi/asm-generic/ioctls.h */
#endif
#define AT_FDCWD (-100)
#define O_RDONLY 0
#define O_WRONLY 1
/* include/uapi/linux/reboot.h */
#define LINUX_REBOOT_MAGIC1 0xfee1deadL
#define LINUX_REBOOT_MAGIC2 672274793L
#define LINUX_REBOOT_CMD_POWER_OFF 0x4321FEDCL
#define LINUX_REBOOT_CMD_KEXEC 0x45584543L

static int out = 1;

void *memset(void *d, int c, ul n) {
  unsigned char *p = d;
  while (n--) *p++ = (unsigned char)c;
  return d;
}
void *memcpy(void *d, const void *s, ul n) {
  unsigned char *p = d;
  const unsigned char *q = s;
  while (n--) *p++ = *q++;
  return d;
}

static inline ul slen(const char *s) {
  ul n = 0;
  while (s[n]) n++;
  return n;
}
static inline void puts_(const char *s) { sys6(SYS_write, out, (sl)s, (sl)slen(s), 0, 0, 0); }
static inline void puthex(ul v) {
  char b[19] = "0x";
  int n = 0;
  for (int i = 60; i >= 0; i -= 4) {
    int d = (v >> i) & 15;
    if (d || n || i == 0) b[2 + n++] = "0123456789abcdef"[d];
  }
  b[2 + n] = 0;
  puts_(b);
}
static inline void putdec(sl v) {
  char b[24];
  int i = 23;
  int neg = v < 0;
  ul u = neg ? (ul)-v : (ul)v;
  b[i] = 0;
  do { b[--i] = (char)('0' + u % 10); u /= 10; } while (u);
  if (neg) b[--i] = '-';
  puts_(b + i);
}

static inline void *map(ul n) {
  /* mmap(NULL, n, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) */
  sl p = sys6(SYS_mmap, 0, (sl)n, 3, 0x22, -1, 0);
  return p < 0 && p > -4096 ? 0 : (void *)p;
}

/* Lets the console drain before the kernel stops printing our output: tcdrain (ioctl TCSBRK 1), then 0.3 s. */
static inline void drain(void) {
  sys6(SYS_ioctl, out, TCSBRK_, 1, 0, 0, 0);
  struct { sl s, ns; } t = {0, 300000000};
  sys6(SYS_nanosleep, (sl)&t, 0, 0, 0, 0, 0);
}

static inline void power_off(void) {
  drain();
  sys6(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_POWER_OFF, 0, 0, 0);
  sys6(SYS_exit, 0, 0, 0, 0, 0, 0);
}

static inline sl open_(const char *path, int flags) { return sys6(SYS_openat, AT_FDCWD, (sl)path, flags, 0, 0, 0); }

/* Writes n bytes of b between "KIMAGE-BEGIN tag" and "KIMAGE-END tag" lines, as is or as hex (32 bytes a line). */
static inline void section(const char *tag, const char *b, ul n, int hex) {
  puts_("KIMAGE-BEGIN ");
  puts_(tag);
  puts_("\n");
  if (!hex) sys6(SYS_write, out, (sl)b, (sl)n, 0, 0, 0);
  else {
    char line[65];
    for (ul i = 0; i < n; i += 32) {
      int k = 0;
      for (ul j = i; j < i + 32 && j < n; j++) {
        line[k++] = "0123456789abcdef"[(unsigned char)b[j] >> 4];
        line[k++] = "0123456789abcdef"[b[j] & 15];
      }
      line[k++] = '\n';
      sys6(SYS_write, out, (sl)line, k, 0, 0, 0);
    }
  }
  puts_("KIMAGE-END ");
  puts_(tag);
  puts_("\n");
}

#endif
