# SPDX-License-Identifier: GPL-2.0-or-later
"""A minimal QMP client over a UNIX socket, for the guest tests."""
import json
import socket
import time


class QMP:
    def __init__(self, path, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError('cannot connect to QMP at ' + path)
                time.sleep(0.02)
        self.f = self.s.makefile('rw')
        json.loads(self.f.readline())
        self.cmd('qmp_capabilities')

    def cmd(self, name, **args):
        """Run a command; return its result or raise on an error."""
        r = self.try_cmd(name, **args)
        if 'error' in r:
            raise RuntimeError('%s: %s' % (name, r['error']))
        return r['return']

    def try_cmd(self, name, **args):
        """Run a command; return the whole response."""
        self.f.write(json.dumps({'execute': name, 'arguments': args}) + '\n')
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if 'return' in r or 'error' in r:
                return r
