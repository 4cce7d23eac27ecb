/*
 * QTest for Intel TME/MKTME: the tme and pconfig CPU features, the
 * properties of the x86-tme object, CPUID and the phys-bits check
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "qobject/qbool.h"
#include "libqtest.h"

#define CPU_INTEL   "max,vendor=GenuineIntel,phys-bits=46"
#define CPU_TME     CPU_INTEL ",+tme,+pconfig"
/* The package's TME options: properties of the one x86-tme object */
#define TME_OBJ     " -object x86-tme,id=tme0,"
#define TME_PATH    "/objects/tme0"
/* Without -object x86-tme, a +tme CPU makes one with the defaults */
#define TME_DEFAULT "/machine/tme"

#define TME_BIT     13      /* CPUID.7.0:ECX */
#define PCONFIG_BIT 18      /* CPUID.7.0:EDX */

static QTestState *start(const char *cpu)
{
    return qtest_initf("-machine q35 -accel tcg -S -cpu %s", cpu);
}

static char *cpu0_path(QTestState *qts)
{
    QDict *resp = qtest_qmp(qts, "{'execute': 'query-cpus-fast'}");
    QList *cpus = qdict_get_qlist(resp, "return");
    QDict *cpu0 = qobject_to(QDict, qlist_peek(cpus));
    char *path = g_strdup(qdict_get_str(cpu0, "qom-path"));

    qobject_unref(resp);
    return path;
}

/* Property @prop of the object at @path (of CPU 0 if NULL) */
static QObject *qom_get_at(QTestState *qts, const char *path,
                           const char *prop)
{
    g_autofree char *cpu = path ? NULL : cpu0_path(qts);
    QDict *resp = qtest_qmp(qts, "{'execute': 'qom-get', 'arguments':"
                            " {'path': %s, 'property': %s}}",
                            path ? path : cpu, prop);
    QObject *ret = qdict_get(resp, "return");

    g_assert(ret);
    qobject_ref(ret);
    qobject_unref(resp);
    return ret;
}

static QObject *qom_get(QTestState *qts, const char *prop)
{
    return qom_get_at(qts, NULL, prop);
}

static int64_t qom_get_int_at(QTestState *qts, const char *path,
                              const char *prop)
{
    QNum *n = qobject_to(QNum, qom_get_at(qts, path, prop));
    int64_t v;

    g_assert(n && qnum_get_try_int(n, &v));
    qobject_unref(n);
    return v;
}

static bool qom_get_bool_at(QTestState *qts, const char *path,
                            const char *prop)
{
    QBool *b = qobject_to(QBool, qom_get_at(qts, path, prop));
    bool v;

    g_assert(b);
    v = qbool_get_bool(b);
    qobject_unref(b);
    return v;
}

static int64_t qom_get_int(QTestState *qts, const char *prop)
{
    return qom_get_int_at(qts, NULL, prop);
}

static bool qom_get_bool(QTestState *qts, const char *prop)
{
    return qom_get_bool_at(qts, NULL, prop);
}

/* Whether there is an object at @path */
static bool qom_exists(QTestState *qts, const char *path)
{
    QDict *resp = qtest_qmp(qts, "{'execute': 'qom-list', 'arguments':"
                            " {'path': %s}}", path);
    bool found = qdict_haskey(resp, "return");

    qobject_unref(resp);
    return found;
}

/* Bit @bit of the CPUID.7.0 register @reg in feature-words or filtered */
static bool leaf7_bit(QTestState *qts, const char *list, const char *reg,
                      int bit)
{
    QList *words = qobject_to(QList, qom_get(qts, list));
    const QListEntry *e;
    bool found = false, set = false;

    QLIST_FOREACH_ENTRY(words, e) {
        QDict *w = qobject_to(QDict, qlist_entry_obj(e));

        if (qdict_get_int(w, "cpuid-input-eax") == 7 &&
            qdict_haskey(w, "cpuid-input-ecx") &&
            qdict_get_int(w, "cpuid-input-ecx") == 0 &&
            !strcmp(qdict_get_str(w, "cpuid-register"), reg)) {
            found = true;
            set = qdict_get_int(w, "features") & (1ULL << bit);
        }
    }
    g_assert(found);
    qobject_unref(words);
    return set;
}

static void test_flags_on(void)
{
    QTestState *qts = start(CPU_TME);

    g_assert_true(leaf7_bit(qts, "feature-words", "ECX", TME_BIT));
    g_assert_true(leaf7_bit(qts, "feature-words", "EDX", PCONFIG_BIT));
    g_assert_false(leaf7_bit(qts, "filtered-features", "ECX", TME_BIT));
    g_assert_false(leaf7_bit(qts, "filtered-features", "EDX", PCONFIG_BIT));
    g_assert_true(qom_get_bool(qts, "tme"));
    g_assert_true(qom_get_bool(qts, "pconfig"));
    /* Leaf 0x1B must be reachable: the level is raised */
    g_assert_cmpint(qom_get_int(qts, "level"), >=, 0x1b);
    qtest_quit(qts);
}

static void test_flags_off_by_default(void)
{
    QTestState *qts = start("max");

    g_assert_false(leaf7_bit(qts, "feature-words", "ECX", TME_BIT));
    g_assert_false(leaf7_bit(qts, "feature-words", "EDX", PCONFIG_BIT));
    g_assert_false(qom_get_bool(qts, "tme"));
    g_assert_false(qom_get_bool(qts, "pconfig"));
    g_assert_cmpint(qom_get_int(qts, "level"), <, 0x1b);
    qtest_quit(qts);
}

static void test_tme_without_pconfig(void)
{
    QTestState *qts = start(CPU_INTEL ",+tme");

    g_assert_true(leaf7_bit(qts, "feature-words", "ECX", TME_BIT));
    g_assert_false(leaf7_bit(qts, "feature-words", "EDX", PCONFIG_BIT));
    g_assert_cmpint(qom_get_int(qts, "level"), <, 0x1b);
    qtest_quit(qts);
}

/* An explicit level below 0x1B cannot enumerate PCONFIG */
static void test_pconfig_level_too_low(void)
{
    QTestState *qts = start(CPU_TME ",level=0xd");

    g_assert_cmpint(qom_get_int(qts, "level"), ==, 0xd);
    g_assert_false(leaf7_bit(qts, "feature-words", "EDX", PCONFIG_BIT));
    g_assert_true(leaf7_bit(qts, "filtered-features", "EDX", PCONFIG_BIT));
    g_assert_true(leaf7_bit(qts, "feature-words", "ECX", TME_BIT));
    qtest_quit(qts);
}

static void check_defaults(QTestState *qts, const char *path)
{
    g_assert_cmpint(qom_get_int_at(qts, path, "max-keyid-bits"), ==, 6);
    g_assert_cmpint(qom_get_int_at(qts, path, "max-keys"), ==, 63);
    g_assert_cmpint(qom_get_int_at(qts, path, "keyid-bits"), ==, 6);
    g_assert_false(qom_get_bool_at(qts, path, "activate"));
    g_assert_cmpint(qom_get_int_at(qts, path, "exclude-base"), ==, 0);
    g_assert_cmpint(qom_get_int_at(qts, path, "exclude-mask"), ==, 0);
    g_assert_false(qom_get_bool_at(qts, path, "x-rng-fail"));
    g_assert_cmpint(qom_get_int_at(qts, path, "x-pconfig-delay"), ==, 0);
}

/* The defaults: of /machine/tme, or of an x86-tme object without options */
static void test_option_defaults(void)
{
    QTestState *qts = start(CPU_TME);

    check_defaults(qts, TME_DEFAULT);
    qtest_quit(qts);

    qts = start(CPU_TME " -object x86-tme,id=tme0");
    check_defaults(qts, TME_PATH);
    g_assert_false(qom_exists(qts, TME_DEFAULT));
    qtest_quit(qts);

    /* Without the tme feature there is no package */
    qts = start(CPU_INTEL);
    g_assert_false(qom_exists(qts, TME_DEFAULT));
    qtest_quit(qts);
}

static void test_option_derived(void)
{
    QTestState *qts = start(CPU_TME TME_OBJ "max-keyid-bits=4,activate=on");

    g_assert_cmpint(qom_get_int_at(qts, TME_PATH, "max-keys"), ==, 15);
    g_assert_cmpint(qom_get_int_at(qts, TME_PATH, "keyid-bits"), ==, 4);
    g_assert_true(qom_get_bool_at(qts, TME_PATH, "activate"));
    qtest_quit(qts);

    qts = start("max,vendor=GenuineIntel,+tme,+pconfig,phys-bits=52"
                TME_OBJ "max-keyid-bits=15,max-keys=1000,keyid-bits=2,"
                "activate=on");
    g_assert_cmpint(qom_get_int_at(qts, TME_PATH, "max-keys"), ==, 1000);
    g_assert_cmpint(qom_get_int_at(qts, TME_PATH, "keyid-bits"), ==, 2);
    qtest_quit(qts);
}

/* phys-bits 42 leaves 36 bits, just enough for q35's 64-bit PCI hole */
static void test_phys_bits_enough(void)
{
    QTestState *qts = start("max,vendor=GenuineIntel,+tme,+pconfig,"
                            "phys-bits=42" TME_OBJ "activate=on");

    g_assert_cmpint(qom_get_int(qts, "phys-bits"), ==, 42);
    qtest_quit(qts);
}

static void expect_fingerprint_error(QTestState *qts, int keyid,
                                     const char *msg)
{
    QDict *resp = qtest_qmp(qts, "{'execute': 'x-query-tme-key-fingerprint',"
                            " 'arguments': {'keyid': %d}}", keyid);
    QDict *err = qdict_get_qdict(resp, "error");

    g_assert_nonnull(err);
    g_assert_nonnull(strstr(qdict_get_str(err, "desc"), msg));
    qobject_unref(resp);
}

/* The debug view of the key table: a fresh table uses the TME key */
static void test_key_fingerprint(void)
{
    QTestState *qts = start(CPU_TME TME_OBJ "max-keys=10");
    /* SHA-256 of 33 zero bytes: mode 0 (TME key), zero keys */
    const char *zero_fp =
        "7f9c9e31ac8256ca2f258583df262dbc7d6f68f2a03043d5c99a4ae5a7396ce9";
    QDict *resp, *ret;

    resp = qtest_qmp(qts, "{'execute': 'x-query-tme-key-fingerprint',"
                     " 'arguments': {'keyid': 10}}");
    ret = qdict_get_qdict(resp, "return");
    g_assert_nonnull(ret);
    g_assert_cmpint(qdict_get_int(ret, "keyid"), ==, 10);
    g_assert_cmpstr(qdict_get_str(ret, "mode"), ==, "tme-key");
    g_assert_cmpstr(qdict_get_str(ret, "fingerprint"), ==, zero_fp);
    qobject_unref(resp);
    expect_fingerprint_error(qts, 0, "KeyID 0 is out of range");
    expect_fingerprint_error(qts, 11, "KeyID 11 is out of range");
    qtest_quit(qts);

    qts = start(CPU_TME TME_OBJ "max-keyid-bits=0");
    expect_fingerprint_error(qts, 1, "do not enumerate MKTME");
    qtest_quit(qts);
}

/* query-tme and info tme show what the firmware role left */
static void test_query_tme(void)
{
    QTestState *qts = start(CPU_TME TME_OBJ "activate=on,keyid-bits=4,"
                            "exclude-base=0x40000000,"
                            "exclude-mask=0x3fffc0000800");
    QDict *resp = qtest_qmp(qts, "{'execute': 'query-tme'}");
    QDict *ret = qdict_get_qdict(resp, "return");
    QList *algs, *owners;
    QDict *owner;
    g_autofree char *hmp = NULL;

    g_assert_nonnull(ret);
    g_assert_true(qdict_get_bool(ret, "enumerated"));
    g_assert_true(qdict_get_bool(ret, "locked"));
    g_assert_true(qdict_get_bool(ret, "active"));
    g_assert_cmpint(qdict_get_int(ret, "max-keyid-bits"), ==, 6);
    g_assert_cmpint(qdict_get_int(ret, "max-keys"), ==, 63);
    g_assert_cmpint(qdict_get_int(ret, "keyid-bits"), ==, 4);
    g_assert_cmpint(qdict_get_int(ret, "exclude-base"), ==, 0x40000000);
    g_assert_cmpint(qdict_get_int(ret, "exclude-mask"), ==, 0x3fffc0000800);
    g_assert_cmpstr(qdict_get_str(ret, "policy"), ==, "aes-xts-128");
    algs = qdict_get_qlist(ret, "algorithms");
    g_assert_cmpint(qlist_size(algs), ==, 1);
    g_assert_cmpint(qlist_size(qdict_get_qlist(ret, "keyids")), ==, 0);
    /* All of the default 128 MiB of RAM belongs to KeyID 0 */
    g_assert_cmpint(qdict_get_int(ret, "ram-pages"), ==, 128 * 256);
    g_assert_cmpint(qdict_get_int(ret, "dram-pages"), ==, 0);
    g_assert_cmpint(qdict_get_int(ret, "conversions"), ==, 0);
    owners = qdict_get_qlist(ret, "owners");
    g_assert_cmpint(qlist_size(owners), ==, 1);
    owner = qobject_to(QDict, qlist_peek(owners));
    g_assert_cmpint(qdict_get_int(owner, "keyid"), ==, 0);
    g_assert_cmpint(qdict_get_int(owner, "pages"), ==, 128 * 256);
    qobject_unref(resp);
    hmp = qtest_hmp(qts, "info tme");
    g_assert_nonnull(strstr(hmp, "TME: active, locked"));
    g_assert_nonnull(strstr(hmp, "MKTME: 4 of 6 KeyID bits, 63 keys"));
    g_assert_nonnull(strstr(hmp, "RAM: 32768 pages, 0 conversions; owners: "
                            "KeyID 0 32768, DRAM 0"));
    qtest_quit(qts);

    qts = start(CPU_TME);
    resp = qtest_qmp(qts, "{'execute': 'query-tme'}");
    ret = qdict_get_qdict(resp, "return");
    g_assert_true(qdict_get_bool(ret, "enumerated"));
    g_assert_false(qdict_get_bool(ret, "locked"));
    g_assert_false(qdict_get_bool(ret, "active"));
    qobject_unref(resp);
    qtest_quit(qts);

    qts = start("max");
    resp = qtest_qmp(qts, "{'execute': 'query-tme'}");
    ret = qdict_get_qdict(resp, "return");
    g_assert_false(qdict_get_bool(ret, "enumerated"));
    qobject_unref(resp);
    qtest_quit(qts);
}

/*
 * x-tme-dram-save: a page written through KeyID 0 is held in DRAM as
 * AES-XTS-128 under the TME key, tweak = its physical address.  The
 * expected image was computed with python3-cryptography for the fixed
 * platform key below and the page bytes (i * 13 + 7) & 0xff.  The key,
 * 00112233445566778899aabbccddeeff (data key) then
 * ffeeddccbbaa99887766554433221100 (tweak key), is the data of a secret
 * object, in base64, that x-platform-key names.
 */
#define PLATFORM_KEY    " -object secret,id=tmekey,format=base64," \
                        "data=ABEiM0RVZneImaq7zN3u///u3cy7qpmId2ZVRDMiEQA="
#define DRAM_PA         0x800000
#define DRAM_CT_FIRST   "c9d3e11a9a47f7884e9a3dcf6bf77834"
#define DRAM_CT_SHA256  \
    "906062ec07fa5183072f60dbf13dc3ddbb038722cb854cf8079a94c5ff52b09e"

static void dram_save(QTestState *qts, uint64_t addr, uint64_t size,
                      const char *file, const char *error)
{
    QDict *resp = qtest_qmp(qts, "{'execute': 'x-tme-dram-save',"
                            " 'arguments': {'addr': %" PRIu64 ","
                            " 'size': %" PRIu64 ", 'filename': %s}}",
                            addr, size, file);

    if (error) {
        g_assert_nonnull(qdict_get_qdict(resp, "error"));
        g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(resp, "error"),
                                              "desc"), error));
    } else {
        g_assert_nonnull(qdict_get_qdict(resp, "return"));
    }
    qobject_unref(resp);
}

/*
 * The layer manages the RAM mapped when the machine is done: a DIMM
 * plugged at start-up is encrypted, a hot-plugged one is refused.
 */
#define HOT_ADD "{'execute': 'object-add', 'arguments':" \
                " {'qom-type': 'memory-backend-ram', 'id': 'hot'," \
                " 'size': 134217728}}"
#define HOT_PLUG "{'execute': 'device_add', 'arguments':" \
                 " {'driver': 'pc-dimm', 'id': 'd1', 'memdev': 'hot'}}"

static void test_memory_hotplug(void)
{
    const char *cold = "-object memory-backend-ram,id=cold,size=128M"
                       " -device pc-dimm,id=d0,memdev=cold";
    QTestState *qts;
    QDict *resp, *ret;

    qts = qtest_initf("-machine q35 -accel tcg -S -m 128M,slots=2,maxmem=1G"
                      " -cpu " CPU_TME " %s", cold);
    resp = qtest_qmp(qts, "{'execute': 'query-tme'}");
    ret = qdict_get_qdict(resp, "return");
    g_assert_cmpint(qdict_get_int(ret, "ram-pages"), ==, 2 * 128 * 256);
    qobject_unref(resp);
    qobject_unref(qtest_qmp_assert_success_ref(qts, HOT_ADD));
    resp = qtest_qmp(qts, HOT_PLUG);
    g_assert_true(qdict_haskey(resp, "error"));
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(resp, "error"),
                                          "desc"),
                            "memory cannot be hot-plugged while TME"));
    qobject_unref(resp);
    qtest_quit(qts);

    /* The same hot-plug without TME works */
    qts = qtest_initf("-machine q35 -accel tcg -S -m 128M,slots=2,maxmem=1G"
                      " -cpu " CPU_INTEL " %s", cold);
    qobject_unref(qtest_qmp_assert_success_ref(qts, HOT_ADD));
    qobject_unref(qtest_qmp_assert_success_ref(qts, HOT_PLUG));
    qtest_quit(qts);
}

static void test_dram_save(void)
{
    QTestState *qts = start(CPU_TME PLATFORM_KEY
                            TME_OBJ "activate=on,x-platform-key=tmekey");
    g_autofree char *dir = g_dir_make_tmp("tme-test-XXXXXX", NULL);
    g_autofree char *file = g_build_filename(dir, "dram.bin", NULL);
    g_autofree char *nodir = g_build_filename(dir, "no", "dram.bin", NULL);
    g_autofree uint8_t *page = g_malloc(4096);
    g_autofree char *sha = NULL, *first = NULL;
    g_autofree uint8_t *img = NULL, *back = g_malloc(4096);
    gsize len = 0;
    int i;

    for (i = 0; i < 4096; i++) {
        page[i] = i * 13 + 7;
    }
    qtest_memwrite(qts, DRAM_PA, page, 4096);
    dram_save(qts, DRAM_PA, 4096, file, NULL);
    g_assert_true(g_file_get_contents(file, (char **)&img, &len, NULL));
    g_assert_cmpint(len, ==, 4096);
    first = g_malloc0(33);
    for (i = 0; i < 16; i++) {
        snprintf(first + 2 * i, 3, "%02x", img[i]);
    }
    g_assert_cmpstr(first, ==, DRAM_CT_FIRST);
    sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, img, len);
    g_assert_cmpstr(sha, ==, DRAM_CT_SHA256);
    for (i = 0; i < 4096; i += 16) {
        g_assert_null(memmem(img, len, page + i, 16));
    }

    /* Saving does not change what the CPU and devices see */
    qtest_memread(qts, DRAM_PA, back, 4096);
    g_assert_cmpmem(back, 4096, page, 4096);

    dram_save(qts, DRAM_PA, 0, file, "size must not be 0");
    dram_save(qts, 0xfee00000, 4096, file, "is not guest RAM");
    dram_save(qts, DRAM_PA, 4096, nodir, "dram.bin");
    unlink(file);
    rmdir(dir);
    qtest_quit(qts);
}

typedef struct Refusal {
    const char *name;
    const char *machine;
    const char *cpu;
    const char *objects;        /* -object arguments, or NULL */
    const char *message;
    const char *also;           /* a second part of the message, or NULL */
} Refusal;

#define SECRET_B64(id, data) "-object secret,id=" id ",format=base64,data=" data
/* 31 and 33 zero bytes: not the 32 of a key */
#define BYTES_31    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="
#define BYTES_33    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static const Refusal refusals[] = {
    { "phys-bits-q35", "q35", "max,+tme,phys-bits=40",
      "-object x86-tme,id=tme0,activate=on", "use phys-bits=42 or more" },
    { "phys-bits-pc", "pc", "max,+tme,phys-bits=38", NULL,
      "use phys-bits=39 or more (46 is recommended) or lower"
      " max-keyid-bits" },
    { "phys-bits-41", "q35", "max,+tme,phys-bits=41",
      "-object x86-tme,id=tme0,activate=on",
      "above the 35 address bits that 6 KeyID bits leave" },
    { "max-keyid-bits", "q35", CPU_TME,
      "-object x86-tme,id=tme0,max-keyid-bits=16",
      "max-keyid-bits must be at most 15" },
    { "max-keyid-bits-vs-phys-bits", "q35", CPU_TME,
      "-object x86-tme,id=tme0,max-keyid-bits=15",
      "leaves fewer than 32 address bits" },
    { "max-keys", "q35", CPU_TME, "-object x86-tme,id=tme0,max-keys=64",
      "max-keys must be at most" },
    { "max-keys-zero", "q35", CPU_TME, "-object x86-tme,id=tme0,max-keys=0",
      "max-keys must not be 0" },
    { "keyid-bits", "q35", CPU_TME, "-object x86-tme,id=tme0,keyid-bits=7",
      "keyid-bits must be at most max-keyid-bits" },
    { "activate-without-tme", "q35", CPU_INTEL,
      "-object x86-tme,id=tme0,activate=on", "needs the tme CPU feature" },
    { "object-without-tme", "q35", CPU_INTEL, "-object x86-tme,id=tme0",
      "needs the tme CPU feature" },
    { "two-objects", "q35", CPU_TME,
      "-object x86-tme,id=tme0 -object x86-tme,id=tme1",
      "only one x86-tme object" },
    { "exclude-mask", "q35", CPU_TME,
      "-object x86-tme,id=tme0,exclude-mask=0x3fff00f00800",
      "is not a valid IA32_TME_EXCLUDE_MASK" },
    { "exclude-base", "q35", CPU_TME,
      "-object x86-tme,id=tme0,exclude-base=0x1001",
      "is not a valid IA32_TME_EXCLUDE_BASE" },
    { "platform-key", "q35", CPU_TME,
      "-object x86-tme,id=tme0,x-platform-key=nosuchkey",
      "x-platform-key: ", "nosuchkey" },
    { "platform-key-31-bytes", "q35", CPU_TME,
      SECRET_B64("k", BYTES_31) " -object x86-tme,id=tme0,x-platform-key=k",
      "x-platform-key: ", "31" },
    { "platform-key-33-bytes", "q35", CPU_TME,
      SECRET_B64("k", BYTES_33) " -object x86-tme,id=tme0,x-platform-key=k",
      "x-platform-key: ", "33" },
    /* The TME options are no longer -cpu options */
    { "old-cpu-option", "q35", CPU_TME ",tme-activate=on", NULL,
      "tme-activate" },
};

/*
 * Run QEMU, which must exit by itself within 60 seconds; returns its wait
 * status and stderr.
 */
static int run_qemu_to_exit(const char **argv, char **err)
{
    g_autoptr(GError) gerr = NULL;
    GString *buf = g_string_new(NULL);
    char chunk[4096];
    ssize_t n;
    GPid pid;
    int fd, status = -1, i;

    g_assert_true(g_spawn_async_with_pipes(NULL, (char **)argv, NULL,
                                           G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                           NULL, &pid, NULL, NULL, &fd,
                                           &gerr));
    for (i = 0; i < 6000 && waitpid(pid, &status, WNOHANG) == 0; i++) {
        g_usleep(10 * 1000);
    }
    if (i == 6000) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        g_test_message("QEMU did not exit by itself");
        status = -1;
    }
    while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
        g_string_append_len(buf, chunk, n);
    }
    close(fd);
    g_spawn_close_pid(pid);
    *err = g_string_free(buf, false);
    return status;
}

/* QEMU must exit at start-up with a message that says what to change */
static void test_refused(const void *opaque)
{
    const Refusal *r = opaque;
    const char *const head[] = {
        g_getenv("QTEST_QEMU_BINARY"), "-machine", r->machine, "-accel", "tcg",
        "-nodefaults", "-display", "none", "-S", "-monitor", "none",
        "-cpu", r->cpu,
    };
    g_auto(GStrv) objects = g_strsplit(r->objects ? r->objects : "", " ", -1);
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autofree char *err = NULL;
    int status;
    size_t i;

    g_assert_nonnull(head[0]);
    for (i = 0; i < ARRAY_SIZE(head); i++) {
        g_ptr_array_add(argv, (gpointer)head[i]);
    }
    for (i = 0; objects[i]; i++) {
        if (*objects[i]) {
            g_ptr_array_add(argv, objects[i]);
        }
    }
    g_ptr_array_add(argv, NULL);
    status = run_qemu_to_exit((const char **)argv->pdata, &err);
    g_assert_true(status != -1 && WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), !=, 0);
    if (!strstr(err, r->message) || (r->also && !strstr(err, r->also))) {
        g_test_message("stderr: %s", err);
    }
    g_assert_nonnull(strstr(err, r->message));
    if (r->also) {
        g_assert_nonnull(strstr(err, r->also));
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    if (!qtest_has_accel("tcg")) {
        g_test_skip("TME is a TCG feature");
        return g_test_run();
    }

    qtest_add_func("/x86/tme/cpuid/flags-on", test_flags_on);
    qtest_add_func("/x86/tme/cpuid/off-by-default", test_flags_off_by_default);
    qtest_add_func("/x86/tme/cpuid/tme-without-pconfig",
                   test_tme_without_pconfig);
    qtest_add_func("/x86/tme/cpuid/pconfig-level-too-low",
                   test_pconfig_level_too_low);
    qtest_add_func("/x86/tme/options/defaults", test_option_defaults);
    qtest_add_func("/x86/tme/options/derived", test_option_derived);
    qtest_add_func("/x86/tme/phys-bits/enough", test_phys_bits_enough);
    qtest_add_func("/x86/tme/qmp/key-fingerprint", test_key_fingerprint);
    qtest_add_func("/x86/tme/qmp/query-tme", test_query_tme);
    qtest_add_func("/x86/tme/qmp/dram-save", test_dram_save);
    qtest_add_func("/x86/tme/memory-hotplug", test_memory_hotplug);
    for (size_t i = 0; i < ARRAY_SIZE(refusals); i++) {
        g_autofree char *name = g_strdup_printf("/x86/tme/refused/%s",
                                                refusals[i].name);
        qtest_add_data_func(name, &refusals[i], test_refused);
    }
    return g_test_run();
}
