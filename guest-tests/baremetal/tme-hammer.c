/*
 * Bare-metal MKTME hammer: every CPU converts a small set of shared
 * pages through KeyIDs of its own as fast as it can, while one CPU
 * reprograms keys and another runs fw_cfg DMA into the set; and a
 * snapshot scenario with pages of three KeyIDs, a NO_ENCRYPT KeyID and
 * DRAM.
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * hammer: CPU c uses KeyIDs 2c + 1 and 2c + 2, each with a direct key of
 * its own (KeyIDs with the same key would read each other's data).  An
 * operation locks one page of the set, reads it through one of the
 * CPU's KeyIDs and checks what it reads against the page's last write,
 * then (three times in four) writes the page through that KeyID, each
 * word stamped with the KeyID and a sequence number, and unlocks it (a
 * read alone converts the page too, and only QEMU marks it dirty for
 * migration):
 * - a page last written through KeyID k under k's current key reads
 *   back through k as written (no write is lost);
 * - a page last written through another KeyID (or through k before k's
 *   key changed) must not show that write's stamp (no CPU reads the
 *   plaintext of another KeyID).
 * One operation in four instead reads one of 4 more pages, which KeyID
 * 40 wrote at the start, through one of the CPU's KeyIDs (it must not
 * show KeyID 40's stamp) and back through KeyID 40 (it must): these
 * pages convert back and forth, and nothing but QEMU dirties them for a
 * migration.
 * Another one in four goes back to the page of the last operation
 * through the same KeyID, with no conversion of the CPU's own in
 * between, so that a TLB entry that another CPU's conversion left would
 * be used.
 * The key CPU (CPU 1, or the only one) programs one of its KeyIDs with
 * a new key before each operation and works through the other one,
 * 32 operations through each in turn.
 * The DMA CPU (CPU 2, else CPU 0) alternates its operations with fw_cfg
 * DMA of opt/tme/hammer (chunks of 4 KiB stamped with KeyID 0 and the
 * chunk's number, as run-hammer writes them) into the page, which it
 * then reads through KeyID 0.
 * The BSP stops the run after ms=N milliseconds (default 3000), or with
 * "nmi" at the first NMI (run-hammer migrates the guest meanwhile), and
 * prints progress every second.  Every CPU must have done operations,
 * read pages that other KeyIDs wrote and found no error; at the end the
 * BSP reads every page back through its last writer's KeyID.
 *
 * snapshot: see test_snapshot().  virtio: see test_virtio().
 */

#include "lib.h"

#define GIB             (1ULL << 30)
#define MIB             (1ULL << 20)
#define PTE_P           0x1ULL
#define PTE_RW          0x2ULL
#define PTE_PS          0x80ULL

#define HAMMER_PA       (32 * MIB)
#define PAGES           16
/* After the set: pages that KeyID RO_KEYID wrote once, only read since */
#define RO_PAGES        4
#define RO_KEYID        40
#define WORDS           512
#define STAMP_MAGIC     0x7e3dULL
#define DMA_CHUNKS      64

extern uint64_t pml4[512], pdpt[512];
static uint64_t phys_bits, keyid_bits;

static uint64_t keyid_pa(uint64_t keyid)
{
    return keyid << (phys_bits - keyid_bits);
}

/*
 * Window @win maps [(8 + win) GiB, (9 + win) GiB) onto the first GiB
 * through @keyid; each CPU maps and uses only windows of its own (and
 * flushes only its own TLB).
 */
#define WIN_GIB         8
#define WINDOWS         (3 * SMP_MAX_CPUS + 1)
#define BSP_CHECK_WIN   (3 * SMP_MAX_CPUS)
static uint64_t pd_win[WINDOWS][512] __attribute__((aligned(4096)));

static uint64_t map_win(int win, uint64_t keyid)
{
    int i;

    for (i = 0; i < 512; i++) {
        pd_win[win][i] = ((uint64_t)i << 21) | keyid_pa(keyid) | PTE_P |
                         PTE_RW | PTE_PS;
    }
    pdpt[WIN_GIB + win] = (uint64_t)pd_win[win] | PTE_P | PTE_RW;
    flush_tlb();
    return (WIN_GIB + win) * GIB;
}

/* Page @p of the set in a mapping of the first GiB at @base (0: KeyID 0) */
static volatile uint64_t *set_page(uint64_t base, int p)
{
    return (volatile uint64_t *)(base + HAMMER_PA + (uint64_t)p * 4096);
}

/* Word @i of a write through @keyid with sequence number @seq */
static uint64_t stamp(uint64_t keyid, uint64_t seq, int i)
{
    uint64_t s = STAMP_MAGIC << 48 | (keyid & 0xff) << 40 |
                 (seq & 0xffffffffffULL);

    return s ^ ((uint64_t)i * 0x9e3779b97f4a7c15ULL);
}

static void write_stamp(volatile uint64_t *pg, uint64_t keyid, uint64_t seq)
{
    int i;

    for (i = 0; i < WORDS; i++) {
        pg[i] = stamp(keyid, seq, i);
    }
}

/* The number of words of @pg that carry the stamp of (@keyid, @seq) */
static int count_stamp(volatile uint64_t *pg, uint64_t keyid, uint64_t seq)
{
    int i, n = 0;

    for (i = 0; i < WORDS; i++) {
        n += pg[i] == stamp(keyid, seq, i);
    }
    return n;
}

/* The page's last write: KeyID, sequence number, key generation */
struct page_meta {
    spinlock_t lock;
    volatile uint64_t keyid, seq, gen;
} __attribute__((aligned(64)));
static struct page_meta meta[PAGES + RO_PAGES];
/* Bumped whenever PCONFIG gives the KeyID a new key */
static volatile uint64_t key_gen[64];

struct cpu_stats {
    uint64_t ops, exact, other, ro, revisit, pconfig, pconfig_bad, dma;
    uint64_t dma_bad, seq;
    uint64_t errors, bad_page, bad_keyid, bad_last, bad_seq, bad_word;
    int bad_words;
    uint64_t rng;
} __attribute__((aligned(64)));
static struct cpu_stats stats[SMP_MAX_CPUS];

static volatile int hammer_stop, hammer_go;
static int ncpus, key_cpu, dma_cpu;
static uint16_t dma_sel;

static uint64_t rng_next(struct cpu_stats *st)
{
    st->rng ^= st->rng << 13;
    st->rng ^= st->rng >> 7;
    st->rng ^= st->rng << 17;
    return st->rng;
}

static void note_error(struct cpu_stats *st, int p, uint64_t keyid,
                       struct page_meta *m, uint64_t word, int words)
{
    if (!st->errors++) {
        st->bad_page = p;
        st->bad_keyid = keyid;
        st->bad_last = m->keyid;
        st->bad_seq = m->seq;
        st->bad_word = word;
        st->bad_words = words;
    }
}

/*
 * Read page @p through @keyid (at @pg) and check it against its last
 * write; the caller holds the page's lock.
 */
static void verify(struct cpu_stats *st, int p, volatile uint64_t *pg,
                   uint64_t keyid)
{
    struct page_meta *m = &meta[p];
    int n = count_stamp(pg, m->keyid, m->seq);

    if (m->keyid == keyid && m->gen == key_gen[keyid]) {
        st->exact++;
        if (n != WORDS) {
            note_error(st, p, keyid, m, pg[0], n);
        }
    } else {
        st->other++;
        if (n) {
            note_error(st, p, keyid, m, pg[0], n);
        }
    }
}

/* One operation on page @p of the set (-1: a random one); returns it */
static int hammer_op(struct cpu_stats *st, uint64_t base, uint64_t keyid,
                     int p)
{
    struct page_meta *m;
    volatile uint64_t *pg;

    if (p < 0) {
        p = rng_next(st) % PAGES;
    }
    m = &meta[p];
    pg = set_page(base, p);
    spin_lock(&m->lock);
    verify(st, p, pg, keyid);
    if (rng_next(st) & 3) {
        st->seq++;
        write_stamp(pg, keyid, st->seq);
        m->keyid = keyid;
        m->seq = st->seq;
        m->gen = key_gen[keyid];
    }
    spin_unlock(&m->lock);
    st->ops++;
    return p;
}

/*
 * Read a page that only KeyID RO_KEYID wrote, through @keyid (at @base)
 * and back through RO_KEYID (at @ro): both reads convert it, and nothing
 * but QEMU's conversions dirties it for a migration.
 */
static void read_op(struct cpu_stats *st, uint64_t base, uint64_t keyid,
                    uint64_t ro)
{
    int p = PAGES + rng_next(st) % RO_PAGES;
    struct page_meta *m = &meta[p];

    spin_lock(&m->lock);
    verify(st, p, set_page(base, p), keyid);
    verify(st, p, set_page(ro, p), RO_KEYID);
    spin_unlock(&m->lock);
    st->ro++;
    st->ops++;
}

/* A key of its own for every KeyID and generation */
static void program_key(struct cpu_stats *st, uint64_t keyid)
{
    uint8_t data[16], tweak[16];
    uint64_t gen = ++key_gen[keyid];
    int i;

    for (i = 0; i < 16; i++) {
        data[i] = (uint8_t)(keyid * 7 + gen * 13 + i);
        tweak[i] = (uint8_t)(keyid * 11 + (gen >> 8) * 3 + i * 5 + 1);
    }
    data[15] = (uint8_t)gen;
    if (st) {
        st->pconfig++;
        st->pconfig_bad += mktme_program(keyid, 0, data, tweak) != 0;
    } else {
        check_u64(mktme_program(keyid, 0, data, tweak), 0,
                  "PCONFIG KeyID %lu KEYID_SET_KEY_DIRECT", keyid);
    }
}

/*
 * DMA the next chunk of opt/tme/hammer into a page: the device writes
 * KeyID 0's view, so KeyID 0 then reads chunk n's stamp (KeyID 0,
 * sequence number n + 1).
 */
static void dma_op(struct cpu_stats *st)
{
    int p = rng_next(st) % PAGES, chunk = st->dma % DMA_CHUNKS;
    struct page_meta *m = &meta[p];
    volatile uint64_t *pg = set_page(0, p);
    int n;

    spin_lock(&m->lock);
    verify(st, p, pg, 0);
    if (fw_cfg_dma_read(dma_sel, chunk == 0, HAMMER_PA + (uint64_t)p * 4096,
                        4096)) {
        st->dma_bad++;
    }
    m->keyid = 0;
    m->seq = chunk + 1;
    m->gen = 0;
    n = count_stamp(pg, 0, chunk + 1);
    if (n != WORDS) {
        note_error(st, p, 0, m, pg[0], n);
    }
    spin_unlock(&m->lock);
    st->dma++;
    st->ops++;
}

static uint64_t run_ms, t_start;
static bool until_nmi;

static void progress(void)
{
    int c;

    console_lock();
    printf("# progress: %lu ms, operations per CPU:", now_ms() - t_start);
    for (c = 0; c < ncpus; c++) {
        printf(" %lu", stats[c].ops);
    }
    printf("\n");
    console_unlock();
}

static void hammer_cpu(int cpu, void *arg)
{
    struct cpu_stats *st = &stats[cpu];
    uint64_t kid[2] = { 2 * cpu + 1, 2 * cpu + 2 };
    uint64_t win[2], ro;
    uint64_t it, next_progress = 1000;
    int last = -1, last_j = 0, i;

    st->rng = 0x9e3779b97f4a7c15ULL * (cpu + 1);
    ro = map_win(3 * cpu + 2, RO_KEYID);
    win[0] = map_win(3 * cpu, kid[0]);
    win[1] = map_win(3 * cpu + 1, kid[1]);
    atomic_fetch_add((volatile int *)&hammer_go, 1);
    while (hammer_go < ncpus) {
        cpu_relax();
    }
    for (it = 0; !hammer_stop; it++) {
        /* The key CPU works through one KeyID for 32 operations */
        int j = cpu == key_cpu ? (it >> 5) & 1 : it & 1;

        if (cpu == key_cpu) {
            program_key(st, kid[!j]);
        }
        if (cpu == dma_cpu && dma_sel && (it & 1)) {
            dma_op(st);
        } else if ((it & 3) == 2) {
            read_op(st, win[j], kid[j], ro);
        } else if ((it & 3) == 1 && last >= 0) {
            /*
             * Back to the last page through the same KeyID, with no
             * conversion of our own in between: if another CPU converted
             * it meanwhile, only its flush of our TLB keeps us from
             * reading its plaintext.
             */
            for (i = 0; i < 200; i++) {
                cpu_relax();
            }
            hammer_op(st, win[last_j], kid[last_j], last);
            st->revisit++;
        } else {
            last = hammer_op(st, win[j], kid[j], -1);
            last_j = j;
        }
        if (cpu == 0 && !(it & 15)) {
            uint64_t t = now_ms() - t_start;

            if (t >= next_progress) {
                progress();
                next_progress += 1000;
            }
            if (until_nmi ? nmi_count || t > run_ms : t > run_ms) {
                hammer_stop = 1;
            }
        }
    }
}

static void test_hammer(void)
{
    uint32_t size = 0;
    uint64_t total = 0, ms;
    int c, p, ran;

    ncpus = smp_start_checked();
    key_cpu = ncpus > 1 ? 1 : 0;
    dma_cpu = ncpus > 2 ? 2 : 0;
    until_nmi = cmdline_has("nmi");
    run_ms = cmdline_opt("ms", until_nmi ? 120000 : 3000);
    dma_sel = fw_cfg_find("opt/tme/hammer", &size);
    check(dma_sel && size == DMA_CHUNKS * 4096,
          "fw_cfg has opt/tme/hammer, %d chunks of 4 KiB", DMA_CHUNKS);
    for (c = 0; c < ncpus; c++) {
        program_key(NULL, 2 * c + 1);
        program_key(NULL, 2 * c + 2);
    }
    for (p = 0; p < PAGES; p++) {
        write_stamp(set_page(0, p), 0, 1000 + p);
        meta[p].keyid = 0;
        meta[p].seq = 1000 + p;
    }
    program_key(NULL, RO_KEYID);
    for (p = PAGES; p < PAGES + RO_PAGES; p++) {
        write_stamp(set_page(map_win(BSP_CHECK_WIN, RO_KEYID), p), RO_KEYID,
                    2000 + p);
        meta[p].keyid = RO_KEYID;
        meta[p].seq = 2000 + p;
        meta[p].gen = key_gen[RO_KEYID];
    }
    printf("# hammer: %d CPUs, key CPU %d, DMA CPU %d, %d pages, %s\n",
           ncpus, key_cpu, dma_cpu, PAGES,
           until_nmi ? "until an NMI" : "timed");
    now_ms();
    t_start = now_ms();
    printf("# hammer: started\n");
    ran = smp_run(hammer_cpu, NULL);
    ms = now_ms() - t_start;
    printf("# hammer: stopped\n");
    check(ran == smp_expected_cpus(), "%d of %d CPUs ran the hammer to the end",
          ran, smp_expected_cpus());
    if (until_nmi) {
        check(nmi_count > 0, "the run ended at the NMI, not at the time limit");
    }
    for (c = 0; c < ncpus; c++) {
        struct cpu_stats *st = &stats[c];

        total += st->ops;
        printf("# cpu %d: %lu operations, %lu reads through the last "
               "writer's KeyID, %lu through another, %lu read-only, "
               "%lu revisits, %lu PCONFIG, %lu DMA\n", c, st->ops, st->exact,
               st->other, st->ro, st->revisit, st->pconfig, st->dma);
        check(st->exact > 0 && st->other > 0 && st->ro > 0,
              "cpu %d did %lu operations: %lu read back its own writes, "
              "%lu pages another KeyID wrote, %lu read-only", c, st->ops,
              st->exact, st->other, st->ro);
        if (!check(st->errors == 0, "cpu %d: every read matched the page's "
                   "last write (no lost write, no other KeyID's plaintext)",
                   c)) {
            printf("#   %lu errors; first: page %lu through KeyID %lu, last "
                   "written through KeyID %lu seq %lu: %d of 512 words "
                   "carry its stamp, word 0 0x%016lx\n", st->errors,
                   st->bad_page, st->bad_keyid, st->bad_last, st->bad_seq,
                   st->bad_words, st->bad_word);
        }
    }
    check(stats[key_cpu].pconfig > 0 && stats[key_cpu].pconfig_bad == 0,
          "cpu %d programmed %lu keys while the others converted, all "
          "successfully", key_cpu, stats[key_cpu].pconfig);
    check(stats[dma_cpu].dma > 0 && stats[dma_cpu].dma_bad == 0,
          "cpu %d ran %lu fw_cfg DMA transfers into the set, all complete",
          dma_cpu, stats[dma_cpu].dma);
    for (p = 0; p < PAGES + RO_PAGES; p++) {
        struct page_meta *m = &meta[p];
        uint64_t base = m->keyid ? map_win(BSP_CHECK_WIN, m->keyid) : 0;
        int n = count_stamp(set_page(base, p), m->keyid, m->seq);

        if (m->gen == key_gen[m->keyid]) {
            check(n == WORDS, "at the end, page %d reads back through its "
                  "last writer KeyID %lu (seq %lu)", p, m->keyid, m->seq);
        } else {
            check(n == 0, "at the end, page %d (KeyID %lu, key changed "
                  "since) does not read back", p, m->keyid);
        }
    }
    printf("# hammer: %d CPUs, %lu ms, %lu operations, %lu per second\n",
           ncpus, ms, total, ms ? total * 1000 / ms : 0);
}

/*
 * snapshot (run-snapshot, with a fixed TME key): the first boot writes
 * page E through KeyID 1 and page F through KeyID 0 and resets, so that
 * they are DRAM (written back under their keys); the second boot
 * programs KeyID 1 with the same key, 3 and 5 with keys of their own and
 * 2 as NO_ENCRYPT, writes pages A, B, C and D through 1, 3, 5 and 2,
 * leaves E and F alone and waits.  At each NMI it reads everything back
 * (E through KeyID 1, F through KeyID 0, the DRAM conversions), then
 * scribbles over all of it through KeyID 0 and other keys, and waits for
 * the next: a snapshot taken while it waited must bring back all of it.
 * At the second NMI it ends.
 */
#define CMOS_SNAP_STAGE 0x4e
#define SNAP_PA         (40 * MIB)
#define SNAP_STAGE      0x5e

static const uint64_t snap_keyid[6] = { 1, 3, 5, 2, 1, 0 };

static void snap_key(uint64_t keyid, uint8_t salt)
{
    uint8_t data[16], tweak[16];
    uint32_t cmd = keyid == 2 && !salt ? 3 : 0;
    int i;

    for (i = 0; i < 16; i++) {
        data[i] = (uint8_t)(0x40 + keyid * 16 + i + salt);
        tweak[i] = (uint8_t)(0x90 + keyid * 3 + i * 7 + salt);
    }
    check_u64(mktme_program(keyid, cmd, data, tweak), 0,
              "PCONFIG KeyID %lu %s", keyid,
              cmd ? "NO_ENCRYPT" : "KEYID_SET_KEY_DIRECT");
}

static volatile uint64_t *snap_page(int i)
{
    uint64_t base = snap_keyid[i] ? map_win(i, snap_keyid[i]) : 0;

    return (volatile uint64_t *)(base + SNAP_PA + (uint64_t)i * 4096);
}

static void test_snapshot(void)
{
    static const char *name = "ABCDEF";
    int i;

    if (cmos_read(CMOS_SNAP_STAGE) != SNAP_STAGE) {
        printf("# snapshot: first boot: pages E and F, then a reset\n");
        snap_key(1, 0);
        write_stamp(snap_page(4), 1, 0x54);
        write_stamp(snap_page(5), 0, 0x55);
        check(count_stamp(snap_page(4), 1, 0x54) == WORDS &&
              count_stamp(snap_page(5), 0, 0x55) == WORDS,
              "page E through KeyID 1 and F through KeyID 0 written");
        cmos_write(CMOS_SNAP_STAGE, SNAP_STAGE);
        system_reset();
    }
    cmos_write(CMOS_SNAP_STAGE, 0);
    printf("# snapshot: second boot\n");
    snap_key(1, 0);
    snap_key(3, 0);
    snap_key(5, 0);
    snap_key(2, 0);
    for (i = 0; i < 4; i++) {
        write_stamp(snap_page(i), snap_keyid[i], 0x50 + i);
    }
    printf("# ready for snapshot\n");
    while (!nmi_count) {
        asm volatile("hlt");
    }
    for (i = 0; i < 6; i++) {
        check(count_stamp(snap_page(i), snap_keyid[i], 0x50 + i) == WORDS,
              "page %c reads back through KeyID %lu%s", name[i],
              snap_keyid[i],
              i < 4 ? "" : " (it was DRAM, from before a reset)");
    }
    /* Scribble: other data through KeyID 0, other keys */
    for (i = 0; i < 6; i++) {
        write_stamp((volatile uint64_t *)(SNAP_PA + (uint64_t)i * 4096), 0,
                    0xdead);
    }
    snap_key(1, 0x11);
    snap_key(3, 0x33);
    snap_key(5, 0x55);
    snap_key(2, 0x22);
    printf("# scribbled\n");
    while (nmi_count < 2) {
        asm volatile("hlt");
    }
}

/*
 * virtio (tme-hammer/virtio-dma-pin): a device that maps a page for
 * DMA (address_space_map(), zero-copy while KeyID 0 owns the page) and
 * writes it later, after the guest converted the page to KeyID 1.
 * virtio-blk (legacy interface) on a throttled null-co drive that reads
 * zeroes: the guest submits a read into page T, which KeyID 0 owns, and
 * while the read waits in the block layer writes T through KeyID 1.  The
 * device writes as KeyID 0 does, before or after KeyID 1: KeyID 1 must
 * never read the zeroes (KeyID 0's plaintext).  Run it with
 *   -object throttle-group,id=tg0,x-bps-total=8192
 *   -blockdev driver=null-co,node-name=nc,size=1048576,read-zeroes=on
 *   -blockdev driver=throttle,node-name=vd,file=nc,throttle-group=tg0
 *   -device virtio-blk-pci,drive=vd,disable-modern=on -append virtio
 */
#define VIRTIO_PA       (48 * MIB)                  /* page T */
#define VQ_PA           (VIRTIO_PA + 4096)          /* 8 pages */
#define VIO_HDR_PA      (VIRTIO_PA + 9 * 4096)
#define VQ_MAX          1024

struct vring_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
} __attribute__((packed));

static void test_virtio(void)
{
    volatile struct vring_desc *desc = (void *)VQ_PA;
    volatile uint16_t *avail, *used;
    volatile uint64_t *hdr = (void *)VIO_HDR_PA;
    volatile uint8_t *status = (void *)(VIO_HDR_PA + 64);
    volatile uint64_t *k1, *k0 = (volatile uint64_t *)VIRTIO_PA;
    uint16_t io = 0, qsize;
    uint64_t t;
    int dev, i, n;

    for (dev = 0; dev < 32; dev++) {
        if (pci_read(dev, 0) == 0x10011af4) {
            io = pci_read(dev, 0x10) & ~3U;
            pci_write(dev, 0x04, pci_read(dev, 0x04) | 0x5); /* IO, BM */
            break;
        }
    }
    if (!check(io != 0, "virtio-blk (legacy) is on PCI bus 0, I/O 0x%x",
               io)) {
        return;
    }
    for (i = 0; i < 9 * 4096 / 8; i++) {
        ((volatile uint64_t *)VQ_PA)[i] = 0;
    }
    outb(io + 0x12, 0);                         /* reset */
    outb(io + 0x12, 1 | 2);                     /* ACKNOWLEDGE, DRIVER */
    outl(io + 0x04, 0);                         /* no features */
    outw(io + 0x0e, 0);
    qsize = inw(io + 0x0c);
    if (!check(qsize && qsize <= VQ_MAX, "queue 0 has %d entries",
               qsize)) {
        return;
    }
    /* The legacy layout: descriptors, available ring, used ring aligned */
    avail = (volatile uint16_t *)(VQ_PA + 16 * qsize);
    used = (volatile uint16_t *)(VQ_PA + ((16 * qsize + 6 + 2 * qsize +
                                           4095) & ~4095));
    outl(io + 0x08, VQ_PA >> 12);
    outb(io + 0x12, 1 | 2 | 4);                 /* DRIVER_OK */

    snap_key(1, 0);
    k1 = (volatile uint64_t *)(map_win(0, 1) + VIRTIO_PA);
    write_stamp(k0, 0, 0x77);
    for (i = 0; i < WORDS; i++) {
        ((volatile uint64_t *)(VIO_HDR_PA + 4096))[i] = 1;
    }
    /*
     * The drive is throttled: a first read takes the budget, so that the
     * second, into T, waits in the block layer with T mapped.
     */
    for (i = 0; i < 2; i++) {
        uint16_t head = 3 * i;

        hdr[0] = 0;                             /* VIRTIO_BLK_T_IN */
        hdr[1] = 0;                             /* sector 0 */
        *status = 0xff;
        desc[head].addr = VIO_HDR_PA;
        desc[head].len = 16;
        desc[head].flags = 1;                   /* NEXT */
        desc[head].next = head + 1;
        desc[head + 1].addr = i ? VIRTIO_PA : VIO_HDR_PA + 4096;
        desc[head + 1].len = 4096;
        desc[head + 1].flags = 1 | 2;           /* NEXT, WRITE */
        desc[head + 1].next = head + 2;
        desc[head + 2].addr = VIO_HDR_PA + 64;
        desc[head + 2].len = 1;
        desc[head + 2].flags = 2;
        avail[2 + i] = head;                    /* ring[i] */
        asm volatile("" : : : "memory");
        avail[1] = i + 1;                       /* idx */
        outw(io + 0x10, 0);                     /* notify queue 0 */
        if (i == 0) {
            t = now_ms();
            while (used[1] == 0 && now_ms() - t < 10000) {
                cpu_relax();
            }
            check(used[1] == 1, "a first read takes the throttle's budget");
        }
    }
    check(*status == 0xff && used[1] == 1,
          "the read into T is in flight (status 0x%x)", *status);

    /* The read is in flight: T through KeyID 1 */
    write_stamp(k1, 1, 0x78);
    check(count_stamp(k1, 1, 0x78) == WORDS,
          "while the read is in flight, KeyID 1 writes page T");
    t = now_ms();
    while (used[1] == 1 && now_ms() - t < 10000) {
        cpu_relax();
    }
    check(used[1] == 2 && *status == 0, "the read completed (status %d)",
          *status);
    /*
     * Either the device wrote first, then KeyID 1 (which reads its own
     * write back and KeyID 0 garbage), or KeyID 1 first (KeyID 0 reads
     * the zeroes and KeyID 1 garbage); KeyID 1 never reads the zeroes.
     */
    for (n = 0, i = 0; i < WORDS; i++) {
        n += k1[i] == 0;
    }
    check(n < WORDS, "KeyID 1 does not read the device's data (KeyID 0's "
          "plaintext): %d of 512 words are zero", n);
    for (n = 0, i = 0; i < WORDS; i++) {
        n += k0[i] == 0;
    }
    check((count_stamp(k1, 1, 0x78) == WORDS && n == 0) ||
          (count_stamp(k1, 1, 0x78) == 0 && n == WORDS),
          "the device's write and KeyID 1's are in some order: KeyID 1 reads "
          "its write and KeyID 0 garbage, or KeyID 0 the zeroes (%d of 512)",
          n);
    printf("# KeyID 1 reads %016lx %016lx (%d words of its own write), "
           "KeyID 0 %016lx %016lx\n", k1[0], k1[1], count_stamp(k1, 1, 0x78),
           k0[0], k0[1]);
}

int main(void)
{
    setup_idt();
    phys_bits = cmdline_opt("phys-bits", 46);
    keyid_bits = cmdline_opt("keyid-bits", 6);
    printf("# tme-hammer: %s\n", cmdline());
    if (cmdline_has("hammer")) {
        test_hammer();
    } else if (cmdline_has("snapshot")) {
        test_snapshot();
    } else if (cmdline_has("virtio")) {
        test_virtio();
    } else {
        printf("Bail out! no scenario on the command line\n");
        exit_qemu(2);
    }
    tap_done();
    return 0;
}
