/*
 * MKTME key table
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/mem/tme-keytable.h"

TMEKeyTable *tme_keytable_new(uint32_t max_keyid)
{
    TMEKeyTable *kt = g_new0(TMEKeyTable, 1);

    g_assert(max_keyid <= TME_KEYID_LIMIT);
    kt->nr_entries = max_keyid + 1;
    kt->entries = g_new0(TMEKeyEntry, kt->nr_entries);
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
    memset(kt->entries, 0, kt->nr_entries * sizeof(TMEKeyEntry));
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
    uint8_t buf[33];
    char *hex;

    if (!tme_keytable_get(kt, keyid, &e)) {
        return NULL;
    }
    buf[0] = e.mode;
    memcpy(buf + 1, e.data_key, 16);
    memcpy(buf + 17, e.tweak_key, 16);
    hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, buf, sizeof(buf));
    memset(&e, 0, sizeof(e));
    memset(buf, 0, sizeof(buf));
    return hex;
}

const char *tme_key_mode_name(TMEKeyMode mode)
{
    switch (mode) {
    case TME_KEY_MODE_TME:
        return "tme-key";
    case TME_KEY_MODE_KEYID:
        return "keyid-key";
    case TME_KEY_MODE_NO_ENCRYPT:
        return "no-encrypt";
    }
    return "invalid";
}
