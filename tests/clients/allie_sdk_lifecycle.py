"""The vendor's Python SDK (allie-sdk) through a token's whole life: the traffic a real client
sends, for tests/it/proxy.rs. Usage: allie_sdk_lifecycle.py BASE_URL USERNAME

The password comes from the environment (ALLIE_PASSWORD), never the command line. The SDK has no
login call, so the refresh token is created with `requests`, as its users do."""

import os
import sys

import requests
from allie_sdk.methods.authentication import AlationAuthentication

host, username = sys.argv[1], sys.argv[2]
password = os.environ["ALLIE_PASSWORD"]

created = requests.post(
    host + "/integration/v1/createRefreshToken/",
    json={"username": username, "password": password, "name": "allie-sdk"},
    timeout=10,
)
created.raise_for_status()
token = created.json()

session = requests.Session()
auth = AlationAuthentication(
    refresh_token=token["refresh_token"],
    user_id=token["user_id"],
    session=session,
    host=host,
)
refresh = auth.validate_refresh_token()
access = auth.create_access_token()  # validates the refresh token again, then mints
checked = auth.validate_access_token(access.api_access_token)
revoked = auth.revoke_access_tokens()
print("refresh", refresh.token_status, "access", checked.token_status, "revoke", revoked.status)
