"""Fuzzing the worker with generated malformed entries (Debian's python3 with python3-redis).

Enqueues N malformed entries of many kinds (truncated or invalid JSON, wrong types, huge
strings, deep nesting, invalid UTF-8, NUL bytes, numbers out of range, lone surrogates, unknown
types, empty ids) mixed with valid jobs carrying SQL-injection and Unicode strings, runs one
worker, and checks: the worker never crashes or stalls, every malformed entry ends in the
dead-letter stream with a reason and its bytes intact, every valid job is applied verbatim.
Environment: REDIS_URL, DATABASE_URL, JIRA_PREFIX, JIRA_WORKER. Prints figures; exits 1 on failure.
"""
import json
import os
import random
import subprocess
import sys
import time

import redis

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
PREFIX = os.environ["JIRA_PREFIX"]
RUN = f"fuzz{int(time.time())}{random.randint(0, 999)}"
r = redis.Redis.from_url(os.environ["REDIS_URL"])
rng = random.Random(42)

INJECTIONS = ["'; DROP TABLE jira_users; --", "Robert'); DELETE FROM jira_workspaces; --", "\" OR 1=1 --", "$1; SELECT pg_sleep(10)",
              "%s%n%x", "\\x00\\'", "😀 e\u0301 עברית \u202e", "NULL", "../../etc/passwd", "{\"$ne\": null}"]
TYPES = ["create_workspace", "update_workspace", "deactivate_workspace", "create_workspace_link", "update_user_status", "create_conversation"]
# Wrong values by the type a field should have: never a value of that type, never null
# (null means "absent" for optional fields).
WRONG_FOR_STRING = [123, -1, 1.5, True, [], {}, ["a"], {"a": 1}, 1e30]
WRONG_FOR_INTEGER = ["1", "x", 1.5, True, [], {}, ["a"], {"a": 1}]
# Every payload names a workspace that does not exist, so a generated entry that happens to be
# valid touches no real data: it is retried, then dead-lettered.
NO_WORKSPACE = -424242


def valid_payload(kind, i):
    cloud = f"{RUN}-cloud-{i}"
    return {
        "create_workspace": {"jira_cloud_id": cloud, "name": f"{RUN}-{i}.example", "admin_user_id": "a", "webhook_secret": "w", "svc_acc_email": "e", "svc_acc_api_key": "k"},
        "update_workspace": {"workspace_id": NO_WORKSPACE, "svc_acc_email": "e"},
        "deactivate_workspace": {"workspace_id": NO_WORKSPACE},
        "create_workspace_link": {"workspace_id": NO_WORKSPACE, "keycloak_user_id": "k", "jira_user_id": "a"},
        "update_user_status": {"workspace_id": NO_WORKSPACE, "keycloak_user_id": "k", "status": "active"},
        "create_conversation": {"workspace_id": NO_WORKSPACE, "keycloak_user_id": "k", "issue_id": "1", "issue_key": "P-1", "conversation_id": "c"},
    }[kind]


def malformed(i):
    kind = rng.choice(TYPES)
    envelope = {"id": f"{RUN}-bad-{i}", "type": kind, "payload": valid_payload(kind, i)}
    text = json.dumps(envelope)
    choice = rng.randrange(14)
    if choice == 0:
        return text[: rng.randrange(1, len(text) - 1)].encode()                      # truncated
    if choice == 1:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))) + b"\xff"  # random bytes, invalid UTF-8
    if choice == 2:
        cut = rng.randrange(1, len(text))
        return text[:cut].encode() + b"\x00" + text[cut:].encode()                     # a raw NUL byte
    if choice == 3:
        field = rng.choice(list(envelope["payload"]))
        original = envelope["payload"][field]
        envelope["payload"][field] = rng.choice(WRONG_FOR_INTEGER if isinstance(original, int) else WRONG_FOR_STRING)
        return json.dumps(envelope).encode()                                          # wrong type
    if choice == 4:
        envelope["payload"][rng.choice(list(envelope["payload"]))] = "x" * 70000      # over the size limit
        return json.dumps(envelope).encode()
    if choice == 5:
        depth = rng.randrange(600, 20000)
        return ("[" * depth + "]" * depth).encode()                                   # deep nesting
    if choice == 6:
        envelope["payload"]["workspace_id"] = rng.choice([10 ** 30, -(10 ** 25), 9223372036854775808, 1e400 if False else 1.5e300])
        if "jira_cloud_id" in envelope["payload"] and kind != "update_workspace":
            del envelope["payload"]["jira_cloud_id"]
        if kind == "create_workspace":
            envelope["payload"]["name"] = ""
        return json.dumps(envelope).encode()                                          # number out of range
    if choice == 7:
        return text.replace('"id": "', '"id": "\\ud800', 1).encode()                   # lone surrogate in the id
    if choice == 8:
        envelope["type"] = rng.choice(["", "CREATE_WORKSPACE", "create workspace", "drop_table", "x" * 500])
        return json.dumps(envelope).encode()                                          # unknown type
    if choice == 9:
        envelope["id"] = rng.choice(["", "x" * 129])
        return json.dumps(envelope).encode()                                          # bad id
    if choice == 10:
        del envelope["payload"][rng.choice(list(envelope["payload"]))]
        if kind == "update_workspace":
            envelope["payload"] = {"workspace_id": NO_WORKSPACE}
        return json.dumps(envelope).encode()                                          # missing field
    if choice == 11:
        return rng.choice([b"", b"null", b"[]", b"\"job\"", b"42", b"{}", b"{\"id\":\"x\"}"])  # not an envelope
    if choice == 12:
        strings = [f for f in envelope["payload"] if isinstance(envelope["payload"][f], str)]
        envelope["payload"][rng.choice(strings) if strings else "workspace_id"] = ""
        return json.dumps(envelope).encode()                                          # empty required string
    envelope = {"id": f"{RUN}-bad-{i}", "type": "create_workspace",
                "payload": dict(valid_payload("create_workspace", i), name=f"nul\u0000{i}")}
    return json.dumps(envelope).encode()                                              # NUL inside a string: the database refuses it


def main():
    worker = subprocess.Popen([os.environ["JIRA_WORKER"], "run", "--consumer", RUN, "--lanes", "2", "--max-attempts", "2",
                               "--retry-base", "10ms", "--retry-max", "50ms"],
                              stderr=open(f"/tmp/{RUN}.log", "w"))
    bad, good = [], []
    pipe = r.pipeline(transaction=False)
    for i in range(N):
        entry = malformed(i)
        bad.append(entry)
        pipe.xadd(f"{PREFIX}:jobs", {"job": entry})
        if i % 50 == 0:
            name = rng.choice(INJECTIONS) + f" {i}"
            job = {"id": f"{RUN}-good-{i}", "type": "create_workspace",
                   "payload": dict(valid_payload("create_workspace", i), name=f"{RUN}-{i}.example", admin_user_id=name)}
            good.append((job["id"], name))
            pipe.xadd(f"{PREFIX}:jobs", {"job": json.dumps(job)})
        if len(pipe) >= 1000:
            pipe.execute()
    pipe.execute()
    start = time.time()
    dead = 0
    while time.time() - start < 300:
        if worker.poll() is not None:
            break
        dead = r.xlen(f"{PREFIX}:jobs:dead")
        pending = r.xpending(f"{PREFIX}:jobs", f"{PREFIX}-workers")["pending"]
        lag = (r.xinfo_groups(f"{PREFIX}:jobs") or [{}])[0].get("lag", 1)
        if dead >= N and pending == 0 and lag == 0 and r.zcard(f"{PREFIX}:jobs:delayed") == 0:
            break
        time.sleep(0.2)
    elapsed = time.time() - start
    failures = []
    alive = worker.poll() is None
    if not alive:
        failures.append(f"the worker exited with {worker.returncode}")
    worker.terminate()
    worker.wait(timeout=30)
    letters = r.xrange(f"{PREFIX}:jobs:dead")
    if len(letters) != N:
        failures.append(f"{len(letters)} dead letters for {N} malformed entries")
    reasons = {}
    sent = set(bad)
    for _, fields in letters:
        error = fields.get(b"error", b"").decode()
        if not error:
            failures.append("a dead letter without a reason")
            break
        if fields.get(b"job", b"") not in sent:
            failures.append("a dead letter whose bytes differ from the entry")
            break
        reasons[error.split(" (")[0][:60]] = reasons.get(error.split(" (")[0][:60], 0) + 1
    stored = subprocess.run(["psql", os.environ["DATABASE_URL"], "-tAq", "-c",
                             f"SELECT admin_user_id FROM jira_workspaces WHERE jira_cloud_id LIKE '{RUN}-cloud-%'"],
                            capture_output=True, text=True).stdout.splitlines()
    if sorted(stored) != sorted(name for _, name in good):
        failures.append(f"{len(stored)} valid jobs stored verbatim of {len(good)}")
    print(json.dumps({"malformed": N, "valid": len(good), "dead": len(letters), "stored": len(stored),
                      "seconds": round(elapsed, 1), "entries_per_second": round((N + len(good)) / max(elapsed, 0.001)),
                      "kinds_of_reasons": len(reasons)}))
    for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1])[:25]:
        print(f"  {count:6d}  {reason}")
    for failure in failures:
        print(f"FAIL {failure}")
    print(f"{0 if failures else 1} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


main()
