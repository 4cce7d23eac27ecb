/*
 * TME/MKTME: monitor commands of the CPU side
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-misc-target.h"
#include "monitor/monitor.h"
#include "monitor/hmp-target.h"
#include "hw/mem/tme-keytable.h"
#include "cpu.h"
#include "tme.h"

TmeKeyFingerprint *qmp_x_query_tme_key_fingerprint(uint16_t keyid,
                                                   Error **errp)
{
    TmeKeyFingerprint *fp;
    TMEKeyTable *kt;
    TMEKeyEntry e;
    uint32_t max_keys;

    kt = x86_tme_keytable(&max_keys);
    if (!kt) {
        error_setg(errp, "the CPUs do not enumerate MKTME");
        return NULL;
    }
    if (keyid == 0 || keyid > max_keys) {
        error_setg(errp, "KeyID %u is out of range: MKTME KeyIDs are 1 to %u",
                   keyid, max_keys);
        return NULL;
    }
    tme_keytable_get(kt, keyid, &e);
    fp = g_new0(TmeKeyFingerprint, 1);
    fp->keyid = keyid;
    fp->mode = g_strdup(tme_key_mode_name(e.mode));
    fp->fingerprint = tme_keytable_fingerprint(kt, keyid);
    memset(&e, 0, sizeof(e));
    return fp;
}

TmeInfo *qmp_query_tme(Error **errp)
{
    TmeInfo *info = g_new0(TmeInfo, 1);
    X86TMEStatus st;
    TMEKeyTable *kt;
    uint32_t max_keys, k;
    TmeKeyIdInfoList **tail = &info->keyids;
    strList **algs = &info->algorithms;

    x86_tme_status(&st);
    info->enumerated = st.enumerated;
    info->max_keyid_bits = st.max_keyid_bits;
    info->max_keys = st.max_keys;
    info->locked = st.activate & TME_ACTIVATE_LOCK;
    info->active = info->locked && (st.activate & TME_ACTIVATE_ENABLE);
    info->policy = g_strdup("aes-xts-128");
    info->keyid_bits = extract64(st.activate, TME_ACTIVATE_KEYID_BITS_SHIFT,
                                 4);
    if (st.activate & TME_ACTIVATE_ALG_AES_XTS_128) {
        QAPI_LIST_APPEND(algs, g_strdup("aes-xts-128"));
    }
    info->exclude_base = st.exclude_base;
    info->exclude_mask = st.exclude_mask;

    kt = x86_tme_keytable(&max_keys);
    for (k = 1; kt && k <= max_keys; k++) {
        TMEKeyEntry e;
        TmeKeyIdInfo *ki;

        tme_keytable_get(kt, k, &e);
        if (e.mode == TME_KEY_MODE_TME) {
            continue;
        }
        ki = g_new0(TmeKeyIdInfo, 1);
        ki->keyid = k;
        ki->mode = g_strdup(tme_key_mode_name(e.mode));
        QAPI_LIST_APPEND(tail, ki);
        memset(&e, 0, sizeof(e));
    }
    return info;
}

void hmp_info_tme(Monitor *mon, const QDict *qdict)
{
    g_autoptr(TmeInfo) info = qmp_query_tme(NULL);
    TmeKeyIdInfoList *l;

    if (!info->enumerated) {
        monitor_printf(mon, "TME is not enumerated (-cpu ...,+tme)\n");
        return;
    }
    monitor_printf(mon, "TME: %s%s, policy %s\n",
                   info->active ? "active" : "not active",
                   info->locked ? ", locked" : ", not locked", info->policy);
    monitor_printf(mon, "MKTME: %u of %u KeyID bits, %u keys%s\n",
                   info->keyid_bits, info->max_keyid_bits, info->max_keys,
                   info->algorithms ? ", AES-XTS-128 allowed" : "");
    monitor_printf(mon, "exclusion range: base 0x%" PRIx64 " mask 0x%" PRIx64
                   " (%s)\n", info->exclude_base, info->exclude_mask,
                   info->exclude_mask & TME_EXCLUDE_MASK_ENABLE ?
                   "enabled" : "disabled");
    if (!info->keyids) {
        monitor_printf(mon, "KeyIDs: all use the TME key\n");
    }
    for (l = info->keyids; l; l = l->next) {
        monitor_printf(mon, "KeyID %u: %s\n", l->value->keyid,
                       l->value->mode);
    }
}
