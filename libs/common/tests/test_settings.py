"""Production refuses weak secrets, naming the setting and never showing the value (issue 12,
finding 9)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from parley_common.settings import SHIPPED_SECRETS, BaseServiceSettings

STRONG = "s" * 32


def refusal(internal_token: str) -> str:
    with pytest.raises(ValidationError) as error:
        BaseServiceSettings(_env_file=None, environment="production", internal_token=internal_token)
    return str(error.value)


class TestProductionSecrets:
    def test_a_short_secret_is_refused_naming_the_setting(self) -> None:
        text = refusal(internal_token="x")
        assert "PARLEY_INTERNAL_TOKEN" in text and "32 bytes" in text
        assert "'x'" not in text and "internal_token': " not in text  # the value is not shown

    def test_31_bytes_are_refused_32_accepted(self) -> None:
        refusal(internal_token="é" * 15 + "a")  # 31 bytes in UTF-8
        settings = BaseServiceSettings(
            _env_file=None, environment="production", internal_token=STRONG
        )
        assert settings.internal_token == STRONG
        assert STRONG not in repr(settings)

    @pytest.mark.parametrize("shipped", sorted(SHIPPED_SECRETS))
    def test_every_shipped_value_is_refused(self, shipped: str) -> None:
        assert "PARLEY_INTERNAL_TOKEN" in refusal(internal_token=shipped)

    def test_development_accepts_the_shipped_defaults(self) -> None:
        assert BaseServiceSettings(_env_file=None).internal_token == "dev-internal-token"

    def test_subclass_secrets_are_checked_too(self) -> None:
        from notify.config import Settings

        with pytest.raises(ValidationError) as error:
            Settings(
                _env_file=None,
                environment="production",
                internal_token=STRONG,
                unsubscribe_secret="dev-unsubscribe-secret",
            )
        assert "PARLEY_UNSUBSCRIBE_SECRET" in str(error.value)
