/*
 * MKTME: guest RAM as encrypted DRAM
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Every page of the machine's RAM (the memory backends mapped in system
 * memory) has an owner in the engine: the KeyID whose plaintext its host
 * bytes hold, or DRAM.  Accesses through the owner are plain host memory
 * accesses.  Accesses through another KeyID convert the page in place;
 * only vCPUs convert pages that a KeyID owns, with every other vCPU
 * stopped.  Other threads (DMA, the monitor, migration) use exact views.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/lockable.h"
#include "qemu/main-loop.h"
#include "qemu/units.h"
#include "system/memory.h"
#include "system/address-spaces.h"
#include "exec/cputlb.h"
#include "exec/cpu-common.h"
#include "exec/translation-block.h"
#include "hw/core/cpu.h"
#include "system/hostmem.h"
#include "system/runstate.h"
#include "system/system.h"
#include "migration/vmstate.h"
#include "tcg/tcg.h"
#include "hw/mem/tme-engine.h"
#include "hw/mem/tme-ram.h"

#define PAGE            TME_PAGE_SIZE
#define PAGE_MASK_64    (~(uint64_t)(PAGE - 1))

/* A run of RAM that system memory maps linearly */
typedef struct TMERamRegion {
    TMERegion r;                /* gpa, size, host, owners */
    MemoryRegion *mr;           /* the RAM MemoryRegion */
    hwaddr offset;              /* of r.host within mr */
    bool at_rest;               /* file-backed: ciphertext while stopped */
} TMERamRegion;

typedef struct TMERam {
    QemuMutex lock;             /* owners and page contents */
    TMEEngine *engine;
    TMEKeyTable *keys;
    TMERamRegion *regions;
    unsigned nr_regions;
    uint64_t pages;
    uint16_t *owners;           /* of all regions */
    int32_t mig_nr;             /* migration: regions in the stream */
    struct TMERamMigRegion *mig;
    Notifier machine_done;
    unsigned keyid_shift;       /* KeyID bits of physical addresses */
    unsigned keyid_bits;
    bool at_rest;               /* some region is file-backed */
} TMERam;

static TMERam *tme_ram;

static void keyid_window_update(unsigned shift, unsigned bits);

/*
 * Pages of KeyID 0 that a device mapped directly (address_space_map())
 * and may still read or write: guest physical page address -> number of
 * mappings.  They do not convert until unmapped: a vCPU that accesses
 * one through another KeyID waits, so that the device's bytes never land
 * in (or come from) another KeyID's plaintext.
 */
static GHashTable *tme_ram_pins;

static bool page_pinned(uint64_t page)
{
    return tme_ram_pins &&
           g_hash_table_contains(tme_ram_pins, (gpointer)(uintptr_t)page);
}

/*
 * What makes host bytes differ from KeyID 0's view forbids sharing
 * guest RAM (vhost, vfio: system/ram-interposer.h)
 */
static RamShareBan tme_ram_ban_promised = {
    .why = "the firmware enables MKTME KeyIDs other than 0",
    .hint = "Use keyid-bits=0 of x86-tme (TME without MKTME) or"
            " activate=off.\n",
};
static RamShareBan tme_ram_ban_keyids = {
    .why = "MKTME KeyIDs other than 0 are enabled",
    .hint = "The guest enabled them; a reset disables them.\n",
};
static RamShareBan tme_ram_ban_at_rest = {
    .why = "file-backed guest RAM holds ciphertext (TME)",
    .hint = "Use memory-backend-memfd for guest RAM.\n",
};

bool tme_ram_enabled(void)
{
    return tme_ram && tme_ram->nr_regions;
}

static void tme_ram_update_foreign(void)
{
    qatomic_set(&ram_interposer_foreign_pages,
                tme_ram->pages - tme_engine_pages_owned(tme_ram->engine, 0));
}

static TMERamRegion *region_of_gpa(hwaddr gpa)
{
    unsigned i;

    for (i = 0; tme_ram && i < tme_ram->nr_regions; i++) {
        TMERamRegion *rr = &tme_ram->regions[i];

        if (gpa - rr->r.gpa < rr->r.size) {
            return rr;
        }
    }
    return NULL;
}

static TMERamRegion *region_of_mr(MemoryRegion *mr, hwaddr offset)
{
    unsigned i;

    for (i = 0; tme_ram && i < tme_ram->nr_regions; i++) {
        TMERamRegion *rr = &tme_ram->regions[i];

        if (rr->mr == mr && offset - rr->offset < rr->r.size) {
            return rr;
        }
    }
    return NULL;
}

/*
 * The contents of a page changed under the vCPUs: drop translated code,
 * mark it dirty (migration, display), and drop every vCPU's TLB entries
 * for it; the other vCPUs are stopped.  Without @tlbs, DRAM owned the
 * page.
 */
static void page_changed(TMERamRegion *rr, uint64_t page, bool tlbs)
{
    CPUState *cpu;

    if (!tlbs) {
        /*
         * A page that DRAM owned has no translated code, and the caller
         * may be translating, holding TB page locks: only mark it dirty.
         */
        memory_region_set_dirty(rr->mr, rr->offset + (page - rr->r.gpa),
                                PAGE);
        return;
    }
    CPU_FOREACH(cpu) {
        tlb_flush_host_range(cpu, (uintptr_t)rr->r.host + (page - rr->r.gpa),
                             PAGE);
    }
    memory_region_invalidate_and_set_dirty(rr->mr,
                                           rr->offset + (page - rr->r.gpa),
                                           PAGE);
}

/*
 * Convert a page; the caller holds the lock and, unless DRAM owns the
 * page, has stopped every other vCPU
 */
static bool convert_locked(TMERamRegion *rr, uint64_t page, uint16_t keyid)
{
    uint16_t owner = tme_region_owner(&rr->r, page);

    if (owner == keyid) {
        return true;
    }
    if (owner == 0 && page_pinned(page)) {
        return false;           /* a device has it mapped: try again */
    }
    tme_engine_convert(tme_ram->engine, &rr->r, page, keyid);
    /* DRAM pages have no TLB entries and no translated code */
    page_changed(rr, page, owner != TME_OWNER_DRAM);
    tme_ram_update_foreign();
    return true;
}

/*
 * The conversion of a TLB fill, with every other vCPU stopped: the page
 * (@data: its frame number, shifted left 16 bits, and the KeyID) may have
 * changed hands meanwhile, or a device may have mapped it since.
 */
static void tme_ram_convert_work(CPUState *cs, run_on_cpu_data data)
{
    uint64_t page = (data.target_ptr >> 16) * PAGE;
    uint16_t keyid = data.target_ptr & 0xffff;
    TMERamRegion *rr = region_of_gpa(page);

    qemu_mutex_lock(&tme_ram->lock);
    convert_locked(rr, page, keyid);
    qemu_mutex_unlock(&tme_ram->lock);
}

void tme_ram_fill(CPUState *cs, hwaddr gpa, uint16_t keyid, uintptr_t ra)
{
    TMERamRegion *rr = region_of_gpa(gpa);
    uint64_t page = gpa & PAGE_MASK_64;
    uint16_t owner;
    bool pinned;

    if (!rr) {
        return;                 /* not RAM, or not managed */
    }
    /*
     * The common case, without the lock: only conversions with this vCPU
     * stopped take a page away from a KeyID, so the owner we see stays.
     */
    while (qatomic_read(&rr->r.owner[(page - rr->r.gpa) / PAGE]) != keyid) {
        qemu_mutex_lock(&tme_ram->lock);
        owner = tme_region_owner(&rr->r, page);
        if (owner == TME_OWNER_DRAM) {
            /* No vCPU maps a page that DRAM owns: no need to stop them */
            convert_locked(rr, page, keyid);
        }
        pinned = owner == 0 && page_pinned(page);
        qemu_mutex_unlock(&tme_ram->lock);

        if (owner == TME_OWNER_DRAM) {
            continue;
        } else if (pinned) {
            /*
             * A device has the page mapped as KeyID 0's: wait until it
             * unmaps it, as an access that waits for the device's DMA.
             */
            cpu_exec_wait(cs, ra);
        } else {
            cpu_exec_exclusive(cs, tme_ram_convert_work,
                               RUN_ON_CPU_TARGET_PTR(
                                   (page / PAGE) << 16 | keyid),
                               ra);
        }
    }
}

void tme_ram_rekey(uint16_t keyid, const TMEKeyEntry *old)
{
    unsigned i;
    uint64_t p;

    if (!tme_ram_enabled()) {
        return;
    }
    qemu_mutex_lock(&tme_ram->lock);
    for (i = 0; i < tme_ram->nr_regions &&
                tme_engine_pages_owned(tme_ram->engine, keyid); i++) {
        TMERamRegion *rr = &tme_ram->regions[i];

        for (p = 0; p < rr->r.size / PAGE; p++) {
            if (rr->r.owner[p] == keyid) {
                tme_engine_rekey_page(tme_ram->engine, &rr->r,
                                      rr->r.gpa + p * PAGE, old);
                memory_region_invalidate_and_set_dirty(rr->mr,
                    rr->offset + p * PAGE, PAGE);
            }
        }
    }
    qemu_mutex_unlock(&tme_ram->lock);
}

void tme_ram_set_tme_key(unsigned alg, const uint8_t *key,
                         uint64_t excl_base, uint64_t excl_mask,
                         unsigned keyid_shift, unsigned keyid_bits)
{
    const TMEKeyAlgInfo *info = tme_key_alg_info(alg);
    TMEKeyEntry tme_key;

    /* tme_ram_claim_keyids() forbade sharing RAM before they came on */
    if (!key || !keyid_bits) {
        ram_share_allow(&tme_ram_ban_keyids);
    }
    keyid_window_update(keyid_shift, key ? keyid_bits : 0);
    if (!tme_ram) {
        return;
    }
    qemu_mutex_lock(&tme_ram->lock);
    qatomic_set(&tme_ram->keyid_shift, keyid_shift);
    qatomic_set(&tme_ram->keyid_bits, key ? keyid_bits : 0);
    if (key) {
        g_assert(info);
        tme_key_entry_init(&tme_key, TME_KEY_MODE_KEYID, alg, key,
                           key + info->key_bytes);
    }
    tme_engine_set_tme_key(tme_ram->engine, key ? &tme_key : NULL);
    tme_engine_set_exclusion(tme_ram->engine, excl_base, excl_mask);
    qemu_mutex_unlock(&tme_ram->lock);
    memset(&tme_key, 0, sizeof(tme_key));
}

/*
 * The owner of page @p of @rr after a reset.  What was written under the
 * TME key stays in DRAM, which the next TME key cannot read; but SeaBIOS
 * reboots from the shadow RAM of the first MiB, which QEMU does not map
 * back to ROM at reset.  KeyID 0's pages of zeroes hold no data: they
 * stay, unallocated.
 */
static uint16_t reset_owner(TMERamRegion *rr, uint64_t p)
{
    uint16_t owner = rr->r.owner[p];

    if (rr->at_rest || owner == TME_OWNER_DRAM) {
        return TME_OWNER_DRAM;
    }
    if (!tme_engine_active(tme_ram->engine) ||
        rr->r.gpa + p * PAGE < 1 * MiB) {
        return 0;
    }
    if (owner == 0 && buffer_is_zero(rr->r.host + p * PAGE, PAGE)) {
        return 0;
    }
    return TME_OWNER_DRAM;
}

void tme_ram_reset(void)
{
    CPUState *cpu;
    unsigned i;
    uint64_t p;

    if (!tme_ram_enabled()) {
        return;
    }
    qemu_mutex_lock(&tme_ram->lock);
    for (i = 0; i < tme_ram->nr_regions; i++) {
        TMERamRegion *rr = &tme_ram->regions[i];
        bool changed = false;

        for (p = 0; p < rr->r.size / PAGE; p++) {
            uint64_t gpa = rr->r.gpa + p * PAGE;
            uint16_t to = reset_owner(rr, p);

            if (rr->r.owner[p] != to) {
                tme_engine_convert(tme_ram->engine, &rr->r, gpa, to);
                changed = true;
            }
        }
        if (changed) {
            memory_region_invalidate_and_set_dirty(rr->mr, rr->offset,
                                                   rr->r.size);
            CPU_FOREACH(cpu) {
                tlb_flush_host_range(cpu, (uintptr_t)rr->r.host, rr->r.size);
            }
        }
    }
    tme_ram_update_foreign();
    qemu_mutex_unlock(&tme_ram->lock);
}

/*
 * File-backed memory holds ciphertext at rest: write its pages back to
 * DRAM whenever the VM stops (the vCPUs are stopped).
 */
static void tme_ram_vm_state(void *opaque, bool running, RunState state)
{
    unsigned i;
    uint64_t p;

    if (running || !tme_ram_enabled()) {
        return;
    }
    qemu_mutex_lock(&tme_ram->lock);
    for (i = 0; i < tme_ram->nr_regions; i++) {
        TMERamRegion *rr = &tme_ram->regions[i];

        for (p = 0; rr->at_rest && p < rr->r.size / PAGE; p++) {
            convert_locked(rr, rr->r.gpa + p * PAGE, TME_OWNER_DRAM);
        }
    }
    qemu_mutex_unlock(&tme_ram->lock);
}

/*
 * Read or write one part of a page of @rr as @keyid sees it.  Debug
 * accesses never change owners; others let KeyID 0 take a page from
 * DRAM, which no vCPU maps.
 */
static void access_page(TMERamRegion *rr, uint64_t gpa, uint8_t *buf,
                        hwaddr len, bool is_write, uint16_t keyid,
                        bool debug)
{
    uint64_t page = gpa & PAGE_MASK_64;
    uint8_t *host = rr->r.host + (gpa - rr->r.gpa);
    uint16_t owner = tme_region_owner(&rr->r, page);

    if (owner == TME_OWNER_DRAM && keyid == 0 && !debug) {
        convert_locked(rr, page, 0);
        owner = 0;
    }
    if (owner == keyid) {
        if (is_write) {
            memcpy(host, buf, len);
        } else {
            memcpy(buf, host, len);
        }
    } else if (is_write) {
        uint64_t first = QEMU_ALIGN_DOWN(gpa, TME_BLOCK_SIZE);
        uint64_t end = QEMU_ALIGN_UP(gpa + len, TME_BLOCK_SIZE);

        tme_engine_write(tme_ram->engine, &rr->r, gpa, len, keyid, buf);
        /* The owner sees whole 16-byte blocks change, not just @len bytes */
        memory_region_invalidate_and_set_dirty(rr->mr,
                                               rr->offset + first - rr->r.gpa,
                                               end - first);
    } else {
        tme_engine_read(tme_ram->engine, &rr->r, gpa, len, keyid, buf);
    }
}

/*
 * Read or write @len bytes at @offset of @mr as @keyid sees them,
 * without converting pages that another KeyID owns.  False if that part
 * of @mr is not managed: the caller accesses the host bytes.
 */
static bool tme_ram_access(MemoryRegion *mr, hwaddr offset, void *buf,
                           hwaddr len, bool is_write, uint16_t keyid,
                           bool debug)
{
    TMERamRegion *rr = region_of_mr(mr, offset);
    uint8_t *b = buf;

    if (!rr || offset + len - rr->offset > rr->r.size) {
        return false;
    }
    qemu_mutex_lock(&tme_ram->lock);
    while (len) {
        uint64_t gpa = rr->r.gpa + (offset - rr->offset);
        hwaddr n = MIN(len, PAGE - (gpa & (PAGE - 1)));

        access_page(rr, gpa, b, n, is_write, keyid, debug);
        offset += n;
        b += n;
        len -= n;
    }
    qemu_mutex_unlock(&tme_ram->lock);
    return true;
}

/*
 * Map [@offset, @offset + @len) of @mr for a device: the part that KeyID
 * 0 owns from the start, pinned so that it stays KeyID 0's until
 * tme_ram_unmap_plain().  Returns its length (all of @len for RAM that
 * is not managed).
 */
static hwaddr tme_ram_map_plain(void *opaque, MemoryRegion *mr,
                                hwaddr offset, hwaddr len)
{
    TMERamRegion *rr = region_of_mr(mr, offset);
    uint64_t gpa, end, page;

    if (!rr || !len) {
        return len;
    }
    len = MIN(len, rr->r.size - (offset - rr->offset));
    gpa = rr->r.gpa + (offset - rr->offset);
    end = gpa + len;
    qemu_mutex_lock(&tme_ram->lock);
    for (page = gpa & PAGE_MASK_64;
         page < end && tme_region_owner(&rr->r, page) == 0; page += PAGE) {
        gpointer key = (gpointer)(uintptr_t)page;

        if (!tme_ram_pins) {
            tme_ram_pins = g_hash_table_new(g_direct_hash, g_direct_equal);
        }
        g_hash_table_insert(tme_ram_pins, key, (gpointer)(uintptr_t)
            ((uintptr_t)g_hash_table_lookup(tme_ram_pins, key) + 1));
    }
    qemu_mutex_unlock(&tme_ram->lock);
    return page > gpa ? MIN(page, end) - gpa : 0;
}

static void tme_ram_unmap_plain(void *opaque, MemoryRegion *mr,
                                hwaddr offset, hwaddr len)
{
    TMERamRegion *rr = region_of_mr(mr, offset);
    uint64_t gpa, end, page;

    if (!rr || !len || !tme_ram_pins) {
        return;
    }
    gpa = rr->r.gpa + (offset - rr->offset);
    end = gpa + MIN(len, rr->r.size - (offset - rr->offset));
    qemu_mutex_lock(&tme_ram->lock);
    for (page = gpa & PAGE_MASK_64; page < end; page += PAGE) {
        gpointer key = (gpointer)(uintptr_t)page;
        uintptr_t n = (uintptr_t)g_hash_table_lookup(tme_ram_pins, key);

        if (n == 0) {
            continue;           /* mapped before the layer managed RAM */
        }
        if (n == 1) {
            g_hash_table_remove(tme_ram_pins, key);
        } else {
            g_hash_table_insert(tme_ram_pins, key, (gpointer)(n - 1));
        }
    }
    qemu_mutex_unlock(&tme_ram->lock);
}

static bool tme_ram_cache_direct(void *opaque, MemoryRegion *mr,
                                 hwaddr offset, hwaddr len)
{
    TMERamRegion *rr = region_of_mr(mr, offset);
    uint64_t gpa, end;
    bool direct;

    if (!rr) {
        return true;
    }
    direct = !qatomic_read(&tme_ram_ban_keyids.active) &&
             !qatomic_read(&tme_ram_ban_promised.active);
    if (!direct || len > rr->r.size - (offset - rr->offset)) {
        return false;
    }
    gpa = rr->r.gpa + (offset - rr->offset);
    end = gpa + len;
    qemu_mutex_lock(&tme_ram->lock);
    for (gpa &= PAGE_MASK_64; gpa < end && direct; gpa += PAGE) {
        direct = tme_region_owner(&rr->r, gpa) == 0;
    }
    qemu_mutex_unlock(&tme_ram->lock);
    return direct;
}

/* The interposer: what is not a vCPU's access sees RAM through it */
static bool tme_ram_interposer_access(void *opaque, MemoryRegion *mr,
                                      hwaddr offset, void *buf, hwaddr len,
                                      bool is_write, MemTxAttrs attrs)
{
    return tme_ram_access(mr, offset, buf, len, is_write, attrs.mem_context,
                          attrs.debug);
}

static const RamInterposerOps tme_ram_interposer = {
    .access = tme_ram_interposer_access,
    .map = tme_ram_map_plain,
    .unmap = tme_ram_unmap_plain,
    .cache_direct = tme_ram_cache_direct,
    .what = "TME encrypts guest RAM",
};

/*
 * Physical addresses with KeyID bits (spec 5.1) that do not come from a
 * vCPU's page walk: DMA through an IOMMU whose tables carry KeyIDs (spec
 * 7.8), the IOMMU's own table reads, debuggers (xp, pmemsave, gdb).  A
 * window over the KeyID-bit range of system memory, mapped while KeyIDs
 * are enabled, takes them: an access reaches RAM at the address without
 * its KeyID bits, through that KeyID, and changes no page's owner.  Only
 * RAM: a KeyID must not carry a DMA past an IOMMU's checks of MMIO and
 * interrupt addresses.  Nothing else lives there: guest RAM and the
 * 64-bit PCI hole end below it (x86_tme_check_address_space()).
 */
static MemoryRegion keyid_window;
static bool keyid_window_mapped;

static MemTxResult keyid_window_access(hwaddr addr, void *buf, unsigned size,
                                       bool is_write, MemTxAttrs attrs)
{
    unsigned shift = qatomic_read(&tme_ram->keyid_shift);
    unsigned bits = qatomic_read(&tme_ram->keyid_bits);
    uint16_t keyid;
    MemoryRegion *mr;
    hwaddr xlat, len = size;

    /*
     * Not a vCPU's own access: its page walk removes the KeyID bits once
     * its core enables them (MK_TME_CORE_ACTIVATE), and before that they
     * are address bits, of an address where nothing is.  Devices (with
     * unspecified attributes or a requester ID) and debuggers come in.
     */
    if (!attrs.unspecified && !attrs.debug && !attrs.requester_id) {
        return MEMTX_DECODE_ERROR;
    }
    addr += keyid_window.addr;
    keyid = extract64(addr, shift, bits);
    addr &= ~MAKE_64BIT_MASK(shift, bits);
    RCU_READ_LOCK_GUARD();
    mr = address_space_translate(&address_space_memory, addr, &xlat, &len,
                                 is_write, attrs);
    if (!bits || len < size || !memory_region_supports_direct_access(mr) ||
        memory_region_is_romd(mr)) {
        return MEMTX_DECODE_ERROR;
    }
    if (!tme_ram_access(mr, xlat, buf, size, is_write, keyid, attrs.debug)) {
        /* RAM the layer does not manage: no KeyID changes it */
        return address_space_rw(&address_space_memory, addr, attrs, buf,
                                size, is_write);
    }
    if (is_write) {
        memory_region_invalidate_and_set_dirty(mr, xlat, size);
    }
    return MEMTX_OK;
}

static MemTxResult keyid_window_read(void *opaque, hwaddr addr,
                                     uint64_t *data, unsigned size,
                                     MemTxAttrs attrs)
{
    uint8_t buf[8];
    MemTxResult r = keyid_window_access(addr, buf, size, false, attrs);

    *data = r == MEMTX_OK ? ldn_le_p(buf, size) : 0;
    return r;
}

static MemTxResult keyid_window_write(void *opaque, hwaddr addr,
                                      uint64_t data, unsigned size,
                                      MemTxAttrs attrs)
{
    uint8_t buf[8];

    stn_le_p(buf, size, data);
    return keyid_window_access(addr, buf, size, true, attrs);
}

static const MemoryRegionOps keyid_window_ops = {
    .read_with_attrs = keyid_window_read,
    .write_with_attrs = keyid_window_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 1,
        .max_access_size = 8,
        .unaligned = true,
    },
    .impl = {
        .min_access_size = 1,
        .max_access_size = 8,
        .unaligned = true,
    },
};

/*
 * Map the window over the KeyID bits now enabled: [2^@shift,
 * 2^(@shift + @bits)); none without KeyID bits.  Takes the BQL.
 */
static void keyid_window_update(unsigned shift, unsigned bits)
{
    uint64_t base = 1ULL << shift;

    BQL_LOCK_GUARD();
    memory_region_transaction_begin();
    if (keyid_window_mapped) {
        memory_region_del_subregion(get_system_memory(), &keyid_window);
        keyid_window_mapped = false;
    }
    if (bits && tme_ram) {
        memory_region_set_size(&keyid_window,
                               (1ULL << (shift + bits)) - base);
        memory_region_add_subregion_overlap(get_system_memory(), base,
                                            &keyid_window, 1);
        keyid_window_mapped = true;
    }
    memory_region_transaction_commit();
}

static void keyid_window_init(void)
{
    memory_region_init_io(&keyid_window, NULL, &keyid_window_ops, NULL,
                          "tme-keyid-window", 1);
}

bool tme_ram_view(hwaddr gpa, uint16_t keyid, void *buf, hwaddr len)
{
    TMERamRegion *rr = region_of_gpa(gpa);

    return rr && tme_ram_access(rr->mr, rr->offset + (gpa - rr->r.gpa), buf,
                                len, false, keyid, true);
}

bool tme_ram_encrypt_page(hwaddr gpa, uint8_t *page)
{
    if (!tme_ram) {
        return false;
    }
    qemu_mutex_lock(&tme_ram->lock);
    tme_engine_encrypt_page(tme_ram->engine, 0, gpa, page);
    qemu_mutex_unlock(&tme_ram->lock);
    return true;
}

uint64_t tme_ram_pages_owned(uint16_t owner)
{
    uint64_t n;

    if (!tme_ram_enabled()) {
        return 0;
    }
    qemu_mutex_lock(&tme_ram->lock);
    n = tme_engine_pages_owned(tme_ram->engine, owner);
    qemu_mutex_unlock(&tme_ram->lock);
    return n;
}

uint64_t tme_ram_pages_total(void)
{
    return tme_ram_enabled() ? tme_ram->pages : 0;
}

uint64_t tme_ram_conversions(void)
{
    uint64_t n;

    if (!tme_ram_enabled()) {
        return 0;
    }
    qemu_mutex_lock(&tme_ram->lock);
    n = tme_engine_conversions(tme_ram->engine);
    qemu_mutex_unlock(&tme_ram->lock);
    return n;
}

/*
 * Migration: the owners of the pages; the bytes travel as RAM, the keys
 * with the package.  Each region travels with the id of its RAMBlock
 * and its offset there, and the destination matches them by name, not
 * by position: both sides must map the same RAM, and a stream that does
 * not cover every region here exactly once, or names an owner that is
 * no KeyID here, fails to load.
 */
typedef struct TMERamMigRegion {
    uint8_t idstr[256];         /* RAMBlock id, NUL-padded */
    uint64_t offset;            /* of the region in its RAMBlock */
    uint32_t pages;
    uint16_t *owners;
} TMERamMigRegion;

/* A hostile stream must not make QEMU allocate without bound */
static bool tme_ram_mig_pages_valid(void *opaque, int version_id)
{
    TMERamMigRegion *m = opaque;

    return m->pages <= tme_ram->pages;
}

static bool tme_ram_mig_nr_valid(void *opaque, int version_id)
{
    TMERam *t = opaque;

    return t->mig_nr >= 0 && t->mig_nr <= t->pages;
}

static const VMStateDescription vmstate_tme_ram_region = {
    .name = "tme-ram/region",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8_ARRAY(idstr, TMERamMigRegion, 256),
        VMSTATE_UINT64(offset, TMERamMigRegion),
        VMSTATE_UINT32(pages, TMERamMigRegion),
        VMSTATE_VALIDATE("TME: more page owners than pages",
                         tme_ram_mig_pages_valid),
        VMSTATE_VARRAY_UINT32_ALLOC(owners, TMERamMigRegion, pages, 0,
                                    vmstate_info_uint16, uint16_t),
        VMSTATE_END_OF_LIST()
    }
};

static void tme_ram_mig_free(TMERam *t, bool loaded)
{
    int32_t i;

    for (i = 0; loaded && t->mig && i < t->mig_nr; i++) {
        g_free(t->mig[i].owners);
    }
    g_free(t->mig);
    t->mig = NULL;
    t->mig_nr = 0;
}

static void tme_ram_mig_describe(TMERamRegion *rr, TMERamMigRegion *m)
{
    memset(m, 0, sizeof(*m));
    pstrcpy((char *)m->idstr, sizeof(m->idstr),
            qemu_ram_get_idstr(rr->mr->ram_block));
    m->offset = rr->offset;
    m->pages = rr->r.size / PAGE;
}

static int tme_ram_pre_save(void *opaque)
{
    TMERam *t = opaque;
    unsigned i;

    t->mig_nr = t->nr_regions;
    t->mig = g_new0(TMERamMigRegion, t->nr_regions);
    for (i = 0; i < t->nr_regions; i++) {
        tme_ram_mig_describe(&t->regions[i], &t->mig[i]);
        t->mig[i].owners = t->regions[i].r.owner;
    }
    return 0;
}

static int tme_ram_post_save(void *opaque)
{
    tme_ram_mig_free(opaque, false);
    return 0;
}

static int tme_ram_pre_load(void *opaque)
{
    TMERam *t = opaque;
    unsigned i;

    tme_ram_mig_free(t, true);
    for (i = 0; i < t->nr_regions; i++) {
        tme_engine_remove_region(t->engine, &t->regions[i].r);
    }
    return 0;
}

/* Copy the incoming owners of region @rr; false if the stream lacks it */
static bool tme_ram_mig_take(TMERam *t, TMERamRegion *rr, bool *seen)
{
    uint32_t max_keyid = t->keys ? t->keys->nr_entries - 1 : 0;
    TMERamMigRegion local;
    int32_t i;
    uint32_t p;

    tme_ram_mig_describe(rr, &local);
    for (i = 0; i < t->mig_nr; i++) {
        TMERamMigRegion *m = &t->mig[i];

        if (seen[i] || m->offset != local.offset ||
            memcmp(m->idstr, local.idstr, sizeof(m->idstr))) {
            continue;
        }
        if (m->pages != local.pages) {
            error_report("TME: the incoming owners of RAM '%s' at offset 0x%"
                         PRIx64 " cover %u pages, here %u", local.idstr,
                         local.offset, m->pages, local.pages);
            return false;
        }
        for (p = 0; p < m->pages; p++) {
            if (m->owners[p] != TME_OWNER_DRAM && m->owners[p] > max_keyid) {
                error_report("TME: an incoming page of RAM '%s' belongs to"
                             " KeyID %u, beyond this machine's KeyIDs",
                             local.idstr, m->owners[p]);
                return false;
            }
        }
        memcpy(rr->r.owner, m->owners, local.pages * sizeof(uint16_t));
        seen[i] = true;
        return true;
    }
    error_report("TME: the incoming stream has no page owners of RAM '%s'"
                 " at offset 0x%" PRIx64 ": both sides must map the same"
                 " RAM", local.idstr, local.offset);
    return false;
}

static int tme_ram_post_load(void *opaque, int version_id)
{
    TMERam *t = opaque;
    g_autofree bool *seen = g_new0(bool, MAX(t->mig_nr, 1));
    int ret = 0;
    int32_t i;
    unsigned j;

    for (j = 0; j < t->nr_regions && !ret; j++) {
        if (!tme_ram_mig_take(t, &t->regions[j], seen)) {
            ret = -EINVAL;
        }
    }
    for (i = 0; i < t->mig_nr && !ret; i++) {
        if (!seen[i]) {
            error_report("TME: the incoming stream has page owners of RAM"
                         " '%.255s' at offset 0x%" PRIx64 ", which this"
                         " machine does not map", (char *)t->mig[i].idstr,
                         t->mig[i].offset);
            ret = -EINVAL;
        }
    }
    tme_ram_mig_free(t, true);
    for (j = 0; j < t->nr_regions; j++) {
        tme_engine_add_region(t->engine, &t->regions[j].r);
    }
    tme_ram_update_foreign();
    return ret;
}

static const VMStateDescription vmstate_tme_ram = {
    .name = "tme-ram",
    .version_id = 2,
    .minimum_version_id = 2,
    .pre_save = tme_ram_pre_save,
    .post_save = tme_ram_post_save,
    .pre_load = tme_ram_pre_load,
    .post_load = tme_ram_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_INT32(mig_nr, TMERam),
        VMSTATE_VALIDATE("TME: more RAM regions than pages",
                         tme_ram_mig_nr_valid),
        VMSTATE_STRUCT_VARRAY_ALLOC(mig, TMERam, mig_nr, 0,
                                    vmstate_tme_ram_region,
                                    TMERamMigRegion),
        VMSTATE_END_OF_LIST()
    }
};

/* Which RAM is managed: memory backends, writable, in system memory */
static bool managed_ram(MemoryRegion *mr)
{
    return memory_region_is_ram(mr) && !memory_region_is_ram_device(mr) &&
           !memory_region_is_rom(mr) && !mr->readonly && mr->owner &&
           object_dynamic_cast(mr->owner, TYPE_MEMORY_BACKEND);
}

typedef struct TMERun {
    const MemoryRegion *mr;
    hwaddr delta;               /* gpa - offset in mr */
    hwaddr first, end;          /* offsets in mr */
} TMERun;

static bool collect_run(Int128 start, Int128 len, const MemoryRegion *mr,
                        hwaddr offset, void *opaque)
{
    GArray *runs = opaque;
    hwaddr gpa = int128_get64(start);
    hwaddr end = offset + int128_get64(len);
    TMERun run = { mr, gpa - offset, offset, end };
    unsigned i;

    if (!managed_ram((MemoryRegion *)mr)) {
        return false;
    }
    for (i = 0; i < runs->len; i++) {
        TMERun *r = &g_array_index(runs, TMERun, i);

        if (r->mr == mr && r->delta == run.delta) {
            r->first = MIN(r->first, run.first);
            r->end = MAX(r->end, run.end);
            return false;
        }
    }
    g_array_append_val(runs, run);
    return false;
}

static void tme_ram_machine_done(Notifier *n, void *unused)
{
    g_autoptr(GArray) runs = g_array_new(false, false, sizeof(TMERun));
    TMERam *t = tme_ram;
    uint64_t done = 0;
    unsigned i, j;

    flatview_for_each_range(address_space_to_flatview(&address_space_memory),
                            collect_run, runs);
    t->regions = g_new0(TMERamRegion, runs->len);
    for (i = 0; i < runs->len; i++) {
        TMERun *run = &g_array_index(runs, TMERun, i);

        run->first = QEMU_ALIGN_DOWN(run->first, PAGE);
        run->end = QEMU_ALIGN_UP(run->end, PAGE);
        for (j = 0; j < i; j++) {
            TMERun *o = &g_array_index(runs, TMERun, j);

            if (o->mr == run->mr && run->first < o->end &&
                o->first < run->end) {
                break;
            }
        }
        if (j < i) {
            /* One page at two addresses: one owner cannot serve both */
            warn_report("TME: RAM of '%s' at 0x%" HWADDR_PRIx " aliases RAM"
                        " mapped elsewhere and is not encrypted",
                        memory_region_name(run->mr),
                        run->first + run->delta);
            run->mr = NULL;
            continue;
        }
        t->pages += (run->end - run->first) / PAGE;
    }

    t->owners = g_new0(uint16_t, t->pages);
    for (i = 0; i < runs->len; i++) {
        TMERun *run = &g_array_index(runs, TMERun, i);
        TMERamRegion *rr = &t->regions[t->nr_regions];
        MemoryRegion *mr = (MemoryRegion *)run->mr;

        if (!mr) {
            continue;
        }
        rr->mr = mr;
        rr->offset = run->first;
        rr->r.gpa = run->first + run->delta;
        rr->r.size = run->end - run->first;
        rr->r.host = (uint8_t *)memory_region_get_ram_ptr(mr) + run->first;
        rr->r.owner = t->owners + done;     /* KeyID 0 owns everything */
        /* ... but the file of a file-backed backend holds ciphertext */
        rr->at_rest = object_dynamic_cast(mr->owner,
                                          TYPE_MEMORY_BACKEND_FILE) != NULL;
        for (j = 0; rr->at_rest && j < rr->r.size / PAGE; j++) {
            rr->r.owner[j] = TME_OWNER_DRAM;
        }
        t->at_rest |= rr->at_rest;
        done += rr->r.size / PAGE;
        tme_engine_add_region(t->engine, &rr->r);
        t->nr_regions++;
    }
    if (t->at_rest) {
        ram_share_forbid(&tme_ram_ban_at_rest, &error_fatal);
    }
    ram_interposer_register(&tme_ram_interposer, t);
    for (i = 0; i < t->nr_regions; i++) {
        memory_region_set_interposed(t->regions[i].mr, true);
    }
    tme_ram_update_foreign();
    qemu_add_vm_change_state_handler(tme_ram_vm_state, NULL);
    vmstate_register(NULL, 0, &vmstate_tme_ram, t);
}

bool tme_ram_promise_keyids(Error **errp)
{
    return ram_share_forbid(&tme_ram_ban_promised, errp);
}

bool tme_ram_claim_keyids(void)
{
    Error *err = NULL;

    if (!ram_share_forbid(&tme_ram_ban_keyids, &err)) {
        warn_report_once("MKTME KeyIDs other than 0 stay disabled: %s",
                         error_get_pretty(err));
        error_free(err);
        return false;
    }
    return true;
}

void tme_ram_init(TMEKeyTable *keys)
{
    TMERam *t;

    if (tme_ram) {
        return;
    }
    t = g_new0(TMERam, 1);
    qemu_mutex_init(&t->lock);
    t->keys = keys;
    t->engine = tme_engine_new(keys);
    t->machine_done.notify = tme_ram_machine_done;
    qemu_add_machine_init_done_notifier(&t->machine_done);
    keyid_window_init();
    tme_ram = t;
}
