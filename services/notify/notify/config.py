"""Notify's settings (PARLEY_* environment variables)."""

from __future__ import annotations

from pydantic import Field

from parley_common.settings import BaseServiceSettings, secret_field


class Settings(BaseServiceSettings):
    service_name: str = "notify"
    database_url: str = "sqlite+aiosqlite:///var/notify.db"
    web_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public URL of the web client, for email links (`make run` and `make "
        "services` set it to the URL they serve, or to PARLEY_PUBLIC_URL, unless it is set).",
    )
    email_from: str = Field(
        default="Parley <no-reply@parley.local>", description="Sender of emails."
    )
    unsubscribe_secret: str = secret_field(
        "change-me", "HMAC key of the one-click unsubscribe links in emails."
    )
    email_delay_seconds: float = Field(
        default=300.0,
        description="Default wait before a missed-message email (users override it in minutes).",
    )
    notification_email_delay_seconds: float = Field(
        default=60.0,
        ge=0,
        description="Wait before a notification's email (per-type choice) goes out; read "
        "in-app meanwhile, it is not sent.",
    )
    email_tick_seconds: float = Field(
        default=2.0, description="How often the sender looks for due emails."
    )
    email_max_attempts: int = Field(
        default=8, description="SMTP attempts before an email is given up."
    )
    email_retry_base_seconds: float = Field(
        default=5.0, description="First retry delay after an SMTP failure (doubles each time)."
    )
    email_retry_max_seconds: float = Field(default=600.0, description="Longest retry delay.")
    smtp_timeout_seconds: float = Field(
        default=20.0, description="Timeout of one SMTP conversation."
    )
    digest_hour_utc: int = Field(
        default=8, ge=0, le=23, description="Hour the daily digest is sent."
    )
    presence_gateway_ttl_seconds: float = Field(
        default=45.0,
        description="A gateway silent this long has all its connections treated as closed.",
    )
    presence_reap_seconds: float = Field(
        default=5.0, description="How often gateways that stopped heartbeating are looked for."
    )
    presence_key_prefix: str = Field(
        default="parley:presence:", description="Prefix of every presence key in the store."
    )
    presence_tombstone_seconds: float = Field(
        default=3600.0,
        description="How long a closed connection id is remembered (a late `connected` is ignored).",
    )
    # --- push (notify/push/): a platform is on when its settings are set --------------------
    vapid_private_key: str = Field(
        default="",
        description="Web Push: the VAPID private key (base64url, raw P-256; `parley vapid-key` "
        "makes one); empty: Web Push off.",
    )
    vapid_subject: str = Field(
        default="mailto:ops@parley.local",
        description="Web Push: the contact push services see in the VAPID claim.",
    )
    webpush_allowed_origins: list[str] = Field(
        default=[
            "https://fcm.googleapis.com",
            "https://updates.push.services.mozilla.com",
            "https://web.push.apple.com",
            "https://*.notify.windows.com",
        ],
        description="Web Push: origins a subscription's endpoint may have (wildcards allowed); "
        "notify sends requests there, so nothing else is accepted.",
    )
    fcm_endpoint: str = Field(
        default="https://fcm.googleapis.com",
        description="FCM: base URL of the HTTP v1 API.",
    )
    fcm_service_account_file: str = Field(
        default="",
        description="FCM: the Firebase service account JSON (project_id, client_email, "
        "private_key, token_uri); empty: FCM off.",
    )
    apns_endpoint: str = Field(
        default="https://api.push.apple.com",
        description="APNs: the provider API (https://api.sandbox.push.apple.com for development).",
    )
    apns_key_file: str = Field(
        default="", description="APNs: the team's .p8 signing key (ES256); empty: APNs off."
    )
    apns_key_id: str = Field(default="", description="APNs: the key's id (the JWT's kid).")
    apns_team_id: str = Field(default="", description="APNs: the team id (the JWT's iss).")
    apns_topic: str = Field(default="", description="APNs: the app's bundle id (apns-topic).")
    push_ttl_seconds: int = Field(
        default=86_400, ge=0, description="How long a push service keeps an undelivered push."
    )
    push_max_attempts: int = Field(
        default=4, ge=1, description="Tries per device when the push service answers 429 or 5xx."
    )
    push_retry_base_seconds: float = Field(
        default=1.0, ge=0, description="First wait before a retry (doubling; Retry-After wins)."
    )
    push_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Timeout of one request to a push service."
    )
    max_devices_per_user: int = Field(
        default=20, ge=1, description="A user's devices beyond this replace the oldest."
    )
    email_retention_days: float = Field(
        default=30.0, ge=0, description="Sent, cancelled and failed emails are deleted after this."
    )
    read_notification_retention_days: float = Field(
        default=90.0, ge=0, description="Read notifications are deleted after this."
    )
