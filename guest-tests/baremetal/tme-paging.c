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
 * Scenarios: mktme (tme-activate=on) | plain (MKTME not activated: the
 * KeyID bits are ordinary address bits).  phys-bits=N keyid-bits=N.
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

static void flush_tlb(void)
{
    uint64_t cr3;

    asm volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
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

static void test_plain(void)
{
    volatile uint64_t *direct = (volatile uint64_t *)TEST_PA;
    volatile uint64_t *alias;

    direct[0] = 0x1122334455667788ULL;
    alias = map_alias(4, 0, 1);
    check(alias[0] != 0x1122334455667788ULL,
          "without MKTME the KeyID bits address memory above RAM");
}

/* A secret at TEST_PA for run-dram-save, which reads the DRAM image */
static void test_secret(void)
{
    static const char secret[] = "TME-COLD-BOOT-SECRET-0123456789A";
    char *page = (char *)TEST_PA;
    int i;

    for (i = 0; i < 4096; i++) {
        page[i] = secret[i % 32];
    }
    printf("# ready\n");
    for (;;) {
        asm volatile("cli; hlt");
    }
}

int main(void)
{
    setup_idt();
    phys_bits = cmdline_opt("phys-bits", 46);
    keyid_bits = cmdline_opt("keyid-bits", 6);
    printf("# tme-paging: %s\n", cmdline());
    if (cmdline_has("mktme")) {
        test_mktme();
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
