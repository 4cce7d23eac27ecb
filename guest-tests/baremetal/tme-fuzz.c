/*
 * Bare-metal fuzzer of TME/MKTME with a model of the specification
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Every CPU draws operations from its own PRNG stream (derived from
 * seed=N on the command line and the CPU number) and checks each
 * outcome against a model written from the specification:
 *   - PCONFIG with valid and mutated structures (every field,
 *     misalignment, unmapped and non-canonical addresses, other leaves,
 *     prefixes; on the BSP also CPL 3, compatibility mode with DS
 *     limits and a null DS, and through legacy.S 32-bit protected,
 *     real-address and virtual-8086 mode; structures written through
 *     one KeyID and read through another): exception, RAX and flags;
 *   - RDMSR/WRMSR of 0x981-0x984, 0x9FF and 0x87 with random and
 *     mutated values, before activation (self: the BSP activates TME
 *     itself after fuzzing the unlocked MSRs), after it and after the
 *     lock: exception and value exactly;
 *   - 1, 2, 4, 8 and 16-byte loads and stores, page-crossing ones too,
 *     through random KeyIDs over a pool of pages (and across the
 *     boundary of two mappings of one page through two KeyIDs), code
 *     fetched through a KeyID, the page directory and (KeyID in CR3)
 *     the PML4 that all CPUs use walked through a KeyID, fw_cfg DMA
 *     into the pool, with key changes in between.
 * The memory model keeps what DRAM holds (DESIGN 4.2: conversions and
 * key changes never change the ciphertext) for every 16-byte XTS block,
 * with an AES-XTS-128 of its own, checked at start against FIPS-197 and
 * IEEE 1619: a load through KeyID k reads D_k(C) exactly.  Blocks whose
 * ciphertext is unknown (written under a random key) keep the
 * plaintext the writer's cipher sees; other ciphers must never show it.
 * The TME key comes from key0=<64 hex digits> (the secret that x86-tme's
 * x-platform-key names holds the same 32 bytes).
 *
 * Each CPU owns a 64 KiB pool, every cpus-th 16-byte block of 4 shared
 * pages (the CPUs convert those pages back and forth, and each model
 * stays exact: XTS blocks are independent) and the KeyIDs k with
 * k % cpus == cpu: it programs only those; it stores through them and
 * KeyID 0 (exact) and loads through any (others' KeyIDs: not checked,
 * their keys may change meanwhile).
 *
 * Command line: seed=N ops=N (per CPU) self|firmware cpus=N key0=HEX
 * max-keyid-bits=N max-keys=N keyid-bits=N (activated) phys-bits=N
 */

#include "lib.h"

#define IA32_TME_CAPABILITY     0x981
#define IA32_TME_ACTIVATE       0x982
#define IA32_TME_EXCLUDE_MASK   0x983
#define IA32_TME_EXCLUDE_BASE   0x984
#define MK_TME_CORE_ACTIVATE    0x9ff
#define IA32_MKTME_KEYID_PARTITIONING 0x87

#define ACT_LOCK        (1ULL << 0)
#define ACT_ENABLE      (1ULL << 1)
#define ACT_KEY_SELECT  (1ULL << 2)
#define ACT_SAVE_KEY    (1ULL << 3)
#define ACT_ALG_XTS     (1ULL << 48)
#define EXCL_ENABLE     (1ULL << 11)

#define CMD_DIRECT      0
#define CMD_RANDOM      1
#define CMD_CLEAR       2
#define CMD_NO_ENCRYPT  3
#define DEVICE_BUSY     5

#define F_STATUS        0x8d5ULL    /* CF PF AF ZF SF OF */
#define F_ZF            0x40ULL

#define GIB             (1ULL << 30)
#define MIB             (1ULL << 20)
#define POOL_PA         (64 * MIB)  /* CPU c: POOL_PA + c * 2 MiB */
#define POOL_PAGES      16
#define POOL_BYTES      (POOL_PAGES * 4096)
#define POOL_BLOCKS     (POOL_BYTES / 16)
/*
 * Shared pages: block i (16 bytes, one XTS block) belongs to CPU
 * i % cpus, so the CPUs convert one page back and forth while each
 * model stays exact.  Model offsets from POOL_BYTES on are these blocks.
 */
#define SHARED_PA       (96 * MIB)
#define SHARED_PAGES    4
#define SHARED_BLOCKS   (SHARED_PAGES * 256)
#define SHARED_WIN      64          /* PD entry 64 + k: shared, KeyID k */
#define WIN_GIB         16          /* CPU c: [16 + c GiB), 2 MiB a KeyID */
#define UNMAPPED        (100 * GIB)
#define MAX_KEYIDS      64

/* ---- AES-128 and XTS (FIPS-197, IEEE 1619) ---- */

static uint8_t sbox[256], isbox[256];

static uint8_t rotl8(uint8_t x, int s)
{
    return (uint8_t)(x << s | x >> (8 - s));
}

static uint8_t xtime(uint8_t x)
{
    return (uint8_t)(x << 1 ^ (x & 0x80 ? 0x1b : 0));
}

static uint8_t gmul(uint8_t a, uint8_t b)
{
    uint8_t r = 0;

    while (b) {
        if (b & 1) {
            r ^= a;
        }
        a = xtime(a);
        b >>= 1;
    }
    return r;
}

static void aes_init(void)
{
    uint8_t p = 1, q = 1;
    int i;

    do {
        p ^= xtime(p);                  /* p * 3 */
        q ^= q << 1;                    /* q / 3 */
        q ^= q << 2;
        q ^= q << 4;
        if (q & 0x80) {
            q ^= 0x09;
        }
        sbox[p] = q ^ rotl8(q, 1) ^ rotl8(q, 2) ^ rotl8(q, 3) ^
                  rotl8(q, 4) ^ 0x63;
    } while (p != 1);
    sbox[0] = 0x63;
    for (i = 0; i < 256; i++) {
        isbox[sbox[i]] = i;
    }
}

struct aeskey {
    uint8_t raw[32];            /* data key, tweak key */
    uint8_t rk1[176], rk2[176];
};

static void aes_expand(const uint8_t *key, uint8_t *rk)
{
    uint8_t rcon = 1, t[4];
    int i, j;

    for (i = 0; i < 16; i++) {
        rk[i] = key[i];
    }
    for (i = 16; i < 176; i += 4) {
        for (j = 0; j < 4; j++) {
            t[j] = rk[i - 4 + j];
        }
        if (i % 16 == 0) {
            uint8_t x = t[0];

            t[0] = sbox[t[1]] ^ rcon;
            t[1] = sbox[t[2]];
            t[2] = sbox[t[3]];
            t[3] = sbox[x];
            rcon = xtime(rcon);
        }
        for (j = 0; j < 4; j++) {
            rk[i + j] = rk[i - 16 + j] ^ t[j];
        }
    }
}

static void key_set(struct aeskey *k, const uint8_t *raw)
{
    int i;

    for (i = 0; i < 32; i++) {
        k->raw[i] = raw[i];
    }
    aes_expand(raw, k->rk1);
    aes_expand(raw + 16, k->rk2);
}

static void aes_enc(const uint8_t *rk, const uint8_t *in, uint8_t *out)
{
    uint8_t s[16], t[16];
    int r, i, c;

    for (i = 0; i < 16; i++) {
        s[i] = in[i] ^ rk[i];
    }
    for (r = 1; r <= 10; r++) {
        for (i = 0; i < 16; i++) {      /* SubBytes, ShiftRows */
            t[i] = sbox[s[(i + 4 * (i % 4)) % 16]];
        }
        for (c = 0; c < 4 && r < 10; c++) {
            uint8_t *a = t + 4 * c, x = a[0] ^ a[1] ^ a[2] ^ a[3], a0 = a[0];

            a[0] ^= x ^ xtime(a[0] ^ a[1]);
            a[1] ^= x ^ xtime(a[1] ^ a[2]);
            a[2] ^= x ^ xtime(a[2] ^ a[3]);
            a[3] ^= x ^ xtime(a[3] ^ a0);
        }
        for (i = 0; i < 16; i++) {
            s[i] = t[i] ^ rk[16 * r + i];
        }
    }
    for (i = 0; i < 16; i++) {
        out[i] = s[i];
    }
}

static void aes_dec(const uint8_t *rk, const uint8_t *in, uint8_t *out)
{
    uint8_t s[16], t[16];
    int r, i, c;

    for (i = 0; i < 16; i++) {
        s[i] = in[i] ^ rk[160 + i];
    }
    for (r = 9; r >= 0; r--) {
        for (i = 0; i < 16; i++) {      /* InvShiftRows, InvSubBytes */
            t[(i + 4 * (i % 4)) % 16] = isbox[s[i]];
        }
        for (i = 0; i < 16; i++) {
            t[i] ^= rk[16 * r + i];
        }
        for (c = 0; c < 4 && r > 0; c++) {
            uint8_t *a = t + 4 * c, b[4];
            int j;

            for (j = 0; j < 4; j++) {
                b[j] = gmul(a[j], 14) ^ gmul(a[(j + 1) % 4], 11) ^
                       gmul(a[(j + 2) % 4], 13) ^ gmul(a[(j + 3) % 4], 9);
            }
            for (j = 0; j < 4; j++) {
                a[j] = b[j];
            }
        }
        for (i = 0; i < 16; i++) {
            s[i] = t[i];
        }
    }
    for (i = 0; i < 16; i++) {
        out[i] = s[i];
    }
}

/* Block @j of the data unit with tweak @tweak (little-endian) */
static void xts_block(const struct aeskey *k, uint64_t tweak, int j,
                      const uint8_t *in, uint8_t *out, bool enc)
{
    uint8_t t[16], x[16];
    int i;

    for (i = 0; i < 16; i++) {
        t[i] = i < 8 ? (uint8_t)(tweak >> (8 * i)) : 0;
    }
    aes_enc(k->rk2, t, t);
    while (j--) {
        uint8_t carry = t[15] >> 7;

        for (i = 15; i > 0; i--) {
            t[i] = (uint8_t)(t[i] << 1 | t[i - 1] >> 7);
        }
        t[0] = (uint8_t)(t[0] << 1) ^ (carry ? 0x87 : 0);
    }
    for (i = 0; i < 16; i++) {
        x[i] = in[i] ^ t[i];
    }
    if (enc) {
        aes_enc(k->rk1, x, x);
    } else {
        aes_dec(k->rk1, x, x);
    }
    for (i = 0; i < 16; i++) {
        out[i] = x[i] ^ t[i];
    }
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
           c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool parse_hex(const char *s, uint8_t *out, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        int h = hexval(s[2 * i]), l = h < 0 ? -1 : hexval(s[2 * i + 1]);

        if (l < 0) {
            return false;
        }
        out[i] = (uint8_t)(h << 4 | l);
    }
    return true;
}

static bool bytes_eq(const uint8_t *a, const uint8_t *b, int n)
{
    while (n--) {
        if (*a++ != *b++) {
            return false;
        }
    }
    return true;
}

/* FIPS-197 C.1 and IEEE 1619 vectors 1 and 2 */
static bool aes_selftest(void)
{
    struct aeskey k;
    uint8_t raw[32], in[32], out[32], back[32], want[32];
    bool ok = true;
    int i;

    for (i = 0; i < 16; i++) {
        raw[i] = i;
        in[i] = (uint8_t)(i * 0x11);
    }
    aes_expand(raw, k.rk1);
    aes_enc(k.rk1, in, out);
    parse_hex("69c4e0d86a7b0430d8cdb78070b4c55a", want, 16);
    ok &= bytes_eq(out, want, 16);
    aes_dec(k.rk1, out, back);
    ok &= bytes_eq(back, in, 16);

    for (i = 0; i < 32; i++) {
        raw[i] = 0;
        in[i] = 0;
    }
    key_set(&k, raw);
    xts_block(&k, 0, 0, in, out, true);
    xts_block(&k, 0, 1, in + 16, out + 16, true);
    parse_hex("917cf69ebd68b2ec9b9fe9a3eadda692"
              "cd43d2f59598ed858c02c2652fbf922e", want, 32);
    ok &= bytes_eq(out, want, 32);

    for (i = 0; i < 32; i++) {
        raw[i] = i < 16 ? 0x11 : 0x22;
        in[i] = 0x44;
    }
    key_set(&k, raw);
    xts_block(&k, 0x3333333333ULL, 0, in, out, true);
    xts_block(&k, 0x3333333333ULL, 1, in + 16, out + 16, true);
    parse_hex("c454185e6a16936e39334038acef838b"
              "fb186fff7480adc4289382ecd6d394f0", want, 32);
    ok &= bytes_eq(out, want, 32);
    xts_block(&k, 0x3333333333ULL, 1, out + 16, back, false);
    ok &= bytes_eq(back, in, 16);
    return ok;
}

/* ---- The model ---- */

static uint64_t seed, ops, max_bits, max_keys, phys_bits, keyid_bits;
static uint64_t excl_base, excl_mask, cap_value, act_value;
static int ncpus;
static bool self_mode;
static struct aeskey tme_key;

/* Ciphers: what a KeyID applies to a page */
enum { C_IDENT, C_AES, C_RANDOM };
enum { M_TME, M_NOENC, M_DIRECT, M_RANDOM };

struct keyid_model {
    int mode;
    uint32_t gen;               /* programmings so far */
    struct aeskey key;
};
static struct keyid_model kt[MAX_KEYIDS];

struct cipher {
    int type;
    uint16_t kid;               /* C_RANDOM: KeyID and generation */
    uint32_t gen;
    const struct aeskey *k;     /* C_AES */
};

static bool excluded(uint64_t pa)
{
    uint64_t m = excl_mask & ~0xfffULL;

    return (excl_mask & EXCL_ENABLE) && (pa & m) == (excl_base & m);
}

static struct cipher cipher_of(int kid, uint64_t pa)
{
    struct cipher c = { C_AES, 0, 0, &tme_key };

    if (kid == 0) {
        if (excluded(pa)) {
            c.type = C_IDENT;
        }
        return c;
    }
    switch (kt[kid].mode) {
    case M_NOENC:
        c.type = C_IDENT;
        break;
    case M_DIRECT:
        c.k = &kt[kid].key;
        break;
    case M_RANDOM:
        c.type = C_RANDOM;
        c.kid = kid;
        c.gen = kt[kid].gen;
        break;
    }
    return c;
}

/* A cipher as a block remembers it: a copy of the key bytes */
struct cipher_id {
    uint8_t type;
    uint16_t kid;
    uint32_t gen;
    uint8_t raw[32];
};

static void cipher_id(const struct cipher *c, struct cipher_id *id)
{
    int i;

    id->type = c->type;
    id->kid = c->kid;
    id->gen = c->gen;
    for (i = 0; i < 32; i++) {
        id->raw[i] = c->type == C_AES ? c->k->raw[i] : 0;
    }
}

static bool cipher_is(const struct cipher *c, const struct cipher_id *id)
{
    if (c->type != id->type) {
        return false;
    }
    if (c->type == C_RANDOM) {
        return c->kid == id->kid && c->gen == id->gen;
    }
    return c->type == C_IDENT || bytes_eq(c->k->raw, id->raw, 32);
}

static bool same_cipher(const struct cipher *a, const struct cipher *b)
{
    struct cipher_id id;

    cipher_id(b, &id);
    return cipher_is(a, &id);
}

/*
 * A 16-byte block: CT, DRAM holds b (exact); or PT, DRAM unknown, the
 * cipher @id shows b on the bytes of @mask.
 */
enum { B_CT, B_PT };
struct block {
    uint8_t st;
    uint16_t mask;
    struct cipher_id id;
    uint8_t b[16];
};

struct cpu_state {
    uint64_t rng;
    uint64_t op;
    const char *what;
    int walk_kid;               /* KeyID of the PDPTE to the windows */
    int cr3_kid;                /* KeyID in CR3 */
    bool failed;
    uint64_t n_exact, n_unchecked, n_pconfig, n_busy, n_msr, n_exec;
    uint64_t n_dma, n_walk, n_keychange, n_compat, n_legacy, n_straddle;
    struct block blk[POOL_BLOCKS + SHARED_BLOCKS];
    struct mktme_key_program kp[2];
};
static struct cpu_state cs[SMP_MAX_CPUS] __attribute__((aligned(4096)));
static uint64_t pd_fuzz[SMP_MAX_CPUS][512] __attribute__((aligned(4096)));
static volatile int cpu_done[SMP_MAX_CPUS];
static volatile int any_failed;

static uint64_t pool_pa(int cpu)
{
    return POOL_PA + (uint64_t)cpu * 2 * MIB;
}

static uint64_t keyid_pa(uint64_t kid)
{
    return kid << (phys_bits - keyid_bits);
}

/* The address of model offset @off through @kid */
static uint8_t *win(int cpu, int kid, uint32_t off)
{
    if (off >= POOL_BYTES) {
        kid += SHARED_WIN;
        off -= POOL_BYTES;
    }
    return (uint8_t *)((WIN_GIB + cpu) * GIB + kid * 2 * MIB + off);
}

static uint64_t block_pa(int cpu, int bi)
{
    return bi < POOL_BLOCKS ? pool_pa(cpu) + bi * 16 :
           SHARED_PA + (bi - POOL_BLOCKS) * 16;
}

static uint64_t rnd(struct cpu_state *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t below(struct cpu_state *s, uint64_t n)
{
    return rnd(s) % n;
}

static void fail(int cpu, const char *fmt, ...)
{
    struct cpu_state *s = &cs[cpu];
    va_list ap;

    console_lock();
    printf("# MISMATCH seed=%lu cpu=%d op=%lu (%s): ", seed, cpu, s->op,
           s->what);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    console_unlock();
    s->failed = true;
    any_failed = 1;
}

static void dump(const char *what, const uint8_t *b, int n)
{
    int i;

    printf("#   %s:", what);
    for (i = 0; i < n; i++) {
        printf(" %02x", b[i]);
    }
    printf("\n");
}

/*
 * What @kid shows of block @bi: @out on the bytes of the returned mask;
 * *@forbid (mask) of @fb: bytes this cipher must not show all of.
 */
static uint16_t block_view(int cpu, int bi, int kid, uint8_t *out,
                           uint8_t *fb, uint16_t *forbid)
{
    struct block *b = &cs[cpu].blk[bi];
    uint64_t pa = block_pa(cpu, bi);
    struct cipher c = cipher_of(kid, pa);
    int i;

    *forbid = 0;
    if (b->st == B_CT) {
        if (c.type == C_RANDOM) {
            return 0;
        }
        if (c.type == C_IDENT) {
            for (i = 0; i < 16; i++) {
                out[i] = b->b[i];
            }
        } else {
            xts_block(c.k, pa & ~0xfffULL, (pa & 0xfff) / 16, b->b, out,
                      false);
        }
        return 0xffff;
    }
    for (i = 0; i < 16; i++) {
        out[i] = b->b[i];
        fb[i] = b->b[i];
    }
    if (cipher_is(&c, &b->id)) {
        return b->mask;
    }
    if (b->id.type == C_RANDOM) {
        *forbid = b->mask;      /* a random key is no other cipher's */
    }
    return 0;
}

/* Write @n bytes of @data at byte @o of block @bi through @kid */
static void block_write(int cpu, int bi, int kid, int o, int n,
                        const uint8_t *data)
{
    struct block *b = &cs[cpu].blk[bi];
    uint64_t pa = block_pa(cpu, bi);
    uint64_t tw = pa & ~0xfffULL;
    int j = (pa & 0xfff) / 16, i;
    struct cipher c = cipher_of(kid, pa);
    uint16_t m = (uint16_t)(((1u << n) - 1) << o);
    uint8_t p[16];

    if (b->st == B_CT && c.type != C_RANDOM) {
        if (c.type == C_AES) {
            xts_block(c.k, tw, j, b->b, p, false);
        } else {
            for (i = 0; i < 16; i++) {
                p[i] = b->b[i];
            }
        }
        for (i = 0; i < n; i++) {
            p[o + i] = data[i];
        }
        if (c.type == C_AES) {
            xts_block(c.k, tw, j, p, b->b, true);
        } else {
            for (i = 0; i < 16; i++) {
                b->b[i] = p[i];
            }
        }
        return;
    }
    if (b->st != B_PT || !cipher_is(&c, &b->id)) {
        b->st = B_PT;
        b->mask = 0;
        cipher_id(&c, &b->id);
    }
    for (i = 0; i < n; i++) {
        b->b[o + i] = data[i];
    }
    b->mask |= m;
    if (b->mask == 0xffff && c.type != C_RANDOM) {
        b->st = B_CT;
        if (c.type == C_AES) {
            xts_block(c.k, tw, j, b->b, b->b, true);
        }
    }
}

/* The model of a write of @n bytes at pool offset @off through @kid */
static void model_write(int cpu, int kid, uint32_t off, int n,
                        const uint8_t *data)
{
    while (n > 0) {
        int o = off % 16, len = 16 - o < n ? 16 - o : n;

        block_write(cpu, off / 16, kid, o, len, data);
        off += len;
        data += len;
        n -= len;
    }
}

/*
 * Check @n bytes @got read at pool offset @off through @kid; returns
 * whether the model predicted any byte.
 */
static bool model_check(int cpu, int kid, uint32_t off, int n,
                        const uint8_t *got)
{
    uint8_t want[32], fb[32], v[16], f[16];
    uint32_t mask = 0, forbid = 0;
    int i, pos = 0;
    uint32_t o = off;

    while (pos < n) {
        int bo = o % 16, len = 16 - bo < n - pos ? 16 - bo : n - pos;
        uint16_t fm, m = block_view(cpu, o / 16, kid, v, f, &fm);

        for (i = 0; i < len; i++) {
            want[pos + i] = v[bo + i];
            fb[pos + i] = f[bo + i];
            mask |= (uint32_t)(m >> (bo + i) & 1) << (pos + i);
            forbid |= (uint32_t)(fm >> (bo + i) & 1) << (pos + i);
        }
        pos += len;
        o += len;
    }
    for (i = 0; i < n; i++) {
        if ((mask >> i & 1) && got[i] != want[i]) {
            fail(cpu, "KeyID %d, offset 0x%x (%s), %d bytes: byte %d",
                 kid, off, off < POOL_BYTES ? "pool" : "shared", n, i);
            console_lock();
            dump("got ", got, n);
            dump("want", want, n);
            console_unlock();
            return true;
        }
    }
    if (n >= 8 && forbid == (1u << n) - 1 && bytes_eq(got, fb, n)) {
        fail(cpu, "KeyID %d, offset 0x%x, %d bytes: shows the "
             "plaintext of a random key's KeyID", kid, off, n);
        return true;
    }
    return mask != 0;
}

/* ---- Memory accesses of exact sizes ---- */

static void mem_load(const uint8_t *va, int n, uint8_t *out)
{
    switch (n) {
    case 1:
        asm volatile("movb (%1), %%al; movb %%al, (%0)"
                     : : "r"(out), "r"(va) : "rax", "memory");
        break;
    case 2:
        asm volatile("movw (%1), %%ax; movw %%ax, (%0)"
                     : : "r"(out), "r"(va) : "rax", "memory");
        break;
    case 4:
        asm volatile("movl (%1), %%eax; movl %%eax, (%0)"
                     : : "r"(out), "r"(va) : "rax", "memory");
        break;
    case 8:
        asm volatile("movq (%1), %%rax; movq %%rax, (%0)"
                     : : "r"(out), "r"(va) : "rax", "memory");
        break;
    default:
        asm volatile("movdqu (%1), %%xmm0; movdqu %%xmm0, (%0)"
                     : : "r"(out), "r"(va) : "memory");
    }
}

static void mem_store(uint8_t *va, int n, const uint8_t *in)
{
    switch (n) {
    case 1:
        asm volatile("movb (%0), %%al; movb %%al, (%1)"
                     : : "r"(in), "r"(va) : "rax", "memory");
        break;
    case 2:
        asm volatile("movw (%0), %%ax; movw %%ax, (%1)"
                     : : "r"(in), "r"(va) : "rax", "memory");
        break;
    case 4:
        asm volatile("movl (%0), %%eax; movl %%eax, (%1)"
                     : : "r"(in), "r"(va) : "rax", "memory");
        break;
    case 8:
        asm volatile("movq (%0), %%rax; movq %%rax, (%1)"
                     : : "r"(in), "r"(va) : "rax", "memory");
        break;
    default:
        asm volatile("movdqu (%0), %%xmm0; movdqu %%xmm0, (%1)"
                     : : "r"(in), "r"(va) : "memory");
    }
}

/* ---- KeyIDs ---- */

static int limit_keyid(void)
{
    uint64_t lim = (1ULL << keyid_bits) - 1;

    return (int)(lim < max_keys ? lim : max_keys);
}

static bool mine(int cpu, int kid)
{
    return kid > 0 && kid <= limit_keyid() && kid % ncpus == cpu;
}

/*
 * A KeyID whose key only this CPU changes: 0, its own, or one above
 * MK_TME_MAX_KEYS (PCONFIG cannot program it: it keeps the TME key)
 */
static bool exact_kid(int cpu, int kid)
{
    return kid == 0 || mine(cpu, kid) || kid > limit_keyid();
}

/* A KeyID this CPU may store through */
static int pick_exact_kid(struct cpu_state *s, int cpu)
{
    int k, tries;

    for (tries = 0; tries < 8; tries++) {
        k = (int)below(s, 1ULL << keyid_bits);
        if (exact_kid(cpu, k)) {
            return k;
        }
    }
    return 0;
}

static void set_walk(int cpu, int kid)
{
    extern uint64_t pdpt[512];

    cs[cpu].walk_kid = kid;
    pdpt[WIN_GIB + cpu] = (uint64_t)pd_fuzz[cpu] | keyid_pa(kid) | 0x3;
    flush_tlb();
}

/* The PML4, which every CPU walks, read through @kid from this CPU */
static void set_cr3(int cpu, int kid)
{
    extern uint64_t pml4[512];

    cs[cpu].cr3_kid = kid;
    asm volatile("mov %0, %%cr3" : : "r"((uint64_t)pml4 | keyid_pa(kid))
                 : "memory");
}

/* Some keys, equal ones among them, so aliases with one key happen */
static const uint8_t key_pool[4][32] = {
    { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
      0xf0, 0xe0, 0xd0, 0xc0, 0xb0, 0xa0, 0x90, 0x80 },
    { 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
      0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
      0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
      0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55 },
    { 0 },
    { 0xde, 0xad, 0xbe, 0xef, [16] = 0xca, 0xfe },
};

struct pc_result {
    int vector;
    uint64_t rax, flags;
};

static struct pc_result pconfig_raw(uint64_t rax, const void *rbx)
{
    struct pc_result r;
    uint64_t flags = 0x2 | F_STATUS;

    last_exc.vector = NO_EXCEPTION;
    asm volatile("push %[f]\n\tpopf\n\t"
                 "1: .byte 0x0f, 0x01, 0xc5\n"
                 "2: pushf\n\tpop %[f]\n\t" EXTABLE_ENTRY(1b, 2b)
                 : "+a"(rax), [f] "+r"(flags) : "b"(rbx) : "memory", "cc");
    r.vector = last_exc.vector;
    r.rax = rax;
    r.flags = flags;
    return r;
}

/* Prefixed PCONFIG: 6.2.7 */
#define PREFIXED(name, bytes)                                           \
static struct pc_result name(const void *rbx)                           \
{                                                                       \
    struct pc_result r = { 0, 0, 0 };                                   \
    last_exc.vector = NO_EXCEPTION;                                     \
    asm volatile("1: .byte " bytes "\n2:\n\t" EXTABLE_ENTRY(1b, 2b)     \
                 : "+a"(r.rax) : "b"(rbx) : "memory", "cc");            \
    r.vector = last_exc.vector;                                         \
    return r;                                                           \
}
PREFIXED(pc_lock, "0xf0, 0x0f, 0x01, 0xc5")
PREFIXED(pc_rep, "0xf3, 0x0f, 0x01, 0xc5")
PREFIXED(pc_repne, "0xf2, 0x0f, 0x01, 0xc5")
PREFIXED(pc_opsize, "0x66, 0x0f, 0x01, 0xc5")
PREFIXED(pc_vex2, "0xc5, 0xf8, 0x01, 0xc5")
PREFIXED(pc_ds, "0x3e, 0x0f, 0x01, 0xc5")
PREFIXED(pc_es, "0x26, 0x0f, 0x01, 0xc5")
PREFIXED(pc_fs, "0x64, 0x0f, 0x01, 0xc5")
PREFIXED(pc_addr, "0x67, 0x0f, 0x01, 0xc5")
PREFIXED(pc_rexw, "0x48, 0x0f, 0x01, 0xc5")

static const struct {
    struct pc_result (*fn)(const void *rbx);
    bool ud;
    const char *name;
} prefixes[] = {
    { pc_lock, true, "LOCK" }, { pc_rep, true, "REP" },
    { pc_repne, true, "REPNE" }, { pc_opsize, true, "66" },
    { pc_vex2, true, "VEX" }, { pc_ds, false, "DS" },
    { pc_es, false, "ES" }, { pc_fs, false, "FS" },
    { pc_addr, false, "67" }, { pc_rexw, false, "REX.W" },
};
#define N_PREFIXES ((int)(sizeof(prefixes) / sizeof(prefixes[0])))

void user_pconfig(void);
extern uint32_t compat_flags_in, compat_flags_out;
uint64_t compat_pconfig(uint32_t eax, uint32_t ebx, uint16_t ds);

static void fill_kp(struct cpu_state *s, struct mktme_key_program *kp,
                    int kid, int cmd)
{
    const uint8_t *key = key_pool[below(s, 4)];
    uint8_t *p = (uint8_t *)kp;
    int i;

    for (i = 0; i < 192; i++) {
        p[i] = 0;
    }
    kp->keyid = kid;
    kp->keyid_ctrl = cmd | 1 << 8;
    for (i = 0; i < 16; i++) {
        kp->key_field_1[i] = key[i];
        kp->key_field_2[i] = key[16 + i];
    }
    if (below(s, 4) == 0) {
        for (i = 0; i < 16; i++) {      /* a key of its own */
            kp->key_field_1[i] = (uint8_t)rnd(s);
            kp->key_field_2[i] = (uint8_t)rnd(s);
        }
    }
}

/* One of this CPU's KeyIDs, or 0 (INVALID_KEYID) if it has none */
static int my_random_kid(struct cpu_state *s, int cpu)
{
    int k, lim = limit_keyid();

    for (k = 0; k < 16; k++) {
        int x = 1 + (int)below(s, lim);

        if (mine(cpu, x)) {
            return x;
        }
    }
    return ncpus <= lim ? (cpu ? cpu : ncpus) : 0;
}

/* The spec's outcome of PCONFIG (6.2.5) for a structure that is readable */
static uint64_t pconfig_status(const struct mktme_key_program *kp,
                               bool *gp)
{
    const uint8_t *p = (const uint8_t *)kp;
    uint32_t ctrl = kp->keyid_ctrl, alg = ctrl >> 8 & 0xffff;
    int i;

    *gp = false;
    for (i = 6; i < 64; i++) {
        *gp |= p[i] != 0;
    }
    *gp |= (ctrl >> 24) != 0;
    for (i = 16; i < 64; i++) {
        *gp |= kp->key_field_1[i] || kp->key_field_2[i];
    }
    if (*gp) {
        return 0;
    }
    if ((ctrl & 0xff) > CMD_NO_ENCRYPT) {
        return 1;
    }
    if (kp->keyid == 0 || kp->keyid > limit_keyid()) {
        return 3;
    }
    if (!alg || (alg & (alg - 1)) ||           /* not one bit */
        !(alg & (uint32_t)(act_value >> 48))) {
        return 4;
    }
    return 0;
}

static void model_program(int cpu, const struct mktme_key_program *kp)
{
    struct keyid_model *m = &kt[kp->keyid];
    uint8_t raw[32];
    int i;

    m->gen++;
    cs[cpu].n_keychange++;
    switch (kp->keyid_ctrl & 0xff) {
    case CMD_DIRECT:
        for (i = 0; i < 16; i++) {
            raw[i] = kp->key_field_1[i];
            raw[16 + i] = kp->key_field_2[i];
        }
        key_set(&m->key, raw);
        m->mode = M_DIRECT;
        break;
    case CMD_RANDOM:
        m->mode = M_RANDOM;
        break;
    case CMD_CLEAR:
        m->mode = M_TME;
        break;
    default:
        m->mode = M_NOENC;
    }
}

/*
 * Segment limits: a 256-byte aligned structure at offset 0xff00 is the
 * last one within a 64 KiB limit; one crosses the limit only if the
 * segment base is not 256-byte aligned (real mode, DS = 8: 0008:FF80 is
 * linear 0x10000).  Copies of the structure sit at both addresses, so
 * a wrong limit check shows.  At 0xffffff00 (within a flat DS) are the
 * firmware's bytes: the model reads them.
 */
#define LIMIT_KP        0xff00
#define CROSS_KP        0x10000
#define ROM_KP          0xffffff00ULL

static uint64_t copy_kp(const struct mktme_key_program *kp, uint64_t to)
{
    const uint8_t *src = (const uint8_t *)kp;
    uint8_t *dst = (uint8_t *)to;
    int i;

    for (i = 0; i < 192; i++) {
        dst[i] = src[i];
    }
    return to;
}

static void op_pconfig(struct cpu_state *s, int cpu)
{
    struct mktme_key_program *kp = &s->kp[0];
    uint8_t *p = (uint8_t *)kp;
    uint64_t rax = 0, addr, t0 = 0;
    int mut = (int)below(s, 16), kid = my_random_kid(s, cpu), prefix = -1;
    int want_vec = NO_EXCEPTION, tries;
    uint64_t status = 0;
    struct pc_result r;
    bool gp, compat = false, limit_gp = false;
    uint16_t ds = 0x10;

    s->what = "PCONFIG";
    s->n_pconfig++;
    fill_kp(s, kp, kid, (int)below(s, 4));
    addr = (uint64_t)kp;
    switch (mut) {
    case 0:
        kp->keyid = (uint16_t)rnd(s);
        break;
    case 1:
        kp->keyid_ctrl = (kp->keyid_ctrl & ~0xffu) | (uint8_t)rnd(s);
        break;
    case 2: {                           /* ENC_ALG: 0, 1, 2 bits, any */
        uint32_t alg = (uint32_t)rnd(s) & 0xffff;

        switch (below(s, 4)) {
        case 0:
            alg = 0;
            break;
        case 1:
            alg = 1u << below(s, 16);
            break;
        case 2:
            alg = 1u << below(s, 16) | 1u << below(s, 16);
            break;
        }
        kp->keyid_ctrl = (kp->keyid_ctrl & 0xff) | alg << 8;
        break;
    }
    case 3:
        kp->keyid_ctrl |= (uint32_t)(1 + below(s, 255)) << 24;
        break;
    case 4:
        p[6 + below(s, 58)] = (uint8_t)(1 + below(s, 255));
        break;
    case 5:
        kp->key_field_1[16 + below(s, 48)] = (uint8_t)(1 + below(s, 255));
        break;
    case 6:
        kp->key_field_2[16 + below(s, 48)] = (uint8_t)(1 + below(s, 255));
        break;
    case 7:
        addr += 1 + below(s, 255);
        break;
    case 8:
        addr = UNMAPPED + below(s, 1024) * 256;
        break;
    case 9:
        addr = (rnd(s) | 0x0000800000000000ULL) & ~0xffULL;
        if ((addr >> 47) == 0x1ffff) {
            addr &= ~(1ULL << 60);
        }
        break;
    case 10:
        rax = rnd(s);
        if ((uint32_t)rax == 0) {
            rax |= 1;
        }
        break;
    case 11:
        prefix = (int)below(s, N_PREFIXES);
        break;
    case 12:
        if (cpu == 0) {
            prefix = N_PREFIXES;        /* CPL 3 */
        }
        break;
    default:
        rax = rnd(s) & ~0xffffffffULL;  /* RAX[63:32] ignored: valid */
    }
    /* Never program another CPU's KeyID */
    if (kp->keyid && kp->keyid <= limit_keyid() && !mine(cpu, kp->keyid)) {
        kp->keyid = kid;
    }
    /* Compatibility mode (6.2.11), on the BSP: EBX, a DS selector */
    if (cpu == 0 && prefix < 0 && mut != 12 && below(s, 4) == 0) {
        compat = true;
        s->n_compat++;
        rax = (uint32_t)rax;
        if (mut == 8 || mut == 9) {
            addr = (uint64_t)kp;
            limit_gp = true;
            switch (below(s, 3)) {
            case 0:
                addr = copy_kp(kp, LIMIT_KP);   /* last within 64 KiB */
                ds = 0x38;
                limit_gp = false;
                break;
            case 1:
                ds = 0;                 /* null */
                break;
            default:
                addr = ROM_KP;          /* the firmware's bytes */
                limit_gp = false;
            }
        }
    }
    if (mut == 12 && cpu == 0) {
        want_vec = UD_VECTOR;
    } else if (prefix >= 0 && prefixes[prefix].ud) {
        want_vec = UD_VECTOR;
    } else if ((uint32_t)rax != 0) {
        want_vec = GP_VECTOR;
    } else if (addr & 0xff) {
        want_vec = GP_VECTOR;
    } else if (limit_gp) {
        want_vec = GP_VECTOR;
    } else if ((int64_t)(addr << 16) >> 16 != (int64_t)addr) {
        want_vec = GP_VECTOR;
    } else if (addr >= UNMAPPED && addr < UNMAPPED + GIB) {
        want_vec = PF_VECTOR;
    } else {
        status = pconfig_status(addr == ROM_KP ? (void *)ROM_KP : kp, &gp);
        if (gp) {
            want_vec = GP_VECTOR;
        }
    }
    if (addr == ROM_KP && want_vec == NO_EXCEPTION) {
        return;         /* never a KeyID from the firmware's bytes */
    }
    /* This CPU's KeyID may change: walk through KeyID 0 meanwhile */
    if (want_vec == NO_EXCEPTION && status == 0) {
        if (kp->keyid == s->walk_kid) {
            set_walk(cpu, 0);
        }
        if (kp->keyid == s->cr3_kid) {
            set_cr3(cpu, 0);
        }
    }
    for (tries = 0; ; tries++) {
        if (prefix == N_PREFIXES) {
            r.rax = 0;
            last_exc.vector = NO_EXCEPTION;
            user_pconfig();
            r.vector = last_exc.vector;
            r.flags = 0x2;
        } else if (prefix >= 0) {
            r = prefixes[prefix].fn((void *)addr);
            r.flags = 0x2;
        } else if (compat) {
            compat_flags_in = 0x2 | F_STATUS;
            last_exc.vector = NO_EXCEPTION;
            r.rax = compat_pconfig((uint32_t)rax, (uint32_t)addr, ds);
            r.vector = last_exc.vector;
            r.flags = compat_flags_out;
        } else {
            r = pconfig_raw(rax, (void *)addr);
        }
        if (r.vector != NO_EXCEPTION || r.rax != DEVICE_BUSY ||
            ncpus == 1 || want_vec != NO_EXCEPTION || status != 0) {
            break;
        }
        /*
         * Another CPU holds KEY_TABLE_LOCK: its vCPU thread may wait for
         * a host core a while, but not for seconds
         */
        if (!tries) {
            t0 = now_ms();
        } else if (now_ms() - t0 > 10000) {
            fail(cpu, "PCONFIG DEVICE_BUSY for 10 s (%d tries)", tries);
            return;
        }
        s->n_busy++;
    }
    if (r.vector != want_vec) {
        fail(cpu, "PCONFIG%s mutation %d prefix %d RAX 0x%lx RBX 0x%lx "
             "DS 0x%x KeyID %u ctrl 0x%x: vector %d, expected %d",
             compat ? " (compatibility mode)" : "", mut, prefix, rax, addr,
             ds, kp->keyid, kp->keyid_ctrl, r.vector, want_vec);
        return;
    }
    if (want_vec == PF_VECTOR &&
        (last_exc.cr2 != addr || last_exc.error != 0)) {
        fail(cpu, "PCONFIG RBX 0x%lx not mapped: #PF CR2 0x%lx error 0x%lx",
             addr, last_exc.cr2, last_exc.error);
        return;
    }
    if (want_vec != NO_EXCEPTION) {
        return;
    }
    if (r.rax != status) {
        fail(cpu, "PCONFIG%s mutation %d prefix %d KeyID %u ctrl 0x%x: "
             "RAX %lu, expected %lu", compat ? " (compatibility mode)" : "",
             mut, prefix, kp->keyid, kp->keyid_ctrl, r.rax, status);
        return;
    }
    if (prefix < 0 && (r.flags & F_STATUS) != (status ? F_ZF : 0)) {
        fail(cpu, "PCONFIG status %lu: flags 0x%lx", status, r.flags);
        return;
    }
    if (status == 0) {
        model_program(cpu, kp);
    }
}

/*
 * PCONFIG reads its structure through the KeyID of RBX's mapping: write
 * a structure through one KeyID and run PCONFIG on it through another.
 * The model knows the bytes PCONFIG sees (under another key, garbage
 * with reserved bits set: #GP).
 */
static void op_pconfig_keyid(struct cpu_state *s, int cpu)
{
    struct mktme_key_program *kp = &s->kp[1], *seen = &s->kp[0];
    uint32_t off = (POOL_PAGES - 1) * 4096 + (uint32_t)below(s, 16) * 256;
    int w = pick_exact_kid(s, cpu), k = pick_exact_kid(s, cpu);
    int kid = my_random_kid(s, cpu), i, tries, want_vec;
    uint64_t status, t0 = 0;
    struct pc_result r;
    uint16_t fm;
    uint8_t f[16];
    bool gp;

    s->what = "PCONFIG through a KeyID";
    if (below(s, 2)) {
        k = w;
    }
    fill_kp(s, kp, kid, (int)below(s, 4));
    for (i = 0; i < 192; i += 8) {
        mem_store(win(cpu, w, off + i), 8, (uint8_t *)kp + i);
    }
    model_write(cpu, w, off, 192, (uint8_t *)kp);
    for (i = 0; i < 12; i++) {
        if (block_view(cpu, off / 16 + i, k, (uint8_t *)seen + 16 * i, f,
                       &fm) != 0xffff) {
            return;     /* the model does not know what KeyID k shows */
        }
    }
    status = pconfig_status(seen, &gp);
    want_vec = gp ? GP_VECTOR : NO_EXCEPTION;
    if (!gp && status == 0) {
        if (!mine(cpu, seen->keyid)) {
            return;     /* never another CPU's KeyID */
        }
        if (seen->keyid == s->walk_kid) {
            set_walk(cpu, 0);
        }
        if (seen->keyid == s->cr3_kid) {
            set_cr3(cpu, 0);
        }
    }
    s->n_pconfig++;
    for (tries = 0; ; tries++) {
        r = pconfig_raw(0, win(cpu, k, off));
        if (r.vector != NO_EXCEPTION || r.rax != DEVICE_BUSY ||
            ncpus == 1 || gp || status != 0) {
            break;
        }
        if (!tries) {
            t0 = now_ms();
        } else if (now_ms() - t0 > 10000) {
            fail(cpu, "PCONFIG DEVICE_BUSY for 10 s (%d tries)", tries);
            return;
        }
        s->n_busy++;
    }
    if (r.vector != want_vec ||
        (want_vec == NO_EXCEPTION && r.rax != status)) {
        fail(cpu, "PCONFIG of a structure written through KeyID %d, read "
             "through KeyID %d at pool offset 0x%x: vector %d RAX %lu, "
             "expected vector %d RAX %lu", w, k, off, r.vector, r.rax,
             want_vec, status);
        return;
    }
    if (want_vec == NO_EXCEPTION && status == 0) {
        model_program(cpu, seen);
    }
}

/*
 * legacy.S, on the BSP: PCONFIG in 32-bit protected mode, real-address
 * mode (6.2.8, 6.2.9: DS:EBX, segment limits) and virtual-8086 mode
 * (6.2.10: #UD), with paging off: the structure at LEGACY_KP.
 */
#define LEGACY_BASE     0x7000
#define LEGACY_KP       0x6000
extern char legacy_blob[], legacy_blob_end[];
extern uint32_t lg_mode, lg_eax, lg_ebx, lg_ds, lg_flags_in, lg_flags_out;
extern uint32_t lg_eax_out, lg_vector, lg_error;
extern uint64_t idt32[];
extern const uint32_t exc32_table[4];
void legacy_pconfig(void);
#define LEGACY_VAR(v) (*(volatile uint32_t *)(uintptr_t)(LEGACY_BASE + \
                       ((char *)&(v) - legacy_blob)))

static void legacy_setup(void)
{
    static const int vec[4] = { 0, 6, 13, 14 };
    char *dst = (char *)LEGACY_BASE, *src;
    int i;

    for (src = legacy_blob; src < legacy_blob_end; src++) {
        *dst++ = *src;
    }
    for (i = 0; i < 4; i++) {
        uint32_t h = exc32_table[i];

        idt32[vec[i]] = (h & 0xffff) | (0x18ULL << 16) | (0x8e00ULL << 32) |
                        (uint64_t)(h >> 16) << 48;
    }
}

static struct pc_result legacy(int mode, uint32_t eax, uint32_t ebx,
                               uint16_t ds)
{
    extern uint64_t gdt[];
    struct pc_result r;

    LEGACY_VAR(lg_mode) = mode;
    LEGACY_VAR(lg_eax) = eax;
    LEGACY_VAR(lg_ebx) = ebx;
    LEGACY_VAR(lg_ds) = ds;
    LEGACY_VAR(lg_flags_in) = 0x2 | F_STATUS;
    LEGACY_VAR(lg_flags_out) = 0;
    LEGACY_VAR(lg_eax_out) = 0xdead;
    LEGACY_VAR(lg_vector) = (uint32_t)NO_EXCEPTION;
    legacy_pconfig();
    r.vector = (int)LEGACY_VAR(lg_vector);
    r.rax = LEGACY_VAR(lg_eax_out);
    r.flags = LEGACY_VAR(lg_flags_out);
    if (mode == 2) {
        /* virtual-8086 mode left TR on a 32-bit TSS: back to the BSP's */
        gdt[0x40 / 8] &= ~(2ULL << 40);     /* not busy */
        asm volatile("ltr %w0" : : "r"(0x40));
    }
    return r;
}

static const char *const mode_names[3] = {
    "32-bit protected mode", "real-address mode", "virtual-8086 mode",
};

static void op_pconfig_legacy(struct cpu_state *s, int cpu)
{
    struct mktme_key_program *kp = (struct mktme_key_program *)LEGACY_KP;
    int mode = (int)below(s, 3), kid = my_random_kid(s, cpu), tries;
    int want_vec = NO_EXCEPTION, v = (int)below(s, 6);
    uint32_t eax = below(s, 8) ? 0 : (uint32_t)rnd(s) | 1;
    uint32_t ebx = LEGACY_KP;
    uint16_t ds = mode ? 0 : 0x10;
    uint64_t status = 0, t0 = 0;
    struct pc_result r;
    uint8_t *p = (uint8_t *)kp;
    bool gp = false;

    s->what = "PCONFIG in a legacy mode";
    fill_kp(s, kp, kid, (int)below(s, 4));
    switch (below(s, 4)) {
    case 0:
        kp->keyid = (uint16_t)rnd(s);
        break;
    case 1:
        kp->keyid_ctrl = (kp->keyid_ctrl & ~0xffu) | (uint8_t)below(s, 6);
        break;
    case 2:
        p[6 + below(s, 58)] = (uint8_t)(1 + below(s, 255));
        break;
    }
    if (kp->keyid && kp->keyid <= limit_keyid() && !mine(cpu, kp->keyid)) {
        kp->keyid = kid;
    }
    switch (v) {
    case 0:
        if (mode == 1) {
            ebx = 0;                        /* 0600:0000 */
            ds = LEGACY_KP >> 4;
        }
        break;
    case 1:
        ebx += 1 + (uint32_t)below(s, 255); /* misaligned */
        gp = true;
        break;
    case 2:                                 /* 64 KiB DS limits */
        ds = mode ? 0 : 0x38;
        switch (below(s, 3)) {
        case 0:
            ebx = 0x10000;                  /* past the limit */
            gp = true;
            break;
        case 1:
            ebx = copy_kp(kp, LIMIT_KP);    /* the last within it */
            break;
        default:
            copy_kp(kp, CROSS_KP);
            if (mode == 1) {
                ebx = 0xff80;               /* crosses it */
                ds = 8;
                gp = true;
            } else {
                ebx = CROSS_KP;
                ds = 0x10;
            }
        }
        break;
    case 3:
        if (mode == 0) {
            ds = 0;                         /* null DS */
            gp = true;
        }
        break;
    case 4:
        if (mode == 0) {
            ebx = ROM_KP;                   /* the firmware's bytes */
        }
        break;
    }
    if (mode == 2) {
        want_vec = UD_VECTOR;               /* CPL 3 */
    } else if (eax || gp) {
        want_vec = GP_VECTOR;
    } else {
        status = pconfig_status(ebx == ROM_KP ? (void *)ROM_KP : kp, &gp);
        if (gp) {
            want_vec = GP_VECTOR;
        }
    }
    if (ebx == ROM_KP && want_vec == NO_EXCEPTION) {
        return;         /* never a KeyID from the firmware's bytes */
    }
    if (want_vec == NO_EXCEPTION && status == 0 &&
        kp->keyid == s->walk_kid) {
        set_walk(cpu, 0);
    }
    set_cr3(cpu, 0);                        /* paging goes off and on */
    s->n_pconfig++;
    s->n_legacy++;
    for (tries = 0; ; tries++) {
        r = legacy(mode, eax, ebx, ds);
        if (r.vector != NO_EXCEPTION || r.rax != DEVICE_BUSY ||
            ncpus == 1 || want_vec != NO_EXCEPTION || status != 0) {
            break;
        }
        if (!tries) {
            t0 = now_ms();
        } else if (now_ms() - t0 > 10000) {
            fail(cpu, "PCONFIG DEVICE_BUSY for 10 s (%d tries)", tries);
            return;
        }
        s->n_busy++;
    }
    if (r.vector != want_vec ||
        (want_vec == NO_EXCEPTION && (r.rax != status ||
         (r.flags & F_STATUS) != (status ? F_ZF : 0)))) {
        fail(cpu, "PCONFIG in %s EAX 0x%x DS:EBX 0x%x:0x%x KeyID %u ctrl "
             "0x%x: vector %d RAX %lu flags 0x%lx, expected vector %d RAX "
             "%lu", mode_names[mode], eax, ds, ebx, kp->keyid,
             kp->keyid_ctrl, r.vector, r.rax, r.flags, want_vec, status);
        return;
    }
    if (want_vec == NO_EXCEPTION && status == 0) {
        model_program(cpu, kp);
    }
}

/* ---- MSRs ---- */

static const uint32_t msrs[] = {
    IA32_TME_CAPABILITY, IA32_TME_ACTIVATE, IA32_TME_EXCLUDE_MASK,
    IA32_TME_EXCLUDE_BASE, MK_TME_CORE_ACTIVATE,
    IA32_MKTME_KEYID_PARTITIONING,
};

static uint64_t field(void);

static uint64_t msr_value(struct cpu_state *s, uint64_t cur)
{
    switch (below(s, 8)) {
    case 0:
        return rnd(s);
    case 1:
        return 0;
    case 2:
        return cur;
    case 3:
        return cur ^ 1ULL << below(s, 64);
    case 4:
        return rnd(s) & field() >> below(s, phys_bits - 12);
    case 5:                             /* a valid exclusion mask */
        return (field() & ~((1ULL << (12 + below(s, phys_bits - 11))) - 1)) |
               EXCL_ENABLE;
    case 6:                             /* the pools' 64 MiB */
        return POOL_PA;
    default:
        return cur ^ 1ULL << below(s, 64) ^ 1ULL << below(s, 64);
    }
}

static uint64_t field(void)
{
    return ((1ULL << phys_bits) - 1) & ~0xfffULL;
}

static bool mask_valid(uint64_t v)
{
    uint64_t f = field(), m = v & f;
    int b;

    if (v & ~(f | EXCL_ENABLE)) {
        return false;
    }
    for (b = 12; b <= (int)phys_bits; b++) {
        if (m == (f & ~((1ULL << b) - 1))) {
            return true;
        }
    }
    return false;
}

/* After the lock (or firmware): every access's outcome exactly */
static void op_msr_locked(struct cpu_state *s, int cpu)
{
    uint32_t msr = msrs[below(s, 6)];
    uint64_t want = 0, got = 0, v;
    int vec, want_vec = NO_EXCEPTION;

    s->what = "MSR";
    s->n_msr++;
    switch (msr) {
    case IA32_TME_CAPABILITY:
        want = cap_value;
        break;
    case IA32_TME_ACTIVATE:
        want = act_value;
        break;
    case IA32_TME_EXCLUDE_MASK:
        want = excl_mask;
        break;
    case IA32_TME_EXCLUDE_BASE:
        want = excl_base;
        break;
    case MK_TME_CORE_ACTIVATE:
        want = keyid_bits << 32;
        break;
    default:
        want = (1ULL << keyid_bits) - 1;
    }
    if (below(s, 2)) {
        vec = rdmsr_safe(msr, &got);
        if (vec != NO_EXCEPTION || got != want) {
            fail(cpu, "RDMSR 0x%x: vector %d value 0x%lx, expected 0x%lx",
                 msr, vec, got, want);
        }
        return;
    }
    v = msr_value(s, want);
    if (msr != MK_TME_CORE_ACTIVATE || v != 0) {
        want_vec = GP_VECTOR;
    }
    vec = wrmsr_safe(msr, v);
    if (vec != want_vec) {
        fail(cpu, "WRMSR 0x%x value 0x%lx: vector %d, expected %d", msr, v,
             vec, want_vec);
        return;
    }
    vec = rdmsr_safe(msr, &got);
    if (vec != NO_EXCEPTION || got != want) {
        fail(cpu, "RDMSR 0x%x after WRMSR 0x%lx: 0x%lx, expected 0x%lx",
             msr, v, got, want);
    }
}

static bool activate_gp(uint64_t v)
{
    uint64_t rsvd = 0xffffff00ULL | 0xfff000000000ULL |
                    0xfffe000000000000ULL;
    uint64_t bits = v >> 32 & 0xf;

    return (v & rsvd) || (v >> 4 & 0xf) != 0 || bits > max_bits ||
           (bits && !(v & ACT_ENABLE));
}

/*
 * Before activation (self, BSP only): the unlocked MSRs.  Writes to
 * IA32_TME_ACTIVATE that would lock it are made faulting ones, except
 * key select 1 with no key saved (not enabled, not locked).
 */
static void op_msr_unlocked(struct cpu_state *s, int cpu)
{
    uint32_t msr = msrs[below(s, 6)];
    uint64_t want = 0, got = 0, v;
    int vec, want_vec = NO_EXCEPTION;
    bool low3 = false;

    s->what = "MSR before activation";
    s->n_msr++;
    switch (msr) {
    case IA32_TME_CAPABILITY:
        want = cap_value;
        break;
    case IA32_TME_ACTIVATE:
        want = act_value;
        low3 = act_value != 0;
        break;
    case IA32_TME_EXCLUDE_MASK:
        want = excl_mask;
        break;
    case IA32_TME_EXCLUDE_BASE:
        want = excl_base;
        break;
    }
    if (below(s, 2)) {
        vec = rdmsr_safe(msr, &got);
        if (vec != NO_EXCEPTION || (low3 ? (got & 7) : got) != want) {
            fail(cpu, "RDMSR 0x%x: vector %d value 0x%lx, expected 0x%lx",
                 msr, vec, got, want);
        }
        return;
    }
    v = msr_value(s, want);
    switch (msr) {
    case IA32_TME_ACTIVATE:
        if (!activate_gp(v) && (v & 6) != 6) {
            v |= 1ULL << (8 + below(s, 24));   /* would lock: make it #GP */
        }
        if (activate_gp(v)) {
            want_vec = GP_VECTOR;
        } else {
            act_value = ACT_KEY_SELECT;
        }
        break;
    case IA32_TME_EXCLUDE_MASK:
        if (!mask_valid(v)) {
            want_vec = GP_VECTOR;
        } else {
            excl_mask = v;
        }
        break;
    case IA32_TME_EXCLUDE_BASE:
        if (v & ~field()) {
            want_vec = GP_VECTOR;
        } else {
            excl_base = v;
        }
        break;
    case MK_TME_CORE_ACTIVATE:
        want_vec = v ? GP_VECTOR : NO_EXCEPTION;
        break;
    default:
        want_vec = GP_VECTOR;
    }
    vec = wrmsr_safe(msr, v);
    if (vec != want_vec) {
        fail(cpu, "WRMSR 0x%x value 0x%lx: vector %d, expected %d", msr, v,
             vec, want_vec);
    }
}

/* ---- Memory operations ---- */

static const int sizes[5] = { 1, 2, 4, 8, 16 };

/* A shared block of this CPU's: its model offset */
static uint32_t pick_shared(struct cpu_state *s, int cpu)
{
    uint32_t bi = POOL_BLOCKS + (uint32_t)below(s, SHARED_BLOCKS);

    bi = bi - bi % ncpus + cpu;
    if (bi >= POOL_BLOCKS + SHARED_BLOCKS) {
        bi -= ncpus;
    } else if (bi < POOL_BLOCKS) {
        bi += ncpus;
    }
    return bi * 16;
}

/* A model offset for @n bytes: in the pool or in a shared block */
static uint32_t pick_offset(struct cpu_state *s, int cpu, int n)
{
    uint32_t off;

    if (below(s, 3) == 0) {
        return pick_shared(s, cpu) + (uint32_t)below(s, 16 - n + 1);
    }

    if (below(s, 4) == 0) {             /* across a page boundary */
        off = (uint32_t)(1 + below(s, POOL_PAGES - 1)) * 4096 -
              (uint32_t)below(s, n);
        if (off + n > POOL_BYTES) {
            off = POOL_BYTES - n;
        }
        return off;
    }
    return (uint32_t)below(s, POOL_BYTES - n + 1);
}

static void op_load(struct cpu_state *s, int cpu)
{
    int n = sizes[below(s, 5)], kid;
    uint32_t off = pick_offset(s, cpu, n);
    uint8_t got[16];

    s->what = "load";
    if (below(s, 4) == 0) {
        kid = (int)below(s, 1ULL << keyid_bits);  /* any KeyID */
    } else {
        kid = pick_exact_kid(s, cpu);
    }
    mem_load(win(cpu, kid, off), n, got);
    if (!exact_kid(cpu, kid)) {
        s->n_unchecked++;
        return;
    }
    if (model_check(cpu, kid, off, n, got)) {
        s->n_exact++;
    } else {
        s->n_unchecked++;
    }
}

static void op_store(struct cpu_state *s, int cpu)
{
    int n = sizes[below(s, 5)], kid = pick_exact_kid(s, cpu), i;
    uint32_t off = pick_offset(s, cpu, n);
    uint8_t data[16];

    s->what = "store";
    for (i = 0; i < n; i++) {
        data[i] = (uint8_t)rnd(s);
    }
    mem_store(win(cpu, kid, off), n, data);
    model_write(cpu, kid, off, n, data);
}

/*
 * One access through two KeyIDs at once (DESIGN 4.3): PD entry
 * STRADDLE_PDE of the windows points to a page table whose entries 0
 * and 1 map one pool page through KeyIDs a and b, so an access across
 * their boundary uses the end of the page through a and its start
 * through b.
 */
#define STRADDLE_PDE    128
static uint64_t pt_fuzz[SMP_MAX_CPUS][512] __attribute__((aligned(4096)));

static void op_straddle(struct cpu_state *s, int cpu)
{
    int n = sizes[1 + below(s, 4)], first = 1 + (int)below(s, n - 1);
    int a = pick_exact_kid(s, cpu), b = pick_exact_kid(s, cpu), i;
    uint32_t page = (uint32_t)below(s, POOL_PAGES) * 4096;
    uint8_t *va = (uint8_t *)((WIN_GIB + cpu) * GIB +
                              STRADDLE_PDE * 2 * MIB + 4096 - first);
    uint8_t data[16];
    bool store = below(s, 2), exact;

    s->what = store ? "store through two KeyIDs" : "load through two KeyIDs";
    pt_fuzz[cpu][0] = (pool_pa(cpu) + page) | keyid_pa(a) | 0x3;
    pt_fuzz[cpu][1] = (pool_pa(cpu) + page) | keyid_pa(b) | 0x3;
    flush_tlb();
    if (store) {
        for (i = 0; i < n; i++) {
            data[i] = (uint8_t)rnd(s);
        }
        mem_store(va, n, data);
        model_write(cpu, a, page + 4096 - first, first, data);
        model_write(cpu, b, page, n - first, data + first);
        return;
    }
    mem_load(va, n, data);
    exact = model_check(cpu, a, page + 4096 - first, first, data);
    exact |= model_check(cpu, b, page, n - first, data + first);
    s->n_straddle++;
    if (exact) {
        s->n_exact++;
    }
}

/* Code through KeyIDs: "mov $imm32, %eax; ret" in one of 4 slots */
static void op_exec(struct cpu_state *s, int cpu)
{
    uint32_t off = (uint32_t)(below(s, 4) * 4096 * 3 + 0x40 +
                              below(s, 11)), imm = (uint32_t)rnd(s), ret;
    int kid = pick_exact_kid(s, cpu), k2, i;
    uint8_t stub[6] = { 0xb8, imm, imm >> 8, imm >> 16, imm >> 24, 0xc3 };
    uint8_t want[16], f[16];
    uint16_t fm, m;

    s->what = "code fetch";
    for (i = 0; i < 6; i++) {
        mem_store(win(cpu, kid, off + i), 1, stub + i);
    }
    model_write(cpu, kid, off, 6, stub);
    k2 = below(s, 2) ? kid : pick_exact_kid(s, cpu);
    m = block_view(cpu, off / 16, k2, want, f, &fm);
    for (i = 0; i < 6; i++) {
        if (!(m >> (off % 16 + i) & 1) || want[off % 16 + i] != stub[i]) {
            return;     /* the model does not see the stub there */
        }
    }
    ret = ((uint32_t (*)(void))win(cpu, k2, off))();
    s->n_exec++;
    if (ret != imm) {
        fail(cpu, "stub written through KeyID %d, called through KeyID %d "
             "at pool offset 0x%x: returned 0x%x, expected 0x%x", kid, k2,
             off, ret, imm);
    }
}

/* The page directory of this CPU's windows walked through a KeyID */
/*
 * The page directory of this CPU's windows, or (CR3) the PML4, walked
 * through a KeyID that sees the same bytes as KeyID 0 there
 */
static void op_walk(struct cpu_state *s, int cpu)
{
    extern uint64_t pml4[512];
    int kid = pick_exact_kid(s, cpu);
    bool cr3 = below(s, 2);
    uint64_t pa = cr3 ? (uint64_t)pml4 : (uint64_t)pd_fuzz[cpu];
    struct cipher a = cipher_of(kid, pa), b = cipher_of(0, pa);

    s->what = cr3 ? "KeyID in CR3" : "walk";
    if (same_cipher(&a, &b) && a.type != C_RANDOM) {
        if (cr3) {
            set_cr3(cpu, kid);
        } else {
            set_walk(cpu, kid);
        }
        s->n_walk++;
    }
}

/* fw_cfg DMA (KeyID 0's view) of the file directory into the pool */
static spinlock_t dma_lock;
static uint8_t fw_dir[4 + 64 * 64];
static uint32_t fw_dir_len;

static void op_dma(struct cpu_state *s, int cpu)
{
    uint32_t len = 1 + (uint32_t)below(s, fw_dir_len < 600 ? fw_dir_len :
                                       600);
    uint32_t off = (uint32_t)below(s, POOL_BYTES - len + 1), ctl;
    uint64_t pa = pool_pa(cpu) + off;

    if (below(s, 3) == 0) {             /* into a shared block */
        off = pick_shared(s, cpu);
        len = 1 + (uint32_t)below(s, 16);
        off += (uint32_t)below(s, 16 - len + 1);
        pa = block_pa(cpu, off / 16) + off % 16;
    }

    s->what = "DMA";
    s->n_dma++;
    spin_lock(&dma_lock);
    ctl = fw_cfg_dma_read(FW_CFG_FILE_DIR, true, pa, len);
    spin_unlock(&dma_lock);
    if (ctl != 0) {
        fail(cpu, "fw_cfg DMA of %u bytes to pool offset 0x%x: control "
             "0x%x", len, off, ctl);
        return;
    }
    model_write(cpu, 0, off, (int)len, fw_dir);
}

/* Every byte of the pool through KeyID 0 (or, unknown there, its owner) */
static void sweep(struct cpu_state *s, int cpu)
{
    uint8_t got[16];
    uint32_t off;

    s->what = "final sweep";
    for (off = 0; off < POOL_BYTES + SHARED_BLOCKS * 16 && !s->failed;
         off += 16) {
        if (off >= POOL_BYTES && (int)(off / 16 % ncpus) != cpu) {
            continue;
        }
        mem_load(win(cpu, 0, off), 16, got);
        if (model_check(cpu, 0, off, 16, got)) {
            s->n_exact++;
        }
    }
}

static void fuzz_cpu(int cpu, void *arg)
{
    struct cpu_state *s = &cs[cpu];
    uint8_t data[16];
    uint32_t off;
    int i;

    s->rng = seed * 0x9e3779b97f4a7c15ULL ^ (cpu + 1) * 0xd1b54a32d192ed03ULL;
    for (i = 0; i < 512; i++) {
        pd_fuzz[cpu][i] = i < MAX_KEYIDS ?
            pool_pa(cpu) | keyid_pa(i) | 0x83 :
            i < SHARED_WIN + MAX_KEYIDS ?
            SHARED_PA | keyid_pa(i - SHARED_WIN) | 0x83 :
            i == STRADDLE_PDE ? (uint64_t)pt_fuzz[cpu] | 0x3 : 0;
    }
    set_walk(cpu, 0);
    s->what = "fill";
    for (off = 0; off < POOL_BYTES + SHARED_BLOCKS * 16; off += 16) {
        if (off >= POOL_BYTES && (int)(off / 16 % ncpus) != cpu) {
            continue;
        }
        for (i = 0; i < 16; i++) {
            data[i] = (uint8_t)rnd(s);
        }
        mem_store(win(cpu, 0, off), 16, data);
        model_write(cpu, 0, off, 16, data);
    }
    for (s->op = 0; s->op < ops && !s->failed && !any_failed; s->op++) {
        uint64_t w = below(s, 100);

        if (w < 4) {
            op_straddle(s, cpu);
        } else if (w < 35) {
            op_load(s, cpu);
        } else if (w < 65) {
            op_store(s, cpu);
        } else if (w < 75) {
            op_pconfig(s, cpu);
        } else if (w < 78) {
            if (cpu == 0 && below(s, 2)) {
                op_pconfig_legacy(s, cpu);
            } else {
                op_pconfig_keyid(s, cpu);
            }
        } else if (w < 86) {
            op_msr_locked(s, cpu);
        } else if (w < 93) {
            op_exec(s, cpu);
        } else if (w < 97) {
            op_walk(s, cpu);
        } else {
            op_dma(s, cpu);
        }
    }
    if (!s->failed) {
        sweep(s, cpu);
    }
    set_cr3(cpu, 0);
    set_walk(cpu, 0);
    cpu_done[cpu] = 1;
    /*
     * smp_run() gives the APs 120 s after the BSP's part; a long
     * campaign on a busy host may need more: the BSP waits for them
     * here (run-baremetal's timeout still ends a hung run)
     */
    while (cpu == 0 && !any_failed) {
        int i, n = 0;

        for (i = 0; i < ncpus; i++) {
            n += cpu_done[i];
        }
        if (n == ncpus) {
            break;
        }
        cpu_relax();
    }
}

static void core_activate(int cpu, void *arg)
{
    uint64_t v = 0;

    cs[cpu].what = "core activation";
    if (wrmsr_safe(MK_TME_CORE_ACTIVATE, 0) != NO_EXCEPTION ||
        rdmsr_safe(MK_TME_CORE_ACTIVATE, &v) != NO_EXCEPTION ||
        v != keyid_bits << 32) {
        fail(cpu, "MK_TME_CORE_ACTIVATE 0x%lx", v);
    }
    cpu_done[cpu] = 1;
}

static int count_done(void)
{
    int i, n = 0;

    for (i = 0; i < SMP_MAX_CPUS; i++) {
        n += !!cpu_done[i];
        cpu_done[i] = 0;
    }
    return n;
}

static void activate_self(void)
{
    struct cpu_state *s = &cs[0];
    uint64_t v = ACT_ENABLE | keyid_bits << 32 | ACT_ALG_XTS, got = 0;
    int vec;

    s->rng = seed ^ 0x5eed;
    act_value = 0;
    s->what = "MSR before activation";
    for (s->op = 0; s->op < 500 && !s->failed; s->op++) {
        op_msr_unlocked(s, 0);
    }
    /* Whole memory may be excluded: the model follows */
    if (below(s, 2)) {
        v |= ACT_SAVE_KEY;
    }
    s->what = "activation";
    vec = wrmsr_safe(IA32_TME_ACTIVATE, v);
    rdmsr_safe(IA32_TME_ACTIVATE, &got);
    if (vec != NO_EXCEPTION || got != (v | ACT_LOCK)) {
        fail(0, "activation 0x%lx: vector %d, reads 0x%lx", v, vec, got);
    }
    act_value = v | ACT_LOCK;
}

int main(void)
{
    uint8_t raw[32];
    const char *c, *k;
    uint64_t t0, t1, total = 0, exact = 0, unchecked = 0;
    int i, ran, done;
    bool all = true;

    setup_idt();
    aes_init();
    seed = cmdline_opt("seed", 1);
    ops = cmdline_opt("ops", 10000);
    max_bits = cmdline_opt("max-keyid-bits", 6);
    max_keys = cmdline_opt("max-keys", (1ULL << max_bits) - 1);
    phys_bits = cmdline_opt("phys-bits", 46);
    keyid_bits = cmdline_opt("keyid-bits", max_bits);
    self_mode = cmdline_has("self");
    printf("# tme-fuzz seed=%lu ops=%lu %s\n", seed, ops,
           self_mode ? "self" : "firmware");
    check(aes_selftest(), "AES-128 (FIPS-197) and AES-XTS-128 "
          "(IEEE 1619 vectors 1, 2) of the model");
    c = cmdline();
    for (k = c; *k && !(k[0] == 'k' && k[1] == 'e' && k[2] == 'y' &&
                        k[3] == '0' && k[4] == '='); k++) {
    }
    if (!check(*k && parse_hex(k + 5, raw, 32) && max_bits <= 6 &&
               keyid_bits >= 1 && keyid_bits <= max_bits,
               "key0=<TME key> on the command line, at most 6 KeyID bits")) {
        tap_done();
    }
    key_set(&tme_key, raw);
    cap_value = 1 | max_bits << 32 | max_keys << 36;

    ran = smp_start_checked();
    ncpus = smp_cpus();
    if (self_mode) {
        activate_self();
        ran = smp_run(core_activate, NULL);
        i = count_done();
        check(ran == ncpus && i == ncpus && !any_failed,
              "every CPU activated its core (%d of %d)", i, ncpus);
    } else {
        act_value = rdmsr(IA32_TME_ACTIVATE);
        excl_mask = rdmsr(IA32_TME_EXCLUDE_MASK);
        excl_base = rdmsr(IA32_TME_EXCLUDE_BASE);
        check((act_value & 3) == 3 &&
              (act_value >> 32 & 0xf) == keyid_bits,
              "the firmware activated and locked TME with %lu KeyID bits "
              "(0x%lx)", keyid_bits, act_value);
    }
    if (any_failed) {
        tap_done();
    }
    printf("# exclusion base 0x%lx mask 0x%lx, activate 0x%lx\n",
           excl_base, excl_mask, act_value);

    legacy_setup();
    spin_lock(&dma_lock);
    fw_cfg_dma_read(FW_CFG_FILE_DIR, true, (uint64_t)fw_dir, 4);
    fw_dir_len = 4 + 64 * __builtin_bswap32(*(uint32_t *)fw_dir);
    if (fw_dir_len > sizeof(fw_dir)) {
        fw_dir_len = sizeof(fw_dir);
    }
    fw_cfg_dma_read(FW_CFG_FILE_DIR, true, (uint64_t)fw_dir, fw_dir_len);
    spin_unlock(&dma_lock);

    t0 = now_ms();
    ran = smp_run(fuzz_cpu, NULL);
    t1 = now_ms();
    i = count_done();
    for (done = 0; done < ncpus; done++) {
        all &= cs[done].op == ops && cs[done].n_exact > 0;
    }
    check(ran == ncpus && i == ncpus && ncpus == smp_expected_cpus() &&
          (all || any_failed), "every CPU ran its %lu operations and "
          "checked loads: %d of %d", ops, i, smp_expected_cpus());
    for (i = 0; i < ncpus; i++) {
        struct cpu_state *s = &cs[i];

        total += s->op;
        exact += s->n_exact;
        unchecked += s->n_unchecked;
        printf("# cpu %d: %lu ops, %lu exact loads (%lu through two "
               "KeyIDs), %lu unchecked, %lu PCONFIG (%lu compatibility "
               "mode, %lu legacy modes, %lu busy, %lu key changes), %lu "
               "MSR, %lu calls, %lu walks, %lu DMA\n", i, s->op, s->n_exact,
               s->n_straddle, s->n_unchecked, s->n_pconfig, s->n_compat,
               s->n_legacy, s->n_busy, s->n_keychange, s->n_msr, s->n_exec,
               s->n_walk, s->n_dma);
    }
    printf("# %lu operations in %lu ms: %lu ops/s\n", total, t1 - t0,
           total * 1000 / (t1 - t0 + 1));
    check(!any_failed && exact > total / 10,
          "seed %lu: %lu operations on %d CPUs, the model held "
          "(%lu exact loads)", seed, total, ncpus, exact);
    tap_done();
    return 0;
}
