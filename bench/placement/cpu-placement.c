/*
 * Benchmark helper: place QEMU's vCPU object at a chosen cache-line offset
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Preloaded into QEMU by bench/bench.py (B2).  Every malloc() of exactly
 * QEMU_BENCH_CPU_SIZE bytes (the size of the vCPU object, X86CPU, read
 * from the binary's debug information) returns memory that starts
 * QEMU_BENCH_CPU_OFFSET bytes (0-63) after a 64-byte boundary; every
 * other allocation is glibc's.  Where the heap happens to put the vCPU
 * object decides how its CPUX86State shares cache lines, and B2's copy
 * phase runs about a quarter slower with some placements than with
 * others, whichever QEMU binary runs (bench/README.md): the benchmark
 * gives every variant the same placements instead of the heap's.
 */

#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *ptr);

#define MAX_PLACED 8
#define PLACED_MSG "cpu-placement: placed the vCPU object\n"

static size_t cpu_size;
static size_t cpu_offset;
static int configured;
static void *placed[MAX_PLACED];

static void configure(void)
{
    const char *size = getenv("QEMU_BENCH_CPU_SIZE");
    const char *offset = getenv("QEMU_BENCH_CPU_OFFSET");

    cpu_size = size ? strtoul(size, NULL, 0) : 0;
    cpu_offset = offset ? strtoul(offset, NULL, 0) % 64 : 0;
    configured = 1;
}

void *malloc(size_t size)
{
    char *base;
    ssize_t done;
    int i;

    if (!configured) {
        configure();
    }
    if (cpu_size && size == cpu_size) {
        for (i = 0; i < MAX_PLACED; i++) {
            if (!placed[i]) {
                base = __libc_memalign(64, size + 64);
                if (!base) {
                    return NULL;
                }
                placed[i] = base + cpu_offset;
                /* bench.py checks that this happened; no stdio in malloc */
                done = write(2, PLACED_MSG, sizeof(PLACED_MSG) - 1);
                (void)done;
                return placed[i];
            }
        }
    }
    /* Any other size, or more objects of that size than expected */
    return __libc_malloc(size);
}

void free(void *ptr)
{
    int i;

    for (i = 0; ptr && i < MAX_PLACED; i++) {
        if (placed[i] == ptr) {
            placed[i] = NULL;
            __libc_free((char *)ptr - cpu_offset);
            return;
        }
    }
    __libc_free(ptr);
}
