/*
 * AES-XTS-128 for the MKTME engine, on Nettle's bulk AES
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Nettle's xts_aes128_* handle one block per AES call.  Here the tweaks
 * of all blocks are computed first (multiplying by alpha in GF(2^128),
 * little-endian as IEEE 1619 says), one pass XORs them in, one bulk AES
 * call processes the whole range, and a second pass XORs them again.
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
 * Multiplying a tweak by alpha^4 shifts it left by 4 bits and folds the 4
 * bits shifted out back in: x^128 = x^7 + x^2 + x + 1 (0x87), so bits
 * b3..b0 of the top add b3 * 0x87 << 3 ^ ... ^ b0 * 0x87.
 */
static const uint16_t fold4[16] = {
    0x000, 0x087, 0x10e, 0x189, 0x21c, 0x29b, 0x312, 0x395,
    0x438, 0x4bf, 0x536, 0x5b1, 0x624, 0x6a3, 0x72a, 0x7ad,
};

static inline void mul_alpha(uint64_t *t0, uint64_t *t1)
{
    uint64_t carry = *t1 >> 63;

    *t1 = (*t1 << 1) | (*t0 >> 63);
    *t0 = (*t0 << 1) ^ (carry * 0x87);
}

static inline void mul_alpha4(uint64_t *t0, uint64_t *t1)
{
    uint64_t top = *t1 >> 60;

    *t1 = (*t1 << 4) | (*t0 >> 60);
    *t0 = (*t0 << 4) ^ fold4[top];
}

/*
 * The tweaks of the blocks [first, first + n) of the page, as the bytes
 * that are XORed with the data (two little-endian halves each) in @tw.
 * Four independent chains, each advanced by alpha^4, keep the CPU busy
 * where one chain would wait on itself.
 */
static void xts_tweaks(const TMEXtsKey *k, uint64_t page_addr, size_t first,
                       size_t n, uint64_t *tw)
{
    uint8_t iv[TME_XTS_BLOCK] = { 0 };
    uint64_t a0, a1, b0, b1, c0, c1, d0, d1;
    size_t i;

    stq_le_p(iv, page_addr);
    aes128_encrypt(&k->tweak, TME_XTS_BLOCK, iv, iv);
    a0 = ldq_le_p(iv);
    a1 = ldq_le_p(iv + 8);
    for (i = 0; i < first; i++) {
        mul_alpha(&a0, &a1);
    }
    b0 = a0, b1 = a1;
    mul_alpha(&b0, &b1);
    c0 = b0, c1 = b1;
    mul_alpha(&c0, &c1);
    d0 = c0, d1 = c1;
    mul_alpha(&d0, &d1);
    for (i = 0; i + 4 <= n; i += 4) {
        tw[2 * i] = cpu_to_le64(a0);
        tw[2 * i + 1] = cpu_to_le64(a1);
        tw[2 * i + 2] = cpu_to_le64(b0);
        tw[2 * i + 3] = cpu_to_le64(b1);
        tw[2 * i + 4] = cpu_to_le64(c0);
        tw[2 * i + 5] = cpu_to_le64(c1);
        tw[2 * i + 6] = cpu_to_le64(d0);
        tw[2 * i + 7] = cpu_to_le64(d1);
        mul_alpha4(&a0, &a1);
        mul_alpha4(&b0, &b1);
        mul_alpha4(&c0, &c1);
        mul_alpha4(&d0, &d1);
    }
    for (; i < n; i++) {
        tw[2 * i] = cpu_to_le64(a0);
        tw[2 * i + 1] = cpu_to_le64(a1);
        mul_alpha(&a0, &a1);
    }
}

/* One block, as a 16-byte vector: XORs become single SSE2/NEON ops */
typedef uint64_t XtsBlock __attribute__((vector_size(TME_XTS_BLOCK)));

/* dst := src ^ tw for @len bytes */
static void xts_xor(uint8_t *dst, const uint8_t *src, const uint64_t *tw,
                    size_t len)
{
    size_t i;

    for (i = 0; i < len; i += TME_XTS_BLOCK) {
        XtsBlock a, t;

        memcpy(&a, src + i, sizeof(a));
        memcpy(&t, (const uint8_t *)tw + i, sizeof(t));
        a ^= t;
        memcpy(dst + i, &a, sizeof(a));
    }
}

/* buf ^= tw1 ^ tw2 for @len bytes */
static void xts_xor2(uint8_t *buf, const uint64_t *tw1, const uint64_t *tw2,
                     size_t len)
{
    size_t i;

    for (i = 0; i < len; i += TME_XTS_BLOCK) {
        XtsBlock a, t1, t2;

        memcpy(&a, buf + i, sizeof(a));
        memcpy(&t1, (const uint8_t *)tw1 + i, sizeof(t1));
        memcpy(&t2, (const uint8_t *)tw2 + i, sizeof(t2));
        a ^= t1 ^ t2;
        memcpy(buf + i, &a, sizeof(a));
    }
}

static void xts_crypt(const TMEXtsKey *k, bool enc, uint64_t page_addr,
                      size_t offset, size_t len, uint8_t *dst,
                      const uint8_t *src)
{
    uint64_t tw[TME_XTS_PAGE_SIZE / 8] QEMU_ALIGNED(16);

    g_assert(!(offset % TME_XTS_BLOCK) && !(len % TME_XTS_BLOCK));
    g_assert(offset + len <= TME_XTS_PAGE_SIZE);
    xts_tweaks(k, page_addr, offset / TME_XTS_BLOCK, len / TME_XTS_BLOCK, tw);
    xts_xor(dst, src, tw, len);
    if (enc) {
        aes128_encrypt(&k->enc, len, dst, dst);
    } else {
        aes128_decrypt(&k->dec, len, dst, dst);
    }
    xts_xor(dst, dst, tw, len);
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

void tme_xts_reencrypt(const TMEXtsKey *from, const TMEXtsKey *to,
                       uint64_t page_addr, size_t offset, size_t len,
                       uint8_t *buf)
{
    uint64_t tw_from[TME_XTS_PAGE_SIZE / 8] QEMU_ALIGNED(16);
    uint64_t tw_to[TME_XTS_PAGE_SIZE / 8] QEMU_ALIGNED(16);
    size_t first = offset / TME_XTS_BLOCK, n = len / TME_XTS_BLOCK;

    if (!to) {
        if (from) {
            xts_crypt(from, true, page_addr, offset, len, buf, buf);
        }
        return;
    }
    if (!from) {
        xts_crypt(to, false, page_addr, offset, len, buf, buf);
        return;
    }
    g_assert(!(offset % TME_XTS_BLOCK) && !(len % TME_XTS_BLOCK));
    g_assert(offset + len <= TME_XTS_PAGE_SIZE);
    xts_tweaks(from, page_addr, first, n, tw_from);
    xts_tweaks(to, page_addr, first, n, tw_to);
    xts_xor(buf, buf, tw_from, len);
    aes128_encrypt(&from->enc, len, buf, buf);
    xts_xor2(buf, tw_from, tw_to, len);
    aes128_decrypt(&to->dec, len, buf, buf);
    xts_xor(buf, buf, tw_to, len);
}
