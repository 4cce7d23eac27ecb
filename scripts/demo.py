#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The guest part of scripts/demo: boot Debian's Linux 6.1 with TME and
MKTME, let the test module (demo=1) program KeyID 1 with a direct key,
KeyID 2 with a random key and KeyID 3 as NO_ENCRYPT and write a secret
through KeyID 1, then show one page through KeyIDs 0-3 and as DRAM holds
it, check the DRAM bytes with python3-cryptography's AES-XTS, and draw
all guest RAM as DRAM holds it without TME (a first boot, without TME),
and as the CPU sees it and DRAM holds it with TME.

usage: demo.py QEMU WORKDIR
Exits 1 if the DRAM bytes are not the AES-XTS ciphertext of the secret
under KeyID 1's key ("verified" otherwise), so scripts/test runs it too.
"""
import math
import os
import re
import subprocess
import sys

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, 'guest-tests', 'linux'))
sys.path.insert(0, os.path.join(TOP, 'guest-tests'))
import linux_guest as lg  # noqa: E402

qemu, work = sys.argv[1:3]
CPU = 'max,vendor=GenuineIntel,+tme,+pconfig,phys-bits=46'
CPU_OFF = 'max,vendor=GenuineIntel,phys-bits=46'
TME = 'x86-tme,id=tme0,activate=on'
MEM = 128 << 20             # all of it is drawn, one pixel per 64 bytes
SECRET = b'MKTME demo: this secret was written through KeyID 1 (direct key)'
KEY1 = b'\x11' * 16 + b'\x22' * 16      # data key, tweak key (tme_test.c)
LINE = 64                   # bytes per pixel
WIDTH = 1024                # pixels per row: 64 KiB of RAM


def progress(msg):
    print('==> ' + msg, flush=True)


def printable(b):
    return ''.join(chr(c) if 32 <= c < 127 else '.' for c in b)


def prepare():
    """Debian's kernel and the test module; return (vmlinux, module)."""
    os.makedirs(work, exist_ok=True)
    progress('fetching Debian\'s kernel and building the test module '
             'against its headers')
    version, kdir = lg.kernels()['6.1']
    module = subprocess.run([os.path.join(TOP, 'guest-tests', 'linux',
                                          'build-module'), version,
                             os.path.join(work, 'module')], check=True,
                            stdout=subprocess.PIPE).stdout.decode().strip()
    return os.path.join(kdir, 'vmlinux'), module


def boot(vmlinux, module, tme=True):
    """Start the guest, with TME and MKTME or without (stock -cpu, no
    x86-tme object); return (Popen, QMP, console text up to the wait)."""
    script = os.path.join(work, 'tme-test.sh')
    with open(script, 'w') as f:
        f.write('#!/bin/sh\ninsmod /tme_test.ko demo=1\n'
                'dmesg | grep "tme-demo:"\n' + lg.WAIT_SCRIPT)
    os.chmod(script, 0o755)
    initrd = lg.make_initramfs(os.path.join(work, 'initrd-demo.cpio'),
                               [(module, 'tme_test.ko'),
                                (script, 'tme-test.sh')])
    sock = os.path.join(work, 'qmp.sock')
    cpu = ['-cpu', CPU, '-object', TME] if tme else ['-cpu', CPU_OFF]
    cmd = [qemu, '-machine', 'q35', '-m', '%dM' % (MEM >> 20), '-smp', '2'] \
        + cpu + ['-nodefaults', '-display', 'none',
                 '-serial', 'stdio', '-no-reboot',
                 '-qmp', 'unix:%s,server=on,wait=off' % sock,
                 '-kernel', vmlinux, '-initrd', initrd,
                 '-append', 'console=ttyS0 loglevel=4 panic=-1']
    progress('booting %s with %s -smp 2 -m %dM'
             % (os.path.basename(os.path.dirname(vmlinux)), ' '.join(cpu),
                MEM >> 20))
    print('    ' + ' '.join(cmd), flush=True)
    p, qmp, text, wall, status = lg.start_until_wait(cmd, sock, 300)
    if status != 'ready':
        p.kill()
        sys.exit('the guest did not reach the demo within 300 s (or QEMU '
                 'exited); its console:\n' + text[-3000:])
    return p, qmp, text, wall


def guest_view(text, wall):
    dmesg = lg.section(text, 'DMESG')
    cpuinfo = lg.section(text, 'CPUINFO')
    print('\n--- the guest\'s view (booted and ran the module in %.1f s) ---'
          % wall)
    print('dmesg:')
    for ln in dmesg.splitlines():
        if re.search(r'x86/(tme|mktme)', ln):
            print('  ' + ln)
    flags = re.search(r'^flags\s*:(.*)$', cpuinfo, re.M)
    sizes = re.search(r'^address sizes\s*:.*$', cpuinfo, re.M)
    if flags:
        print('/proc/cpuinfo flags: ' + ' '.join(
            f for f in flags.group(1).split() if f in ('tme', 'pconfig')))
    if sizes:
        print('/proc/cpuinfo ' + sizes.group(0) +
              '   (phys-bits=46 minus 6 KeyID bits)')
    if 'x86/tme: enabled by BIOS' not in dmesg:
        sys.exit('the guest did not report TME enabled by BIOS')


def module_views(text):
    """The module's report: PCONFIG results, the page, each KeyID's view."""
    extra = lg.section(text, 'EXTRA')
    print('\n--- the test module (guest-tests/linux/module, demo=1) ---')
    for ln in re.findall(r'tme-demo: (pconfig .*)', extra):
        print('  PCONFIG ' + ln[len('pconfig '):] +
              '   (0: PROG_SUCCESS)')
    m = re.search(r'tme-demo: pa=(0x[0-9a-f]+)', extra)
    if not m:
        sys.exit('the module did not report its page:\n' + extra[-2000:])
    views = {}
    for k in range(4):
        a = re.search(r'tme-demo: keyid=%d ([0-9a-f]{64})' % k, extra)
        b = re.search(r'tme-demo: keyid=%d\+32 ([0-9a-f]{64})' % k, extra)
        if not a or not b:
            sys.exit('the module did not report KeyID %d\'s view' % k)
        views[k] = bytes.fromhex(a.group(1) + b.group(1))
    return int(m.group(1), 16), views


def xts_encrypt(key, pa, data):
    enc = Cipher(algorithms.AES(key),
                 modes.XTS(pa.to_bytes(16, 'little'))).encryptor()
    return enc.update(data) + enc.finalize()


def side_by_side(pa, views, dram):
    """One row per 8 bytes: each KeyID's view and DRAM's, in hex, then
    the text KeyID 1 reads"""
    cols = ['KeyID 0 (TME key)', 'KeyID 1 (direct)', 'KeyID 2 (random)',
            'KeyID 3 (no-encrypt)', 'DRAM (x-tme-dram-save)']
    data = [views[0], views[1], views[2], views[3], dram]
    print('\n--- physical page %#x, first 64 bytes: what each KeyID reads, '
          'and what DRAM holds ---' % pa)
    print('      ' + ' | '.join('%-23s' % c for c in cols) +
          ' | KeyID 1 as text')
    for i in range(0, 64, 8):
        print('  %02x  ' % i +
              ' | '.join('%-23s' % d[i:i + 8].hex(' ') for d in data) +
              ' | ' + printable(views[1][i:i + 8]))


def entropy(data):
    """Shannon entropy (bits per byte, 0 to 6) of each 64-byte line."""
    lines = np.frombuffer(data, dtype=np.uint8).reshape(-1, LINE)
    out = np.empty(len(lines))
    chunk = 1 << 16
    for s in range(0, len(lines), chunk):
        part = lines[s:s + chunk]
        n = len(part)
        idx = (np.arange(n, dtype=np.int64)[:, None] << 8) + part
        counts = np.bincount(idx.ravel(), minlength=n << 8)
        p = counts.reshape(n, 256) / LINE
        with np.errstate(divide='ignore', invalid='ignore'):
            h = -np.where(p > 0, p * np.log2(p), 0).sum(axis=1)
        out[s:s + n] = h
    return out


def picture(panels, marks, path):
    """@panels: (title, bytes of all guest RAM, marked); each pixel one
    64-byte line shaded by its entropy: black is one repeated byte,
    white is 64 different bytes."""
    rows = MEM // LINE // WIDTH
    pad, top = 16, 40
    n = len(panels)
    img = Image.new('RGB', (n * WIDTH + (n + 1) * pad, rows + top + 2 * pad),
                    (40, 40, 40))
    d = ImageDraw.Draw(img)
    for i, (title, data, marked) in enumerate(panels):
        h = entropy(data)
        gray = np.clip(h / math.log2(LINE) * 255, 0, 255).astype(np.uint8)
        panel = Image.fromarray(gray.reshape(rows, WIDTH), 'L')
        x0 = pad + i * (WIDTH + pad)
        img.paste(panel.convert('RGB'), (x0, top))
        d.text((x0, 8), title, fill=(255, 255, 255))
        for pa, colour, label in marks if marked else ():
            line = pa // LINE
            y, x = top + line // WIDTH, line % WIDTH
            w = d.textlength(label)
            x1 = x0 + x + 4096 // LINE
            d.rectangle((x0 + x - 3, y - 3, x1 + 2, y + 3), outline=colour)
            if x + 4096 // LINE + 8 + w < WIDTH:
                d.text((x1 + 8, y - 6), label, fill=colour)
            else:
                d.text((x0 + x - 8 - w, y - 6), label, fill=colour)
    d.text((pad, 22), '%d MiB of guest RAM, one pixel per 64-byte line, %d '
           'per row (64 KiB); shade = byte entropy' % (MEM >> 20, WIDTH),
           fill=(200, 200, 200))
    d.text((pad, top + rows + 2), 'marked: the page that the module '
           'wrote through KeyID 1 and read through KeyIDs 0-3; every '
           'other page belongs to KeyID 0', fill=(255, 96, 96))
    img.save(path, optimize=True)


def main():
    vmlinux, module = prepare()
    # TME off first: without TME, DRAM holds what the CPU sees
    off_file = os.path.join(work, 'ram-off.bin')
    p, qmp, text, wall = boot(vmlinux, module, tme=False)
    try:
        progress('TME off: saving all %d MiB of guest RAM (pmemsave), which '
                 'is what DRAM holds without TME' % (MEM >> 20))
        qmp.cmd('pmemsave', val=0, size=MEM, filename=off_file)
    finally:
        p.kill()
        p.wait()

    p, qmp, text, wall = boot(vmlinux, module)
    try:
        guest_view(text, wall)
        pa, views = module_views(text)
        dram_file = os.path.join(work, 'page-dram.bin')
        qmp.cmd('x-tme-dram-save', addr=pa, size=64, filename=dram_file)
        dram = open(dram_file, 'rb').read()
        side_by_side(pa, views, dram)

        want = xts_encrypt(KEY1, pa, SECRET)
        checks = [
            (views[1] == SECRET, 'KeyID 1 reads the secret'),
            (SECRET[:16] not in views[0] + views[2] + dram,
             'KeyIDs 0 and 2 and DRAM do not show it'),
            (views[3] == dram, 'KeyID 3 (NO_ENCRYPT) reads what DRAM holds'),
            (dram == want, 'DRAM holds AES-XTS-128 of the secret under '
             'KeyID 1\'s key, tweak = the page\'s address '
             '(python3-cryptography)'),
        ]
        print()
        for ok, what in checks:
            print('  %s: %s' % ('verified' if ok else 'NOT VERIFIED', what))
        if not all(ok for ok, _ in checks):
            sys.exit('the DRAM image does not match the model (see above)')

        print('\n--- info tme ---')
        print(qmp.cmd('human-monitor-command',
                      **{'command-line': 'info tme'}).rstrip())

        progress('saving all %d MiB of guest RAM twice: as the CPU sees it '
                 'and as DRAM holds it' % (MEM >> 20))
        cpu_file = os.path.join(work, 'ram-cpu.bin')
        dram_all = os.path.join(work, 'ram-dram.bin')
        qmp.cmd('pmemsave', val=0, size=MEM, filename=cpu_file)
        qmp.cmd('x-tme-dram-save', addr=0, size=MEM, filename=dram_all)
        info = qmp.cmd('query-tme')
    finally:
        p.kill()
        p.wait()
    owners = ', '.join('KeyID %d: %d' % (o['keyid'], o['pages'])
                       for o in info.get('owners', []))
    progress('drawing the picture (pages owned now: %s)' % owners)
    png = os.path.join(work, 'tme-demo.png')
    picture([('TME off: what DRAM holds, = what the CPU sees',
              open(off_file, 'rb').read(), False),
             ('TME on: what the CPU sees through KeyID 0 (pmemsave)',
              open(cpu_file, 'rb').read(), True),
             ('TME on: what DRAM holds (x-tme-dram-save)',
              open(dram_all, 'rb').read(), True)],
            [(pa, (255, 64, 64), 'the secret\'s page (KeyIDs 1-3)')], png)
    for f in (off_file, cpu_file, dram_all):
        os.unlink(f)
    print('\nPicture: %s' % png)


main()
