/*
 * Intel Total Memory Encryption (TME) and Multi-Key TME: CPU side
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Register and field names follow Intel's "Memory Encryption Technologies
 * Specification", rev 1.0 (336907-001), sections 4.1 and 4.2.
 */

#ifndef TARGET_I386_TME_H
#define TARGET_I386_TME_H

#include "qom/object.h"

/*
 * Added by later revisions, with TDX: Linux's TDX host code
 * (arch/x86/virt/vmx/tdx/tdx.c, record_keyid_partitioning()) and Intel's
 * TDX module (msr_defs.h) read it.  Bits 31:0 count the MKTME KeyIDs
 * (1 to that count), bits 63:32 the TDX private KeyIDs that follow them.
 */
#define MSR_IA32_MKTME_KEYID_PARTITIONING 0x87
#define MSR_IA32_TME_CAPABILITY         0x981
#define MSR_IA32_TME_ACTIVATE           0x982
#define MSR_IA32_TME_EXCLUDE_MASK       0x983
#define MSR_IA32_TME_EXCLUDE_BASE       0x984
#define MSR_MK_TME_CORE_ACTIVATE        0x9ff

/* IA32_TME_CAPABILITY */
#define TME_CAP_AES_XTS_128             (1ULL << 0)
#define TME_CAP_MAX_KEYID_BITS_SHIFT    32
#define TME_CAP_MAX_KEYS_SHIFT          36

/* IA32_TME_ACTIVATE */
#define TME_ACTIVATE_LOCK               (1ULL << 0)
#define TME_ACTIVATE_ENABLE             (1ULL << 1)
#define TME_ACTIVATE_KEY_SELECT         (1ULL << 2)
#define TME_ACTIVATE_SAVE_KEY           (1ULL << 3)
#define TME_ACTIVATE_POLICY_SHIFT       4
#define TME_ACTIVATE_POLICY_MASK        (0xfULL << TME_ACTIVATE_POLICY_SHIFT)
#define TME_ACTIVATE_KEYID_BITS_SHIFT   32
#define TME_ACTIVATE_KEYID_BITS_MASK    (0xfULL << 32)
#define TME_ACTIVATE_ALG_AES_XTS_128    (1ULL << 48)
#define TME_ACTIVATE_CRYPTO_ALGS_MASK   (0xffffULL << 48)
#define TME_POLICY_AES_XTS_128          0

/* IA32_TME_EXCLUDE_MASK / IA32_TME_EXCLUDE_BASE */
#define TME_EXCLUDE_MASK_ENABLE         (1ULL << 11)

/* The largest MK_TME_MAX_KEYID_BITS the 4-bit field can encode */
#define TME_KEYID_BITS_LIMIT            15
/* A 128-bit data key followed by a 128-bit tweak key */
#define TME_KEY_BYTES                   32

/*
 * max-keys and keyid-bits take -1, their default, for a value derived
 * from max-keyid-bits; every other value is checked as given
 */
#define TME_OPT_DERIVED                 -1

/* The package: one per machine, see tme.c */
#define TYPE_X86_TME "x86-tme"
OBJECT_DECLARE_SIMPLE_TYPE(X86TME, X86_TME)

typedef struct TMEKeyTable TMEKeyTable;

/* A snapshot of the package state, for the monitor */
typedef struct X86TMEStatus {
    bool enumerated;
    unsigned max_keyid_bits;
    uint32_t max_keys;
    uint64_t activate;
    uint64_t exclude_base;
    uint64_t exclude_mask;
} X86TMEStatus;

/*
 * Whether a CPU may have the tme feature in this build, checked before
 * anything of the CPU is realized; x86_tme_realize() binds it later
 */
bool x86_tme_precheck(X86CPU *cpu, Error **errp);
bool x86_tme_realize(X86CPU *cpu, Error **errp);
X86TME *x86_tme_get(void);
bool x86_tme_pconfig_state(CPUX86State *env, uint64_t *activate,
                           uint32_t *max_keys, TMEKeyTable **keys);
bool x86_tme_random(X86TME *tme, void *buf, size_t len);
uint32_t x86_tme_pconfig_delay_us(X86TME *tme);
TMEKeyTable *x86_tme_keytable(X86TME *tme, uint32_t *max_keys);
void x86_tme_status(X86TME *tme, X86TMEStatus *st);
void x86_tme_cpu_reset(X86CPU *cpu);
void x86_tme_smi(X86CPU *cpu);
bool x86_tme_wrmsr(CPUX86State *env, uint32_t msr, uint64_t val);
bool x86_tme_rdmsr(CPUX86State *env, uint32_t msr, uint64_t *val);
bool x86_tme_check_address_space(X86CPU *cpu, uint64_t max_used_gpa,
                                 Error **errp);

#endif
