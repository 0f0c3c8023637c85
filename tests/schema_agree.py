#!/usr/bin/python3
"""The JSON Schemas and the C validator must agree on every example.

usage: schema_agree.py SCHEMAS_DIR VOCCTL

For every schemas/examples/{valid,invalid}/*.json:
  (a) Python's jsonschema (Draft 2020-12, formats not asserted) says valid iff
      the file is under valid/;
  (b) `vocctl event check --schema NAME FILE` exits 0 iff under valid/ (and 1
      otherwise: any other exit code is a failure).
Also every schemas/events/*.schema.json must itself be a valid 2020-12 schema.

The schema NAME of an example is its `type` when that names a schema file, or
"deadletter" for files named deadletter_*. An example whose type names no
schema (missing, unknown, not a string) has no contract to satisfy: Python
counts it invalid and vocctl runs without --schema, so it must refuse it by
itself. Prints one line per disagreement and ends with "N passed, N failed".
"""
import json
import os
import subprocess
import sys

from jsonschema import Draft202012Validator, RefResolver
from jsonschema.exceptions import SchemaError


def strict_load(path):
    """Loads JSON the way jansson does: no duplicate keys, no NaN/Infinity."""

    def no_dups(pairs):
        obj = {}
        for k, v in pairs:
            if k in obj:
                raise ValueError("duplicate key %r" % k)
            obj[k] = v
        return obj

    def no_constants(name):
        raise ValueError("non-JSON constant %s" % name)

    with open(path, "rb") as f:
        raw = f.read()
    return json.loads(raw.decode("utf-8"), object_pairs_hook=no_dups,
                      parse_constant=no_constants)


def load_schemas(events_dir, fail):
    schemas = {}
    for fn in sorted(os.listdir(events_dir)):
        if not fn.endswith(".schema.json"):
            continue
        path = os.path.join(events_dir, fn)
        try:
            schema = strict_load(path)
            Draft202012Validator.check_schema(schema)
        except (ValueError, SchemaError) as e:
            fail("%s: not a valid 2020-12 schema: %s" % (path, str(e).splitlines()[0]))
            continue
        schemas[fn[: -len(".schema.json")]] = schema
    return schemas


def schema_name(fn, doc, schemas):
    t = doc.get("type") if isinstance(doc, dict) else None
    if isinstance(t, str) and t in schemas and t != "common":
        return t
    if fn.startswith("deadletter_"):
        return "deadletter"
    return None


def python_valid(name, doc, schemas, store):
    if name is None:
        return False
    schema = schemas[name]
    resolver = RefResolver(base_uri=schema["$id"], referrer=schema, store=store)
    # No format_checker: "format" is an annotation, as in the C validator.
    return Draft202012Validator(schema, resolver=resolver).is_valid(doc)


def vocctl_exit(vocctl, name, path):
    cmd = [vocctl, "event", "check"]
    if name is not None:
        cmd += ["--schema", name]
    cmd.append(path)
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    return r.returncode, r.stdout.decode("utf-8", "replace").strip()


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    schemas_dir, vocctl = sys.argv[1], sys.argv[2]
    counts = {"passed": 0, "failed": 0}

    def fail(msg):
        counts["failed"] += 1
        print(msg)

    def ok():
        counts["passed"] += 1

    schemas = load_schemas(os.path.join(schemas_dir, "events"), fail)
    counts["passed"] += len(schemas)
    if not schemas:
        fail("%s: no schemas" % os.path.join(schemas_dir, "events"))
    if counts["failed"]:
        # Examples cannot be judged against a broken contract.
        print("%d passed, %d failed" % (counts["passed"], counts["failed"]))
        return 1
    store = {s["$id"]: s for s in schemas.values()}

    for kind in ("valid", "invalid"):
        d = os.path.join(schemas_dir, "examples", kind)
        files = sorted(f for f in os.listdir(d) if f.endswith(".json"))
        if not files:
            fail("%s: no examples" % d)
        for fn in files:
            path = os.path.join(d, fn)
            want = kind == "valid"
            try:
                doc = strict_load(path)
            except ValueError as e:
                fail("%s: not valid JSON (cover that in the C unit tests): %s" % (path, e))
                continue
            name = schema_name(fn, doc, schemas)
            got = python_valid(name, doc, schemas, store)
            if got == want:
                ok()
            else:
                fail("%s: jsonschema says %s" % (path, "valid" if got else "invalid"))
            rc, out = vocctl_exit(vocctl, name, path)
            if rc == (0 if want else 1):
                ok()
            else:
                fail("%s: vocctl exited %s: %s" % (path, rc, out))

    print("%d passed, %d failed" % (counts["passed"], counts["failed"]))
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
