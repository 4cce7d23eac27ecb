/*
 * TME/MKTME: monitor commands of the CPU side
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-misc-i386.h"
#include "qapi/util.h"
#include "monitor/monitor.h"
#include "monitor/hmp-target.h"
#include "monitor/hmp.h"
#include "qobject/qdict.h"
#include "system/memory.h"
#include "system/address-spaces.h"
#include "hw/mem/tme-keytable.h"
#include "hw/mem/tme-ram.h"
#include "cpu.h"
#include "tme.h"

static TmeKeyIdMode tme_keyid_mode(TMEKeyMode mode)
{
    switch (mode) {
    case TME_KEY_MODE_KEYID:
        return TME_KEY_ID_MODE_KEYID_KEY;
    case TME_KEY_MODE_NO_ENCRYPT:
        return TME_KEY_ID_MODE_NO_ENCRYPT;
    case TME_KEY_MODE_TME:
    default:
        return TME_KEY_ID_MODE_TME_KEY;
    }
}

/* The QAPI name of an algorithm of the key table, by its name */
static TmeAlgorithm tme_algorithm(unsigned alg)
{
    const TMEKeyAlgInfo *info = tme_key_alg_info(alg);

    return qapi_enum_parse(&TmeAlgorithm_lookup, info ? info->name : NULL,
                           TME_ALGORITHM_AES_XTS_128, &error_abort);
}

TmeKeyFingerprint *qmp_x_query_tme_key_fingerprint(uint16_t keyid,
                                                   Error **errp)
{
    TmeKeyFingerprint *fp;
    TMEKeyTable *kt;
    TMEKeyEntry e;
    uint32_t max_keys;

    kt = x86_tme_keytable(x86_tme_get(), &max_keys);
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
    fp->mode = tme_keyid_mode(e.mode);
    fp->fingerprint = tme_keytable_fingerprint(kt, keyid);
    memset(&e, 0, sizeof(e));
    return fp;
}

TmeInfo *qmp_query_tme(Error **errp)
{
    TmeInfo *info = g_new0(TmeInfo, 1);
    X86TMEStatus st;
    TMEKeyTable *kt;
    uint32_t max_keys = 0, k;
    TmeKeyIdInfoList **tail = &info->keyids;
    TmeAlgorithmList **algs = &info->algorithms;

    x86_tme_status(x86_tme_get(), &st);
    info->enumerated = st.enumerated;
    info->max_keyid_bits = st.max_keyid_bits;
    info->max_keys = st.max_keys;
    info->locked = st.activate & TME_ACTIVATE_LOCK;
    info->active = info->locked && (st.activate & TME_ACTIVATE_ENABLE);
    /* TME_POLICY_AES_XTS_128 is the only policy */
    info->policy = tme_algorithm(TME_KEY_ALG_AES_XTS_128);
    info->keyid_bits = extract64(st.activate, TME_ACTIVATE_KEYID_BITS_SHIFT,
                                 4);
    if (st.activate & TME_ACTIVATE_ALG_AES_XTS_128) {
        QAPI_LIST_APPEND(algs, tme_algorithm(TME_KEY_ALG_AES_XTS_128));
    }
    info->exclude_base = st.exclude_base;
    info->exclude_mask = st.exclude_mask;

    kt = x86_tme_keytable(x86_tme_get(), &max_keys);
    for (k = 1; kt && k <= max_keys; k++) {
        TMEKeyEntry e;
        TmeKeyIdInfo *ki;

        tme_keytable_get(kt, k, &e);
        if (e.mode == TME_KEY_MODE_TME) {
            continue;
        }
        ki = g_new0(TmeKeyIdInfo, 1);
        ki->keyid = k;
        ki->mode = tme_keyid_mode(e.mode);
        QAPI_LIST_APPEND(tail, ki);
        memset(&e, 0, sizeof(e));
    }

    if (tme_ram_enabled()) {
        TmePageOwnerList **owners = &info->owners;

        info->has_ram_pages = info->has_dram_pages = true;
        info->has_conversions = info->has_owners = true;
        info->ram_pages = tme_ram_pages_total();
        info->dram_pages = tme_ram_pages_owned(TME_RAM_DRAM);
        info->conversions = tme_ram_conversions();
        for (k = 0; k <= max_keys; k++) {
            uint64_t n = tme_ram_pages_owned(k);
            TmePageOwner *po;

            if (!n) {
                continue;
            }
            po = g_new0(TmePageOwner, 1);
            po->keyid = k;
            po->pages = n;
            QAPI_LIST_APPEND(owners, po);
        }
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
                   info->locked ? ", locked" : ", not locked",
                   TmeAlgorithm_str(info->policy));
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
                       TmeKeyIdMode_str(l->value->mode));
    }
    if (info->has_ram_pages) {
        TmePageOwnerList *o;

        monitor_printf(mon, "RAM: %" PRIu64 " pages, %" PRIu64
                       " conversions; owners:", info->ram_pages,
                       info->conversions);
        for (o = info->owners; o; o = o->next) {
            monitor_printf(mon, " KeyID %u %" PRIu64 ",", o->value->keyid,
                           o->value->pages);
        }
        monitor_printf(mon, " DRAM %" PRIu64 "\n", info->dram_pages);
    }
}

#define DRAM_PAGE 4096

/* The host bytes of the guest RAM page at @page, or NULL; unref @mr */
static uint8_t *dram_page(uint64_t page, MemoryRegion **mr)
{
    MemoryRegionSection sec = memory_region_find(get_system_memory(), page,
                                                 DRAM_PAGE);

    *mr = sec.mr;
    if (!sec.mr) {
        return NULL;
    }
    /* Firmware ROM is RAM to QEMU, but it is flash, not DRAM */
    if (!memory_region_is_ram(sec.mr) || memory_region_is_ram_device(sec.mr) ||
        memory_region_is_rom(sec.mr) || int128_get64(sec.size) != DRAM_PAGE) {
        return NULL;
    }
    return (uint8_t *)memory_region_get_ram_ptr(sec.mr) +
           sec.offset_within_region;
}

/*
 * The DRAM image of each page: the encryption layer's view of it under
 * its owner's key; for RAM it does not manage, what the CPU sees,
 * encrypted as KeyID 0.
 */
void qmp_x_tme_dram_save(uint64_t addr, uint64_t size, const char *filename,
                         Error **errp)
{
    uint8_t buf[DRAM_PAGE];
    uint64_t page, first, last;
    MemoryRegion *mr;
    bool ok = true;
    FILE *f;

    if (!size) {
        error_setg(errp, "size must not be 0");
        return;
    }
    if (addr + size - 1 < addr) {
        error_setg(errp, "the range wraps around the address space");
        return;
    }
    first = addr & ~(uint64_t)(DRAM_PAGE - 1);
    last = (addr + size - 1) & ~(uint64_t)(DRAM_PAGE - 1);
    for (page = first; ; page += DRAM_PAGE) {
        bool ram = dram_page(page, &mr) != NULL;

        if (mr) {
            memory_region_unref(mr);
        }
        if (!ram) {
            error_setg(errp, "0x%" PRIx64 " is not guest RAM", page);
            return;
        }
        if (page == last) {
            break;
        }
    }

    f = fopen(filename, "wb");
    if (!f) {
        error_setg_file_open(errp, errno, filename);
        return;
    }
    for (page = first; ; page += DRAM_PAGE) {
        uint64_t from = MAX(addr, page);
        uint64_t to = MIN(addr + size - 1, page + DRAM_PAGE - 1);
        uint8_t *host = dram_page(page, &mr);

        if (host && !tme_ram_view(page, TME_RAM_DRAM, buf, DRAM_PAGE)) {
            memcpy(buf, host, DRAM_PAGE);
            tme_ram_encrypt_page(page, buf);
        }
        if (mr) {
            memory_region_unref(mr);
        }
        if (!host) {
            error_setg(errp, "0x%" PRIx64 " is no longer guest RAM", page);
            ok = false;
            break;
        }
        if (fwrite(buf + (from - page), 1, to - from + 1, f) !=
            to - from + 1) {
            error_setg_errno(errp, errno, "writing to '%s' failed", filename);
            ok = false;
            break;
        }
        if (page == last) {
            break;
        }
    }
    memset(buf, 0, sizeof(buf));
    if (fclose(f) && ok) {
        error_setg_errno(errp, errno, "writing to '%s' failed", filename);
    }
}

void hmp_x_tme_dram_save(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;

    qmp_x_tme_dram_save(qdict_get_int(qdict, "val"),
                        qdict_get_int(qdict, "size"),
                        qdict_get_str(qdict, "filename"), &err);
    hmp_handle_error(mon, err);
}
