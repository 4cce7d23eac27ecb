/*
 * Bare-metal test kernel for the monitor's bad-input tests: it counts in
 * a loop, so that the runner can see that the guest keeps running while
 * the monitor refuses bad commands.  The counter is a 64-bit word at
 * COUNTER_PA (identity mapped, KeyID 0), which the runner reads with the
 * HMP command xp.
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "lib.h"

#define COUNTER_PA      0x800000UL

int main(void)
{
    volatile uint64_t *counter = (volatile uint64_t *)COUNTER_PA;

    setup_idt();
    *counter = 0;
    printf("# counting at 0x%lx\n", COUNTER_PA);
    printf("# ready\n");
    for (;;) {
        (*counter)++;
    }
    return 0;
}
