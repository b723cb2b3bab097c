"""bot.config.flags: flags rendered from a settings class, and errors that name where the bad value was."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.config.flags import OneLineErrorParser, env_alias, env_name, flag_name, settings_from_flags, settings_parser
from bot.core.errors import ConfigError


class Toy(BaseSettings):
    """A settings class with one field of each kind the command lines have."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    loud: bool = Field(default=False, validation_alias=env_alias("TOY_LOUD"), description="Speak up.")
    mode: Literal["fast", "slow"] = Field(
        default="fast", validation_alias=env_alias("TOY_MODE"), description="How to go."
    )
    api_key: SecretStr = Field(
        default=SecretStr("hunter2-default"), validation_alias=env_alias("TOY_API_KEY"), description="Key (secret)."
    )
    hidden: SecretStr | None = Field(
        default=None, validation_alias=env_alias("TOY_HIDDEN"), description="Environment only (secret)."
    )
    rooms: int = Field(
        default=4, ge=1, le=10, validation_alias=env_alias("TOY_ROOMS"), description="Rooms at once, 100% of them."
    )
    retries: int = Field(default=0, ge=0, validation_alias=env_alias("TOY_RETRIES"), description="Retries.")
    low: float = Field(default=1.0, validation_alias=env_alias("TOY_LOW"), description="Lower bound.")
    high: float = Field(default=2.0, validation_alias=env_alias("TOY_HIGH"), description="Upper bound.")

    @model_validator(mode="after")
    def _ordered(self) -> Toy:
        if self.high < self.low:
            raise ValueError("TOY_HIGH must be at least TOY_LOW")
        return self


def parser() -> OneLineErrorParser:
    return settings_parser(
        Toy, prog="toy", description="A toy.", epilog="Flags or TOY_* variables.", env_only={"hidden"}
    )


def load(*argv: str) -> Toy:
    return settings_from_flags(Toy, parser().parse_args(list(argv)))


@pytest.fixture(autouse=True)
def no_toy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Toy.model_fields:
        monkeypatch.delenv(env_name(Toy, name), raising=False)


def test_help_lists_each_flag_with_its_variable() -> None:
    text = " ".join(parser().format_help().split())  # argparse wraps lines
    for name in Toy.model_fields.keys() - {"hidden"}:
        assert flag_name(name) in text and f"[env {env_name(Toy, name)}]" in text
    assert "--loud Speak up." in text, "a bool is a switch, without a value"
    assert "--mode {fast,slow}" in text
    assert "(default: 4)" in text and "(default: 0)" in text, "zero is a default worth showing"
    assert "100% of them" in text


def test_a_secret_default_is_never_shown() -> None:
    assert "hunter2-default" not in parser().format_help()


def test_an_environment_only_field_has_no_flag() -> None:
    assert "--hidden" not in parser().format_help()
    with pytest.raises(ConfigError, match="unrecognized arguments: --hidden"):
        load("--hidden", "x")


def test_flags_override_the_environment_and_unset_flags_leave_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOY_ROOMS", "7")
    monkeypatch.setenv("TOY_MODE", "slow")
    monkeypatch.setenv("TOY_HIDDEN", "from-env-only")
    toy = load("--rooms", "2", "--loud")
    assert (toy.rooms, toy.mode, toy.loud) == (2, "slow", True)
    assert toy.hidden is not None and toy.hidden.get_secret_value() == "from-env-only"


def test_a_good_flag_wins_over_a_bad_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOY_ROOMS", "many")
    assert load("--rooms", "3").rooms == 3


@pytest.mark.parametrize(
    ("argv", "env", "line"),
    [
        (["--rooms", "0"], {}, "--rooms: Input should be greater than or equal to 1"),
        ([], {"TOY_ROOMS": "11"}, "TOY_ROOMS: Input should be less than or equal to 10"),
        (["--rooms", "x"], {}, "--rooms: Input should be a valid integer, unable to parse string as an integer"),
        ([], {"TOY_LOUD": "maybe"}, "TOY_LOUD: Input should be a valid boolean, unable to interpret input"),
        ([], {"TOY_MODE": "warp"}, "TOY_MODE: Input should be 'fast' or 'slow'"),
        (["--low", "3"], {}, "settings: TOY_HIGH must be at least TOY_LOW"),
    ],
    ids=[
        "flag-below-range",
        "variable-above-range",
        "flag-not-a-number",
        "variable-not-a-bool",
        "variable-not-a-choice",
        "rule-across-fields",
    ],
)
def test_a_bad_value_names_where_it_came_from(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], env: dict[str, str], line: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load(*argv)
    assert str(caught.value) == line


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--nope"], "unrecognized arguments: --nope (see --help)"),
        (["--roo", "2"], "unrecognized arguments: --roo; did you mean --rooms? (see --help)"),
        (["--mode", "warp"], "argument --mode: invalid choice (choose from 'fast', 'slow') (see --help)"),
        (["--rooms"], "--rooms needs a value (see --help)"),
    ],
    ids=["unknown-flag", "abbreviation-is-not-the-flag", "not-a-choice", "missing-value"],
)
def test_a_bad_command_line_is_one_config_error_line(argv: list[str], line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(*argv)
    assert str(caught.value) == line
    assert caught.value.exit_code == 2


def test_the_bad_value_is_not_repeated_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """It may be a secret put in the wrong variable."""
    monkeypatch.setenv("TOY_LOUD", "hunter2-from-env")
    with pytest.raises(ConfigError) as caught:
        load()
    assert "hunter2" not in str(caught.value)


def test_a_field_without_an_env_alias_is_a_clear_programming_error() -> None:
    class Bare(BaseSettings):
        plain: int = 1

    with pytest.raises(TypeError, match=r"Bare\.plain has no env_alias"):
        env_name(Bare, "plain")
