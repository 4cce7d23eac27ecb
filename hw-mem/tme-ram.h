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

/*
 * Whether a vCPU's access through @keyid must check the page's owner:
 * while KeyID 0 owns every page (ram_interposer_foreign_pages is 0), TME
 * costs nothing
 */
static inline bool tme_ram_check_needed(uint16_t keyid)
{
    return keyid != 0 || qatomic_read(&ram_interposer_foreign_pages) != 0;
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
 * Read @len bytes at @gpa as @keyid sees them, or as DRAM holds them
 * (keyid TME_RAM_DRAM), without converting pages.  False if not managed
 * RAM.  Everything else that is not a vCPU's access sees RAM through
 * the RAM interposer (system/ram-interposer.h) that the layer registers,
 * and through a window over the KeyID bits of physical addresses.
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
 * devices, which must see what KeyID 0 sees (ram_share_begin()): enabled
 * KeyIDs other than 0 forbid it, and so does managed file-backed RAM.
 *
 * The firmware role will enable KeyIDs other than 0 at every reset:
 * false, with @errp, if RAM is shared.
 */
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
