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
#include "../guest.h"

/* The system calls only the referee makes, and the arch's kexec_file loader (for dynamic debug). */
#if defined(__x86_64__)
enum { SYS_syslog = 103, SYS_kexec_file_load = 320 };
#define LOADER_FILE "arch/x86/kernel/kexec-bzimage64.c"
#define LOADER_FILE2 "arch/x86/kernel/machine_kexec_64.c"
#elif defined(__aarch64__)
enum { SYS_syslog = 116, SYS_kexec_file_load = 294 };
#define LOADER_FILE "arch/arm64/kernel/kexec_image.c"
#define LOADER_FILE2 "arch/arm64/kernel/machine_kexec_file.c"
#else
#error "the referee is built for x86_64 and aarch64"
#endif

#define EINVAL 22
/* include/uapi/linux/kexec.h: #define KEXEC_FILE_DEBUG 0x00000008 */
#define KEXEC_FILE_DEBUG 0x8

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
