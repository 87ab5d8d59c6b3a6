#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-runtime-dir.py: the fallback runtime directory (issue: hardening).
# Without XDG_RUNTIME_DIR and /run/user/UID, the hub uses
# $TMPDIR/switchboard-UID. It must refuse one that another user owns or
# that is a symbolic link (to another user's directory), saying what to fix,
# and exit non-zero before it listens anywhere; one of its own, even made
# with mode 0777, is made private and used.

import os
import stat
import tempfile

from durtest import DirectHub, check, check_eq, log
from sbfixture import Skip
import sbtest

NOBODY = 65534


def hub_in(tmpdir, label):
    state = tempfile.mkdtemp(prefix='state-', dir=tmpdir)
    return DirectHub(env={'XDG_RUNTIME_DIR': '', 'TMPDIR': tmpdir}, state_home=state, label=label)


def fallback(tmpdir):
    return os.path.join(tmpdir, 'switchboard-%d' % os.getuid())


def setup():
    if os.path.isdir('/run/user/%d' % os.getuid()):
        raise Skip('/run/user/%d exists: the hub uses it, not the fallback under TMPDIR' % os.getuid())
    if os.getuid() != 0:
        raise Skip('making a directory that belongs to another user needs root')


def test_foreign_owner_refused():
    tmp = tempfile.mkdtemp()
    d = fallback(tmp)
    os.mkdir(d)
    os.chmod(d, 0o777)
    os.chown(d, NOBODY, NOBODY)
    hub = hub_in(tmp, 'foreign')
    line = hub.wait_line(r'belongs to uid %d' % NOBODY)
    check('XDG_RUNTIME_DIR' in line, 'the refusal says what to fix: %r' % line)
    check(hub.wait_exit() != 0, 'the hub exited with status 0 after refusing')
    check(not os.path.exists(os.path.join(d, 'switchboard')), 'the hub created something in the foreign dir')
    log(line)


def test_symlink_refused():
    tmp = tempfile.mkdtemp()
    other = tempfile.mkdtemp()
    os.chown(other, NOBODY, NOBODY)
    os.symlink(other, fallback(tmp))
    hub = hub_in(tmp, 'symlink')
    line = hub.wait_line(r'is a symbolic link')
    check(hub.wait_exit() != 0, 'the hub exited with status 0 after refusing')
    check_eq(os.listdir(other), [], 'what the hub left in the link target')
    log(line)


def test_own_dir_made_private():
    tmp = tempfile.mkdtemp()
    d = fallback(tmp)
    os.mkdir(d)
    os.chmod(d, 0o777)
    hub = hub_in(tmp, 'own')
    hub.wait_ready()
    check_eq(stat.S_IMODE(os.stat(d).st_mode), 0o700, 'mode of the fallback directory')
    check(stat.S_ISSOCK(os.stat(os.path.join(d, 'switchboard', 'socket')).st_mode), 'the socket in the fallback')
    hub.kill()


if __name__ == '__main__':
    sbtest.main([setup, test_foreign_owner_refused, test_symlink_refused, test_own_dir_made_private])
