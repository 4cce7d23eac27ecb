/*
 * Intel Total Memory Encryption (TME) and Multi-Key TME: MSRs, activation
 * and the firmware's role
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * IA32_TME_ACTIVATE, the exclusion range and the TME key are package-wide:
 * QEMU models one package per machine, so one state is shared by every
 * vCPU.  MK_TME_CORE_ACTIVATE is per core (per vCPU).
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/cutils.h"
#include "qemu/guest-random.h"
#include "qemu/thread.h"
#include "migration/vmstate.h"
#include "system/reset.h"
#include "hw/resettable.h"
#include "qom/object.h"
#include "hw/mem/tme-keytable.h"
#include "hw/mem/tme-ram.h"
#include "cpu.h"
#include "tme.h"

#define TYPE_X86_TME_PACKAGE "x86-tme-package"
OBJECT_DECLARE_SIMPLE_TYPE(X86TMEPackage, X86_TME_PACKAGE)

struct X86TMEPackage {
    Object parent_obj;
    ResettableState reset_state;

    QemuMutex lock;
    X86TMEOptions opts;         /* of the first CPU; all CPUs must agree */
    uint8_t phys_bits;          /* MAXPHYADDR, as CPUID.80000008H reports */
    uint8_t mig_phys_bits;      /* the source's, in a migration stream */
    uint64_t capability;
    uint8_t platform_key[TME_KEY_BYTES];    /* x-tme-platform-key */
    bool has_platform_key;

    /* Guest-visible state, migrated */
    uint64_t activate;
    uint64_t exclude_mask;
    uint64_t exclude_base;
    uint8_t key[TME_KEY_BYTES];             /* KeyID 0 (TME) key */
    uint8_t saved_key[TME_KEY_BYTES];       /* kept for standby resume */

    /* MKTME: the key table that PCONFIG programs, NULL without MKTME */
    TMEKeyTable *keys;
    uint8_t *key_entries;                   /* for migration */
    uint32_t key_entries_size;
};

OBJECT_DEFINE_SIMPLE_TYPE_WITH_INTERFACES(X86TMEPackage, tme_package,
                                          X86_TME_PACKAGE, OBJECT,
                                          { TYPE_RESETTABLE_INTERFACE },
                                          { })

static X86TMEPackage *tme_pkg;
/* A CPU without the tme feature was realized: none may have it then */
static bool tme_cpu_without;

static bool tme_keytable_needed(void *opaque)
{
    X86TMEPackage *pkg = opaque;

    return pkg->keys != NULL;
}

/*
 * The entries are bytes only, so they travel as one buffer.  Its size
 * travels first: the buffer's own size comes from this side, so a key
 * table of another size (other tme-max-keyid-bits or tme-max-keys) would
 * otherwise be read short or long and fail later without saying why.
 */
static const VMStateDescription vmstate_tme_keytable = {
    .name = "x86-tme-package/keytable",
    .version_id = 2,
    .minimum_version_id = 2,
    .needed = tme_keytable_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32_EQUAL(key_entries_size, X86TMEPackage,
                             "TME: the incoming MKTME key table is not the "
                             "size of this one: use the source's "
                             "tme-max-keyid-bits and tme-max-keys"),
        VMSTATE_VBUFFER_UINT32(key_entries, X86TMEPackage, 1, NULL,
                               key_entries_size),
        VMSTATE_END_OF_LIST()
    }
};

/* The memory encryption layer uses the TME key while TME is active */
static void tme_update_ram_key(X86TMEPackage *pkg)
{
    bool active = (pkg->activate & TME_ACTIVATE_LOCK) &&
                  (pkg->activate & TME_ACTIVATE_ENABLE);
    unsigned bits = extract64(pkg->activate, TME_ACTIVATE_KEYID_BITS_SHIFT, 4);

    /* TME_ACTIVATE_POLICY is TME_POLICY_AES_XTS_128, the only policy */
    tme_ram_set_tme_key(TME_KEY_ALG_AES_XTS_128, active ? pkg->key : NULL,
                        pkg->exclude_base, pkg->exclude_mask,
                        pkg->phys_bits - bits, bits);
}

static int tme_package_pre_save(void *opaque)
{
    X86TMEPackage *pkg = opaque;

    pkg->mig_phys_bits = pkg->phys_bits;
    return 0;
}

static int tme_package_post_load(void *opaque, int version_id)
{
    X86TMEPackage *pkg = opaque;
    unsigned bits = extract64(pkg->activate, TME_ACTIVATE_KEYID_BITS_SHIFT, 4);

    /* KeyIDs are the top bits of MAXPHYADDR: they must stay where they are */
    if ((pkg->activate & TME_ACTIVATE_LOCK) && bits &&
        pkg->mig_phys_bits != pkg->phys_bits) {
        error_report("TME: the incoming guest's MKTME KeyIDs are bits %u-%u"
                     " of physical addresses (phys-bits=%u), here they would"
                     " be bits %u-%u: use the source's phys-bits",
                     pkg->mig_phys_bits - bits, pkg->mig_phys_bits - 1,
                     pkg->mig_phys_bits, pkg->phys_bits - bits,
                     pkg->phys_bits - 1);
        return -EINVAL;
    }

    if ((pkg->activate & TME_ACTIVATE_LOCK) &&
        (pkg->activate & TME_ACTIVATE_KEYID_BITS_MASK) &&
        !tme_ram_claim_keyids()) {
        error_report("TME: the incoming guest enabled MKTME KeyIDs other"
                     " than 0, which vhost or vfio devices here forbid");
        return -EPERM;
    }
    tme_update_ram_key(pkg);
    return 0;
}

static const VMStateDescription vmstate_tme_package = {
    .name = "x86-tme-package",
    .version_id = 2,
    .minimum_version_id = 2,
    .pre_save = tme_package_pre_save,
    .post_load = tme_package_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(activate, X86TMEPackage),
        VMSTATE_UINT64(exclude_mask, X86TMEPackage),
        VMSTATE_UINT64(exclude_base, X86TMEPackage),
        VMSTATE_UINT8_ARRAY(key, X86TMEPackage, TME_KEY_BYTES),
        VMSTATE_UINT8_ARRAY(saved_key, X86TMEPackage, TME_KEY_BYTES),
        VMSTATE_UINT8(mig_phys_bits, X86TMEPackage),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_tme_keytable,
        NULL
    }
};

static bool tme_enumerated(CPUX86State *env)
{
    return tme_pkg && (env->features[FEAT_7_0_ECX] & CPUID_7_0_ECX_TME);
}

static unsigned tme_max_keyid_bits(void)
{
    return tme_pkg->opts.max_keyid_bits;
}

/* Bits [MAXPHYADDR-1:12] of the exclusion MSRs */
static uint64_t tme_exclude_field(void)
{
    return MAKE_64BIT_MASK(12, tme_pkg->phys_bits - 12);
}

static bool tme_exclude_mask_valid(uint64_t mask)
{
    uint64_t field = tme_exclude_field();
    uint64_t low;

    if (mask & ~(field | TME_EXCLUDE_MASK_ENABLE)) {
        return false;           /* bits 10:0 or above MAXPHYADDR */
    }
    /* The mask must be ones from MAXPHYADDR-1 down, then zeroes */
    low = ~mask & field;
    return ((low + (1ULL << 12)) & low) == 0;
}

static bool tme_exclude_base_valid(uint64_t base)
{
    return !(base & ~tme_exclude_field());
}

/* Bits of IA32_TME_ACTIVATE that are reserved on this CPU */
static uint64_t tme_activate_reserved(void)
{
    uint64_t rsvd = MAKE_64BIT_MASK(8, 24) | MAKE_64BIT_MASK(36, 12);

    if (tme_max_keyid_bits() == 0) {
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
 * makes it reproducible.  x-tme-rng-fail makes it fail.
 */
bool x86_tme_random(void *buf, size_t len)
{
    if (!tme_pkg || tme_pkg->opts.rng_fail) {
        return false;
    }
    return qemu_guest_getrandom(buf, len, NULL) == 0;
}

/*
 * Debugging: how long PCONFIG holds KEY_TABLE_LOCK, so that tests on
 * several vCPUs reach DEVICE_BUSY
 */
uint32_t x86_tme_pconfig_delay_us(void)
{
    return tme_pkg ? tme_pkg->opts.pconfig_delay_us : 0;
}

/* A new TME key: x-tme-platform-key replaces the RNG */
static bool tme_generate_key(uint8_t *key)
{
    if (tme_pkg->has_platform_key) {
        memcpy(key, tme_pkg->platform_key, TME_KEY_BYTES);
        return true;
    }
    return x86_tme_random(key, TME_KEY_BYTES);
}

/*
 * WRMSR IA32_TME_ACTIVATE, spec table 4.2.2.  Returns false for #GP.
 * Called with the package lock held.
 */
static bool tme_write_activate(uint64_t val)
{
    unsigned policy = extract64(val, 4, 4);
    unsigned keyid_bits = extract64(val, 32, 4);
    uint8_t key[TME_KEY_BYTES];
    bool ok;

    if (tme_pkg->activate & TME_ACTIVATE_LOCK) {
        return false;
    }
    if (val & tme_activate_reserved()) {
        return false;
    }
    if (!(tme_pkg->capability & (1ULL << policy))) {
        return false;
    }
    if (keyid_bits > tme_max_keyid_bits()) {
        return false;
    }
    if (keyid_bits && !(val & TME_ACTIVATE_ENABLE)) {
        return false;
    }

    /* The lock bit is read-only: the written value is ignored */
    val &= ~TME_ACTIVATE_LOCK;
    if (!(val & TME_ACTIVATE_ENABLE)) {
        /* TME disabled, MSR locked */
        tme_pkg->activate = val | TME_ACTIVATE_LOCK;
        return true;
    }

    if (val & TME_ACTIVATE_KEY_SELECT) {
        /* Restore the TME key saved for standby; a zero key fails */
        memcpy(key, tme_pkg->saved_key, TME_KEY_BYTES);
        ok = !tme_key_is_zero(key);
    } else {
        ok = tme_generate_key(key);
    }

    if (!ok) {
        /*
         * Not enabled and not locked.  With KeyID bits the write is not
         * committed at all; otherwise the other written bits read back.
         */
        if (!keyid_bits) {
            tme_pkg->activate = val & ~TME_ACTIVATE_ENABLE;
        }
        return true;
    }
    /* Not architectural: vhost or vfio share RAM as KeyID 0 sees it */
    if (keyid_bits && !tme_ram_claim_keyids()) {
        return false;
    }

    memcpy(tme_pkg->key, key, TME_KEY_BYTES);
    if (val & TME_ACTIVATE_SAVE_KEY) {
        memcpy(tme_pkg->saved_key, key, TME_KEY_BYTES);
    }
    tme_pkg->activate = val | TME_ACTIVATE_LOCK;
    tme_update_ram_key(tme_pkg);
    return true;
}

static uint64_t tme_core_value(void)
{
    return tme_pkg->activate & TME_ACTIVATE_KEYID_BITS_MASK;
}

/*
 * IA32_MKTME_KEYID_PARTITIONING: read-only, present with MKTME.  It
 * describes the KeyIDs that activation enabled, so it reads 0 until
 * IA32_TME_ACTIVATE is locked with KeyID bits.  Every KeyID but 0 is an
 * MKTME KeyID: there are no TDX private KeyIDs here.
 */
static uint64_t tme_keyid_partitioning(void)
{
    unsigned bits = extract64(tme_pkg->activate,
                              TME_ACTIVATE_KEYID_BITS_SHIFT, 4);

    if (!(tme_pkg->activate & TME_ACTIVATE_LOCK) ||
        !(tme_pkg->activate & TME_ACTIVATE_ENABLE)) {
        return 0;
    }
    return (1ULL << bits) - 1;
}

bool x86_tme_wrmsr(CPUX86State *env, uint32_t msr, uint64_t val)
{
    bool ok = false;

    if (!tme_enumerated(env)) {
        return false;
    }

    qemu_mutex_lock(&tme_pkg->lock);
    switch (msr) {
    case MSR_IA32_TME_CAPABILITY:
    case MSR_IA32_MKTME_KEYID_PARTITIONING:
        break;                          /* read-only */
    case MSR_IA32_TME_ACTIVATE:
        ok = tme_write_activate(val);
        break;
    case MSR_IA32_TME_EXCLUDE_MASK:
        ok = !(tme_pkg->activate & TME_ACTIVATE_LOCK) &&
             tme_exclude_mask_valid(val);
        if (ok) {
            tme_pkg->exclude_mask = val;
        }
        break;
    case MSR_IA32_TME_EXCLUDE_BASE:
        ok = !(tme_pkg->activate & TME_ACTIVATE_LOCK) &&
             tme_exclude_base_valid(val);
        if (ok) {
            tme_pkg->exclude_base = val;
        }
        break;
    case MSR_MK_TME_CORE_ACTIVATE:
        /* #GP without MKTME; all bits are reserved or read-only */
        ok = tme_max_keyid_bits() != 0 && val == 0;
        if (ok) {
            env->msr_mk_tme_core_activate = tme_core_value();
        }
        break;
    }
    qemu_mutex_unlock(&tme_pkg->lock);
    return ok;
}

bool x86_tme_rdmsr(CPUX86State *env, uint32_t msr, uint64_t *val)
{
    bool ok = true;

    if (!tme_enumerated(env)) {
        return false;
    }

    qemu_mutex_lock(&tme_pkg->lock);
    switch (msr) {
    case MSR_IA32_TME_CAPABILITY:
        *val = tme_pkg->capability;
        break;
    case MSR_IA32_MKTME_KEYID_PARTITIONING:
        ok = tme_max_keyid_bits() != 0;
        *val = tme_keyid_partitioning();
        break;
    case MSR_IA32_TME_ACTIVATE:
        *val = tme_pkg->activate;
        break;
    case MSR_IA32_TME_EXCLUDE_MASK:
        *val = tme_pkg->exclude_mask;
        break;
    case MSR_IA32_TME_EXCLUDE_BASE:
        *val = tme_pkg->exclude_base;
        break;
    case MSR_MK_TME_CORE_ACTIVATE:
        ok = tme_max_keyid_bits() != 0;
        *val = env->msr_mk_tme_core_activate;
        break;
    default:
        ok = false;
    }
    qemu_mutex_unlock(&tme_pkg->lock);
    return ok;
}

/*
 * The first SMI locks IA32_TME_ACTIVATE and synchronizes the core's
 * MK_TME_CORE_ACTIVATE with the package (spec 4.2.1, 4.2.3).
 */
void x86_tme_smi(X86CPU *cpu)
{
    CPUX86State *env = &cpu->env;

    if (!tme_enumerated(env)) {
        return;
    }
    qemu_mutex_lock(&tme_pkg->lock);
    tme_pkg->activate |= TME_ACTIVATE_LOCK;
    env->msr_mk_tme_core_activate = tme_core_value();
    qemu_mutex_unlock(&tme_pkg->lock);
}

/*
 * Machine reset, and the wake-up from standby (S3), which QEMU models as
 * a reset that keeps RAM: the lock, the activation and the MKTME keys are
 * cleared, the key saved for standby survives.  With tme-activate=on QEMU
 * then does what a BIOS does: program the exclusion range and activate
 * TME (and MKTME), saving the key for standby; on a wake-up it restores
 * the saved key instead of creating one (key select 1, spec 4.2.1), so
 * RAM reads back as it was before standby.
 */
static void tme_package_reset_hold(Object *obj, ResetType type)
{
    X86TMEPackage *pkg = X86_TME_PACKAGE(obj);
    const X86TMEOptions *o = &pkg->opts;
    uint64_t val;

    /* What was written under this boot's keys stays in DRAM encrypted */
    tme_ram_reset();
    qemu_mutex_lock(&pkg->lock);
    pkg->activate = 0;
    pkg->exclude_mask = 0;
    pkg->exclude_base = 0;
    memset(pkg->key, 0, sizeof(pkg->key));
    if (pkg->keys) {
        tme_keytable_reset(pkg->keys);
    }
    tme_update_ram_key(pkg);

    if (o->activate) {
        pkg->exclude_base = o->exclude_base;
        pkg->exclude_mask = o->exclude_mask;
        val = TME_ACTIVATE_ENABLE | TME_ACTIVATE_SAVE_KEY |
              ((uint64_t)TME_POLICY_AES_XTS_128 << TME_ACTIVATE_POLICY_SHIFT);
        if (type == RESET_TYPE_WAKEUP) {
            val |= TME_ACTIVATE_KEY_SELECT;
        }
        if (o->max_keyid_bits) {
            val |= (uint64_t)o->keyid_bits << TME_ACTIVATE_KEYID_BITS_SHIFT;
            val |= TME_ACTIVATE_ALG_AES_XTS_128;
        }
        tme_write_activate(val);
        if (!(pkg->activate & TME_ACTIVATE_LOCK)) {
            warn_report("TME: firmware activation failed (%s)",
                        type == RESET_TYPE_WAKEUP ? "no key saved for standby"
                                                  : "no entropy");
        }
    }
    qemu_mutex_unlock(&pkg->lock);
}

/* CPU reset: the firmware writes MK_TME_CORE_ACTIVATE on every core */
void x86_tme_cpu_reset(X86CPU *cpu)
{
    CPUX86State *env = &cpu->env;

    env->msr_mk_tme_core_activate = 0;
    if (tme_enumerated(env) && tme_pkg->opts.activate &&
        tme_max_keyid_bits()) {
        qemu_mutex_lock(&tme_pkg->lock);
        env->msr_mk_tme_core_activate = tme_core_value();
        qemu_mutex_unlock(&tme_pkg->lock);
    }
}

static bool tme_parse_key(const char *str, uint8_t *key, Error **errp)
{
    int i;

    if (strlen(str) != TME_KEY_BYTES * 2) {
        goto bad;
    }
    for (i = 0; i < TME_KEY_BYTES * 2; i++) {
        int v = g_ascii_xdigit_value(str[i]);

        if (v < 0) {
            goto bad;
        }
        if (i & 1) {
            key[i / 2] |= v;
        } else {
            key[i / 2] = v << 4;
        }
    }
    return true;
bad:
    error_setg(errp, "x-tme-platform-key must be %d hex digits "
               "(data key, then tweak key)", TME_KEY_BYTES * 2);
    return false;
}

/* x-tme-pconfig-delay: at most one second */
#define TME_PCONFIG_DELAY_LIMIT 1000000

/* Check the -cpu options and fill in their derived defaults */
static bool tme_check_options(X86CPU *cpu, Error **errp)
{
    X86TMEOptions *o = &cpu->tme;
    uint32_t limit;

    if (o->max_keyid_bits > TME_KEYID_BITS_LIMIT) {
        error_setg(errp, "tme-max-keyid-bits must be at most %d (is %u)",
                   TME_KEYID_BITS_LIMIT, o->max_keyid_bits);
        return false;
    }
    limit = (1U << o->max_keyid_bits) - 1;
    if (o->max_keys == TME_OPT_DERIVED) {
        o->max_keys = limit;
    } else if (o->max_keys < 0 || o->max_keys > limit) {
        error_setg(errp, "tme-max-keys must be at most 2^tme-max-keyid-bits"
                   " - 1 = %u, or -1 for that (is %" PRId64 ")", limit,
                   o->max_keys);
        return false;
    } else if (o->max_keyid_bits && !o->max_keys) {
        error_setg(errp, "tme-max-keys must not be 0 when tme-max-keyid-bits"
                   " is %u; use tme-max-keyid-bits=0 for TME without MKTME",
                   o->max_keyid_bits);
        return false;
    }
    if (o->keyid_bits == TME_OPT_DERIVED) {
        o->keyid_bits = o->max_keyid_bits;
    } else if (o->keyid_bits < 0 || o->keyid_bits > o->max_keyid_bits) {
        error_setg(errp, "tme-keyid-bits must be at most tme-max-keyid-bits"
                   " = %u, or -1 for that (is %d)", o->max_keyid_bits,
                   o->keyid_bits);
        return false;
    }
    if (o->pconfig_delay_us > TME_PCONFIG_DELAY_LIMIT) {
        /* The vCPU sleeps that long, and a pause of all vCPUs waits */
        error_setg(errp, "x-tme-pconfig-delay must be at most %u"
                   " microseconds (is %u)", TME_PCONFIG_DELAY_LIMIT,
                   o->pconfig_delay_us);
        return false;
    }
    if (o->max_keyid_bits + 32 > cpu->phys_bits) {
        error_setg(errp, "tme-max-keyid-bits=%u leaves fewer than 32 address"
                   " bits of phys-bits=%u; raise phys-bits to at least %u",
                   o->max_keyid_bits, cpu->phys_bits, o->max_keyid_bits + 32);
        return false;
    }
    return true;
}

static bool tme_check_exclusion(X86CPU *cpu, Error **errp)
{
    X86TMEOptions *o = &cpu->tme;

    if (!tme_exclude_mask_valid(o->exclude_mask)) {
        error_setg(errp, "tme-exclude-mask=0x%" PRIx64 " is not a valid"
                   " IA32_TME_EXCLUDE_MASK: bit 11 enables, bits %u:12 must"
                   " be ones from the top down, all other bits zero",
                   o->exclude_mask, cpu->phys_bits - 1);
        return false;
    }
    if (!tme_exclude_base_valid(o->exclude_base)) {
        error_setg(errp, "tme-exclude-base=0x%" PRIx64 " is not a valid"
                   " IA32_TME_EXCLUDE_BASE: it must be 4 KiB aligned and"
                   " below 2^phys-bits (2^%u)", o->exclude_base,
                   cpu->phys_bits);
        return false;
    }
    return true;
}

static bool tme_same_options(const X86TMEOptions *a, const X86TMEOptions *b)
{
    return a->max_keyid_bits == b->max_keyid_bits &&
           a->max_keys == b->max_keys &&
           a->activate == b->activate &&
           a->keyid_bits == b->keyid_bits &&
           a->exclude_base == b->exclude_base &&
           a->exclude_mask == b->exclude_mask &&
           a->rng_fail == b->rng_fail &&
           a->pconfig_delay_us == b->pconfig_delay_us &&
           !g_strcmp0(a->platform_key, b->platform_key);
}

static ResettableState *tme_package_get_reset_state(Object *obj)
{
    return &X86_TME_PACKAGE(obj)->reset_state;
}

static void tme_package_init(Object *obj)
{
}

static void tme_package_finalize(Object *obj)
{
}

static void tme_package_class_init(ObjectClass *oc, const void *data)
{
    ResettableClass *rc = RESETTABLE_CLASS(oc);

    rc->get_state = tme_package_get_reset_state;
    rc->phases.hold = tme_package_reset_hold;
}

/* The first TME option set to other than its default, or NULL */
static const char *tme_option_set(const X86TMEOptions *o)
{
    if (o->activate) {
        return "tme-activate=on";
    } else if (o->max_keyid_bits != 6) {     /* the default in cpu.c */
        return "tme-max-keyid-bits";
    } else if (o->max_keys != TME_OPT_DERIVED) {
        return "tme-max-keys";
    } else if (o->keyid_bits != TME_OPT_DERIVED) {
        return "tme-keyid-bits";
    } else if (o->exclude_base) {
        return "tme-exclude-base";
    } else if (o->exclude_mask) {
        return "tme-exclude-mask";
    } else if (o->platform_key) {
        return "x-tme-platform-key";
    } else if (o->rng_fail) {
        return "x-tme-rng-fail";
    } else if (o->pconfig_delay_us) {
        return "x-tme-pconfig-delay";
    }
    return NULL;
}

bool x86_tme_realize(X86CPU *cpu, Error **errp)
{
    CPUX86State *env = &cpu->env;
    X86TMEPackage *pkg;

    if (!(env->features[FEAT_7_0_ECX] & CPUID_7_0_ECX_TME)) {
        const char *opt = tme_option_set(&cpu->tme);

        /* An option that would do nothing is a mistake: say so */
        if (opt) {
            error_setg(errp, "%s needs the tme CPU feature (-cpu ...,+tme)",
                       opt);
            return false;
        }
        if (tme_pkg) {
            error_setg(errp, "all CPUs of a machine must have the same TME"
                       " options and phys-bits: this CPU lacks the tme CPU"
                       " feature that the others have");
            return false;
        }
        tme_cpu_without = true;
        return true;
    }
    if (!tme_key_alg_supported(TME_KEY_ALG_AES_XTS_128)) {
        error_setg(errp, "TME needs AES-XTS-128 from QEMU's crypto layer,"
                   " which this build lacks (configure QEMU with gnutls,"
                   " libgcrypt or nettle)");
        return false;
    }
    if (!tme_check_options(cpu, errp)) {
        return false;
    }

    if (tme_cpu_without) {
        error_setg(errp, "all CPUs of a machine must have the same TME"
                   " options and phys-bits: this CPU has the tme CPU feature"
                   " that the others lack");
        return false;
    }
    if (tme_pkg) {
        if (!tme_same_options(&tme_pkg->opts, &cpu->tme) ||
            tme_pkg->phys_bits != cpu->phys_bits) {
            error_setg(errp, "all CPUs of a machine must have the same TME"
                       " options and phys-bits");
            return false;
        }
        return true;
    }

    pkg = X86_TME_PACKAGE(object_new(TYPE_X86_TME_PACKAGE));
    pkg->opts = cpu->tme;
    pkg->phys_bits = cpu->phys_bits;
    tme_pkg = pkg;
    if (!tme_check_exclusion(cpu, errp) ||
        (cpu->tme.platform_key &&
         !tme_parse_key(cpu->tme.platform_key, pkg->platform_key, errp)) ||
        (cpu->tme.activate && cpu->tme.keyid_bits &&
         !tme_ram_promise_keyids(errp))) {
        tme_pkg = NULL;
        object_unref(OBJECT(pkg));
        return false;
    }
    pkg->has_platform_key = cpu->tme.platform_key != NULL;
    pkg->capability = TME_CAP_AES_XTS_128 |
        ((uint64_t)pkg->opts.max_keyid_bits << TME_CAP_MAX_KEYID_BITS_SHIFT) |
        ((uint64_t)pkg->opts.max_keys << TME_CAP_MAX_KEYS_SHIFT);
    qemu_mutex_init(&pkg->lock);
    if (pkg->opts.max_keyid_bits) {
        pkg->keys = tme_keytable_new(pkg->opts.max_keys);
        pkg->key_entries = (uint8_t *)pkg->keys->entries;
        pkg->key_entries_size = pkg->keys->nr_entries * sizeof(TMEKeyEntry);
    }

    tme_ram_init(pkg->keys);

    /* Registered before the CPUs' reset handlers, so it runs first */
    qemu_register_resettable(OBJECT(pkg));
    vmstate_register(NULL, 0, &vmstate_tme_package, pkg);
    return true;
}

/*
 * Guest RAM and the 64-bit PCI hole must stay below the KeyID bits: KeyID
 * bits are the top bits of MAXPHYADDR (spec 5.1).
 */
bool x86_tme_check_address_space(X86CPU *cpu, uint64_t max_used_gpa,
                                 Error **errp)
{
    unsigned bits, need;

    if (!tme_enumerated(&cpu->env)) {
        return true;
    }
    bits = tme_pkg->opts.activate ? tme_pkg->opts.keyid_bits
                                  : tme_pkg->opts.max_keyid_bits;
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
               tme_pkg->opts.activate ? " or lower tme-keyid-bits"
                                      : " or lower tme-max-keyid-bits");
    return false;
}

void x86_tme_status(X86TMEStatus *st)
{
    memset(st, 0, sizeof(*st));
    if (!tme_pkg) {
        return;
    }
    qemu_mutex_lock(&tme_pkg->lock);
    st->enumerated = true;
    st->max_keyid_bits = tme_pkg->opts.max_keyid_bits;
    st->max_keys = tme_pkg->opts.max_keys;
    st->activate = tme_pkg->activate;
    st->exclude_base = tme_pkg->exclude_base;
    st->exclude_mask = tme_pkg->exclude_mask;
    qemu_mutex_unlock(&tme_pkg->lock);
}

/* The key table and MK_TME_MAX_KEYS; NULL without MKTME */
TMEKeyTable *x86_tme_keytable(uint32_t *max_keys)
{
    if (!tme_pkg || !tme_pkg->keys) {
        return NULL;
    }
    *max_keys = tme_pkg->opts.max_keys;
    return tme_pkg->keys;
}

/* What PCONFIG checks of the package; false if TME is not enumerated */
bool x86_tme_pconfig_state(CPUX86State *env, uint64_t *activate,
                           uint32_t *max_keys, TMEKeyTable **keys)
{
    if (!tme_enumerated(env) || !tme_pkg->keys) {
        return false;
    }
    *activate = qatomic_read(&tme_pkg->activate);
    *max_keys = tme_pkg->opts.max_keys;
    *keys = tme_pkg->keys;
    return true;
}
