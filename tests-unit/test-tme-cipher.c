/*
 * Unit tests of the MKTME engine core: the cipher as the engine applies
 * it (through QEMU's crypto layer), the algorithm table, the key table
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/cutils.h"
#include "qapi/error.h"
#include "crypto/init.h"
#include "hw/mem/tme-engine.h"

#define PAGE    TME_PAGE_SIZE

static void hex(uint8_t *out, const char *s, size_t n)
{
    size_t i;

    g_assert_cmpuint(strlen(s), ==, 2 * n);
    for (i = 0; i < n; i++) {
        out[i] = g_ascii_xdigit_value(s[2 * i]) << 4 |
                 g_ascii_xdigit_value(s[2 * i + 1]);
    }
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    size_t i;

    for (i = 0; i < n; i++) {
        seed = seed * 1103515245 + 12345;
        p[i] = seed >> 16;
    }
}

/*
 * An engine with KeyID 1 under a direct key and one page at @gpa that
 * @owner owns, holding @bytes
 */
typedef struct OnePage {
    TMEKeyTable *kt;
    TMEEngine *e;
    TMERegion r;
    uint8_t *ram;
} OnePage;

static void one_page_init(OnePage *o, const uint8_t *data_key,
                          const uint8_t *tweak_key, uint64_t gpa,
                          uint16_t owner, const uint8_t *bytes)
{
    uint8_t tme[16] = { 0 };
    TMEKeyEntry ent;

    o->kt = tme_keytable_new(1);
    o->e = tme_engine_new(o->kt);
    tme_key_entry_init(&ent, TME_KEY_MODE_KEYID, TME_KEY_ALG_AES_XTS_128,
                       tme, tme);
    tme_engine_set_tme_key(o->e, &ent);
    tme_key_entry_init(&ent, TME_KEY_MODE_KEYID, TME_KEY_ALG_AES_XTS_128,
                       data_key, tweak_key);
    tme_keytable_set(o->kt, 1, &ent);
    o->ram = g_malloc(PAGE);
    memcpy(o->ram, bytes, PAGE);
    tme_region_init(&o->r, gpa, PAGE, o->ram, owner);
    tme_engine_add_region(o->e, &o->r);
}

static void one_page_destroy(OnePage *o)
{
    tme_engine_remove_region(o->e, &o->r);
    tme_region_destroy(&o->r);
    tme_engine_free(o->e);
    tme_keytable_free(o->kt);
    g_free(o->ram);
}

/*
 * IEEE P1619/D16, annex B, XTS-AES-128 vector 1: zero keys (equal
 * halves), data unit 0, 32 zero bytes; as the first bytes of the page
 * at address 0
 */
static void test_ieee1619(void)
{
    static const char ct_hex[] =
        "917cf69ebd68b2ec9b9fe9a3eadda692cd43d2f59598ed858c02c2652fbf922e";
    uint8_t zero[16] = { 0 }, ct[32], got[32];
    g_autofree uint8_t *page = g_malloc0(PAGE);
    OnePage o;

    hex(ct, ct_hex, sizeof(ct));
    one_page_init(&o, zero, zero, 0, 1, page);
    tme_engine_read(o.e, &o.r, 0, sizeof(got), TME_OWNER_DRAM, got);
    g_assert_cmpmem(got, sizeof(got), ct, sizeof(ct));
    one_page_destroy(&o);

    memcpy(page, ct, sizeof(ct));
    one_page_init(&o, zero, zero, 0, TME_OWNER_DRAM, page);
    tme_engine_read(o.e, &o.r, 0, sizeof(got), 1, got);
    g_assert_true(buffer_is_zero(got, sizeof(got)));
    one_page_destroy(&o);
}

/*
 * Any part of a page, aligned or not, reads through another KeyID as
 * that part of the whole page converted: the crypto layer's views that
 * start inside a page give what a whole-page encryption gives there
 */
static void test_ranges(void)
{
    g_autofree uint8_t *pt = g_malloc(PAGE);
    g_autofree uint8_t *full = g_malloc(PAGE);
    g_autofree uint8_t *part = g_malloc(PAGE);
    g_autoptr(QCryptoCipher) c = NULL;
    uint8_t k1[16], k2[16], key[32], iv[16] = { 0 };
    uint64_t gpa = 0x12345000;
    size_t off, len;
    OnePage o;

    fill(k1, 16, 1);
    fill(k2, 16, 2);
    fill(pt, PAGE, 3);
    memcpy(key, k1, 16);
    memcpy(key + 16, k2, 16);
    c = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_128,
                           QCRYPTO_CIPHER_MODE_XTS, key, sizeof(key),
                           &error_abort);
    stq_le_p(iv, gpa);
    g_assert(qcrypto_cipher_setiv(c, iv, sizeof(iv), &error_abort) == 0);
    g_assert(qcrypto_cipher_encrypt(c, pt, full, PAGE, &error_abort) == 0);

    one_page_init(&o, k1, k2, gpa, 1, pt);
    for (off = 0; off < PAGE; off += 37) {
        for (len = 1; off + len <= PAGE; len += 16 * 53 + 5) {
            tme_engine_read(o.e, &o.r, gpa + off, len, TME_OWNER_DRAM, part);
            g_assert_cmpmem(part, len, full + off, len);
        }
    }
    g_assert_cmpmem(o.ram, PAGE, pt, PAGE);
    one_page_destroy(&o);

    one_page_init(&o, k1, k2, gpa, TME_OWNER_DRAM, full);
    for (off = 0; off < PAGE; off += 16 * 37) {
        for (len = 16; off + len <= PAGE; len += 16 * 53) {
            tme_engine_read(o.e, &o.r, gpa + off, len, 1, part);
            g_assert_cmpmem(part, len, pt + off, len);
        }
    }
    one_page_destroy(&o);
}

/* The tweak is the page address: the same bytes differ on another page */
static void test_tweak(void)
{
    g_autofree uint8_t *pt = g_malloc0(PAGE);
    uint8_t k1[16], k2[16], a[32], b[32];
    OnePage o;

    fill(k1, 16, 4);
    fill(k2, 16, 5);
    one_page_init(&o, k1, k2, 0x1000, 1, pt);
    tme_engine_read(o.e, &o.r, 0x1000, sizeof(a), TME_OWNER_DRAM, a);
    one_page_destroy(&o);
    one_page_init(&o, k1, k2, 0x2000, 1, pt);
    tme_engine_read(o.e, &o.r, 0x2000, sizeof(b), TME_OWNER_DRAM, b);
    one_page_destroy(&o);
    g_assert_true(memcmp(a, b, 16) != 0);
    g_assert_true(memcmp(a, a + 16, 16) != 0);  /* blocks differ too */
}

/* The algorithm table: what an algorithm is, in one place */
static void test_algorithms(void)
{
    const TMEKeyAlgInfo *info = tme_key_alg_info(TME_KEY_ALG_AES_XTS_128);
    uint8_t k1[32], k2[32];
    TMEKeyEntry e;

    g_assert_nonnull(info);
    g_assert_cmpstr(info->name, ==, "aes-xts-128");
    g_assert_cmpint(info->cipher, ==, QCRYPTO_CIPHER_ALGO_AES_128);
    g_assert_cmpint(info->key_bytes, ==, 16);
    g_assert_cmpint(info->key_bytes, ==,
                    qcrypto_cipher_get_key_len(info->cipher));
    g_assert_true(tme_key_alg_supported(TME_KEY_ALG_AES_XTS_128));
    g_assert_null(tme_key_alg_info(TME_KEY_ALG__MAX));
    g_assert_false(tme_key_alg_supported(TME_KEY_ALG__MAX));

    /* An entry takes the key length of its algorithm, the rest is zero */
    memset(k1, 0x11, sizeof(k1));
    memset(k2, 0x22, sizeof(k2));
    g_assert_true(tme_key_entry_init(&e, TME_KEY_MODE_KEYID,
                                     TME_KEY_ALG_AES_XTS_128, k1, k2));
    g_assert_cmpint(e.mode, ==, TME_KEY_MODE_KEYID);
    g_assert_cmpint(e.alg, ==, TME_KEY_ALG_AES_XTS_128);
    g_assert_cmpint(e.key_len, ==, 16);
    g_assert_cmpmem(e.data_key, 16, k1, 16);
    g_assert_cmpmem(e.tweak_key, 16, k2, 16);
    g_assert_true(buffer_is_zero(e.data_key + 16, TME_KEY_FIELD_BYTES - 16));
    g_assert_true(buffer_is_zero(e.tweak_key + 16, TME_KEY_FIELD_BYTES - 16));
    g_assert_false(tme_key_entry_init(&e, TME_KEY_MODE_KEYID,
                                      TME_KEY_ALG__MAX, k1, k2));
}

static void test_keytable(void)
{
    TMEKeyTable *kt = tme_keytable_new(10);
    uint8_t k1[16], k2[16];
    TMEKeyEntry e, got;
    char *fp0, *fp;

    /* SHA-256 of the mode byte and 32 zero bytes: unchanged since rev 1 */
    fp0 = tme_keytable_fingerprint(kt, 3);
    g_assert_cmpstr(fp0, ==, "7f9c9e31ac8256ca2f258583df262dbc"
                    "7d6f68f2a03043d5c99a4ae5a7396ce9");
    g_assert_null(tme_keytable_fingerprint(kt, 11));
    g_assert_false(tme_keytable_get(kt, 11, &got));
    g_assert_true(tme_keytable_get(kt, 3, &got));
    g_assert_cmpint(got.mode, ==, TME_KEY_MODE_TME);
    g_assert_cmpint(got.key_len, ==, 16);

    /* KEY_TABLE_LOCK is exclusive */
    g_assert_true(tme_keytable_acquire(kt));
    g_assert_false(tme_keytable_acquire(kt));
    memset(k1, 0x11, 16);
    memset(k2, 0x22, 16);
    tme_key_entry_init(&e, TME_KEY_MODE_KEYID, TME_KEY_ALG_AES_XTS_128,
                       k1, k2);
    tme_keytable_set(kt, 3, &e);
    tme_keytable_release(kt);
    g_assert_true(tme_keytable_acquire(kt));
    tme_keytable_release(kt);

    g_assert_true(tme_keytable_get(kt, 3, &got));
    g_assert_cmpmem(&got, sizeof(got), &e, sizeof(e));
    fp = tme_keytable_fingerprint(kt, 3);
    g_assert_cmpstr(fp, !=, fp0);
    g_free(fp);

    tme_keytable_reset(kt);
    fp = tme_keytable_fingerprint(kt, 3);
    g_assert_cmpstr(fp, ==, fp0);
    g_free(fp);
    g_free(fp0);
    tme_keytable_free(kt);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert(qcrypto_init(&error_abort) == 0);
    g_test_add_func("/tme/cipher/ieee1619-vector-1", test_ieee1619);
    g_test_add_func("/tme/cipher/ranges", test_ranges);
    g_test_add_func("/tme/cipher/tweak", test_tweak);
    g_test_add_func("/tme/cipher/algorithms", test_algorithms);
    g_test_add_func("/tme/keytable", test_keytable);
    return g_test_run();
}
