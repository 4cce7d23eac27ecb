/*
 * AES-XTS-128 for the MKTME engine, on Nettle's bulk AES
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * IEEE 1619 XTS-AES-128 with a data unit of one 4 KiB page; the tweak is
 * the page's physical address without KeyID bits, as a 16-byte
 * little-endian integer.  XTS encrypts each 16-byte block on its own, so
 * any 16-byte aligned part of a page can be processed alone.
 * Depends on GLib and Nettle only.
 */

#ifndef HW_MEM_TME_XTS_H
#define HW_MEM_TME_XTS_H

#include <nettle/aes.h>

#define TME_XTS_PAGE_SIZE       4096
#define TME_XTS_BLOCK           16
#define TME_XTS_KEY_BYTES       16

typedef struct TMEXtsKey {
    struct aes128_ctx enc;      /* data key, encryption */
    struct aes128_ctx dec;      /* data key, decryption */
    struct aes128_ctx tweak;    /* tweak key, encryption */
} TMEXtsKey;

void tme_xts_set_key(TMEXtsKey *k, const uint8_t *data_key,
                     const uint8_t *tweak_key);

/*
 * Encrypt or decrypt @len bytes at byte @offset of the page whose address
 * (the tweak) is @page_addr.  @offset and @len are multiples of 16 with
 * @offset + @len <= 4096; @dst may equal @src.
 */
void tme_xts_encrypt(const TMEXtsKey *k, uint64_t page_addr, size_t offset,
                     size_t len, uint8_t *dst, const uint8_t *src);
void tme_xts_decrypt(const TMEXtsKey *k, uint64_t page_addr, size_t offset,
                     size_t len, uint8_t *dst, const uint8_t *src);

/*
 * In place, @buf := D_to(E_from(@buf)) for @len bytes at byte @offset of
 * the page at @page_addr, in fewer passes than an encryption followed by
 * a decryption; a NULL key stands for no encryption.
 */
void tme_xts_reencrypt(const TMEXtsKey *from, const TMEXtsKey *to,
                       uint64_t page_addr, size_t offset, size_t len,
                       uint8_t *buf);

#endif
