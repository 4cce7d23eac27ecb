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
