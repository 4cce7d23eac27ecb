/*
 * AES-XTS-128 for the MKTME engine, on Nettle's bulk AES
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Nettle's xts_aes128_* handle one block per AES call.  Here one pass
 * computes the tweak of each block (multiplying by alpha in GF(2^128),
 * little-endian as IEEE 1619 says) and XORs it in, one bulk AES call
 * processes the whole range, and a second pass XORs the tweaks again.
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "hw/mem/tme-xts.h"

void tme_xts_set_key(TMEXtsKey *k, const uint8_t *data_key,
                     const uint8_t *tweak_key)
{
    aes128_set_encrypt_key(&k->enc, data_key);
    aes128_invert_key(&k->dec, &k->enc);
    aes128_set_encrypt_key(&k->tweak, tweak_key);
}

/*
 * dst := src XOR tweaks of the blocks [first, first + n) of the page,
 * which are also stored, as bytes, in @tw for the second XOR.
 */
static void xts_tweak_xor(const TMEXtsKey *k, uint64_t page_addr,
                          size_t first, size_t n, uint8_t *tw, uint8_t *dst,
                          const uint8_t *src)
{
    uint8_t iv[TME_XTS_BLOCK] = { 0 };
    uint64_t t0, t1;
    size_t i;

    stq_le_p(iv, page_addr);
    aes128_encrypt(&k->tweak, TME_XTS_BLOCK, iv, iv);
    t0 = ldq_le_p(iv);
    t1 = ldq_le_p(iv + 8);
    for (i = 0; i < first; i++) {
        uint64_t carry = t1 >> 63;

        t1 = (t1 << 1) | (t0 >> 63);
        t0 = (t0 << 1) ^ (carry * 0x87);
    }
    for (i = 0; i < n; i++) {
        uint64_t carry = t1 >> 63;

        stq_le_p(tw + 16 * i, t0);
        stq_le_p(tw + 16 * i + 8, t1);
        stq_le_p(dst + 16 * i, ldq_le_p(src + 16 * i) ^ t0);
        stq_le_p(dst + 16 * i + 8, ldq_le_p(src + 16 * i + 8) ^ t1);
        t1 = (t1 << 1) | (t0 >> 63);
        t0 = (t0 << 1) ^ (carry * 0x87);
    }
}

/* dst ^= tw, byte for byte, in words the compiler can vectorize */
static void xts_xor(uint8_t *dst, const uint8_t *tw, size_t len)
{
    size_t i;

    for (i = 0; i < len; i += 8) {
        uint64_t a, b;

        memcpy(&a, dst + i, 8);
        memcpy(&b, tw + i, 8);
        a ^= b;
        memcpy(dst + i, &a, 8);
    }
}

static void xts_crypt(const TMEXtsKey *k, bool enc, uint64_t page_addr,
                      size_t offset, size_t len, uint8_t *dst,
                      const uint8_t *src)
{
    uint8_t tw[TME_XTS_PAGE_SIZE] QEMU_ALIGNED(16);

    g_assert(!(offset % TME_XTS_BLOCK) && !(len % TME_XTS_BLOCK));
    g_assert(offset + len <= TME_XTS_PAGE_SIZE);
    xts_tweak_xor(k, page_addr, offset / TME_XTS_BLOCK, len / TME_XTS_BLOCK,
                  tw, dst, src);
    if (enc) {
        aes128_encrypt(&k->enc, len, dst, dst);
    } else {
        aes128_decrypt(&k->dec, len, dst, dst);
    }
    xts_xor(dst, tw, len);
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
