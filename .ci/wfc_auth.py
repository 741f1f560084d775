"""A Web Fuzzing Commons auth file for .ci/fuzz: each demo user signs in at /api/v1/auth/token and sends
the bearer token it gets. Usage: wfc_auth.py PASSWORD USER [USER ...] > auth.json"""

from __future__ import annotations

import json
import sys

password, users = sys.argv[1], sys.argv[2:]
token = {
    "extractFrom": "body",
    "extractSelector": "/access_token",
    "sendIn": "header",
    "sendName": "Authorization",
    "sendTemplate": "Bearer {token}",
}
entries = [
    {
        "name": user,
        "loginEndpointAuth": {
            "endpoint": "/api/v1/auth/token",
            "verb": "POST",
            "contentType": "application/json",
            "payloadUserPwd": {
                "username": user,
                "password": password,
                "usernameField": "username",
                "passwordField": "password",
            },
            "token": token,
        },
    }
    for user in users
]
print(json.dumps({"schemaVersion": "0.2.0", "auth": entries}))
