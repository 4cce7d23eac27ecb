/*
 * Bare-metal tests of PCONFIG (MKTME_KEY_PROGRAM): one test per check of
 * the pseudo-code of section 6.2.5 of Intel's Memory Encryption
 * Technologies Specification rev 1.0, with the exceptions of 6.2.7 to
 * 6.2.12 in 64-bit, compatibility, 32-bit protected, real-address and
 * virtual-8086 mode and at CPL 3.
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Scenarios (command line): firmware | inactive | tmeonly | lockedoff |
 * noenum | entropy | concurrent (PCONFIG on every CPU at once, with
 * cpus=N); max-keyid-bits=N max-keys=N as in tme-msr.c.
 */

#include "lib.h"

#define IA32_TME_ACTIVATE       0x982
#define ENABLE                  (1ULL << 1)

#define CMD_DIRECT              0
#define CMD_RANDOM              1
#define CMD_CLEAR               2
#define CMD_NO_ENCRYPT          3
#define ALG_AES_XTS_128         (1 << 8)

#define PROG_SUCCESS            0
#define INVALID_PROG_CMD        1
#define ENTROPY_ERROR           2
#define INVALID_KEYID           3
#define INVALID_ENC_ALG         4

#define F_CF    (1 << 0)
#define F_PF    (1 << 2)
#define F_AF    (1 << 4)
#define F_ZF    (1 << 6)
#define F_SF    (1 << 7)
#define F_DF    (1 << 10)
#define F_OF    (1 << 11)
#define F_STATUS (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

static struct mktme_key_program kp_buf[2] __attribute__((aligned(4096)));
#define kp (&kp_buf[0])

extern uint32_t compat_flags_in, compat_flags_out;
uint64_t compat_pconfig(uint32_t eax, uint32_t ebx, uint16_t ds);
void user_pconfig(void);

static uint64_t max_bits, max_keys;

/* legacy.S: PCONFIG in 32-bit protected, real and virtual-8086 mode */
#define GIB                     (1ULL << 30)
#define LEGACY_BASE     0x7000
#define LEGACY_KP       0x6000      /* a structure below 64 KiB */
extern char legacy_blob[], legacy_blob_end[];
extern uint32_t lg_mode, lg_eax, lg_ebx, lg_ds, lg_flags_in, lg_flags_out;
extern uint32_t lg_eax_out, lg_vector, lg_error;
extern uint64_t idt32[];
extern const uint32_t exc32_table[4];
void legacy_pconfig(void);
#define LEGACY_VAR(v) \
    (*(volatile uint32_t *)(uintptr_t)(LEGACY_BASE + ((char *)&(v) - legacy_blob)))

struct result {
    int vector;
    uint64_t rax;
    uint64_t flags;
};

static void zero(void *p, size_t n)
{
    uint8_t *b = p;

    while (n--) {
        *b++ = 0;
    }
}

static void prepare(uint16_t keyid, uint32_t cmd, uint32_t alg)
{
    int i;

    zero(kp, sizeof(*kp));
    kp->keyid = keyid;
    kp->keyid_ctrl = cmd | alg;
    for (i = 0; i < 16; i++) {
        kp->key_field_1[i] = 0x10 + i + keyid;
        kp->key_field_2[i] = 0x80 + i + keyid;
    }
}

/* PCONFIG with all six status flags set before, so clearing shows */
static struct result pconfig(uint64_t rax, const void *rbx)
{
    struct result r;
    uint64_t flags = 0x2 | F_STATUS;

    last_exc.vector = NO_EXCEPTION;
    asm volatile("push %[f]\n\tpopf\n\t"
                 "1: .byte 0x0f, 0x01, 0xc5\n"
                 "2: pushf\n\tpop %[f]\n\t" EXTABLE_ENTRY(1b, 2b)
                 : "+a"(rax), [f] "+r"(flags) : "b"(rbx) : "memory", "cc");
    r.vector = last_exc.vector;
    r.rax = rax;
    r.flags = flags;
    return r;
}

static void expect_gp(struct result r, const char *what)
{
    check_vector(r.vector, GP_VECTOR, "PCONFIG %s: #GP(0)", what);
}

/* RAX and all six flags: ZF set on failure, CF PF AF OF SF cleared */
static void expect_status(struct result r, uint64_t status, const char *what)
{
    uint64_t want = status ? F_ZF : 0;

    if (!check_vector(r.vector, NO_EXCEPTION, "PCONFIG %s: no exception",
                      what)) {
        return;
    }
    check_u64(r.rax, status, "PCONFIG %s: RAX = %lu", what, status);
    check_u64(r.flags & F_STATUS, want, "PCONFIG %s: ZF=%d, CF PF AF OF SF "
              "cleared", what, status ? 1 : 0);
}

static void test_leaf(void)
{
    prepare(1, CMD_DIRECT, ALG_AES_XTS_128);
    expect_gp(pconfig(1, kp), "leaf 1 (reserved)");
    expect_gp(pconfig(0xffffffff, kp), "leaf 0xffffffff");
    expect_status(pconfig(0xffffffff00000000ULL, kp), PROG_SUCCESS,
                  "leaf in EAX, RAX[63:32] ignored");
}

static void test_address(void)
{
    prepare(1, CMD_DIRECT, ALG_AES_XTS_128);
    expect_gp(pconfig(0, (uint8_t *)kp + 8), "structure 8-byte aligned");
    expect_gp(pconfig(0, (uint8_t *)kp + 128), "structure 128-byte aligned");
    expect_gp(pconfig(0, (void *)0x0000800000000000ULL),
              "non-canonical address");
    expect_gp(pconfig(0, (void *)0xffff7fffffffff00ULL),
              "non-canonical address (upper half)");
    check_vector(pconfig(0, (void *)0x200000000ULL).vector, PF_VECTOR,
                 "PCONFIG structure not mapped: #PF");
    check_u64(last_exc.cr2, 0x200000000ULL, "#PF CR2 is the structure");
    check_u64(last_exc.error, 0, "#PF error code: not present, read, "
              "supervisor");
    expect_gp(pconfig(0, (void *)0x200000080ULL),
              "misaligned and not mapped: alignment first");
}

static void test_reserved(void)
{
    static const struct {
        int offset;
        uint8_t value;
        const char *what;
    } rsvd[] = {
        { 6, 1, "RSVD byte 6" }, { 63, 0x80, "RSVD byte 63" },
        { 5, 0x01, "KEYID_CTRL bit 24" }, { 5, 0x80, "KEYID_CTRL bit 31" },
        { 64 + 16, 1, "KEY_FIELD_1 byte 16" },
        { 64 + 63, 1, "KEY_FIELD_1 byte 63" },
        { 128 + 16, 1, "KEY_FIELD_2 byte 16" },
        { 128 + 63, 1, "KEY_FIELD_2 byte 63" },
    };
    unsigned i;

    for (i = 0; i < sizeof(rsvd) / sizeof(rsvd[0]); i++) {
        prepare(1, CMD_DIRECT, ALG_AES_XTS_128);
        ((uint8_t *)kp)[rsvd[i].offset] = rsvd[i].value;
        expect_gp(pconfig(0, kp), rsvd[i].what);
    }
    /* Reserved fields come before the command check */
    prepare(1, 9, ALG_AES_XTS_128);
    ((uint8_t *)kp)[7] = 1;
    expect_gp(pconfig(0, kp), "reserved field and bad command");
}

static void test_return_codes(void)
{
    uint64_t limit = (1ULL << max_bits) - 1;

    prepare(1, 4, ALG_AES_XTS_128);
    expect_status(pconfig(0, kp), INVALID_PROG_CMD, "command 4");
    prepare(1, 255, ALG_AES_XTS_128);
    expect_status(pconfig(0, kp), INVALID_PROG_CMD, "command 255");
    prepare(0, 4, 0);
    expect_status(pconfig(0, kp), INVALID_PROG_CMD,
                  "bad command, KeyID and algorithm: command first");

    prepare(0, CMD_DIRECT, ALG_AES_XTS_128);
    expect_status(pconfig(0, kp), INVALID_KEYID, "KeyID 0");
    prepare(limit + 1, CMD_DIRECT, ALG_AES_XTS_128);
    expect_status(pconfig(0, kp), INVALID_KEYID,
                  "KeyID 2^MK_TME_KEYID_BITS");
    prepare(0xffff, CMD_DIRECT, ALG_AES_XTS_128);
    expect_status(pconfig(0, kp), INVALID_KEYID, "KeyID 0xffff");
    if (max_keys < limit) {
        prepare(max_keys + 1, CMD_DIRECT, ALG_AES_XTS_128);
        expect_status(pconfig(0, kp), INVALID_KEYID,
                      "KeyID MK_TME_MAX_KEYS + 1");
        prepare(max_keys, CMD_DIRECT, ALG_AES_XTS_128);
        expect_status(pconfig(0, kp), PROG_SUCCESS, "KeyID MK_TME_MAX_KEYS");
    }
    prepare(0, CMD_DIRECT, 0);
    expect_status(pconfig(0, kp), INVALID_KEYID,
                  "bad KeyID and algorithm: KeyID first");

    prepare(1, CMD_DIRECT, 0);
    expect_status(pconfig(0, kp), INVALID_ENC_ALG, "no algorithm");
    prepare(1, CMD_DIRECT, 2 << 8);
    expect_status(pconfig(0, kp), INVALID_ENC_ALG,
                  "algorithm bit 1, not allowed by MK_TME_CRYPTO_ALGS");
    prepare(1, CMD_DIRECT, 3 << 8);
    expect_status(pconfig(0, kp), INVALID_ENC_ALG, "two algorithms");
    prepare(1, CMD_DIRECT, 0x8000 << 8);
    expect_status(pconfig(0, kp), INVALID_ENC_ALG, "algorithm bit 15");

    prepare(1, CMD_DIRECT, ALG_AES_XTS_128);
    expect_status(pconfig(0, kp), PROG_SUCCESS, "KEYID_SET_KEY_DIRECT");
    prepare(limit < max_keys ? limit : max_keys, CMD_DIRECT, ALG_AES_XTS_128);
    expect_status(pconfig(0, kp), PROG_SUCCESS, "highest KeyID");
    prepare(2, CMD_RANDOM, ALG_AES_XTS_128);
    expect_status(pconfig(0, kp), PROG_SUCCESS, "KEYID_SET_KEY_RANDOM");
    prepare(2, CMD_CLEAR, ALG_AES_XTS_128);
    expect_status(pconfig(0, kp), PROG_SUCCESS, "KEYID_CLEAR_KEY");
    prepare(3, CMD_NO_ENCRYPT, ALG_AES_XTS_128);
    expect_status(pconfig(0, kp), PROG_SUCCESS, "KEYID_NO_ENCRYPT");
}

/* 6.2.7: prefixes; @ud: #UD expected, else ignored (PCONFIG succeeds) */
#define PREFIX_TEST(bytes, ud, what)                                    \
    do {                                                                \
        uint64_t rax = 0;                                               \
                                                                        \
        prepare(1, CMD_DIRECT, ALG_AES_XTS_128);                        \
        last_exc.vector = NO_EXCEPTION;                                 \
        asm volatile("1: .byte " bytes "\n2:\n\t" EXTABLE_ENTRY(1b, 2b) \
                     : "+a"(rax) : "b"(kp) : "memory", "cc");           \
        if (ud) {                                                       \
            check_vector(last_exc.vector, UD_VECTOR,                    \
                         "PCONFIG with %s: #UD", what);                 \
        } else {                                                        \
            check(last_exc.vector == NO_EXCEPTION && rax == 0,           \
                  "PCONFIG with %s: ignored", what);                   \
        }                                                               \
    } while (0)

static void test_prefixes(void)
{
    PREFIX_TEST("0xf0, 0x0f, 0x01, 0xc5", true, "LOCK");
    PREFIX_TEST("0xf3, 0x0f, 0x01, 0xc5", true, "REP/REPE");
    PREFIX_TEST("0xf2, 0x0f, 0x01, 0xc5", true, "REPNE");
    PREFIX_TEST("0x66, 0x0f, 0x01, 0xc5", true, "operand size");
    PREFIX_TEST("0xc5, 0xf8, 0x01, 0xc5", true, "VEX (2-byte)");
    PREFIX_TEST("0xc4, 0xe1, 0x78, 0x01, 0xc5", true, "VEX (3-byte)");
    PREFIX_TEST("0x3e, 0x0f, 0x01, 0xc5", false, "DS override");
    PREFIX_TEST("0x26, 0x0f, 0x01, 0xc5", false, "ES override");
    PREFIX_TEST("0x64, 0x0f, 0x01, 0xc5", false, "FS override");
    PREFIX_TEST("0x67, 0x0f, 0x01, 0xc5", false, "address size");
    PREFIX_TEST("0x48, 0x0f, 0x01, 0xc5", false, "REX.W");
    PREFIX_TEST("0x41, 0x0f, 0x01, 0xc5", false, "REX.B");
}

/*
 * 6.2.7 where ignoring prefixes matters: in 64-bit mode FS and GS
 * overrides with bases above 4 GiB, and an address-size prefix with the
 * structure above 4 GiB, are ignored: PCONFIG reads the structure at RBX.
 */
static uint64_t pd_hi[512] __attribute__((aligned(4096)));
#define HI_OFFSET       (32ULL << 20)   /* [4 GiB, 5 GiB) -> [32 MiB, ...) */

static void test_prefix_bases(void)
{
    extern uint64_t pdpt[512];
    struct mktme_key_program *hi_phys;
    uint64_t rax = 0;
    int i;

    wrmsr_safe(0xc0000100, 8 * GIB);            /* FS base */
    wrmsr_safe(0xc0000101, 8 * GIB);            /* GS base */
    PREFIX_TEST("0x64, 0x0f, 0x01, 0xc5", false, "FS override, FS base 8 GiB");
    PREFIX_TEST("0x65, 0x0f, 0x01, 0xc5", false, "GS override, GS base 8 GiB");
    wrmsr_safe(0xc0000100, 0);
    wrmsr_safe(0xc0000101, 0);

    /*
     * RBX = 4 GiB + kp maps another page than kp, whose address the
     * 32-bit truncation of RBX would give: a valid structure there, one
     * with an invalid command at kp.
     */
    for (i = 0; i < 512; i++) {
        pd_hi[i] = (((uint64_t)i << 21) + HI_OFFSET) | 0x83;
    }
    pdpt[4] = (uint64_t)pd_hi | 0x3;
    flush_tlb();
    hi_phys = (struct mktme_key_program *)((uint64_t)kp + HI_OFFSET);
    prepare(1, CMD_DIRECT, ALG_AES_XTS_128);
    *hi_phys = *kp;
    kp->keyid_ctrl = 7 | ALG_AES_XTS_128;
    last_exc.vector = NO_EXCEPTION;
    asm volatile("1: .byte 0x67, 0x0f, 0x01, 0xc5\n2:\n\t"
                 EXTABLE_ENTRY(1b, 2b)
                 : "+a"(rax) : "b"(4 * GIB + (uint64_t)kp) : "memory", "cc");
    check(last_exc.vector == NO_EXCEPTION && rax == PROG_SUCCESS,
          "PCONFIG with an address-size prefix reads the structure at RBX "
          "above 4 GiB, not at EBX (vector %d, RAX %lu)", last_exc.vector,
          rax);
    pdpt[4] = 0;
    flush_tlb();
}

static void test_cpl3(void)
{
    prepare(1, CMD_DIRECT, ALG_AES_XTS_128);
    last_exc.vector = NO_EXCEPTION;
    user_pconfig();
    check_vector(last_exc.vector, UD_VECTOR, "PCONFIG at CPL 3: #UD");
}

/* 6.2.11: compatibility mode, same exceptions as protected mode */
static void test_compat(void)
{
    uint32_t ebx = (uint32_t)(uint64_t)kp;
    uint64_t rax;

    prepare(1, CMD_DIRECT, ALG_AES_XTS_128);
    compat_flags_in = 0x2 | F_STATUS;
    last_exc.vector = NO_EXCEPTION;
    rax = compat_pconfig(0, ebx, 0x10);
    check(last_exc.vector == NO_EXCEPTION && rax == 0 &&
          !(compat_flags_out & F_STATUS),
          "compatibility mode: KEYID_SET_KEY_DIRECT succeeds, flags clear");

    prepare(1, 7, ALG_AES_XTS_128);
    compat_flags_in = 0x2 | F_CF | F_SF;
    rax = compat_pconfig(0, ebx, 0x10);
    check(last_exc.vector == NO_EXCEPTION && rax == INVALID_PROG_CMD &&
          (compat_flags_out & F_STATUS) == F_ZF,
          "compatibility mode: INVALID_PROG_CMD, ZF=1");

    prepare(1, CMD_DIRECT, ALG_AES_XTS_128);
    compat_pconfig(1, ebx, 0x10);
    check_vector(last_exc.vector, GP_VECTOR, "compatibility mode: leaf 1 #GP");
    compat_pconfig(0, ebx + 64, 0x10);
    check_vector(last_exc.vector, GP_VECTOR,
                 "compatibility mode: misaligned #GP");
    /* DS = 16-bit data segment: limit 0xffff */
    compat_pconfig(0, 0x10000, 0x38);
    check_vector(last_exc.vector, GP_VECTOR,
                 "compatibility mode: outside the DS segment limit #GP");
    compat_pconfig(0, ebx, 0);
    check_vector(last_exc.vector, GP_VECTOR,
                 "compatibility mode: null DS #GP");
}

static void legacy_setup(void)
{
    static const int vec[4] = { 0, 6, 13, 14 };
    char *dst = (char *)LEGACY_BASE;
    char *src;
    int i;

    for (src = legacy_blob; src < legacy_blob_end; src++) {
        *dst++ = *src;
    }
    for (i = 0; i < 4; i++) {
        uint32_t h = exc32_table[i];

        idt32[vec[i]] = (h & 0xffff) | (0x18ULL << 16) | (0x8e00ULL << 32) |
                        (uint64_t)(h >> 16) << 48;
    }
}

static struct result legacy(int mode, uint32_t eax, uint32_t ebx,
                            uint16_t ds)
{
    struct result r;

    LEGACY_VAR(lg_mode) = mode;
    LEGACY_VAR(lg_eax) = eax;
    LEGACY_VAR(lg_ebx) = ebx;
    LEGACY_VAR(lg_ds) = ds;
    LEGACY_VAR(lg_flags_in) = 0x2 | F_STATUS;
    LEGACY_VAR(lg_flags_out) = 0;
    LEGACY_VAR(lg_eax_out) = 0xdead;
    LEGACY_VAR(lg_vector) = (uint32_t)NO_EXCEPTION;
    LEGACY_VAR(lg_error) = 0;
    legacy_pconfig();
    r.vector = (int)LEGACY_VAR(lg_vector);
    r.rax = LEGACY_VAR(lg_eax_out);
    r.flags = LEGACY_VAR(lg_flags_out);
    last_exc.vector = r.vector;
    last_exc.error = LEGACY_VAR(lg_error);
    return r;
}

/*
 * A DS whose base is 1 MiB: PCONFIG reads DS.base + EBX.  GDT entry 0x38
 * (the 16-bit data segment) becomes a flat 32-bit one with that base for
 * this check.
 */
static void test_ds_base(uint32_t ebx)
{
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } g;
    uint64_t *gdt, saved;

    asm volatile("sgdt %0" : "=m"(g));
    gdt = (uint64_t *)g.base;
    saved = gdt[7];
    gdt[7] = 0x00cf92100000ffffULL;     /* base 0x100000, 4 GiB, 32-bit */
    prepare(1, CMD_DIRECT, ALG_AES_XTS_128);
    expect_status(legacy(0, 0, ebx - 0x100000, 0x38), PROG_SUCCESS,
                  "protected mode: DS base 1 MiB, the structure at DS.base + "
                  "EBX");
    gdt[7] = saved;
}

/*
 * A structure that crosses the 4 GiB limit of a flat DS.  An aligned
 * offset never crosses it, so DS gets base 0x80 (GDT entry 0x38, 4 GiB,
 * 32-bit): EBX 0xffffff80 is linear 0 after the 32-bit wrap, 256-byte
 * aligned, and its last byte is offset 0x10000007f, beyond the limit.
 * A valid structure sits at linear 0, and DS base 0 with EBX 0 programs
 * it, so only the limit check can fault.  The 256 bytes at 0 (the real
 * mode IVT) are restored afterwards.
 */
static void test_ds_wrap(bool compat)
{
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } g;
    uint8_t *low = (uint8_t *)(uintptr_t)0;
    uint8_t saved_low[256];
    uint64_t *gdt, saved;
    uint64_t status;
    int i;

    asm volatile("" : "+r"(low));       /* not a null pointer to GCC */
    asm volatile("sgdt %0" : "=m"(g));
    gdt = (uint64_t *)g.base;
    saved = gdt[7];
    prepare(1, CMD_DIRECT, ALG_AES_XTS_128);
    for (i = 0; i < 256; i++) {
        saved_low[i] = low[i];
        low[i] = ((uint8_t *)kp)[i];
    }

    gdt[7] = 0x00cf92000000ffffULL;     /* base 0, 4 GiB, 32-bit */
    if (compat) {
        compat_flags_in = 0x2 | F_STATUS;
        last_exc.vector = NO_EXCEPTION;
        status = compat_pconfig(0, 0, 0x38);
        check(last_exc.vector == NO_EXCEPTION && status == PROG_SUCCESS,
              "compatibility mode: the structure at linear 0 programs "
              "(DS base 0, EBX 0)");
    } else {
        expect_status(legacy(0, 0, 0, 0x38), PROG_SUCCESS,
                      "protected mode: the structure at linear 0 (DS base 0, "
                      "EBX 0)");
    }

    gdt[7] = 0x00cf92000080ffffULL;     /* base 0x80, 4 GiB, 32-bit */
    if (compat) {
        compat_pconfig(0, 0xffffff80, 0x38);
        check_vector(last_exc.vector, GP_VECTOR,
                     "compatibility mode: DS base 0x80, EBX 0xffffff80 "
                     "crosses the 4 GiB DS limit #GP");
    } else {
        expect_gp(legacy(0, 0, 0xffffff80, 0x38),
                  "protected mode: DS base 0x80, EBX 0xffffff80 crosses "
                  "the 4 GiB DS limit");
    }

    gdt[7] = saved;
    for (i = 0; i < 256; i++) {
        low[i] = saved_low[i];
    }
}

/* 6.2.8: 32-bit protected mode, paging off */
static void test_protected(void)
{
    uint32_t ebx = (uint32_t)(uint64_t)kp;

    prepare(1, CMD_DIRECT, ALG_AES_XTS_128);
    expect_status(legacy(0, 0, ebx, 0x10), PROG_SUCCESS,
                  "protected mode: KEYID_SET_KEY_DIRECT");
    prepare(1, 5, ALG_AES_XTS_128);
    expect_status(legacy(0, 0, ebx, 0x10), INVALID_PROG_CMD,
                  "protected mode: command 5");
    prepare(1, CMD_DIRECT, ALG_AES_XTS_128);
    expect_gp(legacy(0, 2, ebx, 0x10), "protected mode: leaf 2");
    expect_gp(legacy(0, 0, ebx + 16, 0x10), "protected mode: misaligned");
    expect_gp(legacy(0, 0, 0x10000, 0x38),
              "protected mode: outside the DS segment limit");
    expect_gp(legacy(0, 0, ebx, 0), "protected mode: null DS");
    test_ds_base(ebx);
    test_ds_wrap(false);
}

/* 6.2.9: real-address mode */
static void test_real(void)
{
    struct mktme_key_program *low = (struct mktme_key_program *)LEGACY_KP;

    prepare(2, CMD_DIRECT, ALG_AES_XTS_128);
    *low = *kp;
    expect_status(legacy(1, 0, LEGACY_KP, 0), PROG_SUCCESS,
                  "real mode: KEYID_SET_KEY_DIRECT at 0000:6000");
    expect_status(legacy(1, 0, 0, LEGACY_KP >> 4), PROG_SUCCESS,
                  "real mode: KEYID_SET_KEY_DIRECT at 0600:0000");
    low->keyid = 0;
    expect_status(legacy(1, 0, LEGACY_KP, 0), INVALID_KEYID,
                  "real mode: KeyID 0");
    low->keyid = 2;
    expect_gp(legacy(1, 1, LEGACY_KP, 0), "real mode: leaf 1");
    expect_gp(legacy(1, 0, LEGACY_KP + 0x40, 0), "real mode: misaligned");
    expect_gp(legacy(1, 0, 0x10000, 0),
              "real mode: outside the 64 KiB DS limit");
    low->rsvd[0] = 1;
    expect_gp(legacy(1, 0, LEGACY_KP, 0), "real mode: reserved field");
}

/* 6.2.10: virtual-8086 mode */
static void test_vm86(void)
{
    check_vector(legacy(2, 0, LEGACY_KP, 0).vector, UD_VECTOR,
                 "virtual-8086 mode: #UD");
}

static void test_firmware(void)
{
    test_leaf();
    test_address();
    test_reserved();
    test_return_codes();
    test_prefixes();
    test_prefix_bases();
    test_cpl3();
    test_compat();
    test_ds_wrap(true);
    /* Last: they leave TR on the 32-bit TSS */
    legacy_setup();
    test_protected();
    test_real();
    test_vm86();
}

/* x-rng-fail with a fixed platform key: RDSEED fails */
static void test_entropy(void)
{
    prepare(1, CMD_RANDOM, ALG_AES_XTS_128);
    expect_status(pconfig(0, kp), ENTROPY_ERROR, "KEYID_SET_KEY_RANDOM "
                  "without entropy");
    prepare(1, CMD_DIRECT, ALG_AES_XTS_128);
    expect_status(pconfig(0, kp), PROG_SUCCESS, "KEYID_SET_KEY_DIRECT after "
                  "ENTROPY_ERROR (KEY_TABLE_LOCK released)");
}

/* #GP(0) unless TME_ACTIVATE is locked with TME and MKTME enabled */
static void test_not_active(const char *why)
{
    prepare(1, CMD_DIRECT, ALG_AES_XTS_128);
    expect_gp(pconfig(0, kp), why);
}

/*
 * PCONFIG on every CPU at once (6.2.4): x-pconfig-delay makes each
 * PCONFIG hold KEY_TABLE_LOCK, so the others get DEVICE_BUSY and retry.
 * Every attempt uses a key of its own; each CPU records the last key it
 * programmed successfully into each KeyID.  Afterwards each KeyID must
 * hold one of those keys, which reading a page it wrote through spare
 * KeyIDs programmed with each candidate shows: only the KeyID with the
 * same key reads the plaintext.  A key from an attempt that returned
 * DEVICE_BUSY, or a torn entry, matches no candidate.
 */
#define DEVICE_BUSY             5
#define STORM_KEYIDS            4           /* KeyIDs 1 to 4 */
#define STORM_SPARE             16          /* candidates: KeyIDs 16.. */
#define STORM_MIN_ROUNDS        8
#define STORM_MAX_ROUNDS        200
#define STORM_PA                0x800000UL  /* a free 2 MiB page */

struct storm_cpu {
    uint32_t attempts;
    uint32_t last_ok[STORM_KEYIDS + 1];     /* attempt number, 0: none */
    int ok, busy, other;
    uint64_t other_rax;
    int done;
};
static struct storm_cpu storm[SMP_MAX_CPUS];
static volatile int storm_ready, storm_busy;

/* The key of attempt @n of CPU @cpu on KeyID @keyid: unique per attempt */
static void storm_key(int cpu, int keyid, uint32_t n, uint8_t *data,
                      uint8_t *tweak)
{
    int i;

    for (i = 0; i < 16; i++) {
        data[i] = 0x11 * i;
        tweak[i] = 0xff - 0x0d * i;
    }
    data[0] = tweak[0] = 0xc0 | cpu;
    data[1] = tweak[1] = keyid;
    data[2] = tweak[2] = n;
    data[3] = tweak[3] = n >> 8;
    data[4] = tweak[4] = n >> 16;
}

static void pconfig_storm(int cpu, void *arg)
{
    struct storm_cpu *me = &storm[cpu];
    uint8_t data[16], tweak[16];
    int r, i;

    /* Start together; a CPU that does not come fails the test */
    if (!smp_barrier(&storm_ready, smp_cpus(), 10000)) {
        return;
    }
    for (r = 0; r < STORM_MAX_ROUNDS &&
         (r < STORM_MIN_ROUNDS || !storm_busy); r++) {
        for (i = 0; i < STORM_KEYIDS; i++) {
            int keyid = 1 + (r + cpu + i) % STORM_KEYIDS;
            uint64_t rax;

            do {
                uint32_t n = ++me->attempts;

                storm_key(cpu, keyid, n, data, tweak);
                rax = mktme_program(keyid, CMD_DIRECT, data, tweak);
                if (rax == PROG_SUCCESS) {
                    me->last_ok[keyid] = n;
                    me->ok++;
                } else if (rax == DEVICE_BUSY) {
                    me->busy++;
                    atomic_fetch_add(&storm_busy, 1);
                } else {
                    me->other++;
                    me->other_rax = rax;
                }
            } while (rax == DEVICE_BUSY);
        }
    }
    me->done = 1;
}

static uint64_t phys_bits, keyid_bits;
static uint64_t storm_pd[512] __attribute__((aligned(4096)));

/* STORM_PA through @keyid, mapped at 4 GiB + STORM_PA */
static volatile uint64_t *map_keyid(uint64_t keyid)
{
    extern uint64_t pdpt[512];
    int i;

    for (i = 0; i < 512; i++) {
        storm_pd[i] = ((uint64_t)i << 21) |
                      keyid << (phys_bits - keyid_bits) | 0x83;
    }
    pdpt[4] = (uint64_t)storm_pd | 0x3;
    flush_tlb();
    return (volatile uint64_t *)(4 * GIB + STORM_PA);
}

static uint64_t storm_pattern(int i, int keyid)
{
    return 0x5707e00000000000ULL ^ (uint64_t)keyid << 32 ^ i * 0x10001ULL;
}

static void test_concurrent(void)
{
    uint32_t a, b, c, d;
    uint8_t data[16], tweak[16];
    int n, cpu, keyid, i, done = 0, busy = 0;

    cpuid(0x80000008, 0, &a, &b, &c, &d);
    phys_bits = a & 0xff;
    keyid_bits = (rdmsr(IA32_TME_ACTIVATE) >> 32) & 0xf;
    n = smp_start_checked();
    printf("# PCONFIG on %d CPUs at once\n", n);
    check_u64(smp_run(pconfig_storm, NULL), smp_expected_cpus(),
              "every CPU ran PCONFIG to the end");
    for (cpu = 0; cpu < SMP_MAX_CPUS; cpu++) {
        struct storm_cpu *s = &storm[cpu];

        if (!s->done) {
            continue;
        }
        done++;
        busy += s->busy;
        if (!check(s->other == 0 &&
                   s->ok >= STORM_MIN_ROUNDS * STORM_KEYIDS,
                   "CPU %d: %d PCONFIG succeeded, %d returned DEVICE_BUSY "
                   "and were retried, none returned another code", cpu,
                   s->ok, s->busy)) {
            printf("#   %d returned another code, the last 0x%lx\n",
                   s->other, s->other_rax);
        }
    }
    check(done == smp_expected_cpus(), "%d of %d CPUs reported", done,
          smp_expected_cpus());
    check(busy > 0, "DEVICE_BUSY seen %d times: the CPUs collided on "
          "KEY_TABLE_LOCK", busy);

    for (keyid = 1; keyid <= STORM_KEYIDS; keyid++) {
        volatile uint64_t *p = map_keyid(keyid);
        int holder = -1, matches = 0;

        for (i = 0; i < 512; i++) {
            p[i] = storm_pattern(i, keyid);
        }
        for (cpu = 0; cpu < SMP_MAX_CPUS; cpu++) {
            uint32_t last = storm[cpu].last_ok[keyid];
            int same = 0;

            if (!storm[cpu].done || !last) {
                continue;
            }
            storm_key(cpu, keyid, last, data, tweak);
            if (mktme_program(STORM_SPARE + cpu, CMD_DIRECT, data, tweak) !=
                PROG_SUCCESS) {
                continue;
            }
            p = map_keyid(STORM_SPARE + cpu);
            for (i = 0; i < 512; i++) {
                same += p[i] == storm_pattern(i, keyid);
            }
            if (same == 512) {
                holder = cpu;
                matches++;
            } else if (same) {
                matches += 100;             /* partly: neither key */
            }
        }
        if (holder < 0 || matches != 1) {
            check(false, "KeyID %d holds exactly one of the keys that the "
                  "CPUs last programmed into it (matches: %d)", keyid,
                  matches);
        } else {
            check(true, "KeyID %d holds the key that CPU %d last "
                  "programmed into it, and no other candidate", keyid,
                  holder);
        }
    }
}

/*
 * KEYID_SET_KEY_RANDOM on KeyID 2 with the entropy entropy=N of the
 * command line; run-random-seed reads the key's fingerprint.  With
 * "probe" instead, RDRAND shows the 32 bytes that the RNG gives at this
 * point: with a fixed -seed PCONFIG would draw the same ones, so the
 * host can compute what the key must be (RNG output XOR entropy).
 */
static void test_random(void)
{
    uint64_t ent = cmdline_opt("entropy", 0), r[4];
    int i;

    if (cmdline_has("probe")) {
        for (i = 0; i < 4; i++) {
            asm volatile("1: rdrand %0; jnc 1b" : "=r"(r[i]) : : "cc");
        }
        printf("# rng %016lx %016lx %016lx %016lx\n", r[0], r[1], r[2], r[3]);
        return;
    }
    prepare(2, CMD_RANDOM, ALG_AES_XTS_128);
    for (i = 0; i < 16; i++) {
        kp->key_field_1[i] = ent * 0x11 + i;
        kp->key_field_2[i] = ent * 0x35 + 7 * i;
    }
    expect_status(pconfig(0, kp), PROG_SUCCESS, "KEYID_SET_KEY_RANDOM");
}

/*
 * The guest activates MKTME itself with a CRYPTO_ALGS bitmask of
 * algs=N (bits 63:48); PCONFIG with AES-XTS-128 then succeeds only if
 * the mask allows it (spec 4.2.1, 6.2.x: INVALID_ENC_ALG).
 */
static void test_allowed_algs(void)
{
    uint64_t algs = cmdline_opt("algs", 0);
    uint64_t act = 2 /* enable */ | (uint64_t)max_bits << 32 | algs << 48;

    check_vector(wrmsr_safe(IA32_TME_ACTIVATE, act), NO_EXCEPTION,
                 "the guest activates MKTME with CRYPTO_ALGS 0x%lx", algs);
    check_u64(rdmsr(IA32_TME_ACTIVATE) >> 48, algs,
              "IA32_TME_ACTIVATE keeps the allowed algorithms");
    check_vector(wrmsr_safe(0x9ff, 0), NO_EXCEPTION, "MK_TME_CORE_ACTIVATE");
    prepare(1, CMD_DIRECT, ALG_AES_XTS_128);
    if (algs & 1) {
        expect_status(pconfig(0, kp), PROG_SUCCESS,
                      "AES-XTS-128, which CRYPTO_ALGS allows");
    } else {
        expect_status(pconfig(0, kp), INVALID_ENC_ALG,
                      "AES-XTS-128, which CRYPTO_ALGS does not allow");
    }
    prepare(1, CMD_NO_ENCRYPT, ALG_AES_XTS_128);
    expect_status(pconfig(0, kp), (algs & 1) ? PROG_SUCCESS : INVALID_ENC_ALG,
                  "KEYID_NO_ENCRYPT checks the algorithm too");
}

int main(void)
{
    setup_idt();
    max_bits = cmdline_opt("max-keyid-bits", 6);
    max_keys = cmdline_opt("max-keys", (1ULL << max_bits) - 1);
    printf("# tme-pconfig: %s\n", cmdline());

    if (cmdline_has("firmware")) {
        test_firmware();
    } else if (cmdline_has("random")) {
        test_random();
        printf("# ready\n");
        for (;;) {
            asm volatile("cli; hlt");
        }
    } else if (cmdline_has("algs")) {
        test_allowed_algs();
    } else if (cmdline_has("concurrent")) {
        test_concurrent();
    } else if (cmdline_has("entropy")) {
        test_entropy();
    } else if (cmdline_has("inactive")) {
        test_not_active("with IA32_TME_ACTIVATE unlocked");
        /* The leaf check comes before the activation check */
        expect_gp(pconfig(1, kp), "leaf 1, not activated");
    } else if (cmdline_has("lockedoff")) {
        check_vector(wrmsr_safe(IA32_TME_ACTIVATE, 0), NO_EXCEPTION,
                     "lock IA32_TME_ACTIVATE with TME disabled");
        test_not_active("with TME disabled and locked");
    } else if (cmdline_has("tmeonly")) {
        test_not_active("with TME enabled but no KeyID bits");
    } else if (cmdline_has("noenum")) {
        prepare(1, CMD_DIRECT, ALG_AES_XTS_128);
        check_vector(pconfig(0, kp).vector, UD_VECTOR,
                     "PCONFIG not enumerated: #UD");
    } else {
        printf("Bail out! no scenario on the command line\n");
        exit_qemu(2);
    }
    tap_done();
    return 0;
}
