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

static inline void outw(uint16_t port, uint16_t v)
{
    asm volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
    asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t v;

    asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;

    asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* PCI configuration space of bus 0 (mechanism #1) */
static inline uint32_t pci_read(int dev, int off)
{
    outl(0xcf8, 0x80000000U | (dev << 11) | (off & 0xfc));
    return inl(0xcfc);
}

static inline void pci_write(int dev, int off, uint32_t v)
{
    outl(0xcf8, 0x80000000U | (dev << 11) | (off & 0xfc));
    outl(0xcfc, v);
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a,
                         uint32_t *b, uint32_t *c, uint32_t *d)
{
    asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
                 : "a"(leaf), "c"(sub));
}

/* CPUs the library can start; more are left waiting */
#define SMP_MAX_CPUS    16

/* The last exception caught through the exception table, per CPU */
struct exc_info {
    int vector;
    uint64_t error;
    uint64_t cr2;
};
extern struct exc_info exc_per_cpu[SMP_MAX_CPUS];
#define last_exc (exc_per_cpu[smp_cpu_id()])
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

/* Busy-wait @us microseconds (PIT channel 2, shared: CPUs take turns) */
void udelay(uint32_t us);
/* Milliseconds from the TSC, calibrated against the PIT on first use */
uint64_t now_ms(void);

static inline void cpu_relax(void)
{
    asm volatile("pause" : : : "memory");
}

/* Atomically add @v to *@p; returns the old value */
static inline int atomic_fetch_add(volatile int *p, int v)
{
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}

typedef struct {
    volatile int locked;
} spinlock_t;

static inline void spin_lock(spinlock_t *l)
{
    while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
        while (l->locked) {
            cpu_relax();
        }
    }
}

static inline void spin_unlock(spinlock_t *l)
{
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

/*
 * SMP: after setup_idt(), the BSP starts the other CPUs (APs) with
 * INIT-SIPI-SIPI through a trampoline at 0x8000; they run in long mode
 * on the same GDT, IDT and page tables, each with its own stack, TSS and
 * last_exc, and wait for work in HLT.  CPU numbers are 0 for the BSP and
 * 1.. for the APs in the order they came up; smp_cpu_id() finds this
 * CPU's from its initial APIC ID (CPUID), so it works in any mode.
 *
 * The BSP gives out the work (smp_call(), smp_wait(), smp_run(),
 * smp_run_on()); the functions it runs must not.  A test's function
 * marks that its CPU did its part, and the test checks that every CPU
 * QEMU has did, so an AP that did not start or did nothing fails it.
 * Each CPU's TLB is its own: after changing an entry another CPU may
 * hold, have that CPU flush it.
 *
 * compat_pconfig, user_pconfig and legacy.S keep their state in global
 * variables: the BSP alone may use them.
 */
typedef void (*smp_fn)(int cpu, void *arg);

/* The number of CPUs QEMU has (fw_cfg FW_CFG_NB_CPUS), at most the max */
int smp_expected_cpus(void);
/* Start the APs; returns the number of CPUs running, the BSP included */
int smp_start(void);
/*
 * smp_start() as a test: every CPU that QEMU has (and cpus=N of the
 * command line, if given) must run.  Returns the number of CPUs running.
 */
int smp_start_checked(void);
/* The number of CPUs running, the BSP included */
int smp_cpus(void);
/* This CPU's number */
int smp_cpu_id(void);
/* The local APIC ID of CPU @cpu */
uint32_t smp_apic_id(int cpu);
/* Start @fn(@cpu, @arg) on AP @cpu and return at once */
void smp_call(int cpu, smp_fn fn, void *arg);
/*
 * Wait until every AP has finished the work smp_call() gave it (or a
 * timeout of 120 s); returns the number of CPUs, the BSP included,
 * that have no work left.
 */
int smp_wait(void);
/*
 * Run @fn on every CPU at once, the BSP too, and wait for all; returns
 * the number of CPUs that ran it to the end.
 */
int smp_run(smp_fn fn, void *arg);
/* Run @fn on CPU @cpu (0: the BSP itself) and wait for it */
void smp_run_on(int cpu, smp_fn fn, void *arg);
/*
 * Arrive at a barrier: *@count (0 at first) counts the CPUs there; wait
 * until @n have arrived, at most @timeout_ms.  Returns whether they did.
 */
bool smp_barrier(volatile int *count, int n, uint32_t timeout_ms);

/*
 * fw_cfg's DMA interface (docs/specs/fw_cfg.rst of QEMU).  One
 * descriptor for all CPUs: callers on several CPUs serialise.
 * fw_cfg_dma_read() reads @len bytes of item @sel into physical address
 * @pa, from its start if @select, else where the last read stopped, and
 * returns the control word (0: done); fw_cfg_find() returns the selector
 * of file @name and its size, or 0.
 */
#define FW_CFG_FILE_DIR         0x19
uint32_t fw_cfg_dma_read(uint16_t sel, bool select, uint64_t pa,
                         uint32_t len);
uint16_t fw_cfg_find(const char *name, uint32_t *size);
bool streq(const char *a, const char *b);

uint8_t cmos_read(uint8_t idx);
void cmos_write(uint8_t idx, uint8_t val);
void system_reset(void);

/*
 * TAP reporting: every CPU may report; each line (and the diagnostics of
 * a check) goes out whole.  Within a function that smp_run() or
 * smp_call() runs, the description starts with "cpu N: ".  Hold
 * console_lock() to keep several lines together; it nests.
 */
void console_lock(void);
void console_unlock(void);
extern int tap_count, tap_failed;
void tap_set_count(int n);
bool check(bool ok, const char *fmt, ...);
bool check_u64(uint64_t got, uint64_t want, const char *fmt, ...);
bool check_vector(int got, int want, const char *fmt, ...);
void tap_skip(const char *why, const char *fmt, ...);
void tap_done(void);

#endif
