/*
 * kimage's kexec_load(2) test helper: the /init of a first kernel's
 * initramfs, and of the plan's initrd in the second kernel. Freestanding
 * (raw system calls, no libc), built at test time with Debian's clang-14 +
 * lld-14 for x86_64, aarch64, riscv64 and ppc64le (s390x: clang-14 and binutils'
 * s390x-linux-gnu-ld, as lld 14 cannot link s390x). It holds no placement logic: it
 * copies plan.json's kexec_load arguments into the call.
 *
 * The mode comes from /proc/cmdline:
 *   kimage.mode=record  prints /proc/iomem (and /sys/firmware/fdt and, on
 *                       powerpc, /chosen/linux,kernel-end as hex) between
 *                       markers, then powers off;
 *   kimage.mode=kexec   prints /proc/iomem the same way, reads
 *                       /plan/plan.json ("kexec_load": entry, flags, and each
 *                       segment's buf file, bufsz, mem, memsz), calls
 *                       kexec_load(entry, nr_segments, segments, flags) and
 *                       reboot(LINUX_REBOOT_CMD_KEXEC);
 *   kimage.mode=second  (the plan's command line) prints a marker and its
 *                       command line, then powers off;
 *   kimage.mode=crash   as kexec, but the plan is a crash plan (its flags
 *                       carry KEXEC_ON_CRASH): after loading it writes
 *                       "KIMAGE-MARKER:<kimage.word>" at the start of a page
 *                       of its own memory, prints that page's physical
 *                       address (/proc/self/pagemap) and crashes the kernel
 *                       (echo c > /proc/sysrq-trigger);
 *   kimage.mode=vmcore  (the crash plan's command line) prints /proc/vmcore's
 *                       program headers and the physical address of every
 *                       page that starts with "KIMAGE-MARKER:<kimage.word>",
 *                       then powers off.
 * record also prints the crash inputs when the kernel has a crash region:
 * /sys/kernel/vmcoreinfo and cpu0's crash_notes and crash_notes_size.
 */
#include "../guest.h"

/* include/uapi/linux/kexec.h */
struct kexec_segment {
  const void *buf;
  ul bufsz;
  const void *mem;
  ul memsz;
};

static void fail(const char *what, sl err) {
  puts_("kimage helper: ");
  puts_(what);
  puts_(" failed: ");
  putdec(err);
  puts_("\n");
  power_off();
}

/* Reads a whole file (of at most max bytes) into fresh memory; *len gets its size. */
static char *slurp(const char *path, ul max, ul *len) {
  sl fd = open_(path, O_RDONLY);
  if (fd < 0) fail(path, fd);
  char *buf = map(max + 1);
  if (!buf) fail("mmap", -12);
  ul n = 0;
  for (;;) {
    sl r = sys6(SYS_read, fd, (sl)(buf + n), (sl)(max - n), 0, 0, 0);
    if (r < 0) fail(path, r);
    if (r == 0) break;
    n += (ul)r;
    if (n == max) fail("file larger than expected", (sl)n);
  }
  sys6(SYS_close, fd, 0, 0, 0, 0, 0);
  buf[n] = 0;
  *len = n;
  return buf;
}

static void dump(const char *path, const char *tag, int hex) {
  ul n;
  char *b = slurp(path, 4 << 20, &n);
  section(tag, b, n, hex);
}

static const char *find(const char *s, const char *needle) {
  ul m = slen(needle);
  for (; *s; s++) {
    ul i = 0;
    while (i < m && s[i] == needle[i]) i++;
    if (i == m) return s;
  }
  return 0;
}

/* The string value of "key": "..." after p; copies it to dst. Returns the position after it. */
static const char *jstr(const char *p, const char *key, char *dst, ul cap) {
  char k[32] = "\"";
  ul kl = slen(key);
  memcpy(k + 1, key, kl);
  memcpy(k + 1 + kl, "\": \"", 5);
  p = find(p, k);
  if (!p) fail("plan.json: missing key", 0);
  p += slen(k);
  ul i = 0;
  while (*p && *p != '"' && i + 1 < cap) dst[i++] = *p++;
  dst[i] = 0;
  return p;
}

static ul hexval(const char *s) {
  ul v = 0;
  if (s[0] == '0' && s[1] == 'x') s += 2;
  for (; *s; s++) v = v * 16 + (ul)(*s <= '9' ? *s - '0' : (*s | 32) - 'a' + 10);
  return v;
}

static int starts(const char *s, const char *p) {
  while (*p)
    if (*s++ != *p++) return 0;
  return 1;
}

/* The value of "kimage.word=" on the command line (up to a space), or "". */
static void word_of(const char *cmdline, char *dst, ul cap) {
  const char *p = find(cmdline, "kimage.word=");
  ul i = 0;
  if (p)
    for (p += 12; *p && *p != ' ' && *p != '\n' && i + 1 < cap; p++) dst[i++] = *p;
  dst[i] = 0;
}

static void crash_now(const char *cmdline) {
  char word[64], marker[128] = "KIMAGE-MARKER:";
  word_of(cmdline, word, sizeof word);
  memcpy(marker + 14, word, slen(word) + 1);
  char *page = map(4096);
  if (!page) fail("mmap", -12);
  memcpy(page, marker, slen(marker) + 1);
  /* Documentation/admin-guide/mm/pagemap.rst: one u64 per virtual page; bits 0-54 the PFN, bit 63 present. */
  sl fd = open_("/proc/self/pagemap", O_RDONLY);
  if (fd < 0) fail("/proc/self/pagemap", fd);
  ul entry = 0;
  sl r = sys6(SYS_pread64, fd, (sl)&entry, 8, (sl)(((ul)page / 4096) * 8), 0, 0);
  if (r != 8) fail("pagemap read", r);
  puts_("KIMAGE-MARKER-PA ");
  puthex((entry & ((1UL << 55) - 1)) * 4096);
  puts_(" present ");
  putdec((sl)(entry >> 63));
  puts_("\n");
  drain();
  sl t = open_("/proc/sysrq-trigger", O_WRONLY);
  if (t < 0) fail("/proc/sysrq-trigger", t);
  sys6(SYS_write, t, (sl) "c", 1, 0, 0, 0);
  fail("echo c > /proc/sysrq-trigger", 0);
}

/* ELF64 (include/uapi/linux/elf.h) */
struct elf64_hdr { unsigned char e_ident[16]; unsigned short e_type, e_machine; unsigned e_version; ul e_entry, e_phoff, e_shoff; unsigned e_flags; unsigned short e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx; };
struct elf64_phdr { unsigned p_type, p_flags; ul p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align; };

static void vmcore(const char *cmdline) {
  char word[64], marker[128] = "KIMAGE-MARKER:";
  word_of(cmdline, word, sizeof word);
  memcpy(marker + 14, word, slen(word) + 1);
  ul ml = slen(marker);
  sl fd = open_("/proc/vmcore", O_RDONLY);
  if (fd < 0) fail("/proc/vmcore", fd);
  struct elf64_hdr eh;
  if (sys6(SYS_pread64, fd, (sl)&eh, sizeof eh, 0, 0, 0) != (sl)sizeof eh) fail("vmcore ELF header", 0);
  static struct elf64_phdr ph[64];
  ul n = eh.e_phnum < 64 ? eh.e_phnum : 64;
  if (sys6(SYS_pread64, fd, (sl)ph, (sl)(n * sizeof ph[0]), (sl)eh.e_phoff, 0, 0) != (sl)(n * sizeof ph[0])) fail("vmcore program headers", 0);
  for (ul i = 0; i < n; i++) {
    puts_("KIMAGE-PHDR type ");
    putdec(ph[i].p_type);
    puts_(" offset ");
    puthex(ph[i].p_offset);
    puts_(" paddr ");
    puthex(ph[i].p_paddr);
    puts_(" filesz ");
    puthex(ph[i].p_filesz);
    puts_(" memsz ");
    puthex(ph[i].p_memsz);
    puts_("\n");
  }
  const ul chunk = 1 << 20;
  char *buf = map(chunk);
  if (!buf) fail("mmap", -12);
  for (ul i = 0; i < n; i++) {
    if (ph[i].p_type != 1) continue; /* PT_LOAD */
    for (ul off = 0; off < ph[i].p_filesz; off += chunk) {
      ul len = ph[i].p_filesz - off < chunk ? ph[i].p_filesz - off : chunk;
      sl r = sys6(SYS_pread64, fd, (sl)buf, (sl)len, (sl)(ph[i].p_offset + off), 0, 0);
      if (r < 0) continue;
      for (ul pg = (4096 - (ph[i].p_paddr & 4095)) & 4095; pg + ml <= (ul)r; pg += 4096) {
        if (buf[pg] == 'K' && starts(buf + pg, marker)) {
          puts_("KIMAGE-VMCORE-MARKER ");
          puthex(ph[i].p_paddr + off + pg);
          puts_("\n");
        }
      }
    }
  }
  puts_("KIMAGE-VMCORE-DONE\n");
  power_off();
}

static void kexec(const char *cmdline) {
  ul n;
  const char *json = slurp("/plan/plan.json", 1 << 20, &n);
  const char *p = find(json, "\"kexec_load\"");
  if (!p) fail("plan.json has no kexec_load", 0);
  char v[256];
  p = jstr(p, "entry", v, sizeof v);
  ul entry = hexval(v);
  p = jstr(p, "flags", v, sizeof v);
  ul flags = hexval(v);
  static struct kexec_segment seg[16];
  ul nr = 0;
  const char *q;
  while (nr < 16 && (q = find(p, "\"buf\": \"")) != 0) {
    char file[200] = "/plan/";
    q = jstr(q, "buf", file + 6, sizeof file - 6);
    q = jstr(q, "bufsz", v, sizeof v);
    ul bufsz = hexval(v);
    q = jstr(q, "mem", v, sizeof v);
    ul mem = hexval(v);
    q = jstr(q, "memsz", v, sizeof v);
    ul memsz = hexval(v);
    ul got;
    const char *buf = slurp(file, bufsz + 1, &got);
    if (got != bufsz) fail("segment file size differs from bufsz", (sl)got);
    seg[nr].buf = buf;
    seg[nr].bufsz = bufsz;
    seg[nr].mem = (const void *)mem;
    seg[nr].memsz = memsz;
    puts_("kimage helper: segment ");
    puts_(file);
    puts_(" bufsz ");
    puthex(bufsz);
    puts_(" mem ");
    puthex(mem);
    puts_(" memsz ");
    puthex(memsz);
    puts_("\n");
    nr++;
    p = q;
  }
  puts_("kimage helper: kexec_load(entry ");
  puthex(entry);
  puts_(", ");
  putdec((sl)nr);
  puts_(" segments, flags ");
  puthex(flags);
  puts_(")\n");
  sl r = sys6(SYS_kexec_load, (sl)entry, (sl)nr, (sl)seg, (sl)flags, 0, 0);
  if (r != 0) fail("kexec_load", r);
  if (find(cmdline, "kimage.mode=crash")) {
    puts_("kimage helper: loaded the crash kernel; echo c > /proc/sysrq-trigger\n");
    crash_now(cmdline);
  }
  puts_("kimage helper: loaded; reboot(LINUX_REBOOT_CMD_KEXEC)\n");
  drain();
  r = sys6(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_KEXEC, 0, 0, 0);
  fail("reboot(LINUX_REBOOT_CMD_KEXEC)", r);
}

void cmain(void) {
  sys6(SYS_mount, (sl) "devtmpfs", (sl) "/dev", (sl) "devtmpfs", 0, 0, 0);
  sl fd = sys6(SYS_openat, AT_FDCWD, (sl) "/dev/console", O_WRONLY, 0, 0, 0);
  if (fd >= 0) out = (int)fd;
  sys6(SYS_mount, (sl) "proc", (sl) "/proc", (sl) "proc", 0, 0, 0);
  sys6(SYS_mount, (sl) "sysfs", (sl) "/sys", (sl) "sysfs", 0, 0, 0);
  ul n;
  const char *cmdline = slurp("/proc/cmdline", 4096, &n);
  if (find(cmdline, "kimage.mode=vmcore")) vmcore(cmdline);
  if (find(cmdline, "kimage.mode=second")) {
    puts_("KIMAGE-SECOND-INIT /init from the plan's initrd; /proc/cmdline: ");
    puts_(cmdline);
    power_off();
  }
  dump("/proc/iomem", "iomem", 0);
  sl c = open_("/sys/kernel/vmcoreinfo", O_RDONLY);
  if (c >= 0) {
    sys6(SYS_close, c, 0, 0, 0, 0, 0);
    dump("/sys/kernel/vmcoreinfo", "vmcoreinfo", 0);
    dump("/sys/devices/system/cpu/cpu0/crash_notes", "crash_notes", 0);
    dump("/sys/devices/system/cpu/cpu0/crash_notes_size", "crash_notes_size", 0);
  }
  if (find(cmdline, "kimage.mode=record")) {
    ul fdtlen;
    sl f = sys6(SYS_openat, AT_FDCWD, (sl) "/sys/firmware/fdt", O_RDONLY, 0, 0, 0);
    if (f >= 0) {
      sys6(SYS_close, f, 0, 0, 0, 0, 0);
      (void)fdtlen;
      dump("/sys/firmware/fdt", "fdt", 1);
    }
    /* powerpc: the running kernel's __pa(_end), exported for kexec-tools (arch/powerpc/kexec/core.c kexec_setup). */
    f = open_("/proc/device-tree/chosen/linux,kernel-end", O_RDONLY);
    if (f >= 0) {
      sys6(SYS_close, f, 0, 0, 0, 0, 0);
      dump("/proc/device-tree/chosen/linux,kernel-end", "kernel-end", 1);
    }
    power_off();
  }
  if (find(cmdline, "kimage.mode=kexec") || find(cmdline, "kimage.mode=crash")) kexec(cmdline);
  puts_("kimage helper: no kimage.mode= on the command line\n");
  power_off();
}
