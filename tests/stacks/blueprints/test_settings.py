"""Stack settings: defaults per environment, and one clear message naming the key on bad config."""

import pytest

from stacks.blueprints.settings import DEFAULT_SIZING, SettingsError, parse_settings

BASE = {"tierstack:cloud": "aws", "tierstack:app": "image-processing"}


def parse(**extra: object):
    return parse_settings({**BASE, **{f"tierstack:{k}": v for k, v in extra.items()}})


def test_dev_defaults_and_tags() -> None:
    settings = parse(owner="data-team", costCenter="cc-42")
    assert settings.env == "dev"
    assert settings.sizing == DEFAULT_SIZING["dev"]
    assert settings.zones == ("eu-west-1a", "eu-west-1b")
    assert settings.tags == {
        "project": "tierstack",
        "app": "image-processing",
        "env": "dev",
        "owner": "data-team",
        "cost-center": "cc-42",
    }


def test_prod_sizing_is_highly_available() -> None:
    settings = parse(
        env="prod", certificate="arn:aws:acm:eu-west-1:1:certificate/x", repoRef="a" * 40
    )
    assert settings.sizing.app_min >= 2
    assert settings.sizing.db_high_availability is True
    assert settings.sizing.deletion_protection is True


def test_sizing_overrides_accept_strings_and_json() -> None:
    settings = parse(sizing={"appMax": "6", "dbHighAvailability": "true", "appSize": "large"})
    assert (settings.sizing.app_max, settings.sizing.db_high_availability) == (6, True)
    assert settings.sizing.app_size == "large"


def test_iot_devices_default_to_one_gateway() -> None:
    assert parse().iot_devices == ("gateway-01",)
    assert parse(iotDevices=["gw-a", "gw-b"]).iot_devices == ("gw-a", "gw-b")


def test_region_comes_from_the_provider_key() -> None:
    settings = parse_settings({**BASE, "tierstack:cloud": "gcp", "gcp:region": "us-east1"})
    assert settings.region == "us-east1"
    assert settings.zones == ("us-east1-b", "us-east1-c")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"app": "blog"}, "tierstack:app must be one of"),
        ({"cloud": "oracle"}, "tierstack:cloud must be one of"),
        ({"env": "staging"}, "tierstack:env must be one of"),
        ({"colour": "blue"}, "tierstack:colour is not a tierstack setting"),
        ({"networkCidr": "10.0.0.0/33"}, "tierstack:networkCidr '10.0.0.0/33' is not a valid CIDR"),
        ({"networkCidr": "8.8.0.0/16"}, "must be a private IPv4 range"),
        ({"sizing": {"appMin": 4, "appMax": 2}}, "tierstack:sizing.appMin (4) and appMax (2)"),
        ({"sizing": {"appMax": "many"}}, "tierstack:sizing.appMax must be a whole number"),
        ({"sizing": {"appMax": 2.5}}, "tierstack:sizing.appMax must be a whole number"),
        ({"sizing": {"dbHighAvailability": "yes"}}, "tierstack:sizing.dbHighAvailability must be"),
        ({"sizing": {"appSize": "huge"}}, "tierstack:sizing.appSize must be one of"),
        ({"sizing": {"cpus": 4}}, "tierstack:sizing.cpus is not a sizing key"),
        ({"sizing": "big"}, "tierstack:sizing must be an object"),
        ({"owner": "Data Team"}, "tierstack:owner must be lowercase"),
        ({"zones": ["eu-west-1a"]}, "tierstack:zones needs at least two zones"),
        ({"env": "prod", "repoRef": "a" * 40}, "tierstack:certificate is required in prod"),
        ({"env": "prod"}, "tierstack:repoRef 'main' must be a full commit id in prod"),
        ({"env": "prod", "repoRef": "v1.2.0"}, "'v1.2.0' must be a full commit id in prod"),
        ({"env": "prod", "repoRef": "a" * 39}, "must be a full commit id in prod"),
        (
            {"env": "prod", "repoRef": "a" * 40, "repoUrl": "git://git.example.org/t.git"},
            "tierstack:repoUrl 'git://git.example.org/t.git' must be https:// or ssh:// in prod",
        ),
        ({"repoUrl": "http://git.example.org/t.git"}, "tierstack:repoUrl 'http://git.example"),
        ({"repoUrl": "git.example.org:t.git"}, "must be an https:// (or git://"),
        ({"repoRef": "--upload-pack=evil"}, "tierstack:repoRef '--upload-pack=evil' is not"),
        ({"repoRef": "main; reboot"}, "is not a git branch, tag or commit"),
        ({"iotDevices": "gw-1"}, "tierstack:iotDevices must be a list of device names"),
        ({"iotDevices": ["gw/1"]}, "tierstack:iotDevices: 'gw/1' must be 1-30 lowercase"),
        ({"iotDevices": ["bridge"]}, "tierstack:iotDevices: 'bridge' must be"),
        ({"iotDevices": ["a", "a"]}, "tierstack:iotDevices names a device twice"),
    ],
)
def test_invalid_config_names_the_key(extra: dict, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse(**extra)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
