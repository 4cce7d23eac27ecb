/*
 * Bare-metal test kernel: library
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef BAREMETAL_LIB_H
#define BAREMETAL_LIB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NO_EXCEPTION    (-1)
#define NMI_VECTOR      2
#define GP_VECTOR       13
#define UD_VECTOR       6
#define PF_VECTOR       14

static inline void outb(uint16_t port, uint8_t v)
{
    asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;

    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
    asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a,
                         uint32_t *b, uint32_t *c, uint32_t *d)
{
    asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
                 : "a"(leaf), "c"(sub));
}

/* The last exception caught through the exception table */
struct exc_info {
    int vector;
    uint64_t error;
    uint64_t cr2;
};
extern struct exc_info last_exc;
extern volatile int nmi_count;

/*
 * Run one instruction that may fault: the handler resumes after it and
 * records the vector.  Returns the vector, or NO_EXCEPTION.
 */
#define EXTABLE_ENTRY(insn, fixup) \
    ".pushsection .extable, \"a\"\n\t.quad " #insn ", " #fixup "\n\t" \
    ".popsection\n\t"

int rdmsr_safe(uint32_t msr, uint64_t *val);
int wrmsr_safe(uint32_t msr, uint64_t val);
uint64_t rdmsr(uint32_t msr);

void printf(const char *fmt, ...);
void vprintf(const char *fmt, va_list ap);
void exit_qemu(int code);
void setup_idt(void);
const char *cmdline(void);
bool cmdline_u64(const char *key, uint64_t *val);
bool cmdline_has(const char *word);
/* key=value on the command line, or @dflt */
uint64_t cmdline_opt(const char *key, uint64_t dflt);

/* MKTME_KEY_PROGRAM_STRUCT (spec 6.2.5) */
struct mktme_key_program {
    uint16_t keyid;
    uint32_t keyid_ctrl;
    uint8_t rsvd[58];
    uint8_t key_field_1[64];
    uint8_t key_field_2[64];
} __attribute__((packed, aligned(256)));

/*
 * PCONFIG MKTME_KEY_PROGRAM of KeyID @keyid: command @cmd with
 * AES-XTS-128 and the 16-byte keys @data and @tweak (NULL: zeroes).
 * Returns RAX.
 */
uint64_t mktme_program(uint16_t keyid, uint32_t cmd, const uint8_t *data,
                       const uint8_t *tweak);

/* Drop every TLB entry but global ones: reload CR3 */
void flush_tlb(void);

uint8_t cmos_read(uint8_t idx);
void cmos_write(uint8_t idx, uint8_t val);
void system_reset(void);

/* TAP reporting */
extern int tap_count, tap_failed;
void tap_set_count(int n);
bool check(bool ok, const char *fmt, ...);
bool check_u64(uint64_t got, uint64_t want, const char *fmt, ...);
bool check_vector(int got, int want, const char *fmt, ...);
void tap_done(void);

#endif
