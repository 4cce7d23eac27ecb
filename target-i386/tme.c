/*
 * Intel Total Memory Encryption (TME) and Multi-Key TME: the package
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * One x86-tme object per machine models the package's TME/MKTME
 * hardware: IA32_TME_ACTIVATE, the exclusion range and the TME key are
 * package-wide, and QEMU models one package, so every vCPU shares them.
 * The object also owns the MKTME key table and sets up the memory
 * encryption layer (hw/mem/tme-ram.c) that encrypts guest RAM with them.
 * MK_TME_CORE_ACTIVATE is per core: it lives in CPUX86State.
 *
 * Its properties are the package's configuration.  A user creates it
 * with -object x86-tme,id=...; a CPU with the tme feature and no such
 * object creates one with the defaults, /machine/tme.  The first CPU
 * binds the object: its properties are fixed from then on.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qemu/error-report.h"
#include "qemu/cutils.h"
#include "qemu/guest-random.h"
#include "qemu/main-loop.h"
#include "qemu/thread.h"
#include "qom/object.h"
#include "qom/object_interfaces.h"
#include "crypto/secret_common.h"
#include "migration/vmstate.h"
#include "system/reset.h"
#include "hw/boards.h"
#include "hw/resettable.h"
#include "hw/mem/tme-keytable.h"
#include "hw/mem/tme-ram.h"
#include "cpu.h"
#include "tme.h"

/* x-pconfig-delay: at most one second */
#define TME_PCONFIG_DELAY_LIMIT 1000000

struct X86TME {
    Object parent_obj;
    ResettableState reset_state;

    /* Properties; fixed once a CPU uses the object */
    bool fw_activate;           /* activate: act as the firmware */
    uint8_t max_keyid_bits;     /* max-keyid-bits */
    int64_t max_keys;           /* max-keys, TME_OPT_DERIVED: derived */
    int32_t keyid_bits;         /* keyid-bits, TME_OPT_DERIVED: derived */
    uint64_t fw_exclude_base;   /* exclude-base */
    uint64_t fw_exclude_mask;   /* exclude-mask */
    char *platform_key_secret;  /* x-platform-key: a secret's id */
    bool rng_fail;              /* x-rng-fail */
    uint32_t pconfig_delay_us;  /* x-pconfig-delay */

    bool bound;                 /* a CPU uses it */
    QemuMutex lock;
    uint8_t phys_bits;          /* MAXPHYADDR, as CPUID.80000008H reports */
    uint8_t mig_phys_bits;      /* the source's, in a migration stream */
    uint64_t capability;
    uint8_t platform_key[TME_KEY_BYTES];
    bool has_platform_key;

    /* Guest-visible state, migrated */
    uint64_t activate;          /* IA32_TME_ACTIVATE */
    uint64_t exclude_mask;
    uint64_t exclude_base;
    uint8_t key[TME_KEY_BYTES];             /* KeyID 0 (TME) key */
    uint8_t saved_key[TME_KEY_BYTES];       /* kept for standby resume */

    /* MKTME: the key table that PCONFIG programs, NULL without MKTME */
    TMEKeyTable *keys;
};

OBJECT_DEFINE_SIMPLE_TYPE_WITH_INTERFACES(X86TME, x86_tme, X86_TME, OBJECT,
                                          { TYPE_RESETTABLE_INTERFACE },
                                          { TYPE_USER_CREATABLE },
                                          { })

/*
 * Migration.  Every field is named and travels in big-endian order; the
 * key table travels entry by entry and is checked on the way in, as a
 * stream is input like any other.
 */
static const VMStateDescription vmstate_tme_key_entry = {
    .name = "x86-tme/key-entry",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT8(mode, TMEKeyEntry),
        VMSTATE_UINT8(alg, TMEKeyEntry),
        VMSTATE_UINT8(key_len, TMEKeyEntry),
        VMSTATE_UINT8_ARRAY(data_key, TMEKeyEntry, TME_KEY_FIELD_BYTES),
        VMSTATE_UINT8_ARRAY(tweak_key, TMEKeyEntry, TME_KEY_FIELD_BYTES),
        VMSTATE_END_OF_LIST()
    }
};

static int tme_keytable_post_load(void *opaque, int version_id)
{
    TMEKeyTable *kt = opaque;
    uint32_t i;

    for (i = 0; i < kt->nr_entries; i++) {
        TMEKeyEntry *e = &kt->entries[i];
        const TMEKeyAlgInfo *info = tme_key_alg_info(e->alg);

        if (e->mode > TME_KEY_MODE_NO_ENCRYPT || !info ||
            e->key_len != info->key_bytes) {
            error_report("TME: entry %u of the incoming MKTME key table is"
                         " malformed (mode %u, algorithm %u, key length %u)",
                         i, e->mode, e->alg, e->key_len);
            return -EINVAL;
        }
    }
    return 0;
}

static const VMStateDescription vmstate_tme_keytable_entries = {
    .name = "x86-tme/key-table",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = tme_keytable_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32_EQUAL(nr_entries, TMEKeyTable,
                             "TME: the incoming MKTME key table is not the "
                             "size of this one: use the source's "
                             "max-keyid-bits and max-keys"),
        VMSTATE_STRUCT_VARRAY_POINTER_UINT32(entries, TMEKeyTable,
                                             nr_entries,
                                             vmstate_tme_key_entry,
                                             TMEKeyEntry),
        VMSTATE_END_OF_LIST()
    }
};

static bool tme_keytable_needed(void *opaque)
{
    X86TME *tme = opaque;

    return tme->keys != NULL;
}

static const VMStateDescription vmstate_tme_keytable = {
    .name = "x86-tme/keytable",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = tme_keytable_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT_POINTER(keys, X86TME, vmstate_tme_keytable_entries,
                               TMEKeyTable),
        VMSTATE_END_OF_LIST()
    }
};

/* The memory encryption layer uses the TME key while TME is active */
static void tme_update_ram_key(X86TME *tme)
{
    bool active = (tme->activate & TME_ACTIVATE_LOCK) &&
                  (tme->activate & TME_ACTIVATE_ENABLE);
    unsigned bits = extract64(tme->activate, TME_ACTIVATE_KEYID_BITS_SHIFT, 4);

    /* TME_ACTIVATE_POLICY is TME_POLICY_AES_XTS_128, the only policy */
    tme_ram_set_tme_key(TME_KEY_ALG_AES_XTS_128, active ? tme->key : NULL,
                        tme->exclude_base, tme->exclude_mask,
                        tme->phys_bits - bits, bits);
}

static int tme_pre_save(void *opaque)
{
    X86TME *tme = opaque;

    tme->mig_phys_bits = tme->phys_bits;
    return 0;
}

static int tme_post_load(void *opaque, int version_id)
{
    X86TME *tme = opaque;
    unsigned bits = extract64(tme->activate, TME_ACTIVATE_KEYID_BITS_SHIFT, 4);

    /* KeyIDs are the top bits of MAXPHYADDR: they must stay where they are */
    if ((tme->activate & TME_ACTIVATE_LOCK) && bits &&
        tme->mig_phys_bits != tme->phys_bits) {
        error_report("TME: the incoming guest's MKTME KeyIDs are bits %u-%u"
                     " of physical addresses (phys-bits=%u), here they would"
                     " be bits %u-%u: use the source's phys-bits",
                     tme->mig_phys_bits - bits, tme->mig_phys_bits - 1,
                     tme->mig_phys_bits, tme->phys_bits - bits,
                     tme->phys_bits - 1);
        return -EINVAL;
    }

    if ((tme->activate & TME_ACTIVATE_LOCK) &&
        (tme->activate & TME_ACTIVATE_KEYID_BITS_MASK) &&
        !tme_ram_claim_keyids()) {
        error_report("TME: the incoming guest enabled MKTME KeyIDs other"
                     " than 0, which vhost or vfio devices here forbid");
        return -EPERM;
    }
    tme_update_ram_key(tme);
    return 0;
}

static const VMStateDescription vmstate_x86_tme = {
    .name = "x86-tme",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = tme_pre_save,
    .post_load = tme_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(activate, X86TME),
        VMSTATE_UINT64(exclude_mask, X86TME),
        VMSTATE_UINT64(exclude_base, X86TME),
        VMSTATE_UINT8_ARRAY(key, X86TME, TME_KEY_BYTES),
        VMSTATE_UINT8_ARRAY(saved_key, X86TME, TME_KEY_BYTES),
        VMSTATE_UINT8(mig_phys_bits, X86TME),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_tme_keytable,
        NULL
    }
};

static bool tme_enumerated(CPUX86State *env)
{
    return env_archcpu(env)->tme &&
           (env->features[FEAT_7_0_ECX] & CPUID_7_0_ECX_TME);
}

/* Bits [MAXPHYADDR-1:12] of the exclusion MSRs */
static uint64_t tme_exclude_field(unsigned phys_bits)
{
    return MAKE_64BIT_MASK(12, phys_bits - 12);
}

static bool tme_exclude_mask_valid(X86TME *tme, uint64_t mask)
{
    uint64_t field = tme_exclude_field(tme->phys_bits);
    uint64_t low;

    if (mask & ~(field | TME_EXCLUDE_MASK_ENABLE)) {
        return false;           /* bits 10:0 or above MAXPHYADDR */
    }
    /* The mask must be ones from MAXPHYADDR-1 down, then zeroes */
    low = ~mask & field;
    return ((low + (1ULL << 12)) & low) == 0;
}

static bool tme_exclude_base_valid(X86TME *tme, uint64_t base)
{
    return !(base & ~tme_exclude_field(tme->phys_bits));
}

/* Bits of IA32_TME_ACTIVATE that are reserved on this CPU */
static uint64_t tme_activate_reserved(X86TME *tme)
{
    uint64_t rsvd = MAKE_64BIT_MASK(8, 24) | MAKE_64BIT_MASK(36, 12);

    if (tme->max_keyid_bits == 0) {
        /* MKTME not enumerated: KeyID bits and algorithms are reserved */
        rsvd |= TME_ACTIVATE_KEYID_BITS_MASK | TME_ACTIVATE_CRYPTO_ALGS_MASK;
    } else {
        rsvd |= TME_ACTIVATE_CRYPTO_ALGS_MASK & ~TME_ACTIVATE_ALG_AES_XTS_128;
    }
    return rsvd;
}

static bool tme_key_is_zero(const uint8_t *key)
{
    return buffer_is_zero(key, TME_KEY_BYTES);
}

/*
 * The CPU's random number generator: QEMU's guest RNG, so that -seed
 * makes it reproducible.  x-rng-fail makes it fail.
 */
bool x86_tme_random(X86TME *tme, void *buf, size_t len)
{
    if (tme->rng_fail) {
        return false;
    }
    return qemu_guest_getrandom(buf, len, NULL) == 0;
}

/*
 * Debugging: how long PCONFIG holds KEY_TABLE_LOCK, so that tests on
 * several vCPUs reach DEVICE_BUSY
 */
uint32_t x86_tme_pconfig_delay_us(X86TME *tme)
{
    return tme->pconfig_delay_us;
}

/* A new TME key: x-platform-key replaces the RNG */
static bool tme_generate_key(X86TME *tme, uint8_t *key)
{
    if (tme->has_platform_key) {
        memcpy(key, tme->platform_key, TME_KEY_BYTES);
        return true;
    }
    return x86_tme_random(tme, key, TME_KEY_BYTES);
}

/*
 * WRMSR IA32_TME_ACTIVATE, spec table 4.2.2.  Returns false for #GP.
 * Called with the package lock held.
 */
static bool tme_write_activate(X86TME *tme, uint64_t val)
{
    unsigned policy = extract64(val, 4, 4);
    unsigned keyid_bits = extract64(val, 32, 4);
    uint8_t key[TME_KEY_BYTES];
    bool ok;

    if (tme->activate & TME_ACTIVATE_LOCK) {
        return false;
    }
    if (val & tme_activate_reserved(tme)) {
        return false;
    }
    if (!(tme->capability & (1ULL << policy))) {
        return false;
    }
    if (keyid_bits > tme->max_keyid_bits) {
        return false;
    }
    if (keyid_bits && !(val & TME_ACTIVATE_ENABLE)) {
        return false;
    }

    /* The lock bit is read-only: the written value is ignored */
    val &= ~TME_ACTIVATE_LOCK;
    if (!(val & TME_ACTIVATE_ENABLE)) {
        /* TME disabled, MSR locked */
        tme->activate = val | TME_ACTIVATE_LOCK;
        return true;
    }

    if (val & TME_ACTIVATE_KEY_SELECT) {
        /* Restore the TME key saved for standby; a zero key fails */
        memcpy(key, tme->saved_key, TME_KEY_BYTES);
        ok = !tme_key_is_zero(key);
    } else {
        ok = tme_generate_key(tme, key);
    }

    if (!ok) {
        /*
         * Not enabled and not locked.  With KeyID bits the write is not
         * committed at all; otherwise the other written bits read back.
         */
        if (!keyid_bits) {
            tme->activate = val & ~TME_ACTIVATE_ENABLE;
        }
        return true;
    }
    /* Not architectural: vhost or vfio share RAM as KeyID 0 sees it */
    if (keyid_bits && !tme_ram_claim_keyids()) {
        return false;
    }

    memcpy(tme->key, key, TME_KEY_BYTES);
    if (val & TME_ACTIVATE_SAVE_KEY) {
        memcpy(tme->saved_key, key, TME_KEY_BYTES);
    }
    tme->activate = val | TME_ACTIVATE_LOCK;
    tme_update_ram_key(tme);
    return true;
}

static uint64_t tme_core_value(X86TME *tme)
{
    return tme->activate & TME_ACTIVATE_KEYID_BITS_MASK;
}

/*
 * IA32_MKTME_KEYID_PARTITIONING: read-only, present with MKTME.  It
 * describes the KeyIDs that activation enabled, so it reads 0 until
 * IA32_TME_ACTIVATE is locked with KeyID bits.  Every KeyID but 0 is an
 * MKTME KeyID: there are no TDX private KeyIDs here.
 */
static uint64_t tme_keyid_partitioning(X86TME *tme)
{
    unsigned bits = extract64(tme->activate,
                              TME_ACTIVATE_KEYID_BITS_SHIFT, 4);

    if (!(tme->activate & TME_ACTIVATE_LOCK) ||
        !(tme->activate & TME_ACTIVATE_ENABLE)) {
        return 0;
    }
    return (1ULL << bits) - 1;
}

bool x86_tme_wrmsr(CPUX86State *env, uint32_t msr, uint64_t val)
{
    X86TME *tme = env_archcpu(env)->tme;
    bool ok = false;

    if (!tme_enumerated(env)) {
        return false;
    }

    /*
     * Activation maps the window over the KeyID bits into system memory:
     * the BQL comes before the package lock, as on reset
     */
    BQL_LOCK_GUARD();
    qemu_mutex_lock(&tme->lock);
    switch (msr) {
    case MSR_IA32_TME_CAPABILITY:
    case MSR_IA32_MKTME_KEYID_PARTITIONING:
        break;                          /* read-only */
    case MSR_IA32_TME_ACTIVATE:
        ok = tme_write_activate(tme, val);
        break;
    case MSR_IA32_TME_EXCLUDE_MASK:
        ok = !(tme->activate & TME_ACTIVATE_LOCK) &&
             tme_exclude_mask_valid(tme, val);
        if (ok) {
            tme->exclude_mask = val;
        }
        break;
    case MSR_IA32_TME_EXCLUDE_BASE:
        ok = !(tme->activate & TME_ACTIVATE_LOCK) &&
             tme_exclude_base_valid(tme, val);
        if (ok) {
            tme->exclude_base = val;
        }
        break;
    case MSR_MK_TME_CORE_ACTIVATE:
        /* #GP without MKTME; all bits are reserved or read-only */
        ok = tme->max_keyid_bits != 0 && val == 0;
        if (ok) {
            env->msr_mk_tme_core_activate = tme_core_value(tme);
        }
        break;
    }
    qemu_mutex_unlock(&tme->lock);
    return ok;
}

bool x86_tme_rdmsr(CPUX86State *env, uint32_t msr, uint64_t *val)
{
    X86TME *tme = env_archcpu(env)->tme;
    bool ok = true;

    if (!tme_enumerated(env)) {
        return false;
    }

    qemu_mutex_lock(&tme->lock);
    switch (msr) {
    case MSR_IA32_TME_CAPABILITY:
        *val = tme->capability;
        break;
    case MSR_IA32_MKTME_KEYID_PARTITIONING:
        ok = tme->max_keyid_bits != 0;
        *val = tme_keyid_partitioning(tme);
        break;
    case MSR_IA32_TME_ACTIVATE:
        *val = tme->activate;
        break;
    case MSR_IA32_TME_EXCLUDE_MASK:
        *val = tme->exclude_mask;
        break;
    case MSR_IA32_TME_EXCLUDE_BASE:
        *val = tme->exclude_base;
        break;
    case MSR_MK_TME_CORE_ACTIVATE:
        ok = tme->max_keyid_bits != 0;
        *val = env->msr_mk_tme_core_activate;
        break;
    default:
        ok = false;
    }
    qemu_mutex_unlock(&tme->lock);
    return ok;
}

/*
 * The first SMI locks IA32_TME_ACTIVATE and synchronizes the core's
 * MK_TME_CORE_ACTIVATE with the package (spec 4.2.1, 4.2.3).
 */
void x86_tme_smi(X86CPU *cpu)
{
    X86TME *tme = cpu->tme;

    if (!tme_enumerated(&cpu->env)) {
        return;
    }
    qemu_mutex_lock(&tme->lock);
    tme->activate |= TME_ACTIVATE_LOCK;
    cpu->env.msr_mk_tme_core_activate = tme_core_value(tme);
    qemu_mutex_unlock(&tme->lock);
}

/*
 * Reset, in the enter phase, so that every vCPU's reset (a hold phase)
 * finds the package already reset, whatever the order of registration.
 *
 * A cold reset (machine reset, guest reset) and the wake-up from standby
 * (S3), which QEMU models as a reset that keeps RAM, clear the lock, the
 * activation, the exclusion range and the MKTME keys; the key saved for
 * standby survives.  With activate=on QEMU then does what a BIOS does:
 * program the exclusion range and activate TME (and MKTME), saving the
 * key for standby; on a wake-up it restores the saved key instead of
 * creating one (key select 1, spec 4.2.1), so RAM reads back as it was
 * before standby.  What was written under this boot's keys stays in
 * DRAM, encrypted.
 *
 * The reset before a snapshot is loaded only clears the state: the
 * snapshot brings the package state, the keys and every page's owner,
 * so neither the write-back of RAM nor the firmware's activation (which
 * would consume entropy and change nothing) happen.
 */
static void x86_tme_reset_enter(Object *obj, ResetType type)
{
    X86TME *tme = X86_TME(obj);
    uint64_t val;

    if (type != RESET_TYPE_SNAPSHOT_LOAD) {
        tme_ram_reset();
    }
    qemu_mutex_lock(&tme->lock);
    tme->activate = 0;
    tme->exclude_mask = 0;
    tme->exclude_base = 0;
    memset(tme->key, 0, sizeof(tme->key));
    if (tme->keys) {
        tme_keytable_reset(tme->keys);
    }
    tme_update_ram_key(tme);

    if (tme->fw_activate && type != RESET_TYPE_SNAPSHOT_LOAD) {
        tme->exclude_base = tme->fw_exclude_base;
        tme->exclude_mask = tme->fw_exclude_mask;
        val = TME_ACTIVATE_ENABLE | TME_ACTIVATE_SAVE_KEY |
              ((uint64_t)TME_POLICY_AES_XTS_128 << TME_ACTIVATE_POLICY_SHIFT);
        if (type == RESET_TYPE_WAKEUP) {
            val |= TME_ACTIVATE_KEY_SELECT;
        }
        if (tme->max_keyid_bits) {
            val |= (uint64_t)tme->keyid_bits << TME_ACTIVATE_KEYID_BITS_SHIFT;
            val |= TME_ACTIVATE_ALG_AES_XTS_128;
        }
        tme_write_activate(tme, val);
        if (!(tme->activate & TME_ACTIVATE_LOCK)) {
            warn_report("TME: firmware activation failed (%s)",
                        type == RESET_TYPE_WAKEUP ? "no key saved for standby"
                                                  : "no entropy");
        }
    }
    qemu_mutex_unlock(&tme->lock);
}

/* CPU reset: the firmware writes MK_TME_CORE_ACTIVATE on every core */
void x86_tme_cpu_reset(X86CPU *cpu)
{
    X86TME *tme = cpu->tme;

    cpu->env.msr_mk_tme_core_activate = 0;
    if (tme_enumerated(&cpu->env) && tme->fw_activate &&
        tme->max_keyid_bits) {
        qemu_mutex_lock(&tme->lock);
        cpu->env.msr_mk_tme_core_activate = tme_core_value(tme);
        qemu_mutex_unlock(&tme->lock);
    }
}

/*
 * Properties.  They describe the package, so they are fixed once a CPU
 * uses it; the checks that need the CPU (phys-bits) wait until then.
 */
typedef enum TMEPropKind {
    TME_PROP_BOOL,
    TME_PROP_UINT8,
    TME_PROP_INT32,
    TME_PROP_UINT32,
    TME_PROP_INT64,
    TME_PROP_UINT64,
} TMEPropKind;

typedef struct TMEProp {
    const char *name;
    TMEPropKind kind;
    size_t offset;
    int64_t def;
    const char *desc;
} TMEProp;

static const TMEProp tme_props[] = {
    { "activate", TME_PROP_BOOL, offsetof(X86TME, fw_activate), false,
      "Act as the firmware: activate TME (and MKTME) at every reset" },
    { "max-keyid-bits", TME_PROP_UINT8, offsetof(X86TME, max_keyid_bits), 6,
      "MK_TME_MAX_KEYID_BITS of IA32_TME_CAPABILITY (0: no MKTME)" },
    { "max-keys", TME_PROP_INT64, offsetof(X86TME, max_keys),
      TME_OPT_DERIVED,
      "MK_TME_MAX_KEYS (-1: 2^max-keyid-bits - 1)" },
    { "keyid-bits", TME_PROP_INT32, offsetof(X86TME, keyid_bits),
      TME_OPT_DERIVED,
      "KeyID bits that activate=on enables (-1: max-keyid-bits)" },
    { "exclude-base", TME_PROP_UINT64, offsetof(X86TME, fw_exclude_base), 0,
      "IA32_TME_EXCLUDE_BASE that activate=on programs" },
    { "exclude-mask", TME_PROP_UINT64, offsetof(X86TME, fw_exclude_mask), 0,
      "IA32_TME_EXCLUDE_MASK that activate=on programs" },
    { "x-rng-fail", TME_PROP_BOOL, offsetof(X86TME, rng_fail), false,
      "Testing: the CPU's random number generator fails" },
    { "x-pconfig-delay", TME_PROP_UINT32, offsetof(X86TME, pconfig_delay_us),
      0, "Testing: microseconds PCONFIG holds the key table lock" },
};

static void x86_tme_get_prop(Object *obj, Visitor *v, const char *name,
                             void *opaque, Error **errp)
{
    const TMEProp *p = opaque;
    void *field = (char *)obj + p->offset;

    switch (p->kind) {
    case TME_PROP_BOOL:
        visit_type_bool(v, name, field, errp);
        break;
    case TME_PROP_UINT8:
        visit_type_uint8(v, name, field, errp);
        break;
    case TME_PROP_INT32:
        visit_type_int32(v, name, field, errp);
        break;
    case TME_PROP_UINT32:
        visit_type_uint32(v, name, field, errp);
        break;
    case TME_PROP_INT64:
        visit_type_int64(v, name, field, errp);
        break;
    case TME_PROP_UINT64:
        visit_type_uint64(v, name, field, errp);
        break;
    }
}

static bool x86_tme_check_unbound(X86TME *tme, const char *name,
                                  Error **errp)
{
    if (tme->bound) {
        error_setg(errp, "x86-tme: %s cannot change once the CPUs use the"
                   " package", name);
        return false;
    }
    return true;
}

static void x86_tme_set_prop(Object *obj, Visitor *v, const char *name,
                             void *opaque, Error **errp)
{
    X86TME *tme = X86_TME(obj);
    const TMEProp *p = opaque;
    void *field = (char *)obj + p->offset;
    union {
        bool b;
        uint8_t u8;
        int32_t i32;
        uint32_t u32;
        int64_t i64;
        uint64_t u64;
    } val;
    bool ok = false;

    if (!x86_tme_check_unbound(tme, name, errp)) {
        return;
    }
    switch (p->kind) {
    case TME_PROP_BOOL:
        ok = visit_type_bool(v, name, &val.b, errp);
        break;
    case TME_PROP_UINT8:
        ok = visit_type_uint8(v, name, &val.u8, errp);
        break;
    case TME_PROP_INT32:
        ok = visit_type_int32(v, name, &val.i32, errp);
        break;
    case TME_PROP_UINT32:
        ok = visit_type_uint32(v, name, &val.u32, errp);
        break;
    case TME_PROP_INT64:
        ok = visit_type_int64(v, name, &val.i64, errp);
        break;
    case TME_PROP_UINT64:
        ok = visit_type_uint64(v, name, &val.u64, errp);
        break;
    }
    if (!ok) {
        return;
    }
    switch (p->kind) {
    case TME_PROP_BOOL:
        *(bool *)field = val.b;
        break;
    case TME_PROP_UINT8:
        *(uint8_t *)field = val.u8;
        break;
    case TME_PROP_INT32:
        *(int32_t *)field = val.i32;
        break;
    case TME_PROP_UINT32:
        *(uint32_t *)field = val.u32;
        break;
    case TME_PROP_INT64:
        *(int64_t *)field = val.i64;
        break;
    case TME_PROP_UINT64:
        *(uint64_t *)field = val.u64;
        break;
    }
}

static char *x86_tme_get_platform_key(Object *obj, Error **errp)
{
    return g_strdup(X86_TME(obj)->platform_key_secret);
}

static void x86_tme_set_platform_key(Object *obj, const char *value,
                                     Error **errp)
{
    X86TME *tme = X86_TME(obj);

    if (!x86_tme_check_unbound(tme, "x-platform-key", errp)) {
        return;
    }
    g_free(tme->platform_key_secret);
    tme->platform_key_secret = g_strdup(value);
}

/* The checks that need no CPU; they fill in the derived defaults */
static bool x86_tme_check_options(X86TME *tme, Error **errp)
{
    uint32_t limit;

    if (tme->max_keyid_bits > TME_KEYID_BITS_LIMIT) {
        error_setg(errp, "max-keyid-bits must be at most %d (is %u)",
                   TME_KEYID_BITS_LIMIT, tme->max_keyid_bits);
        return false;
    }
    limit = (1U << tme->max_keyid_bits) - 1;
    if (tme->max_keys == TME_OPT_DERIVED) {
        tme->max_keys = limit;
    } else if (tme->max_keys < 0 || tme->max_keys > limit) {
        error_setg(errp, "max-keys must be at most 2^max-keyid-bits - 1 = %u,"
                   " or -1 for that (is %" PRId64 ")", limit, tme->max_keys);
        return false;
    } else if (tme->max_keyid_bits && !tme->max_keys) {
        error_setg(errp, "max-keys must not be 0 when max-keyid-bits is %u;"
                   " use max-keyid-bits=0 for TME without MKTME",
                   tme->max_keyid_bits);
        return false;
    }
    if (tme->keyid_bits == TME_OPT_DERIVED) {
        tme->keyid_bits = tme->max_keyid_bits;
    } else if (tme->keyid_bits < 0 ||
               tme->keyid_bits > tme->max_keyid_bits) {
        error_setg(errp, "keyid-bits must be at most max-keyid-bits = %u,"
                   " or -1 for that (is %d)", tme->max_keyid_bits,
                   tme->keyid_bits);
        return false;
    }
    if (tme->pconfig_delay_us > TME_PCONFIG_DELAY_LIMIT) {
        /* The vCPU sleeps that long, and a pause of all vCPUs waits */
        error_setg(errp, "x-pconfig-delay must be at most %u microseconds"
                   " (is %u)", TME_PCONFIG_DELAY_LIMIT,
                   tme->pconfig_delay_us);
        return false;
    }
    return true;
}

static void x86_tme_complete(UserCreatable *uc, Error **errp)
{
    bool ambiguous = false;

    /* object-add, or a second -object: there is one package */
    object_resolve_path_type("", TYPE_X86_TME, &ambiguous);
    if (ambiguous) {
        error_setg(errp, "a machine has only one x86-tme object (one"
                   " package)");
        return;
    }
    x86_tme_check_options(X86_TME(uc), errp);
}

/* The package models hardware that CPUs use: it never goes away */
static bool x86_tme_can_be_deleted(UserCreatable *uc)
{
    return !X86_TME(uc)->bound;
}

/* x-platform-key: a secret of exactly the key's size */
static bool x86_tme_load_platform_key(X86TME *tme, Error **errp)
{
    g_autofree uint8_t *data = NULL;
    size_t len;

    if (!tme->platform_key_secret) {
        return true;
    }
    if (qcrypto_secret_lookup(tme->platform_key_secret, &data, &len,
                              errp) < 0) {
        error_prepend(errp, "x-platform-key: ");
        return false;
    }
    if (len != TME_KEY_BYTES) {
        error_setg(errp, "x-platform-key: secret '%s' holds %zu bytes, the"
                   " key is %d (data key, then tweak key)",
                   tme->platform_key_secret, len, TME_KEY_BYTES);
        memset(data, 0, len);
        return false;
    }
    memcpy(tme->platform_key, data, TME_KEY_BYTES);
    memset(data, 0, len);
    tme->has_platform_key = true;
    return true;
}

/* The checks against the first CPU: its phys-bits */
static bool x86_tme_check_cpu(X86TME *tme, X86CPU *cpu, Error **errp)
{
    if (tme->max_keyid_bits + 32 > cpu->phys_bits) {
        error_setg(errp, "max-keyid-bits=%u leaves fewer than 32 address"
                   " bits of phys-bits=%u; raise phys-bits to at least %u",
                   tme->max_keyid_bits, cpu->phys_bits,
                   tme->max_keyid_bits + 32);
        return false;
    }
    tme->phys_bits = cpu->phys_bits;
    if (!tme_exclude_mask_valid(tme, tme->fw_exclude_mask)) {
        error_setg(errp, "exclude-mask=0x%" PRIx64 " is not a valid"
                   " IA32_TME_EXCLUDE_MASK: bit 11 enables, bits %u:12 must"
                   " be ones from the top down, all other bits zero",
                   tme->fw_exclude_mask, cpu->phys_bits - 1);
        return false;
    }
    if (!tme_exclude_base_valid(tme, tme->fw_exclude_base)) {
        error_setg(errp, "exclude-base=0x%" PRIx64 " is not a valid"
                   " IA32_TME_EXCLUDE_BASE: it must be 4 KiB aligned and"
                   " below 2^phys-bits (2^%u)", tme->fw_exclude_base,
                   cpu->phys_bits);
        return false;
    }
    return true;
}

/* The first CPU binds the package: it comes to life */
static bool x86_tme_bind(X86TME *tme, X86CPU *cpu, Error **errp)
{
    if (!x86_tme_check_cpu(tme, cpu, errp) ||
        !x86_tme_load_platform_key(tme, errp) ||
        (tme->fw_activate && tme->keyid_bits &&
         !tme_ram_promise_keyids(errp))) {
        return false;
    }
    tme->capability = TME_CAP_AES_XTS_128 |
        ((uint64_t)tme->max_keyid_bits << TME_CAP_MAX_KEYID_BITS_SHIFT) |
        ((uint64_t)tme->max_keys << TME_CAP_MAX_KEYS_SHIFT);
    if (tme->max_keyid_bits) {
        tme->keys = tme_keytable_new(tme->max_keys);
    }
    tme_ram_init(tme->keys);
    tme->bound = true;

    qemu_register_resettable(OBJECT(tme));
    vmstate_register(NULL, 0, &vmstate_x86_tme, tme);
    return true;
}

/*
 * The machine's package: the one x86-tme object.  @errp is set if there
 * are several; NULL without error if there is none.
 */
static X86TME *x86_tme_find(Error **errp)
{
    bool ambiguous = false;
    Object *obj = object_resolve_path_type("", TYPE_X86_TME, &ambiguous);

    if (ambiguous) {
        error_setg(errp, "a machine has only one x86-tme object (one"
                   " package)");
        return NULL;
    }
    return obj ? X86_TME(obj) : NULL;
}

/* The package in use, or NULL */
X86TME *x86_tme_get(void)
{
    X86TME *tme = x86_tme_find(NULL);

    return tme && tme->bound ? tme : NULL;
}

/* Whether a CPU realized before @cpu lacks the tme feature */
static bool x86_tme_cpu_without(X86CPU *cpu)
{
    CPUState *cs;

    CPU_FOREACH(cs) {
        if (X86_CPU(cs) != cpu && !X86_CPU(cs)->tme) {
            return true;
        }
    }
    return false;
}

bool x86_tme_precheck(X86CPU *cpu, Error **errp)
{
    if ((cpu->env.features[FEAT_7_0_ECX] & CPUID_7_0_ECX_TME) &&
        !tme_key_alg_supported(TME_KEY_ALG_AES_XTS_128)) {
        error_setg(errp, "TME needs AES-XTS-128 from QEMU's crypto layer,"
                   " which this build lacks (configure QEMU with gnutls,"
                   " libgcrypt or nettle)");
        return false;
    }
    return true;
}

bool x86_tme_realize(X86CPU *cpu, Error **errp)
{
    CPUX86State *env = &cpu->env;
    Error *local_err = NULL;
    X86TME *tme = x86_tme_find(&local_err);

    if (local_err) {
        error_propagate(errp, local_err);
        return false;
    }
    if (!(env->features[FEAT_7_0_ECX] & CPUID_7_0_ECX_TME)) {
        if (tme && !tme->bound) {
            error_setg(errp, "the x86-tme object needs the tme CPU feature"
                       " (-cpu ...,+tme)");
            return false;
        }
        if (tme) {
            error_setg(errp, "all CPUs of a machine must have the tme CPU"
                       " feature or none: this CPU lacks it");
            return false;
        }
        return true;
    }
    if (x86_tme_cpu_without(cpu)) {
        error_setg(errp, "all CPUs of a machine must have the tme CPU"
                   " feature or none: this CPU has it, others lack it");
        return false;
    }

    if (!tme) {
        /* -cpu ...,+tme alone: the package with its defaults */
        Object *obj = object_new(TYPE_X86_TME);

        object_property_add_child(qdev_get_machine(), "tme", obj);
        object_unref(obj);
        tme = X86_TME(obj);
        if (!user_creatable_complete(USER_CREATABLE(obj), errp)) {
            object_unparent(obj);
            return false;
        }
    }
    if (!tme->bound) {
        if (!x86_tme_bind(tme, cpu, errp)) {
            return false;
        }
    } else if (tme->phys_bits != cpu->phys_bits) {
        error_setg(errp, "all CPUs of a machine must have the same phys-bits"
                   " with TME (%u, not %u)", tme->phys_bits, cpu->phys_bits);
        return false;
    }
    cpu->tme = tme;
    cpu->tme_max_keyid_bits = tme->max_keyid_bits;
    return true;
}

/*
 * Guest RAM and the 64-bit PCI hole must stay below the KeyID bits: KeyID
 * bits are the top bits of MAXPHYADDR (spec 5.1).
 */
bool x86_tme_check_address_space(X86CPU *cpu, uint64_t max_used_gpa,
                                 Error **errp)
{
    X86TME *tme = cpu->tme;
    unsigned bits, need;

    if (!tme_enumerated(&cpu->env)) {
        return true;
    }
    bits = tme->fw_activate ? tme->keyid_bits : tme->max_keyid_bits;
    if (!bits || !(max_used_gpa >> (cpu->phys_bits - bits))) {
        return true;
    }
    need = 64 - clz64(max_used_gpa) + bits;
    /* 46 is recommended only where it is enough */
    error_setg(errp, "TME: guest RAM and the 64-bit PCI hole end at 0x%"
               PRIx64 ", above the %u address bits that %u KeyID bits leave"
               " of phys-bits=%u; use phys-bits=%u or more%s%s",
               max_used_gpa, cpu->phys_bits - bits, bits, cpu->phys_bits,
               need, need <= 46 ? " (46 is recommended)" : "",
               tme->fw_activate ? " or lower keyid-bits of x86-tme"
                                : " or lower max-keyid-bits of x86-tme");
    return false;
}

void x86_tme_status(X86TME *tme, X86TMEStatus *st)
{
    memset(st, 0, sizeof(*st));
    if (!tme) {
        return;
    }
    qemu_mutex_lock(&tme->lock);
    st->enumerated = true;
    st->max_keyid_bits = tme->max_keyid_bits;
    st->max_keys = tme->max_keys;
    st->activate = tme->activate;
    st->exclude_base = tme->exclude_base;
    st->exclude_mask = tme->exclude_mask;
    qemu_mutex_unlock(&tme->lock);
}

/* The key table and MK_TME_MAX_KEYS; NULL without MKTME */
TMEKeyTable *x86_tme_keytable(X86TME *tme, uint32_t *max_keys)
{
    if (!tme || !tme->keys) {
        return NULL;
    }
    *max_keys = tme->max_keys;
    return tme->keys;
}

/* What PCONFIG checks of the package; false if TME is not enumerated */
bool x86_tme_pconfig_state(CPUX86State *env, uint64_t *activate,
                           uint32_t *max_keys, TMEKeyTable **keys)
{
    X86TME *tme = env_archcpu(env)->tme;

    if (!tme_enumerated(env) || !tme->keys) {
        return false;
    }
    *activate = qatomic_read(&tme->activate);
    *max_keys = tme->max_keys;
    *keys = tme->keys;
    return true;
}

static ResettableState *x86_tme_get_reset_state(Object *obj)
{
    return &X86_TME(obj)->reset_state;
}

static void x86_tme_init(Object *obj)
{
    qemu_mutex_init(&X86_TME(obj)->lock);
}

static void x86_tme_finalize(Object *obj)
{
    X86TME *tme = X86_TME(obj);

    /*
     * A bound package goes away only when QEMU exits and deletes the
     * objects of -object; the RAM layer keeps the key table until then.
     */
    if (tme->bound) {
        qemu_unregister_resettable(obj);
        vmstate_unregister(NULL, &vmstate_x86_tme, tme);
    }
    g_free(tme->platform_key_secret);
    qemu_mutex_destroy(&tme->lock);
}

static void x86_tme_class_init(ObjectClass *oc, const void *data)
{
    ResettableClass *rc = RESETTABLE_CLASS(oc);
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);
    size_t i;

    rc->get_state = x86_tme_get_reset_state;
    rc->phases.enter = x86_tme_reset_enter;
    ucc->complete = x86_tme_complete;
    ucc->can_be_deleted = x86_tme_can_be_deleted;

    for (i = 0; i < ARRAY_SIZE(tme_props); i++) {
        static const char *const types[] = {
            [TME_PROP_BOOL] = "bool",
            [TME_PROP_UINT8] = "uint8",
            [TME_PROP_INT32] = "int32",
            [TME_PROP_UINT32] = "uint32",
            [TME_PROP_INT64] = "int64",
            [TME_PROP_UINT64] = "uint64",
        };
        const TMEProp *p = &tme_props[i];
        ObjectProperty *op;

        op = object_class_property_add(oc, p->name, types[p->kind],
                                       x86_tme_get_prop, x86_tme_set_prop,
                                       NULL, (void *)p);
        object_class_property_set_description(oc, p->name, p->desc);
        switch (p->kind) {
        case TME_PROP_BOOL:
            object_property_set_default_bool(op, p->def);
            break;
        case TME_PROP_INT32:
        case TME_PROP_INT64:
            object_property_set_default_int(op, p->def);
            break;
        default:
            object_property_set_default_uint(op, p->def);
            break;
        }
    }
    object_class_property_add_str(oc, "x-platform-key",
                                  x86_tme_get_platform_key,
                                  x86_tme_set_platform_key);
    object_class_property_set_description(oc, "x-platform-key",
        "Testing: the id of a secret object holding the TME key (32 bytes:"
        " data key, then tweak key), used instead of the random number"
        " generator");
}
