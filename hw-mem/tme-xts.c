/*
 * AES-XTS-128 for the MKTME engine, on Nettle's bulk AES
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Nettle's xts_aes128_* handle one block per AES call.  Here the tweaks
 * of all blocks are computed first, then one bulk AES call processes the
 * whole range, which is several times faster on a 4 KiB page.
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "hw/mem/tme-xts.h"

#define XTS_BLOCKS (TME_XTS_PAGE_SIZE / TME_XTS_BLOCK)

void tme_xts_set_key(TMEXtsKey *k, const uint8_t *data_key,
                     const uint8_t *tweak_key)
{
    aes128_set_encrypt_key(&k->enc, data_key);
    aes128_invert_key(&k->dec, &k->enc);
    aes128_set_encrypt_key(&k->tweak, tweak_key);
}

/* Multiply by alpha in GF(2^128), little-endian as IEEE 1619 says */
static inline void xts_mul_alpha(uint64_t t[2])
{
    uint64_t carry = t[1] >> 63;

    t[1] = (t[1] << 1) | (t[0] >> 63);
    t[0] = (t[0] << 1) ^ (carry * 0x87);
}

/* The tweaks of the blocks [first, first + n) of a page, host order */
static void xts_tweaks(const TMEXtsKey *k, uint64_t page_addr, size_t first,
                       size_t n, uint64_t (*tw)[2])
{
    uint8_t iv[TME_XTS_BLOCK] = { 0 };
    uint64_t t[2];
    size_t i;

    for (i = 0; i < 8; i++) {
        iv[i] = page_addr >> (8 * i);
    }
    aes128_encrypt(&k->tweak, TME_XTS_BLOCK, iv, iv);
    t[0] = ldq_le_p(iv);
    t[1] = ldq_le_p(iv + 8);
    for (i = 0; i < first; i++) {
        xts_mul_alpha(t);
    }
    for (i = 0; i < n; i++) {
        tw[i][0] = t[0];
        tw[i][1] = t[1];
        xts_mul_alpha(t);
    }
}

static void xts_xor(uint8_t *dst, const uint8_t *src, uint64_t (*tw)[2],
                    size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        stq_le_p(dst + 16 * i, ldq_le_p(src + 16 * i) ^ tw[i][0]);
        stq_le_p(dst + 16 * i + 8, ldq_le_p(src + 16 * i + 8) ^ tw[i][1]);
    }
}

static void xts_crypt(const TMEXtsKey *k, bool enc, uint64_t page_addr,
                      size_t offset, size_t len, uint8_t *dst,
                      const uint8_t *src)
{
    uint64_t tw[XTS_BLOCKS][2];
    size_t n = len / TME_XTS_BLOCK;

    g_assert(!(offset % TME_XTS_BLOCK) && !(len % TME_XTS_BLOCK));
    g_assert(offset + len <= TME_XTS_PAGE_SIZE);
    xts_tweaks(k, page_addr, offset / TME_XTS_BLOCK, n, tw);
    xts_xor(dst, src, tw, n);
    if (enc) {
        aes128_encrypt(&k->enc, len, dst, dst);
    } else {
        aes128_decrypt(&k->dec, len, dst, dst);
    }
    xts_xor(dst, dst, tw, n);
}

void tme_xts_encrypt(const TMEXtsKey *k, uint64_t page_addr, size_t offset,
                     size_t len, uint8_t *dst, const uint8_t *src)
{
    xts_crypt(k, true, page_addr, offset, len, dst, src);
}

void tme_xts_decrypt(const TMEXtsKey *k, uint64_t page_addr, size_t offset,
                     size_t len, uint8_t *dst, const uint8_t *src)
{
    xts_crypt(k, false, page_addr, offset, len, dst, src);
}
