/*
 * Unit tests of the MKTME engine: owners, conversions, views, key
 * changes, the exclusion range (DESIGN.md section 4.2)
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qapi/error.h"
#include "crypto/init.h"
#include "hw/mem/tme-engine.h"

#define PAGE    4096
#define NPAGES  8
#define BASE    0x100000ULL     /* guest physical address of the region */

typedef struct Fixture {
    TMEKeyTable *kt;
    TMEEngine *e;
    TMERegion r;
    uint8_t *ram;
    uint8_t tme_data[16], tme_tweak[16];
} Fixture;

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    size_t i;

    for (i = 0; i < n; i++) {
        seed = seed * 1103515245 + 12345;
        p[i] = seed >> 16;
    }
}

static void set_direct(Fixture *f, uint16_t keyid, uint32_t seed)
{
    uint8_t data[16], tweak[16];
    TMEKeyEntry ent;

    fill(data, 16, seed);
    fill(tweak, 16, seed + 1);
    tme_key_entry_init(&ent, TME_KEY_MODE_KEYID, TME_KEY_ALG_AES_XTS_128,
                       data, tweak);
    tme_keytable_set(f->kt, keyid, &ent);
}

static void set_mode(Fixture *f, uint16_t keyid, TMEKeyMode mode)
{
    TMEKeyEntry ent;

    tme_keytable_get(f->kt, keyid, &ent);
    ent.mode = mode;
    tme_keytable_set(f->kt, keyid, &ent);
}

/*
 * E_k or D_k of a whole page computed with the crypto layer directly, as
 * the cipher is defined: AES-XTS-128, key = data key || tweak key, tweak
 * = the page's address as a 16-byte little-endian integer
 */
static void xts(Fixture *f, uint16_t keyid, bool enc, uint64_t gpa,
                uint8_t *buf)
{
    g_autoptr(QCryptoCipher) c = NULL;
    uint8_t key[32], iv[16] = { 0 };
    TMEKeyEntry ent;

    if (keyid == 0) {
        memcpy(key, f->tme_data, 16);
        memcpy(key + 16, f->tme_tweak, 16);
    } else {
        tme_keytable_get(f->kt, keyid, &ent);
        g_assert_cmpint(ent.mode, ==, TME_KEY_MODE_KEYID);
        g_assert_cmpint(ent.key_len, ==, 16);
        memcpy(key, ent.data_key, 16);
        memcpy(key + 16, ent.tweak_key, 16);
    }
    c = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_128,
                           QCRYPTO_CIPHER_MODE_XTS, key, sizeof(key),
                           &error_abort);
    stq_le_p(iv, gpa);
    g_assert(qcrypto_cipher_setiv(c, iv, sizeof(iv), &error_abort) == 0);
    if (enc) {
        g_assert(qcrypto_cipher_encrypt(c, buf, buf, PAGE,
                                        &error_abort) == 0);
    } else {
        g_assert(qcrypto_cipher_decrypt(c, buf, buf, PAGE,
                                        &error_abort) == 0);
    }
}

static void setup(Fixture *f, gconstpointer data)
{
    TMEKeyEntry tme_key;

    f->kt = tme_keytable_new(15);
    f->e = tme_engine_new(f->kt);
    fill(f->tme_data, 16, 100);
    fill(f->tme_tweak, 16, 200);
    tme_key_entry_init(&tme_key, TME_KEY_MODE_KEYID, TME_KEY_ALG_AES_XTS_128,
                       f->tme_data, f->tme_tweak);
    tme_engine_set_tme_key(f->e, &tme_key);
    f->ram = g_malloc0(NPAGES * PAGE);
    tme_region_init(&f->r, BASE, NPAGES * PAGE, f->ram, 0);
    tme_engine_add_region(f->e, &f->r);
    set_direct(f, 1, 1);
    set_direct(f, 2, 2);
    set_mode(f, 3, TME_KEY_MODE_NO_ENCRYPT);
}

static void teardown(Fixture *f, gconstpointer data)
{
    tme_engine_remove_region(f->e, &f->r);
    g_assert_cmpuint(tme_engine_pages_owned(f->e, 0), ==, 0);
    tme_region_destroy(&f->r);
    tme_engine_free(f->e);
    tme_keytable_free(f->kt);
    g_free(f->ram);
}

/* NO_ENCRYPT shows the DRAM bytes: E_k(P) of a page written through k */
static void test_no_encrypt_view(Fixture *f, gconstpointer data)
{
    uint64_t gpa = BASE + 2 * PAGE;
    uint8_t p[PAGE], want[PAGE], got[PAGE];

    fill(p, PAGE, 7);
    tme_engine_convert(f->e, &f->r, gpa, 1);
    memcpy(f->ram + 2 * PAGE, p, PAGE);          /* the guest writes P */
    memcpy(want, p, PAGE);
    xts(f, 1, true, gpa, want);
    tme_engine_read(f->e, &f->r, gpa, PAGE, 3, got);
    g_assert_cmpmem(got, PAGE, want, PAGE);
    tme_engine_read(f->e, &f->r, gpa, PAGE, TME_OWNER_DRAM, got);
    g_assert_cmpmem(got, PAGE, want, PAGE);
    g_assert_cmpuint(tme_region_owner(&f->r, gpa), ==, 1);
}

/* Through another key: D_j(E_k(P)); converting back gives P again */
static void test_convert(Fixture *f, gconstpointer data)
{
    uint64_t gpa = BASE + PAGE;
    uint8_t p[PAGE], want[PAGE];
    uint64_t n0 = tme_engine_conversions(f->e);

    fill(p, PAGE, 9);
    tme_engine_convert(f->e, &f->r, gpa, 1);
    memcpy(f->ram + PAGE, p, PAGE);
    tme_engine_convert(f->e, &f->r, gpa, 2);
    memcpy(want, p, PAGE);
    xts(f, 1, true, gpa, want);
    xts(f, 2, false, gpa, want);
    g_assert_cmpmem(f->ram + PAGE, PAGE, want, PAGE);
    g_assert_cmpuint(tme_engine_pages_owned(f->e, 2), ==, 1);
    g_assert_cmpuint(tme_engine_pages_owned(f->e, 0), ==, NPAGES - 1);
    tme_engine_convert(f->e, &f->r, gpa, 1);
    g_assert_cmpmem(f->ram + PAGE, PAGE, p, PAGE);
    g_assert_cmpuint(tme_engine_conversions(f->e) - n0, ==, 3);
}

/* KeyIDs that PCONFIG never programmed use the TME key: no change */
static void test_tme_mode_alias(Fixture *f, gconstpointer data)
{
    uint8_t p[PAGE];

    fill(p, PAGE, 11);
    memcpy(f->ram, p, PAGE);
    tme_engine_convert(f->e, &f->r, BASE, 7);
    g_assert_cmpmem(f->ram, PAGE, p, PAGE);
}

/* Views never change the owner and match the page as converted */
static void test_views(Fixture *f, gconstpointer data)
{
    uint64_t gpa = BASE + 3 * PAGE;
    uint8_t p[PAGE], conv[PAGE], got[100], tmp[PAGE];

    fill(p, PAGE, 13);
    memcpy(f->ram + 3 * PAGE, p, PAGE);          /* owner 0 */
    memcpy(conv, p, PAGE);
    xts(f, 0, true, gpa, conv);
    xts(f, 2, false, gpa, conv);
    tme_engine_read(f->e, &f->r, gpa + 1001, sizeof(got), 2, got);
    g_assert_cmpmem(got, sizeof(got), conv + 1001, sizeof(got));
    g_assert_cmpuint(tme_region_owner(&f->r, gpa), ==, 0);

    /* An unaligned write through KeyID 2, then the page converts to 2 */
    memset(got, 0x5a, sizeof(got));
    tme_engine_write(f->e, &f->r, gpa + 77, sizeof(got), 2, got);
    memcpy(conv + 77, got, sizeof(got));
    g_assert_cmpuint(tme_region_owner(&f->r, gpa), ==, 0);
    tme_engine_convert(f->e, &f->r, gpa, 2);
    g_assert_cmpmem(f->ram + 3 * PAGE, PAGE, conv, PAGE);

    /* A view across two pages */
    tme_engine_read(f->e, &f->r, gpa + PAGE - 8, 16, 2, tmp);
    g_assert_cmpmem(tmp, 8, conv + PAGE - 8, 8);
}

/* A key change: the KeyID's pages read D_new(E_old(P)) */
static void test_rekey(Fixture *f, gconstpointer data)
{
    uint64_t gpa = BASE + 4 * PAGE;
    uint8_t p[PAGE], want[PAGE];
    TMEKeyEntry old;

    fill(p, PAGE, 17);
    tme_engine_convert(f->e, &f->r, gpa, 1);
    memcpy(f->ram + 4 * PAGE, p, PAGE);
    memcpy(want, p, PAGE);
    xts(f, 1, true, gpa, want);
    tme_keytable_get(f->kt, 1, &old);
    set_direct(f, 1, 99);
    tme_engine_rekey(f->e, &f->r, 1, &old);
    xts(f, 1, false, gpa, want);
    g_assert_cmpmem(f->ram + 4 * PAGE, PAGE, want, PAGE);
}

/* The exclusion range: KeyID 0 is not encrypted inside, others are */
static void test_exclusion(Fixture *f, gconstpointer data)
{
    uint64_t gpa = BASE + 5 * PAGE;
    uint8_t p[PAGE], got[PAGE], want[PAGE];

    tme_engine_set_exclusion(f->e, gpa,
                             (~0xfffULL & ((1ULL << 46) - 1)) | (1 << 11));
    fill(p, PAGE, 19);
    memcpy(f->ram + 5 * PAGE, p, PAGE);
    tme_engine_read(f->e, &f->r, gpa, PAGE, TME_OWNER_DRAM, got);
    g_assert_cmpmem(got, PAGE, p, PAGE);
    memcpy(f->ram + 6 * PAGE, p, PAGE);          /* outside the range */
    tme_engine_read(f->e, &f->r, gpa + PAGE, PAGE, TME_OWNER_DRAM, got);
    memcpy(want, p, PAGE);
    xts(f, 0, true, gpa + PAGE, want);
    g_assert_cmpmem(got, PAGE, want, PAGE);
    /* KeyID 1 is encrypted inside the range too */
    tme_engine_convert(f->e, &f->r, gpa, 1);
    memcpy(want, p, PAGE);
    xts(f, 1, false, gpa, want);
    g_assert_cmpmem(f->ram + 5 * PAGE, PAGE, want, PAGE);
}

/* DRAM pages: ciphertext at rest, decrypted by the first owner */
static void test_dram(Fixture *f, gconstpointer data)
{
    uint64_t gpa = BASE + 7 * PAGE;
    uint8_t p[PAGE], ct[PAGE];

    fill(p, PAGE, 23);
    memcpy(f->ram + 7 * PAGE, p, PAGE);
    tme_engine_convert(f->e, &f->r, gpa, TME_OWNER_DRAM);
    memcpy(ct, p, PAGE);
    xts(f, 0, true, gpa, ct);
    g_assert_cmpmem(f->ram + 7 * PAGE, PAGE, ct, PAGE);
    g_assert_cmpuint(tme_engine_pages_owned(f->e, TME_OWNER_DRAM), ==, 1);
    tme_engine_convert(f->e, &f->r, gpa, 0);
    g_assert_cmpmem(f->ram + 7 * PAGE, PAGE, p, PAGE);
    g_assert_cmpuint(tme_engine_pages_owned(f->e, TME_OWNER_DRAM), ==, 0);
}

/*
 * Equal data and tweak keys: the specification allows them (OpenSSL
 * refuses them, so the comparisons with it use distinct halves), and
 * QEMU's crypto backends take them outside FIPS mode
 */
static void test_equal_halves(Fixture *f, gconstpointer data)
{
    uint64_t gpa = BASE + 2 * PAGE;
    uint8_t key[16], p[PAGE], want[PAGE], got[48];
    TMEKeyEntry ent;

    fill(key, 16, 29);
    tme_key_entry_init(&ent, TME_KEY_MODE_KEYID, TME_KEY_ALG_AES_XTS_128,
                       key, key);
    tme_keytable_set(f->kt, 4, &ent);
    fill(p, PAGE, 31);
    tme_engine_convert(f->e, &f->r, gpa, 4);
    memcpy(f->ram + 2 * PAGE, p, PAGE);
    memcpy(want, p, PAGE);
    xts(f, 4, true, gpa, want);
    tme_engine_read(f->e, &f->r, gpa + 4000, sizeof(got), TME_OWNER_DRAM,
                    got);
    g_assert_cmpmem(got, sizeof(got), want + 4000, sizeof(got));
    tme_engine_convert(f->e, &f->r, gpa, TME_OWNER_DRAM);
    g_assert_cmpmem(f->ram + 2 * PAGE, PAGE, want, PAGE);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_assert(qcrypto_init(&error_abort) == 0);
#define ADD(name, fn) \
    g_test_add("/tme/engine/" name, Fixture, NULL, setup, fn, teardown)
    ADD("no-encrypt-view", test_no_encrypt_view);
    ADD("convert", test_convert);
    ADD("tme-mode-alias", test_tme_mode_alias);
    ADD("views", test_views);
    ADD("rekey", test_rekey);
    ADD("exclusion", test_exclusion);
    ADD("dram", test_dram);
    ADD("equal-halves", test_equal_halves);
    return g_test_run();
}
