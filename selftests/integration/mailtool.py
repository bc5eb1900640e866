#!/usr/bin/python3
"""IMAP and POP3 clients for test_mailstack.sh, bound to a source address.

  mailtool.py imap SRC DST USER PASS            login, LIST, SELECT INBOX, logout:
                                                "login ok list=INBOX messages=N"
  mailtool.py pop3 SRC DST USER PASS            login, STAT, quit: "login ok messages=N octets=N"
  mailtool.py imap-fail SRC DST USER PASS COUNT   COUNT sessions at once, each a refused login, then
                                                logout: "refused=N" (N sessions whose login failed)
  mailtool.py imap-hold SRC DST USER PASS COUNT TIMEOUT
                                                COUNT connections held open together (connects one
                                                after the other until one fails, the rest at once;
                                                each given TIMEOUT s), those that connect log in;
                                                prints "connected=N logged_in=N", holds the
                                                sessions until killed (SIGTERM: logout)
  mailtool.py banner SRC DST PORT                the server's first line and the seconds it took:
                                                "1.234 554 5.7.1 ..."
Errors print "error: ..." and exit 1.
"""
import imaplib
import poplib
import signal
import socket
import sys
import threading
import time


def connect(src, dst, port, timeout):
    return socket.create_connection((dst, port), timeout, source_address=(src, 0))


class IMAP(imaplib.IMAP4):
    def __init__(self, src, dst, timeout=5.0):
        self.src = src
        super().__init__(dst, 143, timeout=timeout)

    def _create_socket(self, timeout):
        return connect(self.src, self.host, self.port, timeout)


class POP3(poplib.POP3):
    def __init__(self, src, dst, timeout=5.0):
        self.src = src
        super().__init__(dst, 110, timeout=timeout)

    def _create_socket(self, timeout):
        return connect(self.src, self.host, self.port, timeout)


def cmd_imap(src, dst, user, password):
    m = IMAP(src, dst)
    m.login(user, password)
    typ, boxes = m.list()
    names = [b.decode().rsplit(" ", 1)[-1].strip('"') for b in boxes if b]
    typ, data = m.select("INBOX", readonly=True)
    print("login ok list=%s messages=%s" % (",".join(names), data[0].decode()))
    m.logout()


def cmd_pop3(src, dst, user, password):
    p = POP3(src, dst)
    p.user(user)
    p.pass_(password)
    n, octets = p.stat()
    print("login ok messages=%d octets=%d" % (n, octets))
    p.quit()


def cmd_imap_fail(src, dst, user, password, count):
    refused = []

    def one():
        m = IMAP(src, dst, 20.0)  # Dovecot delays a failed login (2 s, more for a repeat offender)
        try:
            m.login(user, password)
        except imaplib.IMAP4.error:
            refused.append(1)
        m.logout()

    threads = [threading.Thread(target=one) for _ in range(int(count))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("refused=%d" % len(refused))


def cmd_imap_hold(src, dst, user, password, count, timeout):
    sessions, lock = [], threading.Lock()
    connected = [0]

    def login(m):
        try:
            m.sock.settimeout(10)
            m.login(user, password)
            with lock:
                sessions.append(m)
        except (OSError, imaplib.IMAP4.error):
            pass

    def one(logins):
        try:
            m = IMAP(src, dst, float(timeout))
        except OSError:
            return False
        with lock:
            connected[0] += 1
        t = threading.Thread(target=login, args=(m,))
        t.start()
        logins.append(t)
        return True

    # one connect after the other while they succeed (so each SYN meets the
    # connections established before it), the rest at once after the first
    # refused one; every session logs in in its own thread
    logins, rest = [], []
    n = int(count)
    for i in range(n):
        if not one(logins):
            rest = [threading.Thread(target=one, args=(logins,)) for _ in range(n - i - 1)]
            break
    for t in rest:
        t.start()
    for t in rest:
        t.join()
    for t in logins:
        t.join()
    print("connected=%d logged_in=%d" % (connected[0], len(sessions)), flush=True)

    def stop(*_):
        for m in sessions:
            try:
                m.logout()
            except (OSError, imaplib.IMAP4.error):
                pass
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    while True:
        time.sleep(60)


def cmd_banner(src, dst, port):
    t0 = time.monotonic()
    s = connect(src, dst, int(port), 5.0)
    line = s.makefile("rb").readline().decode(errors="replace").rstrip("\r\n")
    print("%.3f %s" % (time.monotonic() - t0, line))
    s.close()


def main():
    cmds = {"imap": cmd_imap, "pop3": cmd_pop3, "imap-fail": cmd_imap_fail, "imap-hold": cmd_imap_hold,
            "banner": cmd_banner}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    try:
        cmds[sys.argv[1]](*sys.argv[2:])
    except (OSError, imaplib.IMAP4.error, poplib.error_proto) as e:
        print("error: %s" % e)
        sys.exit(1)


if __name__ == "__main__":
    main()
