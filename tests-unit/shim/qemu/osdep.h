/*
 * Stand-in for QEMU's qemu/osdep.h, so that the engine core builds and is
 * tested without QEMU: it depends on GLib and Nettle only.
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TME_SHIM_OSDEP_H
#define TME_SHIM_OSDEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

/* As QEMU's osdep.h defines them */
#ifndef QEMU_ALIGNED
#define QEMU_ALIGNED(x) __attribute__((aligned(x)))
#endif
#ifndef ROUND_UP
#define ROUND_UP(n, d) (((n) + (d) - 1) & -(0 ? (n) : (d)))
#endif

#endif
