/*
 * MKTME key table
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/mem/tme-keytable.h"

static const TMEKeyAlgInfo tme_key_algs[TME_KEY_ALG__MAX] = {
    [TME_KEY_ALG_AES_XTS_128] = {
        .name = "aes-xts-128",
        .cipher = QCRYPTO_CIPHER_ALGO_AES_128,
        .key_bytes = 16,
    },
};

const TMEKeyAlgInfo *tme_key_alg_info(unsigned alg)
{
    return alg < TME_KEY_ALG__MAX ? &tme_key_algs[alg] : NULL;
}

bool tme_key_alg_supported(unsigned alg)
{
    const TMEKeyAlgInfo *info = tme_key_alg_info(alg);

    return info && qcrypto_cipher_supports(info->cipher,
                                           QCRYPTO_CIPHER_MODE_XTS);
}

bool tme_key_entry_init(TMEKeyEntry *e, TMEKeyMode mode, unsigned alg,
                        const uint8_t *data_key, const uint8_t *tweak_key)
{
    const TMEKeyAlgInfo *info = tme_key_alg_info(alg);

    memset(e, 0, sizeof(*e));
    if (!info) {
        return false;
    }
    g_assert(info->key_bytes <= TME_KEY_FIELD_BYTES);
    e->mode = mode;
    e->alg = alg;
    e->key_len = info->key_bytes;
    if (data_key) {
        memcpy(e->data_key, data_key, info->key_bytes);
    }
    if (tweak_key) {
        memcpy(e->tweak_key, tweak_key, info->key_bytes);
    }
    return true;
}

/* An entry after reset: the TME key, the default algorithm, no key */
static void tme_keytable_clear(TMEKeyTable *kt)
{
    uint32_t i;

    for (i = 0; i < kt->nr_entries; i++) {
        tme_key_entry_init(&kt->entries[i], TME_KEY_MODE_TME,
                           TME_KEY_ALG_AES_XTS_128, NULL, NULL);
    }
}

TMEKeyTable *tme_keytable_new(uint32_t max_keyid)
{
    TMEKeyTable *kt = g_new0(TMEKeyTable, 1);

    g_assert(max_keyid <= TME_KEYID_LIMIT);
    kt->nr_entries = max_keyid + 1;
    kt->entries = g_new0(TMEKeyEntry, kt->nr_entries);
    tme_keytable_clear(kt);
    g_mutex_init(&kt->mutex);
    return kt;
}

void tme_keytable_free(TMEKeyTable *kt)
{
    g_mutex_clear(&kt->mutex);
    g_free(kt->entries);
    g_free(kt);
}

/* All KeyIDs use the TME key on activation; keys are discarded on reset */
void tme_keytable_reset(TMEKeyTable *kt)
{
    g_mutex_lock(&kt->mutex);
    tme_keytable_clear(kt);
    g_mutex_unlock(&kt->mutex);
    g_atomic_int_set(&kt->lock_held, 0);
}

bool tme_keytable_acquire(TMEKeyTable *kt)
{
    return g_atomic_int_compare_and_exchange(&kt->lock_held, 0, 1);
}

void tme_keytable_release(TMEKeyTable *kt)
{
    g_atomic_int_set(&kt->lock_held, 0);
}

void tme_keytable_set(TMEKeyTable *kt, uint16_t keyid, const TMEKeyEntry *e)
{
    g_assert(keyid < kt->nr_entries);
    g_mutex_lock(&kt->mutex);
    kt->entries[keyid] = *e;
    g_mutex_unlock(&kt->mutex);
}

bool tme_keytable_get(TMEKeyTable *kt, uint16_t keyid, TMEKeyEntry *e)
{
    if (keyid >= kt->nr_entries) {
        return false;
    }
    g_mutex_lock(&kt->mutex);
    *e = kt->entries[keyid];
    g_mutex_unlock(&kt->mutex);
    return true;
}

char *tme_keytable_fingerprint(TMEKeyTable *kt, uint16_t keyid)
{
    TMEKeyEntry e;
    uint8_t buf[1 + 2 * TME_KEY_FIELD_BYTES];
    size_t n;
    char *hex;

    if (!tme_keytable_get(kt, keyid, &e)) {
        return NULL;
    }
    n = MIN(e.key_len, TME_KEY_FIELD_BYTES);
    buf[0] = e.mode;
    memcpy(buf + 1, e.data_key, n);
    memcpy(buf + 1 + n, e.tweak_key, n);
    hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, buf, 1 + 2 * n);
    memset(&e, 0, sizeof(e));
    memset(buf, 0, sizeof(buf));
    return hex;
}
