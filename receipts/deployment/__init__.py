"""A deployment: settings, the data directory, the signing key and credentials.

``settings`` reads and refuses unsafe configuration, ``runtime`` makes and opens a deployment,
``signing_key`` holds the Ed25519 key (mode 0600, never logged), ``credentials`` the agent keys
and tokens, stored only as hashes.
"""
