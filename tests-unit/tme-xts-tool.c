/*
 * Encrypt or decrypt one page with the engine's AES-XTS-128, for tests
 * that compare it with OpenSSL
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 *   tme-xts-tool enc|dec DATAKEY TWEAKKEY PAGEADDR OFFSET LEN < in > out
 * (keys in hex, numbers in C notation)
 */

#include "qemu/osdep.h"
#include "hw/mem/tme-xts.h"

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
    static uint8_t buf[TME_XTS_PAGE_SIZE];
    uint8_t k1[16], k2[16];
    TMEXtsKey key;
    uint64_t addr;
    size_t off, len;

    if (argc != 7) {
        fprintf(stderr, "usage: %s enc|dec DATAKEY TWEAKKEY PAGEADDR "
                "OFFSET LEN\n", argv[0]);
        return 2;
    }
    hex(k1, argv[2]);
    hex(k2, argv[3]);
    addr = g_ascii_strtoull(argv[4], NULL, 0);
    off = g_ascii_strtoull(argv[5], NULL, 0);
    len = g_ascii_strtoull(argv[6], NULL, 0);
    if (off % 16 || len % 16 || off + len > sizeof(buf) ||
        fread(buf, 1, len, stdin) != len) {
        fprintf(stderr, "bad range or short input\n");
        return 2;
    }
    tme_xts_set_key(&key, k1, k2);
    if (!strcmp(argv[1], "enc")) {
        tme_xts_encrypt(&key, addr, off, len, buf, buf);
    } else {
        tme_xts_decrypt(&key, addr, off, len, buf, buf);
    }
    return fwrite(buf, 1, len, stdout) == len ? 0 : 1;
}
