/*
 * Stand-in for the little-endian accessors of QEMU's qemu/bswap.h
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TME_SHIM_BSWAP_H
#define TME_SHIM_BSWAP_H

#include <endian.h>

static inline uint64_t ldq_le_p(const void *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return le64toh(v);
}

static inline uint64_t le64_to_cpu(uint64_t v)
{
    return le64toh(v);
}

static inline uint64_t cpu_to_le64(uint64_t v)
{
    return htole64(v);
}

static inline void stq_le_p(void *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, sizeof(v));
}

#endif
