/*
 * kimage's placement referee: the /init of a first kernel's initramfs that
 * asks the running kernel itself where kexec_file_load(2) puts a kernel.
 * Freestanding (raw system calls, no libc), built at record time with
 * Debian's clang-14 + lld-14 (test/support/referee.ts). It holds no
 * placement logic: it prints what the kernel shows and what the kernel did.
 *
 * It mounts /proc, /sys and debugfs, then prints between markers:
 *   iomem              /proc/iomem
 *   memblock-memory    /sys/kernel/debug/memblock/memory
 *   memblock-reserved  /sys/kernel/debug/memblock/reserved
 *   fdt                /sys/firmware/fdt as hex (arm64)
 * turns on dynamic debug for kernel/kexec_file.c and the arch's loader
 * through /proc/dynamic_debug/control (6.1 prints "Loading segment N" only
 * through pr_debug; under lockdown=integrity debugfs refuses writes, this
 * file does not), calls
 *   kexec_file_load(/ref/kernel, /ref/initrd, cmdline_len, /ref/cmdline, KEXEC_FILE_DEBUG)
 * and, when 6.1 refuses that flag with EINVAL, again with flags 0; then
 * prints the call's result and the kernel log (syslog(2)
 * SYSLOG_ACTION_READ_ALL) between "dmesg" markers, and powers off.
 */
typedef unsigned long ul;
typedef long sl;

#if defined(__x86_64__)
enum { SYS_nanosleep = 35, SYS_read = 0, SYS_write = 1, SYS_close = 3, SYS_mmap = 9, SYS_mount = 165, SYS_reboot = 169, SYS_exit = 60, SYS_openat = 257, SYS_syslog = 103, SYS_ioctl = 16, SYS_kexec_file_load = 320 };
static sl sys6(sl n, sl a, sl b, sl c, sl d, sl e, sl f) {
  register sl r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
  sl ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
  return ret;
}
__asm__(".globl _start\n_start:\n xor %ebp, %ebp\n and $-16, %rsp\n call cmain\n hlt\n");
#define LOADER_FILE "arch/x86/kernel/kexec-bzimage64.c"
#define LOADER_FILE2 "arch/x86/kernel/machine_kexec_64.c"
#elif defined(__aarch64__)
enum { SYS_nanosleep = 101, SYS_read = 63, SYS_write = 64, SYS_close = 57, SYS_mmap = 222, SYS_mount = 40, SYS_reboot = 142, SYS_exit = 93, SYS_openat = 56, SYS_syslog = 116, SYS_ioctl = 29, SYS_kexec_file_load = 294 };
static sl sys6(sl n, sl a, sl b, sl c, sl d, sl e, sl f) {
  register sl x8 __asm__("x8") = n, x0 __asm__("x0") = a, x1 __asm__("x1") = b, x2 __asm__("x2") = c, x3 __asm__("x3") = d, x4 __asm__("x4") = e, x5 __asm__("x5") = f;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
  return x0;
}
__asm__(".globl _start\n_start:\n mov x29, xzr\n bl cmain\n 1: b 1b\n");
#define LOADER_FILE "arch/arm64/kernel/kexec_image.c"
#define LOADER_FILE2 "arch/arm64/kernel/machine_kexec_file.c"
#else
#error "unsupported architecture"
#endif

#define AT_FDCWD (-100)
#define O_RDONLY 0
#define O_WRONLY 1
#define EINVAL 22
/* include/uapi/linux/kexec.h: #define KEXEC_FILE_DEBUG 0x00000008 */
#define KEXEC_FILE_DEBUG 0x8

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
static ul slen(const char *s) {
  ul n = 0;
  while (s[n]) n++;
  return n;
}
static void puts_(const char *s) { sys6(SYS_write, out, (sl)s, (sl)slen(s), 0, 0, 0); }
static void putdec(sl v) {
  char b[24];
  int i = 23;
  int neg = v < 0;
  ul u = neg ? (ul)-v : (ul)v;
  b[i] = 0;
  do { b[--i] = (char)('0' + u % 10); u /= 10; } while (u);
  if (neg) b[--i] = '-';
  puts_(b + i);
}
static void *map(ul n) {
  sl p = sys6(SYS_mmap, 0, (sl)n, 3, 0x22, -1, 0);
  return p < 0 && p > -4096 ? 0 : (void *)p;
}
static void drain(void) {
  sys6(SYS_ioctl, out, 0x5409 /* TCSBRK */, 1, 0, 0, 0);
  struct { sl s, ns; } t = {0, 300000000};
  sys6(SYS_nanosleep, (sl)&t, 0, 0, 0, 0, 0);
}
static void power_off(void) {
  drain();
  sys6(SYS_reboot, 0xfee1deadL, 672274793L, 0x4321FEDCL, 0, 0, 0);
  sys6(SYS_exit, 0, 0, 0, 0, 0, 0);
}
static sl open_(const char *path, int flags) { return sys6(SYS_openat, AT_FDCWD, (sl)path, flags, 0, 0, 0); }

/* A whole file (at most max bytes) in fresh memory, or 0. */
static char *slurp(const char *path, ul max, ul *len) {
  sl fd = open_(path, O_RDONLY);
  if (fd < 0) return 0;
  char *buf = map(max + 1);
  if (!buf) return 0;
  ul n = 0;
  for (;;) {
    sl r = sys6(SYS_read, fd, (sl)(buf + n), (sl)(max - n), 0, 0, 0);
    if (r <= 0) break;
    n += (ul)r;
    if (n == max) break;
  }
  sys6(SYS_close, fd, 0, 0, 0, 0, 0);
  buf[n] = 0;
  *len = n;
  return buf;
}

static void section(const char *tag, const char *b, ul n, int hex) {
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

static void dump(const char *path, const char *tag, int hex) {
  ul n = 0;
  char *b = slurp(path, 4 << 20, &n);
  if (b) section(tag, b, n, hex);
}

static void control(const char *query) {
  sl fd = open_("/proc/dynamic_debug/control", O_WRONLY);
  if (fd < 0) fd = open_("/sys/kernel/debug/dynamic_debug/control", O_WRONLY);
  if (fd < 0) return;
  sl r = sys6(SYS_write, fd, (sl)query, (sl)slen(query), 0, 0, 0);
  puts_("kimage referee: dynamic_debug '");
  puts_(query);
  puts_("': ");
  putdec(r);
  puts_("\n");
  sys6(SYS_close, fd, 0, 0, 0, 0, 0);
}

void cmain(void) {
  sys6(SYS_mount, (sl) "devtmpfs", (sl) "/dev", (sl) "devtmpfs", 0, 0, 0);
  sl fd = open_("/dev/console", O_WRONLY);
  if (fd >= 0) out = (int)fd;
  sys6(SYS_mount, (sl) "proc", (sl) "/proc", (sl) "proc", 0, 0, 0);
  sys6(SYS_mount, (sl) "sysfs", (sl) "/sys", (sl) "sysfs", 0, 0, 0);
  sys6(SYS_mount, (sl) "debugfs", (sl) "/sys/kernel/debug", (sl) "debugfs", 0, 0, 0);
  dump("/proc/iomem", "iomem", 0);
  dump("/sys/kernel/debug/memblock/memory", "memblock-memory", 0);
  dump("/sys/kernel/debug/memblock/reserved", "memblock-reserved", 0);
  dump("/sys/firmware/fdt", "fdt", 1);
  control("file kernel/kexec_file.c +p");
  control("file " LOADER_FILE " +p");
  control("file " LOADER_FILE2 " +p");
  ul n = 0;
  char *cmdline = slurp("/ref/cmdline", 4096, &n);
  if (!cmdline) {
    puts_("kimage referee: no /ref/cmdline\n");
    power_off();
  }
  while (n > 0 && (cmdline[n - 1] == '\n' || cmdline[n - 1] == 0)) cmdline[--n] = 0;
  sl k = open_("/ref/kernel", O_RDONLY);
  sl i = open_("/ref/initrd", O_RDONLY);
  ul flags = KEXEC_FILE_DEBUG;
  /* kexec_file_load(int kernel_fd, int initrd_fd, unsigned long cmdline_len, const char *cmdline, unsigned long flags): cmdline_len counts the NUL. */
  sl r = sys6(SYS_kexec_file_load, k, i, (sl)(n + 1), (sl)cmdline, (sl)flags, 0);
  if (r == -EINVAL) {
    flags = 0;
    r = sys6(SYS_kexec_file_load, k, i, (sl)(n + 1), (sl)cmdline, (sl)flags, 0);
  }
  puts_("KIMAGE-REFEREE flags ");
  putdec((sl)flags);
  puts_(" result ");
  putdec(r);
  puts_("\n");
  /* syslog(SYSLOG_ACTION_READ_ALL = 3, buf, len) */
  ul cap = 1 << 20;
  char *log = map(cap);
  if (log) {
    sl got = sys6(SYS_syslog, 3, (sl)log, (sl)cap, 0, 0, 0);
    if (got > 0) section("dmesg", log, (ul)got, 0);
  }
  power_off();
}
