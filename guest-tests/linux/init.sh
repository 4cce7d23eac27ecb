#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
# init of the test initramfs: report what the kernel sees, power off.
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "=== TME-TEST DMESG ==="
dmesg
echo "=== TME-TEST CPUINFO ==="
cat /proc/cpuinfo
if [ -x /tme-test.sh ]; then
    echo "=== TME-TEST EXTRA ==="
    /tme-test.sh
fi
echo "=== TME-TEST END ==="
poweroff -f
