# SPDX-License-Identifier: GPL-2.0-or-later
"""Profile where conversions and guest memory work spend their time, and
write results/profile.md.

usage: profile.py --patched QEMU --tools DIR --work DIR --out DIR

- perf record of the engine benchmark converting one page between
  KeyIDs 1 and 2, and valgrind --tool=callgrind of the same (exact
  instruction counts, inclusive per function);
- perf record of the patched QEMU, attached only while the benchmark
  guest runs one phase: pages alternating between KeyIDs (B3 end to
  end) and the memory work through KeyID 1 (B2).
Started by bench/profile.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys

sys.dont_write_bytecode = True     # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          check=True, **kw).stdout.decode(errors='replace')


def perf_top(data, n=15):
    """The functions with most samples, self time"""
    out = run(['perf', 'report', '-i', data, '--no-children', '-g', 'none',
               '--stdio', '--sort', 'dso,sym', '-t', '|'])
    folded = {}
    for line in out.splitlines():
        f = [x.strip() for x in line.split('|')]
        if line.startswith('#') or len(f) != 3 or not f[0].endswith('%'):
            continue
        pct, dso, sym = float(f[0][:-1]), f[1], f[2][4:].strip()
        if dso.startswith('[JIT]'):
            # Fold the samples of TCG's translated code into one row
            dso, sym = 'JIT', '(guest code translated by TCG)'
        folded[(dso, sym)] = folded.get((dso, sym), 0) + pct
    top = sorted(folded.items(), key=lambda kv: -kv[1])[:n]
    return ['| %.1f%% | %s | %s |' % (pct, sym if dso == 'JIT' else
                                      '`%s`' % sym, dso)
            for (dso, sym), pct in top]


def callgrind_table(cfg):
    """Instructions per conversion of the functions on its path"""
    out = os.path.join(cfg.work, 'callgrind.out')
    res = run(['valgrind', '--tool=callgrind', '--callgrind-out-file=' + out,
               cfg.engine, 'convert', '1', '2', '1', '0.2'])
    conversions = json.loads(res)['conversions']
    counts = {}
    for incl in ('yes', 'no'):
        text = run(['callgrind_annotate', '--inclusive=' + incl,
                    '--threshold=100', out])
        for line in text.splitlines():
            m = re.match(r'\s*([0-9,]+)\s+\(\s*[0-9.]+%\)\s+\S*?:(\S+) ',
                         line)
            if m:
                counts.setdefault(m.group(2), {})[incl] = int(
                    m.group(1).replace(',', ''))
    # The functions under the benchmark's main loop, with 1% or more
    top = counts.get('tme_engine_convert', {}).get('yes', 1)
    rows = sorted((fn for fn, c in counts.items()
                   if c.get('yes', 0) >= top / 100 and fn != 'main' and
                   not fn.startswith(('(', '0x', '__libc', 'bench_', '_dl',
                                      'dl_', 'do_lookup'))),
                  key=lambda fn: -counts[fn].get('yes', 0))
    md = ['The engine benchmark converted one page %d times (its warm-up '
          'and set-up are counted in too); instructions per '
          'conversion:\n' % conversions,
          '| function | inclusive | self |', '|---|---|---|']
    for fn in rows:
        c = counts[fn]
        if c:
            md.append('| `%s` | %.0f | %.0f |' % (
                fn, c.get('yes', 0) / conversions,
                c.get('no', 0) / conversions))
    return md


def perf_window(cfg, data, append, start, stop, mem):
    """perf record of QEMU between two lines of the guest's console"""
    cmd = bench.baremetal_cmd(cfg.patched, cfg.guest, bench.TME, mem, append)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    perf = None
    for raw in p.stdout:
        line = raw.decode(errors='replace').strip()
        if line == start:
            perf = subprocess.Popen(['perf', 'record', '-q', '-g', '-o', data,
                                     '-p', str(p.pid)],
                                    stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        elif line == stop and perf:
            perf.send_signal(signal.SIGINT)
            perf.wait()
            perf = None
    p.wait()
    if perf:
        perf.kill()
    return perf_top(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--patched', required=True)
    ap.add_argument('--tools', required=True)
    ap.add_argument('--work', required=True)
    ap.add_argument('--out', required=True)
    cfg = ap.parse_args()
    cfg.guest = os.path.join(cfg.tools, 'bench-guest.elf')
    cfg.engine = os.path.join(cfg.tools, 'tme-bench-engine')
    os.makedirs(cfg.work, exist_ok=True)
    md = ['<!-- SPDX-License-Identifier: GPL-2.0-or-later -->',
          '<!-- Written by bench/profile; do not edit. -->',
          '# Profiles\n',
          'Written by `bench/profile` (perf and valgrind from Debian); self '
          'time per function unless said otherwise. Samples of the code TCG '
          'translated for the guest are folded into one row.\n']

    print('perf: engine alone, KeyID 1 <-> 2', flush=True)
    data = os.path.join(cfg.work, 'perf-engine.data')
    run(['perf', 'record', '-q', '-g', '-o', data, cfg.engine, 'convert',
         '1', '2', '1', '3'])
    md += ['## Engine alone: one page converted between KeyIDs 1 and 2 '
           '(perf)\n', '| self | function | object |', '|---|---|---|']
    md += perf_top(data) + ['']

    print('callgrind: engine alone', flush=True)
    md += ['## The same under callgrind\n']
    md += callgrind_table(cfg) + ['']

    print('perf: QEMU while a page alternates between KeyIDs', flush=True)
    md += ['## QEMU while the guest reads a page through KeyID 1 and 2 in '
           'turn (B3 end to end)\n', '| self | function | object |',
           '|---|---|---|']
    md += perf_window(cfg, os.path.join(cfg.work, 'perf-flip.data'),
                      'flip iters=300000', '@@ start flip', '@@ stop flip',
                      '256M') + ['']

    print('perf: QEMU during memory work through KeyID 1', flush=True)
    md += ['## QEMU during write, read and copy through KeyID 1 (B2)\n',
           '| self | function | object |', '|---|---|---|']
    md += perf_window(cfg, os.path.join(cfg.work, 'perf-mem.data'),
                      'mem keyid=1 mib=256 passes=4', '@@ stop touch',
                      '@@ stop copy', '1G') + ['']

    path = os.path.join(cfg.out, 'profile.md')
    with open(path, 'w') as f:
        f.write('\n'.join(md) + '\n')
    print('wrote ' + path)


if __name__ == '__main__':
    main()
