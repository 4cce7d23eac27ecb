/*
 * Bare-metal tests of KeyIDs in physical addresses (spec 5.1): in the
 * final translation, in upper-level paging-structure entries and in CR3
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * KeyIDs that PCONFIG never programmed use the TME key (spec 6.2.1.1), so
 * every alias of a page shows the same bytes here.
 *
 * Scenarios: mktme (x86-tme activate=on) | plain (MKTME not activated: the
 * KeyID bits are ordinary address bits) | alias (KeyIDs with their own
 * keys) | dma (device DMA into a page that KeyID 1 owns) | debug (a
 * page for the debug readers of run-debug) | flows (EvictPage, AddPage
 * and paging, spec 7.4 to 7.6) | exclusion | pmem-write, pmem-read
 * (an NVDIMM at 4 GiB, for run-pmem) | migrate (for run-migration) |
 * svm (nested paging with a KeyID) | straddle (one access through two
 * KeyIDs) | secret.
 * phys-bits=N keyid-bits=N.
 */

#include "lib.h"

#define GIB             (1ULL << 30)
#define MIB             (1ULL << 20)
#define TEST_PA         (8 * MIB)           /* a free 2 MiB page */
#define PTE_P           0x1ULL
#define PTE_RW          0x2ULL
#define PTE_PS          0x80ULL

extern uint64_t pml4[512], pdpt[512];
static uint64_t pd_alias[2][512] __attribute__((aligned(4096)));
static uint64_t phys_bits, keyid_bits;

static uint64_t keyid_pa(uint64_t keyid)
{
    return keyid << (phys_bits - keyid_bits);
}

/*
 * Map [n GiB, n GiB + 1 GiB) onto the first GiB with 2 MiB pages through
 * a PD whose pointer carries @dir_keyid and whose entries carry @keyid.
 */
static volatile uint64_t *map_alias(int n, uint64_t dir_keyid, uint64_t keyid)
{
    uint64_t *pd = pd_alias[n - 4];
    int i;

    for (i = 0; i < 512; i++) {
        pd[i] = ((uint64_t)i << 21) | keyid_pa(keyid) | PTE_P | PTE_RW |
                PTE_PS;
    }
    pdpt[n] = (uint64_t)pd | keyid_pa(dir_keyid) | PTE_P | PTE_RW;
    flush_tlb();
    return (volatile uint64_t *)(n * GIB + TEST_PA);
}

/*
 * Multi-CPU tests map pages in windows: window @win maps [(8 + win) GiB,
 * (9 + win) GiB) onto the first GiB through @keyid.  map_win() flushes
 * the TLB of the CPU that calls it only: each CPU maps its own windows,
 * or one whose entries another CPU changed and told it to invalidate.
 */
#define WIN_GIB         8
#define WINDOWS         (2 * SMP_MAX_CPUS)
static uint64_t pd_win[WINDOWS][512] __attribute__((aligned(4096)));

static volatile uint64_t *win_addr(int win, uint64_t pa)
{
    return (volatile uint64_t *)((WIN_GIB + win) * GIB + pa);
}

static volatile uint64_t *map_win(int win, uint64_t keyid, uint64_t pa)
{
    int i;

    for (i = 0; i < 512; i++) {
        pd_win[win][i] = ((uint64_t)i << 21) | keyid_pa(keyid) | PTE_P |
                         PTE_RW | PTE_PS;
    }
    pdpt[WIN_GIB + win] = (uint64_t)pd_win[win] | PTE_P | PTE_RW;
    flush_tlb();
    return win_addr(win, pa);
}

/* Each CPU marks that it ran its part of a multi-CPU test */
static volatile int cpu_done[SMP_MAX_CPUS];

/*
 * Every CPU that QEMU has ran its part: @ran CPUs finished the function
 * (smp_run()) and all marked cpu_done.  Clears the marks.
 */
static void check_all_done(int ran, const char *what)
{
    int i, n = 0;

    for (i = 0; i < SMP_MAX_CPUS; i++) {
        n += !!cpu_done[i];
        cpu_done[i] = 0;
    }
    check(ran == smp_expected_cpus() && n == smp_expected_cpus(),
          "%s: %d of %d CPUs did their part", what, n,
          smp_expected_cpus());
}

static int count_pattern(volatile uint64_t *p, uint64_t salt);
static void test_alias_smp(void);

static void test_mktme(void)
{
    volatile uint64_t *direct = (volatile uint64_t *)TEST_PA;
    volatile uint64_t *alias;
    uint64_t cr3, max = (1ULL << keyid_bits) - 1;
    int ok;

    direct[0] = 0x1122334455667788ULL;
    alias = map_alias(4, 0, 1);
    check_u64(alias[0], 0x1122334455667788ULL,
              "KeyID 1 in the final entry reaches the same page");
    alias[1] = 0xcafef00d;
    check_u64(alias[1], 0xcafef00d, "write and read through KeyID 1");
    check_u64(direct[1], 0xcafef00d, "KeyID 0 sees the write (TME key)");

    alias = map_alias(5, 2, max);
    check_u64(alias[0], 0x1122334455667788ULL,
              "KeyID 2 in the PDPT entry, KeyID %lu in the PD entries", max);

    /* KeyID in CR3: the walk goes on through KeyID 3 */
    asm volatile("mov %%cr3, %0" : "=r"(cr3));
    asm volatile("mov %0, %%cr3" : : "r"(cr3 | keyid_pa(3)) : "memory");
    ok = direct[0] == 0x1122334455667788ULL;
    asm volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
    check(ok, "KeyID 3 in CR3: the walk still reaches the page tables");

    /* Bits from MAXPHYADDR to 51 stay reserved */
    if (phys_bits >= 52) {
        return;
    }
    pd_alias[0][TEST_PA >> 21] |= 1ULL << phys_bits;
    flush_tlb();
    last_exc.vector = NO_EXCEPTION;
    asm volatile("1: mov (%0), %%rax\n2:\n\t" EXTABLE_ENTRY(1b, 2b)
                 : : "r"(4 * GIB + TEST_PA) : "rax", "memory");
    check(last_exc.vector == PF_VECTOR && (last_exc.error & 0x8),
          "bit MAXPHYADDR in a PDE: #PF with RSVD (error 0x%lx)",
          last_exc.error);
}

static const uint8_t key1_data[16] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f };
static const uint8_t key1_tweak[16] = {
    0xf0, 0xe0, 0xd0, 0xc0, 0xb0, 0xa0, 0x90, 0x80,
    0x70, 0x60, 0x50, 0x40, 0x30, 0x20, 0x10, 0x00 };
static const uint8_t key3_data[16] = { 0x33, 0x33, 0x33, 0x33, 0x01 };
static const uint8_t key3_tweak[16] = { 0x44, 0x44, 0x44, 0x44, 0x02 };

/* KeyID 1: direct key, KeyID 2: NO_ENCRYPT, KeyID 3: another key */
static void program_keyids_123(void)
{
    check_u64(mktme_program(1, 0, key1_data, key1_tweak), 0,
              "PCONFIG KeyID 1 KEYID_SET_KEY_DIRECT");
    check_u64(mktme_program(2, 3, NULL, NULL), 0, "PCONFIG KeyID 2 NO_ENCRYPT");
    check_u64(mktme_program(3, 0, key3_data, key3_tweak), 0,
              "PCONFIG KeyID 3 KEYID_SET_KEY_DIRECT");
}

static uint64_t pattern(int i)
{
    return 0x5a5a000000000000ULL ^ ((uint64_t)i * 0x0101010101ULL);
}

/*
 * KeyID 1: direct key, KeyID 2: NO_ENCRYPT, KeyID 3: another key.  The
 * page is written through KeyID 1; KeyID 2 shows the ciphertext (the
 * host checks it with python3-cryptography), KeyID 3 and KeyID 0 show
 * other garbage, and KeyID 1 reads its plaintext back after each.
 */
static void test_alias(void)
{
    volatile uint64_t *k1, *k2, *k3, *k0 = (volatile uint64_t *)TEST_PA;
    uint64_t ct[4], v;
    int i, same;

    program_keyids_123();
    k1 = map_alias(4, 0, 1);
    k2 = map_alias(5, 0, 2);

    for (i = 0; i < 512; i++) {
        k1[i] = pattern(i);
    }
    for (same = 1, i = 0; i < 512; i++) {
        same &= k1[i] == pattern(i);
    }
    check(same, "KeyID 1 reads back what it wrote");

    for (same = 0, i = 0; i < 512; i++) {
        same += k2[i] == pattern(i);
    }
    check(same == 0, "NO_ENCRYPT KeyID 2 does not show KeyID 1's plaintext");
    printf("# ciphertext of KeyID 1 at 0x%lx:", (uint64_t)TEST_PA);
    for (i = 0; i < 4; i++) {
        ct[i] = k2[i];
        printf(" %016lx", ct[i]);
    }
    printf("\n");

    for (same = 1, i = 0; i < 512; i++) {
        same &= k1[i] == pattern(i);
    }
    check(same, "KeyID 1 reads its plaintext again after KeyID 2's read");

    for (same = 0, i = 0; i < 512; i++) {
        same += k0[i] == pattern(i);
    }
    check(same == 0, "KeyID 0 (TME key) does not show KeyID 1's plaintext");

    /* KeyID 3 overwrites one quadword of its view */
    k3 = map_alias(4, 0, 3);
    v = k3[8];
    check(v != pattern(8) && v != ct[0],
          "KeyID 3 (another key) reads garbage");
    k3[8] = 0x3333;
    k1 = map_alias(5, 0, 1);
    check(k1[7] == pattern(7) && k1[10] == pattern(10) &&
          k1[8] != pattern(8) && k1[9] != pattern(9) && k1[8] != 0x3333,
          "KeyID 3's write garbles one 16-byte block of KeyID 1's view");
    k1[8] = pattern(8);
    k1[9] = pattern(9);

    /* A key change: the page reads as D_new(E_old(P)) */
    check_u64(mktme_program(1, 0, key3_data, key3_tweak), 0,
              "PCONFIG KeyID 1 takes KeyID 3's key");
    k3 = map_alias(4, 0, 3);
    for (same = 1, i = 0; i < 512; i++) {
        same &= k1[i] == k3[i];
    }
    check(same, "after the key change KeyIDs 1 and 3 agree");
    check_u64(mktme_program(1, 0, key1_data, key1_tweak), 0,
              "PCONFIG KeyID 1 gets its key back");
    for (same = 1, i = 0; i < 512; i++) {
        same &= k1[i] == pattern(i);
    }
    check(same, "with its old key back KeyID 1 reads its plaintext");

    /* KEYID_CLEAR_KEY: KeyID 1 uses the TME key, like KeyID 0 */
    check_u64(mktme_program(1, 2, NULL, NULL), 0, "PCONFIG KeyID 1 CLEAR_KEY");
    k0[5] = 0x1234;
    check_u64(k1[5], 0x1234, "a cleared KeyID 1 reads what KeyID 0 wrote");

    if (smp_expected_cpus() > 1 || cmdline_has("cpus")) {
        test_alias_smp();
    }
}

/* The bytes of opt/tme/dma, as run-dma writes them */
static uint8_t dma_byte(int i)
{
    return (uint8_t)(i * 13 + 7);
}

/*
 * Device DMA writes as KeyID 0: into a page that KeyID 1 owns, KeyID 0
 * then reads the data and KeyID 1 reads D_1(E_0(data)) (the host checks
 * those bytes with python3-cryptography).
 */
/*
 * With several CPUs, each maps the page through KeyID 1 in a window of
 * its own and reads KeyID 1's data before the DMA; after it, through the
 * same TLB entries, each must see what the BSP sees through KeyID 1 and
 * the device's data through KeyID 0.
 */
static uint64_t dma_k1_view[512];
static bool dma_smp;

static void dma_before(int cpu, void *arg)
{
    volatile uint64_t *k1 = map_win(cpu, 1, TEST_PA);

    check(count_pattern(k1, 0) == 512,
          "before the DMA, KeyID 1 reads the data the BSP wrote");
    cpu_done[cpu] = 1;
}

static void dma_after(int cpu, void *arg)
{
    volatile uint64_t *k1 = win_addr(cpu, TEST_PA);
    volatile uint8_t *k0 = (volatile uint8_t *)TEST_PA;
    int i, same;

    for (same = 1, i = 0; i < 512; i++) {
        same &= k1[i] == dma_k1_view[i];
    }
    check(same, "after the DMA, KeyID 1 (mapped as before, no TLB flush) "
          "reads what the BSP read through KeyID 1");
    for (same = 1, i = 0; i < 4096; i++) {
        same &= k0[i] == dma_byte(i);
    }
    check(same, "KeyID 0 reads what the device wrote");
    cpu_done[cpu] = 1;
}

static void test_dma(void)
{
    volatile uint64_t *k1;
    volatile uint8_t *k0 = (volatile uint8_t *)TEST_PA;
    uint32_t size = 0, ctl;
    uint16_t sel;
    int i, same;

    dma_smp = smp_expected_cpus() > 1 || cmdline_has("cpus");
    if (dma_smp) {
        smp_start_checked();
    }
    check_u64(mktme_program(1, 0, key1_data, key1_tweak), 0,
              "PCONFIG KeyID 1 KEYID_SET_KEY_DIRECT");
    k1 = map_alias(4, 0, 1);
    for (i = 0; i < 512; i++) {
        k1[i] = pattern(i);
    }
    if (dma_smp) {
        check_all_done(smp_run(dma_before, NULL),
                       "every CPU read KeyID 1's page before the DMA");
    }
    sel = fw_cfg_find("opt/tme/dma", &size);
    if (!check(sel && size == 4096, "fw_cfg has opt/tme/dma, 4096 bytes")) {
        return;
    }
    ctl = fw_cfg_dma_read(sel, true, TEST_PA, 4096);
    check_u64(ctl, 0, "fw_cfg DMA into the page that KeyID 1 owns completes");
    printf("# KeyID 1 view after DMA at 0x%lx:", (uint64_t)TEST_PA);
    for (same = 0, i = 0; i < 512; i++) {
        uint64_t v = k1[i], want = 0;
        int b;

        for (b = 0; b < 8; b++) {
            want |= (uint64_t)dma_byte(i * 8 + b) << (8 * b);
        }
        same += v == want || v == pattern(i);
        dma_k1_view[i] = v;
        if (i < 4) {
            printf(" %016lx", v);
        }
    }
    printf("\n");
    check(same == 0, "KeyID 1 sees neither the data nor its old plaintext");
    for (same = 1, i = 0; i < 4096; i++) {
        same &= k0[i] == dma_byte(i);
    }
    check(same, "KeyID 0 reads what the device wrote");
    if (dma_smp) {
        check_all_done(smp_run(dma_after, NULL),
                       "every CPU read the page after the DMA");
    }
}

/*
 * Debug readers: KeyID 1 writes the page, KeyID 2 does not encrypt; then
 * wait while run-debug looks at the page through the monitor and gdb.
 */
/*
 * [6 GiB, 7 GiB) maps the first GiB through KeyID 1 with a page
 * directory that was written through KeyID 3 and that the PDPTE points
 * to through KeyID 3: debuggers and the monitor must walk it so.
 */
static uint64_t pd_k3[512] __attribute__((aligned(4096)));

static void map_through_k3_table(void)
{
    volatile uint64_t *pd = (volatile uint64_t *)(5 * GIB + (uint64_t)pd_k3);
    int i;

    check_u64(mktme_program(3, 0, key3_data, key3_tweak), 0,
              "PCONFIG KeyID 3 KEYID_SET_KEY_DIRECT");
    map_alias(5, 0, 3);
    for (i = 0; i < 512; i++) {
        pd[i] = ((uint64_t)i << 21) | keyid_pa(1) | PTE_P | PTE_RW | PTE_PS;
    }
    pdpt[6] = (uint64_t)pd_k3 | keyid_pa(3) | PTE_P | PTE_RW;
    flush_tlb();
}

static void test_debug(void)
{
    volatile uint64_t *k1, *k1_via_k3;
    int i;

    check_u64(mktme_program(1, 0, key1_data, key1_tweak), 0,
              "PCONFIG KeyID 1 KEYID_SET_KEY_DIRECT");
    check_u64(mktme_program(2, 3, NULL, NULL), 0, "PCONFIG KeyID 2 NO_ENCRYPT");
    k1 = map_alias(4, 0, 1);
    for (i = 0; i < 512; i++) {
        k1[i] = pattern(i);
    }
    map_through_k3_table();
    k1_via_k3 = (volatile uint64_t *)(6 * GIB + TEST_PA);
    check(count_pattern(k1_via_k3, 0) == 512,
          "the page reads back through a page directory written through "
          "KeyID 3");
    printf("# ready\n");
    for (;;) {
        asm volatile("cli; hlt");
    }
}

static void invlpg(volatile void *va)
{
    asm volatile("invlpg (%0)" : : "r"(va) : "memory");
}

static void clflush_page(volatile void *va)
{
    int i;

    for (i = 0; i < 4096; i += 64) {
        asm volatile("clflush (%0)" : : "r"((volatile char *)va + i)
                     : "memory");
    }
}

static const uint8_t key2_data[16] = { 0x22, 0x02, 0x22, 0x02, 0x22 };
static const uint8_t key2_tweak[16] = { 0x2e, 0x2e, 0x2e, 0x2e, 0x2e };

/* How many quadwords of @p equal pattern(i) ^ @salt */
static int count_pattern(volatile uint64_t *p, uint64_t salt)
{
    int i, n = 0;

    for (i = 0; i < 512; i++) {
        n += p[i] == (pattern(i) ^ salt);
    }
    return n;
}

/*
 * One CPU writes a page through KeyID 5 over and over while all others
 * read it at the same time, each through another kind of KeyID: one
 * with another key (7), NO_ENCRYPT (6) or KeyID 0 (the TME key).  Every
 * access through another KeyID converts the page, with the other vCPUs
 * stopped; no reader may ever see the writer's plaintext, and at the end
 * KeyID 5 reads the writer's last round back whole.  The writer is the
 * last CPU, an AP; it goes on until every reader has read the page
 * SHARE_PASSES times while it wrote.
 */
#define SHARE_PA        (12 * MIB)          /* a free 2 MiB page */
#define SHARE_SALT      0x05a1e00000000000ULL
#define SHARE_ROUNDS    20
#define SHARE_PASSES    3
#define SHARE_MAX_ROUNDS 100000
#define SHARE_MAX_MS    60000               /* then the test fails */
#define WIN_SHARE       0                   /* + cpu */

struct share_cpu {
    int keyid;
    volatile int passes;
    int leaks;
};
static struct share_cpu share[SMP_MAX_CPUS];
static volatile int share_ready, share_rounds, share_writing;

static void share_fn(int cpu, void *arg)
{
    static const int reader_keyid[3] = { 7, 6, 0 };
    int n = smp_cpus(), writer = n - 1, r, i, c, least;
    volatile uint64_t *p;
    struct share_cpu *me = &share[cpu];
    uint64_t end;

    me->keyid = cpu == writer ? 5 : reader_keyid[cpu % 3];
    p = map_win(WIN_SHARE + cpu, me->keyid, SHARE_PA);
    if (!smp_barrier(&share_ready, n, 10000)) {
        share_writing = 0;
        return;
    }
    end = now_ms() + SHARE_MAX_MS;
    if (cpu == writer) {
        for (r = 1; r <= SHARE_MAX_ROUNDS && now_ms() < end; r++) {
            for (i = 0; i < 512; i++) {
                p[i] = pattern(i) ^ SHARE_SALT ^ r;
            }
            share_rounds = r;
            for (least = SHARE_PASSES, c = 0; c < writer; c++) {
                if (share[c].passes < least) {
                    least = share[c].passes;
                }
            }
            if (r >= SHARE_ROUNDS && least >= SHARE_PASSES) {
                break;
            }
        }
        share_writing = 0;
    } else {
        while (share_writing && now_ms() < end) {
            for (i = 0; i < 512; i++) {
                /* The plaintext of any round: pattern ^ salt ^ r */
                if (((p[i] ^ pattern(i) ^ SHARE_SALT) >> 20) == 0) {
                    me->leaks++;
                }
            }
            me->passes++;
        }
    }
    cpu_done[cpu] = 1;
}

static void test_alias_smp(void)
{
    volatile uint64_t *k5, *ne;
    int n = smp_start_checked(), cpu, r;

    check_u64(mktme_program(5, 0, key1_data, key1_tweak), 0,
              "PCONFIG KeyID 5 KEYID_SET_KEY_DIRECT (the writer's)");
    check_u64(mktme_program(6, 3, NULL, NULL), 0,
              "PCONFIG KeyID 6 NO_ENCRYPT");
    check_u64(mktme_program(7, 0, key3_data, key3_tweak), 0,
              "PCONFIG KeyID 7 KEYID_SET_KEY_DIRECT");
    share_writing = 1;
    check_all_done(smp_run(share_fn, NULL),
                   "one CPU wrote through KeyID 5 while the others read");
    r = share_rounds;
    printf("# CPU %d wrote the page %d times through KeyID 5\n", n - 1, r);
    for (cpu = 0; cpu < n - 1; cpu++) {
        check(share[cpu].passes >= SHARE_PASSES && share[cpu].leaks == 0,
              "CPU %d read the page %d times through KeyID %d while CPU %d "
              "wrote it; quadwords of plaintext seen: %d", cpu,
              share[cpu].passes, share[cpu].keyid, n - 1,
              share[cpu].leaks);
    }
    k5 = map_win(WIN_SHARE, 5, SHARE_PA);
    check(count_pattern(k5, SHARE_SALT ^ r) == 512,
          "KeyID 5 reads the writer's last round back whole");
    ne = map_win(WIN_SHARE, 6, SHARE_PA);
    check(count_pattern(ne, SHARE_SALT ^ r) == 0,
          "the NO_ENCRYPT view does not show it");
}

/*
 * Spec 7.6: the OS/VMM moves a page from "VM2" (KeyID 2) to "VM3"
 * (KeyID 3) with EvictPage (7.5) and AddPage (7.4), keeping the evicted
 * contents in a KeyID 0 swap page, then gives them back to KeyID 2.
 * Each party runs on a CPU of its own when there are four: a checker
 * with a NO_ENCRYPT KeyID on CPU 0, VM2 on CPU 1, the VMM on CPU 2 and
 * VM3 on CPU 3.  Each maps the page in windows of its own, so when the
 * VMM takes the page from VM2 it clears VM2's entry and has VM2's CPU
 * invalidate its TLB, as 7.5 says.
 */
#define SWAP_PA         (TEST_PA + 2 * MIB)
#define SECRET_SALT     0x5ec7e75ec7e75ec7ULL
enum { CHECKER, VM2, VMM, VM3, PARTIES };
enum { WIN_VM2, WIN_VMM_OLD, WIN_VMM_NEW, WIN_VM3, WIN_CHECKER };
#define WIN_ALL         16          /* + cpu: every CPU at the end */

static void flow(int party, smp_fn fn)
{
    smp_run_on(party % smp_cpus(), fn, NULL);
}

static void flow_keys_vmm(int cpu, void *arg)
{
    check_u64(mktme_program(2, 0, key2_data, key2_tweak), 0,
              "VMM: PCONFIG KeyID 2 (VM2) KEYID_SET_KEY_DIRECT");
    check_u64(mktme_program(3, 0, key3_data, key3_tweak), 0,
              "VMM: PCONFIG KeyID 3 (VM3) KEYID_SET_KEY_DIRECT");
    cpu_done[cpu] = 1;
}

static void flow_keys_checker(int cpu, void *arg)
{
    check_u64(mktme_program(4, 3, NULL, NULL), 0,
              "checker: PCONFIG KeyID 4 NO_ENCRYPT");
    cpu_done[cpu] = 1;
}

/* VM2 owns the page and keeps a secret in it */
static void flow_vm2_writes(int cpu, void *arg)
{
    volatile uint64_t *vm2 = map_win(WIN_VM2, 2, TEST_PA);
    int i;

    for (i = 0; i < 512; i++) {
        vm2[i] = pattern(i) ^ SECRET_SALT;
    }
    check(count_pattern(vm2, SECRET_SALT) == 512,
          "VM2 writes its secret through KeyID 2");
    cpu_done[cpu] = 1;
}

/* EvictPage 1.1: the page is no longer accessible to VM2 */
static void flow_vmm_unmaps(int cpu, void *arg)
{
    pd_win[WIN_VM2][TEST_PA >> 21] = 0;
    cpu_done[cpu] = 1;
}

/* EvictPage 1.2: VM2's CPU invalidates its mapping */
static void flow_vm2_invalidates(int cpu, void *arg)
{
    volatile uint64_t *vm2 = win_addr(WIN_VM2, TEST_PA);

    invlpg(vm2);
    last_exc.vector = NO_EXCEPTION;
    asm volatile("1: mov (%0), %%rax\n2:\n\t" EXTABLE_ENTRY(1b, 2b)
                 : : "r"(vm2) : "rax", "memory");
    check_vector(last_exc.vector, PF_VECTOR,
                 "EvictPage: after the VMM's unmap and INVLPG on this CPU "
                 "VM2 no longer reaches the page");
    cpu_done[cpu] = 1;
}

/* EvictPage 1.3, 1.4; 7.6 step 2: the VMM saves the page to swap */
static void flow_vmm_evicts(int cpu, void *arg)
{
    volatile uint64_t *vmm = map_win(WIN_VMM_OLD, 2, TEST_PA);
    volatile uint64_t *swap = (volatile uint64_t *)SWAP_PA;
    int i;

    clflush_page(vmm);
    check(count_pattern(vmm, SECRET_SALT) == 512,
          "EvictPage: the VMM reads the page through the old KeyID 2");
    for (i = 0; i < 512; i++) {
        swap[i] = vmm[i];
    }
    clflush_page(vmm);
    cpu_done[cpu] = 1;
}

/* AddPage: the VMM maps the page through KeyID 3 and zeroes it */
static void flow_vmm_adds(int cpu, void *arg)
{
    volatile uint64_t *vmm = map_win(WIN_VMM_NEW, 3, TEST_PA);
    int i;

    for (i = 0; i < 512; i++) {
        vmm[i] = 0;
    }
    check(count_pattern(vmm, SECRET_SALT) == 0 && vmm[0] == 0 &&
          vmm[511] == 0, "AddPage: KeyID 3 zeroes the page and reads zeroes");
    cpu_done[cpu] = 1;
}

static void flow_checker(int cpu, void *arg)
{
    volatile uint64_t *ne = map_win(WIN_CHECKER, 4, TEST_PA);

    check(count_pattern(ne, SECRET_SALT) == 0 && ne[0] != 0,
          "NO_ENCRYPT view: DRAM holds E_3(0), neither the secret nor 0");
    cpu_done[cpu] = 1;
}

/* VM3 gets the page and uses it */
static void flow_vm3_uses(int cpu, void *arg)
{
    volatile uint64_t *vm3 = map_win(WIN_VM3, 3, TEST_PA);
    int i, zero = 0;

    for (i = 0; i < 512; i++) {
        zero += vm3[i] == 0;
    }
    check(zero == 512, "VM3 gets the page zeroed through KeyID 3");
    for (i = 0; i < 512; i++) {
        vm3[i] = pattern(i);
    }
    cpu_done[cpu] = 1;
}

/* The VMM's old KeyID 2 mapping, still in its TLB */
static void flow_vmm_old_keyid(int cpu, void *arg)
{
    volatile uint64_t *vmm = win_addr(WIN_VMM_OLD, TEST_PA);

    check(count_pattern(vmm, SECRET_SALT) == 0 && count_pattern(vmm, 0) == 0,
          "the old KeyID 2 sees neither VM2's secret nor VM3's data");
    cpu_done[cpu] = 1;
}

static void flow_vm3_reads(int cpu, void *arg)
{
    check(count_pattern(win_addr(WIN_VM3, TEST_PA), 0) == 512,
          "VM3 reads its data back");
    cpu_done[cpu] = 1;
}

/* Back to VM2: AddPage with KeyID 2, contents from the swap page */
static void flow_vmm_swaps_in(int cpu, void *arg)
{
    volatile uint64_t *vmm = map_win(WIN_VMM_OLD, 2, TEST_PA);
    volatile uint64_t *swap = (volatile uint64_t *)SWAP_PA;
    int i;

    for (i = 0; i < 512; i++) {
        vmm[i] = 0;
    }
    for (i = 0; i < 512; i++) {
        vmm[i] = swap[i];
    }
    cpu_done[cpu] = 1;
}

static void flow_vm2_back(int cpu, void *arg)
{
    check(count_pattern(map_win(WIN_VM2, 2, TEST_PA), SECRET_SALT) == 512,
          "swapped back in through KeyID 2, VM2 reads its secret");
    cpu_done[cpu] = 1;
}

static void flow_all_read(int cpu, void *arg)
{
    check(count_pattern(map_win(WIN_ALL + cpu, 2, TEST_PA), SECRET_SALT) ==
          512, "KeyID 2 reads VM2's secret on this CPU too");
    cpu_done[cpu] = 1;
}

static void test_flows(void)
{
    int n = smp_start_checked(), i, parties = 0;

    flow(VMM, flow_keys_vmm);
    flow(CHECKER, flow_keys_checker);
    flow(VM2, flow_vm2_writes);
    flow(VMM, flow_vmm_unmaps);
    flow(VM2, flow_vm2_invalidates);
    flow(VMM, flow_vmm_evicts);
    flow(VMM, flow_vmm_adds);
    flow(CHECKER, flow_checker);
    flow(VM3, flow_vm3_uses);
    flow(VMM, flow_vmm_old_keyid);
    flow(VM3, flow_vm3_reads);
    flow(VMM, flow_vmm_swaps_in);
    flow(VM2, flow_vm2_back);
    for (i = 0; i < PARTIES && i < n; i++) {
        parties += cpu_done[i];
    }
    check(parties == (n < PARTIES ? n : PARTIES),
          "the parties ran on %d CPUs", parties);
    check_all_done(smp_run(flow_all_read, NULL),
                   "every CPU read the page back");
}

/*
 * The exclusion range (spec 4.2.4): KeyID 0 inside it is not encrypted,
 * other KeyIDs are.  The firmware excluded [TEST_PA, TEST_PA + 2 MiB).
 */
static void test_exclusion(void)
{
    volatile uint64_t *k0 = (volatile uint64_t *)TEST_PA, *ne, *k5;
    volatile uint64_t *out = (volatile uint64_t *)SWAP_PA;
    int i;

    check_u64(mktme_program(4, 3, NULL, NULL), 0, "PCONFIG KeyID 4 NO_ENCRYPT");
    for (i = 0; i < 512; i++) {
        k0[i] = pattern(i);
        out[i] = pattern(i);
    }
    ne = map_alias(4, 0, 4);
    check(count_pattern(ne, 0) == 512,
          "inside the range, DRAM holds what KeyID 0 wrote in plaintext");
    check(count_pattern(ne + (2 * MIB / 8), 0) == 0,
          "outside the range, DRAM holds KeyID 0's data encrypted");
    k5 = map_alias(5, 0, 5);
    check(count_pattern(k5, 0) == 0,
          "KeyID 5 (TME key) is not excluded: it reads garbage");
    check(count_pattern(k0, 0) == 512 && count_pattern(out, 0) == 512,
          "KeyID 0 reads its data back inside and outside the range");
}

/*
 * Persistent memory at rest: an NVDIMM at PMEM_PA (run-pmem checks the
 * address), mapped at 6 GiB through @keyid.
 */
#define PMEM_PA         (4 * GIB)
#define PMEM_SALT0      0x0000a11ce0000000ULL
#define PMEM_SALT1      0x0000b0b000000000ULL
static volatile uint64_t *map_pmem(uint64_t keyid)
{
    uint64_t *pd = pd_alias[1];
    int i;

    for (i = 0; i < 512; i++) {
        pd[i] = (PMEM_PA + ((uint64_t)i << 21)) | keyid_pa(keyid) | PTE_P |
                PTE_RW | PTE_PS;
    }
    pdpt[6] = (uint64_t)pd | PTE_P | PTE_RW;
    flush_tlb();
    return (volatile uint64_t *)(6 * GIB);
}

/* Write page 0 through KeyID 0 and page 1 through KeyID 1, then wait */
static void test_pmem_write(void)
{
    volatile uint64_t *p0 = map_pmem(0), *p1;
    bool mktme = !cmdline_has("nokeyid");
    int i;

    for (i = 0; i < 512; i++) {
        p0[i] = pattern(i) ^ PMEM_SALT0;
    }
    if (mktme) {
        check_u64(mktme_program(1, 0, key1_data, key1_tweak), 0,
                  "PCONFIG KeyID 1 KEYID_SET_KEY_DIRECT");
        p1 = map_pmem(1) + 512;
        for (i = 0; i < 512; i++) {
            p1[i] = pattern(i) ^ PMEM_SALT1;
        }
    }
    printf("# ready\n");
    for (;;) {
        asm volatile("cli; hlt");
    }
}

/* What an earlier run left: the same with the same keys, or garbage */
static void test_pmem_read(void)
{
    bool same = !cmdline_has("garbage");
    volatile uint64_t *p1;
    int n0, n1;

    n0 = count_pattern(map_pmem(0), PMEM_SALT0);
    check_u64(mktme_program(1, 0, key1_data, key1_tweak), 0,
              "PCONFIG KeyID 1 KEYID_SET_KEY_DIRECT");
    p1 = map_pmem(1) + 512;
    n1 = count_pattern(p1, PMEM_SALT1);
    if (same) {
        check(n0 == 512, "KeyID 0 reads what it wrote in the last run");
        check(n1 == 512, "KeyID 1 reads what it wrote in the last run");
    } else {
        check(n0 == 0, "with another TME key KeyID 0 reads garbage");
        check(n1 == 512, "KeyID 1, with the same direct key, reads its data");
    }
}

/*
 * Migration with pages that KeyIDs 1 and 3 own (run-migration sends an
 * NMI on the destination): owners, plaintexts and keys travel, so every
 * view reads as before.
 */
#define MIGRATE_SALT    0x3333000033330000ULL
static void test_migrate(void)
{
    volatile uint64_t *k1, *k3, *ne, *k0 = (volatile uint64_t *)SWAP_PA;
    uint64_t ct1[4], ct3[4];
    int i, same;

    program_keyids_123();
    k1 = map_alias(4, 0, 1);
    for (i = 0; i < 512; i++) {
        k1[i] = pattern(i);
        k0[i] = pattern(i) ^ 0x0000000011110000ULL;
    }
    ne = map_alias(5, 0, 2);
    for (i = 0; i < 4; i++) {
        ct1[i] = ne[i];
    }
    /* KeyID 3's page is SWAP_PA + 4 KiB */
    k3 = map_alias(5, 0, 3) + 2 * MIB / 8 + 512;
    for (i = 0; i < 512; i++) {
        k3[i] = pattern(i) ^ MIGRATE_SALT;
    }
    ne = map_alias(4, 0, 2) + 2 * MIB / 8 + 512;
    for (i = 0; i < 4; i++) {
        ct3[i] = ne[i];
    }
    /* Give the pages back to KeyIDs 1 and 3 */
    k1 = map_alias(4, 0, 1);
    k3 = map_alias(5, 0, 3) + 2 * MIB / 8 + 512;
    check(count_pattern(k1, 0) == 512 &&
          count_pattern(k3, MIGRATE_SALT) == 512,
          "KeyIDs 1 and 3 own their pages before migration");

    printf("# ready for migration\n");
    while (!nmi_count) {
        asm volatile("hlt");
    }
    check(count_pattern(k1, 0) == 512, "migrated: KeyID 1 reads its page");
    check(count_pattern(k3, MIGRATE_SALT) == 512,
          "migrated: KeyID 3 reads its page");
    check(count_pattern(k0, 0x0000000011110000ULL) == 512,
          "migrated: KeyID 0 reads its page");
    ne = map_alias(4, 0, 2);
    for (same = 1, i = 0; i < 4; i++) {
        same &= ne[i] == ct1[i];
        same &= ne[i + 2 * MIB / 8 + 512] == ct3[i];
    }
    check(same, "migrated: the NO_ENCRYPT view shows the same ciphertexts "
          "(the keys travelled)");
    k1 = map_alias(5, 0, 1);
    check(count_pattern(k1, 0) == 512,
          "migrated: KeyID 1 converts its page back and reads it");
    check_u64(mktme_program(1, 0, key3_data, key3_tweak), 0,
              "PCONFIG KeyID 1 takes KeyID 3's key after migration");
    k3 = map_alias(4, 0, 3);
    for (same = 1, i = 0; i < 512; i++) {
        same &= k1[i] == k3[i];
    }
    check(same, "after the key change KeyIDs 1 and 3 agree");
}

/*
 * SVM nested paging: the nested page tables' KeyID selects the key.  The
 * nested guest runs on our page tables and code through KeyID 0, except
 * for [TEST_PA, TEST_PA + 2 MiB), which the nested page tables map
 * through KeyID 1.  It writes the pattern there and leaves by VMMCALL.
 */
#define MSR_EFER        0xc0000080
#define EFER_SVME       (1ULL << 12)
#define MSR_VM_HSAVE_PA 0xc0010117
#define NPT_U           0x4ULL
#define SVM_EXIT_VMMCALL 0x81

static uint8_t vmcb[4096] __attribute__((aligned(4096)));
static uint8_t hsave[4096] __attribute__((aligned(4096)));
static uint64_t npt4[512] __attribute__((aligned(4096)));
static uint64_t npt3[512] __attribute__((aligned(4096)));
static uint64_t npt2[4][512] __attribute__((aligned(4096)));
static uint8_t l2_stack[4096] __attribute__((aligned(16)));

/* The nested guest: pattern(i) into the 512 quadwords at TEST_PA */
asm(".pushsection .text\n"
    "l2_guest:\n\t"
    "mov $0x800000, %rdi\n\t"
    "xor %ecx, %ecx\n"
    "1:\n\t"
    "movabs $0x0101010101, %rax\n\t"
    "imul %rcx, %rax\n\t"
    "movabs $0x5a5a000000000000, %rdx\n\t"
    "xor %rdx, %rax\n\t"
    "mov %rax, (%rdi,%rcx,8)\n\t"
    "inc %ecx\n\t"
    "cmp $512, %ecx\n\t"
    "jb 1b\n\t"
    "vmmcall\n\t"
    "ud2\n\t"
    ".popsection");
extern char l2_guest[];

static void vmcb_seg(unsigned off, uint16_t sel, uint16_t attrib)
{
    *(uint16_t *)(vmcb + off) = sel;
    *(uint16_t *)(vmcb + off + 2) = attrib;
    *(uint32_t *)(vmcb + off + 4) = 0xffffffff;
    *(uint64_t *)(vmcb + off + 8) = 0;
}

static void vmcb_table(unsigned off)
{
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } t;

    if (off == 0x460) {
        asm volatile("sgdt %0" : "=m"(t));
    } else {
        asm volatile("sidt %0" : "=m"(t));
    }
    *(uint32_t *)(vmcb + off + 4) = t.limit;
    *(uint64_t *)(vmcb + off + 8) = t.base;
}

static void test_svm(void)
{
    uint32_t a, b, c, d;
    uint64_t cr, efer, exit_code;
    uint16_t cs, ds;
    volatile uint64_t *k0 = (volatile uint64_t *)TEST_PA, *k1;
    int i, j;

    cpuid(0x80000001, 0, &a, &b, &c, &d);
    if (!check(c & (1 << 2), "CPUID: SVM")) {
        return;
    }
    cpuid(0x8000000a, 0, &a, &b, &c, &d);
    if (!check(d & 1, "CPUID: nested paging")) {
        return;
    }
    check_u64(mktme_program(1, 0, key1_data, key1_tweak), 0,
              "PCONFIG KeyID 1 KEYID_SET_KEY_DIRECT");
    for (i = 0; i < 512; i++) {
        k0[i] = 0;
    }

    /* Nested page tables: identity, 2 MiB pages, KeyID 1 at TEST_PA */
    npt4[0] = (uint64_t)npt3 | PTE_P | PTE_RW | NPT_U;
    for (i = 0; i < 4; i++) {
        npt3[i] = (uint64_t)npt2[i] | PTE_P | PTE_RW | NPT_U;
        for (j = 0; j < 512; j++) {
            uint64_t gpa = ((uint64_t)i << 30) | ((uint64_t)j << 21);

            npt2[i][j] = gpa | PTE_P | PTE_RW | NPT_U | PTE_PS |
                         (gpa == TEST_PA ? keyid_pa(1) : 0);
        }
    }

    wrmsr_safe(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
    wrmsr_safe(MSR_VM_HSAVE_PA, (uint64_t)hsave);
    efer = rdmsr(MSR_EFER);

    *(uint64_t *)(vmcb + 0x0c) = 3ULL << 32;        /* VMRUN, VMMCALL */
    *(uint32_t *)(vmcb + 0x58) = 1;                 /* ASID */
    *(uint64_t *)(vmcb + 0x90) = 1;                 /* nested paging */
    *(uint64_t *)(vmcb + 0xb0) = (uint64_t)npt4;
    asm volatile("mov %%cs, %0; mov %%ds, %1" : "=r"(cs), "=r"(ds));
    vmcb_seg(0x400, ds, 0xc93);                     /* ES */
    vmcb_seg(0x410, cs, 0xa9b);                     /* CS: 64-bit */
    vmcb_seg(0x420, ds, 0xc93);                     /* SS */
    vmcb_seg(0x430, ds, 0xc93);                     /* DS */
    vmcb_table(0x460);                              /* GDTR */
    vmcb_table(0x480);                              /* IDTR */
    *(uint64_t *)(vmcb + 0x4d0) = efer;
    asm volatile("mov %%cr4, %0" : "=r"(cr));
    *(uint64_t *)(vmcb + 0x548) = cr;
    asm volatile("mov %%cr3, %0" : "=r"(cr));
    *(uint64_t *)(vmcb + 0x550) = cr;
    asm volatile("mov %%cr0, %0" : "=r"(cr));
    *(uint64_t *)(vmcb + 0x558) = cr;
    *(uint64_t *)(vmcb + 0x560) = 0x400;            /* DR7 */
    *(uint64_t *)(vmcb + 0x568) = 0xffff0ff0;       /* DR6 */
    *(uint64_t *)(vmcb + 0x570) = 2;                /* RFLAGS */
    *(uint64_t *)(vmcb + 0x578) = (uint64_t)l2_guest;
    *(uint64_t *)(vmcb + 0x5d8) = (uint64_t)(l2_stack + sizeof(l2_stack));

    asm volatile("vmrun" : : "a"(vmcb) : "rcx", "rdx", "rdi", "memory", "cc");
    exit_code = *(uint64_t *)(vmcb + 0x70);
    check_u64(exit_code, SVM_EXIT_VMMCALL,
              "the nested guest ran and left by VMMCALL");

    k1 = map_alias(4, 0, 1);
    check(count_pattern(k1, 0) == 512,
          "KeyID 1 reads what the nested guest wrote through the nested "
          "page tables' KeyID 1");
    check(count_pattern(k0, 0) == 0,
          "KeyID 0 does not: the nested guest's writes used KeyID 1");
}

/*
 * The physical addresses that SVM gives the CPU carry KeyIDs too (spec
 * 5.1): a VMCB, a host save area (VM_HSAVE_PA), an I/O and an MSR
 * permission map written through KeyID 3 are used through KeyID 3 when
 * their addresses name it.  The maps intercept one port and one MSR
 * only: read through another KeyID they would be garbage with about half
 * their bits set, and the nested guest, which first touches 16 ports
 * (or MSRs) whose bits are clear, would exit at the wrong one.
 */
#define SVM_EXIT_IOIO   0x7b
#define SVM_EXIT_MSR    0x7c
static uint8_t vmcb3[4096] __attribute__((aligned(4096)));
static uint8_t hsave3[4096] __attribute__((aligned(4096)));
static uint8_t iopm3[3 * 4096] __attribute__((aligned(4096)));
static uint8_t msrpm3[2 * 4096] __attribute__((aligned(4096)));

asm(".pushsection .text\n"
    "l2_msr:\n\t"
    "mov $0x100, %ecx\n"
    "1:\n\t"
    "rdmsr\n\t"
    "inc %ecx\n\t"
    "cmp $0x111, %ecx\n\t"
    "jb 1b\n\t"
    "vmmcall\n\t"
    "ud2\n"
    "l2_io:\n\t"
    "mov $0x2f0, %edx\n"
    "1:\n\t"
    "inb %dx, %al\n\t"
    "inc %edx\n\t"
    "cmp $0x300, %edx\n\t"
    "jb 1b\n\t"
    "inb $0x80, %al\n\t"
    "vmmcall\n\t"
    "ud2\n\t"
    ".popsection");
extern char l2_msr[], l2_io[];

/* Through KeyID 3: [5 GiB, 6 GiB) maps the first GiB */
static volatile uint8_t *via_k3(void *p)
{
    return (volatile uint8_t *)(5 * GIB + (uint64_t)p);
}

static uint64_t svm_run_k3(void *rip, uint64_t *rcx)
{
    volatile uint8_t *v = via_k3(vmcb3);
    uint64_t rax = (uint64_t)vmcb3 | keyid_pa(3), c;

    *(volatile uint64_t *)(v + 0x70) = 0;               /* exit code */
    *(volatile uint64_t *)(v + 0x578) = (uint64_t)rip;
    *(volatile uint64_t *)(v + 0x5d8) =
        (uint64_t)(l2_stack + sizeof(l2_stack));
    *(volatile uint64_t *)(v + 0x570) = 2;              /* RFLAGS */
    asm volatile("vmrun" : "+a"(rax), "=c"(c)
                 : : "rdx", "rdi", "memory", "cc");
    *rcx = c;
    return *(volatile uint64_t *)(v + 0x70);
}

static void test_svm_keyid(void)
{
    volatile uint8_t *v = via_k3(vmcb3), *h = via_k3(hsave3);
    volatile uint8_t *io = via_k3(iopm3), *msr = via_k3(msrpm3);
    uint64_t exit_code, rcx, cr3;
    size_t i;

    check_u64(mktme_program(3, 0, key3_data, key3_tweak), 0,
              "PCONFIG KeyID 3 KEYID_SET_KEY_DIRECT");
    map_alias(5, 0, 3);
    for (i = 0; i < sizeof(vmcb3); i++) {
        v[i] = vmcb[i];                 /* the VMCB of test_svm() */
        h[i] = 0;
    }
    for (i = 0; i < sizeof(iopm3); i++) {
        io[i] = 0;
    }
    for (i = 0; i < sizeof(msrpm3); i++) {
        msr[i] = 0;
    }
    io[0x80 / 8] = 1;                   /* port 0x80 */
    msr[0x110 * 2 / 8] = 1;             /* RDMSR 0x110 */
    /* VMRUN, VMMCALL, IOIO_PROT, MSR_PROT */
    *(volatile uint64_t *)(v + 0x0c) = 3ULL << 32 | 1ULL << 27 | 1ULL << 28;
    *(volatile uint64_t *)(v + 0x40) = (uint64_t)iopm3 | keyid_pa(3);
    *(volatile uint64_t *)(v + 0x48) = (uint64_t)msrpm3 | keyid_pa(3);
    check_vector(wrmsr_safe(MSR_VM_HSAVE_PA, (uint64_t)hsave3 | keyid_pa(3)),
                 NO_EXCEPTION, "VM_HSAVE_PA with KeyID 3");

    exit_code = svm_run_k3(l2_msr, &rcx);
    check_u64(exit_code, SVM_EXIT_MSR, "VMRUN of a VMCB at an address with "
              "KeyID 3: the nested guest exits on an MSR access");
    check_u64(rcx, 0x110, "... on RDMSR 0x110, the one MSR that the KeyID "
              "3 permission map intercepts");
    exit_code = svm_run_k3(l2_io, &rcx);
    check_u64(exit_code, SVM_EXIT_IOIO, "again: the nested guest exits on "
              "an I/O access");
    check_u64(*(volatile uint64_t *)(v + 0x78) >> 16, 0x80,
              "... to port 0x80, the one port that the KeyID 3 permission "
              "map intercepts");
    asm volatile("mov %%cr3, %0" : "=r"(cr3));
    check_u64(*(volatile uint64_t *)(h + 0x550), cr3,
              "the host save area holds the host's CR3 through KeyID 3");
    check(*(volatile uint64_t *)(hsave3 + 0x550) != cr3 &&
          *(volatile uint64_t *)(vmcb3 + 0x70) != SVM_EXIT_IOIO,
          "KeyID 0 reads neither: both were written through KeyID 3");
    wrmsr_safe(MSR_VM_HSAVE_PA, (uint64_t)hsave);
}

/*
 * One access through two KeyIDs (DESIGN 4.3): virtual pages X and X + 1
 * map the same physical page through KeyIDs 1 and 2, and a load or
 * store crosses from X into X + 1.  One owner cannot serve both parts:
 * the part in X goes through an exact view of KeyID 1, as if the page
 * were converted to KeyID 1 for it and back to KeyID 2 for the rest.
 */
static uint64_t pt_straddle[SMP_MAX_CPUS][512]
    __attribute__((aligned(4096)));

/*
 * The same crossing load when the second page's fill resizes the TLB
 * (issue 12): the first page's entry is a TLB hit, the second page's
 * fill converts the page to KeyID 2, which flushes this vCPU's TLB too,
 * and cputlb resizes a TLB at a flush when more than 70% of it was in
 * use.  Before the crossing load the CPU reads one qword of each of
 * 'pages' pages of KeyID 0 (none of them owned by another KeyID, so no
 * conversion), doubling from 192 to 6144 pages so that one of the
 * rounds grows the TLB at that fill, whatever its size was.  The first
 * part must still be read through KeyID 1's entry as looked up, not
 * through a slot of the reallocated table.
 */
#define RESIZE_PA       (16 * MIB)          /* KeyID 0's pages to read */

static void straddle_resize(int cpu, volatile uint8_t *x)
{
    volatile uint64_t *k1 = (volatile uint64_t *)x;
    volatile uint64_t *k2 = (volatile uint64_t *)(x + 4096);
    uint64_t got, lo, sum = 0;
    int i, round, pages;

    for (round = 0, pages = 192; pages <= 6144; round++, pages *= 2) {
        for (i = 0; i < 512; i++) {
            k1[i] = pattern(i);
        }
        lo = k2[0];                     /* converts the page to KeyID 2 */
        k1[0] = pattern(0);             /* ... and back to KeyID 1 */
        for (i = 0; i < pages; i++) {
            sum += *(volatile uint64_t *)(uintptr_t)(RESIZE_PA + i * 4096);
        }
        got = k1[511];                  /* the first page: a TLB hit */
        asm volatile("mov (%1), %0" : "=r"(got) : "r"(x + 4092) : "memory");
        check_u64(got, (pattern(511) >> 32) | (lo << 32),
                  "CPU %d, after reading %d pages: a crossing load whose "
                  "second fill flushes (and may resize) the TLB sees the "
                  "first part through KeyID 1", cpu, pages);
    }
    (void)sum;
}

/*
 * On every CPU at once, each with a page of its own (TEST_PA + cpu * 4
 * KiB) in its own window
 */
static void straddle_cpu(int cpu, void *arg)
{
    uint64_t pa = TEST_PA + cpu * 4096;
    volatile uint8_t *x = (volatile uint8_t *)win_addr(cpu, TEST_PA);
    volatile uint64_t *k1 = (volatile uint64_t *)x;
    volatile uint64_t *k2 = (volatile uint64_t *)(x + 4096);
    uint64_t got, lo, k2_510, k2_511;
    int i;

    pt_straddle[cpu][0] = pa | keyid_pa(1) | PTE_P | PTE_RW;
    pt_straddle[cpu][1] = pa | keyid_pa(2) | PTE_P | PTE_RW;
    pd_win[cpu][TEST_PA >> 21] = (uint64_t)pt_straddle[cpu] | PTE_P |
                                 PTE_RW;
    pdpt[WIN_GIB + cpu] = (uint64_t)pd_win[cpu] | PTE_P | PTE_RW;
    flush_tlb();

    for (i = 0; i < 512; i++) {
        k1[i] = pattern(i);
    }
    /* What KeyID 2 sees at the start of the page: not KeyID 1's data */
    lo = k2[0];
    check(lo != pattern(0), "KeyID 2 does not see KeyID 1's plaintext");
    asm volatile("mov (%1), %0" : "=r"(got) : "r"(x + 4092) : "memory");
    check_u64(got, (pattern(511) >> 32) | (lo << 32),
              "a load that crosses from KeyID 1's page into KeyID 2's "
              "sees each part through its own KeyID");

    k2_510 = k2[510];
    k2_511 = k2[511];
    asm volatile("mov %0, (%1)" : : "r"(0x1111222233334444ULL),
                 "r"(x + 4092) : "memory");
    check_u64(k1[511], (pattern(511) & 0xffffffff) | (0x33334444ULL << 32),
              "a store across them writes its first part through KeyID 1");
    check_u64(k2[0] & 0xffffffff, 0x11112222,
              "... and its second part through KeyID 2");
    check_u64(k2[0] >> 32, lo >> 32,
              "KeyID 2's view of the rest of the second part's block is "
              "unchanged");
    check(k2[510] != k2_510 && k2[511] != k2_511,
          "KeyID 2's view of the first part's block changed whole, as "
          "if KeyID 1 wrote it back");
    check(k1[510] == pattern(510) && k1[1] != pattern(1),
          "KeyID 1 keeps the rest of the first part's block; its view of "
          "the second part's block changed whole");
    check(count_pattern(k1, 0) == 509,
          "KeyID 1 reads its data back except the two qwords of the "
          "second part's block and the stored qword");
    straddle_resize(cpu, x);
    cpu_done[cpu] = 1;
}

static void test_straddle(void)
{
    smp_start_checked();
    check_u64(mktme_program(1, 0, key1_data, key1_tweak), 0,
              "PCONFIG KeyID 1 KEYID_SET_KEY_DIRECT");
    check_u64(mktme_program(2, 0, key2_data, key2_tweak), 0,
              "PCONFIG KeyID 2 KEYID_SET_KEY_DIRECT");
    check_all_done(smp_run(straddle_cpu, NULL),
                   "every CPU straddled two KeyIDs");
}

static void test_plain(void)
{
    volatile uint64_t *direct = (volatile uint64_t *)TEST_PA;
    volatile uint64_t *alias;

    direct[0] = 0x1122334455667788ULL;
    alias = map_alias(4, 0, 1);
    check(alias[0] != 0x1122334455667788ULL,
          "without MKTME the KeyID bits address memory above RAM");
}

/*
 * A secret at TEST_PA for run-dram-save, which reads the DRAM image;
 * written through KeyID keyid=N of the command line (default 0)
 */
static void test_secret(void)
{
    static const char secret[] = "TME-COLD-BOOT-SECRET-0123456789A";
    uint64_t keyid = cmdline_opt("keyid", 0);
    volatile char *page = (volatile char *)TEST_PA;
    int i;

    if (keyid) {
        page = (volatile char *)map_alias(4, 0, keyid);
    }

    for (i = 0; i < 4096; i++) {
        page[i] = secret[i % 32];
    }
    printf("# ready\n");
    for (;;) {
        asm volatile("cli; hlt");
    }
}

/*
 * Standby (S3) and resume (spec 4.2.1, key select and "save TME key for
 * standby").  The guest fills a page through KeyID 0 and one through
 * KeyID 1, points the ACPI FACS waking vector at a real-mode trampoline
 * below 1 MiB and enters S3; run-suspend wakes the machine through QMP.
 * SeaBIOS jumps to the trampoline, which reads IA32_TME_ACTIVATE (and,
 * when the guest itself activated TME, first writes it with key select
 * 1 as a resuming BIOS does) and re-enters this kernel at its PVH entry:
 * RAM above 1 MiB holds ciphertext until the key is back.
 *
 * Modes on the command line: "suspend" alone, with activate=on (the
 * firmware role restores the key), "suspend self save" (the guest
 * activates with bit 3 set), "suspend self" (without it: the restore
 * fails, x..x100b, and the trampoline reports the value through
 * isa-debug-exit since nothing above 1 MiB is readable).
 */
#define MSR_TME_ACTIVATE        0x982
#define MSR_MK_TME_CORE_ACTIVATE 0x9ff
#define ACT_LOCK                (1ULL << 0)
#define ACT_ENABLE              (1ULL << 1)
#define ACT_KEY_SELECT          (1ULL << 2)
#define ACT_SAVE_KEY            (1ULL << 3)
#define ACT_KEYID_BITS(n)       ((uint64_t)(n) << 32)
#define ACT_AES_XTS_128         (1ULL << 48)
#define S3_TRAMP_PA             0x8000
#define S3_PAGES                16

/* The trampoline and its data; copied to S3_TRAMP_PA */
struct s3_data {
    uint8_t flags;              /* 1: write the MSR, 2: exit with it */
    uint8_t pad;
    uint16_t gdt_limit;
    uint32_t gdt_base;
    uint64_t activate;          /* the value to write */
    uint64_t result;            /* IA32_TME_ACTIVATE read on resume */
} __attribute__((packed));

asm(".pushsection .text\n"
    ".code16\n"
    "s3_tramp:\n\t"
    "cli\n\t"
    "mov %cs, %ax\n\t"
    "mov %ax, %ds\n\t"
    "mov $0x982, %ecx\n\t"
    "testb $1, s3_tramp_data - s3_tramp\n\t"
    "jz 1f\n\t"
    "mov s3_tramp_data - s3_tramp + 8, %eax\n\t"
    "mov s3_tramp_data - s3_tramp + 12, %edx\n\t"
    "wrmsr\n"
    "1:\n\t"
    "rdmsr\n\t"
    "mov %eax, s3_tramp_data - s3_tramp + 16\n\t"
    "mov %edx, s3_tramp_data - s3_tramp + 20\n\t"
    "testb $2, s3_tramp_data - s3_tramp\n\t"
    "jz 2f\n\t"
    "and $0xf, %eax\n\t"
    "or $0x10, %eax\n\t"
    "mov $0xf4, %dx\n\t"
    "outl %eax, %dx\n"
    "3:\n\t"
    "hlt\n\t"
    "jmp 3b\n"
    "2:\n\t"
    "lgdtl s3_tramp_data - s3_tramp + 2\n\t"
    "mov %cr0, %eax\n\t"
    "or $1, %eax\n\t"
    "mov %eax, %cr0\n\t"
    "ljmpl $0x18, $s3_entry32\n"
    ".balign 8\n"
    "s3_tramp_data:\n\t"
    ".fill 24\n"
    "s3_tramp_end:\n"
    ".code32\n"
    "s3_entry32:\n\t"
    "mov $0x10, %eax\n\t"
    "mov %eax, %ds\n\t"
    "mov $0xc00008, %ebx\n\t"         /* &s3_state->start_info */
    "jmp pvh_entry\n"
    ".code64\n"
    ".popsection");
extern char s3_tramp[], s3_tramp_data[], s3_tramp_end[];

/*
 * What survives standby must lie outside the kernel image: QEMU's reset
 * on wake-up loads the image's ELF segments again, as after a cold boot.
 */
#define S3_STATE_PA     (12 * MIB)
#define S3_MAGIC        0x53335354      /* while suspended */
struct s3_state {
    uint32_t magic;
    uint32_t pad;
    uint64_t start_info[8];     /* a PVH start_info: cmdline at +24 */
    char cmdline[1024];
};

static void memcpy_bm(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *c = src;

    while (n--) {
        *d++ = *c++;
    }
}

static bool sig_is(const void *p, const char *sig)
{
    const char *c = p;

    return c[0] == sig[0] && c[1] == sig[1] && c[2] == sig[2] &&
           c[3] == sig[3];
}

/* The FADT, through the RSDP that SeaBIOS put below 1 MiB */
static const uint8_t *find_fadt(void)
{
    uintptr_t a;

    for (a = 0xe0000; a < 0x100000; a += 16) {
        const uint8_t *p = (const uint8_t *)a;
        const uint8_t *rsdt;
        uint32_t len, i;

        if (!sig_is(p, "RSD ") || !sig_is(p + 4, "PTR ")) {
            continue;
        }
        rsdt = (const uint8_t *)(uintptr_t)*(const uint32_t *)(p + 16);
        len = *(const uint32_t *)(rsdt + 4);
        for (i = 36; i + 4 <= len; i += 4) {
            const uint8_t *t =
                (const uint8_t *)(uintptr_t)*(const uint32_t *)(rsdt + i);

            if (sig_is(t, "FACP")) {
                return t;
            }
        }
    }
    return NULL;
}

static void s3_fill(volatile uint64_t *p, uint64_t salt)
{
    int i;

    for (i = 0; i < 512 * S3_PAGES; i++) {
        p[i] = pattern(i % 512) ^ salt ^ (i / 512);
    }
}

static int s3_count(volatile uint64_t *p, uint64_t salt)
{
    int i, n = 0;

    for (i = 0; i < 512 * S3_PAGES; i++) {
        n += p[i] == (pattern(i % 512) ^ salt ^ (i / 512));
    }
    return n;
}

#define S3_SALT1        0x1111000011110000ULL

static void test_suspend(void)
{
    bool self = cmdline_has("self"), save = cmdline_has("save");
    uint64_t bits = ACT_KEYID_BITS(keyid_bits) | ACT_AES_XTS_128;
    struct s3_data *d = (struct s3_data *)(S3_TRAMP_PA +
                                           (s3_tramp_data - s3_tramp));
    volatile uint64_t *k0 = (volatile uint64_t *)TEST_PA, *k1;
    const uint8_t *fadt;
    uint8_t *facs;
    uint32_t pm1a_cnt;
    struct __attribute__((packed)) { uint16_t limit; uint64_t base; } g;
    uint64_t act, want;
    struct s3_state *st = (struct s3_state *)S3_STATE_PA;
    const char *c = cmdline();
    size_t i;

    if (st->magic != S3_MAGIC) {
        fadt = find_fadt();
        if (!check(fadt != NULL, "ACPI: the FADT")) {
            return;
        }
        facs = (uint8_t *)(uintptr_t)*(const uint32_t *)(fadt + 36);
        pm1a_cnt = *(const uint32_t *)(fadt + 64);
        if (!check(sig_is(facs, "FACS") && pm1a_cnt,
                   "ACPI: the FACS and PM1a_CNT (port 0x%x)", pm1a_cnt)) {
            return;
        }
        if (self) {
            /*
             * SeaBIOS reads the FACS on resume before anything restores
             * the TME key: exclude the 2 MiB of the ACPI tables from
             * encryption, as a BIOS keeps what it needs to resume.
             */
            uint64_t base = (uint64_t)fadt & ~(2 * MIB - 1);

            check(((uint64_t)facs & ~(2 * MIB - 1)) == base,
                  "the FADT and the FACS lie in one 2 MiB region");
            check_vector(wrmsr_safe(0x984, base), NO_EXCEPTION,
                         "IA32_TME_EXCLUDE_BASE 0x%lx", base);
            check_vector(wrmsr_safe(0x983, (((1ULL << phys_bits) - 1) &
                                            ~(2 * MIB - 1)) | 0x800),
                         NO_EXCEPTION, "IA32_TME_EXCLUDE_MASK: 2 MiB");
            act = ACT_ENABLE | (save ? ACT_SAVE_KEY : 0) | bits;
            check_vector(wrmsr_safe(MSR_TME_ACTIVATE, act), NO_EXCEPTION,
                         "the guest activates TME and MKTME%s",
                         save ? ", saving the key for standby" : "");
            check_vector(wrmsr_safe(MSR_MK_TME_CORE_ACTIVATE, 0),
                         NO_EXCEPTION, "MK_TME_CORE_ACTIVATE");
        }
        check_u64(mktme_program(1, 0, key1_data, key1_tweak), 0,
                  "PCONFIG KeyID 1 KEYID_SET_KEY_DIRECT");
        s3_fill(k0 + 512 * S3_PAGES, 0);
        k1 = map_alias(4, 0, 1);
        s3_fill(k1, S3_SALT1);
        check(s3_count(k0 + 512 * S3_PAGES, 0) == 512 * S3_PAGES &&
              s3_count(k1, S3_SALT1) == 512 * S3_PAGES,
              "%d pages written through KeyID 0 and %d through KeyID 1",
              S3_PAGES, S3_PAGES);

        memcpy_bm((void *)S3_TRAMP_PA, s3_tramp, s3_tramp_end - s3_tramp);
        asm volatile("sgdt %0" : "=m"(g));
        d->flags = self ? (save ? 1 : 3) : 0;
        d->gdt_limit = g.limit;
        d->gdt_base = g.base;
        /*
         * Without a saved key the restore fails; KeyID bits would keep
         * the write from being committed at all, so that case writes
         * TME alone and must read back x..x100b.
         */
        d->activate = ACT_ENABLE | ACT_KEY_SELECT | (save ? bits : 0);
        d->result = 0;
        for (i = 0; i < sizeof(st->cmdline) - 1 && c[i]; i++) {
            st->cmdline[i] = c[i];
        }
        st->cmdline[i] = 0;
        st->start_info[3] = (uint64_t)st->cmdline;
        st->magic = S3_MAGIC;
        *(uint32_t *)(facs + 12) = S3_TRAMP_PA;      /* waking vector */
        printf("# suspending\n");
        /* SLP_TYP 1 (QEMU's S3), SLP_EN */
        asm volatile("outw %0, %w1" : : "a"((uint16_t)(1 << 10 | 1 << 13)),
                     "Nd"((uint16_t)pm1a_cnt));
        for (;;) {
            asm volatile("hlt");
        }
    }

    /* Resumed: the trampoline read IA32_TME_ACTIVATE */
    st->magic = 0;
    printf("# resumed\n");
    if (self) {
        want = ACT_LOCK | ACT_ENABLE | ACT_KEY_SELECT | bits;
        check_u64(d->result, want, "on resume, key select 1 restores the "
                  "saved key: x..x111b, enabled and locked");
        check_vector(wrmsr_safe(MSR_MK_TME_CORE_ACTIVATE, 0), NO_EXCEPTION,
                     "MK_TME_CORE_ACTIVATE after resume");
    } else {
        want = ACT_LOCK | ACT_ENABLE | ACT_KEY_SELECT | ACT_SAVE_KEY | bits;
        check_u64(d->result, want, "on resume the firmware restored the "
                  "saved key (key select 1) and locked");
    }
    check_u64(rdmsr(MSR_TME_ACTIVATE), want, "IA32_TME_ACTIVATE");
    check(s3_count(k0 + 512 * S3_PAGES, 0) == 512 * S3_PAGES,
          "RAM written through KeyID 0 before standby reads back exactly");
    k1 = map_alias(4, 0, 1);
    check(s3_count(k1, S3_SALT1) == 0,
          "KeyID 1 lost its key in standby: its pages read as garbage");
    check_u64(mktme_program(1, 0, key3_data, key3_tweak), 0,
              "PCONFIG KeyID 1 with another key");
    check(s3_count(k1, S3_SALT1) == 0, "... its pages still read as garbage");
    check_u64(mktme_program(1, 0, key1_data, key1_tweak), 0,
              "PCONFIG KeyID 1 with its key of before standby");
    check(s3_count(k1, S3_SALT1) == 512 * S3_PAGES,
          "its pages read back exactly");
}

/*
 * Paging structures are read through the KeyID of the address that
 * points to them (spec 5.1), at every level: CR3, PML4E, PDPTE and PDE,
 * with 1 GiB, 2 MiB and 4 KiB leaves.  A second hierarchy, every table
 * of it written through KeyID 3 (direct key), maps the first 4 GiB as
 * before plus three views of TEST_PA through KeyID 1 at 512 GiB; CR3
 * points to it through KeyID 3.  The same tables referenced through
 * KeyID 0 read as garbage: an access through them must fault.
 */
static uint64_t w_pml4[512] __attribute__((aligned(4096)));
static uint64_t w_pdpt0[512] __attribute__((aligned(4096)));
static uint64_t w_pdpt[512] __attribute__((aligned(4096)));
static uint64_t w_pd[512] __attribute__((aligned(4096)));
static uint64_t w_pt[512] __attribute__((aligned(4096)));
#define WALK_SALT       0x3a3a3a3a00000000ULL
#define WALK_BASE       (512 * GIB)

/* Through KeyID 3: [5 GiB, 6 GiB) maps the first GiB */
static volatile uint64_t *table_k3(uint64_t *t)
{
    return (volatile uint64_t *)(5 * GIB + (uint64_t)t);
}

static int read_fault(uint64_t va)
{
    last_exc.vector = NO_EXCEPTION;
    asm volatile("1: mov (%0), %%rax\n2:\n\t" EXTABLE_ENTRY(1b, 2b)
                 : : "r"(va) : "rax", "memory");
    return last_exc.vector;
}

static void test_walk(void)
{
    static const uint64_t walk_va[3] = {
        2 * WALK_BASE + TEST_PA, WALK_BASE + 2 * GIB + 8 * MIB,
        WALK_BASE + GIB + 12 * MIB,
    };
    static const char *const walk_what[3] = {
        "the page directory pointer table", "the page directory",
        "the page table",
    };
    volatile uint64_t *k1, *t;
    uint64_t k1b = keyid_pa(1), k3b = keyid_pa(3), cr3;
    uint64_t garbage[3], written[3], err[3], rsvd;
    const uint64_t prw = PTE_P | PTE_RW;
    int i, vec[3];

    check_u64(mktme_program(1, 0, key1_data, key1_tweak), 0,
              "PCONFIG KeyID 1 KEYID_SET_KEY_DIRECT");
    check_u64(mktme_program(3, 0, key3_data, key3_tweak), 0,
              "PCONFIG KeyID 3 KEYID_SET_KEY_DIRECT");
    k1 = map_alias(4, 0, 1);
    for (i = 0; i < 512; i++) {
        k1[i] = pattern(i) ^ WALK_SALT;
    }
    map_alias(5, 0, 3);

    t = table_k3(w_pdpt0);
    for (i = 0; i < 4; i++) {
        t[i] = pdpt[i];                 /* the boot page directories */
    }
    t = table_k3(w_pml4);
    t[0] = (uint64_t)w_pdpt0 | k3b | prw;
    t[1] = (uint64_t)w_pdpt | k3b | prw;
    t[2] = (uint64_t)w_pdpt | prw;              /* through KeyID 0 */
    t = table_k3(w_pdpt);
    t[0] = k1b | prw | PTE_PS;                  /* 1 GiB leaf */
    t[1] = (uint64_t)w_pd | k3b | prw;
    t[2] = (uint64_t)w_pd | prw;                /* through KeyID 0 */
    t = table_k3(w_pd);
    t[4] = TEST_PA | k1b | prw | PTE_PS;        /* 2 MiB leaf */
    t[5] = (uint64_t)w_pt | k3b | prw;
    t[6] = (uint64_t)w_pt | prw;                /* through KeyID 0 */
    t = table_k3(w_pt);
    t[0] = TEST_PA | k1b | prw;                 /* 4 KiB leaf */

    asm volatile("mov %%cr3, %0" : "=r"(cr3));
    asm volatile("mov %0, %%cr3" : : "r"((uint64_t)w_pml4 | k3b) : "memory");
    check(true, "CR3 points to a PML4 written through KeyID 3 through "
          "KeyID 3: the kernel runs on");
    check(count_pattern((volatile uint64_t *)(WALK_BASE + TEST_PA),
                        WALK_SALT) == 512,
          "a 1 GiB leaf through KeyID 1 under a PML4E with KeyID 3");
    check(count_pattern((volatile uint64_t *)(WALK_BASE + GIB + 8 * MIB),
                        WALK_SALT) == 512,
          "a 2 MiB leaf through KeyID 1 under a PDPTE with KeyID 3");
    check(count_pattern((volatile uint64_t *)(WALK_BASE + GIB + 10 * MIB),
                        WALK_SALT) == 512,
          "a 4 KiB leaf through KeyID 1 under a PDE with KeyID 3");
    for (i = 0; i < 3; i++) {
        vec[i] = read_fault(walk_va[i]);
        err[i] = last_exc.error;
    }
    asm volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");

    /*
     * Each entry KeyID 0 sees is random bits.  It must fault when it is
     * not present or sets a reserved bit (MAXPHYADDR..51); otherwise (1
     * time in 128) where the walk goes on depends on the random bits, so
     * the test cannot say what happens and skips that check.  An entry
     * that reads as written through KeyID 3 is a failure, never a skip.
     */
    written[0] = k1b | prw | PTE_PS;
    written[1] = TEST_PA | k1b | prw | PTE_PS;
    written[2] = TEST_PA | k1b | prw;
    garbage[0] = ((volatile uint64_t *)w_pdpt)[0];
    garbage[1] = ((volatile uint64_t *)w_pd)[4];
    garbage[2] = ((volatile uint64_t *)w_pt)[0];
    printf("# KeyID 0 sees the entries as %016lx %016lx %016lx\n",
           garbage[0], garbage[1], garbage[2]);
    rsvd = ((1ULL << 52) - 1) & ~((1ULL << phys_bits) - 1);
    for (i = 0; i < 3; i++) {
        if (garbage[i] != written[i] && (garbage[i] & PTE_P) &&
            !(garbage[i] & rsvd)) {
            tap_skip("the entry is present with no reserved bit set",
                     "%s referenced through KeyID 0 is garbage: #PF",
                     walk_what[i]);
            continue;
        }
        last_exc.error = err[i];    /* for check_vector()'s diagnostic */
        check_vector(vec[i], PF_VECTOR, "%s referenced through KeyID 0 is "
                     "garbage: #PF (error 0x%lx)", walk_what[i], err[i]);
    }
}

/*
 * A fill in the middle of an instruction must not leave it with a host
 * pointer to another KeyID's bytes.  CPU 0 loads 8 bytes across V0 (the
 * end of P0 through KeyID 1) and V1, whose page table T the guest wrote
 * through KeyID 3 and points to through KeyID 3; before each load it
 * drops V1 from its TLB, so the load's second page needs a page walk.
 * CPU 1 keeps reading T through KeyID 0, so that the walk must convert
 * T back; CPU 2 keeps writing the end of P0 through KeyID 2.  If the
 * conversion of T let CPU 2's conversion of P0 run while the load held
 * its pointer to P0's bytes, the load would read KeyID 2's plaintext
 * through KeyID 1.
 */
static uint64_t race_pd[512] __attribute__((aligned(4096)));
static uint64_t race_t0[512] __attribute__((aligned(4096)));
static uint64_t race_t[512] __attribute__((aligned(4096)));
#define RACE_BASE       (7 * GIB)
#define RACE_P0         TEST_PA
#define RACE_P1         (TEST_PA + 0x1000)
#define RACE_K1_TAIL    0x11111111U
#define RACE_K2_TAIL    0x22222222U
static volatile int race_stop, race_done[3], race_count[3];
static volatile int race_leaks, race_iters, race_go;

static void race_reader(void)
{
    volatile uint8_t *v0_end = (volatile uint8_t *)(RACE_BASE + 2 * MIB - 4);
    volatile uint8_t *v1 = (volatile uint8_t *)(RACE_BASE + 2 * MIB);
    uint64_t v;
    int i, n = race_iters;

    for (i = 0; i < n; i++) {
        invlpg(v1);
        /*
         * INVLPG ends the translation block; the load comes after a run
         * of straight-line code, during which the converters may queue
         * their conversions (they wait for this block to end).
         */
        asm volatile("movl $1, (%2)\n\t"
                     ".rept 256\n\tadd $1, %%rax\n\t.endr\n\t"
                     "mov (%1), %0"
                     : "=&r"(v) : "r"(v0_end), "r"(&race_go)
                     : "rax", "memory", "cc");
        if ((uint32_t)v == RACE_K2_TAIL) {
            race_leaks++;
        }
        race_count[0]++;
    }
}

static void race_worker(int cpu, void *arg)
{
    volatile uint32_t *k2_tail =
        (volatile uint32_t *)(4 * GIB + RACE_P0 + 4092);
    volatile uint64_t *t_k0 = (volatile uint64_t *)race_t;
    int n;

    while (!race_stop) {
        if (cpu == 1) {
            (void)t_k0[0];
        } else {
            /*
             * Convert P0 preferably while the reader is inside its
             * load's block (race_go), when the reader's first page is
             * already there and its walk may need a conversion.
             */
            for (n = 0; !race_go && n < 4096; n++) {
                /* no PAUSE: under TCG it leaves the CPU loop */
            }
            race_go = 0;
            *k2_tail = RACE_K2_TAIL;
        }
        race_count[cpu]++;
    }
    race_done[cpu] = 1;
}

static void test_fill_race(void)
{
    volatile uint64_t *t;
    volatile uint32_t *k1_tail =
        (volatile uint32_t *)(RACE_BASE + 2 * MIB - 4);
    int cpus = smp_start_checked(), i;

    race_iters = cmdline_opt("iterations", 200000);
    if (!check(cpus >= 3, "%d CPUs for the reader and two converters",
               cpus)) {
        return;
    }
    check_u64(mktme_program(1, 0, key1_data, key1_tweak), 0,
              "PCONFIG KeyID 1 KEYID_SET_KEY_DIRECT");
    check_u64(mktme_program(2, 0, key2_data, key2_tweak), 0,
              "PCONFIG KeyID 2 KEYID_SET_KEY_DIRECT");
    check_u64(mktme_program(3, 0, key3_data, key3_tweak), 0,
              "PCONFIG KeyID 3 KEYID_SET_KEY_DIRECT");
    map_alias(4, 0, 2);                 /* P0 through KeyID 2 at 4 GiB */
    map_alias(5, 0, 3);                 /* T through KeyID 3 */
    t = (volatile uint64_t *)(5 * GIB + (uint64_t)race_t);
    t[0] = RACE_P1 | PTE_P | PTE_RW;
    race_t0[511] = RACE_P0 | keyid_pa(1) | PTE_P | PTE_RW;
    race_pd[0] = (uint64_t)race_t0 | PTE_P | PTE_RW;
    race_pd[1] = (uint64_t)race_t | keyid_pa(3) | PTE_P | PTE_RW;
    pdpt[7] = (uint64_t)race_pd | PTE_P | PTE_RW;
    flush_tlb();
    *k1_tail = RACE_K1_TAIL;
    check_u64(*k1_tail, RACE_K1_TAIL, "the end of P0 through KeyID 1");

    for (i = 1; i <= 2; i++) {
        smp_call(i, race_worker, NULL);
    }
    race_reader();
    race_stop = 1;
    smp_wait();
    printf("# %d loads across the pages; %d reads of T through KeyID 0, "
           "%d writes of P0 through KeyID 2 meanwhile\n", race_count[0],
           race_count[1], race_count[2]);
    check(race_done[1] && race_done[2] && race_count[1] > 0 &&
          race_count[2] > 0, "both converters ran");
    check(race_leaks == 0, "no load across the pages read KeyID 2's "
          "plaintext through KeyID 1 (%d of %d did)", race_leaks,
          race_count[0]);
}

/*
 * A virtio ring that the guest converts to another KeyID.  A device
 * reads and writes guest memory as KeyID 0 sees it, rings included;
 * virtio keeps its rings in a cache (address_space_cache_init()) that
 * must not hand the device the host bytes of a page another KeyID owns.
 * virtio-rng-pci with the legacy interface (disable-modern=on, I/O BAR
 * 0): one queue at VIRTIO_PA, descriptors and available ring first, the
 * used ring on the next page boundary (legacy layout).
 *
 * 1. Control: a request written through KeyID 0 completes.
 * 2. The next request is written through KeyID 1 (the first ring page
 *    converts to KeyID 1): the device sees KeyID 0's view of it,
 *    garbage, so it never fills the request's buffer.  A cache that
 *    kept the host pointer would show the device KeyID 1's plaintext and
 *    complete the request.
 * 3. After a device reset and a new ring through KeyID 0 it works again.
 */
#define VIRTIO_PA       (10 * MIB)
#define VIRTIO_RING_MAX (64 * 1024)        /* up to 1024 entries */
#define VIRTIO_BUF_PA   (VIRTIO_PA + VIRTIO_RING_MAX)
#define VIO_HOST_FEATURES       0x00
#define VIO_GUEST_FEATURES      0x04
#define VIO_QUEUE_PFN           0x08
#define VIO_QUEUE_NUM           0x0c
#define VIO_QUEUE_SEL           0x0e
#define VIO_QUEUE_NOTIFY        0x10
#define VIO_STATUS              0x12
#define VIO_ACK                 1
#define VIO_DRIVER              2
#define VIO_DRIVER_OK           4
#define VRING_DESC_F_WRITE      2
#define VIRTIO_WAIT_MS          200

struct vring_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

static uint16_t vio_io;
static uint16_t vio_num;
static uint64_t vio_used;              /* physical address */

/* virtio-rng-pci (legacy) on bus 0: its I/O BAR, bus mastering on */
static bool virtio_rng_find(void)
{
    int dev;

    for (dev = 0; dev < 32; dev++) {
        if (pci_read(dev, 0) == 0x10051af4) {
            vio_io = pci_read(dev, 0x10) & ~3u;
            pci_write(dev, 0x04, pci_read(dev, 0x04) | 0x5);
            return vio_io != 0;
        }
    }
    return false;
}

/* Reset the device and give it an empty queue 0 at VIRTIO_PA */
static void virtio_rng_setup(void)
{
    volatile uint64_t *ring = (volatile uint64_t *)VIRTIO_PA;
    int i;

    outb(vio_io + VIO_STATUS, 0);
    outb(vio_io + VIO_STATUS, VIO_ACK | VIO_DRIVER);
    (void)inl(vio_io + VIO_HOST_FEATURES);
    outl(vio_io + VIO_GUEST_FEATURES, 0);
    outw(vio_io + VIO_QUEUE_SEL, 0);
    vio_num = inw(vio_io + VIO_QUEUE_NUM);
    vio_used = VIRTIO_PA + ((16 * vio_num + 6 + 2 * vio_num + 4095) & ~4095);
    for (i = 0; i < VIRTIO_RING_MAX / 8; i++) {
        ring[i] = 0;                    /* through KeyID 0 */
    }
    outl(vio_io + VIO_QUEUE_PFN, VIRTIO_PA >> 12);
    outb(vio_io + VIO_STATUS, VIO_ACK | VIO_DRIVER | VIO_DRIVER_OK);
}

/*
 * Post a request for @len random bytes into the buffer at @buf_pa as
 * entry @n of the available ring, writing the ring through @ring (the
 * first ring page as some KeyID maps it)
 */
static void virtio_rng_post(volatile uint8_t *ring, uint16_t n,
                            uint64_t buf_pa, uint32_t len)
{
    volatile struct vring_desc *desc = (volatile struct vring_desc *)ring;
    volatile uint16_t *avail = (volatile uint16_t *)(ring + 16 * vio_num);

    desc[0].addr = buf_pa;
    desc[0].len = len;
    desc[0].flags = VRING_DESC_F_WRITE;
    desc[0].next = 0;
    avail[2 + n % vio_num] = 0;
    asm volatile("mfence" ::: "memory");
    avail[1] = n + 1;                   /* avail->idx */
    asm volatile("mfence" ::: "memory");
    outw(vio_io + VIO_QUEUE_NOTIFY, 0);
}

/* Wait until used->idx (through KeyID 0) is @idx */
static bool virtio_rng_wait(uint16_t idx)
{
    volatile uint16_t *used = (volatile uint16_t *)vio_used;
    uint64_t t0 = now_ms();

    while (now_ms() - t0 < VIRTIO_WAIT_MS) {
        if (used[1] == idx) {
            return true;
        }
        cpu_relax();
    }
    return false;
}

static int bytes_equal_to(volatile uint8_t *p, int n, uint8_t v)
{
    int i, same = 0;

    for (i = 0; i < n; i++) {
        same += p[i] == v;
    }
    return same;
}

static void test_virtio(void)
{
    volatile uint8_t *buf = (volatile uint8_t *)VIRTIO_BUF_PA;
    volatile uint32_t *used;
    volatile uint8_t *k1_ring;
    bool found, done;
    int i;

    found = virtio_rng_find();
    if (!check(found, "virtio-rng-pci (legacy) found, I/O BAR 0x%x",
               vio_io)) {
        return;
    }
    program_keyids_123();
    virtio_rng_setup();
    used = (volatile uint32_t *)vio_used;
    if (!check(vio_num >= 2 && vio_used + 6 + 8 * vio_num <= VIRTIO_BUF_PA,
               "queue 0 has %u entries, used ring at 0x%lx", vio_num,
               vio_used)) {
        return;
    }

    /* 1. Control, through KeyID 0 */
    for (i = 0; i < 64; i++) {
        buf[i] = 0xa5;
    }
    virtio_rng_post((volatile uint8_t *)VIRTIO_PA, 0, VIRTIO_BUF_PA, 64);
    done = virtio_rng_wait(1);
    check(done && used[1] == 0 && used[2] == 64,
          "a request written through KeyID 0 completes (used idx %u, "
          "id %u, len %u)", used[0] >> 16, used[1], used[2]);
    check(bytes_equal_to(buf, 64, 0xa5) < 8,
          "... and the device filled its buffer");

    /* 2. The next request through KeyID 1 */
    for (i = 0; i < 64; i++) {
        buf[i] = 0xa5;
    }
    k1_ring = (volatile uint8_t *)map_alias(4, 0, 1) - TEST_PA + VIRTIO_PA;
    virtio_rng_post(k1_ring, 1, VIRTIO_BUF_PA, 64);
    done = virtio_rng_wait(2);
    check(!done,
          "a request written through KeyID 1 does not complete: the device "
          "reads the ring as KeyID 0 sees it (used idx %u)",
          used[0] >> 16);
    check(bytes_equal_to(buf, 64, 0xa5) == 64,
          "... and its buffer stays untouched (%d of 64 bytes changed)",
          64 - bytes_equal_to(buf, 64, 0xa5));
    check(k1_ring[16 * vio_num + 2] == 2,
          "KeyID 1 reads back the available index it wrote");

    /* 3. Reset, new ring through KeyID 0 */
    virtio_rng_setup();
    for (i = 0; i < 64; i++) {
        buf[i] = 0xa5;
    }
    virtio_rng_post((volatile uint8_t *)VIRTIO_PA, 0, VIRTIO_BUF_PA, 64);
    check(virtio_rng_wait(1) && bytes_equal_to(buf, 64, 0xa5) < 8,
          "after a reset and a ring through KeyID 0 the device works again");
}

int main(void)
{
    setup_idt();
    phys_bits = cmdline_opt("phys-bits", 46);
    keyid_bits = cmdline_opt("keyid-bits", 6);
    printf("# tme-paging: %s\n", cmdline());
    if (cmdline_has("alias")) {
        test_alias();
    } else if (cmdline_has("mktme")) {
        test_mktme();
    } else if (cmdline_has("pmem-write")) {
        test_pmem_write();
    } else if (cmdline_has("pmem-read")) {
        test_pmem_read();
    } else if (cmdline_has("straddle")) {
        test_straddle();
    } else if (cmdline_has("svm")) {
        test_svm();
        test_svm_keyid();
    } else if (cmdline_has("migrate")) {
        test_migrate();
    } else if (cmdline_has("flows")) {
        test_flows();
    } else if (cmdline_has("exclusion")) {
        test_exclusion();
    } else if (cmdline_has("debug")) {
        test_debug();
    } else if (cmdline_has("virtio")) {
        test_virtio();
    } else if (cmdline_has("dma")) {
        test_dma();
    } else if (cmdline_has("fillrace")) {
        test_fill_race();
    } else if (cmdline_has("walk")) {
        test_walk();
    } else if (cmdline_has("suspend")) {
        test_suspend();
    } else if (cmdline_has("secret")) {
        test_secret();
    } else if (cmdline_has("plain")) {
        test_plain();
    } else {
        printf("Bail out! no scenario on the command line\n");
        exit_qemu(2);
    }
    tap_done();
    return 0;
}
