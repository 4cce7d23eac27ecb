/*
 * Bare-metal tests of the TME/MKTME enumeration and MSRs: one test per row
 * of the tables 4.1.3, 4.2.1, 4.2.2, 4.2.3 and 4.2.4 of Intel's Memory
 * Encryption Technologies Specification rev 1.0.
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The command line selects the scenario and gives the expected values,
 * which come from the QEMU command line of the test, not from QEMU:
 *   notme | self | firmware | rngfail | lockdisabled | smm | migrate |
 *   coreactivate (the guest activates, then each CPU core-activates)
 *   cpus=N (CPUs that QEMU has: they all run the per-core checks)
 *   max-keyid-bits=N max-keys=N phys-bits=N keyid-bits=N
 *   exclude-base=X exclude-mask=X
 */

#include "lib.h"

#define IA32_TME_CAPABILITY     0x981
#define IA32_TME_ACTIVATE       0x982
#define IA32_TME_EXCLUDE_MASK   0x983
#define IA32_TME_EXCLUDE_BASE   0x984
#define MK_TME_CORE_ACTIVATE    0x9ff
#define IA32_MKTME_KEYID_PARTITIONING 0x87

#define LOCK                    (1ULL << 0)
#define ENABLE                  (1ULL << 1)
#define KEY_SELECT              (1ULL << 2)
#define SAVE_KEY                (1ULL << 3)
#define KEYID_BITS(n)           ((uint64_t)(n) << 32)
#define ALG_AES_XTS_128         (1ULL << 48)
#define EXCLUDE_ENABLE          (1ULL << 11)

/* CMOS bytes that survive a reset: stage and TAP count of the restore test */
#define CMOS_STAGE              0x4e
#define CMOS_COUNT              0x4f

static const uint32_t tme_msrs[] = {
    IA32_TME_CAPABILITY, IA32_TME_ACTIVATE, IA32_TME_EXCLUDE_MASK,
    IA32_TME_EXCLUDE_BASE, MK_TME_CORE_ACTIVATE,
    IA32_MKTME_KEYID_PARTITIONING,
};

static uint64_t max_bits, max_keys, phys_bits, keyid_bits;

static uint64_t expected_capability(void)
{
    return 1 | max_bits << 32 | max_keys << 36;
}

static void test_cpuid(bool tme)
{
    uint32_t a, b, c, d;

    cpuid(7, 0, &a, &b, &c, &d);
    check(!!(c & (1 << 13)) == tme, "CPUID.7.0:ECX[13] (TME) is %d", tme);
    check(!!(d & (1 << 18)) == tme, "CPUID.7.0:EDX[18] (PCONFIG) is %d", tme);
    cpuid(0, 0, &a, &b, &c, &d);
    if (tme) {
        check(a >= 0x1b, "CPUID level 0x%x reaches leaf 0x1B", a);
        cpuid(0x1b, 0, &a, &b, &c, &d);
        if (max_bits) {
            check(a == 1 && b == 1 && c == 0 && d == 0,
                  "CPUID.1BH.0: target identifier subleaf, MKTME target "
                  "(%x %x %x %x)", a, b, c, d);
        } else {
            check(a == 0 && b == 0 && c == 0 && d == 0,
                  "CPUID.1BH.0: without MKTME KeyIDs no PCONFIG target, "
                  "the first subleaf is invalid (%x %x %x %x)", a, b, c, d);
        }
        cpuid(0x1b, 1, &a, &b, &c, &d);
        check(a == 0 && b == 0 && c == 0 && d == 0,
              "CPUID.1BH.1: invalid subleaf ends the list");
        cpuid(0x1b, 7, &a, &b, &c, &d);
        check(a == 0 && b == 0 && c == 0 && d == 0,
              "CPUID.1BH.7: subleaves after the first invalid one are 0");
    }
    cpuid(0x80000008, 0, &a, &b, &c, &d);
    check_u64(a & 0xff, phys_bits,
              "CPUID.80000008H MAX_PA unaffected by MKTME (4.1.4)");
}

static void test_not_enumerated(void)
{
    unsigned i;
    uint64_t v;

    test_cpuid(false);
    for (i = 0; i < sizeof(tme_msrs) / sizeof(tme_msrs[0]); i++) {
        check_vector(rdmsr_safe(tme_msrs[i], &v), GP_VECTOR,
                     "RDMSR 0x%x #GP when TME is not enumerated", tme_msrs[i]);
        check_vector(wrmsr_safe(tme_msrs[i], 0), GP_VECTOR,
                     "WRMSR 0x%x #GP when TME is not enumerated", tme_msrs[i]);
    }
}

/* Table 4.1.3 */
static void test_capability(void)
{
    uint64_t v;

    check_vector(rdmsr_safe(IA32_TME_CAPABILITY, &v), NO_EXCEPTION,
                 "RDMSR IA32_TME_CAPABILITY");
    check_u64(v, expected_capability(),
              "IA32_TME_CAPABILITY: AES-XTS-128, MK_TME_MAX_KEYID_BITS=%lu, "
              "MK_TME_MAX_KEYS=%lu", max_bits, max_keys);
    check_vector(wrmsr_safe(IA32_TME_CAPABILITY, v), GP_VECTOR,
                 "WRMSR IA32_TME_CAPABILITY #GP (read-only)");
}

static void expect_activate(uint64_t want, const char *what)
{
    check_u64(rdmsr(IA32_TME_ACTIVATE), want, "RDMSR IA32_TME_ACTIVATE %s",
              what);
}

/* Table 4.2.2 rows that #GP, on an unlocked MSR */
static void test_activate_gp(void)
{
    static const int rsvd[] = { 8, 15, 31, 36, 40, 47, 49, 56, 63 };
    unsigned i;

    for (i = 0; i < sizeof(rsvd) / sizeof(rsvd[0]); i++) {
        check_vector(wrmsr_safe(IA32_TME_ACTIVATE,
                                ENABLE | (1ULL << rsvd[i])), GP_VECTOR,
                     "WRMSR IA32_TME_ACTIVATE reserved bit %d #GP", rsvd[i]);
    }
    check_vector(wrmsr_safe(IA32_TME_ACTIVATE, ENABLE | 1 << 4), GP_VECTOR,
                 "WRMSR IA32_TME_ACTIVATE unsupported policy 1 #GP");
    check_vector(wrmsr_safe(IA32_TME_ACTIVATE, ENABLE | 0xf << 4), GP_VECTOR,
                 "WRMSR IA32_TME_ACTIVATE unsupported policy 15 #GP");
    if (max_bits) {
        check_vector(wrmsr_safe(IA32_TME_ACTIVATE, ENABLE | ALG_AES_XTS_128 |
                                KEYID_BITS(max_bits + 1)), GP_VECTOR,
                     "WRMSR MK_TME_KEYID_BITS > MK_TME_MAX_KEYID_BITS #GP");
        check_vector(wrmsr_safe(IA32_TME_ACTIVATE, ALG_AES_XTS_128 |
                                KEYID_BITS(1)), GP_VECTOR,
                     "WRMSR MK_TME_KEYID_BITS > 0 with TME enable 0 #GP");
    } else {
        check_vector(wrmsr_safe(IA32_TME_ACTIVATE, ENABLE | KEYID_BITS(1)),
                     GP_VECTOR,
                     "WRMSR bits 35:32 #GP when MKTME is not enumerated");
        check_vector(wrmsr_safe(IA32_TME_ACTIVATE, ENABLE | ALG_AES_XTS_128),
                     GP_VECTOR,
                     "WRMSR bit 48 #GP when MKTME is not enumerated");
    }
    expect_activate(0, "unchanged by the faulting writes");
}

/* Table 4.2.4 */
static void test_exclusion(void)
{
    uint64_t top = 1ULL << phys_bits;
    uint64_t field = top - 4096;
    uint64_t mask = (field & ~((1ULL << 30) - 1)) | EXCLUDE_ENABLE; /* 1 GiB */

    check_u64(rdmsr(IA32_TME_EXCLUDE_MASK), 0, "IA32_TME_EXCLUDE_MASK is 0"
              " after reset");
    check_u64(rdmsr(IA32_TME_EXCLUDE_BASE), 0, "IA32_TME_EXCLUDE_BASE is 0"
              " after reset");
    check_vector(wrmsr_safe(IA32_TME_EXCLUDE_MASK, mask | 1), GP_VECTOR,
                 "WRMSR IA32_TME_EXCLUDE_MASK reserved bit 0 #GP");
    check_vector(wrmsr_safe(IA32_TME_EXCLUDE_MASK, mask | 1 << 10), GP_VECTOR,
                 "WRMSR IA32_TME_EXCLUDE_MASK reserved bit 10 #GP");
    check_vector(wrmsr_safe(IA32_TME_EXCLUDE_MASK, mask | top), GP_VECTOR,
                 "WRMSR IA32_TME_EXCLUDE_MASK bit MAXPHYADDR #GP");
    check_vector(wrmsr_safe(IA32_TME_EXCLUDE_MASK, mask | 1ULL << 63),
                 GP_VECTOR, "WRMSR IA32_TME_EXCLUDE_MASK bit 63 #GP");
    check_vector(wrmsr_safe(IA32_TME_EXCLUDE_MASK,
                            (mask & ~(1ULL << 35)) | 1ULL << 20), GP_VECTOR,
                 "WRMSR IA32_TME_EXCLUDE_MASK not contiguous #GP");
    check_vector(wrmsr_safe(IA32_TME_EXCLUDE_MASK, EXCLUDE_ENABLE | 1 << 12),
                 GP_VECTOR, "WRMSR IA32_TME_EXCLUDE_MASK low bit alone #GP");
    check_vector(wrmsr_safe(IA32_TME_EXCLUDE_MASK, mask), NO_EXCEPTION,
                 "WRMSR IA32_TME_EXCLUDE_MASK contiguous 1 GiB mask");
    check_u64(rdmsr(IA32_TME_EXCLUDE_MASK), mask,
              "IA32_TME_EXCLUDE_MASK reads back");
    check_vector(wrmsr_safe(IA32_TME_EXCLUDE_BASE, 0x40000000 | 1),
                 GP_VECTOR, "WRMSR IA32_TME_EXCLUDE_BASE reserved bit 0 #GP");
    check_vector(wrmsr_safe(IA32_TME_EXCLUDE_BASE, 0x40000000 | 1 << 11),
                 GP_VECTOR, "WRMSR IA32_TME_EXCLUDE_BASE reserved bit 11 #GP");
    check_vector(wrmsr_safe(IA32_TME_EXCLUDE_BASE, top), GP_VECTOR,
                 "WRMSR IA32_TME_EXCLUDE_BASE bit MAXPHYADDR #GP");
    check_vector(wrmsr_safe(IA32_TME_EXCLUDE_BASE, 0x40000000), NO_EXCEPTION,
                 "WRMSR IA32_TME_EXCLUDE_BASE 1 GiB");
    check_u64(rdmsr(IA32_TME_EXCLUDE_BASE), 0x40000000,
              "IA32_TME_EXCLUDE_BASE reads back");
}

/* Table 4.2.3 */
static void test_core_activate(uint64_t want_after_write)
{
    uint64_t v;

    if (!max_bits) {
        check_vector(rdmsr_safe(MK_TME_CORE_ACTIVATE, &v), GP_VECTOR,
                     "RDMSR MK_TME_CORE_ACTIVATE #GP without MKTME");
        check_vector(wrmsr_safe(MK_TME_CORE_ACTIVATE, 0), GP_VECTOR,
                     "WRMSR MK_TME_CORE_ACTIVATE #GP without MKTME");
        return;
    }
    check_vector(wrmsr_safe(MK_TME_CORE_ACTIVATE, KEYID_BITS(1)), GP_VECTOR,
                 "WRMSR MK_TME_CORE_ACTIVATE non-zero KeyID bits #GP");
    check_vector(wrmsr_safe(MK_TME_CORE_ACTIVATE, 1), GP_VECTOR,
                 "WRMSR MK_TME_CORE_ACTIVATE reserved bit 0 #GP");
    check_vector(wrmsr_safe(MK_TME_CORE_ACTIVATE, 1ULL << 36), GP_VECTOR,
                 "WRMSR MK_TME_CORE_ACTIVATE reserved bit 36 #GP");
    check_vector(wrmsr_safe(MK_TME_CORE_ACTIVATE, 0), NO_EXCEPTION,
                 "WRMSR MK_TME_CORE_ACTIVATE 0");
    check_u64(rdmsr(MK_TME_CORE_ACTIVATE), want_after_write,
              "MK_TME_CORE_ACTIVATE shadows the package KeyID bits");
}

static void test_locked(uint64_t act)
{
    check_vector(wrmsr_safe(IA32_TME_ACTIVATE, act), GP_VECTOR,
                 "WRMSR IA32_TME_ACTIVATE while locked #GP");
    check_vector(wrmsr_safe(IA32_TME_ACTIVATE, 0), GP_VECTOR,
                 "WRMSR IA32_TME_ACTIVATE 0 while locked #GP");
    check_vector(wrmsr_safe(IA32_TME_EXCLUDE_MASK, 0), GP_VECTOR,
                 "WRMSR IA32_TME_EXCLUDE_MASK after lock #GP");
    check_vector(wrmsr_safe(IA32_TME_EXCLUDE_BASE, 0), GP_VECTOR,
                 "WRMSR IA32_TME_EXCLUDE_BASE after lock #GP");
    expect_activate(act, "unchanged after the faulting writes");
}

/* The guest activates TME itself (x86-tme activate=off, no SMI) */
/*
 * IA32_MKTME_KEYID_PARTITIONING (later revisions): present with MKTME,
 * read-only; 0 until activation enables KeyIDs, then 31:0 the MKTME
 * KeyIDs (all but KeyID 0), 63:32 no TDX private KeyIDs.
 */
static void test_partitioning(uint64_t want, const char *when)
{
    uint64_t v = 0;

    if (!max_bits) {
        check_vector(rdmsr_safe(IA32_MKTME_KEYID_PARTITIONING, &v),
                     GP_VECTOR, "RDMSR IA32_MKTME_KEYID_PARTITIONING #GP "
                     "without MKTME %s", when);
        check_vector(wrmsr_safe(IA32_MKTME_KEYID_PARTITIONING, 0), GP_VECTOR,
                     "WRMSR IA32_MKTME_KEYID_PARTITIONING #GP without "
                     "MKTME %s", when);
        return;
    }
    check_vector(rdmsr_safe(IA32_MKTME_KEYID_PARTITIONING, &v), NO_EXCEPTION,
                 "RDMSR IA32_MKTME_KEYID_PARTITIONING %s", when);
    check_u64(v, want, "IA32_MKTME_KEYID_PARTITIONING %s: %lu MKTME KeyIDs, "
              "no TDX KeyIDs", when, want);
    check_vector(wrmsr_safe(IA32_MKTME_KEYID_PARTITIONING, v), GP_VECTOR,
                 "WRMSR IA32_MKTME_KEYID_PARTITIONING #GP (read-only) %s",
                 when);
    check_vector(wrmsr_safe(IA32_MKTME_KEYID_PARTITIONING, 0), GP_VECTOR,
                 "WRMSR 0 to IA32_MKTME_KEYID_PARTITIONING #GP %s", when);
    check_u64(rdmsr(IA32_MKTME_KEYID_PARTITIONING), want,
              "... and it is unchanged");
}

static void test_self(void)
{
    uint64_t act = ENABLE | SAVE_KEY;
    uint64_t v;

    if (max_bits) {
        act |= KEYID_BITS(max_bits) | ALG_AES_XTS_128;
    }
    test_cpuid(true);
    test_capability();
    expect_activate(0, "is 0 after reset (unlocked)");
    check_vector(rdmsr_safe(MK_TME_CORE_ACTIVATE, &v), max_bits ?
                 NO_EXCEPTION : GP_VECTOR, "RDMSR MK_TME_CORE_ACTIVATE");
    if (max_bits) {
        check_u64(v, 0, "MK_TME_CORE_ACTIVATE is 0 after reset");
    }
    test_partitioning(0, "before activation");
    test_activate_gp();
    test_exclusion();

    /* Key select 1 with no key saved: a zero key is restored */
    check_vector(wrmsr_safe(IA32_TME_ACTIVATE, ENABLE | KEY_SELECT),
                 NO_EXCEPTION, "WRMSR enable, key select 1 (nothing saved)");
    expect_activate(KEY_SELECT, "x..x100b: zero key restored, not enabled");
    if (max_bits) {
        check_vector(wrmsr_safe(IA32_TME_ACTIVATE, ENABLE | KEY_SELECT |
                                KEYID_BITS(1) | ALG_AES_XTS_128),
                     NO_EXCEPTION, "WRMSR with KeyID bits, zero key restored");
        expect_activate(KEY_SELECT, "unchanged: with KeyID bits and no "
                        "activation the write is not committed");
    }

    /* Any other legal value: written value + lock */
    check_vector(wrmsr_safe(IA32_TME_ACTIVATE, act | LOCK), NO_EXCEPTION,
                 "WRMSR enable, new key, save key%s",
                 max_bits ? ", MKTME" : "");
    expect_activate(act | LOCK, "x..x011b: enabled, locked, written value");
    test_partitioning((1ULL << max_bits) - 1, "after activation");
    test_locked(act | LOCK);
    check_u64(rdmsr(IA32_TME_EXCLUDE_MASK) & EXCLUDE_ENABLE, EXCLUDE_ENABLE,
              "exclusion range kept after lock");
    test_core_activate(KEYID_BITS(max_bits));
    check_vector(wrmsr_safe(IA32_TME_CAPABILITY, 0), GP_VECTOR,
                 "WRMSR IA32_TME_CAPABILITY #GP after lock");
}

/*
 * Two pages of RAM above the first MiB, outside the kernel: what is
 * written there under the TME key stays in DRAM across a reset.
 */
#define DRAM_PAGE_A     0x2000000UL
#define DRAM_PAGE_B     0x3000000UL

static void fill_pattern(uint64_t pa, uint64_t seed)
{
    volatile uint64_t *p = (volatile uint64_t *)pa;
    int i;

    for (i = 0; i < 512; i++) {
        p[i] = seed * 0x9e3779b97f4a7c15ULL + i;
    }
}

static int count_pattern(uint64_t pa, uint64_t seed)
{
    volatile uint64_t *p = (volatile uint64_t *)pa;
    int i, n = 0;

    for (i = 0; i < 512; i++) {
        n += p[i] == seed * 0x9e3779b97f4a7c15ULL + i;
    }
    return n;
}

/* After the reset of test_self: restore the saved key */
static void test_restore(void)
{
    uint64_t act = ENABLE | KEY_SELECT;

    if (max_bits) {
        act |= KEYID_BITS(max_bits) | ALG_AES_XTS_128;
    }
    expect_activate(0, "is 0 after a reset: the lock is cleared");
    check(count_pattern(DRAM_PAGE_A, 1) == 0,
          "RAM written under the TME key before the reset reads as "
          "ciphertext with TME off");
    check_u64(rdmsr(IA32_TME_EXCLUDE_MASK), 0,
              "IA32_TME_EXCLUDE_MASK is 0 after a reset");
    if (max_bits) {
        check_u64(rdmsr(MK_TME_CORE_ACTIVATE), 0,
                  "MK_TME_CORE_ACTIVATE is 0 after a reset");
    }
    check_vector(wrmsr_safe(IA32_TME_ACTIVATE, act), NO_EXCEPTION,
                 "WRMSR enable, key select 1 after a saved key");
    expect_activate(act | LOCK, "x..x111b: non-zero key restored, enabled, "
                    "locked");
    check(count_pattern(DRAM_PAGE_B, 2) == 512,
          "the restored TME key reads back RAM written before the reset");
    test_locked(act | LOCK);
}

/* QEMU acted as the firmware (x86-tme activate=on) */
static void test_firmware(void)
{
    uint64_t act = ENABLE | LOCK | SAVE_KEY;
    uint64_t v;

    if (max_bits) {
        act |= KEYID_BITS(keyid_bits) | ALG_AES_XTS_128;
    }
    test_cpuid(true);
    test_capability();
    expect_activate(act, "as the firmware left it: enabled, locked, key "
                    "saved for standby, AES-XTS-128, KeyID bits");
    check_u64(rdmsr(IA32_TME_EXCLUDE_MASK), cmdline_opt("exclude-mask", 0),
              "IA32_TME_EXCLUDE_MASK as the firmware set it");
    check_u64(rdmsr(IA32_TME_EXCLUDE_BASE), cmdline_opt("exclude-base", 0),
              "IA32_TME_EXCLUDE_BASE as the firmware set it");
    if (max_bits) {
        check_vector(rdmsr_safe(MK_TME_CORE_ACTIVATE, &v), NO_EXCEPTION,
                     "RDMSR MK_TME_CORE_ACTIVATE");
        check_u64(v, KEYID_BITS(keyid_bits),
                  "the firmware core-activated this core");
    }
    test_partitioning((1ULL << keyid_bits) - 1, "after the firmware");
    test_locked(act);
    test_core_activate(KEYID_BITS(keyid_bits));
}

/* x86-tme x-rng-fail=on: the RNG fails */
static void test_rng_fail(void)
{
    test_cpuid(true);
    check_vector(wrmsr_safe(IA32_TME_ACTIVATE, ENABLE | 0x8), NO_EXCEPTION,
                 "WRMSR enable, new key, RNG failure: no #GP");
    expect_activate(0x8, "x..x000b: not enabled, not locked");
    if (max_bits) {
        check_vector(wrmsr_safe(IA32_TME_ACTIVATE, ENABLE | KEYID_BITS(1) |
                                ALG_AES_XTS_128), NO_EXCEPTION,
                     "WRMSR with KeyID bits, RNG failure: no #GP");
        expect_activate(0x8, "unchanged: the write with KeyID bits is not "
                        "committed");
    }
    check_vector(wrmsr_safe(IA32_TME_ACTIVATE, 0), NO_EXCEPTION,
                 "WRMSR enable 0 after the failures");
    expect_activate(LOCK, "x..x01b: TME disabled, MSR locked");
}

/* WRMSR with enable=0 locks TME off */
static void test_lock_disabled(void)
{
    test_cpuid(true);
    check_vector(wrmsr_safe(IA32_TME_ACTIVATE, SAVE_KEY | LOCK), NO_EXCEPTION,
                 "WRMSR enable 0 (written lock bit ignored)");
    expect_activate(SAVE_KEY | LOCK, "x..x01b: TME disabled, MSR locked");
    test_partitioning(0, "with TME locked off");
    test_locked(SAVE_KEY | LOCK);
    test_core_activate(0);
}

/* The firmware's first SMI locks the MSR (4.2.1) */
static void test_smm(void)
{
    test_cpuid(true);
    expect_activate(LOCK, "locked by the firmware's first SMI, TME off");
    if (max_bits) {
        check_u64(rdmsr(MK_TME_CORE_ACTIVATE), 0,
                  "MK_TME_CORE_ACTIVATE synchronized by the SMI");
    }
    test_locked(LOCK);
}

/* The state survives migration (run-migration sends an NMI afterwards) */
static void test_migrate(void)
{
    uint64_t act = ENABLE | SAVE_KEY | KEYID_BITS(max_bits) | ALG_AES_XTS_128;
    uint64_t mask = ((1ULL << phys_bits) - (1ULL << 30)) | EXCLUDE_ENABLE;

    test_cpuid(true);
    check_vector(wrmsr_safe(IA32_TME_EXCLUDE_MASK, mask), NO_EXCEPTION,
                 "WRMSR IA32_TME_EXCLUDE_MASK");
    check_vector(wrmsr_safe(IA32_TME_EXCLUDE_BASE, 1ULL << 30), NO_EXCEPTION,
                 "WRMSR IA32_TME_EXCLUDE_BASE");
    check_vector(wrmsr_safe(IA32_TME_ACTIVATE, act), NO_EXCEPTION,
                 "WRMSR IA32_TME_ACTIVATE");
    check_vector(wrmsr_safe(MK_TME_CORE_ACTIVATE, 0), NO_EXCEPTION,
                 "WRMSR MK_TME_CORE_ACTIVATE");
    printf("# ready for migration\n");
    while (!nmi_count) {
        asm volatile("hlt");
    }
    printf("# resumed after migration\n");
    expect_activate(act | LOCK, "migrated: enabled, locked");
    check_u64(rdmsr(IA32_TME_EXCLUDE_MASK), mask, "IA32_TME_EXCLUDE_MASK "
              "migrated");
    check_u64(rdmsr(IA32_TME_EXCLUDE_BASE), 1ULL << 30,
              "IA32_TME_EXCLUDE_BASE migrated");
    check_u64(rdmsr(MK_TME_CORE_ACTIVATE), KEYID_BITS(max_bits),
              "MK_TME_CORE_ACTIVATE migrated");
    test_locked(act | LOCK);
}

/*
 * A vhost or VFIO device shares guest RAM (run-sharing): its host bytes
 * must stay KeyID 0's view, so KeyIDs other than 0 cannot be enabled.
 * Not architectural; TME without KeyIDs still works.
 */
static void test_shared(void)
{
    uint64_t act = ENABLE | KEYID_BITS(max_bits) | ALG_AES_XTS_128;

    test_cpuid(true);
    test_capability();
    expect_activate(0, "is 0 after reset (unlocked)");
    check_vector(wrmsr_safe(IA32_TME_ACTIVATE, act), GP_VECTOR,
                 "WRMSR IA32_TME_ACTIVATE with KeyID bits #GP while a "
                 "device shares RAM");
    expect_activate(0, "unchanged: not enabled, not locked");
    check_vector(wrmsr_safe(IA32_TME_ACTIVATE, ENABLE), NO_EXCEPTION,
                 "WRMSR IA32_TME_ACTIVATE, TME without KeyIDs");
    expect_activate(ENABLE | LOCK, "TME enabled and locked, no KeyID bits");
    test_core_activate(0);
}

/*
 * MK_TME_CORE_ACTIVATE is per core (4.2.3): the firmware, or the guest
 * after activating TME, writes it on every core.  Each CPU checks it
 * through a page mapped at (4 + cpu) GiB through KeyID 1: until this
 * core is activated the KeyID bits are address bits above RAM, after
 * it they select KeyID 1, which PCONFIG never programmed, so the alias
 * reads the page through the TME key as KeyID 0 does.
 */
#define KEYID_PAGE      0x1000000UL
#define GIB             (1ULL << 30)

extern uint64_t pdpt[512];
static uint64_t pd_cpu[SMP_MAX_CPUS][512] __attribute__((aligned(4096)));
static volatile int core_done[SMP_MAX_CPUS];
static uint64_t package_activate;

/* How many quadwords of KEYID_PAGE this CPU reads through KeyID 1 */
static int keyid1_alias_count(int cpu)
{
    uint64_t *pd = pd_cpu[cpu];
    int i;

    for (i = 0; i < 512; i++) {
        pd[i] = ((uint64_t)i << 21) | 1ULL << (phys_bits - keyid_bits) |
                0x83;                   /* present, writable, 2 MiB */
    }
    pdpt[4 + cpu] = (uint64_t)pd | 0x3;
    flush_tlb();
    return count_pattern((4 + cpu) * GIB + KEYID_PAGE, 3);
}

/*
 * The exception table on every CPU at once: each CPU alternates a RDMSR
 * that succeeds with a WRMSR that #GPs, out of step with its neighbours,
 * and must always see its own outcome in its own last_exc.
 */
#define EXC_ROUNDS      200000
static volatile int exc_ready;

static void exc_storm(int cpu)
{
    int i, wrong = 0;
    uint64_t v;

    if (!smp_barrier(&exc_ready, smp_cpus(), 10000)) {
        check(false, "the other CPUs came to the exception test");
        return;
    }
    for (i = 0; i < EXC_ROUNDS; i++) {
        if ((i + cpu) & 1) {
            wrong += wrmsr_safe(IA32_TME_CAPABILITY, 0) != GP_VECTOR;
        } else {
            wrong += rdmsr_safe(IA32_TME_CAPABILITY, &v) != NO_EXCEPTION;
        }
    }
    check(wrong == 0, "%d RDMSR and WRMSR #GP in turn, on all CPUs at "
          "once: each outcome seen by its own CPU (%d wrong)", EXC_ROUNDS,
          wrong);
}

/* On each CPU: the firmware activated TME and this core */
static void firmware_core(int cpu, void *arg)
{
    uint64_t v;

    exc_storm(cpu);
    check_u64(rdmsr(IA32_TME_ACTIVATE), package_activate,
              "IA32_TME_ACTIVATE reads the package's value");
    check_vector(wrmsr_safe(IA32_TME_ACTIVATE, package_activate), GP_VECTOR,
                 "WRMSR IA32_TME_ACTIVATE #GP: the lock is package-wide");
    check_vector(wrmsr_safe(IA32_TME_EXCLUDE_MASK, 0), GP_VECTOR,
                 "WRMSR IA32_TME_EXCLUDE_MASK after lock #GP");
    if (max_bits) {
        check_vector(rdmsr_safe(MK_TME_CORE_ACTIVATE, &v), NO_EXCEPTION,
                     "RDMSR MK_TME_CORE_ACTIVATE");
        check_u64(v, KEYID_BITS(keyid_bits),
                  "the firmware core-activated this core");
        check(keyid1_alias_count(cpu) == 512,
              "KeyID 1 in a PDE reaches the page on this core");
    }
    test_core_activate(KEYID_BITS(keyid_bits));
    core_done[cpu] = 1;
}

/* Every CPU ran its part: the test fails for an AP that did not */
static void check_all_done(int ran, const char *what)
{
    int i, n = 0;

    for (i = 0; i < SMP_MAX_CPUS; i++) {
        n += core_done[i];
        core_done[i] = 0;
    }
    check(ran == smp_expected_cpus() && n == smp_expected_cpus(),
          "%s: %d of %d CPUs done", what, n, smp_expected_cpus());
}

static void test_firmware_smp(void)
{
    fill_pattern(KEYID_PAGE, 3);
    package_activate = rdmsr(IA32_TME_ACTIVATE);
    smp_start_checked();
    check_all_done(smp_run(firmware_core, NULL),
                   "firmware activation checked on every CPU");
}

/* On each CPU before the guest activates TME */
static void core_before(int cpu, void *arg)
{
    uint64_t v;

    check_vector(rdmsr_safe(MK_TME_CORE_ACTIVATE, &v), NO_EXCEPTION,
                 "RDMSR MK_TME_CORE_ACTIVATE before activation");
    check_u64(v, 0, "MK_TME_CORE_ACTIVATE is 0 after reset");
    check_vector(wrmsr_safe(MK_TME_CORE_ACTIVATE, KEYID_BITS(1)), GP_VECTOR,
                 "WRMSR MK_TME_CORE_ACTIVATE non-zero KeyID bits #GP");
    check_vector(wrmsr_safe(MK_TME_CORE_ACTIVATE, 1), GP_VECTOR,
                 "WRMSR MK_TME_CORE_ACTIVATE reserved bit 0 #GP");
    check_vector(wrmsr_safe(MK_TME_CORE_ACTIVATE, 0), NO_EXCEPTION,
                 "WRMSR MK_TME_CORE_ACTIVATE 0 before activation");
    check_u64(rdmsr(MK_TME_CORE_ACTIVATE), 0,
              "MK_TME_CORE_ACTIVATE shadows the package: no KeyID bits yet");
    check(keyid1_alias_count(cpu) == 0,
          "KeyID bits are address bits: the alias does not reach the page");
    core_done[cpu] = 1;
}

/* On each CPU after the BSP activated TME and MKTME */
static void core_after(int cpu, void *arg)
{
    check_u64(rdmsr(IA32_TME_ACTIVATE), package_activate,
              "IA32_TME_ACTIVATE reads the package's value");
    check_vector(wrmsr_safe(IA32_TME_ACTIVATE, 0), GP_VECTOR,
                 "WRMSR IA32_TME_ACTIVATE #GP: the lock is package-wide");
    check_u64(rdmsr(MK_TME_CORE_ACTIVATE), 0,
              "MK_TME_CORE_ACTIVATE still 0: not yet written on this core");
    check(keyid1_alias_count(cpu) == 0,
          "the alias does not reach the page before this core is "
          "activated");
    test_core_activate(KEYID_BITS(max_bits));
    check(keyid1_alias_count(cpu) == 512,
          "KeyID 1 in a PDE reaches the page once this core is activated");
    check_vector(wrmsr_safe(MK_TME_CORE_ACTIVATE, KEYID_BITS(max_bits)),
                 GP_VECTOR, "WRMSR MK_TME_CORE_ACTIVATE with the package's "
                 "KeyID bits #GP (read-only)");
    check_u64(rdmsr(MK_TME_CORE_ACTIVATE), KEYID_BITS(max_bits),
              "MK_TME_CORE_ACTIVATE unchanged by the faulting write");
    core_done[cpu] = 1;
}

/* The guest activates TME and writes MK_TME_CORE_ACTIVATE on each core */
static void test_core_activate_smp(void)
{
    uint64_t act = ENABLE | SAVE_KEY | KEYID_BITS(max_bits) |
                   ALG_AES_XTS_128;

    test_cpuid(true);
    expect_activate(0, "is 0 after reset (unlocked)");
    fill_pattern(KEYID_PAGE, 3);
    smp_start_checked();
    check_all_done(smp_run(core_before, NULL),
                   "MK_TME_CORE_ACTIVATE checked on every CPU before "
                   "activation");
    check_vector(wrmsr_safe(IA32_TME_ACTIVATE, act), NO_EXCEPTION,
                 "WRMSR IA32_TME_ACTIVATE on the BSP: enable, MKTME");
    expect_activate(act | LOCK, "enabled and locked");
    package_activate = act | LOCK;
    check_all_done(smp_run(core_after, NULL),
                   "every CPU core-activated after the activation");
}

int main(void)
{
    setup_idt();
    max_bits = cmdline_opt("max-keyid-bits", 6);
    max_keys = cmdline_opt("max-keys", (1ULL << max_bits) - 1);
    phys_bits = cmdline_opt("phys-bits", 46);
    keyid_bits = cmdline_opt("keyid-bits", max_bits);
    printf("# tme-msr: %s\n", cmdline());

    if (cmdline_has("notme")) {
        test_not_enumerated();
    } else if (cmdline_has("self")) {
        if (cmos_read(CMOS_STAGE) == 0xa5) {
            cmos_write(CMOS_STAGE, 0);
            tap_set_count(cmos_read(CMOS_COUNT));
            test_restore();
        } else {
            test_self();
            fill_pattern(DRAM_PAGE_A, 1);
            fill_pattern(DRAM_PAGE_B, 2);
            /* Reset and restore the saved key: the ROW x..x111b */
            printf("# resetting to test key restore\n");
            cmos_write(CMOS_COUNT, tap_count);
            cmos_write(CMOS_STAGE, tap_failed ? 0 : 0xa5);
            if (!tap_failed) {
                system_reset();
            }
        }
    } else if (cmdline_has("firmware")) {
        test_firmware();
        if (smp_expected_cpus() > 1 || cmdline_has("cpus")) {
            test_firmware_smp();
        }
    } else if (cmdline_has("coreactivate")) {
        test_core_activate_smp();
    } else if (cmdline_has("rngfail")) {
        test_rng_fail();
    } else if (cmdline_has("lockdisabled")) {
        test_lock_disabled();
    } else if (cmdline_has("migrate")) {
        test_migrate();
    } else if (cmdline_has("smm")) {
        test_smm();
    } else if (cmdline_has("shared")) {
        test_shared();
    } else {
        printf("Bail out! no scenario on the command line\n");
        exit_qemu(2);
    }
    tap_done();
    return 0;
}
