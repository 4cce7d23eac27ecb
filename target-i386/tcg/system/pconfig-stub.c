/*
 * PCONFIG without TME (CONFIG_X86_TME): no PCONFIG target exists
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "cpu.h"
#include "exec/helper-proto.h"
#include "tcg/helper-tcg.h"

/* CPUID leaf 0x1B enumerates no target: leaf 0 is unsupported, #GP(0) */
void helper_pconfig(CPUX86State *env)
{
    raise_exception_ra(env, EXCP0D_GPF, GETPC());
}
