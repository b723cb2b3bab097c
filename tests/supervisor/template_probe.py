"""A stand-in bot for the template tests, forked from the real template (``module=...``).

``env``: one JSON line with what the process was given (environment, argv, folder, session,
threads, open file descriptors), then exit 0. ``echo``: copy stdin lines to stdout until EOF.
``exit N``: exit with code N. ``touch PATH``: create PATH. ``orphan``: fork a child that outlives this process by 2 s (and say its pid). ``sleep``: report, then sleep until signalled.
"""

from __future__ import annotations

import json
import os
import sys
import time


def report() -> None:
    print(
        json.dumps(
            {
                "env": dict(os.environ),
                "argv": sys.argv,
                "cwd": os.getcwd(),
                "pid": os.getpid(),
                "ppid": os.getppid(),
                "sid": os.getsid(0),
                "pgid": os.getpgid(0),
                "threads": len(os.listdir("/proc/self/task")),
                "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
                "sys_path0": sys.path[0],
                "comm": open("/proc/self/comm").read().strip(),
            }
        ),
        flush=True,
    )


def main() -> int:
    what = sys.argv[1:]
    if what[:1] == ["env"]:
        report()
        return 0
    if what[:1] == ["echo"]:
        for line in sys.stdin:
            sys.stdout.write("echo: " + line)
            sys.stdout.flush()
        return 0
    if what[:1] == ["exit"]:
        return int(what[1])
    if what[:1] == ["orphan"]:  # leave a child behind that exits a little later
        child = os.fork()
        if child == 0:
            time.sleep(2.0)
            os._exit(0)
        print(json.dumps({"pid": os.getpid(), "orphan": child}), flush=True)
        return 0
    if what[:1] == ["touch"]:  # leave a mark that this process ran
        open(what[1], "w").close()
        return 0
    if what[:1] == ["sleep"]:
        report()
        time.sleep(60)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
