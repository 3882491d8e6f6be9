"""Settings of the places lead tables and events are read from: S3 and Mixpanel.

They are sections of :class:`~leadscore.config.Settings` (``[s3]`` and ``[mixpanel]`` in
``leadscore.toml``, ``LEADSCORE_S3__*`` and ``LEADSCORE_MIXPANEL__*`` in the environment);
the readers in :mod:`leadscore.data` take them from there. SQL sources need no settings
of their own: connection options travel in the URL (``?connect_timeout=5&sslmode=require``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class S3Settings(BaseModel):
    """How to reach S3. Every field is optional: unset ones use boto3's defaults.

    Environment variables: ``LEADSCORE_S3__ENDPOINT_URL``, ``LEADSCORE_S3__REGION``,
    ``LEADSCORE_S3__ACCESS_KEY_ID``, ``LEADSCORE_S3__SECRET_ACCESS_KEY``,
    ``LEADSCORE_S3__SESSION_TOKEN``, ``LEADSCORE_S3__MAX_ATTEMPTS``,
    ``LEADSCORE_S3__CONNECT_TIMEOUT``.

    Example
    -------
    >>> S3Settings(endpoint_url="http://localhost:9000").region is None
    True
    """

    # a misspelt LEADSCORE_..._* variable or [section] key is an error, not ignored
    model_config = ConfigDict(extra="forbid")

    #: e.g. ``http://localhost:9000`` for MinIO; ``None`` → ``AWS_ENDPOINT_URL`` or AWS itself
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    #: attempts per request, including the first (botocore's "standard" retry mode)
    max_attempts: int = Field(default=3, ge=1, le=20)
    connect_timeout: float = Field(default=10.0, gt=0)


class MixpanelSettings(BaseModel):
    """Credentials and behaviour of the Mixpanel export. Secrets come from the environment
    or ``leadscore.toml``, never from code.

    Environment variables: ``LEADSCORE_MIXPANEL__PROJECT_ID``, ``…__USERNAME``,
    ``…__SECRET``, ``…__API_SECRET``, ``…__HOST``, ``…__MAX_ATTEMPTS``,
    ``…__RETRY_BASE_DELAY``, ``…__RETRY_MAX_DELAY``, ``…__TIMEOUT``.

    Example
    -------
    >>> MixpanelSettings(host="https://data-eu.mixpanel.com").max_attempts
    5
    """

    # a misspelt LEADSCORE_..._* variable or [section] key is an error, not ignored
    model_config = ConfigDict(extra="forbid")

    project_id: int | None = None
    #: service account user name (with ``secret``)
    username: str | None = None
    secret: SecretStr | None = None
    #: project API secret (the alternative to a service account)
    api_secret: SecretStr | None = None
    host: str = "https://data.mixpanel.com"
    #: attempts per day, including the first, on 429, 5xx and network errors
    max_attempts: int = Field(default=5, ge=1, le=20)
    #: first retry waits about this many seconds; each further retry doubles it
    retry_base_delay: float = Field(default=2.0, ge=0)
    retry_max_delay: float = Field(default=120.0, ge=0)
    #: seconds without any data before a request is abandoned
    timeout: float = Field(default=300.0, gt=0)
