/*
 * Unit tests of the MKTME engine core: AES-XTS-128 and the key table
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/mem/tme-xts.h"
#include "hw/mem/tme-keytable.h"

static void hex(uint8_t *out, const char *s, size_t n)
{
    size_t i;

    g_assert_cmpuint(strlen(s), ==, 2 * n);
    for (i = 0; i < n; i++) {
        out[i] = g_ascii_xdigit_value(s[2 * i]) << 4 |
                 g_ascii_xdigit_value(s[2 * i + 1]);
    }
}

typedef struct Vector {
    const char *name, *key1, *key2;
    uint64_t seq;
    const char *pt, *ct;
} Vector;

/* IEEE P1619/D16, annex B: XTS-AES-128 vectors 1 to 3 */
static const Vector vectors[] = {
    { "1", "00000000000000000000000000000000",
      "00000000000000000000000000000000", 0,
      "0000000000000000000000000000000000000000000000000000000000000000",
      "917cf69ebd68b2ec9b9fe9a3eadda692cd43d2f59598ed858c02c2652fbf922e" },
    { "2", "11111111111111111111111111111111",
      "22222222222222222222222222222222", 0x3333333333ULL,
      "4444444444444444444444444444444444444444444444444444444444444444",
      "c454185e6a16936e39334038acef838bfb186fff7480adc4289382ecd6d394f0" },
    { "3", "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0",
      "22222222222222222222222222222222", 0x3333333333ULL,
      "4444444444444444444444444444444444444444444444444444444444444444",
      "af85336b597afc1a900b2eb21ec949d292df4c047e0b21532186a5971a227a89" },
};

static void test_ieee1619(const void *opaque)
{
    const Vector *v = opaque;
    uint8_t k1[16], k2[16], pt[32], ct[32], out[32];
    TMEXtsKey key;

    hex(k1, v->key1, 16);
    hex(k2, v->key2, 16);
    hex(pt, v->pt, 32);
    hex(ct, v->ct, 32);
    tme_xts_set_key(&key, k1, k2);
    tme_xts_encrypt(&key, v->seq, 0, 32, out, pt);
    g_assert_cmpmem(out, 32, ct, 32);
    tme_xts_decrypt(&key, v->seq, 0, 32, out, out);
    g_assert_cmpmem(out, 32, pt, 32);
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    size_t i;

    for (i = 0; i < n; i++) {
        seed = seed * 1103515245 + 12345;
        p[i] = seed >> 16;
    }
}

/* Any 16-byte aligned range equals that range of the whole page */
static void test_ranges(void)
{
    static uint8_t pt[4096], full[4096], part[4096];
    uint8_t k1[16], k2[16];
    TMEXtsKey key;
    size_t off, len;

    fill(k1, 16, 1);
    fill(k2, 16, 2);
    fill(pt, sizeof(pt), 3);
    tme_xts_set_key(&key, k1, k2);
    tme_xts_encrypt(&key, 0x12345000, 0, 4096, full, pt);
    for (off = 0; off < 4096; off += 16 * 37) {
        for (len = 16; off + len <= 4096; len += 16 * 53) {
            tme_xts_encrypt(&key, 0x12345000, off, len, part, pt + off);
            g_assert_cmpmem(part, len, full + off, len);
            tme_xts_decrypt(&key, 0x12345000, off, len, part, part);
            g_assert_cmpmem(part, len, pt + off, len);
        }
    }
}

/* The tweak is the page address: the same bytes differ on another page */
static void test_tweak(void)
{
    static uint8_t pt[4096], a[4096], b[4096];
    uint8_t k1[16], k2[16];
    TMEXtsKey key;

    fill(k1, 16, 4);
    fill(k2, 16, 5);
    tme_xts_set_key(&key, k1, k2);
    tme_xts_encrypt(&key, 0x1000, 0, 4096, a, pt);
    tme_xts_encrypt(&key, 0x2000, 0, 4096, b, pt);
    g_assert_true(memcmp(a, b, 16) != 0);
    g_assert_true(memcmp(a, a + 16, 16) != 0);  /* blocks differ too */
}

static void test_keytable(void)
{
    TMEKeyTable *kt = tme_keytable_new(10);
    TMEKeyEntry e = { .mode = TME_KEY_MODE_KEYID }, got;
    char *fp0, *fp;

    fp0 = tme_keytable_fingerprint(kt, 3);
    g_assert_cmpstr(fp0, ==, "7f9c9e31ac8256ca2f258583df262dbc"
                    "7d6f68f2a03043d5c99a4ae5a7396ce9");
    g_assert_null(tme_keytable_fingerprint(kt, 11));
    g_assert_false(tme_keytable_get(kt, 11, &got));

    /* KEY_TABLE_LOCK is exclusive */
    g_assert_true(tme_keytable_acquire(kt));
    g_assert_false(tme_keytable_acquire(kt));
    memset(e.data_key, 0x11, 16);
    memset(e.tweak_key, 0x22, 16);
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
    size_t i;

    g_test_init(&argc, &argv, NULL);
    for (i = 0; i < G_N_ELEMENTS(vectors); i++) {
        char *name = g_strdup_printf("/tme/xts/ieee1619/vector-%s",
                                     vectors[i].name);

        g_test_add_data_func(name, &vectors[i], test_ieee1619);
        g_free(name);
    }
    g_test_add_func("/tme/xts/ranges", test_ranges);
    g_test_add_func("/tme/xts/tweak", test_tweak);
    g_test_add_func("/tme/keytable", test_keytable);
    return g_test_run();
}
