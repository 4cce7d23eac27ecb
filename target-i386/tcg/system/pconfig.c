/*
 * PCONFIG: the MKTME_KEY_PROGRAM leaf
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The checks follow the pseudo-code of section 6.2.5 of Intel's Memory
 * Encryption Technologies Specification rev 1.0, in its order.  The #UD
 * cases (enumeration, CPL, prefixes, virtual-8086 mode) are decided by
 * the translator.
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/host-utils.h"
#include "cpu.h"
#include "exec/helper-proto.h"
#include "accel/tcg/cpu-ldst.h"
#include "tcg/helper-tcg.h"
#include "hw/mem/tme-keytable.h"
#include "hw/mem/tme-ram.h"
#include "tme.h"

/* MKTME_KEY_PROGRAM_STRUCT (table 2) */
#define PCONFIG_STRUCT_BYTES    192
#define PCONFIG_STRUCT_ALIGN    256
#define KP_KEYID                0
#define KP_KEYID_CTRL           2
#define KP_RSVD                 6
#define KP_KEY_FIELD_1          64
#define KP_KEY_FIELD_2          128
#define KP_KEY_FIELD_BYTES      64
#define KP_KEY_BYTES_XTS_128    16

#define KEYID_CTRL_COMMAND(c)   ((c) & 0xff)
#define KEYID_CTRL_ENC_ALG(c)   (((c) >> 8) & 0xffff)
#define KEYID_CTRL_RSVD(c)      ((c) >> 24)

/* Commands (table 3) */
#define KEYID_SET_KEY_DIRECT    0
#define KEYID_SET_KEY_RANDOM    1
#define KEYID_CLEAR_KEY         2
#define KEYID_NO_ENCRYPT        3

/* Return values (table 4) */
#define PROG_SUCCESS            0
#define INVALID_PROG_CMD        1
#define ENTROPY_ERROR           2
#define INVALID_KEYID           3
#define INVALID_ENC_ALG         4
#define DEVICE_BUSY             5

#define PCONFIG_LEAF_MKTME_KEY_PROGRAM 0

static G_NORETURN void pconfig_gp(CPUX86State *env, uintptr_t ra)
{
    raise_exception_err_ra(env, EXCP0D_GPF, 0, ra);
}

/*
 * The linear address of the structure at DS:RBX, after the alignment,
 * canonical and segment-limit checks.  Segment overrides and the address
 * size prefix are ignored: the operand is always DS:RBX (DS:EBX outside
 * 64-bit mode).
 */
static target_ulong pconfig_struct_address(CPUX86State *env, uintptr_t ra)
{
    SegmentCache *ds = &env->segs[R_DS];
    target_ulong ea, linear;

#ifdef TARGET_X86_64
    if (env->hflags & HF_CS64_MASK) {
        int bits = (env->cr[4] & CR4_LA57_MASK) ? 57 : 48;

        linear = env->regs[R_EBX];
        if (linear & (PCONFIG_STRUCT_ALIGN - 1)) {
            pconfig_gp(env, ra);
        }
        if (((int64_t)linear << (64 - bits)) >> (64 - bits) != linear) {
            pconfig_gp(env, ra);
        }
        return linear;
    }
#endif
    ea = (uint32_t)env->regs[R_EBX];
    linear = (uint32_t)(ds->base + ea);
    if (linear & (PCONFIG_STRUCT_ALIGN - 1)) {
        pconfig_gp(env, ra);
    }
    if ((env->cr[0] & CR0_PE_MASK) && !(env->eflags & VM_MASK) &&
        !(ds->selector & ~3)) {
        pconfig_gp(env, ra);            /* null DS */
    }
    if ((ds->flags & DESC_E_MASK) && !(ds->flags & DESC_CS_MASK)) {
        /* expand-down data segment: valid offsets are above the limit */
        target_ulong top = (ds->flags & DESC_B_MASK) ? 0xffffffff : 0xffff;

        if (ea <= ds->limit || ea + PCONFIG_STRUCT_BYTES - 1 > top) {
            pconfig_gp(env, ra);
        }
    } else if ((uint64_t)ea + PCONFIG_STRUCT_BYTES - 1 > ds->limit) {
        pconfig_gp(env, ra);
    }
    return linear;
}

static void pconfig_exit(CPUX86State *env, int eflags, uint64_t status)
{
    eflags &= ~(CC_C | CC_P | CC_A | CC_O | CC_S | CC_Z);
    if (status != PROG_SUCCESS) {
        eflags |= CC_Z;
    }
    env->regs[R_EAX] = status;
    CC_SRC = eflags;
    CC_OP = CC_OP_EFLAGS;
}

void helper_pconfig(CPUX86State *env)
{
    uintptr_t ra = GETPC();
    X86TME *tme = env_archcpu(env)->tme;
    int eflags = cpu_cc_compute_all(env);
    uint8_t kp[PCONFIG_STRUCT_BYTES];
    uint64_t activate;
    uint32_t max_keys, ctrl, alg, allowed;
    unsigned keyid_bits, cmd;
    uint16_t keyid;
    TMEKeyTable *kt;
    TMEKeyEntry entry, old;
    const TMEKeyAlgInfo *info;
    target_ulong addr;
    int i;

    /* #GP(0) for an unsupported leaf */
    if ((uint32_t)env->regs[R_EAX] != PCONFIG_LEAF_MKTME_KEY_PROGRAM) {
        pconfig_gp(env, ra);
    }

    /* #GP(0) unless TME_ACTIVATE is locked, enables TME and MKTME */
    if (!x86_tme_pconfig_state(env, &activate, &max_keys, &kt) ||
        !(activate & TME_ACTIVATE_LOCK) || !(activate & TME_ACTIVATE_ENABLE) ||
        !(activate & TME_ACTIVATE_KEYID_BITS_MASK)) {
        pconfig_gp(env, ra);
    }
    keyid_bits = extract64(activate, TME_ACTIVATE_KEYID_BITS_SHIFT, 4);

    /* 256-byte alignment, then read access: canonical, limit, #PF */
    addr = pconfig_struct_address(env, ra);
    for (i = 0; i < PCONFIG_STRUCT_BYTES; i += 8) {
        stq_le_p(kp + i, cpu_ldq_data_ra(env, addr + i, ra));
    }

    /* Reserved fields */
    ctrl = ldl_le_p(kp + KP_KEYID_CTRL);
    if (!buffer_is_zero(kp + KP_RSVD, KP_KEY_FIELD_1 - KP_RSVD) ||
        KEYID_CTRL_RSVD(ctrl) ||
        !buffer_is_zero(kp + KP_KEY_FIELD_1 + KP_KEY_BYTES_XTS_128,
                  KP_KEY_FIELD_BYTES - KP_KEY_BYTES_XTS_128) ||
        !buffer_is_zero(kp + KP_KEY_FIELD_2 + KP_KEY_BYTES_XTS_128,
                  KP_KEY_FIELD_BYTES - KP_KEY_BYTES_XTS_128)) {
        pconfig_gp(env, ra);
    }

    cmd = KEYID_CTRL_COMMAND(ctrl);
    if (cmd > KEYID_NO_ENCRYPT) {
        pconfig_exit(env, eflags, INVALID_PROG_CMD);
        return;
    }

    keyid = lduw_le_p(kp + KP_KEYID);
    if (keyid == 0 || keyid > (1U << keyid_bits) - 1 || keyid > max_keys) {
        pconfig_exit(env, eflags, INVALID_KEYID);
        return;
    }

    alg = KEYID_CTRL_ENC_ALG(ctrl);
    allowed = extract64(activate, 48, 16);
    info = ctpop32(alg) == 1 ? tme_key_alg_info(ctz32(alg)) : NULL;
    if (!info || !(alg & allowed)) {
        pconfig_exit(env, eflags, INVALID_ENC_ALG);
        return;
    }

    if (!tme_keytable_acquire(kt)) {
        pconfig_exit(env, eflags, DEVICE_BUSY);
        return;
    }

    /* The key table is not changed before this point */
    if (x86_tme_pconfig_delay_us(tme)) {
        g_usleep(x86_tme_pconfig_delay_us(tme));
    }
    tme_keytable_get(kt, keyid, &old);
    entry = old;
    entry.alg = ctz32(alg);
    entry.key_len = info->key_bytes;
    switch (cmd) {
    case KEYID_SET_KEY_DIRECT:
        tme_key_entry_init(&entry, TME_KEY_MODE_KEYID, ctz32(alg),
                           kp + KP_KEY_FIELD_1, kp + KP_KEY_FIELD_2);
        break;
    case KEYID_SET_KEY_RANDOM: {
        uint8_t data[TME_KEY_FIELD_BYTES], tweak[TME_KEY_FIELD_BYTES];

        /*
         * The pseudo-code jumps past KEY_TABLE_LOCK.RELEASE() on an entropy
         * error, which would leave the table locked for good; release it.
         */
        if (!x86_tme_random(tme, data, info->key_bytes) ||
            !x86_tme_random(tme, tweak, info->key_bytes)) {
            tme_keytable_release(kt);
            pconfig_exit(env, eflags, ENTROPY_ERROR);
            return;
        }
        for (i = 0; i < info->key_bytes; i++) {
            data[i] ^= kp[KP_KEY_FIELD_1 + i];
            tweak[i] ^= kp[KP_KEY_FIELD_2 + i];
        }
        tme_key_entry_init(&entry, TME_KEY_MODE_KEYID, ctz32(alg),
                           data, tweak);
        memset(data, 0, sizeof(data));
        memset(tweak, 0, sizeof(tweak));
        break;
    }
    case KEYID_CLEAR_KEY:
        tme_key_entry_init(&entry, TME_KEY_MODE_TME, ctz32(alg), NULL, NULL);
        break;
    case KEYID_NO_ENCRYPT:
        entry.mode = TME_KEY_MODE_NO_ENCRYPT;
        break;
    }
    tme_keytable_set(kt, keyid, &entry);
    /* The pages of @keyid: written back under the old key, read anew */
    tme_ram_rekey(keyid, &old);
    memset(&entry, 0, sizeof(entry));
    memset(&old, 0, sizeof(old));
    memset(kp, 0, sizeof(kp));
    tme_keytable_release(kt);
    pconfig_exit(env, eflags, PROG_SUCCESS);
}
