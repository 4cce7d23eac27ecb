/*
 * Bare-metal test kernel: serial output, exceptions, TAP reporting
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "lib.h"

#define COM1            0x3f8
#define DEBUG_EXIT_PORT 0xf4

struct exc_info last_exc = { .vector = NO_EXCEPTION };
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

void vprintf(const char *fmt, va_list ap)
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
        nmi_count++;
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
           "rip 0x%lx\n", (int)f->vector, f->error, f->rip);
    exit_qemu(2);
}

/* A 64-bit TSS, for the stack of exceptions raised at CPL 3 */
static void setup_tss(void)
{
    static uint32_t tss[26] __attribute__((aligned(16)));
    extern uint64_t gdt[];
    extern char exc_stack_top[];
    uint64_t base = (uint64_t)tss, rsp0 = (uint64_t)exc_stack_top;
    uint64_t limit = sizeof(tss) - 1;

    tss[1] = rsp0;
    tss[2] = rsp0 >> 32;
    tss[25] = sizeof(tss) << 16;        /* no I/O permission bitmap */
    gdt[8] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89ULL << 40 |
             ((base >> 24) & 0xff) << 56;
    gdt[9] = base >> 32;
    asm volatile("ltr %w0" : : "r"(0x40));
}

void setup_idt(void)
{
    static uint64_t idt[32 * 2] __attribute__((aligned(16)));
    static struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) desc;
    int i;

    for (i = 0; i < 32; i++) {
        uint64_t h = exc_vectors[i];

        idt[i * 2] = (h & 0xffff) | (0x08ULL << 16) | (0x8eULL << 40) |
                     ((h >> 16) & 0xffff) << 48;
        idt[i * 2 + 1] = h >> 32;
    }
    desc.limit = sizeof(idt) - 1;
    desc.base = (uint64_t)idt;
    asm volatile("lidt %0" : : "m"(desc));
    setup_tss();
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
const char *cmdline(void)
{
    uint64_t p;

    if (!start_info_paddr) {
        return "";
    }
    p = *(uint64_t *)(uintptr_t)(start_info_paddr + 24);
    return p ? (const char *)(uintptr_t)p : "";
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

static bool report(bool ok, const char *fmt, va_list ap)
{
    tap_count++;
    if (!ok) {
        tap_failed++;
    }
    printf("%s %d - ", ok ? "ok" : "not ok", tap_count);
    vprintf(fmt, ap);
    printf("\n");
    return ok;
}

void tap_set_count(int n)
{
    tap_count = n;
}

bool check(bool ok, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(ok, fmt, ap);
    va_end(ap);
    return ok;
}

bool check_u64(uint64_t got, uint64_t want, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(got == want, fmt, ap);
    va_end(ap);
    if (got != want) {
        printf("#   got 0x%lx, expected 0x%lx\n", got, want);
    }
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
    va_start(ap, fmt);
    report(ok, fmt, ap);
    va_end(ap);
    if (!ok) {
        printf("#   got %s (%d, error code 0x%lx), expected %s\n",
               vec_name(got), got, last_exc.error, vec_name(want));
    }
    return ok;
}

void tap_done(void)
{
    printf("1..%d\n", tap_count);
    exit_qemu(tap_failed ? 1 : 0);
}

static struct mktme_key_program mktme_kp;

uint64_t mktme_program(uint16_t keyid, uint32_t cmd, const uint8_t *data,
                       const uint8_t *tweak)
{
    uint64_t rax = 0;
    int i;

    mktme_kp.keyid = keyid;
    mktme_kp.keyid_ctrl = cmd | (1 << 8);   /* AES-XTS-128 */
    for (i = 0; i < 64; i++) {
        mktme_kp.key_field_1[i] = data && i < 16 ? data[i] : 0;
        mktme_kp.key_field_2[i] = tweak && i < 16 ? tweak[i] : 0;
    }
    asm volatile(".byte 0x0f, 0x01, 0xc5" : "+a"(rax) : "b"(&mktme_kp)
                 : "memory", "cc");
    return rax;
}

void flush_tlb(void)
{
    uint64_t cr3;

    asm volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
}
