/*
 * Benchmark of the MKTME engine core alone (no QEMU machine, QEMU's
 * crypto layer): conversions of pages between KeyIDs, the AES-XTS-128
 * work under them, and the engine's metadata per guest page
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 *   tme-bench-engine convert FROM TO PAGES SECONDS
 *       alternate PAGES pages between KeyIDs FROM and TO (0 is the TME
 *       key, others get direct keys) with tme_engine_convert()
 *   tme-bench-engine xts SECONDS
 *       the AES-XTS work of a conversion with both ciphers set up once:
 *       qcrypto_cipher_encrypt_unit() with one key, then
 *       qcrypto_cipher_decrypt_unit() with the other, of a 4 KiB page
 *   tme-bench-engine setkey SECONDS
 *       qcrypto_cipher_new() (and _free()) of an AES-XTS-128 cipher,
 *       which the engine runs for each key it has not cached
 *   tme-bench-engine metadata GIB
 *       heap bytes that an engine and a region of GIB GiB allocate
 *
 * Each prints one JSON object.  Rates are per second of the thread's CPU
 * time, the divisor that "openssl speed" uses; wall time is printed too.
 */

#include "qemu/osdep.h"
#include <inttypes.h>
#include <malloc.h>
#include <time.h>
#include "qemu/bswap.h"
#include "qapi/error.h"
#include "crypto/init.h"
#include "hw/mem/tme-engine.h"

#define PAGE            TME_PAGE_SIZE
#define KEY_BYTES       16              /* AES-XTS-128: each key half */
#define BASE_GPA        0x100000000ULL
#define MAX_KEYID       63

static double clock_s(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    size_t i;

    for (i = 0; i < n; i++) {
        seed = seed * 1103515245 + 12345;
        p[i] = seed >> 16;
    }
}

static void set_direct_key(TMEKeyTable *kt, uint16_t keyid)
{
    uint8_t data[KEY_BYTES], tweak[KEY_BYTES];
    TMEKeyEntry ent;

    fill(data, KEY_BYTES, 1000 + keyid);
    fill(tweak, KEY_BYTES, 2000 + keyid);
    tme_key_entry_init(&ent, TME_KEY_MODE_KEYID, TME_KEY_ALG_AES_XTS_128,
                       data, tweak);
    tme_keytable_set(kt, keyid, &ent);
}

static int bench_convert(uint16_t from, uint16_t to, uint64_t pages,
                         double seconds)
{
    TMEKeyTable *kt = tme_keytable_new(MAX_KEYID);
    TMEEngine *e = tme_engine_new(kt);
    uint8_t tme_data[KEY_BYTES], tme_tweak[KEY_BYTES];
    TMEKeyEntry tme_key;
    uint8_t *ram, *orig;
    TMERegion r;
    uint64_t n = 0, i, j, size = pages * PAGE;
    uint64_t rounds = 2 * MAX(1, 128 / pages);
    double c0, w0, c1, w1;
    uint16_t owner = from;
    bool ok;

    if (from > MAX_KEYID || to > MAX_KEYID || from == to || !pages) {
        fprintf(stderr, "convert: bad arguments\n");
        return 2;
    }
    fill(tme_data, sizeof(tme_data), 1);
    fill(tme_tweak, sizeof(tme_tweak), 2);
    tme_key_entry_init(&tme_key, TME_KEY_MODE_KEYID, TME_KEY_ALG_AES_XTS_128,
                       tme_data, tme_tweak);
    tme_engine_set_tme_key(e, &tme_key);
    if (from) {
        set_direct_key(kt, from);
    }
    if (to) {
        set_direct_key(kt, to);
    }
    ram = g_malloc(size);
    orig = g_malloc(PAGE);
    fill(ram, size, 3);
    memcpy(orig, ram, PAGE);
    tme_region_init(&r, BASE_GPA, size, ram, from);
    tme_engine_add_region(e, &r);

    /* One warm-up round trip, then whole rounds until the time is up */
    for (i = 0; i < pages; i++) {
        tme_engine_convert(e, &r, BASE_GPA + i * PAGE, to);
        tme_engine_convert(e, &r, BASE_GPA + i * PAGE, from);
    }
    c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    w0 = clock_s(CLOCK_MONOTONIC);
    do {
        /* Whole round trips, enough that reading the clock costs nothing */
        for (j = 0; j < rounds; j++) {
            owner = owner == from ? to : from;
            for (i = 0; i < pages; i++) {
                tme_engine_convert(e, &r, BASE_GPA + i * PAGE, owner);
            }
        }
        n += rounds * pages;
        c1 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    } while (c1 - c0 < seconds);
    w1 = clock_s(CLOCK_MONOTONIC);

    /* Back with the first owner: the first page holds what it held */
    ok = owner == from && !memcmp(ram, orig, PAGE) &&
         tme_engine_pages_owned(e, from) == pages;
    printf("{\"bench\": \"convert\", \"from\": %u, \"to\": %u, "
           "\"pages\": %" PRIu64 ", \"conversions\": %" PRIu64 ", "
           "\"cpu_s\": %.6f, \"wall_s\": %.6f, \"per_s\": %.1f, "
           "\"per_s_wall\": %.1f, \"ok\": %s}\n",
           from, to, pages, n, c1 - c0, w1 - w0, n / (c1 - c0),
           n / (w1 - w0), ok ? "true" : "false");
    tme_engine_remove_region(e, &r);
    tme_region_destroy(&r);
    tme_engine_free(e);
    tme_keytable_free(kt);
    g_free(ram);
    g_free(orig);
    return ok ? 0 : 1;
}

static QCryptoCipher *new_xts(uint32_t seed)
{
    uint8_t key[2 * KEY_BYTES];

    fill(key, sizeof(key), seed);
    return qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_128,
                              QCRYPTO_CIPHER_MODE_XTS, key, sizeof(key),
                              &error_abort);
}

/*
 * What a conversion costs in AES-XTS alone, with both ciphers set up
 * once: D_k2(E_k1(page)) through the crypto layer, as the engine calls it
 */
static int bench_xts(double seconds)
{
    uint8_t *page = g_malloc(PAGE);
    QCryptoCipher *k1 = new_xts(4), *k2 = new_xts(6);
    uint8_t iv[16] = { 0 };
    uint64_t n = 0;
    double c0, w0, c1, w1;
    int i;

    fill(page, PAGE, 8);
    stq_le_p(iv, BASE_GPA);
    c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    w0 = clock_s(CLOCK_MONOTONIC);
    do {
        for (i = 0; i < 256; i++) {
            qcrypto_cipher_encrypt_unit(k1, iv, sizeof(iv), 0, page, page,
                                        PAGE, &error_abort);
            qcrypto_cipher_decrypt_unit(k2, iv, sizeof(iv), 0, page, page,
                                        PAGE, &error_abort);
        }
        n += 256;
        c1 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    } while (c1 - c0 < seconds);
    w1 = clock_s(CLOCK_MONOTONIC);
    printf("{\"bench\": \"xts\", \"pairs\": %" PRIu64 ", \"cpu_s\": %.6f, "
           "\"wall_s\": %.6f, \"per_s\": %.1f, \"bytes_per_s\": %.1f}\n",
           n, c1 - c0, w1 - w0, n / (c1 - c0),
           2 * n * (double)PAGE / (c1 - c0));
    qcrypto_cipher_free(k1);
    qcrypto_cipher_free(k2);
    g_free(page);
    return 0;
}

/* A cipher for a key: what the engine does for a key it has not cached */
static int bench_setkey(double seconds)
{
    uint8_t key[2 * KEY_BYTES];
    uint64_t n = 0;
    double c0, c1;
    int i;

    fill(key, sizeof(key), 9);
    c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    do {
        for (i = 0; i < 4096; i++) {
            QCryptoCipher *c;

            key[0] = i;
            c = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_128,
                                   QCRYPTO_CIPHER_MODE_XTS, key, sizeof(key),
                                   &error_abort);
            qcrypto_cipher_free(c);
        }
        n += 4096;
        c1 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    } while (c1 - c0 < seconds);
    printf("{\"bench\": \"setkey\", \"keys\": %" PRIu64 ", "
           "\"cpu_s\": %.6f, \"per_s\": %.1f}\n", n, c1 - c0,
           n / (c1 - c0));
    return 0;
}

/* Heap bytes in use: small blocks and mmap()ed ones */
static size_t heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

static int bench_metadata(uint64_t gib)
{
    uint64_t size = gib << 30, pages = size / PAGE;
    size_t h0, h1, h2;
    TMEKeyTable *kt;
    TMEEngine *e;
    TMERegion r;

    h0 = heap_bytes();
    kt = tme_keytable_new(MAX_KEYID);
    e = tme_engine_new(kt);
    h1 = heap_bytes();
    /* The host bytes are not the engine's: any address will do */
    tme_region_init(&r, BASE_GPA, size, (uint8_t *)(uintptr_t)PAGE, 0);
    tme_engine_add_region(e, &r);
    h2 = heap_bytes();
    printf("{\"bench\": \"metadata\", \"guest_bytes\": %" PRIu64 ", "
           "\"pages\": %" PRIu64 ", \"fixed_bytes\": %zu, "
           "\"region_bytes\": %zu, \"bytes_per_page\": %.4f, "
           "\"sizeof_owner\": %zu}\n",
           size, pages, h1 - h0, h2 - h1, (double)(h2 - h1) / pages,
           sizeof(r.owner[0]));
    tme_engine_remove_region(e, &r);
    tme_region_destroy(&r);
    tme_engine_free(e);
    tme_keytable_free(kt);
    return 0;
}

int main(int argc, char **argv)
{
    qcrypto_init(&error_fatal);
    if (argc == 6 && !strcmp(argv[1], "convert")) {
        return bench_convert(atoi(argv[2]), atoi(argv[3]),
                             g_ascii_strtoull(argv[4], NULL, 0),
                             g_ascii_strtod(argv[5], NULL));
    }
    if (argc == 3 && !strcmp(argv[1], "xts")) {
        return bench_xts(g_ascii_strtod(argv[2], NULL));
    }
    if (argc == 3 && !strcmp(argv[1], "setkey")) {
        return bench_setkey(g_ascii_strtod(argv[2], NULL));
    }
    if (argc == 3 && !strcmp(argv[1], "metadata")) {
        return bench_metadata(g_ascii_strtoull(argv[2], NULL, 0));
    }
    fprintf(stderr, "usage: %s convert FROM TO PAGES SECONDS | xts SECONDS"
            " | setkey SECONDS | metadata GIB\n", argv[0]);
    return 2;
}
