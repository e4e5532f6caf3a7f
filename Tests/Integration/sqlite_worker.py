"""One SQLite writer for test_sqlite_two_mounts.py.

    sqlite_worker.py DB WORKER ROWS [--batch N]

Inserts ROWS rows (worker, n) into table `rows` of DB, N rows per transaction, with a rollback
journal (`PRAGMA journal_mode=DELETE`) and SQLite's default locking (POSIX fcntl locks). A busy
database is waited for (busy timeout) and, if SQLite still says "database is locked", the
transaction is retried. Prints one JSON object: rows inserted, transactions, retries, seconds.
"""

import argparse
import json
import sqlite3
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("worker", type=int)
    parser.add_argument("rows", type=int)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()

    began = time.monotonic()
    db = sqlite3.connect(args.db, timeout=30, isolation_level=None)
    mode = db.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
    assert mode == "delete", mode
    inserted = transactions = retries = 0
    while inserted < args.rows:
        batch = range(inserted, min(inserted + args.batch, args.rows))
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                for n in batch:
                    db.execute("INSERT INTO rows (worker, n, payload) VALUES (?, ?, ?)",
                               (args.worker, n, f"worker {args.worker} row {n} " + "x" * (n % 200)))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as e:
            if "database is locked" not in str(e):
                print(f"worker {args.worker}: {e} ({getattr(e, 'sqlite_errorname', '?')}) after {inserted} rows",
                      file=sys.stderr, flush=True)
                raise
            retries += 1
            time.sleep(0.01)
            continue
        inserted += len(batch)
        transactions += 1
    db.close()
    print(json.dumps({"worker": args.worker, "rows": inserted, "transactions": transactions, "retries": retries,
                      "seconds": round(time.monotonic() - began, 2)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
