/*
 * MKTME: guest RAM as encrypted DRAM, for builds without TCG
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/mem/tme-ram.h"

void tme_ram_init(TMEKeyTable *keys)
{
}

bool tme_ram_enabled(void)
{
    return false;
}

void tme_ram_set_tme_key(unsigned alg, const uint8_t *key,
                         uint64_t excl_base, uint64_t excl_mask,
                         unsigned keyid_shift, unsigned keyid_bits)
{
}

void tme_ram_reset(void)
{
}

void tme_ram_fill(CPUState *cs, hwaddr gpa, uint16_t keyid, uintptr_t ra)
{
}

void tme_ram_rekey(uint16_t keyid, const TMEKeyEntry *old)
{
}

bool tme_ram_view(hwaddr gpa, uint16_t keyid, void *buf, hwaddr len)
{
    return false;
}

bool tme_ram_encrypt_page(hwaddr gpa, uint8_t *page)
{
    return false;
}

bool tme_ram_promise_keyids(Error **errp)
{
    return true;
}

bool tme_ram_claim_keyids(void)
{
    return true;
}

uint64_t tme_ram_pages_owned(uint16_t owner)
{
    return 0;
}

uint64_t tme_ram_pages_total(void)
{
    return 0;
}

uint64_t tme_ram_conversions(void)
{
    return 0;
}
