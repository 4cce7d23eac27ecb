/*
 * MKTME engine: per-page owners and in-place conversion between KeyIDs
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/mem/tme-engine.h"

#define PAGE            TME_XTS_PAGE_SIZE
#define BLOCK           TME_XTS_BLOCK
#define OWNER_SLOTS     (TME_KEYID_LIMIT + 2)   /* KeyIDs, then DRAM */

/*
 * Expanded AES keys of recently used KeyID keys, found by the key bytes,
 * so that a conversion does not expand its keys again.
 */
#define KEY_CACHE       8

typedef struct TMEKeyCacheEntry {
    uint64_t last_use;          /* 0: empty */
    uint8_t data_key[TME_XTS_KEY_BYTES];
    uint8_t tweak_key[TME_XTS_KEY_BYTES];
    TMEXtsKey key;
} TMEKeyCacheEntry;

struct TMEEngine {
    TMEKeyTable *keys;
    bool active;                /* TME activated: KeyID 0 has a key */
    TMEXtsKey tme_key;
    uint64_t excl_base, excl_mask;
    uint64_t *owned;            /* pages per owner */
    uint64_t conversions;
    TMEKeyCacheEntry cache[KEY_CACHE];
    uint64_t uses;
};

/* How a KeyID transforms a page: not at all (NULL), or with a key */
typedef struct TMECipher {
    const TMEXtsKey *key;
} TMECipher;

static unsigned owner_slot(uint16_t owner)
{
    return owner == TME_OWNER_DRAM ? OWNER_SLOTS - 1 : owner;
}

TMEEngine *tme_engine_new(TMEKeyTable *keys)
{
    TMEEngine *e = g_new0(TMEEngine, 1);

    e->keys = keys;
    e->owned = g_new0(uint64_t, OWNER_SLOTS);
    return e;
}

void tme_engine_free(TMEEngine *e)
{
    g_free(e->owned);
    memset(e->cache, 0, sizeof(e->cache));
    g_free(e);
}

/* The expanded key of a KeyID's key bytes, from the cache */
static const TMEXtsKey *cached_key(TMEEngine *e, const TMEKeyEntry *entry)
{
    TMEKeyCacheEntry *c, *victim = &e->cache[0];
    unsigned i;

    for (i = 0; i < KEY_CACHE; i++) {
        c = &e->cache[i];
        if (c->last_use &&
            !memcmp(c->data_key, entry->data_key, TME_XTS_KEY_BYTES) &&
            !memcmp(c->tweak_key, entry->tweak_key, TME_XTS_KEY_BYTES)) {
            c->last_use = ++e->uses;
            return &c->key;
        }
        if (c->last_use < victim->last_use) {
            victim = c;
        }
    }
    memcpy(victim->data_key, entry->data_key, TME_XTS_KEY_BYTES);
    memcpy(victim->tweak_key, entry->tweak_key, TME_XTS_KEY_BYTES);
    tme_xts_set_key(&victim->key, entry->data_key, entry->tweak_key);
    victim->last_use = ++e->uses;
    return &victim->key;
}

void tme_engine_set_tme_key(TMEEngine *e, const uint8_t *data_key,
                            const uint8_t *tweak_key)
{
    e->active = data_key != NULL;
    if (e->active) {
        tme_xts_set_key(&e->tme_key, data_key, tweak_key);
    }
}

void tme_engine_set_exclusion(TMEEngine *e, uint64_t base, uint64_t mask)
{
    e->excl_base = base;
    e->excl_mask = mask;
}

static bool excluded(TMEEngine *e, uint64_t gpa)
{
    uint64_t m = e->excl_mask & ~(uint64_t)(PAGE - 1);

    return (e->excl_mask & (1 << 11)) && (gpa & m) == (e->excl_base & m);
}

/*
 * The cipher of @keyid for the page at @gpa; @entry, if not NULL, stands
 * for the key table entry of @keyid.  DRAM is the identity: its bytes are
 * the ciphertext already.
 */
static void cipher_of(TMEEngine *e, uint16_t keyid, uint64_t gpa,
                      const TMEKeyEntry *entry, TMECipher *c)
{
    TMEKeyEntry tmp;

    c->key = NULL;
    if (keyid == TME_OWNER_DRAM || !e->active) {
        return;
    }
    if (keyid == 0) {
        if (!excluded(e, gpa)) {
            c->key = &e->tme_key;
        }
        return;
    }
    if (!entry) {
        if (!e->keys || !tme_keytable_get(e->keys, keyid, &tmp)) {
            /*
             * A KeyID above MK_TME_MAX_KEYS has no entry that PCONFIG
             * could program: it keeps the TME key that every KeyID gets
             * on activation (spec 6.2.1.1), outside the exclusion range,
             * which is KeyID 0's alone (4.2.4).
             */
            c->key = &e->tme_key;
            return;
        }
        entry = &tmp;
    }
    switch (entry->mode) {
    case TME_KEY_MODE_TME:
        c->key = &e->tme_key;
        break;
    case TME_KEY_MODE_KEYID:
        c->key = cached_key(e, entry);
        break;
    default:
        break;
    }
    if (entry == &tmp) {
        memset(&tmp, 0, sizeof(tmp));
    }
}

void tme_region_init(TMERegion *r, uint64_t gpa, uint64_t size,
                     uint8_t *host, uint16_t owner)
{
    uint64_t i, n = size / PAGE;

    g_assert(!(gpa % PAGE) && !(size % PAGE));
    r->gpa = gpa;
    r->size = size;
    r->host = host;
    r->owner = g_new(uint16_t, n);
    for (i = 0; i < n; i++) {
        r->owner[i] = owner;
    }
}

void tme_region_destroy(TMERegion *r)
{
    g_free(r->owner);
    r->owner = NULL;
}

static void account(TMEEngine *e, uint16_t owner, int64_t pages)
{
    e->owned[owner_slot(owner)] += pages;
}

void tme_engine_add_region(TMEEngine *e, TMERegion *r)
{
    uint64_t i;

    for (i = 0; i < r->size / PAGE; i++) {
        account(e, r->owner[i], 1);
    }
}

void tme_engine_remove_region(TMEEngine *e, TMERegion *r)
{
    uint64_t i;

    for (i = 0; i < r->size / PAGE; i++) {
        account(e, r->owner[i], -1);
    }
}

/* bytes [off, off + len) of @page := D_to(E_from(bytes)) */
static void transform(const TMECipher *from, const TMECipher *to,
                      uint64_t page_gpa, size_t off, size_t len,
                      uint8_t *page)
{
    tme_xts_reencrypt(from->key, to->key, page_gpa, off, len, page + off);
}

void tme_engine_convert(TMEEngine *e, TMERegion *r, uint64_t gpa,
                        uint16_t new_owner)
{
    uint64_t page = gpa & ~(uint64_t)(PAGE - 1);
    uint16_t *o = &r->owner[(page - r->gpa) / PAGE];
    TMECipher from, to;

    if (*o == new_owner) {
        return;
    }
    cipher_of(e, *o, page, NULL, &from);
    cipher_of(e, new_owner, page, NULL, &to);
    transform(&from, &to, page, 0, PAGE, r->host + (page - r->gpa));
    account(e, *o, -1);
    account(e, new_owner, 1);
    *o = new_owner;
    e->conversions++;
}

/* Read or write [gpa, gpa + len) through @keyid, page by page */
static void for_each_part(TMEEngine *e, TMERegion *r, uint64_t gpa,
                          size_t len, uint16_t keyid, bool write,
                          uint8_t *buf)
{
    while (len) {
        uint64_t page = gpa & ~(uint64_t)(PAGE - 1);
        size_t off = gpa - page;
        size_t n = MIN(len, PAGE - off);
        size_t a = off & ~(size_t)(BLOCK - 1);
        size_t b = ROUND_UP(off + n, BLOCK);
        uint8_t tmp[PAGE];
        uint8_t *host = r->host + (page - r->gpa);
        uint16_t owner = r->owner[(page - r->gpa) / PAGE];
        TMECipher own, view;

        cipher_of(e, owner, page, NULL, &own);
        cipher_of(e, keyid, page, NULL, &view);
        memcpy(tmp + a, host + a, b - a);
        transform(&own, &view, page, a, b - a, tmp);
        if (write) {
            memcpy(tmp + off, buf, n);
            transform(&view, &own, page, a, b - a, tmp);
            memcpy(host + a, tmp + a, b - a);
        } else {
            memcpy(buf, tmp + off, n);
        }
        gpa += n;
        buf += n;
        len -= n;
    }
}

void tme_engine_read(TMEEngine *e, TMERegion *r, uint64_t gpa, size_t len,
                     uint16_t keyid, uint8_t *buf)
{
    for_each_part(e, r, gpa, len, keyid, false, buf);
}

void tme_engine_write(TMEEngine *e, TMERegion *r, uint64_t gpa, size_t len,
                      uint16_t keyid, const uint8_t *buf)
{
    for_each_part(e, r, gpa, len, keyid, true, (uint8_t *)buf);
}

void tme_engine_encrypt_page(TMEEngine *e, uint16_t keyid, uint64_t gpa,
                             uint8_t *page)
{
    TMECipher c;

    cipher_of(e, keyid, gpa & ~(uint64_t)(PAGE - 1), NULL, &c);
    tme_xts_reencrypt(c.key, NULL, gpa & ~(uint64_t)(PAGE - 1), 0, PAGE,
                      page);
}

void tme_engine_rekey_page(TMEEngine *e, TMERegion *r, uint64_t gpa,
                           const TMEKeyEntry *old)
{
    uint64_t page = gpa & ~(uint64_t)(PAGE - 1);
    uint16_t keyid = tme_region_owner(r, page);
    TMECipher from, to;

    cipher_of(e, keyid, page, old, &from);
    cipher_of(e, keyid, page, NULL, &to);
    transform(&from, &to, page, 0, PAGE, r->host + (page - r->gpa));
    e->conversions++;
}

void tme_engine_rekey(TMEEngine *e, TMERegion *r, uint16_t keyid,
                      const TMEKeyEntry *old)
{
    uint64_t i;

    if (!e->owned[owner_slot(keyid)]) {
        return;
    }
    for (i = 0; i < r->size / PAGE; i++) {
        if (r->owner[i] == keyid) {
            tme_engine_rekey_page(e, r, r->gpa + i * PAGE, old);
        }
    }
}

uint64_t tme_engine_pages_owned(TMEEngine *e, uint16_t owner)
{
    return e->owned[owner_slot(owner)];
}

bool tme_engine_active(TMEEngine *e)
{
    return e->active;
}

uint64_t tme_engine_conversions(TMEEngine *e)
{
    return e->conversions;
}
