"""The chaos run behind scripts/chaos (Debian's python3 with python3-redis).

Runs WORKERS jira-worker processes over JOBS mixed jobs while SIGKILLing a random worker every
few seconds (and starting a replacement), restarting PostgreSQL once and Redis once, injecting
1% malformed entries and re-enqueuing 2% duplicates. Then checks that every valid job was
applied exactly once, every malformed entry was dead-lettered with a reason, nothing is pending,
and the cache equals PostgreSQL. Prints the figures; exits 1 when a check fails.
Environment: REDIS_URL, DATABASE_URL, JIRA_PREFIX, JIRA_WORKER (binary), ENV_SH (scripts/lib/env.sh).
"""
import json
import os
import random
import signal
import subprocess
import sys
import time

import redis

JOBS = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
WORKERS = int(sys.argv[2]) if len(sys.argv) > 2 else 4
KILL_EVERY = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
PREFIX = os.environ["JIRA_PREFIX"]
WORKER = os.environ["JIRA_WORKER"]
DATABASE_URL = os.environ["DATABASE_URL"]
RUN = f"chaos{int(time.time())}{random.randint(0, 999)}"
r = redis.Redis.from_url(os.environ["REDIS_URL"])


def psql(sql):
    return subprocess.run(["psql", DATABASE_URL, "-tAq", "-c", sql], capture_output=True, text=True).stdout.strip()


def service(action):
    subprocess.run(["bash", "-c", f"source {os.environ['ENV_SH']}; {action}"], check=True, capture_output=True)


def workspace(cloud):
    return {"jira_cloud_id": cloud, "name": f"{cloud}.atlassian.net", "admin_user_id": "chaos", "webhook_secret": "enc:w",
            "svc_acc_email": "c@x", "svc_acc_api_key": "enc:k"}


MALFORMED = [
    lambda i: b"{\"id\": \"truncated-" + str(i).encode() + b"\", \"type\": \"create_conv",
    lambda i: b"\xff\xfe not utf-8 " + str(i).encode(),
    lambda i: json.dumps({"id": f"{RUN}-bad-{i}", "type": "create_conversation", "payload": {"workspace_id": "not-a-number"}}).encode(),
    lambda i: json.dumps({"id": f"{RUN}-bad-{i}", "type": "drop_everything", "payload": {}}).encode(),
    lambda i: json.dumps({"id": f"{RUN}-bad-{i}", "type": "create_workspace_link", "payload": {"workspace_id": 1, "keycloak_user_id": "", "jira_user_id": "a"}}).encode(),
]


def build():
    valid, entries = [], []
    w = 0
    while len(valid) < JOBS:
        cloud = f"{RUN}-{w}"
        valid.append({"id": f"{cloud}-ws", "type": "create_workspace", "payload": workspace(cloud)})
        valid += [{"id": f"{cloud}-l{u}", "type": "create_workspace_link",
                   "payload": {"jira_cloud_id": cloud, "keycloak_user_id": f"{cloud}-u{u}", "jira_user_id": f"acc{u}"}} for u in range(20)]
        valid += [{"id": f"{cloud}-c{c}", "type": "create_conversation",
                   "payload": {"jira_cloud_id": cloud, "keycloak_user_id": f"{cloud}-u{c % 20}", "issue_id": str(c % 5),
                               "issue_key": f"C-{c % 5}", "conversation_id": f"{cloud}-conv{c}"}} for c in range(80)]
        w += 1
    valid = valid[:JOBS]
    malformed = 0
    duplicates = 0
    bad = set()
    for i, job in enumerate(valid):
        entries.append(("job", json.dumps(job).encode()))
        if random.random() < 0.01:
            entry = random.choice(MALFORMED)(i)
            entries.append(("job", entry))
            bad.add(entry)
            malformed += 1
        if random.random() < 0.02 and i > 0:
            entries.append(("job", json.dumps(valid[random.randrange(i)]).encode()))
            duplicates += 1
    return valid, entries, bad, duplicates


def reader(stop, lookups):
    """Read-through lookups during the run, as the issue panel does, so the cache holds entries
    that the final check compares with PostgreSQL."""
    clouds = [f"{RUN}-{w}" for w in range(JOBS // 101 + 1)]
    while not stop.is_set():
        try:
            raw = r.get(f"{PREFIX}:result:{random.choice(clouds)}-ws")
        except redis.exceptions.ConnectionError:
            time.sleep(0.2)
            continue
        if raw is None:
            time.sleep(0.05)
            continue
        body = json.loads(raw).get("result", {})
        if "workspace_id" in body:
            cloud_user = f"{random.choice(clouds)}-u{random.randrange(20)}"
            subprocess.run([WORKER, "lookup", "active-user", str(body["workspace_id"]), cloud_user], capture_output=True)
            lookups[0] += 1


def start_worker(n):
    log = open(f"/tmp/{RUN}-worker-{n}.log", "w")
    # Workers die far more often here than in production (every few seconds), so an entry may be
    # delivered several times without being a poison pill: allow 10 deliveries instead of 5.
    worker = subprocess.Popen([WORKER, "run", "--consumer", f"{RUN}-w{n}", "--claim-timeout", "2s", "--grace", "10s",
                               "--max-deliveries", "10"], stderr=log, stdout=log)
    WORKERS_RUNNING.append(worker)
    return worker


WORKERS_RUNNING = []


def cleanup(*_):
    for worker in WORKERS_RUNNING:
        if worker.poll() is None:
            worker.kill()
    sys.exit(1)


signal.signal(signal.SIGTERM, cleanup)


def main():
    valid, entries, bad, duplicates = build()
    malformed = len(bad)
    ids = {job["id"] for job in valid}
    print(f"chaos: {len(valid)} valid jobs, {malformed} malformed entries, {duplicates} duplicates, {WORKERS} workers", flush=True)
    workers = [start_worker(n) for n in range(WORKERS)]
    import threading
    stop_reader, lookups = threading.Event(), [0]
    reading = threading.Thread(target=reader, args=(stop_reader, lookups), daemon=True)
    reading.start()
    next_worker = WORKERS
    kills = 0
    restarts = {"postgres": 0, "redis": 0}
    enqueued = 0
    start = time.time()
    next_kill = start + KILL_EVERY
    chunk = 2000

    def applied():
        return int(psql(f"SELECT count(*) FROM jira_job_inbox WHERE job_id LIKE '{RUN}-%' AND job_id NOT LIKE '{RUN}-bad-%'") or 0)

    deadline = start + 600
    last_report = start
    last_done, last_change = -1, start
    while time.time() < deadline:
        if time.time() - last_report > 5:
            last_report = time.time()
            try:
                print(f"  progress: applied {applied()}/{len(ids)}, enqueued {enqueued}/{len(entries)}, "
                      f"pending {r.xpending(f'{PREFIX}:jobs', f'{PREFIX}-workers')['pending']}, "
                      f"delayed {r.zcard(f'{PREFIX}:jobs:delayed')}, dead {r.xlen(f'{PREFIX}:jobs:dead')}, kills {kills}", flush=True)
            except redis.exceptions.RedisError:
                pass
        if enqueued < len(entries):
            try:
                pipe = r.pipeline(transaction=False)
                for field, value in entries[enqueued:enqueued + chunk]:
                    pipe.xadd(f"{PREFIX}:jobs", {field: value})
                pipe.execute()
                enqueued = min(enqueued + chunk, len(entries))
            except redis.exceptions.ConnectionError:
                time.sleep(0.2)  # Redis restarting; the chunk is sent again (its entries are duplicates at worst)
        done = applied()
        if done != last_done:
            last_done, last_change = done, time.time()
        elif time.time() - last_change > 60:
            print("  no progress for 60 s; stopping", flush=True)
            break
        progress = done / len(ids)
        if restarts["postgres"] == 0 and progress > 0.3:
            service("stop_postgres; sleep 1; start_postgres")
            restarts["postgres"] += 1
        if restarts["redis"] == 0 and progress > 0.6:
            service("stop_redis; sleep 1; start_redis")
            restarts["redis"] += 1
        if time.time() >= next_kill and progress < 0.95:
            victim = random.randrange(len(workers))
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait()
            kills += 1
            workers[victim] = start_worker(next_worker)
            next_worker += 1
            next_kill = time.time() + KILL_EVERY
        if done >= len(ids) and enqueued >= len(entries):
            try:
                pending = r.xpending(f"{PREFIX}:jobs", f"{PREFIX}-workers")["pending"]
                delayed = r.zcard(f"{PREFIX}:jobs:delayed")
                dead = r.xlen(f"{PREFIX}:jobs:dead")
            except redis.exceptions.ConnectionError:
                continue
            if pending == 0 and delayed == 0 and dead >= malformed:
                break
        time.sleep(0.5)
    elapsed = time.time() - start
    stop_reader.set()
    reading.join(timeout=10)
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    exits = [worker.wait(timeout=30) for worker in workers]

    failures = []
    done = applied()
    conversations = int(psql(f"SELECT count(*) FROM jira_conversations WHERE conversation_id LIKE '{RUN}-%'") or 0)
    expected_conversations = sum(1 for job in valid if job["type"] == "create_conversation")
    links = int(psql(f"SELECT count(*) FROM jira_users WHERE keycloak_user_id LIKE '{RUN}-%'") or 0)
    expected_links = sum(1 for job in valid if job["type"] == "create_workspace_link")
    letters = r.xrange(f"{PREFIX}:jobs:dead")
    dead_valid = [f for _, f in letters if f.get(b"job", b"").startswith(b"{\"id\": \"" + RUN.encode()) and b"-bad-" not in f.get(b"job", b"")]
    dead_bad = [f for _, f in letters if f not in dead_valid]
    pending = r.xpending(f"{PREFIX}:jobs", f"{PREFIX}-workers")["pending"]
    lost = len(ids) - done
    if lost:
        failures.append(f"{lost} valid jobs not applied")
    if conversations != expected_conversations:
        failures.append(f"{conversations} conversations, expected {expected_conversations}")
    if links != expected_links:
        failures.append(f"{links} links, expected {expected_links}")
    if dead_valid:
        failures.append(f"{len(dead_valid)} valid jobs dead-lettered: {[f.get(b'error') for f in dead_valid[:3]]}")
    # Every malformed entry is dead-lettered (more than once only if the enqueuer itself sent it
    # twice, re-sending a chunk cut off by the Redis restart).
    dead_entries = {f.get(b"job", b"") for f in dead_bad}
    if dead_entries != bad:
        failures.append(f"{len(bad - dead_entries)} malformed entries not dead-lettered, {len(dead_entries - bad)} unexpected dead letters")
    if any(not f.get(b"error") for f in dead_bad):
        failures.append("a dead letter has no reason")
    if pending:
        failures.append(f"{pending} entries still pending")
    if any(code != 0 for code in exits):
        failures.append(f"workers exited with {exits}")
    # The cache equals PostgreSQL: every cached active-user entry against a database lookup.
    checked = mismatched = 0
    for key in r.scan_iter(f"{PREFIX}:cache:active-user:*", count=1000):
        parts = key.decode().split(":")
        if len(parts) < 5 or checked >= 200:
            continue
        from urllib.parse import unquote
        workspace_id, user = parts[-2], unquote(parts[-1])
        raw = r.get(key)
        if raw is None:
            continue
        fresh = subprocess.run([WORKER, "lookup", "active-user", workspace_id, user, "--no-cache"], capture_output=True, text=True).stdout
        checked += 1
        if json.loads(raw)["value"] != json.loads(fresh):
            mismatched += 1
    if checked == 0 and lookups[0] > 20:
        failures.append("no cache entry to compare")
    if mismatched:
        failures.append(f"{mismatched} of {checked} cached entries differ from PostgreSQL")
    figures = {"jobs": len(ids), "entries": len(entries), "malformed": malformed, "duplicates": duplicates, "workers": WORKERS,
               "kills": kills, "postgres_restarts": restarts["postgres"], "redis_restarts": restarts["redis"], "applied": done,
               "lost": lost, "duplicated": max(conversations - expected_conversations, 0) + max(links - expected_links, 0),
               "dead": len(letters), "lookups_during_run": lookups[0], "cache_entries_checked": checked, "seconds": round(elapsed, 1),
               "jobs_per_second": round(len(ids) / elapsed, 1)}
    print(json.dumps(figures))
    for failure in failures:
        print(f"FAIL {failure}")
    print(f"{0 if failures else 1} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


try:
    main()
finally:
    for running in WORKERS_RUNNING:
        if running.poll() is None:
            running.kill()
