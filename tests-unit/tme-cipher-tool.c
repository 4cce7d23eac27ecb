/*
 * Encrypt or decrypt part of a page with the engine's cipher, for tests
 * that compare it with OpenSSL
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 *   tme-cipher-tool enc|dec DATAKEY TWEAKKEY PAGEADDR OFFSET LEN < in > out
 * (keys in hex, numbers in C notation)
 *
 * enc: the page at PAGEADDR, owned by KeyID 1 (DATAKEY, TWEAKKEY), holds
 * the input at OFFSET; the output is what DRAM holds there.  dec: DRAM
 * holds the input there; the output is what KeyID 1 reads.  Both go
 * through the engine's views, which start where OFFSET says.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "crypto/init.h"
#include "hw/mem/tme-engine.h"

static void hex(uint8_t *out, const char *s)
{
    int i;

    if (strlen(s) != 32) {
        fprintf(stderr, "keys are 32 hex digits\n");
        exit(2);
    }
    for (i = 0; i < 16; i++) {
        out[i] = g_ascii_xdigit_value(s[2 * i]) << 4 |
                 g_ascii_xdigit_value(s[2 * i + 1]);
    }
}

int main(int argc, char **argv)
{
    static uint8_t page[TME_PAGE_SIZE], out[TME_PAGE_SIZE];
    uint8_t k1[16], k2[16], tme[16] = { 0 };
    TMEKeyTable *kt;
    TMEKeyEntry ent;
    TMEEngine *e;
    TMERegion r;
    uint64_t addr;
    size_t off, len;
    bool enc;

    if (argc != 7) {
        fprintf(stderr, "usage: %s enc|dec DATAKEY TWEAKKEY PAGEADDR "
                "OFFSET LEN\n", argv[0]);
        return 2;
    }
    enc = !strcmp(argv[1], "enc");
    hex(k1, argv[2]);
    hex(k2, argv[3]);
    addr = g_ascii_strtoull(argv[4], NULL, 0);
    off = g_ascii_strtoull(argv[5], NULL, 0);
    len = g_ascii_strtoull(argv[6], NULL, 0);
    if (addr % TME_PAGE_SIZE || off % 16 || len % 16 ||
        off + len > sizeof(page) ||
        fread(page + off, 1, len, stdin) != len) {
        fprintf(stderr, "bad address or range, or short input\n");
        return 2;
    }

    qcrypto_init(&error_fatal);
    kt = tme_keytable_new(1);
    e = tme_engine_new(kt);
    tme_key_entry_init(&ent, TME_KEY_MODE_KEYID, TME_KEY_ALG_AES_XTS_128,
                       tme, tme);
    tme_engine_set_tme_key(e, &ent);
    tme_key_entry_init(&ent, TME_KEY_MODE_KEYID, TME_KEY_ALG_AES_XTS_128,
                       k1, k2);
    tme_keytable_set(kt, 1, &ent);
    tme_region_init(&r, addr, sizeof(page), page, enc ? 1 : TME_OWNER_DRAM);
    tme_engine_add_region(e, &r);
    tme_engine_read(e, &r, addr + off, len, enc ? TME_OWNER_DRAM : 1, out);
    tme_engine_remove_region(e, &r);
    tme_region_destroy(&r);
    tme_engine_free(e);
    tme_keytable_free(kt);
    return fwrite(out, 1, len, stdout) == len ? 0 : 1;
}
