/*
 * Bare-metal benchmark guest: memory work through a KeyID, a page that
 * alternates between two KeyIDs, and memory filled for DRAM dumps
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Built with the bare-metal test kernel's boot.S and lib.c (PVH entry,
 * the first 4 GiB identity mapped with 2 MiB pages, COM1, isa-debug-exit).
 * The host times the phases: the guest prints "@@ start NAME" and
 * "@@ stop NAME" around each, and "@@ result ..." lines.
 *
 * Scenarios on the command line (-append):
 *   mem keyid=K mib=M passes=P
 *       2 buffers of M MiB at 256 MiB and 256 MiB + M MiB + 4 KiB (so
 *       that their pages do not share slots of QEMU's direct-mapped TLB;
 *       M <= 508 with 1 GiB of RAM), seen through KeyID
 *       K (K > 0: a direct key set with PCONFIG) at 4 GiB + their address:
 *       touch (first write), then P passes each of write, read, copy
 *       (P = 0: touch alone)
 *   flip iters=N
 *       one page read through KeyID 1 and KeyID 2 (direct keys) in turn,
 *       2N accesses that each convert the page
 *   fill keyid=K base=B mib=M
 *       write M MiB (at most 1024) at B (2 MiB aligned, below 4 GiB)
 *       through KeyID K, print "@@ ready", halt
 * All take phys-bits=N keyid-bits=N (default 46 and 6).
 */

#include "lib.h"

#define GIB             (1ULL << 30)
#define MIB             (1ULL << 20)
#define PTE_P           0x1ULL
#define PTE_RW          0x2ULL
#define PTE_PS          0x80ULL
#define FLIP_PA         (8 * MIB)

extern uint64_t pdpt[512];
static uint64_t pd_alias[2][512] __attribute__((aligned(4096)));
static uint64_t phys_bits, keyid_bits;

/*
 * Map [slot GiB, slot GiB + 1 GiB) onto [@pa, @pa + 1 GiB) of physical
 * memory through @keyid, with 2 MiB pages; slot is 4 or 5.
 */
static uint8_t *map_keyid(int slot, uint64_t keyid, uint64_t pa)
{
    uint64_t *pd = pd_alias[slot - 4];
    uint64_t kbits = keyid << (phys_bits - keyid_bits);
    int i;

    for (i = 0; i < 512; i++) {
        pd[i] = (pa + ((uint64_t)i << 21)) | kbits | PTE_P | PTE_RW | PTE_PS;
    }
    pdpt[slot] = (uint64_t)pd | PTE_P | PTE_RW;
    flush_tlb();
    return (uint8_t *)(slot * GIB);
}

/* PCONFIG KEYID_SET_KEY_DIRECT, AES-XTS-128, keys derived from @keyid */
static void set_direct_key(uint16_t keyid)
{
    uint8_t data[16], tweak[16];
    uint64_t rax;
    int i;

    for (i = 0; i < 16; i++) {
        data[i] = keyid * 37 + i;
        tweak[i] = keyid * 91 + 3 * i + 1;
    }
    rax = mktme_program(keyid, 0, data, tweak);
    if (rax) {
        printf("Bail out! PCONFIG of KeyID %d returned %lu\n", keyid, rax);
        exit_qemu(2);
    }
}

static void start(const char *name)
{
    printf("@@ start %s\n", name);
}

static void stop(const char *name)
{
    printf("@@ stop %s\n", name);
}

/*
 * The loops below are what the benchmark measures: keep them plain, eight
 * words an iteration.  TCG ends a translation block at every backward
 * branch and keeps the guest's registers in CPUX86State between blocks,
 * so a loop of one word an iteration spends most of its time storing and
 * reloading its registers (3/4 of the read phase), not accessing memory;
 * on this benchmark's AMD hosts that part also ran at one of two speeds
 * at random, in any binary (bench/README.md, B2).  Unrolled, the phases
 * time the accesses and the TLB fills, which is what the series touches.
 */
static void write_words(uint64_t *p, uint64_t n, uint64_t seed)
{
    uint64_t i;

#pragma GCC unroll 8
    for (i = 0; i < n; i++) {
        p[i] = i ^ seed;
    }
    asm volatile("" : : : "memory");
}

static uint64_t read_words(const uint64_t *p, uint64_t n)
{
    uint64_t i, sum = 0;

#pragma GCC unroll 8
    for (i = 0; i < n; i++) {
        sum += p[i];
    }
    return sum;
}

static void copy_words(uint64_t *d, const uint64_t *s, uint64_t n)
{
    uint64_t i;

#pragma GCC unroll 8
    for (i = 0; i < n; i++) {
        d[i] = s[i];
    }
    asm volatile("" : : : "memory");
}

/*
 * shift=K: translate, before the phases, one block of K increments, so
 * that the host code TCG generates for everything after it (the loops
 * above) lands K * (a few bytes) further on in its code buffer.  The
 * loops' speed depends on where that host code lands; this shows by how
 * much, with one QEMU binary and one guest (bench/README.md, B2).
 */
static void shift_host_code(uint64_t k)
{
    uint64_t v = 0;

    if (k > 256) {
        k = 256;
    }
    /* Enter a sled of 256 "inc %rax" (3 bytes each) K from its end */
    asm volatile("lea 1f(%%rip), %%rdx\n\t"
                 "sub %%rcx, %%rdx\n\t"
                 "jmp *%%rdx\n\t"
                 ".rept 256\n\t"
                 "inc %%rax\n\t"
                 ".endr\n"
                 "1:"
                 : "+a"(v) : "c"(k * 3) : "rdx", "cc");
    if (v != k) {
        printf("Bail out! shift sled ran %lu increments, not %lu\n", v, k);
        exit_qemu(2);
    }
}

static int scenario_mem(void)
{
    uint64_t keyid = cmdline_opt("keyid", 0);
    uint64_t mib = cmdline_opt("mib", 256);
    uint64_t passes = cmdline_opt("passes", 2);
    uint64_t n = mib * MIB / 8, p, sum = 0, want = 0, i;
    uint8_t *base;
    uint64_t *src, *dst;

    shift_host_code(cmdline_opt("shift", 0));
    if (keyid) {
        set_direct_key(keyid);
    }
    base = map_keyid(4, keyid, 0);
    src = (uint64_t *)(base + 256 * MIB);
    /* One page more apart than the size: QEMU's TLB is direct-mapped */
    dst = (uint64_t *)(base + 256 * MIB + mib * MIB + 4096);

    start("touch");
    write_words(src, n, 0);
    write_words(dst, n, 0);
    stop("touch");

    start("write");
    for (p = 0; p < passes; p++) {
        write_words(src, n, p + 1);
    }
    stop("write");

    start("read");
    for (p = 0; p < passes; p++) {
        sum += read_words(src, n);
    }
    stop("read");

    start("copy");
    for (p = 0; p < passes; p++) {
        copy_words(dst, src, n);
    }
    stop("copy");

    /*
     * The data survived: sums of i ^ passes over all i, and the copy.
     * With no pass (touch alone, for B7 and B6), spot-check 64 words of
     * each buffer, so that the check adds no TLB fill per page.
     */
    if (!passes) {
        for (i = 0; i < n; i += n / 64) {
            if (src[i] != i || dst[i] != i) {
                printf("Bail out! wrong data at word %lu: 0x%lx 0x%lx\n",
                       i, src[i], dst[i]);
                return 1;
            }
        }
    } else {
        for (i = 0; i < n; i++) {
            want += i ^ passes;
        }
        want *= passes;
        if (sum != want || read_words(dst, n) != want / passes) {
            printf("Bail out! wrong data: sum 0x%lx, expected 0x%lx\n", sum,
                   want);
            return 1;
        }
    }
    printf("@@ result mem keyid=%lu mib=%lu passes=%lu\n", keyid, mib,
           passes);
    return 0;
}

static int scenario_flip(void)
{
    uint64_t iters = cmdline_opt("iters", 100000), i;
    volatile uint64_t *k1, *k2;
    uint64_t same = 0;

    set_direct_key(1);
    set_direct_key(2);
    k1 = (volatile uint64_t *)(map_keyid(4, 1, 0) + FLIP_PA);
    k2 = (volatile uint64_t *)(map_keyid(5, 2, 0) + FLIP_PA);
    k1[0] = 0x5eed5eed5eed5eedULL;

    /* Each read finds the page owned by the other KeyID and converts it */
    start("flip");
    for (i = 0; i < iters; i++) {
        same += k2[0] == 0x5eed5eed5eed5eedULL;
        if (k1[0] != 0x5eed5eed5eed5eedULL) {
            printf("Bail out! KeyID 1 lost its plaintext at %lu\n", i);
            return 1;
        }
    }
    stop("flip");
    if (same) {
        printf("Bail out! KeyID 2 saw KeyID 1's plaintext %lu times\n",
               same);
        return 1;
    }
    printf("@@ result flip conversions=%lu\n", 2 * iters);
    return 0;
}

static int scenario_fill(void)
{
    uint64_t keyid = cmdline_opt("keyid", 0);
    uint64_t base = cmdline_opt("base", GIB);
    uint64_t mib = cmdline_opt("mib", 1024);
    uint8_t *p;

    if (base % (2 * MIB) || mib > 1024 || base + mib * MIB > GIB * 4) {
        printf("Bail out! fill range out of the mapped memory\n");
        return 1;
    }
    if (keyid) {
        set_direct_key(keyid);
        p = map_keyid(4, keyid, base);
    } else {
        p = (uint8_t *)base;
    }
    start("fill");
    write_words((uint64_t *)p, mib * MIB / 8, 0x0123456789abcdefULL);
    stop("fill");
    printf("@@ ready\n");
    for (;;) {
        asm volatile("cli; hlt");
    }
    return 0;
}

int main(void)
{
    int rc;

    setup_idt();
    phys_bits = cmdline_opt("phys-bits", 46);
    keyid_bits = cmdline_opt("keyid-bits", 6);
    printf("# bench-guest: %s\n", cmdline());
    if (cmdline_has("mem")) {
        rc = scenario_mem();
    } else if (cmdline_has("flip")) {
        rc = scenario_flip();
    } else if (cmdline_has("fill")) {
        rc = scenario_fill();
    } else {
        printf("Bail out! no scenario on the command line\n");
        rc = 2;
    }
    exit_qemu(rc);
    return rc;
}
