"""Interop with the Python producers, against the real worker.

Does what the web app does with redis-py: the OAuth callback enqueues a workspace registration
and waits for its result key to learn the workspace id; the webhook handler enqueues links and
conversations; the issue panel reads the documented cache keys. Every envelope is validated with
the project's JSON Schema first. Needs REDIS_URL, JIRA_PREFIX, JIRA_WORKER (the binary, used as
the read-through helper on a cache miss) and SCHEMA (the schema path).
"""
import json
import os
import subprocess
import sys
import time
import urllib.parse
import uuid

import jsonschema
import redis

PREFIX = os.environ["JIRA_PREFIX"]
WORKER = os.environ["JIRA_WORKER"]
r = redis.Redis.from_url(os.environ["REDIS_URL"])
schema = json.load(open(os.environ["SCHEMA"]))
validator = jsonschema.Draft202012Validator(schema)
passed = failed = 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}", file=sys.stderr)


def escape(component):
    """The documented key escaping: percent-encode every UTF-8 byte except A-Z a-z 0-9 - _ . ~"""
    return urllib.parse.quote(component, safe="-_.~")


def enqueue(job_type, payload, job_id=None):
    envelope = {"id": job_id or str(uuid.uuid4()), "type": job_type, "payload": payload,
                "enqueued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    validator.validate(envelope)
    r.xadd(f"{PREFIX}:jobs", {"job": json.dumps(envelope)})
    return envelope["id"]


def wait_result(job_id, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        raw = r.get(f"{PREFIX}:result:{job_id}")
        if raw is not None:
            return json.loads(raw)
        time.sleep(0.02)
    raise TimeoutError(f"no result for {job_id}")


def cached(key, lookup_args):
    """Reads a cache key as the issue panel does; on a miss, reads through with the worker CLI."""
    raw = r.get(key)
    if raw is None:
        env = dict(os.environ)
        out = subprocess.run([WORKER, "lookup", *lookup_args], capture_output=True, text=True, env=env, check=True)
        raw = r.get(key)
        check("lookup printed the same value it cached", raw is not None and json.loads(raw)["value"] == json.loads(out.stdout), out.stdout)
    return json.loads(raw)


# The schema rejects what the worker would dead-letter.
for bad in [{"id": "", "type": "create_workspace", "payload": {}},
            {"id": "x", "type": "launch", "payload": {}},
            {"id": "x", "type": "create_workspace_link", "payload": {"workspace_id": "1", "keycloak_user_id": "k", "jira_user_id": "a"}},
            {"id": "x", "type": "create_workspace", "payload": {"jira_cloud_id": "c"}},
            {"id": "x", "type": "update_user_status", "payload": {"workspace_id": 1, "keycloak_user_id": "k", "status": "banned"}}]:
    check(f"schema rejects {bad}", not validator.is_valid(bad))

# The OAuth callback registers a workspace and learns its id from the result key.
cloud = f"py-{uuid.uuid4().hex[:8]}"
job = enqueue("create_workspace", {"jira_cloud_id": cloud, "name": f"{cloud}.atlassian.net", "admin_user_id": "admin",
                                   "webhook_secret": "enc:py-secret", "svc_acc_email": "svc@example.com", "svc_acc_api_key": "enc:py-key"})
result = wait_result(job)
check("registration done", result.get("status") == "done", result)
workspace_id = result["result"]["workspace_id"]

# The webhook handler links a user (an id with a colon and Unicode) and records a conversation.
user = f"kc:{uuid.uuid4().hex[:6]} é"
check("link done", wait_result(enqueue("create_workspace_link", {"workspace_id": workspace_id, "keycloak_user_id": user, "jira_user_id": "acc-py"}))["status"] == "done")
conv = wait_result(enqueue("create_conversation", {"jira_cloud_id": cloud, "keycloak_user_id": user, "issue_id": 10001, "issue_key": "PY-1", "conversation_id": f"conv-{cloud}"}))
check("conversation done", conv["status"] == "done", conv)

# A duplicate from a retrying producer returns the first result.
dup_id = f"dup-{cloud}"
first = wait_result(enqueue("update_user_status", {"workspace_id": workspace_id, "keycloak_user_id": user, "status": "active"}, dup_id))
r.delete(f"{PREFIX}:result:{dup_id}")
again = wait_result(enqueue("update_user_status", {"workspace_id": workspace_id, "keycloak_user_id": user, "status": "active"}, dup_id))
check("duplicate keeps the first result", first == again, (first, again))

# The issue panel reads the documented keys.
active_key = f"{PREFIX}:cache:active-user:{workspace_id}:{escape(user)}"
entry = cached(active_key, ["active-user", str(workspace_id), user])
check("active user cached", entry["value"] is not None and entry["value"]["keycloak_user_id"] == user, entry)
check("entry carries a version", isinstance(entry["version"], int) and entry["version"] > 0, entry)
conversations = cached(f"{PREFIX}:cache:conversations:{workspace_id}:{escape(user)}:10001",
                       ["conversations", str(workspace_id), user, "10001"])
check("conversations cached", [c["conversation_id"] for c in conversations["value"]] == [f"conv-{cloud}"], conversations)
ws = cached(f"{PREFIX}:cache:workspace-by-cloud-id:{escape(cloud)}", ["workspace", cloud])
check("workspace cached without secrets", ws["value"]["id"] == workspace_id and "enc:" not in json.dumps(ws), ws)

# Deactivation revokes at once: right after the result appears, the panel sees no active user.
check("deactivated", wait_result(enqueue("deactivate_workspace", {"workspace_id": workspace_id}))["status"] == "done")
after = cached(active_key, ["active-user", str(workspace_id), user])
check("revoked at once", after["value"] is None, after)

# A bad job from a producer: dead-lettered with a reason, and its result says so.
bad_id = enqueue("create_workspace_link", {"workspace_id": workspace_id, "keycloak_user_id": user, "jira_user_id": "acc"}, None)
r.xadd(f"{PREFIX}:jobs", {"job": json.dumps({"id": f"bad-{cloud}", "type": "create_workspace_link", "payload": {"workspace_id": workspace_id}})})
dead = wait_result(f"bad-{cloud}")
check("bad job is dead", dead["status"] == "dead" and "keycloak_user_id" in dead["error"], dead)
wait_result(bad_id)
letters = r.xrange(f"{PREFIX}:jobs:dead")
check("dead letter has the documented fields", any({b"job", b"error", b"attempts", b"failed_at", b"consumer", b"source_id"} <= set(f) for _, f in letters), letters)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
