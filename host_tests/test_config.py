"""Configuration: the two profiles match the datasheets; a bad setting is refused by name."""

import pytest

from mpmeter.config import Config


def test_profiles_from_the_datasheets():
    c162 = Config("162")
    assert (c162.phases, c162.led_imp_kwh, c162.led_imp_kvarh, c162.s0_imp_kwh) == (1, 1000,
                                                                                   1000, 0)
    assert (c162.imax, c162.ist, c162.accuracy_class) == (85.0, 0.02, "B")
    c351 = Config("351")
    assert (c351.phases, c351.led_imp_kwh, c351.s0_imp_kwh, c351.pulse_ms) == (3, 10000, 5000,
                                                                              30)
    assert (c351.imax, c351.ist, c351.accuracy_class) == (6.0, 0.005, "C")
    assert c351.creep_current == pytest.approx(0.0025)
    assert Config("351", {"ct": [3000, 5], "wiring": "aron"}).ct == (3000, 5)


@pytest.mark.parametrize("profile,over,field", [
    ("999", {}, "profile"),
    ("351", {"ct": [3005, 5]}, "config.ct"),
    ("351", {"ct": "600"}, "config.ct"),
    ("351", {"s0_imp_kwh": 3000}, "config.s0_imp_kwh"),
    ("351", {"pulse_ms": 50}, "config.pulse_ms"),
    ("162", {"wiring": "aron"}, "config.wiring"),
    ("162", {"colour": "red"}, "config.colour"),
    ("162", {"cycles": 0}, "config.cycles"),
    ("162", {"creep_power": -1}, "config.creep_power"),
])
def test_bad_settings_are_named(profile, over, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        Config(profile, over)


@pytest.mark.parametrize("key,bad", [("gmt", 24), ("dst", 2), ("period", 0), ("period", 5),
                                     ("billing_day", 29), ("billing_interval", 25),
                                     ("billing2", 4), ("dd", 24), ("pulse_in_unit", 4),
                                     ("gmt", True), ("period", "2")])
def test_clock_and_log_codes_are_checked(key, bad):
    with pytest.raises(ValueError, match="config.%s" % key):
        Config("351", {key: bad})


def test_profile_channels_per_meter():
    assert Config("351", {"profile_channels": "A+R+"}).profile_channels == "A+R+"
    with pytest.raises(ValueError, match="profile_channels"):
        Config("162", {"profile_channels": "A+R+"})       # not a 162 energy type
    legal, settings = Config("162").split()
    assert "period" in settings and "gmt" in settings and "ct" in legal


def test_tariff_settings_are_checked_with_the_config():
    with pytest.raises(ValueError, match="config.tariff_table.days.work"):
        Config("351", {"tariff_table": {"days": {"work": [["07:00", 1]]},
                                        "seasons": [{"from": "01-01", "weekday": "work",
                                                     "saturday": "work", "sunday": "work"}]}})
    with pytest.raises(ValueError, match="DD"):
        Config("351", {"tariff_control": "inputs", "dd": 3})


def test_calibration_is_legal_and_one_object_per_measuring_system():
    from mpmeter.config import LEGAL

    assert "calibration" in LEGAL
    assert Config("351", {"calibration": [{}, {}, {"v_gain": 1.01}]}).calibration[2] == \
        {"v_gain": 1.01}
    assert Config("351", {"wiring": "aron", "calibration": [{}, {}]})
    with pytest.raises(ValueError, match="3 objects"):
        Config("351", {"calibration": [{}]})
    with pytest.raises(ValueError, match=r"calibration\[0\].*i_gain"):
        Config("162", {"calibration": [{"i_gain": 0.1}]})
