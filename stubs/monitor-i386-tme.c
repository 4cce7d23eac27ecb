/* SPDX-License-Identifier: GPL-2.0-or-later */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-misc-i386.h"

TmeInfo *qmp_query_tme(Error **errp)
{
    error_setg(errp, "TME support is not compiled in");
    return NULL;
}

void qmp_x_tme_dram_save(uint64_t addr, uint64_t size, const char *filename,
                         Error **errp)
{
    error_setg(errp, "TME support is not compiled in");
}

TmeKeyFingerprint *qmp_x_query_tme_key_fingerprint(uint16_t keyid,
                                                   Error **errp)
{
    error_setg(errp, "TME support is not compiled in");
    return NULL;
}
