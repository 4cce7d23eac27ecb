/*
 * Intel Total Memory Encryption (TME) and Multi-Key TME: builds without
 * them (CONFIG_X86_TME needs TCG)
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "monitor/monitor.h"
#include "monitor/hmp-target.h"
#include "hw/mem/tme-ram.h"
#include "cpu.h"
#include "tme.h"

bool x86_tme_precheck(X86CPU *cpu, Error **errp)
{
    if (cpu->env.features[FEAT_7_0_ECX] & CPUID_7_0_ECX_TME) {
        error_setg(errp, "TME is emulated with TCG only, and this QEMU was"
                   " built without it (CONFIG_X86_TME)");
        return false;
    }
    return true;
}

bool x86_tme_realize(X86CPU *cpu, Error **errp)
{
    return true;
}

void x86_tme_cpu_reset(X86CPU *cpu)
{
}

void x86_tme_smi(X86CPU *cpu)
{
}

bool x86_tme_wrmsr(CPUX86State *env, uint32_t msr, uint64_t val)
{
    return false;
}

bool x86_tme_rdmsr(CPUX86State *env, uint32_t msr, uint64_t *val)
{
    return false;
}

bool x86_tme_check_address_space(X86CPU *cpu, uint64_t max_used_gpa,
                                 Error **errp)
{
    return true;
}

/* No CPU splits KeyIDs off its addresses without TME */
void tme_ram_fill(CPUState *cs, hwaddr gpa, uint16_t keyid, uintptr_t ra)
{
    g_assert_not_reached();
}

void hmp_info_tme(Monitor *mon, const QDict *qdict)
{
    monitor_printf(mon, "TME support is not compiled in\n");
}

void hmp_x_tme_dram_save(Monitor *mon, const QDict *qdict)
{
    monitor_printf(mon, "TME support is not compiled in\n");
}
