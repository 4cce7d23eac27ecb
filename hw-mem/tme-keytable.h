/*
 * MKTME key table
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * One table per machine: the key, algorithm and encryption mode of every
 * KeyID (spec 6.1), and KEY_TABLE_LOCK, the writer lock of PCONFIG
 * (6.2.4).  Depends on GLib and QEMU's crypto layer (for the algorithm
 * names) only.
 */

#ifndef HW_MEM_TME_KEYTABLE_H
#define HW_MEM_TME_KEYTABLE_H

#include "crypto/cipher.h"

/* KeyIDs fit in 15 bits: MK_TME_MAX_KEYS is at most 32767 */
#define TME_KEYID_LIMIT         32767
/* Room for the 256-bit keys of later revisions; AES-XTS-128 uses 16 */
#define TME_KEY_FIELD_BYTES     32

/*
 * The encryption algorithms, numbered as the bits of
 * IA32_TME_ACTIVATE.MK_TME_CRYPTO_ALGS and of KEYID_CTRL.ENC_ALG number
 * them (spec 4.2.2, 6.2.1.1): tme_key_alg_info() is the one place that
 * says what each one is.  Another algorithm is another row there and
 * the CPU side enumerating it; the engine takes the rest from the row.
 */
typedef enum TMEKeyAlg {
    TME_KEY_ALG_AES_XTS_128 = 0,
    TME_KEY_ALG__MAX,
} TMEKeyAlg;

typedef struct TMEKeyAlgInfo {
    const char *name;               /* as the monitor shows it */
    QCryptoCipherAlgo cipher;       /* in XTS mode, data unit = page */
    uint8_t key_bytes;              /* of the data key, and of the tweak key */
} TMEKeyAlgInfo;

/* NULL if @alg is no algorithm of the table */
const TMEKeyAlgInfo *tme_key_alg_info(unsigned alg);
/* Whether QEMU's crypto layer has the cipher of @alg in XTS mode */
bool tme_key_alg_supported(unsigned alg);

typedef enum TMEKeyMode {
    TME_KEY_MODE_TME = 0,           /* ENCRYPT_WITH_TME_KEY (the default) */
    TME_KEY_MODE_KEYID = 1,         /* ENCRYPT_WITH_KEYID_KEY */
    TME_KEY_MODE_NO_ENCRYPT = 2,    /* NO_ENCRYPTION */
} TMEKeyMode;

/* Bytes only, so that it migrates as it is */
typedef struct TMEKeyEntry {
    uint8_t mode;                   /* TMEKeyMode */
    uint8_t alg;                    /* TMEKeyAlg: bit number in ENC_ALG */
    uint8_t key_len;                /* bytes of each key field in use */
    uint8_t data_key[TME_KEY_FIELD_BYTES];
    uint8_t tweak_key[TME_KEY_FIELD_BYTES];
} TMEKeyEntry;

/*
 * @e := an entry of @mode with the keys of algorithm @alg: the first
 * key_bytes of @data_key and of @tweak_key, the rest of the key fields
 * zero; NULL keys are all zero.  False if @alg is unknown.
 */
bool tme_key_entry_init(TMEKeyEntry *e, TMEKeyMode mode, unsigned alg,
                        const uint8_t *data_key, const uint8_t *tweak_key);

typedef struct TMEKeyTable {
    uint32_t nr_entries;            /* highest KeyID + 1 */
    TMEKeyEntry *entries;
    int lock_held;                  /* KEY_TABLE_LOCK */
    GMutex mutex;                   /* entry contents, for readers */
} TMEKeyTable;

TMEKeyTable *tme_keytable_new(uint32_t max_keyid);
void tme_keytable_free(TMEKeyTable *kt);
void tme_keytable_reset(TMEKeyTable *kt);

/* KEY_TABLE_LOCK.ACQUIRE(WRITE): false when another writer holds it */
bool tme_keytable_acquire(TMEKeyTable *kt);
void tme_keytable_release(TMEKeyTable *kt);

/* Write one entry; the caller holds KEY_TABLE_LOCK */
void tme_keytable_set(TMEKeyTable *kt, uint16_t keyid, const TMEKeyEntry *e);
/* Read one entry consistently; false if @keyid is out of the table */
bool tme_keytable_get(TMEKeyTable *kt, uint16_t keyid, TMEKeyEntry *e);

/*
 * A debugging view that never shows key bytes: SHA-256, in hex, of the
 * mode byte, the data key and the tweak key, each of the key length of
 * the entry (16 bytes each for AES-XTS-128).
 */
char *tme_keytable_fingerprint(TMEKeyTable *kt, uint16_t keyid);

#endif
