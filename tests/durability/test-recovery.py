#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test-recovery.py: the hub starts from damaged, missing and foreign state
# files, says so in its log, and keeps exactly what the intact part holds.
#
# Each case gets a fresh XDG_STATE_HOME and runs switchboardd directly (not
# activated) so that its log can be read; it waits for the "serving as" line
# rather than sleeping. A case builds state through D-Bus, stops the hub,
# damages a file at an exact record (durtest reads the journal format), and
# starts the hub again. What must survive is computed from the records
# before the damage: the store must equal it, key for key and revision for
# revision. Then the hub must serve (a Set, a Push and a Reserve), and a
# clean restart must keep that too. Cases: a torn tail, a flipped byte in
# the middle, an empty journal (alone, and beside a snapshot), a missing
# snapshot (no compaction yet, and after two), a crash in either window of
# a compaction (after snapshot -> snapshot.prev; after the new snapshot but
# before the new journal), a damaged snapshot (record
# and header: snapshot.prev is used), both snapshots damaged, a journal of
# garbage, a journal shorter than its header, a snapshot of garbage, and
# stray files in the state directory.

import os
import signal
import tempfile
import time

import durtest as dt
from durtest import Conn, DirectHub, check, check_eq, log
import sbtest

COMPACT = '[journal]\nsync=always\ncompact-bytes=4096\n'
PLAIN = '[journal]\nsync=always\n'

c = None


class Case:
    """One fresh state directory and the hubs run on it."""

    def __init__(self, name, config=PLAIN):
        self.name = name
        self.home = tempfile.mkdtemp(prefix='state-%s.' % name, dir=dt.tmp_dir())
        self.dir = os.path.join(self.home, 'switchboard')
        self.config = os.path.join(self.home, 'switchboard.conf')
        with open(self.config, 'w') as f:
            f.write(config)
        self.hub = None
        self.n = 0

    def path(self, name):
        return os.path.join(self.dir, name)

    def start(self):
        check(not sbtest.bus_has_owner(c), '%s: a hub is running already' % self.name)
        self.n += 1
        self.hub = DirectHub(['--config', self.config], state_home=self.home,
                             label='%s#%d' % (self.name, self.n))
        self.hub.wait_ready()
        return self.hub

    def stop(self, sig=signal.SIGTERM):
        rc = self.hub.kill(sig)
        if sig == signal.SIGTERM:
            check_eq(rc, 0, '%s: exit status of the hub after SIGTERM' % self.name)
        dt.wait_no_owner(c)
        return rc

    def files(self):
        return sorted(os.listdir(self.dir))

    def corrupt(self, prefix):
        return [n for n in self.files() if n.startswith(prefix + '.corrupt-')]

    def records(self, name, magic=dt.JOURNAL_MAGIC):
        return dt.read_records(self.path(name), magic)


def set_keys(prefix, n, size=16, start=0):
    for i in range(start, start + n):
        c.call('Set', 'ss', '%s.%03d' % (prefix, i), ('v%03d-' % i).ljust(size, 'x'))


def serves(case, expected):
    """The store holds @expected exactly; the hub takes new changes; they survive a restart."""
    check_eq(dt.store_now(c), expected, '%s: the store after recovery' % case.name)
    top = max([rev for _, rev in expected.values()] or [0])
    rev = c.call('Set', 'ss', 'after.recovery', case.name)
    check(rev > top, '%s: new revision %d is not above %d' % (case.name, rev, top))
    jid = c.call('Push', 'sst', 'q.after', case.name, 0)
    expected = dict(expected)
    expected['after.recovery'] = (case.name.encode(), rev)
    case.stop()
    case.start()
    check_eq(dt.store_now(c), expected, '%s: the store after a clean restart' % case.name)
    got = c.call('Reserve', 'suu', 'q.after', 0, 30000)
    check_eq((got[0], bytes(got[1])), (jid, case.name.encode()), '%s: the job pushed after recovery' % case.name)
    c.call('Ack', 't', jid)
    good, intact = dt.journal_intact(case.path('journal'))
    check(intact, '%s: the journal is intact after recovery (whole records to %d, then zeros only)'
          % (case.name, good))
    case.stop()
    log('%s: recovered %d keys, serving' % (case.name, len(expected) - 1))


def compacted_twice(case, prefix='k', size=200):
    """Set keys until the hub compacted twice, then a few more (in the journal only)."""
    i = 0
    while sum('Compacted the journal' in line for line in case.hub.lines) < 2:
        set_keys(prefix, 1, size, start=i)
        i += 1
        # Compaction runs right after the reply is released: let its log line arrive.
        case.hub._read(0.0)
        check(i < 200, '%s: no two compactions after %d sets of %d bytes' % (case.name, i, size))
    # The second compaction may still be running: wait for its line, then add to the journal.
    case.hub.wait_line(r'Compacted the journal')
    set_keys(prefix, 3, size, start=i)
    case.stop()
    check('snapshot' in case.files() and 'snapshot.prev' in case.files(),
          '%s: expected snapshot and snapshot.prev, found %r' % (case.name, case.files()))
    _, prev, _ = case.records('snapshot.prev', dt.SNAPSHOT_MAGIC)
    _, snap, _ = case.records('snapshot', dt.SNAPSHOT_MAGIC)
    _, jrn, _ = case.records('journal')
    check(len(jrn) >= 3, '%s: the journal holds %d records after the last compaction' % (case.name, len(jrn)))
    log('%s: %d keys set; snapshot.prev %d records, snapshot %d, journal %d'
        % (case.name, i + 3, len(prev), len(snap), len(jrn)))
    return prev, snap, jrn


def flip_byte(path, offset):
    with open(path, 'r+b') as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x5a]))


def damaged_tail(case, cut_at, want_kept, recs_kept):
    """After a restart: the log names the offset, the tail is kept aside byte for byte."""
    case.hub.wait_line(r"torn or damaged record at offset %d; cutting the last %d bytes .*%d records before"
                       % (cut_at, len(want_kept), recs_kept))
    line = case.hub.wait_line(r"Kept the %d damaged bytes in '.*journal\.corrupt-\d+'" % len(want_kept))
    kept = case.corrupt('journal')
    check_eq(len(kept), 1, '%s: journal.corrupt-* files' % case.name)
    with open(case.path(kept[0]), 'rb') as f:
        check_eq(f.read(), want_kept, '%s: the bytes kept in %s' % (case.name, kept[0]))
    log('%s: %s' % (case.name, line))


def setup():
    global c
    c = Conn('recovery')
    check(not sbtest.bus_has_owner(c), 'the hub is already running before the test')


def test_torn_tail():
    case = Case('torn')
    case.start()
    c.call('Push', 'sst', 'q.kept', 'early', 0)
    set_keys('k', 20)
    case.stop(signal.SIGKILL)
    _, recs, good = case.records('journal')
    check_eq(len(recs), 21, 'records in the journal')
    last = recs[-1]
    cut = last.offset + last.size // 2
    with open(case.path('journal'), 'rb') as f:
        whole = f.read()
    os.truncate(case.path('journal'), cut)
    case.start()
    damaged_tail(case, last.offset, whole[last.offset:cut], 20)
    check_eq(dt.queues_now(c).get('q.kept'), (1, 0, 0, 0, 0), 'the job pushed before the torn record')
    c.call('Purge', 's', 'q.kept')
    serves(case, dt.apply_store(recs[:-1]))


def test_flipped_byte():
    case = Case('flipped')
    case.start()
    c.call('Push', 'sst', 'q.kept', 'early', 0)
    c.publish_retained('r.kept', 'early')
    set_keys('k', 20)
    case.stop()
    _, recs, _ = case.records('journal')
    check_eq(len(recs), 23, 'records in the journal')
    bad = recs[13]                  # push, the seq lease, retain, k.000 .. k.009 come before it
    check_eq(bad.name, 'k.010', 'the record to damage')
    with open(case.path('journal'), 'rb') as f:
        whole = f.read()
    flip_byte(case.path('journal'), bad.offset + bad.size - 3)   # inside its value
    case.start()
    damaged_tail(case, bad.offset, _flipped(whole, bad.offset, bad.offset + bad.size - 3), 13)
    expected = dt.apply_store(recs[:13])
    check_eq(sorted(expected), ['k.%03d' % i for i in range(10)], 'keys before the damage')
    check_eq(dt.queues_now(c).get('q.kept'), (1, 0, 0, 0, 0), 'the job pushed before the damage')
    sub = Conn('retained-reader')
    sub.subscribe('r.>', True)
    got = sub.wait_signal(lambda m: m.member == 'Message' and m.dest == sub.name, 'the retained r.kept')
    check_eq(got[-1].args[:2], ['r.kept', 'early'], 'the retained value before the damage')
    sub.close()
    c.call('Purge', 's', 'q.kept')
    serves(case, expected)


def _flipped(whole, start, at):
    """whole[start:] with the byte at @at flipped, as the damaged file held it."""
    b = bytearray(whole[start:])
    b[at - start] ^= 0x5a
    return bytes(b)


def test_empty_journal_alone():
    case = Case('empty')
    os.makedirs(case.dir, mode=0o700)
    open(case.path('journal'), 'wb').close()
    case.start()
    serves(case, {})


def test_empty_journal_beside_snapshot():
    case = Case('empty-snap', COMPACT)
    case.start()
    prev, snap, jrn = compacted_twice(case)
    os.truncate(case.path('journal'), 0)
    case.start()
    # The journal's records are gone with it; the snapshot is intact and used.
    serves(case, dt.apply_store(snap))


def test_missing_snapshot_never_compacted():
    case = Case('journal-only')
    case.start()
    set_keys('k', 10)
    c.call('Delete', 's', 'k.003')
    case.stop(signal.SIGKILL)
    check('snapshot' not in case.files(), 'no snapshot was expected: %r' % case.files())
    _, recs, _ = case.records('journal')
    case.start()
    case.hub.wait_line(r"Loaded 11 records from '.*/journal'")
    serves(case, dt.apply_store(recs))


def test_missing_snapshot():
    case = Case('no-snapshot', COMPACT)
    case.start()
    prev, snap, jrn = compacted_twice(case)
    os.unlink(case.path('snapshot'))
    case.start()
    case.hub.wait_line(r'Starting from the previous snapshot')
    case.hub.wait_line(r'The journal \(generation \d+\) is newer than the snapshot')
    serves(case, dt.apply_store(jrn, dt.apply_store(prev)))


def test_crash_after_snapshot_rename():
    """Compaction renames snapshot to snapshot.prev before it writes the new one:
    a crash between the two leaves no snapshot, and nothing is lost."""
    case = Case('rename-window', COMPACT)
    case.start()
    prev, snap, jrn = compacted_twice(case)
    os.rename(case.path('snapshot'), case.path('snapshot.prev'))
    case.start()
    case.hub.wait_line(r'Starting from the previous snapshot')
    expected = dt.apply_store(jrn, dt.apply_store(snap))
    check_eq(len(expected), len(dt.apply_store(snap)) + len(jrn), 'keys expected back')
    serves(case, expected)


def test_crash_before_new_journal():
    """Compaction writes snapshot G+1, then starts journal G+1: a crash between the
    two leaves journal G beside snapshot G+1, which holds it already."""
    case = Case('journal-window', COMPACT)
    case.start()
    prev, snap, jrn = compacted_twice(case)
    gen, _, _ = case.records('journal')
    with open(case.path('journal'), 'rb') as f:
        old_journal = f.read()
    # A hub with compact-bytes=1 compacts as it starts: snapshot G+1, journal G+1.
    with open(case.config, 'w') as f:
        f.write('[journal]\nsync=always\ncompact-bytes=1\n')
    case.start()
    case.hub.wait_line(r'Compacted the journal into a snapshot of \d+ bytes \(generation %d\)' % (gen + 1))
    case.stop(signal.SIGKILL)
    with open(case.config, 'w') as f:
        f.write(COMPACT)
    with open(case.path('journal'), 'wb') as f:
        f.write(old_journal)
    case.start()
    case.hub.wait_line(r'The journal \(generation %d\) is older than the snapshot \(%d\), which holds it already'
                       % (gen, gen + 1))
    serves(case, dt.apply_store(jrn, dt.apply_store(snap)))


def test_damaged_snapshot():
    case = Case('bad-snapshot', COMPACT)
    case.start()
    prev, snap, jrn = compacted_twice(case)
    flip_byte(case.path('snapshot'), snap[len(snap) // 2].offset + 40)
    case.start()
    case.hub.wait_line(r"The snapshot 'snapshot' is damaged")
    case.hub.wait_line(r"Set the damaged '.*/snapshot' aside as '.*/snapshot\.corrupt-\d+'")
    line = case.hub.wait_line(r'Starting from the previous snapshot')
    log('bad-snapshot:', line)
    check_eq(len(case.corrupt('snapshot')), 1, 'snapshot.corrupt-* files')
    serves(case, dt.apply_store(jrn, dt.apply_store(prev)))


def test_damaged_snapshot_header():
    case = Case('bad-snapshot-header', COMPACT)
    case.start()
    prev, snap, jrn = compacted_twice(case)
    flip_byte(case.path('snapshot'), 2)
    case.start()
    case.hub.wait_line(r"'.*/snapshot' has no valid header")
    case.hub.wait_line(r'Starting from the previous snapshot')
    check_eq(len(case.corrupt('snapshot')), 1, 'snapshot.corrupt-* files')
    serves(case, dt.apply_store(jrn, dt.apply_store(prev)))


def test_both_snapshots_damaged():
    case = Case('both-bad', COMPACT)
    case.start()
    prev, snap, jrn = compacted_twice(case)
    flip_byte(case.path('snapshot'), snap[1].offset + 20)
    flip_byte(case.path('snapshot.prev'), prev[1].offset + 20)
    case.start()
    case.hub.wait_line(r"The snapshot 'snapshot' is damaged")
    case.hub.wait_line(r"The snapshot 'snapshot.prev' is damaged")
    check_eq(len(case.corrupt('snapshot')), 1, 'snapshot.corrupt-* files')
    check_eq(len(case.corrupt('snapshot.prev')), 1, 'snapshot.prev.corrupt-* files')
    # Only the journal is left: what it holds (the keys set after the last compaction).
    serves(case, dt.apply_store(jrn))


def test_garbage_journal():
    case = Case('garbage-journal', COMPACT)
    case.start()
    prev, snap, jrn = compacted_twice(case)
    with open(case.path('journal'), 'wb') as f:
        f.write(b'this is not a switchboard journal\n' * 20)
    case.start()
    case.hub.wait_line(r"'.*/journal' has no valid header")
    case.hub.wait_line(r"Set the damaged '.*/journal' aside as '.*/journal\.corrupt-\d+'")
    check_eq(len(case.corrupt('journal')), 1, 'journal.corrupt-* files')
    serves(case, dt.apply_store(snap))


def test_short_journal():
    case = Case('short-journal')
    case.start()
    set_keys('k', 3)
    case.stop()
    os.truncate(case.path('journal'), 5)
    case.start()
    case.hub.wait_line(r"'.*/journal' has no valid header")
    check_eq(len(case.corrupt('journal')), 1, 'journal.corrupt-* files')
    serves(case, {})


def test_garbage_snapshot():
    case = Case('garbage-snapshot')
    case.start()
    set_keys('k', 5)
    case.stop()
    _, recs, _ = case.records('journal')
    with open(case.path('snapshot'), 'wb') as f:
        f.write(os.urandom(3000))
    case.start()
    case.hub.wait_line(r"The snapshot 'snapshot' is damaged")
    check_eq(len(case.corrupt('snapshot')), 1, 'snapshot.corrupt-* files')
    serves(case, dt.apply_store(recs))


def test_evidence_is_never_replaced():
    """journal.corrupt-TIME files from earlier damage (a crash loop damages the
    journal more than once a second) stay as they were; the new one gets a new name."""
    case = Case('evidence')
    case.start()
    set_keys('k', 5)
    case.stop(signal.SIGKILL)
    _, recs, _ = case.records('journal')
    os.truncate(case.path('journal'), recs[-1].offset + 3)
    now = int(time.time())
    old = {'journal.corrupt-%d' % t: b'evidence %d' % t for t in range(now - 1, now + 30)}
    old['journal.corrupt-%d.1' % now] = b'more evidence'
    for name, data in old.items():
        with open(case.path(name), 'wb') as f:
            f.write(data)
    case.start()
    line = case.hub.wait_line(r"Kept the 3 damaged bytes in '.*journal\.corrupt-[0-9.]+'")
    for name, data in old.items():
        with open(case.path(name), 'rb') as f:
            check_eq(f.read(), data, 'evidence: %s after a new damage' % name)
    new = set(case.corrupt('journal')) - set(old)
    check_eq(len(new), 1, 'new journal.corrupt-* files besides the old ones (%r)' % sorted(new))
    log('evidence: kept apart from %d older files: %s' % (len(old), line))
    serves(case, dt.apply_store(recs[:-1]))


def test_compaction_cannot_start_journal():
    """A compaction that wrote snapshot G+1 but cannot start journal G+1 must not
    go on acknowledging changes that only journal G holds: the next start skips it
    (G+1 is newer). Acknowledged here: the hub stops; the next start finds all."""
    case = Case('no-new-journal', COMPACT)
    case.start()
    set_keys('k', 3, 200)
    # journal.tmp as a directory: the snapshot is written, the new journal is not.
    os.mkdir(case.path('journal.tmp'))
    acknowledged = {}

    def set_some(first, n):
        for i in range(first, first + n):
            if case.hub.proc.poll() is not None:
                return
            try:
                c.call('Set', 'ss', 'k.%03d' % i, 'v%03d' % i)
            except sbtest.dbus.exceptions.DBusException as e:
                log('no-new-journal: Set k.%03d: %s' % (i, e.get_dbus_name()))
                return
            acknowledged['k.%03d' % i] = b'v%03d' % i
            case.hub._read(0.0)
            if any('Failed to start journal generation' in line for line in case.hub.lines):
                return

    set_some(3, 100)
    line = case.hub.wait_line(r'Failed to start journal generation 1')
    if 'stopping the hub' not in line:
        # Still serving: make the next snapshots fail too (a disk filling up), so that
        # only journal G takes the changes it goes on acknowledging; then crash.
        os.mkdir(case.path('snapshot.tmp'))
        set_some(200, 5)
        log('no-new-journal: the hub still serves after %d more acknowledged sets' % len(acknowledged))
        case.stop(signal.SIGKILL)
        os.rmdir(case.path('snapshot.tmp'))
        rc = None
    else:
        rc = case.hub.wait_exit()
        check(rc > 0, 'no-new-journal: the hub exited with %r, expected a failure' % rc)
        dt.wait_no_owner(c)
    log('no-new-journal: %s; exit status %r' % (line, rc))
    os.rmdir(case.path('journal.tmp'))
    case.start()
    now = dt.store_now(c)
    lost = sorted(k for k, v in acknowledged.items() if k not in now or now[k][0] != v)
    check(not lost, 'no-new-journal: acknowledged sets lost after the restart: %r' % lost)
    serves(case, now)


def test_stray_files():
    case = Case('stray', COMPACT)
    case.start()
    prev, snap, jrn = compacted_twice(case)
    for name, data in (('journal.tmp', b'half a journal'), ('snapshot.tmp', os.urandom(100)),
                       ('README', b'notes\n'), ('journal.corrupt-1', b'old evidence')):
        with open(case.path(name), 'wb') as f:
            f.write(data)
    os.mkdir(case.path('subdir'))
    case.start()
    check('journal.corrupt-1' in case.files() and 'README' in case.files(),
          'the hub removed files that are not its own: %r' % case.files())
    serves(case, dt.apply_store(jrn, dt.apply_store(snap)))


if __name__ == '__main__':
    sbtest.main([setup, test_torn_tail, test_flipped_byte, test_empty_journal_alone,
                 test_empty_journal_beside_snapshot, test_missing_snapshot_never_compacted,
                 test_missing_snapshot, test_crash_after_snapshot_rename, test_crash_before_new_journal,
                 test_damaged_snapshot, test_damaged_snapshot_header,
                 test_both_snapshots_damaged, test_garbage_journal, test_short_journal,
                 test_garbage_snapshot, test_evidence_is_never_replaced, test_compaction_cannot_start_journal,
                 test_stray_files])
