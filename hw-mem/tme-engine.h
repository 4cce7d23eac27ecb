/*
 * MKTME engine: per-page owners and in-place conversion between KeyIDs
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Every 4 KiB page of a managed RAM region has an owner: a KeyID, whose
 * plaintext view the host bytes hold, or DRAM, when they hold the
 * ciphertext.  A page converts in place, bytes := D_new(E_old(bytes)).
 *
 * The cipher: XTS with the algorithm of the KeyID's key
 * entry (AES-XTS-128: key = data key || tweak key), data unit = one
 * 4 KiB page, tweak = the page's physical address without KeyID bits
 * as a 16-byte little-endian integer; QEMU's crypto layer computes it.
 * XTS encrypts every 16-byte block on its own, so any 16-byte aligned
 * part of a page can be processed alone.
 *
 * Depends on GLib and QEMU's crypto layer only; the caller provides the
 * locking and, in QEMU, stops the vCPUs and invalidates their TLBs.
 */

#ifndef HW_MEM_TME_ENGINE_H
#define HW_MEM_TME_ENGINE_H

#include "hw/mem/tme-keytable.h"

/* The data unit of the cipher, and its block */
#define TME_PAGE_SIZE           4096
#define TME_BLOCK_SIZE          16

/* Owner of a page: a KeyID, or DRAM (the bytes are ciphertext) */
#define TME_OWNER_DRAM          0xffff

typedef struct TMERegion {
    uint64_t gpa;               /* guest physical address of byte 0 */
    uint64_t size;              /* a multiple of 4 KiB */
    uint8_t *host;
    uint16_t *owner;            /* one per page: 2 bytes of metadata */
} TMERegion;

typedef struct TMEEngine TMEEngine;

TMEEngine *tme_engine_new(TMEKeyTable *keys);
void tme_engine_free(TMEEngine *e);

/*
 * The TME key (KeyID 0, and KeyIDs in TME mode): the algorithm and the
 * keys of @key; NULL: TME is not activated
 */
void tme_engine_set_tme_key(TMEEngine *e, const TMEKeyEntry *key);
/* IA32_TME_EXCLUDE_BASE/MASK: KeyID 0 is not encrypted inside */
void tme_engine_set_exclusion(TMEEngine *e, uint64_t base, uint64_t mask);

/* A region whose pages all start owned by @owner */
void tme_region_init(TMERegion *r, uint64_t gpa, uint64_t size,
                     uint8_t *host, uint16_t owner);
void tme_region_destroy(TMERegion *r);
/* The engine counts the pages of each owner over its regions */
void tme_engine_add_region(TMEEngine *e, TMERegion *r);
void tme_engine_remove_region(TMEEngine *e, TMERegion *r);

static inline uint16_t tme_region_owner(const TMERegion *r, uint64_t gpa)
{
    return r->owner[(gpa - r->gpa) / TME_PAGE_SIZE];
}

/* Convert the page at @gpa to @new_owner in place */
void tme_engine_convert(TMEEngine *e, TMERegion *r, uint64_t gpa,
                        uint16_t new_owner);

/*
 * Views: read or write any byte range of a page as @keyid sees it,
 * without changing its owner (16-byte blocks are independent in XTS).
 */
void tme_engine_read(TMEEngine *e, TMERegion *r, uint64_t gpa, size_t len,
                     uint16_t keyid, uint8_t *buf);
void tme_engine_write(TMEEngine *e, TMERegion *r, uint64_t gpa, size_t len,
                      uint16_t keyid, const uint8_t *buf);

/*
 * PCONFIG changed the entry of @keyid from @old: the pages @keyid owns
 * read as if written back under the old key and read under the new one.
 * Call after the key table holds the new entry.
 */
void tme_engine_rekey(TMEEngine *e, TMERegion *r, uint16_t keyid,
                      const TMEKeyEntry *old);
/* The same for the one page at @gpa, whose owner is that KeyID */
void tme_engine_rekey_page(TMEEngine *e, TMERegion *r, uint64_t gpa,
                           const TMEKeyEntry *old);

/*
 * @page, the bytes of the page at @gpa as @keyid wrote them, becomes what
 * DRAM holds, for memory outside the engine's regions.
 */
void tme_engine_encrypt_page(TMEEngine *e, uint16_t keyid, uint64_t gpa,
                             uint8_t *page);

/* Pages that @owner owns, over all regions */
uint64_t tme_engine_pages_owned(TMEEngine *e, uint16_t owner);
uint64_t tme_engine_conversions(TMEEngine *e);

/* Whether TME is active: KeyID 0 has a key */
bool tme_engine_active(TMEEngine *e);

#endif
