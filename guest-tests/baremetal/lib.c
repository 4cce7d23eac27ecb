/*
 * Bare-metal test kernel: serial output, exceptions, TAP reporting, SMP
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "lib.h"

#define COM1            0x3f8
#define DEBUG_EXIT_PORT 0xf4

struct exc_info exc_per_cpu[SMP_MAX_CPUS];
int tap_count, tap_failed;

struct frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

struct extable {
    uint64_t insn, fixup;
};
extern struct extable __extable_start[], __extable_end[];
extern const uint64_t exc_vectors[32];
extern uint32_t start_info_paddr;

static void putc(char c)
{
    if (c == '\n') {
        putc('\r');
    }
    while (!(inb(COM1 + 5) & 0x20)) {
        /* wait for the transmitter */
    }
    outb(COM1, c);
}

static void puts_n(const char *s, int n)
{
    while (n-- > 0 && *s) {
        putc(*s++);
    }
}

static void put_num(uint64_t v, int base, int width, char pad, bool neg)
{
    char buf[24];
    int i = 0;

    do {
        buf[i++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (neg) {
        buf[i++] = '-';
    }
    while (i < width) {
        putc(pad);
        width--;
    }
    while (i) {
        putc(buf[--i]);
    }
}

/* COM1 belongs to one CPU at a time; the owner may take it again */
static spinlock_t console;
static volatile int console_owner = -1;
static int console_depth;

void console_lock(void)
{
    int me = smp_cpu_id();

    if (console_owner == me) {
        console_depth++;
        return;
    }
    spin_lock(&console);
    console_owner = me;
    console_depth = 1;
}

void console_unlock(void)
{
    if (--console_depth == 0) {
        console_owner = -1;
        spin_unlock(&console);
    }
}

static void vprintf_locked(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        int width = 0, lng = 0;
        char pad = ' ';
        uint64_t v;

        if (*fmt != '%') {
            putc(*fmt);
            continue;
        }
        fmt++;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9') {
            width = width * 10 + *fmt++ - '0';
        }
        while (*fmt == 'l') {
            lng++;
            fmt++;
        }
        switch (*fmt) {
        case 'd': {
            int64_t s = lng ? va_arg(ap, int64_t) : va_arg(ap, int);

            put_num(s < 0 ? -(uint64_t)s : (uint64_t)s, 10, width, pad, s < 0);
            break;
        }
        case 'u':
        case 'x':
            v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int);
            put_num(v, *fmt == 'u' ? 10 : 16, width, pad, false);
            break;
        case 's':
            puts_n(va_arg(ap, const char *), 1 << 30);
            break;
        case 'c':
            putc(va_arg(ap, int));
            break;
        default:
            putc('%');
            putc(*fmt);
        }
    }
}

void vprintf(const char *fmt, va_list ap)
{
    console_lock();
    vprintf_locked(fmt, ap);
    console_unlock();
}

void printf(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

/* isa-debug-exit: QEMU exits with (code << 1) | 1 */
void exit_qemu(int code)
{
    outl(DEBUG_EXIT_PORT, code);
    for (;;) {
        asm volatile("cli; hlt");
    }
}

volatile int nmi_count;

void exc_handler(struct frame *f)
{
    struct extable *e;

    if (f->vector == NMI_VECTOR) {
        atomic_fetch_add(&nmi_count, 1);
        return;
    }

    for (e = __extable_start; e < __extable_end; e++) {
        if (e->insn == f->rip) {
            if (f->cs & 3) {
                /* From user_pconfig: resume at CPL 0 */
                f->cs = 0x08;
                f->ss = 0x10;
            }
            last_exc.vector = f->vector;
            last_exc.error = f->error;
            if (f->vector == PF_VECTOR) {
                asm volatile("mov %%cr2, %0" : "=r"(last_exc.cr2));
            }
            f->rip = e->fixup;
            return;
        }
    }
    printf("Bail out! unexpected exception %d, error code 0x%lx, "
           "rip 0x%lx, CPU %d\n", (int)f->vector, f->error, f->rip,
           smp_cpu_id());
    exit_qemu(2);
}

/*
 * A 64-bit TSS per CPU, for the stack of exceptions raised at CPL 3: the
 * BSP's descriptor is at 0x40 (legacy.S puts a 32-bit TSS at 0x50), AP
 * n's at 0x58 + 16 * (n - 1).
 */
static void setup_tss(int cpu)
{
    static uint32_t tss[SMP_MAX_CPUS][26] __attribute__((aligned(16)));
    static uint8_t ap_exc_stack[SMP_MAX_CPUS][4096]
        __attribute__((aligned(16)));
    extern uint64_t gdt[];
    extern char exc_stack_top[];
    uint64_t base = (uint64_t)tss[cpu], rsp0 = (uint64_t)exc_stack_top;
    uint64_t limit = sizeof(tss[cpu]) - 1;
    int sel = cpu ? 0x58 + 16 * (cpu - 1) : 0x40;

    if (cpu) {
        rsp0 = (uint64_t)ap_exc_stack[cpu] + sizeof(ap_exc_stack[cpu]);
    }
    tss[cpu][1] = rsp0;
    tss[cpu][2] = rsp0 >> 32;
    tss[cpu][25] = sizeof(tss[cpu]) << 16;  /* no I/O permission bitmap */
    gdt[sel / 8] = (limit & 0xffff) | (base & 0xffffff) << 16 |
                   0x89ULL << 40 | ((base >> 24) & 0xff) << 56;
    gdt[sel / 8 + 1] = base >> 32;
    asm volatile("ltr %w0" : : "r"(sel));
}

/* Exceptions 0 to 31, then irq_stub (boot.S) for the wake-up IPI */
static uint64_t idt[256 * 2] __attribute__((aligned(16)));
static struct {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed)) idt_desc;

void setup_idt(void)
{
    extern char irq_stub[];
    int i;

    for (i = 0; i < 256; i++) {
        uint64_t h = i < 32 ? exc_vectors[i] : (uint64_t)irq_stub;

        idt[i * 2] = (h & 0xffff) | (0x08ULL << 16) | (0x8eULL << 40) |
                     ((h >> 16) & 0xffff) << 48;
        idt[i * 2 + 1] = h >> 32;
    }
    for (i = 0; i < SMP_MAX_CPUS; i++) {
        exc_per_cpu[i].vector = NO_EXCEPTION;
    }
    idt_desc.limit = sizeof(idt) - 1;
    idt_desc.base = (uint64_t)idt;
    asm volatile("lidt %0" : : "m"(idt_desc));
    setup_tss(0);
}

int rdmsr_safe(uint32_t msr, uint64_t *val)
{
    uint32_t lo = 0, hi = 0;

    last_exc.vector = NO_EXCEPTION;
    asm volatile("1: rdmsr\n2:\n\t" EXTABLE_ENTRY(1b, 2b)
                 : "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
    *val = lo | (uint64_t)hi << 32;
    return last_exc.vector;
}

int wrmsr_safe(uint32_t msr, uint64_t val)
{
    last_exc.vector = NO_EXCEPTION;
    asm volatile("1: wrmsr\n2:\n\t" EXTABLE_ENTRY(1b, 2b)
                 : : "c"(msr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32))
                 : "memory");
    return last_exc.vector;
}

uint64_t rdmsr(uint32_t msr)
{
    uint64_t v;

    rdmsr_safe(msr, &v);
    return v;
}

/* The PVH start_info: the command line is at offset 24 */
/*
 * The command line, copied on the first call: the firmware may reuse the
 * low memory that holds the PVH start_info once the kernel runs (a
 * resume from standby re-enters the kernel after SeaBIOS ran again).
 */
const char *cmdline(void)
{
    static char copy[1024];
    static bool copied;
    const char *c;
    uint64_t p;
    size_t i;

    if (!copied && start_info_paddr) {
        p = *(uint64_t *)(uintptr_t)(start_info_paddr + 24);
        c = p ? (const char *)(uintptr_t)p : "";
        for (i = 0; i < sizeof(copy) - 1 && c[i]; i++) {
            copy[i] = c[i];
        }
        copy[i] = 0;
        copied = true;
    }
    return copy;
}

static bool prefix_eq(const char *s, const char *key, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] != key[i]) {
            return false;
        }
    }
    return true;
}

static const char *find_word(const char *key, size_t *len)
{
    const char *s = cmdline();
    size_t n = 0;

    while (key[n]) {
        n++;
    }
    while (*s) {
        size_t i = 0;

        while (s[i] && s[i] != ' ') {
            i++;
        }
        if (i >= n && prefix_eq(s, key, n) &&
            (s[n] == '=' || s[n] == ' ' || !s[n])) {
            *len = i;
            return s;
        }
        s += i;
        while (*s == ' ') {
            s++;
        }
    }
    return NULL;
}

bool cmdline_has(const char *word)
{
    size_t len;

    return find_word(word, &len) != NULL;
}

bool cmdline_u64(const char *key, uint64_t *val)
{
    size_t len, n = 0;
    const char *s = find_word(key, &len);
    uint64_t v = 0;
    int base = 10;

    if (!s) {
        return false;
    }
    while (key[n]) {
        n++;
    }
    s += n;
    if (*s++ != '=') {
        return false;
    }
    if (s[0] == '0' && s[1] == 'x') {
        base = 16;
        s += 2;
    }
    for (; *s && *s != ' '; s++) {
        int d = *s >= 'a' ? *s - 'a' + 10 : *s - '0';

        v = v * base + d;
    }
    *val = v;
    return true;
}

uint64_t cmdline_opt(const char *key, uint64_t dflt)
{
    uint64_t v;

    return cmdline_u64(key, &v) ? v : dflt;
}

uint8_t cmos_read(uint8_t idx)
{
    outb(0x70, idx);
    return inb(0x71);
}

void cmos_write(uint8_t idx, uint8_t val)
{
    outb(0x70, idx);
    outb(0x71, val);
}

/* Reset through the reset control register of the chipset */
void system_reset(void)
{
    outb(0xcf9, 0x02);
    outb(0xcf9, 0x06);
    for (;;) {
        asm volatile("pause");
    }
}

static volatile bool in_smp_fn[SMP_MAX_CPUS];

/*
 * The caller holds console_lock(), so numbers and lines stay in order.
 * @skip: NULL, or why the check was not made (TAP counts it as passed).
 */
static bool report_skip(bool ok, const char *skip, const char *fmt,
                        va_list ap)
{
    int cpu = smp_cpu_id();

    tap_count++;
    if (!ok) {
        tap_failed++;
    }
    printf("%s %d - ", ok ? "ok" : "not ok", tap_count);
    if (in_smp_fn[cpu]) {
        printf("cpu %d: ", cpu);
    }
    vprintf(fmt, ap);
    if (skip) {
        printf(" # SKIP %s", skip);
    }
    printf("\n");
    return ok;
}

static bool report(bool ok, const char *fmt, va_list ap)
{
    return report_skip(ok, NULL, fmt, ap);
}

void tap_set_count(int n)
{
    tap_count = n;
}

bool check(bool ok, const char *fmt, ...)
{
    va_list ap;

    console_lock();
    va_start(ap, fmt);
    report(ok, fmt, ap);
    va_end(ap);
    console_unlock();
    return ok;
}

/*
 * A check whose outcome the test cannot predict this time (it depends on
 * random key material): TAP counts it as passed, with the reason.
 */
void tap_skip(const char *why, const char *fmt, ...)
{
    va_list ap;

    console_lock();
    va_start(ap, fmt);
    report_skip(true, why, fmt, ap);
    va_end(ap);
    console_unlock();
}

bool check_u64(uint64_t got, uint64_t want, const char *fmt, ...)
{
    va_list ap;

    console_lock();
    va_start(ap, fmt);
    report(got == want, fmt, ap);
    va_end(ap);
    if (got != want) {
        printf("#   got 0x%lx, expected 0x%lx\n", got, want);
    }
    console_unlock();
    return got == want;
}

static const char *vec_name(int v)
{
    switch (v) {
    case NO_EXCEPTION:
        return "no exception";
    case GP_VECTOR:
        return "#GP";
    case UD_VECTOR:
        return "#UD";
    case PF_VECTOR:
        return "#PF";
    default:
        return "another exception";
    }
}

bool check_vector(int got, int want, const char *fmt, ...)
{
    va_list ap;
    bool ok = got == want;

    /* #GP and #UD from these instructions always carry error code 0 */
    if (ok && (want == GP_VECTOR) && last_exc.error != 0) {
        ok = false;
    }
    console_lock();
    va_start(ap, fmt);
    report(ok, fmt, ap);
    va_end(ap);
    if (!ok) {
        printf("#   got %s (%d, error code 0x%lx), expected %s\n",
               vec_name(got), got, last_exc.error, vec_name(want));
    }
    console_unlock();
    return ok;
}

void tap_done(void)
{
    printf("1..%d\n", tap_count);
    exit_qemu(tap_failed ? 1 : 0);
}

/* One structure per CPU: they may all run PCONFIG at once */
static struct mktme_key_program mktme_kp[SMP_MAX_CPUS];

uint64_t mktme_program(uint16_t keyid, uint32_t cmd, const uint8_t *data,
                       const uint8_t *tweak)
{
    struct mktme_key_program *kp = &mktme_kp[smp_cpu_id()];
    uint64_t rax = 0;
    int i;

    kp->keyid = keyid;
    kp->keyid_ctrl = cmd | (1 << 8);        /* AES-XTS-128 */
    for (i = 0; i < 64; i++) {
        kp->key_field_1[i] = data && i < 16 ? data[i] : 0;
        kp->key_field_2[i] = tweak && i < 16 ? tweak[i] : 0;
    }
    asm volatile(".byte 0x0f, 0x01, 0xc5" : "+a"(rax) : "b"(kp)
                 : "memory", "cc");
    return rax;
}

void flush_tlb(void)
{
    uint64_t cr3;

    asm volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
}

/* PIT channel 2 (gate and output in port 0x61), 1193182 Hz, mode 0 */
#define PIT_HZ          1193182
static void pit_wait(uint16_t ticks)
{
    outb(0x61, (inb(0x61) & ~0x03) | 0x01);    /* gate on, speaker off */
    outb(0x43, 0xb0);                           /* channel 2, mode 0 */
    outb(0x42, ticks & 0xff);
    outb(0x42, ticks >> 8);
    while (!(inb(0x61) & 0x20)) {
        cpu_relax();
    }
}

/* One PIT channel 2 for all CPUs: concurrent delays add up */
static spinlock_t pit_lock;

void udelay(uint32_t us)
{
    while (us) {
        uint32_t n = us > 50000 ? 50000 : us;

        spin_lock(&pit_lock);
        pit_wait((uint64_t)n * PIT_HZ / 1000000 + 1);
        spin_unlock(&pit_lock);
        us -= n;
    }
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;

    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return lo | (uint64_t)hi << 32;
}

/* TSC ticks per millisecond, measured against the PIT on first use */
static volatile uint64_t tsc_per_ms;

uint64_t now_ms(void)
{
    if (!tsc_per_ms) {
        uint64_t t0 = rdtsc(), t;

        udelay(20000);
        t = (rdtsc() - t0) / 20;
        tsc_per_ms = t ? t : 1;
    }
    return rdtsc() / tsc_per_ms;
}

bool smp_barrier(volatile int *count, int n, uint32_t timeout_ms)
{
    uint64_t end = now_ms() + timeout_ms;

    atomic_fetch_add(count, 1);
    while (*count < n) {
        if (now_ms() > end) {
            return false;
        }
        cpu_relax();
    }
    return true;
}

/* fw_cfg: the selector port and the data port */
#define FW_CFG_PORT_SEL         0x510
#define FW_CFG_PORT_DATA        0x511
#define FW_CFG_SIGNATURE        0x00
#define FW_CFG_NB_CPUS          0x05

int smp_expected_cpus(void)
{
    int n;

    outw(FW_CFG_PORT_SEL, FW_CFG_SIGNATURE);
    if (inb(FW_CFG_PORT_DATA) != 'Q' || inb(FW_CFG_PORT_DATA) != 'E' ||
        inb(FW_CFG_PORT_DATA) != 'M' || inb(FW_CFG_PORT_DATA) != 'U') {
        return 1;
    }
    outw(FW_CFG_PORT_SEL, FW_CFG_NB_CPUS);
    n = inb(FW_CFG_PORT_DATA);
    n |= inb(FW_CFG_PORT_DATA) << 8;
    if (n < 1) {
        return 1;
    }
    return n > SMP_MAX_CPUS ? SMP_MAX_CPUS : n;
}

/*
 * The local APIC: xAPIC registers by MMIO, x2APIC ones by MSR (0x800 +
 * offset / 16) when IA32_APIC_BASE.EXTD is set.
 */
#define MSR_APIC_BASE   0x1b
#define APIC_EXTD       (1ULL << 10)
#define APIC_SVR        0xf0
#define APIC_ICR_LO     0x300
#define APIC_ICR_HI     0x310
#define ICR_BUSY        (1 << 12)
#define ICR_INIT        0x00004500      /* INIT, level, assert */
#define ICR_SIPI        0x00004600      /* start-up, level, assert */
#define ICR_FIXED       0x00004000      /* fixed, level, assert */
#define ICR_ALL_BUT_SELF 0x000c0000
#define WAKE_VECTOR     0x40
#define TRAMPOLINE_PA   0x8000          /* below legacy.S at 0x7000 + 4 KiB */

static bool apic_x2(void)
{
    return rdmsr(MSR_APIC_BASE) & APIC_EXTD;
}

static volatile uint32_t *apic_reg(uint32_t reg)
{
    return (volatile uint32_t *)((rdmsr(MSR_APIC_BASE) & 0xfffff000) + reg);
}

static void apic_write(uint32_t reg, uint32_t val)
{
    if (apic_x2()) {
        wrmsr_safe(0x800 + reg / 16, val);
    } else {
        *apic_reg(reg) = val;
    }
}

static void apic_send_ipi(uint32_t icr, uint32_t dest)
{
    if (apic_x2()) {
        wrmsr_safe(0x800 + APIC_ICR_LO / 16, (uint64_t)dest << 32 | icr);
        return;
    }
    *apic_reg(APIC_ICR_HI) = dest << 24;
    *apic_reg(APIC_ICR_LO) = icr;
    while (*apic_reg(APIC_ICR_LO) & ICR_BUSY) {
        cpu_relax();
    }
}

/* Each AP's mailbox: work is posted when seq moves past done */
struct mailbox {
    smp_fn fn;
    void *arg;
    volatile int seq;
    volatile int done;
};
static struct mailbox mailbox[SMP_MAX_CPUS];
static volatile int cpus_online = 1;
static uint32_t apic_ids[SMP_MAX_CPUS];
/* CPU number + 1 by initial APIC ID; 0 (the BSP) until smp_start() */
static volatile uint8_t cpu_by_apic[256];
extern uint32_t ap_cr0, ap_cr4, ap_efer;
extern char ap_tramp[], ap_tramp_end[];

static uint32_t initial_apic_id(void)
{
    uint32_t a, b, c, d;

    cpuid(1, 0, &a, &b, &c, &d);
    return b >> 24;
}

int smp_cpu_id(void)
{
    int n = cpu_by_apic[initial_apic_id()];

    return n ? n - 1 : 0;
}

int smp_cpus(void)
{
    return cpus_online;
}

uint32_t smp_apic_id(int cpu)
{
    return apic_ids[cpu];
}

static void run_fn(int cpu, smp_fn fn, void *arg)
{
    in_smp_fn[cpu] = true;
    fn(cpu, arg);
    in_smp_fn[cpu] = false;
}

/* boot.S: an AP in long mode on its own stack */
void ap_main(int cpu);
void ap_main(int cpu)
{
    struct mailbox *mb = &mailbox[cpu];
    uint32_t apic = initial_apic_id();

    cpu_by_apic[apic] = cpu + 1;
    apic_ids[cpu] = apic;
    exc_per_cpu[cpu].vector = NO_EXCEPTION;
    asm volatile("lidt %0" : : "m"(idt_desc));
    setup_tss(cpu);
    apic_write(APIC_SVR, 0x100 | 0xff);     /* software-enabled */
    atomic_fetch_add(&cpus_online, 1);

    for (;;) {
        int seq = __atomic_load_n(&mb->seq, __ATOMIC_ACQUIRE);

        if (seq == mb->done) {
            /* STI's shadow: the wake-up IPI cannot slip in before HLT */
            asm volatile("sti; hlt; cli" : : : "memory");
            continue;
        }
        run_fn(cpu, mb->fn, mb->arg);
        __atomic_store_n(&mb->done, seq, __ATOMIC_RELEASE);
    }
}

int smp_start(void)
{
    int want = smp_expected_cpus(), i;
    uint64_t cr;
    char *dst = (char *)TRAMPOLINE_PA;
    const char *src;

    if (cpus_online > 1 || want < 2) {
        return cpus_online;
    }
    now_ms();                           /* calibrate while alone */
    apic_ids[0] = initial_apic_id();
    cpu_by_apic[apic_ids[0]] = 1;
    asm volatile("mov %%cr0, %0" : "=r"(cr));
    ap_cr0 = cr;
    asm volatile("mov %%cr4, %0" : "=r"(cr));
    ap_cr4 = cr;
    ap_efer = rdmsr(0xc0000080) & ~(1ULL << 10);   /* without LMA */
    for (src = ap_tramp; src < ap_tramp_end; src++) {
        *dst++ = *src;
    }
    apic_write(APIC_SVR, 0x100 | 0xff);

    /* INIT, 10 ms, SIPI, 200 us, SIPI (SDM 3A 9.4.4.1) */
    apic_send_ipi(ICR_INIT | ICR_ALL_BUT_SELF, 0);
    udelay(10000);
    for (i = 0; i < 2; i++) {
        apic_send_ipi(ICR_SIPI | ICR_ALL_BUT_SELF | (TRAMPOLINE_PA >> 12), 0);
        udelay(200);
    }
    /* TCG may be slow to bring them up on a busy host: up to 10 s */
    for (i = 0; i < 1000 && cpus_online < want; i++) {
        udelay(10000);
    }
    return cpus_online;
}

int smp_start_checked(void)
{
    int want = smp_expected_cpus(), n = smp_start();
    uint64_t cmd;

    if (cmdline_u64("cpus", &cmd)) {
        check_u64(want, cmd, "fw_cfg: QEMU has the %lu CPUs of cpus=", cmd);
    }
    check(n == want, "%d of the %d CPUs that QEMU has are running", n, want);
    return n;
}

void smp_call(int cpu, smp_fn fn, void *arg)
{
    struct mailbox *mb = &mailbox[cpu];

    if (cpu < 1 || cpu >= cpus_online) {
        return;
    }
    while (mb->done != mb->seq) {
        cpu_relax();
    }
    mb->fn = fn;
    mb->arg = arg;
    __atomic_store_n(&mb->seq, mb->seq + 1, __ATOMIC_RELEASE);
    apic_send_ipi(ICR_FIXED | WAKE_VECTOR, apic_ids[cpu]);
}

int smp_wait(void)
{
    int cpu, n = 1, i;

    for (cpu = 1; cpu < cpus_online; cpu++) {
        struct mailbox *mb = &mailbox[cpu];

        for (i = 0; i < 120000 && mb->done != mb->seq; i++) {
            udelay(1000);
        }
        if (mb->done == mb->seq) {
            n++;
        } else {
            printf("# CPU %d did not finish its work in 120 s\n", cpu);
        }
    }
    return n;
}

int smp_run(smp_fn fn, void *arg)
{
    int cpu;

    for (cpu = 1; cpu < cpus_online; cpu++) {
        smp_call(cpu, fn, arg);
    }
    run_fn(0, fn, arg);
    return smp_wait();
}

void smp_run_on(int cpu, smp_fn fn, void *arg)
{
    if (cpu == 0) {
        run_fn(0, fn, arg);
        return;
    }
    smp_call(cpu, fn, arg);
    smp_wait();
}

#define FW_CFG_PORT_SEL         0x510
#define FW_CFG_PORT_DMA         0x514
#define FW_CFG_ID               0x01
#define FW_CFG_DMA_READ         0x02
#define FW_CFG_DMA_SELECT       0x08

struct fw_cfg_dma {
    uint32_t control;
    uint32_t length;
    uint64_t address;
} __attribute__((packed, aligned(16)));

static volatile struct fw_cfg_dma fw_cfg_desc;
static uint8_t fw_cfg_dir[4 + 64 * 64];

uint32_t fw_cfg_dma_read(uint16_t sel, bool select, uint64_t pa,
                         uint32_t len)
{
    uint64_t desc = (uint64_t)&fw_cfg_desc;

    fw_cfg_desc.control = __builtin_bswap32(((uint32_t)sel << 16) |
                                            (select ? FW_CFG_DMA_SELECT : 0) |
                                            FW_CFG_DMA_READ);
    fw_cfg_desc.length = __builtin_bswap32(len);
    fw_cfg_desc.address = __builtin_bswap64(pa);
    asm volatile("" : : : "memory");
    outl(FW_CFG_PORT_DMA, __builtin_bswap32(desc >> 32));
    outl(FW_CFG_PORT_DMA + 4, __builtin_bswap32((uint32_t)desc));
    return __builtin_bswap32(fw_cfg_desc.control);
}

bool streq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

uint16_t fw_cfg_find(const char *name, uint32_t *size)
{
    uint32_t i, n;

    outw(FW_CFG_PORT_SEL, FW_CFG_ID);
    if (!(inb(FW_CFG_PORT_SEL + 1) & 2)) {
        return 0;                           /* no DMA interface */
    }
    if (fw_cfg_dma_read(FW_CFG_FILE_DIR, true, (uint64_t)fw_cfg_dir,
                        sizeof(fw_cfg_dir))) {
        return 0;
    }
    n = __builtin_bswap32(*(uint32_t *)fw_cfg_dir);
    for (i = 0; i < n && i < 64; i++) {
        uint8_t *e = fw_cfg_dir + 4 + 64 * i;

        if (streq((char *)e + 8, name)) {
            *size = __builtin_bswap32(*(uint32_t *)e);
            return __builtin_bswap16(*(uint16_t *)(e + 4));
        }
    }
    return 0;
}
