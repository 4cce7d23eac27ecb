/*
 * MKTME: guest RAM as encrypted DRAM
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The QEMU side of the engine of tme-engine.h: which guest RAM it
 * manages, conversions with the vCPUs stopped and their TLBs and
 * translated code invalidated, views for DMA and debuggers, migration.
 *
 * The rule that makes TLB hits free: a TLB entry for a managed page
 * exists only if it was made while its KeyID owned the page.  Every
 * fill checks the owner (tme_ram_fill), every conversion of a page that
 * a KeyID owns first drops all TLB entries of all vCPUs.
 */

#ifndef HW_MEM_TME_RAM_H
#define HW_MEM_TME_RAM_H

#include "system/memory.h"
#include "hw/mem/tme-keytable.h"

/* The owner that tme_ram_view() calls DRAM (tme-engine.h's) */
#define TME_RAM_DRAM            0xffff

/* tme_ram_foreign_pages (system/memory.h) is 0 while TME costs nothing */

/* Whether an access through @keyid must check the page's owner */
static inline bool tme_ram_check_needed(uint16_t keyid)
{
    return keyid != 0 || qatomic_read(&tme_ram_foreign_pages) != 0;
}

/* Whether an access to RAM with @attrs must go through tme_ram_access() */
static inline bool tme_ram_access_needed(MemTxAttrs attrs)
{
    return attrs.keyid || qatomic_read(&tme_ram_foreign_pages) != 0;
}

/* Manage the machine's RAM (called once, when TME is enumerated) */
void tme_ram_init(TMEKeyTable *keys);
bool tme_ram_enabled(void);

/*
 * The TME key of algorithm @alg (TMEKeyAlg): its data key, then its
 * tweak key; NULL while TME is inactive.  The exclusion range; the
 * KeyID bits of physical addresses, @keyid_bits bits from bit
 * @keyid_shift (0 bits without MKTME).
 */
void tme_ram_set_tme_key(unsigned alg, const uint8_t *key,
                         uint64_t excl_base, uint64_t excl_mask,
                         unsigned keyid_shift, unsigned keyid_bits);

/*
 * Machine reset: every page is written back to DRAM under the keys of
 * its owner, so that a new TME key reads it as garbage and a restored
 * one (IA32_TME_ACTIVATE key select) reads it back.  The first MiB
 * keeps KeyID 0's plaintext: SeaBIOS reboots from its shadow RAM; and
 * so do KeyID 0's pages of zeroes, which hold no data.
 * The vCPUs are stopped.
 */
void tme_ram_reset(void);

/*
 * TLB fill: the vCPU @cs accesses the page at @gpa through @keyid.
 * Converts the page with the other vCPUs stopped (cpu_exec_exclusive(),
 * which may restart the instruction at @ra or the translation).
 */
void tme_ram_fill(CPUState *cs, hwaddr gpa, uint16_t keyid, uintptr_t ra);

/*
 * PCONFIG changed the key of @keyid from @old: its pages read as if
 * written back under the old key and read under the new one.
 */
void tme_ram_rekey(uint16_t keyid, const TMEKeyEntry *old);

/*
 * Accesses that are not a vCPU's loads and stores: read or write @len
 * bytes at @offset of @mr as KeyID attrs.keyid sees them (0 for device
 * DMA, the loader and migration; debuggers may set another), without
 * converting pages that another KeyID owns.  False if @mr is not
 * managed: the caller accesses the host bytes.
 */
bool tme_ram_access(MemoryRegion *mr, hwaddr offset, void *buf, hwaddr len,
                    bool is_write, MemTxAttrs attrs);

/*
 * A cache of guest memory that a device keeps for long (virtio's rings,
 * address_space_cache_init()) may use the host bytes of [@offset,
 * @offset + @len) of @mr: true if @mr is not managed, or if KeyID 0 owns
 * those pages and no KeyID other than 0 is or will be enabled.  Once
 * KeyIDs are enabled any page may convert while the cache lives, so the
 * device must go through tme_ram_access() to see KeyID 0's view.
 */
bool tme_ram_cache_direct(MemoryRegion *mr, hwaddr offset, hwaddr len);
/*
 * A device maps RAM directly: the part KeyID 0 owns stays KeyID 0's
 * until unmapped (pinned); returns its length
 */
hwaddr tme_ram_map_plain(MemoryRegion *mr, hwaddr offset, hwaddr len);
void tme_ram_unmap_plain(MemoryRegion *mr, hwaddr offset, hwaddr len);

/*
 * Debug accesses to a physical address (xp, pmemsave): move the KeyID
 * bits of @addr, if MKTME is active, to attrs->keyid.
 */
hwaddr tme_ram_debug_addr(hwaddr addr, MemTxAttrs *attrs);

/*
 * Devices behind an IOMMU (spec 7.8: software puts KeyIDs into the
 * physical addresses of the IOMMU's tables and translations): the
 * address space in which a DMA to physical address @addr, KeyID bits
 * included, sees memory through that KeyID without converting pages.
 * System memory for KeyID 0 and while MKTME is inactive; for another
 * KeyID one that reaches RAM only.
 */
AddressSpace *tme_ram_dma_as(hwaddr addr);

/*
 * Read @len bytes at @gpa as @keyid sees them, or as DRAM holds them
 * (keyid TME_RAM_DRAM), without converting pages: tme_ram_access() by
 * physical address.  False if not managed RAM.
 */
bool tme_ram_view(hwaddr gpa, uint16_t keyid, void *buf, hwaddr len);

/*
 * @page, the bytes that KeyID 0 sees in a page at @gpa of RAM that the
 * layer does not manage, becomes what DRAM holds.  False without the
 * layer (without TME, DRAM holds the plaintext).
 */
bool tme_ram_encrypt_page(hwaddr gpa, uint8_t *page);

/*
 * vhost and vfio give guest RAM's host bytes to other processes and to
 * devices, which must see what KeyID 0 sees: the host bytes of a page
 * that another KeyID or DRAM owns hold something else.  Such a sharer
 * registers @reasonp, which says what shares RAM, for as long as it
 * shares it.  tme_ram_add_blocker() fails with @errp, and frees
 * *@reasonp, while KeyIDs other than 0 are enabled or promised, or
 * file-backed RAM is managed; while a blocker exists those fail.
 */
bool tme_ram_add_blocker(Error **reasonp, Error **errp);
void tme_ram_del_blocker(Error **reasonp);

/* The firmware role will enable KeyIDs other than 0 at every reset */
bool tme_ram_promise_keyids(Error **errp);

/*
 * Software enables KeyIDs other than 0 (IA32_TME_ACTIVATE, a migrated
 * state): false if a blocker forbids it.  They stay enabled until
 * tme_ram_set_tme_key() disables them.
 */
bool tme_ram_claim_keyids(void);

/* Counters for the monitor */
uint64_t tme_ram_pages_owned(uint16_t owner);
uint64_t tme_ram_pages_total(void);
uint64_t tme_ram_conversions(void);

#endif
