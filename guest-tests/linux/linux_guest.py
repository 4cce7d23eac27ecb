# SPDX-License-Identifier: GPL-2.0-or-later
"""Boot a Debian kernel with a busybox initramfs in QEMU; shared helpers."""
import os
import re
import select
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
    """Boot; return (console text, wall seconds, QEMU's stderr).  @cpu is
    the value of -cpu, or a list of arguments: -cpu and any -object (the
    x86-tme object)."""
    cpu_args = ['-cpu', cpu] if isinstance(cpu, str) else list(cpu)
    cmd = [qemu, '-machine', 'q35', '-m', mem, '-smp', str(smp)] + \
        cpu_args + ['-nodefaults', '-display', 'none',
           '-serial', 'stdio', '-no-reboot', '-kernel', vmlinux,
           '-initrd', initrd,
           '-append', 'console=ttyS0 loglevel=4 panic=-1 ' + append]
    cmd += list(extra_args)
    print('# ' + ' '.join(cmd), flush=True)
    t = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, timeout=timeout)
        out, err = p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        # A guest that stops making progress: what it wrote until then
        # is what the test shows, not a Python traceback
        out = e.stdout or b''
        err = (e.stderr or b'') + (b'\nthe guest did not finish in %d s, '
                                   b'QEMU was killed' % timeout)
    wall = time.monotonic() - t
    return (out.decode(errors='replace').replace('\r', ''), wall,
            err.decode(errors='replace'))


# The line with which an init script (tme-test.sh) says that the guest
# is ready for the host to look at it; WAIT_SCRIPT ends such a script,
# keeping the guest alive while the host does
WAIT = '=== TME-TEST WAIT ==='
WAIT_SCRIPT = 'echo "%s"\nsleep 3600\n' % WAIT


def start_until_wait(cmd, qmp_sock, timeout):
    """Start QEMU (@cmd: -serial stdio, a QMP server at @qmp_sock) and read
    its console until the init script prints WAIT.  Return (Popen, QMP,
    console text, seconds, status): status is 'ready' once WAIT came,
    'timeout' if it had not come within @timeout seconds, 'exited' if the
    console ended first."""
    from qmp_client import QMP      # guest-tests/, on the callers' path

    if os.path.exists(qmp_sock):
        os.unlink(qmp_sock)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    try:
        qmp = QMP(qmp_sock)
    except Exception:
        p.kill()
        raise
    con = Console(p)
    out, status = [], 'exited'
    while True:
        line = con.readline(t0 + timeout)
        if line is None:
            status = 'timeout'
            break
        if not line:
            break
        out.append(line)
        if line.startswith(WAIT):
            status = 'ready'
            break
    return p, qmp, ''.join(out), time.monotonic() - t0, status


class Console:
    """The serial console of a QEMU started with -serial stdio, PIPE: its
    lines, each with a deadline, so that a guest that stops writing (a
    hang, a livelock) cannot block the test past its own timeout."""

    def __init__(self, p):
        self.fd = p.stdout.fileno()
        self.buf = b''
        self.eof = False

    def readline(self, deadline):
        """The next line, '' at the end, None if time.monotonic() passed
        @deadline first."""
        while b'\n' not in self.buf and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return None
            d = os.read(self.fd, 65536)
            self.eof = not d
            self.buf += d
        line, nl, self.buf = self.buf.partition(b'\n')
        return (line + nl).decode(errors='replace').replace('\r', '')


def vcpu_state(qmp):
    """One line per vCPU: where it is (RIP, CPL, HLT), for a hang report."""
    try:
        regs = qmp.cmd('human-monitor-command',
                       **{'command-line': 'info registers -a'})
    except Exception as e:  # noqa: BLE001 - a diagnostic only
        return ['info registers failed: %s' % e]
    regs = regs.replace('\r', '')
    return ['CPU#%s %s' % (c, r) for c, r in
            re.findall(r'^CPU#(\d+)\n(?:.*\n)*?(RIP=.*)$', regs, re.M)]


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
