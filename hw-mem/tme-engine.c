/*
 * MKTME engine: per-page owners and in-place conversion between KeyIDs
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "hw/mem/tme-engine.h"

#define PAGE            TME_PAGE_SIZE
#define BLOCK           TME_BLOCK_SIZE
#define OWNER_SLOTS     (TME_KEYID_LIMIT + 2)   /* KeyIDs, then DRAM */

/*
 * The ciphers of recently used KeyID keys, found by the algorithm and
 * the key bytes, so that a conversion does not set up its ciphers again.
 */
#define KEY_CACHE       8

typedef struct TMEKeyCacheEntry {
    uint64_t last_use;          /* 0: empty */
    TMEKeyEntry key;            /* alg, key_len and the keys */
    QCryptoCipher *cipher;      /* NULL: the crypto layer refused the key */
} TMEKeyCacheEntry;

struct TMEEngine {
    TMEKeyTable *keys;
    bool active;                /* TME activated: KeyID 0 has a key */
    QCryptoCipher *tme_cipher;  /* of the TME key; NULL if refused */
    uint64_t excl_base, excl_mask;
    uint64_t *owned;            /* pages per owner */
    uint64_t conversions;
    TMEKeyCacheEntry cache[KEY_CACHE];
    uint64_t uses;
};

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
    unsigned i;

    for (i = 0; i < KEY_CACHE; i++) {
        qcrypto_cipher_free(e->cache[i].cipher);
    }
    qcrypto_cipher_free(e->tme_cipher);
    g_free(e->owned);
    memset(e->cache, 0, sizeof(e->cache));
    g_free(e);
}

/*
 * The XTS cipher of @key from the crypto layer.  NULL if the layer
 * refuses the key (a backend in FIPS mode refuses equal halves, which
 * the specification allows): the KeyID's pages then stay unencrypted,
 * which keeps every view consistent, and a warning says so.
 */
static QCryptoCipher *new_cipher(const TMEKeyEntry *key)
{
    const TMEKeyAlgInfo *info = tme_key_alg_info(key->alg);
    uint8_t k[2 * TME_KEY_FIELD_BYTES];
    QCryptoCipher *c = NULL;
    Error *err = NULL;

    if (!info || key->key_len != info->key_bytes) {
        error_setg(&err, "no algorithm %u with %u-byte keys", key->alg,
                   key->key_len);
    } else {
        memcpy(k, key->data_key, key->key_len);
        memcpy(k + key->key_len, key->tweak_key, key->key_len);
        c = qcrypto_cipher_new(info->cipher, QCRYPTO_CIPHER_MODE_XTS, k,
                               2 * key->key_len, &err);
        memset(k, 0, sizeof(k));
    }
    if (!c) {
        warn_report("TME: no cipher for a key, its pages are not "
                    "encrypted: %s", error_get_pretty(err));
        error_free(err);
    }
    return c;
}

static bool same_key(const TMEKeyEntry *a, const TMEKeyEntry *b)
{
    return a->alg == b->alg && a->key_len == b->key_len &&
           a->key_len <= TME_KEY_FIELD_BYTES &&
           !memcmp(a->data_key, b->data_key, a->key_len) &&
           !memcmp(a->tweak_key, b->tweak_key, a->key_len);
}

/* The cipher of a KeyID's key, from the cache */
static QCryptoCipher *cached_cipher(TMEEngine *e, const TMEKeyEntry *entry)
{
    TMEKeyCacheEntry *c, *victim = &e->cache[0];
    unsigned i;

    for (i = 0; i < KEY_CACHE; i++) {
        c = &e->cache[i];
        if (c->last_use && same_key(&c->key, entry)) {
            c->last_use = ++e->uses;
            return c->cipher;
        }
        if (c->last_use < victim->last_use) {
            victim = c;
        }
    }
    qcrypto_cipher_free(victim->cipher);
    victim->key = *entry;
    victim->cipher = new_cipher(entry);
    victim->last_use = ++e->uses;
    return victim->cipher;
}

void tme_engine_set_tme_key(TMEEngine *e, const TMEKeyEntry *key)
{
    qcrypto_cipher_free(e->tme_cipher);
    e->tme_cipher = NULL;
    e->active = key != NULL;
    if (e->active) {
        e->tme_cipher = new_cipher(key);
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
 * The cipher of @keyid for the page at @gpa, NULL for the identity;
 * @entry, if not NULL, stands for the key table entry of @keyid.  DRAM
 * is the identity: its bytes are the ciphertext already.
 */
static QCryptoCipher *cipher_of(TMEEngine *e, uint16_t keyid, uint64_t gpa,
                                const TMEKeyEntry *entry)
{
    QCryptoCipher *c = NULL;
    TMEKeyEntry tmp;

    if (keyid == TME_OWNER_DRAM || !e->active) {
        return NULL;
    }
    if (keyid == 0) {
        return excluded(e, gpa) ? NULL : e->tme_cipher;
    }
    if (!entry) {
        if (!e->keys || !tme_keytable_get(e->keys, keyid, &tmp)) {
            /*
             * A KeyID above MK_TME_MAX_KEYS has no entry that PCONFIG
             * could program: it keeps the TME key that every KeyID gets
             * on activation (spec 6.2.1.1), outside the exclusion range,
             * which is KeyID 0's alone (4.2.4).
             */
            return e->tme_cipher;
        }
        entry = &tmp;
    }
    switch (entry->mode) {
    case TME_KEY_MODE_TME:
        c = e->tme_cipher;
        break;
    case TME_KEY_MODE_KEYID:
        c = cached_cipher(e, entry);
        break;
    default:
        break;
    }
    if (entry == &tmp) {
        memset(&tmp, 0, sizeof(tmp));
    }
    return c;
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

/*
 * Bytes [off, off + len) of @page := D_to(E_from(bytes)), where NULL
 * ciphers are the identity: the crypto layer's XTS with the page's
 * address as the tweak, from the block at @off on
 */
static void transform(QCryptoCipher *from, QCryptoCipher *to,
                      uint64_t page_gpa, size_t off, size_t len,
                      uint8_t *page)
{
    uint8_t iv[16] = { 0 };

    stq_le_p(iv, page_gpa);
    if (from) {
        qcrypto_cipher_encrypt_unit(from, iv, sizeof(iv), off, page + off,
                                    page + off, len, &error_abort);
    }
    if (to) {
        qcrypto_cipher_decrypt_unit(to, iv, sizeof(iv), off, page + off,
                                    page + off, len, &error_abort);
    }
}

void tme_engine_convert(TMEEngine *e, TMERegion *r, uint64_t gpa,
                        uint16_t new_owner)
{
    uint64_t page = gpa & ~(uint64_t)(PAGE - 1);
    uint16_t *o = &r->owner[(page - r->gpa) / PAGE];

    if (*o == new_owner) {
        return;
    }
    transform(cipher_of(e, *o, page, NULL), cipher_of(e, new_owner, page, NULL),
              page, 0, PAGE, r->host + (page - r->gpa));
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
        /* Only [a, b) of it is used, and written first */
        uint8_t tmp[PAGE] QEMU_UNINITIALIZED;
        uint8_t *host = r->host + (page - r->gpa);
        uint16_t owner = r->owner[(page - r->gpa) / PAGE];
        QCryptoCipher *own = cipher_of(e, owner, page, NULL);
        QCryptoCipher *view = cipher_of(e, keyid, page, NULL);

        memcpy(tmp + a, host + a, b - a);
        transform(own, view, page, a, b - a, tmp);
        if (write) {
            memcpy(tmp + off, buf, n);
            transform(view, own, page, a, b - a, tmp);
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
    uint64_t page_gpa = gpa & ~(uint64_t)(PAGE - 1);

    transform(cipher_of(e, keyid, page_gpa, NULL), NULL, page_gpa, 0, PAGE,
              page);
}

void tme_engine_rekey_page(TMEEngine *e, TMERegion *r, uint64_t gpa,
                           const TMEKeyEntry *old)
{
    uint64_t page = gpa & ~(uint64_t)(PAGE - 1);
    uint16_t keyid = tme_region_owner(r, page);

    transform(cipher_of(e, keyid, page, old), cipher_of(e, keyid, page, NULL),
              page, 0, PAGE, r->host + (page - r->gpa));
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
