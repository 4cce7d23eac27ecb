# SPDX-License-Identifier: GPL-2.0-or-later
"""Turn bench/results/raw.json into results.md (tables, machine, notes)
and results.png (chart).

usage: report.py RESULTS-DIR [RUN-SECONDS]
"""
import json
import os
import statistics
import sys

PAGE = 4096
TARGET_RATIO = 1.03
# B1/B2 with the series compiled in and TME not enumerated: fastest runs
TARGET_RATIO_OFF = 1.01
# B6: instructions with the series compiled in, TME not enumerated
TARGET_IR_OFF = 1.002
TARGET_B3 = 0.63     # issue 13: conversions through the crypto layer


def med(xs):
    return statistics.median(xs)


class Stat:
    """median [min - max] of a list of samples"""

    def __init__(self, xs):
        self.xs = list(xs)
        self.med = med(self.xs)
        self.min = min(self.xs)
        self.max = max(self.xs)

    def fmt(self, f='%.3f', scale=1.0):
        return '%s [%s – %s]' % (f % (self.med * scale),
                                 f % (self.min * scale),
                                 f % (self.max * scale))


def ratios(a, b):
    """b / a per repetition: each pair ran back to back"""
    r = Stat([y / x for x, y in zip(a, b)])
    # Noise on a shared host only ever slows a run down: the fastest run
    # of each side is the least disturbed estimate
    r.best = min(b) / min(a)
    return r


def ratio_text(r):
    return 'ratio %s; fastest runs %.3f' % (r.fmt(), r.best)


def yes(ok):
    return '**met**' if ok else '**missed**'


def main():
    out = sys.argv[1]
    R = json.load(open(os.path.join(out, 'raw.json')))
    run_s = float(sys.argv[2]) if len(sys.argv) > 2 else R.get('wall_s', 0)
    m = R['machine']
    md = []
    w = md.append
    # (id, what, reference, patched, result, target, ok)
    summary = []
    notes = []
    best = []               # (id, what, ratio) of time ratios with a target
    chart = {}

    w('<!-- SPDX-License-Identifier: GPL-2.0-or-later -->')
    w('<!-- Written by bench/report.py from raw.json; do not edit. -->')
    w('# TME/MKTME benchmarks\n')
    w('Run of %s: %d interleaved repetitions of each benchmark (A B A B '
      '...)%s; the whole `bench/run` took %.1f min. Figures are medians '
      'with [min – max] over the repetitions. A ratio is patched / stock '
      'for each repetition (the two ran back to back), then its median '
      '[min – max]; "fastest runs" is the fastest patched run over the '
      'fastest stock run, the figure least disturbed by a noisy host. '
      'Targets are judged on the median. Figures are reported here, not '
      'asserted by tests.\n' %
      (R['started'], R['reps'], ', **quick mode**' if R['quick'] else '',
       run_s / 60))

    if R.get('other_load_percent', 0) > 5:
        w('**Warning:** other processes used %.0f%% of the CPUs during this '
          'run; its figures are noisier than those of a quiet machine.\n' %
          R['other_load_percent'])
    w('## Machine\n')
    w('| | |\n|---|---|')
    w('| CPU | %s%s |' % (m['cpu_model'], ' (virtual machine, %s)' %
                          m['hypervisor'] if m['hypervisor'] != 'none'
                          else ''))
    w('| cores | %s online (%s socket(s) × %s core(s) × %s thread(s)) |' %
      (m['cpus_online'], m['sockets'], m['cores_per_socket'],
       m['threads_per_core']))
    yn = {True: 'yes', False: 'no'}
    w('| AES-NI / VAES / VPCLMULQDQ / AVX-512F | %s / %s / %s / %s |' %
      (yn[m['aes_ni']], yn[m['vaes']], yn[m['vpclmulqdq']],
       yn[m['avx512f']]))
    w('| memory | %s GiB |' % m['memory_gib'])
    if 'steal_percent' in R:
        w('| during the run: CPU time stolen by the hypervisor; used by '
          'other processes | %.2f%%; %.2f%% of all CPUs |' %
          (R['steal_percent'], R.get('other_load_percent', 0)))
    w('| system | Debian %s, Linux %s |' % (m['debian'], m['host_kernel']))
    if 'gnutls' in m:
        w('| OpenSSL, GnuTLS (QEMU\'s crypto backend), GCC | %s; '
          'libgnutls30 %s; gcc %s |' % (m['openssl'], m['gnutls'], m['gcc']))
    else:
        w('| OpenSSL, Nettle, GCC | %s; libnettle8 %s; gcc %s |' %
          (m['openssl'], m['nettle'], m['gcc']))
    w('| QEMU | patched: %s, built %s from this repository (HEAD %s); '
      'stock: the same pinned source without the series, same configure '
      '(`bench/build-stock`) |\n'
      % (m['qemu_patched'], m.get('qemu_patched_built', '?'), m['commit']))

    # ---------------------------------------------------------------- B1
    if 'b1' in R:
        b = R['b1']
        s, p = b['wall_s']['stock'], b['wall_s']['patched']
        r = ratios(s, p)
        best.append(('B1', 'boot', r))
        summary.append(('B1', 'boot: Debian Linux %s to busybox init and '
                        'poweroff (wall s)' % b['kernel'],
                        Stat(s).fmt('%.2f'), Stat(p).fmt('%.2f'),
                        ratio_text(r), '≤ %.2f' % TARGET_RATIO,
                        r.med <= TARGET_RATIO))
        chart['B1 boot'] = r
        if 'patched-off' in b['wall_s']:
            po = b['wall_s']['patched-off']
            r = ratios(s, po)
            summary.append(('B1', 'boot, TME not enumerated (series compiled '
                            'in, stock\'s `-cpu`) (wall s)',
                            Stat(s).fmt('%.2f'), Stat(po).fmt('%.2f'),
                            ratio_text(r), 'fastest ≤ %.2f' %
                            TARGET_RATIO_OFF, r.best <= TARGET_RATIO_OFF))

    # ---------------------------------------------------------------- B2
    if 'b2' in R:
        b = R['b2']
        runs = b['runs']
        names = [n for n in ('stock-keyid0', 'patched-off',
                             'patched-keyid0', 'patched-keyid1')
                 if n in runs]
        phases = ['touch', 'write', 'read', 'copy', 'work']
        st = {n: {ph: [x[ph] for x in runs[n]] for ph in phases}
              for n in names}
        if 'patched-off' in st:
            r = ratios(st['stock-keyid0']['work'], st['patched-off']['work'])
            summary.append(('B2', 'guest memory work, TME not enumerated '
                            '(series compiled in): write, read and copy %d '
                            'MiB, %d passes each (s)' %
                            (b['mib'], b['passes']),
                            Stat(st['stock-keyid0']['work']).fmt(),
                            Stat(st['patched-off']['work']).fmt(),
                            ratio_text(r), 'fastest ≤ %.2f' %
                            TARGET_RATIO_OFF, r.best <= TARGET_RATIO_OFF))
        for n, label in [('patched-keyid0', 'KeyID 0'),
                         ('patched-keyid1', 'KeyID 1, direct key')]:
            r = ratios(st['stock-keyid0']['work'], st[n]['work'])
            best.append(('B2', 'memory work through ' + label, r))
            summary.append(('B2', 'guest memory work through %s: write, read '
                            'and copy %d MiB, %d passes each (s)' %
                            (label, b['mib'], b['passes']),
                            Stat(st['stock-keyid0']['work']).fmt(),
                            Stat(st[n]['work']).fmt(), ratio_text(r),
                            '≤ %.2f' % TARGET_RATIO, r.med <= TARGET_RATIO))
            chart['B2 ' + label.split(',')[0]] = r

    # ---------------------------------------------------------------- B3
    if 'b3' in R:
        b = R['b3']
        ossl = [x['bytes_per_s'] for x in b['openssl']]
        # OpenSSL's rate for the work of one conversion: encrypt and
        # decrypt one 4 KiB page
        ossl_conv = [x / (2 * PAGE) for x in ossl]
        rows = [('engine_1_2', 'engine alone: KeyID 1 ↔ 2, direct keys, one '
                 'page'),
                ('engine_0_1', 'engine alone: KeyID 0 (TME key) ↔ 1, one '
                 'page'),
                ('engine_1_2_64mib', 'engine alone: KeyID 1 ↔ 2 over 64 MiB '
                 '(out of cache)'),
                ('xts_pair', 'its AES-XTS work alone, keys expanded once'),
                ('guest', 'end to end: a guest reads a page through KeyID 1 '
                 'and 2 in turn')]
        b3 = {}
        for key, label in rows:
            rate = [x['per_s'] for x in b[key]]
            b3[key] = (Stat(rate), ratios(ossl_conv, rate))
        for key, label in [(rows[0][0], rows[0][1]), (rows[4][0],
                                                      rows[4][1])]:
            rate, r = b3[key]
            summary.append(('B3', label + ' (conversions/s)',
                            'OpenSSL ' + Stat(ossl_conv).fmt('%.0f'),
                            rate.fmt('%.0f'), 'engine / OpenSSL ' + r.fmt(),
                            '≥ %.2f' % TARGET_B3, r.med >= TARGET_B3))
        chart_b3 = {'engine 1↔2': b3['engine_1_2'][1],
                    'engine 0↔1': b3['engine_0_1'][1],
                    'XTS work alone': b3['xts_pair'][1],
                    'guest end to end': b3['guest'][1]}

    # ---------------------------------------------------------------- B4
    if 'b4' in R:
        b = R['b4']['gb_per_s']
        k0 = Stat(b['patched-keyid0 x-tme-dram-save'])
        summary.append(('B4', '`x-tme-dram-save` of 1 GiB to /dev/null, '
                        'pages of KeyID 0 (GB/s)', '`pmemsave`, stock ' +
                        Stat(b['stock pmemsave']).fmt('%.2f'),
                        k0.fmt('%.2f'), '%.2f GB/s' % k0.med, '—', None))

    # ---------------------------------------------------------------- B5
    if 'b5' in R:
        b = R['b5']
        s, p = b['rss_bytes']['stock'], b['rss_bytes']['patched']
        r = ratios(s, p)
        meta = b['metadata']
        summary.append(('B5', 'host RSS, %s guest after Linux %s boots (MiB)'
                        % (b['guest_memory'], b['kernel']),
                        Stat(s).fmt('%.1f', 1 / 2**20),
                        Stat(p).fmt('%.1f', 1 / 2**20), 'ratio ' + r.fmt(),
                        '—', None))
        summary.append(('B5', 'engine metadata per guest page (bytes)', '—',
                        '%.2f' % meta['bytes_per_page'],
                        '%d-byte owner per 4 KiB page' % meta['sizeof_owner'],
                        '—', None))
        chart['B5 RSS'] = r
        if 'patched-off' in b['rss_bytes']:
            po = b['rss_bytes']['patched-off']
            summary.append(('B5', 'host RSS, the same with TME not '
                            'enumerated (MiB)', Stat(s).fmt('%.1f', 1 / 2**20),
                            Stat(po).fmt('%.1f', 1 / 2**20),
                            'ratio ' + ratios(s, po).fmt(), '—', None))

    # ---------------------------------------------------------------- B6
    if 'b6' in R:
        b = R['b6']
        ir_stock = b['runs']['stock']
        for n, label, tgt in (('patched-tme-off', 'TME not enumerated',
                               TARGET_IR_OFF),
                              ('patched-tme-on', 'TME on, KeyID 0', None)):
            pr = b['runs'][n]
            for part, what in (('pass', 'one pass of write, read and copy '
                                '(%d MiB)' % b['work_mib']),
                               ('touch', 'first touch of %d MiB of fresh RAM'
                                % (2 * b['work_mib'])),
                               ('start', 'start-up and a 1 MiB run')):
                r = pr[part] / ir_stock[part]
                summary.append(('B6', 'instructions (callgrind), %s: %s' %
                                (label, what), '{:,}'.format(ir_stock[part]),
                                '{:,}'.format(pr[part]), '%.4f' % r,
                                '≤ %.3f' % tgt if tgt else '—',
                                r <= tgt if tgt and part != 'start'
                                else None))

    # ---------------------------------------------------------------- B7
    if 'b7' in R:
        b = R['b7']
        runs = b['runs']
        st7 = {n: {k: [x[k] for x in v] for k in v[0]}
               for n, v in runs.items()}
        sref = st7['stock-keyid0']
        b7_rows = [('patched-off', 'TME not enumerated'),
                   ('patched-keyid0', 'KeyID 0'),
                   ('patched-keyid1', 'KeyID 1, direct key')]
        for n, label in b7_rows[:2]:
            r = ratios(sref['touch'], st7[n]['touch'])
            best.append(('B7', 'first touch, ' + label, r))
            summary.append(('B7', 'first touch of 2 × %d MiB of fresh RAM, '
                            '%s, %d repetitions, host memory compacted '
                            'before each (s)' % (b['mib'], label, b['reps']),
                            Stat(sref['touch']).fmt(),
                            Stat(st7[n]['touch']).fmt(), ratio_text(r),
                            '≤ %.2f' % TARGET_RATIO, r.med <= TARGET_RATIO))
            chart['B7 touch ' + label.replace('TME not enumerated',
                                              'TME off')] = r
        ir = b['instructions']
        for n, label in b7_rows[:2]:
            r = ir[n]['touch'] / ir['stock-keyid0']['touch']
            tgt = TARGET_IR_OFF if n == 'patched-off' else None
            summary.append(('B7', 'instructions (callgrind) of that first '
                            'touch, %s' % label,
                            '{:,}'.format(ir['stock-keyid0']['touch']),
                            '{:,}'.format(ir[n]['touch']), '%.4f' % r,
                            '≤ %.3f' % tgt if tgt else '—',
                            r <= tgt if tgt else None))

    w('## Summary\n')
    w('| | benchmark | stock / reference | patched | result | target | |')
    w('|---|---|---|---|---|---|---|')
    for i, what, ref, pat, res, tgt, ok in summary:
        w('| %s | %s | %s | %s | %s | %s | %s |' %
          (i, what, ref, pat, res, tgt, '' if ok is None else yes(ok)))
    w('')

    # ------------------------------------------------------------ details
    w('## Details\n')
    if 'b1' in R:
        b = R['b1']
        w('### B1 boot\n')
        w('`-machine q35 -m %s -smp %d`, the vmlinux of Debian\'s %s through '
          'its PVH note, a busybox initramfs whose init prints dmesg and '
          '/proc/cpuinfo and powers off (guest-tests/linux). Stock: `-cpu '
          'max,vendor=GenuineIntel,phys-bits=46`; patched adds '
          '`+tme,+pconfig` and `-object x86-tme,id=tme0,activate=on`, and '
          'its guest reports '
          '`x86/tme: enabled by BIOS`; patched-off is the patched QEMU with '
          'stock\'s `-cpu` (TME not enumerated; its guest reports no TME). '
          'Wall time from starting QEMU to its exit.\n' %
          (b['memory'], b['smp'], b['kernel']))
        w('| | wall s |\n|---|---|')
        for n in b['wall_s']:
            w('| %s | %s |' % (n, Stat(b['wall_s'][n]).fmt()))
        w('')

    if 'b2' in R:
        b = R['b2']
        runs = b['runs']
        w('### B2 guest memory work\n')
        w('The bare-metal guest `bench/guest/bench-guest.c` (1 GiB guest, one '
          'vCPU) maps two %d MiB buffers through KeyID K with 2 MiB pages; '
          'K = 1 gets a direct key with PCONFIG. `touch` writes both once '
          '(the host faults the memory in; with KeyID 1 every page also '
          'converts from KeyID 0), then `write`, `read` (sum) and `copy` '
          'run %d passes each over 64-bit words; `work` is their sum and '
          'makes the ratio. Seconds, timed on the host from the guest\'s '
          'serial markers.\n' % (b['mib'], b['passes']))
        label = {'stock-keyid0': 'stock, KeyID 0',
                 'patched-off': 'patched, TME not enumerated',
                 'patched-keyid0': 'patched, KeyID 0',
                 'patched-keyid1': 'patched, KeyID 1'}
        pat = names[1:]
        w('| phase | ' + ' | '.join(label[n] for n in names) + ' | ' +
          ' | '.join('ratio ' + label[n].split(', ')[1] for n in pat) +
          ' |')
        w('|---' * (len(names) + len(pat) + 1) + '|')
        for ph in phases:
            a = st['stock-keyid0'][ph]
            w('| %s | ' % ph + ' | '.join(Stat(st[n][ph]).fmt()
                                          for n in names) + ' | ' +
              ' | '.join(ratios(a, st[n][ph]).fmt() for n in pat) + ' |')
        thp = {n: [x['thp_bytes'] / 2**20 for x in runs[n]
                   if x.get('thp_bytes') is not None] for n in names}
        if all(thp.values()):
            w('\nHost memory behind the guest\'s RAM in transparent huge '
              'pages after `touch` (MiB; fewer means more host TLB misses): '
              + ', '.join('%s %s' % (label[n], Stat(thp[n]).fmt('%.0f'))
                          for n in names) + '.')
        mb = b['mib'] * b['passes'] * 2**20 / 1e6
        w('\nThroughput of the stock guest: write %.0f MB/s, read %.0f MB/s, '
          'copy %.0f MB/s (of data copied).\n' % (
              mb / med(st['stock-keyid0']['write']),
              mb / med(st['stock-keyid0']['read']),
              mb / med(st['stock-keyid0']['copy'])))
        # The one-word loops' read phase had a fast mode that no variant
        # controlled (bench/README.md); say whether any run hit one, and
        # what the fastest runs are without those
        reads = [x['read'] for n in names for x in runs[n]]
        slow = 0.8 * med(reads)
        nfast = {n: sum(x['read'] < slow for x in runs[n]) for n in names}
        if not any(nfast.values()):
            w('The read phase ran at one speed: no run took less than 0.8 '
              'of the median of all runs (%.3f s).' % med(reads))
        else:
            rest = {n: [x['work'] for x in runs[n] if x['read'] >= slow]
                    for n in names}
            text = ('The read phase ran at two speeds: the usual one (median '
                    'of all runs %.3f s) and a fast mode that some runs hit; '
                    'runs with the read phase under %.3f s: %s.' % (
                        med(reads), slow, '; '.join(
                            '%s %d of %d' % (label[n], nfast[n],
                                             len(runs[n]))
                            for n in names)))
            if rest['stock-keyid0'] and rest.get('patched-off'):
                text += (' One such run decides "fastest runs"; among the '
                         'runs with the usual read speed, the fastest work '
                         'is %.3f s (stock) and %.3f s (TME not enumerated), '
                         'ratio %.3f.' % (
                             min(rest['stock-keyid0']),
                             min(rest['patched-off']),
                             min(rest['patched-off']) /
                             min(rest['stock-keyid0'])))
            w(text)
        w('')
        placed = sorted({x.get('env_mod64') for n in names for x in runs[n]
                         if x.get('env_mod64') is not None})
        if placed:
            lay = b['x86cpu_layout']
            w('Every variant ran with its vCPU\'s CPUX86State placed the '
              'same way in each repetition, %s bytes after a 64-byte '
              'boundary in turn (bench/placement/cpu-placement.c; X86CPU is '
              '%d bytes with CPUX86State at offset %d in stock, %d and %d in '
              'the patched QEMU), because that placement, which the heap '
              'otherwise decides, sets the copy phase\'s speed '
              '(bench/README.md). The copy phase by placement (s):\n' % (
                  ', '.join(map(str, placed)), lay['stock'][0],
                  lay['stock'][1], lay['patched'][0], lay['patched'][1]))
            w('| CPUX86State at (mod 64) | ' +
              ' | '.join(label[n] for n in names) + ' |')
            w('|---' * (len(names) + 1) + '|')
            for pl in placed:
                w('| %d | ' % pl + ' | '.join(
                    Stat([x['copy'] for x in runs[n]
                          if x.get('env_mod64') == pl]).fmt()
                    for n in names) + ' |')
            w('')

    if 'b3' in R:
        b = R['b3']
        w('### B3 conversions\n')
        w('A conversion is D_new(E_old(page)): one AES-XTS-128 encryption and '
          'one decryption of 4 KiB. The OpenSSL reference is `%s` on the '
          'same machine in the same run, interleaved: %s MB/s of one XTS '
          'pass, i.e. %s pages/s, or %s conversions/s for the same work '
          '(encrypt and decrypt). Engine / OpenSSL compares conversions/s '
          'with that last figure, so it is the ratio of AES-XTS bytes per '
          'second. Rates are per CPU second, like `openssl speed`\'s.\n' % (
              b['openssl'][0]['command'], Stat(ossl).fmt('%.0f', 1e-6),
              Stat([x / PAGE for x in ossl]).fmt('%.0f'),
              Stat(ossl_conv).fmt('%.0f')))
        w('| | conversions/s | µs each | engine / OpenSSL |')
        w('|---|---|---|---|')
        for key, label in rows:
            rate, r = b3[key]
            w('| %s | %s | %.2f | %s |' % (label, rate.fmt('%.0f'),
                                           1e6 / rate.med, r.fmt()))
        sk = Stat([x['per_s'] for x in b['setkey']])
        w('| one cipher set up, `qcrypto_cipher_new()` (keys/s) | %s | '
          '%.2f | |' %
          (sk.fmt('%.0f'), 1e6 / sk.med))
        w('| OpenSSL, same work | %s | %.2f | 1 |\n' % (
            Stat(ossl_conv).fmt('%.0f'), 1e6 / med(ossl_conv)))
        t_conv = 1e6 / b3['engine_1_2'][0].med
        t_xts = 1e6 / b3['xts_pair'][0].med
        t_key = 1e6 / sk.med
        t_ossl = 1e6 / med(ossl_conv)
        t_guest = 1e6 / b3['guest'][0].med
        w('Per conversion (µs, medians): the engine %.2f, of which its '
          'AES-XTS work (`qcrypto_cipher_encrypt_unit()` and '
          '`qcrypto_cipher_decrypt_unit()` with both ciphers set up '
          'beforehand) %.2f and the rest (owner, key table and cipher '
          'cache look-ups) %.2f; setting up one cipher would cost %.2f. '
          'OpenSSL does '
          'the same AES-XTS work in %.2f. End to end in the guest a '
          'conversion takes %.2f, %.2f more than in the engine: TCG\'s '
          'side (the TLB fill that finds the other owner, flushing the '
          'vCPU\'s TLB, dropping translated code of the page, refilling '
          'the TLB for the code and stack afterwards).\n' %
          (t_conv, t_xts, max(0.0, t_conv - t_xts), t_key, t_ossl,
           t_guest, t_guest - t_conv))
        b3_t = (t_conv, t_xts, t_key, t_ossl, t_guest)

    if 'b4' in R:
        b = R['b4']['gb_per_s']
        w('### B4 DRAM image\n')
        w('The guest (2 GiB) writes 1 GiB at 1 GiB through KeyID 0 (or 1, '
          'direct key) and halts; then QMP saves that GiB, first to a file '
          'in %s (its size is checked), then to /dev/null, which leaves '
          'QEMU\'s own work: the host kernel\'s page allocation for a '
          'tmpfs file varies widely from run to run. GB/s = 10^9 bytes per '
          'second of the QMP command\'s round trip. `pmemsave` (plain copy, '
          'no encryption) on the same QEMU and on stock is the '
          'reference.\n' % R['b4']['file'])
        w('| | to /dev/null, GB/s | to a tmpfs file, GB/s |')
        w('|---|---|---|')
        for key, label in [
                ('patched-keyid0 x-tme-dram-save',
                 '`x-tme-dram-save`, pages of KeyID 0 (TME key)'),
                ('patched-keyid1 x-tme-dram-save',
                 '`x-tme-dram-save`, pages of KeyID 1 (direct key)'),
                ('patched-keyid0 pmemsave', '`pmemsave`, patched'),
                ('stock pmemsave', '`pmemsave`, stock')]:
            w('| %s | %s | %s |' % (label, Stat(b[key]).fmt('%.2f'),
                                    Stat(b[key + ' file']).fmt('%.2f')
                                    if key + ' file' in b else '—'))
        w('')

    if 'b5' in R:
        b = R['b5']
        s, p = b['rss_bytes']['stock'], b['rss_bytes']['patched']
        meta = b['metadata']
        w('### B5 memory\n')
        w('VmRSS of QEMU once Linux %s (`-m %s`, one vCPU) has booted to '
          'the busybox shell, stock vs patched with TME and MKTME active: '
          'stock %s MiB, patched %s MiB, patched − stock %.1f MiB (medians). '
          'Engine metadata, measured on the engine core (heap bytes that '
          'a region of 4 GiB allocates, with the allocator\'s overhead): '
          '%d bytes for %d pages = %.4f bytes per page, and %d bytes per '
          'engine whatever the guest size (page counts of all 32768 '
          'possible owners). QEMU\'s glue (hw/mem/tme-ram.c) keeps the '
          'same one 16-bit owner per page, in one array for all regions.\n'
          % (b['kernel'], b['guest_memory'], Stat(s).fmt('%.1f', 2**-20),
             Stat(p).fmt('%.1f', 2**-20), (med(p) - med(s)) / 2**20,
             meta['region_bytes'], meta['pages'], meta['bytes_per_page'],
             meta['fixed_bytes']))

    if 'b6' in R:
        w('### B6 instruction counts\n')
        w('`valgrind --tool=callgrind --toggle-collect=cpu_exec` counts the '
          'instructions QEMU\'s vCPU thread executes in `cpu_exec()` (TCG, '
          'its helpers and the translated code) for the B2 guest (`mem '
          'keyid=0`). The guest\'s loops do not depend on time, but TCG '
          'sizes its TLBs over a 100 ms wall-clock window, and under '
          'valgrind a run sometimes translates some blocks again: that '
          'only ever adds instructions, so each count is the least of %d '
          'runs (start-up includes SeaBIOS, whose loops poll timers: '
          'informative only). Three runs per QEMU: 1 MiB with one pass '
          '(start-up), 33 MiB with one pass and with two. "pass" is the '
          'difference of the last two (write, read and copy over 32 MiB '
          'more); "touch" is the difference of the first two less that '
          'pass, scaled to 32 MiB: the guest writing %d MiB of RAM it never '
          'used, the phase whose wall time is noisy (host page faults). '
          'Stock runs `-cpu %s`; "TME not enumerated" is the patched QEMU '
          'with the same `-cpu`, "TME on" adds `+tme,+pconfig` and '
          '`-object x86-tme,id=tme0,activate=on`.\n' %
          (R['b6'].get('cg_runs', 1), 2 * R['b6']['work_mib'],
           'max,vendor=GenuineIntel,phys-bits=46'))
        w('| QEMU | start | one pass (33 MiB) | two passes | pass | '
          'touch |')
        w('|---|---|---|---|---|---|')
        for n, v in R['b6']['runs'].items():
            w('| %s | %s |' % (n, ' | '.join('{:,}'.format(v[k]) for k in
                                             ('start', 'one-pass',
                                              'two-passes', 'pass',
                                              'touch'))))
        w('')

    if 'b7' in R:
        b = R['b7']
        w('### B7 first touch\n')
        w('The B2 guest with no pass (`mem keyid=K mib=%d passes=0`): it '
          'writes both %d MiB buffers once, so every page is fresh host '
          'memory that the host faults in, and with KeyID 1 every page also '
          'converts from KeyID 0. %d repetitions, the order of the variants '
          'rotating from one repetition to the next; before each run the '
          'host compacts its memory (`/proc/sys/vm/compact_memory`: %s), so '
          'that every run starts with free huge pages alike. Page faults, '
          'system and user seconds are the QEMU process\'s own (rusage), '
          'whole run.\n' %
          (b['mib'], b['mib'], b['reps'],
           'done' if b['compacted'] else '**not allowed, not done**'))
        w('| | touch s | ratio | page faults | system s | user s | THP MiB |')
        w('|---|---|---|---|---|---|---|')
        runs = b['runs']
        sref = [x['touch'] for x in runs['stock-keyid0']]
        for n, v in runs.items():
            t = [x['touch'] for x in v]
            w('| %s | %s | %s | %s | %s | %s | %s |' % (
                n, Stat(t).fmt(), '' if n == 'stock-keyid0' else
                ratio_text(ratios(sref, t)),
                Stat([x['minflt'] for x in v]).fmt('%.0f'),
                Stat([x['sys_s'] for x in v]).fmt('%.3f'),
                Stat([x['user_s'] for x in v]).fmt('%.3f'),
                Stat([x['thp_bytes'] for x in v]).fmt('%.0f', 1 / 2**20)))
        w('')
        w('Instructions of the vCPU thread in `cpu_exec()` for the touch '
          'alone: a run of %d MiB less a run of 1 MiB (callgrind as in '
          'B6, the least of %d runs each).\n' %
          (b['mib'], b['cg_runs']))
        w('| QEMU | %d MiB | 1 MiB | touch | / stock |' % b['mib'])
        w('|---|---|---|---|---|')
        ir = b['instructions']
        for n, v in ir.items():
            w('| %s | {:,} | {:,} | {:,} | %.4f |'.format(
                v['big'], v['small'], v['touch']) %
              (n, v['touch'] / ir['stock-keyid0']['touch']))
        w('')

    # ----------------------------------------------------- closing notes
    w('## Notes\n')
    for i, what, ref, pat, res, tgt, ok in summary:
        if ok is False:
            notes.append('%s (%s) missed its target %s by its median: %s.' %
                         (i, what, tgt, res))
    for i, what, r in best:
        if r.med <= TARGET_RATIO < r.best:
            notes.append(
                '%s (%s) meets its target by the median ratio, %.3f, but not '
                'by its fastest runs, %.3f: the host\'s noise (below) is '
                'larger than the difference, and the least disturbed runs '
                'show a real cost of about %.0f%%.' %
                (i, what, r.med, r.best, 100 * (r.best - 1)))
        elif r.med > TARGET_RATIO >= r.best:
            notes.append(
                '%s (%s) misses its target by the median ratio, %.3f, but '
                'its fastest runs meet it, %.3f: the miss is within the '
                'host\'s noise.' % (i, what, r.med, r.best))
    if 'b3' in R:
        t_conv, t_xts, t_key, t_ossl, t_guest = b3_t
        notes.append(
            'B3 bounds: OpenSSL needs %.2f µs for the AES-XTS work of a '
            'conversion; the engine\'s AES-XTS work takes %.2f (one XTS '
            'encryption and one decryption of the page by QEMU\'s crypto '
            'layer, whose backend does each in one call), its conversion '
            '%.2f. End '
            'to end, %.2f of the %.2f µs are TCG\'s side of a conversion, '
            'so the guest\'s rate is %.0f%% of the engine\'s.' %
            (t_ossl, t_xts, t_conv, t_guest - t_conv, t_guest,
             100 * t_conv / t_guest))
    if 'b3' in R:
        o = Stat([x['bytes_per_s'] for x in R['b3']['openssl']])
        notes.append(
            'Noise: `openssl speed`, a fixed CPU-bound load, varied by '
            '%.0f%% (max − min over median) between its repetitions in this '
            'run; the hypervisor took %.2f%% of the CPU time and other '
            'processes of this machine %.2f%% of the CPUs. Ratios whose '
            'min – max range is wider than their distance from the target '
            'need more repetitions (`--reps`) or a quieter host.' %
            (100 * (o.max - o.min) / o.med, R.get('steal_percent', 0),
             R.get('other_load_percent', 0)))
    prof = os.path.join(out, 'profile.md')
    if os.path.exists(prof):
        notes.append('Profiles of the engine and of QEMU during conversions: '
                     '[profile.md](profile.md) (`bench/profile`).')
    for n in notes:
        w('- ' + n)
    w('\n![chart](results.png)\n')
    w('Raw samples: [raw.json](raw.json).')

    with open(os.path.join(out, 'results.md'), 'w') as f:
        f.write('\n'.join(md) + '\n')

    # ---------------------------------------------------------------- chart
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    panels = []
    if chart:
        panels.append(('patched / stock (lower is better)', chart,
                       TARGET_RATIO, 'target ≤ %.2f' % TARGET_RATIO))
    if 'b3' in R:
        panels.append(('conversions: engine / OpenSSL AES-XTS', chart_b3,
                       TARGET_B3, 'target ≥ %.2f' % TARGET_B3))
    if 'b4' in R:
        b = R['b4']['gb_per_s']
        panels.append(('B4: saving 1 GiB to /dev/null (GB/s)', {
            'dram-save\nKeyID 0': Stat(b['patched-keyid0 x-tme-dram-save']),
            'dram-save\nKeyID 1': Stat(b['patched-keyid1 x-tme-dram-save']),
            'pmemsave\npatched': Stat(b['patched-keyid0 pmemsave']),
            'pmemsave\nstock': Stat(b['stock pmemsave'])}, None, None))
    if not panels:
        return                  # nothing to chart (e.g. --only b6)
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.6),
                             squeeze=False)
    for ax, (title, data, target, tlabel) in zip(axes[0], panels):
        labels = list(data)
        meds = [data[k].med for k in labels]
        err = [[data[k].med - data[k].min for k in labels],
               [data[k].max - data[k].med for k in labels]]
        ax.bar(range(len(labels)), meds, yerr=err, capsize=4,
               color='#4c72b0')
        for x, k in enumerate(labels):
            ax.annotate('%.2f' % data[k].med, (x, data[k].max),
                        textcoords='offset points', xytext=(0, 5),
                        ha='center', fontsize=8)
        bx = [x for x, k in enumerate(labels) if hasattr(data[k], 'best')]
        if bx and target == TARGET_RATIO:
            ax.plot(bx, [data[labels[x]].best for x in bx], 'D',
                    color='#dd8452', label='fastest runs')
        if target is not None:
            ax.axhline(target, color='#c44e52', linestyle='--', label=tlabel)
            ax.legend(loc='lower right', fontsize=8)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_title(title, fontsize=10)
        if target == TARGET_RATIO:
            ax.axhline(1.0, color='grey', linewidth=0.5)
            lo = min(0.9, min(d.min for d in data.values()) - 0.02)
            hi = max(1.1, max(d.max for d in data.values()) + 0.05)
            ax.set_ylim(lo, hi)
    fig.suptitle('TME/MKTME vs stock QEMU: %s, %s CPUs; median, min-max '
                 'of %d repetitions' % (m['cpu_model'], m['cpus_online'],
                                        R['reps']), fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, 'results.png'), dpi=110)
    print('wrote %s and %s' % (os.path.join(out, 'results.md'),
                               os.path.join(out, 'results.png')))


if __name__ == '__main__':
    main()
