#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Extract the ELF vmlinux from a bzImage whose payload is xz or zstd."""
import lzma
import subprocess
import sys

data = open(sys.argv[1], 'rb').read()
out = None
i = data.find(b'\xfd7zXZ\x00')
if i >= 0:
    out = lzma.LZMADecompressor().decompress(data[i:])
else:
    i = data.find(b'\x28\xb5\x2f\xfd')
    if i >= 0:
        out = subprocess.run(['zstd', '-dc'], input=data[i:],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
                             ).stdout
if not out or out[:4] != b'\x7fELF':
    sys.exit('no xz or zstd ELF payload found in ' + sys.argv[1])
open(sys.argv[2], 'wb').write(out)
