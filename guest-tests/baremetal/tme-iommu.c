/*
 * Bare-metal tests of MKTME KeyIDs in VT-d (intel-iommu) tables (spec
 * 7.8): the KeyID bits of the page frame address in a leaf entry select
 * the KeyID of the device's DMA, and the IOMMU reads each of its tables
 * through the KeyID that the pointer to the table carries.
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The device is QEMU's edu: its DMA engine copies between its 4 KiB
 * buffer and an IOVA.  KeyID 1 has a direct key, KeyID 0 the TME key;
 * run-iommu fixes both and checks DRAM and the garbage a wrong KeyID
 * reads with python3-cryptography.
 *
 * Command line: "iommu" (legacy-mode tables, second-level translation),
 * "iommu scalable" (x-scalable-mode=on: scalable-mode root, context,
 * PASID directory and PASID tables, second-level translation), "iommu
 * first-level" (x-scalable-mode=on,x-flts=on: first-level translation).
 * "aw39" (aw-bits=39): KeyID bits above the IOMMU's address width are
 * reserved bits of the entries.  phys-bits=N keyid-bits=N.  The kernel ends with "# ready" and waits
 * for run-iommu to read DRAM.
 */

#include "lib.h"

#define MIB             (1ULL << 20)
#define GIB             (1ULL << 30)

/* CPU mappings: [(4 + k) GiB, (5 + k) GiB) maps the first GiB via KeyID k */
extern uint64_t pdpt[512];
static uint64_t pd_keyid[2][512] __attribute__((aligned(4096)));
static uint64_t phys_bits, keyid_bits;

static uint64_t keyid_pa(uint64_t keyid)
{
    return keyid << (phys_bits - keyid_bits);
}

static void map_keyids(void)
{
    int k, i;

    for (k = 0; k < 2; k++) {
        for (i = 0; i < 512; i++) {
            pd_keyid[k][i] = ((uint64_t)i << 21) | keyid_pa(k) | 0x83;
        }
        pdpt[4 + k] = (uint64_t)pd_keyid[k] | 0x3;
    }
    flush_tlb();
}

/* Physical address @pa as KeyID @keyid sees it */
static volatile uint64_t *kva(int keyid, uint64_t pa)
{
    return (volatile uint64_t *)((4 + keyid) * GIB + pa);
}

/* The IOMMU's tables, one 4 KiB page each */
enum { T_ROOT, T_CTX, T_PDIR, T_PTBL, T_L4, T_L3, T_L2, T_L1, T_NR };
#define TBL(i)          (16 * MIB + (uint64_t)(i) * 4096)

/* Data pages and the IOVAs that map them (edu masks IOVAs to 28 bits) */
#define PG(i)           (17 * MIB + (uint64_t)(i) * 4096)
#define IOVA(i)         (0x100000 + (uint64_t)(i) * 4096)
enum {
    M_DST1,             /* KeyID 1: the device writes here */
    M_SRC1,             /* KeyID 1: the CPU wrote it, the device reads */
    M_SRC1_K0,          /* the same page without KeyID bits */
    M_OUT0,             /* KeyID 0: data into and out of the device */
    M_DST2,             /* KeyID 1: the device writes, tables encrypted */
    M_DST3,             /* KeyID 1: the device writes, tables broken */
    M_NR
};
static const struct {
    uint64_t pa;
    int keyid;
} leaf[M_NR] = {
    [M_DST1] = { PG(0), 1 },
    [M_SRC1] = { PG(1), 1 },
    [M_SRC1_K0] = { PG(1), 0 },
    [M_OUT0] = { PG(2), 0 },
    [M_DST2] = { PG(3), 1 },
    [M_DST3] = { PG(4), 1 },
};

/* The pointers along the walk, each with a KeyID of its own */
enum { P_RTADDR, P_ROOT, P_CTX, P_PDIR, P_PASID, P_L4, P_L3, P_L2, P_NR };
static const char *const ptr_name[P_NR] = {
    [P_RTADDR] = "the root table address register",
    [P_ROOT] = "the root entry's context-table pointer",
    [P_CTX] = "the context entry's table pointer",
    [P_PDIR] = "the PASID directory entry",
    [P_PASID] = "the PASID entry's page-table pointer",
    [P_L4] = "the PML4 entry",
    [P_L3] = "the PDPT entry",
    [P_L2] = "the PD entry",
};

static bool scalable, first_level, aw39;

/* VT-d registers (Intel VT-d specification, chapter 11) */
#define VTD_BASE        0xfed90000UL
#define R_CAP           0x08
#define R_ECAP          0x10
#define R_GCMD          0x18
#define R_GSTS          0x1c
#define R_RTADDR        0x20
#define R_CCMD          0x28
#define R_FSTS          0x34
#define R_IQH           0x80
#define R_IQT           0x88
#define R_IQA           0x90
#define GCMD_TE         (1U << 31)  /* and GSTS.TES */
#define GCMD_SRTP       (1U << 30)  /* and GSTS.RTPS */
#define GCMD_QIE        (1U << 26)  /* and GSTS.QIES */
#define FSTS_IQE        (1U << 4)
#define RTADDR_SMT      (1ULL << 10)
#define CCMD_ICC        (1ULL << 63)
#define CCMD_GLOBAL     (1ULL << 61)
#define IOTLB_IVT       (1ULL << 63)
#define IOTLB_GLOBAL    (1ULL << 60)
#define FRCD_F          (1ULL << 63)

static unsigned frcd_off, iotlb_off;
static bool vtd_on;

static uint32_t vtd_r32(unsigned off)
{
    return *(volatile uint32_t *)(VTD_BASE + off);
}

static void vtd_w32(unsigned off, uint32_t v)
{
    *(volatile uint32_t *)(VTD_BASE + off) = v;
}

static uint64_t vtd_r64(unsigned off)
{
    return *(volatile uint64_t *)(VTD_BASE + off);
}

static void vtd_w64(unsigned off, uint64_t v)
{
    *(volatile uint64_t *)(VTD_BASE + off) = v;
}

/* Wait until the register at @off has @want in the bits of @mask */
static bool vtd_wait(unsigned off, uint64_t mask, uint64_t want, bool quad)
{
    int i;

    for (i = 0; i < 100000; i++) {
        if (((quad ? vtd_r64(off) : vtd_r32(off)) & mask) == want) {
            return true;
        }
        cpu_relax();
    }
    return false;
}

/* edu (docs/specs/edu.rst): DMA between its buffer at 0x40000 and memory */
#define EDU_BUF         0x40000
static volatile uint8_t *edu;
static uint16_t edu_sid;

static bool edu_find(void)
{
    int dev;

    for (dev = 0; dev < 32; dev++) {
        if (pci_read(dev, 0) == 0x11e81234) {
            uint32_t bar = pci_read(dev, 0x10) & ~0xfU;

            if (!bar) {
                bar = 0xfe000000U;
                pci_write(dev, 0x10, bar);
            }
            pci_write(dev, 0x04, pci_read(dev, 0x04) | 0x6);   /* MEM, BM */
            edu = (volatile uint8_t *)(uint64_t)bar;
            edu_sid = dev << 3;
            return true;
        }
    }
    return false;
}

/* One DMA of 4 KiB; true when the engine finished */
static bool edu_dma(uint64_t iova, bool to_memory)
{
    volatile uint64_t *r = (volatile uint64_t *)(edu + 0x80);
    int i;

    r[0] = to_memory ? EDU_BUF : iova;
    r[1] = to_memory ? iova : EDU_BUF;
    r[2] = 4096;
    r[3] = 1 | (to_memory ? 2 : 0);
    for (i = 0; i < 400; i++) {              /* the engine takes 100 ms */
        if (!(r[3] & 1)) {
            return true;
        }
        udelay(10000);
    }
    return false;
}

/* Copy memory at @from to memory at @to through the device */
static bool edu_copy(uint64_t from, uint64_t to)
{
    return edu_dma(from, false) && edu_dma(to, true);
}

static uint64_t pattern(uint64_t salt, int i)
{
    return salt ^ ((uint64_t)i * 0x0001000100010001ULL);
}

static void fill(volatile uint64_t *p, uint64_t salt)
{
    int i;

    for (i = 0; i < 512; i++) {
        p[i] = pattern(salt, i);
    }
}

static int count(volatile uint64_t *p, uint64_t salt)
{
    int i, n = 0;

    for (i = 0; i < 512; i++) {
        n += p[i] == pattern(salt, i);
    }
    return n;
}

/*
 * Write every table through KeyID @tk; pointer i carries KeyID
 * @pk[i].  Leaf entries carry the KeyIDs of leaf[].  Then load the root
 * table address and invalidate the context cache and the IOTLB.
 */
static void build_tables(int tk, const int *pk)
{
    uint64_t rw = first_level ? 0x7 : 0x3;      /* FL: P, RW, US; SL: R, W */
    volatile uint64_t *e;
    int i, devfn = edu_sid & 0xff;

    for (i = 0; i < T_NR; i++) {
        e = kva(tk, TBL(i));
        for (int j = 0; j < 512; j++) {
            e[j] = 0;
        }
    }
    e = kva(tk, TBL(T_ROOT));
    e[0] = TBL(T_CTX) | keyid_pa(pk[P_ROOT]) | 1;
    if (!scalable) {
        e = kva(tk, TBL(T_CTX)) + devfn * 2;
        /* Multi-level translation, domain 1, 3 or 4 levels */
        if (aw39) {
            e[0] = TBL(T_L3) | keyid_pa(pk[P_CTX]) | 1;
            e[1] = (1 << 8) | 1;
        } else {
            e[0] = TBL(T_L4) | keyid_pa(pk[P_CTX]) | 1;
            e[1] = (1 << 8) | 2;
        }
    } else {
        e = kva(tk, TBL(T_CTX)) + devfn * 4;
        e[0] = TBL(T_PDIR) | keyid_pa(pk[P_CTX]) | 1;  /* RID_PASID 0 */
        e = kva(tk, TBL(T_PDIR));
        e[0] = TBL(T_PTBL) | keyid_pa(pk[P_PDIR]) | 1;
        e = kva(tk, TBL(T_PTBL));
        e[1] = 1;                                       /* DID 1 */
        if (first_level) {
            e[2] = TBL(T_L4) | keyid_pa(pk[P_PASID]);   /* 4 levels */
            e[0] = (1 << 6) | (2 << 2) | 1;             /* FL, 48 bits */
        } else {
            e[0] = TBL(T_L4) | keyid_pa(pk[P_PASID]) | (2 << 6) |
                   (2 << 2) | 1;                        /* SL, 4 levels */
        }
    }
    kva(tk, TBL(T_L4))[0] = TBL(T_L3) | keyid_pa(pk[P_L4]) | rw;
    kva(tk, TBL(T_L3))[0] = TBL(T_L2) | keyid_pa(pk[P_L3]) | rw;
    kva(tk, TBL(T_L2))[0] = TBL(T_L1) | keyid_pa(pk[P_L2]) | rw;
    e = kva(tk, TBL(T_L1)) + (IOVA(0) >> 12);
    for (i = 0; i < M_NR; i++) {
        e[i] = leaf[i].pa | keyid_pa(leaf[i].keyid) | rw;
    }

    vtd_w64(R_RTADDR, TBL(T_ROOT) | keyid_pa(pk[P_RTADDR]) |
                      (scalable ? RTADDR_SMT : 0));
    vtd_w32(R_GCMD, (vtd_on ? GCMD_TE : 0) | GCMD_SRTP);
    vtd_wait(R_GSTS, GCMD_SRTP, GCMD_SRTP, false);
    vtd_w64(R_CCMD, CCMD_ICC | CCMD_GLOBAL);
    vtd_wait(R_CCMD, CCMD_ICC, 0, true);
    vtd_w64(iotlb_off + 8, IOTLB_IVT | IOTLB_GLOBAL);
    vtd_wait(iotlb_off + 8, IOTLB_IVT, 0, true);
    if (!vtd_on) {
        vtd_w32(R_GCMD, GCMD_TE);
        vtd_on = check(vtd_wait(R_GSTS, GCMD_TE, GCMD_TE, false),
                       "DMA remapping enabled");
    }
}

/* The fault recording register's upper half (0: no fault); clears it */
static uint64_t fault_take(uint64_t *addr)
{
    uint64_t hi = vtd_r64(frcd_off + 8);

    *addr = vtd_r64(frcd_off);
    if (hi & FRCD_F) {
        vtd_w64(frcd_off + 8, FRCD_F);
    }
    vtd_w32(R_FSTS, vtd_r32(R_FSTS));
    return hi & FRCD_F ? hi : 0;
}

static void print_qwords(const char *what, uint64_t pa, volatile uint64_t *p)
{
    int i;

    printf("# %s at 0x%lx:", what, pa);
    for (i = 0; i < 4; i++) {
        printf(" %016lx", p[i]);
    }
    printf("\n");
}

#define SALT_IN         0x1111000000000000ULL
#define SALT_SRC        0x2222000000000000ULL
#define SALT_ENC        0x3333000000000000ULL
#define SALT_BAD        0x4444000000000000ULL
#define SALT_OLD        0x5555000000000000ULL

static const uint8_t key1_data[16] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f };
static const uint8_t key1_tweak[16] = {
    0xf0, 0xe0, 0xd0, 0xc0, 0xb0, 0xa0, 0x90, 0x80,
    0x70, 0x60, 0x50, 0x40, 0x30, 0x20, 0x10, 0x00 };

static void test_iommu(void)
{
    static const int plain[P_NR], keyid1[P_NR] = {
        1, 1, 1, 1, 1, 1, 1, 1 };
    volatile uint64_t *out0 = kva(0, leaf[M_OUT0].pa);
    uint64_t fa, fr;
    int p, k[P_NR], n;

    if (!check(edu_find(), "edu is on PCI bus 0")) {
        return;
    }
    check((vtd_r64(R_ECAP) & (1ULL << 43)) == (scalable ? 1ULL << 43 : 0),
          "VT-d scalable mode as asked");
    frcd_off = ((vtd_r64(R_CAP) >> 24) & 0x3ff) * 16;
    iotlb_off = ((vtd_r64(R_ECAP) >> 8) & 0x3ff) * 16;
    check_u64(mktme_program(1, 0, key1_data, key1_tweak), 0,
              "PCONFIG KeyID 1 KEYID_SET_KEY_DIRECT");
    map_keyids();

    /* Tables in KeyID 0 with KeyID-0 pointers; the leaves carry KeyIDs */
    build_tables(0, plain);

    if (aw39) {
        /* aw-bits=39: KeyID bits 40 and up are reserved bits of a leaf */
        fill(out0, SALT_IN);
        fill(kva(1, leaf[M_DST1].pa), SALT_OLD);
        edu_copy(IOVA(M_OUT0), IOVA(M_DST1));
        fr = fault_take(&fa);
        check_u64((fr >> 32) & 0xff, 0xc,
                  "aw-bits=39: a leaf with KeyID bits faults as reserved");
        check_u64(fa & ~0xfffULL, IOVA(M_DST1), "at the leaf's IOVA");
        n = count(kva(1, leaf[M_DST1].pa), SALT_OLD);
        check(n == 512, "the DMA does not arrive (%d of 512)", n);
        return;
    }

    /* (1) The device writes through a leaf with KeyID 1 */
    fill(out0, SALT_IN);
    fill(kva(1, leaf[M_DST1].pa), SALT_OLD);
    check(edu_copy(IOVA(M_OUT0), IOVA(M_DST1)),
          "edu copies a KeyID-0 page to an IOVA mapped with KeyID 1");
    check(fault_take(&fa) == 0, "no DMA fault");
    n = count(kva(1, leaf[M_DST1].pa), SALT_IN);
    check(n == 512, "KeyID 1 reads what the device wrote (%d of 512)", n);
    n = count(kva(0, leaf[M_DST1].pa), SALT_IN);
    check(n == 0, "KeyID 0 does not read it (%d of 512)", n);

    /* (2) The device reads a page that the CPU wrote through KeyID 1 */
    fill(kva(1, leaf[M_SRC1].pa), SALT_SRC);
    fill(out0, 0);
    check(edu_copy(IOVA(M_SRC1), IOVA(M_OUT0)),
          "edu copies from an IOVA mapped with KeyID 1 to a KeyID-0 page");
    n = count(out0, SALT_SRC);
    check(n == 512, "the device read KeyID 1's plaintext (%d of 512)", n);

    /* (3) A leaf without KeyID bits: the device sees D_0(E_1(P)) */
    fill(out0, 0);
    check(edu_copy(IOVA(M_SRC1_K0), IOVA(M_OUT0)),
          "edu copies the same page through a leaf without KeyID bits");
    n = count(out0, SALT_SRC);
    check(n == 0, "the device does not read KeyID 1's plaintext (%d of 512)",
          n);
    print_qwords("device read through KeyID 0", leaf[M_SRC1].pa, out0);
    n = count(kva(1, leaf[M_SRC1].pa), SALT_SRC);
    check(n == 512, "KeyID 1 still reads its page (%d of 512)", n);

    /* (4) Tables written through KeyID 1, every pointer carries KeyID 1 */
    build_tables(1, keyid1);
    fill(out0, SALT_ENC);
    check(edu_copy(IOVA(M_OUT0), IOVA(M_DST2)),
          "tables in KeyID 1: edu copies through the walk");
    check(fault_take(&fa) == 0, "no DMA fault");
    n = count(kva(1, leaf[M_DST2].pa), SALT_ENC);
    check(n == 512, "KeyID 1 reads what the device wrote (%d of 512)", n);

    /* ... and each pointer without its KeyID breaks the walk */
    fill(kva(1, leaf[M_DST3].pa), SALT_OLD);
    fill(out0, SALT_BAD);
    for (p = 0; p < P_NR; p++) {
        if (!scalable && (p == P_PDIR || p == P_PASID)) {
            continue;
        }
        for (int i = 0; i < P_NR; i++) {
            k[i] = i == p ? 0 : 1;
        }
        build_tables(1, k);
        edu_copy(IOVA(M_OUT0), IOVA(M_DST3));
        fr = fault_take(&fa);
        n = count(kva(1, leaf[M_DST3].pa), SALT_OLD);
        check(n == 512, "%s without KeyID 1: the DMA does not arrive "
              "(fault %s, reason 0x%lx, sid 0x%lx)", ptr_name[p],
              fr ? "recorded" : "not recorded", (fr >> 32) & 0xff,
              fr & 0xffff);
        if (fr) {
            check_u64(fr & 0xffff, edu_sid, "the fault names edu");
        }
    }
    /* The same page and IOVA work again with every KeyID in place */
    build_tables(1, keyid1);
    check(edu_copy(IOVA(M_OUT0), IOVA(M_DST3)), "edu copies again");
    n = count(kva(1, leaf[M_DST3].pa), SALT_BAD);
    check(n == 512, "with every pointer's KeyID the DMA arrives (%d of 512)",
          n);
}

/*
 * The invalidation queue in a page written through KeyID 1: a
 * context-cache and an IOTLB invalidation, then a wait descriptor whose
 * status write goes to an address with KeyID 1 bits.  With the queue's
 * address register carrying KeyID 1 the IOMMU reads the descriptors and
 * KeyID 1 reads the status; without it, it reads garbage.
 */
#define PG_IQ           PG(5)
#define PG_STATUS       PG(6)
#define WAIT_DATA       0x600dULL

static void qi_run(uint64_t iqa_keyid)
{
    vtd_w64(R_IQT, 0);
    vtd_w64(R_IQA, PG_IQ | keyid_pa(iqa_keyid));    /* 256 entries, 128 bits */
    vtd_w32(R_GCMD, GCMD_TE | GCMD_QIE);
    vtd_wait(R_GSTS, GCMD_QIE, GCMD_QIE, false);
    vtd_w64(R_IQT, 3 << 4);
}

static void test_queue(void)
{
    volatile uint64_t *q = kva(1, PG_IQ);
    volatile uint32_t *status = (volatile uint32_t *)kva(1, PG_STATUS);
    uint32_t fsts;
    int i;

    for (i = 0; i < 512; i++) {
        q[i] = 0;
    }
    q[0] = 1 | (1 << 4);                        /* context cache, global */
    q[2] = 2 | (1 << 4);                        /* IOTLB, global */
    q[4] = 5 | (1 << 5) | WAIT_DATA << 32;      /* wait, status write */
    q[5] = PG_STATUS | keyid_pa(1);
    status[0] = 0;
    qi_run(1);
    fsts = vtd_r32(R_FSTS);
    check(!(fsts & FSTS_IQE) && vtd_r64(R_IQH) == 3 << 4,
          "invalidation queue in KeyID 1: the IOMMU runs its three "
          "descriptors (FSTS 0x%x, IQH 0x%lx)", fsts, vtd_r64(R_IQH));
    check_u64(status[0], WAIT_DATA,
              "the wait descriptor's status write arrives through KeyID 1");

    /* Disable the queue (it ended with a wait descriptor) */
    vtd_w32(R_GCMD, GCMD_TE);
    vtd_wait(R_GSTS, GCMD_QIE, 0, false);
    status[0] = 0;
    qi_run(0);
    fsts = vtd_r32(R_FSTS);
    check((fsts & FSTS_IQE) && status[0] == 0,
          "the queue's address without KeyID 1: an invalidation queue "
          "error, no status write (FSTS 0x%x, status 0x%x)", fsts,
          status[0]);
}

int main(void)
{
    setup_idt();
    phys_bits = cmdline_opt("phys-bits", 46);
    keyid_bits = cmdline_opt("keyid-bits", 6);
    first_level = cmdline_has("first-level");
    scalable = first_level || cmdline_has("scalable");
    aw39 = cmdline_has("aw39");
    printf("# tme-iommu: %s\n", cmdline());
    if (cmdline_has("iommu")) {
        test_iommu();
        if (!aw39) {
            test_queue();
        }
    } else {
        printf("Bail out! no scenario on the command line\n");
        exit_qemu(2);
    }
    printf("# checks %d failed %d\n", tap_count, tap_failed);
    printf("# ready\n");
    for (;;) {
        asm volatile("cli; hlt");
    }
    return 0;
}
