# SPDX-License-Identifier: GPL-2.0-or-later
"""Boot a Debian kernel with a busybox initramfs in QEMU; shared helpers."""
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))


def kernels():
    """Map '6.1' and '6.12' to (version, directory), downloading once."""
    out = subprocess.run([os.path.join(HERE, 'fetch-kernels')],
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    res = {}
    for line in out.splitlines():
        ver, d = line.split()
        res['6.12' if ver.startswith('6.12.') else '6.1'] = (ver, d)
    return res


def make_initramfs(path, extra_files=()):
    """A newc cpio with busybox-static, our init and extra (src, dst)."""
    root = path + '.d'
    subprocess.run(['rm', '-rf', root], check=True)
    os.makedirs(os.path.join(root, 'bin'))
    subprocess.run(['cp', '/bin/busybox', os.path.join(root, 'bin')],
                   check=True)
    subprocess.run(['cp', os.path.join(HERE, 'init.sh'),
                    os.path.join(root, 'init')], check=True)
    for src, dst in extra_files:
        subprocess.run(['cp', src, os.path.join(root, dst)], check=True)
    os.chmod(os.path.join(root, 'init'), 0o755)
    files = subprocess.run(['find', '.'], cwd=root, stdout=subprocess.PIPE,
                           check=True).stdout
    with open(path, 'wb') as f:
        subprocess.run(['cpio', '--quiet', '-o', '-H', 'newc'], cwd=root,
                       input=files, stdout=f, check=True)
    return path


def boot(qemu, vmlinux, initrd, cpu, smp=1, mem='512M', append='',
         extra_args=(), timeout=600):
    """Boot; return (console text, wall seconds, QEMU's stderr)."""
    cmd = [qemu, '-machine', 'q35', '-m', mem, '-smp', str(smp),
           '-cpu', cpu, '-nodefaults', '-display', 'none',
           '-serial', 'stdio', '-no-reboot', '-kernel', vmlinux,
           '-initrd', initrd,
           '-append', 'console=ttyS0 loglevel=4 panic=-1 ' + append]
    cmd += list(extra_args)
    print('# ' + ' '.join(cmd), flush=True)
    t = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    wall = time.monotonic() - t
    return (p.stdout.decode(errors='replace').replace('\r', ''), wall,
            p.stderr.decode(errors='replace'))


def section(text, name):
    m = re.search(r'=== TME-TEST %s ===\n(.*?)(?:=== TME-TEST |\Z)' % name,
                  text, re.S)
    return m.group(1) if m else ''


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def check(self, ok, desc, detail=None):
        self.n += 1
        if not ok:
            self.failed += 1
        print('%s %d - %s' % ('ok' if ok else 'not ok', self.n, desc))
        if not ok and detail:
            for line in str(detail).splitlines():
                print('#   ' + line)
        sys.stdout.flush()
        return ok

    def done(self):
        print('1..%d' % self.n)
        sys.exit(1 if self.failed else 0)
