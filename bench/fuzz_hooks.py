"""Schemathesis hooks for bench/fuzz.sh.

Random usernames and passwords never log in, so without help the stateful phase would never get
past createRefreshToken, and the links it follows (validate, mint, regenerate, revoke) would
never run with a real token. Half of the schema-valid createRefreshToken requests drawn get the
fuzzing user's real credentials; the other fields stay as drawn. Requests drawn to violate the
schema are left alone, so that their expected rejection stays theirs.
"""

import os

import schemathesis
from hypothesis import strategies as st

USERNAME = os.environ["FUZZ_USERNAME"]
PASSWORD = os.environ["FUZZ_PASSWORD"]


def _negative(case):
    meta = getattr(case, "_meta", None)
    return meta is None or meta.generation.mode.is_negative


@schemathesis.hook
def flatmap_case(ctx, case):
    if (
        not case.operation.path.endswith("/createRefreshToken/")
        or not isinstance(case.body, dict)
        or _negative(case)
    ):
        return st.just(case)

    def with_credentials(use):
        if use:
            case.body = {**case.body, "username": USERNAME, "password": PASSWORD}
        return case

    return st.booleans().map(with_credentials)
