"""Helpers for scripts/bench (Debian's python3 with python3-redis).

  bench.py generate N RUN          JSON lines of N mixed jobs: per workspace 1 registration, 20 links, 80 conversations
  bench.py seed RUN USERS          enqueue one workspace and USERS links, wait until applied; prints the workspace id
  bench.py e2e RATE SECONDS RUN WS USERS
                                   offer RATE conversation jobs/s for SECONDS; print enqueue→acknowledged latency JSON
  bench.py wait-drained            wait until the stream has nothing undelivered, pending or delayed; print the
                                   wall-clock time it was first seen so (one connection, polled every 20 ms near
                                   the end and more rarely before: the poll must not load the machine measured)
"""
import json
import os
import sys
import threading
import time

import redis

PREFIX = os.environ.get("JIRA_PREFIX", "jira")


def workspace_payload(cloud):
    return {"jira_cloud_id": cloud, "name": f"{cloud}.atlassian.net", "admin_user_id": "bench",
            "webhook_secret": "enc:w", "svc_acc_email": "b@x", "svc_acc_api_key": "enc:k"}


def generate(n, run):
    out = sys.stdout
    written = w = 0
    while written < n:
        cloud = f"{run}-{w}"
        jobs = [{"id": f"{cloud}-ws", "type": "create_workspace", "payload": workspace_payload(cloud)}]
        jobs += [{"id": f"{cloud}-l{u}", "type": "create_workspace_link",
                  "payload": {"jira_cloud_id": cloud, "keycloak_user_id": f"{cloud}-u{u}", "jira_user_id": f"acc{u}"}} for u in range(20)]
        jobs += [{"id": f"{cloud}-c{c}", "type": "create_conversation",
                  "payload": {"jira_cloud_id": cloud, "keycloak_user_id": f"{cloud}-u{c % 20}", "issue_id": str(c % 5),
                              "issue_key": f"P-{c % 5}", "conversation_id": f"{cloud}-conv{c}"}} for c in range(80)]
        for job in jobs[: n - written]:
            out.write(json.dumps(job, separators=(",", ":")) + "\n")
        written += min(len(jobs), n - written)
        w += 1


def wait_result(r, job_id, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        raw = r.get(f"{PREFIX}:result:{job_id}")
        if raw:
            return json.loads(raw)
        time.sleep(0.01)
    raise SystemExit(f"no result for {job_id}")


def seed(run, users):
    r = redis.Redis.from_url(os.environ["REDIS_URL"])
    cloud = f"{run}-e2e"
    r.xadd(f"{PREFIX}:jobs", {"job": json.dumps({"id": f"{cloud}-ws", "type": "create_workspace", "payload": workspace_payload(cloud)})})
    ws = wait_result(r, f"{cloud}-ws")["result"]["workspace_id"]
    pipe = r.pipeline(transaction=False)
    for u in range(users):
        pipe.xadd(f"{PREFIX}:jobs", {"job": json.dumps({"id": f"{cloud}-l{u}", "type": "create_workspace_link",
                                                        "payload": {"workspace_id": ws, "keycloak_user_id": f"e2e-{ws}-u{u}", "jira_user_id": f"a{u}"}})})
    pipe.execute()
    wait_result(r, f"{cloud}-l{users - 1}")
    print(ws)


def e2e(rate, seconds, run, ws, users):
    r = redis.Redis.from_url(os.environ["REDIS_URL"])
    r.config_set("notify-keyspace-events", "K$")  # keyspace events for string SETs: the result key
    listener = redis.Redis.from_url(os.environ["REDIS_URL"]).pubsub()
    db = r.connection_pool.connection_kwargs.get("db", 0)
    listener.psubscribe(f"__keyspace@{db}__:{PREFIX}:result:{run}-*")
    while listener.get_message(timeout=1) is None:
        pass  # the subscription confirmation
    sent = {}
    done = {}
    stop = threading.Event()

    def receive():
        prefix_len = len(f"__keyspace@{db}__:{PREFIX}:result:")
        while not stop.is_set() or len(done) < len(sent):
            message = listener.get_message(timeout=0.5)
            if message and message["type"] == "pmessage":
                done.setdefault(message["channel"].decode()[prefix_len:], time.monotonic())
            elif message is None and stop.is_set() and time.monotonic() > stop_time + 30:
                break

    stop_time = float("inf")
    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    total = int(rate * seconds)
    start = time.monotonic()
    pipe = r.pipeline(transaction=False)
    for i in range(total):
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0.0005:
            pipe.execute()
            time.sleep(delay)
        job_id = f"{run}-{i}"
        payload = {"workspace_id": ws, "keycloak_user_id": f"e2e-{ws}-u{i % users}", "issue_id": str(i % 9),
                   "issue_key": f"E-{i % 9}", "conversation_id": f"{run}-conv-{i}"}
        pipe.xadd(f"{PREFIX}:jobs", {"job": json.dumps({"id": job_id, "type": "create_conversation", "payload": payload})})
        sent[job_id] = due
        if len(pipe) >= max(1, rate // 1000):
            pipe.execute()
    pipe.execute()
    offered_seconds = time.monotonic() - start
    stop_time = time.monotonic()
    stop.set()
    thread.join(timeout=60)
    latencies = sorted((done[j] - sent[j]) * 1000 for j in sent if j in done)
    if not latencies:
        raise SystemExit("no job was acknowledged")
    pick = lambda p: latencies[min(int((len(latencies) - 1) * p), len(latencies) - 1)]
    print(json.dumps({"offered_per_second": rate, "achieved_offer_per_second": round(total / offered_seconds, 1),
                      "jobs": total, "acknowledged": len(latencies), "p50_ms": round(pick(0.5), 2),
                      "p99_ms": round(pick(0.99), 2), "max_ms": round(latencies[-1], 2)}))


def wait_drained():
    r = redis.Redis.from_url(os.environ["REDIS_URL"])
    stream, group = f"{PREFIX}:jobs", f"{PREFIX}-workers"
    previous = None  # (time, jobs left) of the poll before
    while True:
        pipe = r.pipeline(transaction=False)
        pipe.xinfo_groups(stream)
        pipe.xpending(stream, group)
        pipe.zcard(f"{PREFIX}:jobs:delayed")
        try:
            groups, pending, delayed = pipe.execute()
        except redis.ResponseError:
            groups, pending, delayed = [], {"pending": 1}, 1  # the group does not exist yet
        lag = next((g.get("lag") for g in groups if g["name"].decode() == group), None)
        if lag == 0 and pending["pending"] == 0 and delayed == 0:
            print(f"{time.time():.6f}")
            return
        # Poll every 20 ms near the end; while much is left, a quarter of the time it should
        # take at the rate seen so far (at most 0.5 s): the polls cost the measured machine less.
        pause = 0.02
        now, left = time.monotonic(), (lag or 0) + pending["pending"] + delayed
        if lag is not None and previous and previous[1] > left:
            rate = (previous[1] - left) / (now - previous[0])
            pause = min(0.5, max(0.02, left / rate / 4))
        if lag is not None:
            previous = (now, left)
        time.sleep(pause)


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "generate":
        generate(int(sys.argv[2]), sys.argv[3])
    elif command == "seed":
        seed(sys.argv[2], int(sys.argv[3]))
    elif command == "e2e":
        e2e(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    elif command == "wait-drained":
        wait_drained()
