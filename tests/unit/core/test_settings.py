from dataclasses import fields
from pathlib import Path

import pytest

from core.settings import ConfigError, Settings


def test_defaults_point_at_sqlite_local_redis_and_the_sandboxes() -> None:
    s = Settings.load({}, env_file=None)
    assert s.database_url == "sqlite:///var/kfsync.db"
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert s.kashflow_rate == 2.0 and s.kashflow_burst == 5
    assert s.env == "dev"


def test_values_are_typed_and_secrets_split() -> None:
    s = Settings.load({"KFSYNC_KASHFLOW_RATE": "3.5", "KFSYNC_KASHFLOW_BURST": "9",
                       "KFSYNC_WEBHOOK_SECRETS": "old, new,", "KFSYNC_MAGENTO_BASE_URL":
                       "https://shop.example/rest/"}, env_file=None)
    assert s.kashflow_rate == 3.5 and s.kashflow_burst == 9
    assert s.webhook_secrets == ("old", "new")
    assert s.magento_base_url == "https://shop.example/rest"


def test_env_file_is_read_and_environment_wins(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env_file = tmp_path / ".env"
    env_file.write_text("KFSYNC_OPS_TOKEN=from-file\nKFSYNC_ENV=qa\n")
    s = Settings.load({"KFSYNC_ENV": "prod"}, env_file=str(env_file))
    assert s.ops_token == "from-file" and s.env == "prod"


@pytest.mark.parametrize(("env", "message"), [
    ({"KFSYNC_KASHFLOW_RATE": "fast"}, "KFSYNC_KASHFLOW_RATE must be a number"),
    ({"KFSYNC_KASHFLOW_BURST": "0"}, "KFSYNC_KASHFLOW_BURST must be positive"),
    ({"KFSYNC_ENV": "staging"}, "KFSYNC_ENV must be one of dev, qa, prod"),
    ({"KFSYNC_MAGENTO_OAUTH_CONSUMER_KEY": "k"}, "missing KFSYNC_MAGENTO_OAUTH_CONSUMER_SECRET"),
])
def test_bad_values_fail_with_one_line_naming_the_variable(env: dict[str, str], message: str
                                                           ) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        Settings.load(env, env_file=None)
    assert "\n" not in str(info.value)


def test_require_names_the_missing_variable() -> None:
    s = Settings.load({}, env_file=None)
    with pytest.raises(ConfigError, match="kfsync web needs KFSYNC_WEBHOOK_SECRETS"):
        s.require("webhook_secrets", purpose="kfsync web")
    with pytest.raises(ConfigError, match=r"KFSYNC_MAGENTO_TOKEN \(or the four"):
        s.require("magento_auth", purpose="kfsync worker")


def test_require_names_every_missing_variable_at_once() -> None:
    s = Settings.load({"KFSYNC_KASHFLOW_USERNAME": "me"}, env_file=None)
    with pytest.raises(ConfigError) as info:
        s.require("webhook_secrets", "magento_auth", "kashflow_username", "kashflow_password",
                  purpose="kfsync run")
    message = str(info.value)
    assert "KFSYNC_WEBHOOK_SECRETS" in message and "KFSYNC_KASHFLOW_PASSWORD" in message
    assert "KFSYNC_MAGENTO_TOKEN" in message and "KFSYNC_KASHFLOW_USERNAME" not in message
    assert "\n" not in message


def test_secrets_are_not_in_repr() -> None:
    s = Settings.load({"KFSYNC_KASHFLOW_PASSWORD": "hunter2", "KFSYNC_OPS_TOKEN": "tok-123",
                       "KFSYNC_WEBHOOK_SECRETS": "whsec"}, env_file=None)
    text = repr(s)
    assert "hunter2" not in text and "tok-123" not in text and "whsec" not in text


def test_url_passwords_are_masked_in_repr_and_listed_as_secrets() -> None:
    """Issue #17 (8): repr printed both URL passwords; the Redis one was never scrubbed."""
    s = Settings.load({"KFSYNC_DATABASE_URL": "postgresql+psycopg://kf:pg-pass-77@db/kfsync",
                       "KFSYNC_REDIS_URL": "redis://:redis%40pass-91@cache:6379/0"},
                      env_file=None)
    text = repr(s)
    assert "pg-pass-77" not in text and "redis%40pass-91" not in text
    assert "postgresql+psycopg://kf:***@db/kfsync" in text and "redis://:***@cache" in text
    assert {"pg-pass-77", "redis%40pass-91", "redis@pass-91"} <= set(s.secret_values())


def test_every_setting_is_in_env_example_and_the_readme() -> None:
    """A setting a user cannot find is a setting they do not have: each ``Settings`` field
    is a ``KFSYNC_*`` line of ``.env.example`` and named in the README's table (a row may
    name it short, ``KFSYNC_A_X`` / ``_Y``)."""
    root = Path(__file__).resolve().parents[3]
    example = (root / ".env.example").read_text(encoding="utf-8")
    readme = (root / "README.md").read_text(encoding="utf-8")
    oauth = [f"MAGENTO_OAUTH_{k}" for k in ("CONSUMER_KEY", "CONSUMER_SECRET", "ACCESS_TOKEN",
                                            "ACCESS_TOKEN_SECRET")]
    names = [n for f in fields(Settings)
             for n in (oauth if f.name == "magento_oauth" else [f.name.upper()])]
    assert [n for n in names if f"KFSYNC_{n}=" not in example] == []
    short = {n: f"`_{n.split('_', 1)[-1]}`" for n in names}
    assert [n for n in names if f"KFSYNC_{n}" not in readme and short[n] not in readme
            and not (n in oauth and "`KFSYNC_MAGENTO_OAUTH_*`" in readme)] == []
