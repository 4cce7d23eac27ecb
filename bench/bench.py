# SPDX-License-Identifier: GPL-2.0-or-later
"""Run the benchmarks B1-B7 against stock QEMU, interleaved (A B A B ...),
and write results/raw.json; report.py turns it into the table and chart.

usage: bench.py --patched QEMU --stock QEMU --tools DIR --work DIR
                --out DIR [--quick] [--reps N]

Started by bench/run, which builds what this needs.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True     # no __pycache__ in the tree
HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, 'guest-tests'))
sys.path.insert(0, os.path.join(TOP, 'guest-tests', 'linux'))
import linux_guest as lg  # noqa: E402
from qmp_client import QMP  # noqa: E402

# The CPU of each variant as QEMU arguments: -cpu, and for TME the
# x86-tme object (the package's TME options) with the firmware role
INTEL_CPU = 'max,vendor=GenuineIntel,phys-bits=46'
INTEL = ['-cpu', INTEL_CPU]
TME = ['-cpu', INTEL_CPU + ',+tme,+pconfig',
       '-object', 'x86-tme,id=tme0,activate=on']
GIB = 1 << 30
MIB = 1 << 20


class BenchError(Exception):
    pass


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- machine
def sh(cmd):
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, check=False
                              ).stdout.decode(errors='replace').strip()
    except OSError:
        return ''


def cpu_times():
    """The "cpu" line of /proc/stat: user ... steal, in ticks"""
    with open('/proc/stat') as f:
        return [int(x) for x in f.readline().split()[1:9]]


def built(qemu):
    """When the binary (or the copy bench/run made of it) was linked"""
    path = qemu + '.bin' if os.path.exists(qemu + '.bin') else qemu
    return datetime.datetime.fromtimestamp(os.path.getmtime(path)).astimezone(
        ).isoformat(timespec='seconds')


def machine(args):
    lscpu = sh(['lscpu'])
    info = {}
    for line in lscpu.splitlines():
        k, _, v = line.partition(':')
        info[k.strip()] = v.strip()
    flags = set()
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('flags'):
                flags = set(line.split(':', 1)[1].split())
                break
    with open('/proc/meminfo') as f:
        mem_kb = int(f.readline().split()[1])
    head = sh(['git', '-C', TOP, 'rev-parse', '--short', 'HEAD'])
    dirty = sh(['git', '-C', TOP, 'status', '--porcelain', '--',
                'patches'])
    return {
        'cpu_model': info.get('Model name', platform.processor()),
        'cpus_online': os.cpu_count(),
        'cores_per_socket': info.get('Core(s) per socket', '?'),
        'threads_per_core': info.get('Thread(s) per core', '?'),
        'sockets': info.get('Socket(s)', '?'),
        'hypervisor': info.get('Hypervisor vendor', 'none'),
        'aes_ni': 'aes' in flags,
        'vaes': 'vaes' in flags,
        'vpclmulqdq': 'vpclmulqdq' in flags,
        'avx512f': 'avx512f' in flags,
        'memory_gib': round(mem_kb / (1 << 20), 1),
        'host_kernel': platform.release(),
        'debian': sh(['cat', '/etc/debian_version']),
        'openssl': sh(['openssl', 'version']),
        'gnutls': sh(['dpkg-query', '-W', '-f=${Version}', 'libgnutls30']),
        'gcc': sh(['gcc', '-dumpfullversion']),
        'qemu_patched': sh([args.patched, '--version']).splitlines()[0],
        'qemu_patched_built': built(args.patched),
        'qemu_stock': sh([args.stock, '--version']).splitlines()[0],
        'commit': head + (' (engine or patches modified)' if dirty else ''),
    }


# ------------------------------------------------------------ QEMU runner
class Guest:
    """A QEMU process whose serial console is timestamped line by line."""

    def __init__(self, cmd, timeout, qmp_sock=None, env=None):
        log('  $ ' + ' '.join('%s=%s' % kv for kv in (env or {}).items()) +
            (' ' if env else '') + ' '.join(cmd))
        self.cmd = cmd
        self.errf = tempfile.TemporaryFile()
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                  stderr=self.errf, stdin=subprocess.DEVNULL,
                                  env=dict(os.environ, **env) if env else None)
        self.t0 = time.monotonic()
        self.lines = []             # (seconds since start, text)
        self.timer = threading.Timer(timeout, self.kill)
        self.timer.start()
        self.timed_out = False
        self.thp = None
        self.qmp = QMP(qmp_sock, timeout=30) if qmp_sock else None

    def kill(self):
        self.timed_out = True
        self.p.kill()

    def readline(self):
        raw = self.p.stdout.readline()
        if not raw:
            return None
        text = raw.decode(errors='replace').replace('\r', '').rstrip('\n')
        self.lines.append((time.monotonic() - self.t0, text))
        if text == '@@ stop touch':
            self.thp = thp_bytes(self.p.pid)
        return text

    def wait_for(self, text):
        while True:
            line = self.readline()
            if line is None:
                self.fail('QEMU ended before printing "%s"' % text)
            if line == text:
                return

    def finish(self):
        """Read to the end; return QEMU's exit status."""
        while self.readline() is not None:
            pass
        rc = self.p.wait()
        self.timer.cancel()
        if self.timed_out:
            self.fail('QEMU timed out')
        return rc

    def stderr(self):
        self.errf.seek(0)
        return self.errf.read().decode(errors='replace')

    def fail(self, why):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.timer.cancel()
        tail = '\n'.join(t for _, t in self.lines[-20:])
        raise BenchError('%s\n  command: %s\n  console:\n%s\n  stderr:\n%s' %
                         (why, ' '.join(self.cmd), tail, self.stderr()))

    def phases(self):
        """Durations of the guest's "@@ start X" ... "@@ stop X" pairs."""
        starts, res = {}, {}
        for t, text in self.lines:
            m = re.match(r'@@ (start|stop) (\S+)$', text)
            if m and m.group(1) == 'start':
                starts[m.group(2)] = t
            elif m:
                res[m.group(2)] = t - starts[m.group(2)]
        return res


def baremetal_cmd(qemu, elf, cpu, mem, append, qmp_sock=None):
    """@cpu: the arguments -cpu and any -object (INTEL, TME)"""
    cmd = [qemu, '-machine', 'q35', '-m', mem] + cpu + \
        ['-nodefaults', '-display', 'none', '-serial', 'stdio', '-no-reboot',
         '-device', 'isa-debug-exit,iobase=0xf4,iosize=4',
         '-kernel', elf, '-append', append]
    if qmp_sock:
        cmd += ['-qmp', 'unix:%s,server=on,wait=off' % qmp_sock]
    return cmd


def run_baremetal(qemu, elf, cpu, mem, append, timeout=600, env=None):
    g = Guest(baremetal_cmd(qemu, elf, cpu, mem, append), timeout, env=env)
    rc = g.finish()
    if rc != 1 or any(t.startswith('Bail out!') for _, t in g.lines):
        g.fail('the benchmark guest failed (exit status %d)' % rc)
    if env and 'QEMU_BENCH_CPU_SIZE' in env and \
            'cpu-placement: placed the vCPU object' not in g.stderr():
        g.fail('the allocation shim placed no object of %s bytes' %
               env['QEMU_BENCH_CPU_SIZE'])
    ph = g.phases()
    if g.thp is not None:
        ph['thp_bytes'] = g.thp
    return ph


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise BenchError('no VmRSS for %d' % pid)


def thp_bytes(pid):
    """Transparent huge pages backing the process (host TLB reach)"""
    try:
        with open('/proc/%d/smaps_rollup' % pid) as f:
            for line in f:
                if line.startswith('AnonHugePages:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


# -------------------------------------------------------------- B1 boot
def b1_boot(cfg, R):
    log('B1: Linux %s boot to busybox init and poweroff' % cfg.kver)
    initrd = lg.make_initramfs(os.path.join(cfg.work, 'initrd-b1.cpio'))
    # patched-off: the series compiled in, TME not enumerated
    variants = [('stock', cfg.stock, INTEL), ('patched', cfg.patched, TME),
                ('patched-off', cfg.patched, INTEL)]
    res = {v[0]: [] for v in variants}
    for name, qemu, cpu in variants:
        log('  warm-up (not counted): %s' % name)
        lg.boot(qemu, cfg.vmlinux, initrd, cpu)
    for rep in range(cfg.reps):
        for name, qemu, cpu in variants:
            out, wall, err = lg.boot(qemu, cfg.vmlinux, initrd, cpu)
            if '=== TME-TEST END ===' not in out:
                raise BenchError('B1 %s did not reach init:\n%s\n%s' %
                                 (name, out[-2000:], err))
            dmesg = lg.section(out, 'DMESG')
            if (name == 'patched') != ('x86/tme: enabled by BIOS' in dmesg):
                raise BenchError('B1: the %s guest saw TME %s' %
                                 (name, 'off' if name == 'patched'
                                  else 'on'))
            res[name].append(wall)
            log('  rep %d %-8s %.3f s' % (rep + 1, name, wall))
    R['b1'] = {'kernel': cfg.kver_full, 'memory': '512M', 'smp': 1,
               'wall_s': res}


# ------------------------------------------------------ B2 memory work
def cpu_layout(qemu):
    """(size of X86CPU, offset of its CPUX86State) in the binary behind
    the wrapper @qemu, from its debug information"""
    out = subprocess.run(['gdb', '-q', '-batch', '-nx',
                          '-ex', 'print sizeof(X86CPU)',
                          '-ex', 'print (long)&((X86CPU *)0)->env',
                          qemu + '.bin'],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         check=False).stdout.decode(errors='replace')
    vals = re.findall(r'^\$\d+ = (\d+)$', out, re.M)
    if len(vals) != 2:
        raise BenchError('cannot read the layout of X86CPU from %s.bin '
                         '(gdb and debug information needed):\n%s' %
                         (qemu, out))
    return int(vals[0]), int(vals[1])


def placement_env(cfg, layout, env_mod64):
    """Preload bench/placement/cpu-placement.c so that the vCPU's
    CPUX86State starts @env_mod64 bytes after a 64-byte boundary"""
    size, env_off = layout
    return {'LD_PRELOAD': cfg.placement_so,
            'QEMU_BENCH_CPU_SIZE': str(size),
            'QEMU_BENCH_CPU_OFFSET': str((env_mod64 - env_off) % 64)}


def b2_memory(cfg, R):
    log('B2: %d MiB write, read and copy, %d passes each' %
        (cfg.b2_mib, cfg.b2_passes))
    # patched-off: the series compiled in, TME not enumerated (the
    # "disabled costs nothing" case, judged on its fastest runs)
    variants = [('stock-keyid0', cfg.stock, INTEL, 0),
                ('patched-off', cfg.patched, INTEL, 0),
                ('patched-keyid0', cfg.patched, TME, 0),
                ('patched-keyid1', cfg.patched, TME, 1)]
    # Where the heap puts the vCPU object decides the copy phase's speed
    # (bench/README.md): every variant gets the same placements of its
    # CPUX86State, 0, 16, 32 and 48 bytes after a cache line, in turn
    layout = {q: cpu_layout(q) for q in (cfg.stock, cfg.patched)}
    placements = [16 * (rep % 4) for rep in range(cfg.reps)]
    res = {v[0]: [] for v in variants}
    for name, qemu, cpu, keyid in variants:
        log('  warm-up (not counted): %s' % name)
        run_baremetal(qemu, cfg.guest, cpu, '1G',
                      'mem keyid=%d mib=%d passes=1' % (keyid, cfg.b2_mib),
                      env=placement_env(cfg, layout[qemu], 0))
    for rep in range(cfg.reps):
        for name, qemu, cpu, keyid in variants:
            ph = run_baremetal(qemu, cfg.guest, cpu, '1G',
                               'mem keyid=%d mib=%d passes=%d' %
                               (keyid, cfg.b2_mib, cfg.b2_passes),
                               env=placement_env(cfg, layout[qemu],
                                                 placements[rep]))
            ph['work'] = ph['write'] + ph['read'] + ph['copy']
            ph['env_mod64'] = placements[rep]
            res[name].append(ph)
            log('  rep %d %-15s env%%64 %2d ' % (rep + 1, name,
                                                 placements[rep]) +
                ' '.join('%s %.3f' % (k, ph[k]) for k in
                         ('touch', 'write', 'read', 'copy', 'work')) +
                ' THP %.0f MiB' % (ph.get('thp_bytes', 0) / MIB))
    R['b2'] = {'mib': cfg.b2_mib, 'passes': cfg.b2_passes, 'runs': res,
               'x86cpu_layout': {'stock': layout[cfg.stock],
                                 'patched': layout[cfg.patched]}}


# -------------------------------------------------------- B3 conversions
def engine(cfg, *args):
    out = subprocess.run([cfg.engine] + [str(a) for a in args],
                         stdout=subprocess.PIPE, check=True).stdout
    r = json.loads(out.decode())
    if r.get('ok') is False:
        raise BenchError('engine benchmark %s: wrong data' % (args,))
    return r


def openssl_speed(cfg):
    cmd = ['openssl', 'speed', '-evp', 'aes-128-xts', '-bytes', '4096']
    if cfg.quick:
        cmd += ['-seconds', '1']
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         check=True).stdout.decode()
    m = re.search(r'^AES-128-XTS\s+([0-9.]+)k\s*$', out, re.M)
    if not m:
        raise BenchError('cannot parse openssl speed:\n' + out)
    return {'command': ' '.join(cmd), 'bytes_per_s': float(m.group(1)) * 1000}


def b3_conversions(cfg, R):
    log('B3: conversions per second, engine and guest, next to OpenSSL')
    res = {'engine_1_2': [], 'engine_0_1': [], 'engine_1_2_64mib': [],
           'xts_pair': [], 'setkey': [], 'openssl': [], 'guest': []}
    s = cfg.engine_s
    for rep in range(cfg.reps):
        res['engine_1_2'].append(engine(cfg, 'convert', 1, 2, 1, s))
        res['openssl'].append(openssl_speed(cfg))
        res['engine_0_1'].append(engine(cfg, 'convert', 0, 1, 1, s))
        res['engine_1_2_64mib'].append(engine(cfg, 'convert', 1, 2,
                                              64 * MIB // 4096, s))
        res['xts_pair'].append(engine(cfg, 'xts', s))
        res['setkey'].append(engine(cfg, 'setkey', s / 4))
        ph = run_baremetal(cfg.patched, cfg.guest, TME, '256M',
                           'flip iters=%d' % cfg.flip_iters)
        res['guest'].append({'conversions': 2 * cfg.flip_iters,
                             'wall_s': ph['flip'],
                             'per_s': 2 * cfg.flip_iters / ph['flip']})
        log('  rep %d engine %.0f/s, engine 0<->1 %.0f/s, 64 MiB %.0f/s, '
            'xts pair %.0f/s, setkey %.0f/s, openssl %.0f MB/s, guest %.0f/s'
            % (rep + 1, res['engine_1_2'][-1]['per_s'],
               res['engine_0_1'][-1]['per_s'],
               res['engine_1_2_64mib'][-1]['per_s'],
               res['xts_pair'][-1]['per_s'], res['setkey'][-1]['per_s'],
               res['openssl'][-1]['bytes_per_s'] / 1e6,
               res['guest'][-1]['per_s']))
    R['b3'] = res


# ------------------------------------------------------ B4 DRAM save
def b4_dram_save(cfg, R):
    log('B4: x-tme-dram-save of 1 GiB')
    size = GIB
    shm = '/dev/shm' if os.path.isdir('/dev/shm') else cfg.work
    dump = os.path.join(shm, 'qemu-tme-bench-%d.bin' % os.getpid())
    sock = os.path.join(cfg.work, 'qmp-b4.sock')
    runs = [('patched-keyid0', cfg.patched, TME, 0, 'x-tme-dram-save'),
            ('patched-keyid0', cfg.patched, TME, 0, 'pmemsave'),
            ('stock', cfg.stock, INTEL, 0, 'pmemsave'),
            ('patched-keyid1', cfg.patched, TME, 1, 'x-tme-dram-save')]
    res = {}

    def one(qemu, cpu, keyid, cmds):
        if os.path.exists(sock):
            os.unlink(sock)
        g = Guest(baremetal_cmd(qemu, cfg.guest, cpu, '2G',
                                'fill keyid=%d base=0x%x mib=%d' %
                                (keyid, GIB, size // MIB), qmp_sock=sock),
                  600, qmp_sock=sock)
        g.wait_for('@@ ready')
        out = {}
        for c in cmds:
            # To a file in tmpfs (checked), then to /dev/null: QEMU alone,
            # without the host kernel's page allocation for the file
            for target in (dump, os.devnull):
                args = ({'val': GIB, 'size': size, 'filename': target}
                        if c == 'pmemsave' else
                        {'addr': GIB, 'size': size, 'filename': target})
                t = time.monotonic()
                g.qmp.cmd(c, **args)
                dt = time.monotonic() - t
                if target == dump:
                    got = os.path.getsize(dump)
                    os.unlink(dump)
                    if got != size:
                        g.fail('%s wrote %d bytes, not %d' % (c, got, size))
                    out[c + ' file'] = dt
                else:
                    out[c] = dt
        g.qmp.cmd('quit')
        g.finish()
        return out

    try:
        for rep in range(cfg.reps):
            # x-tme-dram-save and pmemsave on one patched QEMU, then stock
            for (name, qemu, cpu, keyid), cmds in [
                    (runs[0][:4], ['x-tme-dram-save', 'pmemsave']),
                    (runs[2][:4], ['pmemsave']),
                    (runs[3][:4], ['x-tme-dram-save'])]:
                out = one(qemu, cpu, keyid, cmds)
                for c, dt in out.items():
                    key = '%s %s' % (name, c)
                    res.setdefault(key, []).append(size / dt / 1e9)
                    log('  rep %d %-37s %.3f s  %.2f GB/s' %
                        (rep + 1, key, dt, size / dt / 1e9))
    finally:
        if os.path.exists(dump):
            os.unlink(dump)
    R['b4'] = {'bytes': size, 'gb_per_s': res, 'file': shm}


# ------------------------------------------------------------ B5 memory
def b5_memory(cfg, R):
    log('B5: host RSS of a 4 GiB guest after Linux %s boots' % cfg.kver)
    ready = os.path.join(cfg.work, 'b5-ready.sh')
    with open(ready, 'w') as f:
        f.write('#!/bin/sh\necho "@@ ready"\nsleep 3600\n')
    os.chmod(ready, 0o755)
    initrd = lg.make_initramfs(os.path.join(cfg.work, 'initrd-b5.cpio'),
                               [(ready, 'tme-test.sh')])
    sock = os.path.join(cfg.work, 'qmp-b5.sock')
    # patched-off: the series compiled in, TME not enumerated
    variants = [('stock', cfg.stock, INTEL), ('patched', cfg.patched, TME),
                ('patched-off', cfg.patched, INTEL)]
    res = {v[0]: [] for v in variants}
    for rep in range(cfg.reps):
        for name, qemu, cpu in variants:
            if os.path.exists(sock):
                os.unlink(sock)
            cmd = [qemu, '-machine', 'q35', '-m', '4G', '-smp', '1'] + \
                cpu + ['-nodefaults', '-display', 'none',
                       '-serial', 'stdio', '-no-reboot', '-kernel',
                       cfg.vmlinux, '-initrd', initrd, '-append',
                       'console=ttyS0 loglevel=4 panic=-1',
                       '-qmp', 'unix:%s,server=on,wait=off' % sock]
            g = Guest(cmd, 600, qmp_sock=sock)
            g.wait_for('@@ ready')
            time.sleep(1)
            kib = rss_kib(g.p.pid)
            g.qmp.cmd('quit')
            g.finish()
            res[name].append(kib * 1024)
            log('  rep %d %-8s RSS %.1f MiB' % (rep + 1, name, kib / 1024))
    meta = engine(cfg, 'metadata', 4)
    R['b5'] = {'guest_memory': '4G', 'kernel': cfg.kver_full,
               'rss_bytes': res, 'metadata': meta}


# ------------------------------------------- B6 instruction counts
def callgrind_least(cfg, qemu, cpu, append, tag):
    """callgrind_ir() of cfg.cg_runs runs: (the least, all of them).  A run
    sometimes translates some blocks again (TCG sizes its TLBs over
    wall-clock windows), which only ever adds: the least is the count."""
    irs = [callgrind_ir(cfg, qemu, cpu, append, tag)
           for _ in range(cfg.cg_runs)]
    return min(irs), irs


def callgrind_ir(cfg, qemu, cpu, append, tag):
    """Instructions QEMU's vCPU thread executes in cpu_exec() for one run
    of the benchmark guest under valgrind --tool=callgrind"""
    out = os.path.join(cfg.work, 'callgrind-%s.out' % tag)
    qcmd = baremetal_cmd(qemu, cfg.guest, cpu, '1G', append)
    # bench/run's copies are wrappers (exec BIN -L DIR): count BIN itself
    with open(qemu, 'rb') as f:
        head = f.read(512).decode(errors='replace')
    m = re.search(r'exec "([^"]+)" -L "([^"]+)"', head)
    if head.startswith('#!') and m:
        qcmd = [m.group(1), '-L', m.group(2)] + qcmd[1:]
    # Only what the vCPU executes (cpu_exec() and below): the main loop's
    # share depends on wall time, so on the host's load
    cmd = ['valgrind', '--tool=callgrind', '--callgrind-out-file=' + out,
           '--dump-instr=no', '--toggle-collect=cpu_exec'] + qcmd
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=3600)
    if p.returncode != 1 or b'Bail out!' in p.stdout:
        raise BenchError('B6 %s: the guest failed (status %d)\n%s' %
                         (tag, p.returncode, p.stderr.decode()[-2000:]))
    with open(out) as f:
        for line in f:
            if line.startswith('summary:') or line.startswith('totals:'):
                ir = int(line.split()[1])
    os.unlink(out)
    return ir


def b6_instructions(cfg, R):
    """Instructions, not seconds: QEMU without TME enumerated and with TME
    (KeyID 0) against stock, for the B2 guest.  Three runs each: 1 MiB
    with one pass (start-up), 33 MiB with one pass and with two.  The
    difference of the last two is one pass of write, read and copy over
    32 MiB more; the difference of the first two, less that pass, is the
    first touch of 64 MiB of fresh RAM (two buffers of 32 MiB)."""
    log('B6: instruction counts under callgrind (B2 guest, 1 and 33 MiB)')
    variants = [('stock', cfg.stock, INTEL),
                ('patched-tme-off', cfg.patched, INTEL),
                ('patched-tme-on', cfg.patched, TME)]
    runs = [('start', 1, 1), ('one-pass', 33, 1), ('two-passes', 33, 2)]
    res = {}
    for name, qemu, cpu in variants:
        res[name] = {}
        for tag, mib, passes in runs:
            least, irs = callgrind_least(
                cfg, qemu, cpu, 'mem keyid=0 mib=%d passes=%d' %
                (mib, passes), '%s-%s' % (name, tag))
            res[name][tag], res[name][tag + '-all'] = least, irs
            log('  %-16s %-10s %d instructions (least of %s)' %
                (name, tag, least, ', '.join(map(str, irs))))
        r = res[name]
        r['pass'] = r['two-passes'] - r['one-pass']
        r['touch'] = r['one-pass'] - r['start'] - r['pass'] * 32 // 33
    R['b6'] = {'runs': res, 'work_mib': 32, 'cg_runs': cfg.cg_runs}


# ------------------------------------------------------- B7 first touch
def compact_memory():
    """Have the host kernel compact its free memory before a run, so
    that each run finds free huge pages alike: the same host memory state
    for every variant (root only; False where not allowed)"""
    try:
        with open('/proc/sys/vm/compact_memory', 'w') as f:
            f.write('1\n')
        return True
    except OSError:
        return False


def b7_first_touch(cfg, R):
    """The touch phase of B2 alone (guest: mem passes=0), the one whose
    wall time host page faults make noisy: twice B2's repetitions, the
    order of the variants rotating, host memory compacted before each
    run; with the host's side (page faults, system time) from the QEMU
    process's rusage, and the vCPU's instructions under callgrind."""
    reps = 2 * cfg.reps
    log('B7: first touch of 2 x %d MiB of fresh RAM, %d repetitions' %
        (cfg.b2_mib, reps))
    variants = [('stock-keyid0', cfg.stock, INTEL, 0),
                ('patched-off', cfg.patched, INTEL, 0),
                ('patched-keyid0', cfg.patched, TME, 0),
                ('patched-keyid1', cfg.patched, TME, 1)]
    res = {v[0]: [] for v in variants}
    compacted = True
    for rep in range(reps):
        k = rep % len(variants)
        for name, qemu, cpu, keyid in variants[k:] + variants[:k]:
            compacted = compact_memory() and compacted
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            ph = run_baremetal(qemu, cfg.guest, cpu, '1G',
                               'mem keyid=%d mib=%d passes=0' %
                               (keyid, cfg.b2_mib))
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            run = {'touch': ph['touch'],
                   'thp_bytes': ph.get('thp_bytes', 0),
                   'minflt': after.ru_minflt - before.ru_minflt,
                   'sys_s': after.ru_stime - before.ru_stime,
                   'user_s': after.ru_utime - before.ru_utime}
            res[name].append(run)
            log('  rep %d %-15s touch %.3f s, %d page faults, sys %.3f s, '
                'user %.3f s, THP %.0f MiB' %
                (rep + 1, name, run['touch'], run['minflt'], run['sys_s'],
                 run['user_s'], run['thp_bytes'] / MIB))
    # The vCPU's instructions for the touch alone: B2's size less 1 MiB
    ir = {}
    for name, qemu, cpu, keyid in variants[:3]:
        n = {}
        for tag, mib in (('big', cfg.b2_mib), ('small', 1)):
            n[tag] = callgrind_least(cfg, qemu, cpu,
                                     'mem keyid=%d mib=%d passes=0' %
                                     (keyid, mib),
                                     'b7-%s-%s' % (name, tag))[0]
        n['touch'] = n['big'] - n['small']
        ir[name] = n
        log('  %-16s touch of 2 x %d MiB: %d instructions' %
            (name, cfg.b2_mib - 1, n['touch']))
    R['b7'] = {'mib': cfg.b2_mib, 'reps': reps, 'compacted': compacted,
               'cg_runs': cfg.cg_runs,
               'runs': res, 'instructions': ir}


# ----------------------------------------------------------------- main
def repo_path(path):
    """@path relative to the repository, so that results name no host path"""
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.relpath(os.path.abspath(path), top)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--patched', required=True)
    ap.add_argument('--stock', required=True)
    ap.add_argument('--tools', required=True)
    ap.add_argument('--work', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--reps', type=int)
    ap.add_argument('--only', default='b1,b2,b3,b4,b5,b6,b7')
    cfg = ap.parse_args()
    cfg.reps = cfg.reps or (2 if cfg.quick else 15)
    cfg.guest = os.path.join(cfg.tools, 'bench-guest.elf')
    cfg.engine = os.path.join(cfg.tools, 'tme-bench-engine')
    cfg.placement_so = os.path.join(cfg.tools, 'cpu-placement.so')
    cfg.b2_mib = 256
    cfg.b2_passes = 2 if cfg.quick else 4
    cfg.engine_s = 0.5 if cfg.quick else 2.0
    cfg.flip_iters = 20000 if cfg.quick else 100000
    cfg.cg_runs = 1 if cfg.quick else 3
    os.makedirs(cfg.work, exist_ok=True)
    os.makedirs(cfg.out, exist_ok=True)

    only = cfg.only.split(',')
    if 'b1' in only or 'b5' in only:
        cfg.kver = '6.1'
        cfg.kver_full, kdir = lg.kernels()['6.1']
        cfg.vmlinux = os.path.join(kdir, 'vmlinux')

    t0 = time.monotonic()
    ticks0 = cpu_times()
    ours0 = sum(getattr(resource.getrusage(w), f)
                for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                for f in ('ru_utime', 'ru_stime'))
    R = {'started': datetime.datetime.now().astimezone().isoformat(
             timespec='seconds'),
         'quick': cfg.quick, 'reps': cfg.reps, 'machine': machine(cfg),
         'qemu': {'patched': repo_path(cfg.patched),
                  'stock': repo_path(cfg.stock)}}
    log('machine: %(cpu_model)s, %(cpus_online)s CPUs, AES-NI %(aes_ni)s, '
        'VAES %(vaes)s' % R['machine'])
    for name, fn in [('b1', b1_boot), ('b2', b2_memory),
                     ('b3', b3_conversions), ('b4', b4_dram_save),
                     ('b5', b5_memory), ('b6', b6_instructions),
                     ('b7', b7_first_touch)]:
        if name in only:
            t = time.monotonic()
            fn(cfg, R)
            R.setdefault('seconds', {})[name] = round(time.monotonic() - t, 1)
    R['wall_s'] = round(time.monotonic() - t0, 1)
    d = [b - a for a, b in zip(ticks0, cpu_times())]
    # Time the hypervisor gave to others while we ran: a source of noise
    R['steal_percent'] = round(100.0 * d[7] / max(1, sum(d)), 2)
    # CPU time that other processes of this machine used meanwhile: another
    busy = sum(d[i] for i in (0, 1, 2, 5, 6)) / os.sysconf('SC_CLK_TCK')
    ours = sum(getattr(resource.getrusage(w), f)
               for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ('ru_utime', 'ru_stime')) - ours0
    R['other_load_percent'] = round(
        max(0.0, 100.0 * (busy - ours) / (R['wall_s'] * os.cpu_count())), 2)
    path = os.path.join(cfg.out, 'raw.json')
    with open(path, 'w') as f:
        json.dump(R, f, indent=1)
        f.write('\n')
    log('wrote %s (%.0f s)' % (path, R['wall_s']))


if __name__ == '__main__':
    try:
        main()
    except BenchError as e:
        print('ERROR: %s' % e, file=sys.stderr)
        sys.exit(1)
